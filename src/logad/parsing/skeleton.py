"""The default parser: streaming grouping by constant skeleton, after Brain's rule (Yu et al.,
INFOCOM'23), with ids that stay valid forever.

A line is masked (masking rules: per-system regexes of the presets, or the drain3.ini rules), some
pieces are removed (``remove``), a space is put after each ``split_after`` character, and every
token holding a digit or a mask becomes ``<*>``. The resulting *key* is looked up in a dictionary
(the hot path: most lines repeat a key seen before). A new key is placed:

1. into the template that covers it (every constant token equal; ties: more constants, then older);
2. else, Brain's rule for a position: the templates of the same length that differ from the key in
   exactly one constant position form a family; when the family plus the key holds at least
   ``min_distinct`` different values there, that position is a variable: the family merges into
   its oldest member (the survivor) with ``<*>`` at that position. Evidence that a position is a
   variable also comes from the key itself: when the key has ``<*>`` where the template has a word
   (``user test9`` against ``user webmaster``), one such pair suffices, on lines long enough
   (``proof_constants`` constants left) for the rest to identify the template. Safeguards: the
   first token never becomes a variable this way, and a merge must leave at least one constant;
3. else it founds a new template.

Why this streams with stable ids: decisions are made when a key is first seen and are kept (the
key dictionary is part of the saved state). A merge never renumbers: the absorbed id becomes an
alias of the survivor (`resolve`), is still listed in `templates` (with the survivor's text) and
`add`/`match` answer the survivor's id from then on. Lines handed out before a merge carry the
absorbed id; `resolve` maps them to the survivor. Every creation, update and merge is recorded in
`changes()` (the drift report).

Per-line parameters are the real values: each token of the key knows the raw text it stands for
(through masking and removal, see align.py), and a parameter is the raw text under a ``<*>`` of
the line's template.
"""

from __future__ import annotations

import array
import logging
import re
from collections.abc import Iterable
from typing import ClassVar

from logad.errors import InputError, InvalidParameterError
from logad.parsing import _scan, align
from logad.parsing.base import WILDCARD, BlockResult, ChangeType, Parameters
from logad.parsing.compact import chunks, compact_keys, oversized
from logad.parsing.compact import compact_py as _compact_py  # noqa: F401 - the reference, for tests
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, Masker, rules_from_data
from logad.parsing.skeleton_template import SkeletonTemplate, gaps_of
from logad.parsing.state import SavedState, check_header, check_ids
from logad.records import ParsedLine

try:  # the optional compiled core; the Python reference gives identical results
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None

log = logging.getLogger(__name__)

STATE_FORMAT = "logad-skeleton"
STATE_VERSION = 1
_oversized = oversized  # the old private name


class SkeletonParser(SavedState):
    """Streaming log parser (the default mode; implements `logad.parsing.Parser`). Keyword-only;
    arguments are checked on first use.

    masking: rules applied first (see masking.py). mask_placeholder / mask_prefix / mask_suffix:
    how masks are written. remove: regexes whose matches are deleted before tokenising.
    split_after: characters followed by a token break (``"=:,"``). min_distinct: distinct values
    that make a position a variable (Brain's threshold, >= 2). proof_constants: constants a line
    must keep for one ``<*>``-versus-word pair to prove a variable. max_line_chars: longer lines are
    cut to this length before parsing (counted in `stats`).
    """

    mode: ClassVar[str] = "default"
    STATE_FORMAT: ClassVar[str] = STATE_FORMAT

    def __init__(
        self,
        *,
        masking: Iterable = DRAIN3_EXAMPLE_RULES,
        mask_prefix: str = "<",
        mask_suffix: str = ">",
        mask_placeholder: str | None = None,
        remove: Iterable[str] = (),
        split_after: str = ",",
        min_distinct: int = 4,
        proof_constants: int = 4,
        max_line_chars: int = 1_000_000,
    ) -> None:
        self.masking = tuple(masking)
        self.mask_prefix = mask_prefix
        self.mask_suffix = mask_suffix
        self.mask_placeholder = mask_placeholder
        self.remove = tuple(remove)
        self.split_after = split_after
        self.min_distinct = min_distinct
        self.proof_constants = proof_constants
        self.max_line_chars = max_line_chars
        self.last_change = ChangeType.NONE
        self.last_merged: tuple[int, ...] = ()
        self.stats = {"lines": 0, "empty": 0, "oversized": 0}  # counts (reset when the state is built)
        self._ready = False

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        for name in ("min_distinct", "proof_constants", "max_line_chars"):
            v = getattr(self, name)
            low = 2 if name == "min_distinct" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise InvalidParameterError(f"`{name}` must be an integer >= {low}, got {v!r}")
        if not isinstance(self.split_after, str) or any(c.isspace() for c in self.split_after):
            raise InvalidParameterError(f"`split_after` must be a string of non-space characters, got {self.split_after!r}")
        self.masking = rules_from_data(self.masking)
        self._masker = Masker(self.masking, prefix=self.mask_prefix, suffix=self.mask_suffix,
                              placeholder=self.mask_placeholder)
        try:
            self._remove = tuple(re.compile(r) for r in self.remove)
        except re.error as exc:
            raise InvalidParameterError(f"`remove` has a bad pattern in {self.remove!r}: {exc}") from exc
        # tokens holding one of these are variables
        self._placeholders = tuple(dict.fromkeys((WILDCARD, *self._masker.placeholders)))
        self._templates: dict[int, SkeletonTemplate] = {}  # live templates
        self._alias: dict[int, int] = {}  # absorbed id -> survivor (may chain; `resolve` follows)
        self._bylen: dict[int, list[int]] = {}  # token count -> live template ids, oldest first
        # (token count, first token) -> live template ids, oldest first. A template can only cover
        # a key, or join its merge family, when its first token is a wildcard or the key's first
        # token (a family differing at position 0 is never merged), and a template's first token
        # never changes (merges never make position 0 a variable). So placing a new key scans one
        # or two small buckets instead of every template of its length: O(1)-ish as templates grow.
        self._byfirst: dict[tuple[int, str], list[int]] = {}
        self._keys: dict[str, int] = {}  # key -> id given when first seen
        self._rules_cache = None  # (the core's rule set or None,), built on first use
        self._next_id = 1
        self._changes: dict[int, ChangeType] = {}
        self.stats = {"lines": 0, "empty": 0, "oversized": 0}
        self._ready = True

    # ------------------------------------------------------------------ keys (pure functions)
    def key(self, content: str) -> str:
        """The tokenised, masked line the grouping sees (tokens joined by single spaces)."""
        if not self._ready:
            self._setup()
        if len(content) > self.max_line_chars:
            content = content[: self.max_line_chars]
        return self._key(content)

    def _key(self, content: str) -> str:
        """The key of one line (cut to the length cap by the caller): the compiled core when it
        runs these rules on this line, else the Python reference (re under a per-line time bound:
        45 us a line, where the core takes under one)."""
        if _core is not None:
            rules = self._core_rules()
            if rules is not None or (not self.masking and not self._remove):
                k = _core.keys_spans([content], rules, self.split_after, WILDCARD, self._placeholders,
                                     self.max_line_chars, False)[0][0]
                if k is not None:
                    return k
        return self._key_py(content)

    def _key_py(self, content: str) -> str:
        """The pure-Python reference of `_key`."""
        text = self._masker(content)
        for rx in self._remove:
            text = rx.sub("", text)
        k = _core.skeleton_key(text, self.split_after, WILDCARD, self._placeholders) if _core is not None else None
        if k is None:
            k = _scan.skeleton_key(text, self.split_after, WILDCARD, self._placeholders)
        return k

    def keys(self, contents: Iterable[str]) -> list[str]:
        """Keys of many lines (what worker processes compute; a pure function of the settings).
        The compiled core does whole blocks; lines it leaves (not ASCII, too long) go through the
        Python reference, which gives the same keys."""
        if not self._ready:
            self._setup()
        lines = contents if isinstance(contents, list) else list(contents)
        cut = self.max_line_chars
        out: list | None = None
        if _core is not None:
            m = self._masker
            if m._drain3 is not None and not self._remove:  # masking and tokenising in one C call
                out = _core.keys(lines, m._drain3, self.split_after, WILDCARD, self._placeholders, cut)
            else:
                rules = self._core_rules()
                if rules is not None or (not m.rules and not self._remove):
                    out = _core.keys_spans(lines, rules, self.split_after, WILDCARD, self._placeholders, cut, False)[0]
                elif not self._remove:  # Python regexes mask, C tokenises
                    masked = [m(c) if len(c) <= cut else c for c in lines] if m.rules else lines
                    out = _core.keys(masked, None, self.split_after, WILDCARD, self._placeholders, cut)
        if out is None:
            return [self._key(c if len(c) <= cut else c[:cut]) for c in lines]
        if None not in out:  # the usual case (the scan runs at C speed)
            return out
        for i, k in enumerate(out):
            if k is None:  # the core left this line: the Python reference
                c = lines[i]
                out[i] = self._key_py(c if len(c) <= cut else c[:cut])
        return out

    def _core_rules(self):
        """The masking and removal rules for the compiled core, or None (see Masker.core_rules)."""
        if not self.masking and not self._remove:
            return None
        got = self._rules_cache
        if got is None:
            got = self._rules_cache = (self._masker.core_rules(remove=self.remove),)
        return got[0]

    def spans(self, content: str) -> tuple[str, list[tuple[int, int]]]:
        """The key of a line (as `key` gives it) and, per token of the key, the (start, end) of the
        raw text of `content` it stands for (see align.py): where parameters are cut from."""
        if not self._ready:
            self._setup()
        content = content[: self.max_line_chars]
        rules = self._core_rules() if _core is not None else None
        if _core is not None and (rules is not None or (not self.masking and not self._remove)):
            keys, sp = _core.keys_spans([content], rules, self.split_after, WILDCARD,
                                        self._placeholders, self.max_line_chars, True)
            if keys[0] is not None:
                flat = array.array("i", sp[0])
                it = iter(flat)
                return keys[0], list(zip(it, it))
        return self._spans_py(content)

    def _spans_py(self, content: str) -> tuple[str, list[tuple[int, int]]]:
        """The pure-Python reference of `spans` (align.py)."""
        content = content[: self.max_line_chars]
        text, origins = self._masker.mask_aligned(content)
        for rx in self._remove:
            found = align.regex_spans(rx, text)
            if found:
                text, origins = align.apply(text, origins, found, "")
        toks = align.tokens(text, origins, self.split_after)
        phs = self._placeholders
        has_digit = _scan._HAS_DIGIT.search
        key = " ".join(WILDCARD if has_digit(t) or any(p in t for p in phs) else t for t, _, _, _ in toks)
        return key, [(a, b) for _, _, a, b in toks]

    def keys_spans(self, contents: list[str]) -> tuple[list[str], list[bytes]]:
        """Keys of many lines and, per line, the raw (start, end) of every token as int32 bytes."""
        if not self._ready:
            self._setup()
        keys = spans = None
        if _core is not None and (self._core_rules() is not None or (not self.masking and not self._remove)):
            keys, spans = _core.keys_spans(contents, self._core_rules(), self.split_after, WILDCARD,
                                           self._placeholders, self.max_line_chars, True)
        if keys is None:
            keys, spans = [None] * len(contents), [None] * len(contents)
        for i, k in enumerate(keys):
            if k is None:
                k, sp = self._spans_py(contents[i])
                keys[i] = k
                spans[i] = array.array("i", [x for pair in sp for x in pair]).tobytes()
        return keys, spans

    # ------------------------------------------------------------------ public API
    @property
    def placeholders(self) -> tuple[str, ...]:
        """Slots of a template other than ``<*>``: none (a token holding a mask is ``<*>``)."""
        return ()

    def normalise(self, text: str) -> str:
        """A text with its whitespace as the tokeniser sees it (a space after each `split_after`
        character, runs of whitespace as one space): what `reconstruct` compares with."""
        return align.normalise(text, self.split_after)

    @property
    def templates(self) -> dict[int, str]:
        """Every id ever handed out -> its current template text (absorbed ids: the survivor's)."""
        if not self._ready:
            self._setup()
        out = {tid: t.text for tid, t in self._templates.items()}
        for tid in self._alias:
            out[tid] = self._templates[self.resolve(tid)].text
        return dict(sorted(out.items()))

    @property
    def live_templates(self) -> dict[int, str]:
        """The templates that are not aliases (one per group of lines)."""
        if not self._ready:
            self._setup()
        return {tid: t.text for tid, t in sorted(self._templates.items())}

    def sizes(self) -> dict[int, int]:
        """Lines learnt per live template."""
        if not self._ready:
            self._setup()
        return {tid: t.size for tid, t in sorted(self._templates.items())}

    def templates_text(self, template_id: int) -> str:
        """The current template text of an id (the survivor's for an absorbed id)."""
        if not self._ready:
            self._setup()
        return self._templates[self.resolve(template_id)].text

    def resolve(self, template_id: int) -> int:
        """The live id an id stands for now (itself unless it was merged into another)."""
        if not self._ready:
            self._setup()
        while template_id in self._alias:
            template_id = self._alias[template_id]
        return template_id

    def add(self, content: str, line_no: int = 0) -> ParsedLine:
        """Learn from one line (the message part); returns its template id, template, parameters."""
        if not self._ready:
            self._setup()
        self.stats["lines"] += 1
        if len(content) > self.max_line_chars:
            self.stats["oversized"] += 1
            content = content[: self.max_line_chars]
        k, sp = self.spans(content)  # the key and every token's raw span, in one pass
        if not k:
            self.stats["empty"] += 1
        tid = self._keys.get(k)
        if tid is None:
            tid = self._learn(k)
        else:
            tid = self.resolve(tid)
            self._templates[tid].size += 1
            self.last_change = ChangeType.NONE
        t = self._templates[tid]
        if t.gaps is None and len(sp) == len(t.tokens):
            t.gaps = gaps_of(sp)
            t.refresh()
        params = tuple(content[sp[i][0]:sp[i][1]] for i in t.wild) if t.wild and len(sp) == len(t.tokens) else ()
        return ParsedLine(line_no, tid, t.text, params)

    def add_many(self, contents: Iterable[str], *, workers: int = 1, chunk_size: int | None = None) -> list[int]:
        """Learn from many lines; returns their template ids (the fast path: no ParsedLine, no
        parameters; `parameters(line, id)` gives them when needed). With ``workers > 1`` the keys
        are computed in that many processes and placed here in input order, so the ids are exactly
        those of one process. `chunk_size`: lines per block (default 100,000 in one process, where
        a block's cost has a part per distinct key; 20,000 per worker task, for balance). The
        ids never depend on it."""
        if not self._ready:
            self._setup()
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameterError(f"`workers` must be an integer >= 1, got {workers!r}")
        if chunk_size is None:
            chunk_size = 100_000 if workers == 1 else 20_000
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidParameterError(f"`chunk_size` must be an integer >= 1, got {chunk_size!r}")
        if workers == 1:
            ids: list[int] = []
            for block in chunks(contents, chunk_size):
                self.stats["oversized"] += _oversized(block, self.max_line_chars)
                got = self.learn_compact(*compact_keys(self.keys(block)))
                self._fill_gaps(block, got)
                ids += got
            return ids
        from collections import deque

        from logad.parsing.parallel import parallel_compact

        ids = []
        lines = contents if isinstance(contents, list) else None
        in_flight: deque = deque()  # a stream's blocks, kept until their result is placed

        def recorded(stream):
            for block in chunks(stream, chunk_size):
                in_flight.append(block)
                yield from block

        source = contents if lines is not None else recorded(contents)
        for uniques, index, cut in parallel_compact(self, source, workers=workers, chunk_size=chunk_size):
            self.stats["oversized"] += cut
            got = self.learn_compact(uniques, index)
            block = lines[len(ids):len(ids) + len(got)] if lines is not None else in_flight.popleft()
            self._fill_gaps(block, got)
            ids += got
        return ids

    def learn_block(self, uniques: list[str], index, block: list[str]) -> list[int]:
        """`learn_compact` of a block whose lines are at hand too (the spacing of new templates is
        taken from their first line)."""
        ids = self.learn_compact(uniques, index)
        self._fill_gaps(block, ids)
        return ids

    def _fill_gaps(self, block: list[str], ids: list[int]) -> None:
        """Spacing of the templates first seen in this block, from their first line (see
        `SkeletonTemplate.gaps`); after the first blocks none is missing and this costs one set lookup."""
        templates = self._templates
        missing = {t for t in set(ids) if t and templates.get(self.resolve(t)) is not None
                   and templates[self.resolve(t)].gaps is None}
        if not missing:
            return
        for content, tid in zip(block, ids):
            if tid in missing:
                missing.discard(tid)
                t = templates[self.resolve(tid)]
                if t.gaps is None:
                    _, sp = self.spans(content[: self.max_line_chars])
                    if len(sp) == len(t.tokens):
                        t.gaps = gaps_of(sp)
                        t.refresh()
                if not missing:
                    return

    def learn_keys(self, keys: Iterable[str]) -> list[int]:
        """Place precomputed keys (from `keys`, possibly computed elsewhere) in order."""
        if not self._ready:
            self._setup()
        out: list[int] = []
        append = out.append
        known = self._keys
        alias = self._alias
        templates = self._templates
        n = 0
        for k in keys:
            n += 1
            tid = known.get(k)
            if not k:
                self.stats["empty"] += 1
            if tid is None:
                tid = self._learn(k)
            else:
                while tid in alias:
                    tid = alias[tid]
                templates[tid].size += 1
            append(tid)
        self.stats["lines"] += n
        self.last_change = ChangeType.NONE if n else self.last_change
        return out

    def learn_compact(self, uniques: list[str], index) -> list[int]:
        """Place a block given as its distinct keys (in order of first occurrence) and, per line,
        the position of its key in `uniques` (`compact_keys`; worker processes send blocks this
        way). Same state and ids as `learn_keys` on the expanded keys, at one array lookup per line:
        new keys are learnt in order of first occurrence (placement decisions do not depend on
        counts), and the ids of the lines follow the aliases a merge inside the block creates only
        from the line that caused it on, as `learn_keys` would answer them."""
        import numpy as np

        if not self._ready:
            self._setup()
        idx = np.frombuffer(index, dtype=np.uint32) if isinstance(index, (bytes, bytearray)) else \
            np.asarray(index, dtype=np.uint32)
        n = len(idx)
        if not n:
            return []
        known, alias, templates = self._keys, self._alias, self._templates
        counts = np.bincount(idx, minlength=len(uniques)).tolist()
        events: list[tuple[int, list[tuple[int, int]]]] = []  # (unique whose learning merged, aliases added)
        ids: list[int] = []
        for u, k in enumerate(uniques):  # one pass over the distinct keys, in order of first occurrence
            tid = known.get(k)
            if tid is None:
                before = len(alias)
                tid = self._learn(k)
                c = counts[u] - 1  # `_learn` counted its first line
                if len(alias) != before:
                    events.append((u, list(alias.items())[before:]))
            else:
                while tid in alias:
                    tid = alias[tid]
                c = counts[u]
            templates[tid].size += c  # a later merge moves it with the rest (`_absorb`)
            ids.append(tid)
        if events:  # the ids at the end of the block
            ids = [self.resolve(t) for t in ids]
        ids_of = np.asarray(ids, dtype=np.int64)
        if "" in uniques:
            self.stats["empty"] += int(np.count_nonzero(idx == uniques.index("")))
        self.stats["lines"] += n
        self.last_change = ChangeType.NONE
        if not events:
            return ids_of[idx].tolist()
        # a merge inside the block: lines before the merging key's first line keep the ids of
        # the aliases as they were then
        first_pos = np.full(len(uniques), n, dtype=np.int64)
        np.minimum.at(first_pos, idx, np.arange(n, dtype=np.int64))
        partial = dict(alias)
        for _, added in events:
            for a, _b in added:
                del partial[a]
        out: list[int] = []
        start = 0
        for u, added in events:
            pos = int(first_pos[u])
            out += self._ids_under(partial, uniques, idx[start:pos])
            partial.update(added)
            start = pos
        out += ids_of[idx[start:]].tolist()
        return out

    def _ids_under(self, partial: dict[int, int], uniques: list[str], idx) -> list[int]:
        """Ids of lines under an older alias table (`learn_compact` after a merge)."""
        import numpy as np

        known = self._keys
        ids = []
        for k in uniques:  # every key of the block is known by now (learnt before this is called)
            tid = known[k]
            while tid in partial:
                tid = partial[tid]
            ids.append(tid)
        return np.asarray(ids, dtype=np.int64)[idx].tolist()

    def match(self, content: str, line_no: int = 0) -> ParsedLine | None:
        """The template covering a line, or None. Strictly read-only."""
        if not self._ready:
            self._setup()
        content = content[: self.max_line_chars]
        k = self._key(content)
        tid = self._keys.get(k)
        if tid is not None:
            tid = self.resolve(tid)
        else:
            toks = k.split(" ") if k else []
            tid = self._cover(toks)
            if tid is None:
                return None
        t = self._templates[tid]
        return ParsedLine(line_no, tid, t.text, self._params(t, content) if t.wild else ())

    def match_many(self, contents: Iterable[str]) -> list[int]:
        """`match` of many lines, ids only (0 = no template covers the line). Read-only."""
        if not self._ready:
            self._setup()
        block = contents if isinstance(contents, list) else list(contents)
        return self._match_keys(self.keys(block))

    def _match_keys(self, keys: list[str]) -> list[int]:
        uniques, index = compact_keys(keys)
        found = []
        for k in uniques:
            tid = self._keys.get(k)
            if tid is not None:
                tid = self.resolve(tid)
            else:
                tid = self._cover(k.split(" ") if k else []) or 0
            found.append(tid)
        import numpy as np

        return np.asarray(found, dtype=np.int64)[np.frombuffer(index, dtype=np.uint32)].tolist() if keys else []

    def parse_block(self, contents: list[str], *, learn: bool = True, parameters: bool = True) -> BlockResult:
        """Learn (or, with ``learn=False``, only match) a block of lines: their ids as of the end of
        the block and, with `parameters`, each line's real values (see base.py)."""
        if not self._ready:
            self._setup()
        block = contents if isinstance(contents, list) else list(contents)
        spans = None
        if parameters:
            keys, spans = self.keys_spans(block)
        else:
            keys = self.keys(block)
        if learn:
            self.stats["oversized"] += oversized(block, self.max_line_chars)
            ids = self.learn_compact(*compact_keys(keys))
            if self._alias:  # ids as of the end of the block
                cache: dict[int, int] = {}
                final = []
                for t in ids:
                    r = cache.get(t)
                    if r is None:
                        r = cache[t] = self.resolve(t)
                    final.append(r)
            else:
                final = ids
        else:
            final = self._match_keys(keys)
        self._fill_gaps(block, final)
        used = set(final)
        used.discard(0)
        live = self._templates
        templates = {tid: live[tid].text for tid in used}
        params = None
        if parameters:
            params = self._block_params(block, spans, final, used)
        return BlockResult(final, params, templates)

    def _block_params(self, block: list[str], spans: list[bytes], ids: list[int], used=None) -> Parameters:
        templates = self._templates
        wild = {tid: templates[tid].spec for tid in used if tid} if used is not None else \
            {tid: templates[tid].spec for tid in set(ids) if tid}
        if _core is not None:
            values, offsets, data = _core.params(block, spans, ids, wild)
            return Parameters(values, memoryview(offsets).cast("i"), data)
        values: list[str] = []
        offs = [0]
        for content, sp, tid in zip(block, spans, ids):
            w = wild.get(tid)
            if w is not None and len(w) > 1:
                flat = array.array("i", sp)
                if len(flat) == 2 * w[0]:
                    values.extend(content[flat[2 * j]:flat[2 * j + 1]] for j in w[1:])
            offs.append(len(values))
        return Parameters(values, offs)

    def parameters(self, content: str, template_id: int) -> tuple[str, ...]:
        """The values under the ``<*>`` of a line's template: the raw text of `content` each one
        stands for (see base.py)."""
        if not self._ready:
            self._setup()
        t = self._templates.get(self.resolve(template_id))
        if t is None or not t.wild:
            return ()
        return self._params(t, content)

    def changes(self) -> dict[int, ChangeType]:
        """Templates created, updated (text generalised) or merged (absorbed) since this parser
        was made or loaded, or since `reset_changes`: the drift report."""
        if not self._ready:
            self._setup()
        return dict(sorted(self._changes.items()))

    def reset_changes(self) -> None:
        if not self._ready:
            self._setup()
        self._changes.clear()

    # ------------------------------------------------------------------ internals
    def _params(self, t: SkeletonTemplate, content: str) -> tuple[str, ...]:
        content = content[: self.max_line_chars]
        _, sp = self.spans(content)
        if len(sp) != len(t.tokens):  # not this line's template (`parameters` with another id)
            return ()
        return tuple(content[sp[i][0]:sp[i][1]] for i in t.wild)

    def _learn(self, k: str) -> int:
        """A key seen for the first time: place it, remember the decision."""
        toks = k.split(" ") if k else []
        self.last_merged = ()
        tid, family = self._scan(toks)
        if tid is not None:
            self.last_change = ChangeType.NONE
        else:
            tid = self._merge(toks, family)
            if tid is None:
                tid = self._next_id
                self._next_id += 1
                self._templates[tid] = SkeletonTemplate(tid, list(toks), 0)
                self._index(tid, toks)
                self.last_change = ChangeType.CREATED
                self._changes[tid] = ChangeType.CREATED
        self._templates[tid].size += 1
        self._keys[k] = tid
        return tid

    def _index(self, tid: int, toks: list[str]) -> None:
        self._bylen.setdefault(len(toks), []).append(tid)
        self._byfirst.setdefault((len(toks), toks[0] if toks else ""), []).append(tid)

    def _candidates(self, toks: list[str]) -> list[int]:
        """Live templates of the key's length whose first token is a wildcard or the key's first
        token, oldest first (the only ones `_cover` and `_merge` can pick; see `_byfirst`)."""
        n = len(toks)
        first = toks[0] if toks else ""
        same = self._byfirst.get((n, first), [])
        if first == WILDCARD or not n:
            return same
        wild = self._byfirst.get((n, WILDCARD))
        if not wild:
            return same
        if not same:
            return wild
        return sorted(same + wild)

    def _cover(self, toks: list[str]) -> int | None:
        """The live template whose every constant equals the key's token there (most constants,
        then oldest). A template without constants covers only keys without constants."""
        return self._scan(toks)[0]

    def _scan(self, toks: list[str]) -> tuple[int | None, dict[int, list[int]]]:
        """One pass over the candidates: the covering template (`_cover`) and the families of
        `_merge` (position -> templates whose constants differ from the key only there)."""
        best, best_c = None, -1
        has_const = any(t != WILDCARD for t in toks)
        family: dict[int, list[int]] = {}
        templates = self._templates
        for tid in self._candidates(toks):
            consts = templates[tid].consts
            diff = [i for i, a in consts if toks[i] != a]
            if not diff:
                c = len(consts)
                if (c or not has_const) and c > best_c:
                    best, best_c = tid, c
            elif len(diff) == 1:
                family.setdefault(diff[0], []).append(tid)
        return best, family

    def _merge(self, toks: list[str], family: dict[int, list[int]]) -> int | None:
        """Brain's rule on one position (see the module docstring): merge a family, or None."""
        n = len(toks)
        for j in sorted(family):
            if j == 0:  # the first token names the event far more often than it varies
                continue
            tids = family[j]
            members = [self._templates[t].tokens for t in tids]
            values = {m[j] for m in members}
            values.add(toks[j])
            if len(values) < self.min_distinct and toks[j] != WILDCARD:
                continue  # no proof possible either (below): skip counting the constants
            consts = sum(1 for i, a in enumerate(toks)
                         if i != j and a != WILDCARD and all(m[i] != WILDCARD for m in members))
            if consts < 1:
                continue
            proof = toks[j] == WILDCARD and consts >= self.proof_constants
            if len(values) < self.min_distinct and not proof:
                continue
            survivor = min(tids)
            st = self._templates[survivor]
            st.tokens[j] = WILDCARD
            st.refresh()
            self._changes.setdefault(survivor, ChangeType.UPDATED)
            merged = [t for t in tids if t != survivor]
            # templates the survivor now covers are the same event: absorb them too
            for other in self._bylen[n]:
                if other != survivor and other not in merged:
                    ot = self._templates[other].tokens
                    if all(a == WILDCARD or a == b for a, b in zip(st.tokens, ot)):
                        merged.append(other)
            for other in merged:
                self._absorb(other, survivor)
            self.last_change = ChangeType.MERGED if merged else ChangeType.UPDATED
            self.last_merged = tuple(sorted(merged))
            return survivor
        return None

    def _absorb(self, tid: int, survivor: int) -> None:
        t = self._templates.pop(tid)
        self._templates[survivor].size += t.size
        self._bylen[len(t.tokens)].remove(tid)
        self._byfirst[(len(t.tokens), t.tokens[0] if t.tokens else "")].remove(tid)
        self._alias[tid] = survivor
        self._changes[tid] = ChangeType.MERGED
        log.debug("template %d merged into %d", tid, survivor)

    # ------------------------------------------------------------------ state
    def settings_dict(self) -> dict:
        """The state of a fresh parser with these settings (no templates, no keys)."""
        if not self._ready:
            self._setup()
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "params": self._settings(), "next_id": 1,
                "templates": [], "alias": [], "keys": []}

    def _settings(self) -> dict:
        return {
            "masking": [r.to_dict() for r in self.masking],
            "mask_prefix": self.mask_prefix,
            "mask_suffix": self.mask_suffix,
            "mask_placeholder": self.mask_placeholder,
            "remove": list(self.remove),
            "split_after": self.split_after,
            "min_distinct": self.min_distinct,
            "proof_constants": self.proof_constants,
            "max_line_chars": self.max_line_chars,
        }

    def to_dict(self) -> dict:
        """The whole state as JSON-ready data: settings, templates, aliases and every key's id."""
        if not self._ready:
            self._setup()
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "params": self._settings(),
            "next_id": self._next_id,
            **({"built_for": self.built_for} if getattr(self, "built_for", None) else {}),
            "templates": [{"id": t.tid, "tokens": t.tokens, "size": t.size, **({"gaps": t.gaps} if t.gaps else {})}
                          for t in self._templates.values()],
            "alias": [[a, b] for a, b in self._alias.items()],
            "keys": [[k, v] for k, v in self._keys.items()],
        }

    @classmethod
    def from_dict(cls, d: dict) -> SkeletonParser:
        """Rebuild a parser from `to_dict` data; InputError when it is not such data."""
        check_header(d, STATE_FORMAT, STATE_VERSION, "skeleton")
        try:
            p = d["params"]
            parser = cls(masking=rules_from_data(p["masking"]), mask_prefix=p["mask_prefix"],
                         mask_suffix=p["mask_suffix"], mask_placeholder=p["mask_placeholder"],
                         remove=tuple(p["remove"]), split_after=p["split_after"],
                         min_distinct=int(p["min_distinct"]), proof_constants=int(p["proof_constants"]),
                         max_line_chars=int(p["max_line_chars"]))
            parser._setup()
            for item in sorted(d["templates"], key=lambda t: int(t["id"])):  # oldest first, as built
                gaps = item.get("gaps")
                t = SkeletonTemplate(int(item["id"]), [str(x) for x in item["tokens"]], int(item["size"]),
                              gaps if isinstance(gaps, str) and set(gaps) <= {"0", "1"} else None)
                parser._templates[t.tid] = t
                parser._index(t.tid, t.tokens)
            parser._alias = {int(a): int(b) for a, b in d["alias"]}
            parser._keys = {str(k): int(v) for k, v in d["keys"]}
            parser._next_id = int(d["next_id"])
            check_ids(parser._templates, parser._alias, parser._next_id)
            for tid in list(parser._alias) + list(parser._keys.values()):
                if parser.resolve(tid) not in parser._templates:
                    raise InputError(f"skeleton state refers to an unknown template id {tid}")
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"skeleton state is incomplete or corrupt: {exc!r}") from exc
        built_for = d.get("built_for")
        parser.built_for = built_for if isinstance(built_for, str) else None
        return parser
