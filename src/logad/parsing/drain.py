"""Our streaming Drain parser (written from the algorithm of He et al., ICWS'17).

A line is masked (masking.py), split into tokens and routed through a fixed-depth prefix tree:
first by its token count, then by its first tokens (a token holding a digit, or a new token under a
full node, takes the ``<*>`` branch). The leaf holds a few clusters; the line joins the most
similar one (share of equal non-wildcard positions, ties to more wildcards) when the similarity
reaches the threshold, and positions that differ become ``<*>``; otherwise it founds a cluster.

Depth: as in LogPAI Drain and Drain3, `depth` counts the root and the token-count levels, so the
number of token levels is ``depth - 3`` (depth 4 routes by the first token, 5 by two, ...); lines
shorter than that use all their tokens.

Speed: after masking most lines repeat an earlier masked line exactly. A dictionary from the
masked line to its cluster skips the tree for them. It stays correct because templates only ever
generalise: a line that joined a cluster is still covered by its template after later updates,
which is where the tree search would also find it (highest similarity, 1.0). `match` reads the
same dictionary, so `match` and `add` agree on seen lines.

Ids are 1.. in creation order and never reused (also after eviction under `max_clusters`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import ClassVar

from logad.errors import InputError, InvalidParameterError
from logad.parsing import align
from logad.parsing.base import WILDCARD, BlockResult, ChangeType, Parameters
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, Masker, rules_from_data
from logad.parsing.state import SavedState, check_header
from logad.records import ParsedLine

try:  # the optional compiled core; the Python reference gives identical results
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None

log = logging.getLogger(__name__)

__all__ = ["ChangeType", "DrainParser", "STATE_FORMAT", "WILDCARD"]

STATE_FORMAT = "logad-drain"
STATE_VERSION = 1
_DIGITS = frozenset("0123456789")


class _Cluster:
    __slots__ = ("cid", "tokens", "size", "template", "param_pos", "alive", "leaf", "spec")

    def __init__(self, cid: int, tokens: list[str], size: int, placeholders: tuple[str, ...]) -> None:
        self.cid = cid
        self.tokens = tokens
        self.size = size
        self.alive = True
        self.leaf: list[_Cluster] | None = None
        self.refresh(placeholders)

    def refresh(self, placeholders: tuple[str, ...]) -> None:
        # joined once per template change, not per line; parameter positions likewise
        self.template = " ".join(self.tokens)
        self.param_pos = tuple(
            i for i, t in enumerate(self.tokens) if t == WILDCARD or any(p in t for p in placeholders)
        )
        # what `_core.drain_params` reads: 2i for a generalised position, 2i + 1 for a masked token kept
        self.spec = tuple(2 * i + (self.tokens[i] != WILDCARD) for i in self.param_pos)


class DrainParser(SavedState):
    """Streaming Drain with masking rules as data (mode "drain"; implements `logad.parsing.Parser`).

    Keyword-only; the constructor only stores its arguments (checked on first use).
    depth: tree depth counting root and length levels (>= 3). similarity: threshold in [0, 1].
    max_children: branches per inner node before new tokens fall into ``<*>``. max_clusters: keep
    at most this many clusters (least recently used evicted; ids never reused), None = no limit.
    masking: rules (see masking.py). mask_placeholder: one text for every mask (``"<*>"`` = LogPAI
    style), else ``mask_prefix + NAME + mask_suffix``. extra_delimiters: strings split like
    spaces. parametrize_numeric_tokens: route tokens holding digits to the ``<*>`` branch.
    max_cache: bound of the masked-line cache (memory grows with distinct masked lines).

    Drain never merges clusters, so `resolve` is the identity and every id is live; `changes()`
    reports templates created and generalised (updated).
    """

    mode: ClassVar[str] = "drain"
    STATE_FORMAT: ClassVar[str] = STATE_FORMAT

    def __init__(
        self,
        *,
        depth: int = 4,
        similarity: float = 0.4,
        max_children: int = 100,
        max_clusters: int | None = None,
        masking: Iterable = DRAIN3_EXAMPLE_RULES,
        mask_prefix: str = "<",
        mask_suffix: str = ">",
        mask_placeholder: str | None = None,
        extra_delimiters: Iterable[str] = (),
        parametrize_numeric_tokens: bool = True,
        max_cache: int = 200_000,
    ) -> None:
        self.depth = depth
        self.similarity = similarity
        self.max_children = max_children
        self.max_clusters = max_clusters
        self.masking = tuple(masking)
        self.mask_prefix = mask_prefix
        self.mask_suffix = mask_suffix
        self.mask_placeholder = mask_placeholder
        self.extra_delimiters = tuple(extra_delimiters)
        self.parametrize_numeric_tokens = parametrize_numeric_tokens
        self.max_cache = max_cache
        self.last_change = ChangeType.NONE
        self.stats = {"lines": 0, "empty": 0, "oversized": 0}  # counts (reset when the state is built)
        self._ready = False

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 3:
            raise InvalidParameterError(f"`depth` must be an integer >= 3, got {self.depth!r}")
        if not isinstance(self.similarity, int | float) or not 0 <= self.similarity <= 1:
            raise InvalidParameterError(f"`similarity` must be in [0, 1], got {self.similarity!r}")
        if isinstance(self.max_children, bool) or not isinstance(self.max_children, int) or self.max_children < 2:
            raise InvalidParameterError(f"`max_children` must be an integer >= 2, got {self.max_children!r}")
        if self.max_clusters is not None and (not isinstance(self.max_clusters, int) or self.max_clusters < 1):
            raise InvalidParameterError(f"`max_clusters` must be None or an integer >= 1, got {self.max_clusters!r}")
        if any(not isinstance(d, str) or not d for d in self.extra_delimiters):
            raise InvalidParameterError(f"`extra_delimiters` must be non-empty strings, got {self.extra_delimiters!r}")
        self.masking = rules_from_data(self.masking)
        self._masker = Masker(self.masking, prefix=self.mask_prefix, suffix=self.mask_suffix,
                              placeholder=self.mask_placeholder)
        self._levels = self.depth - 3
        self._clusters: dict[int, _Cluster] = {}  # insertion order = recency when max_clusters is set
        self._root: dict = {}
        self._cache: dict[str, _Cluster] = {}
        self._next_id = 1
        self._core_spec = None  # (usable, rule set, placeholders) for the compiled core, built on first use
        self._changes: dict[int, ChangeType] = {}
        self.stats = {"lines": 0, "empty": 0, "oversized": 0}
        self._ready = True

    # ------------------------------------------------------------------ public API
    @property
    def templates(self) -> dict[int, str]:
        """Current templates by id."""
        if not self._ready:
            self._setup()
        return {cid: c.template for cid, c in self._clusters.items()}

    @property
    def live_templates(self) -> dict[int, str]:
        """The same as `templates`: Drain has no aliases."""
        return self.templates

    def sizes(self) -> dict[int, int]:
        """Lines learnt per template."""
        if not self._ready:
            self._setup()
        return {cid: c.size for cid, c in sorted(self._clusters.items())}

    def templates_text(self, template_id: int) -> str:
        """The current template text of an id."""
        if not self._ready:
            self._setup()
        return self._clusters[template_id].template

    def resolve(self, template_id: int) -> int:
        """The identity: Drain never merges clusters, so every id stays live."""
        return template_id

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Slots of a template besides ``<*>``: the mask placeholders (``<NUM>``...), which a
        template keeps as long as its position is not generalised."""
        if not self._ready:
            self._setup()
        return self._masker.placeholders

    def normalise(self, text: str) -> str:
        """A text with its whitespace as the tokeniser sees it (`extra_delimiters` as spaces, runs
        of whitespace as one space): what `reconstruct` compares with."""
        for d in self.extra_delimiters:
            text = text.replace(d, " ")
        return " ".join(text.split())

    def changes(self) -> dict[int, ChangeType]:
        """Templates created or generalised (updated) since this parser was made or loaded, or
        since `reset_changes`."""
        if not self._ready:
            self._setup()
        return dict(sorted(self._changes.items()))

    def reset_changes(self) -> None:
        if not self._ready:
            self._setup()
        self._changes.clear()

    def add_many(self, contents: Iterable[str], *, workers: int = 1, chunk_size: int | None = None) -> list[int]:
        """Learn from many lines; returns their template ids (no ParsedLine, no parameters). Drain
        places each line against the tree as it stands, so it learns in one process: `workers`
        must be 1 (`chunk_size` is accepted and ignored)."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameterError(f"`workers` must be an integer >= 1, got {workers!r}")
        if workers != 1:
            raise InvalidParameterError(f"Drain mode learns in one process: `workers` must be 1, got {workers}")
        out: list[int] = []
        block: list[str] = []
        for c in contents:
            block.append(c)
            if len(block) >= 20_000:
                out += self._add_block(block)
                block = []
        return out + self._add_block(block) if block else out

    def _add_block(self, block: list[str]) -> list[int]:
        masked, _ = self._masked_many(block)
        return [self._learn_text(m if m is not None else self.masked(c)).cid for c, m in zip(block, masked)]

    def match_many(self, contents: Iterable[str]) -> list[int]:
        """`match` of many lines, ids only (0 = no template covers the line). Read-only."""
        out = []
        for c in contents:
            hit = self._lookup(c)
            out.append(hit.cid if hit is not None else 0)
        return out

    def parse_block(self, contents: list[str], *, learn: bool = True, parameters: bool = True) -> BlockResult:
        """Learn (or, with ``learn=False``, only match) a block of lines: their ids and, with
        `parameters`, each line's real values against its template at the end of the block."""
        if not self._ready:
            self._setup()
        masked, spans = self._masked_many(contents)
        if learn:
            clusters = [self._learn_text(m if m is not None else self.masked(c)) for c, m in zip(contents, masked)]
        else:
            clusters = [self._lookup_text(m if m is not None else self.masked(c)) for c, m in zip(contents, masked)]
        ids = [c.cid if c is not None else 0 for c in clusters]
        templates = {c.cid: c.template for c in clusters if c is not None}
        params = None
        if parameters:
            if _core is not None and None not in masked:  # every line through the core: one call
                specs = [c.spec if c is not None and c.param_pos else None for c in clusters]
                values, offsets, data = _core.drain_params(contents, spans, specs)
                params = Parameters(values, memoryview(offsets).cast("i"), data)
            else:
                rows = []
                for c, content, m, sp in zip(clusters, contents, masked, spans):
                    if c is None or not c.param_pos:
                        rows.append(())
                    elif sp is not None:
                        rows.append(self._params_of(c, content, _decode(m, sp)))
                    else:
                        rows.append(self._params(c, content))
                params = Parameters.from_tuples(rows)
        return BlockResult(ids, params, templates)

    def _masked_many(self, contents: list[str]) -> tuple[list, list]:
        """Masked texts and token spans of many lines from the compiled core (None where it leaves
        a line to the Python reference)."""
        if not self._ready:
            self._setup()
        n = len(contents)
        if _core is None:
            return [None] * n, [None] * n
        got = self._core_spec
        if got is None:
            rules = self._masker.core_rules(delimiters=self.extra_delimiters) if (self.masking or self.extra_delimiters) else None
            phs = tuple(dict.fromkeys((WILDCARD, *self._masker.placeholders)))
            usable = (rules is not None or not (self.masking or self.extra_delimiters)) and all(p.isascii() and p for p in phs)
            got = self._core_spec = (usable, rules, phs)
        usable, rules, phs = got
        if not usable:
            return [None] * n, [None] * n
        return _core.tokens_spans(contents if isinstance(contents, list) else list(contents), rules, phs, 1 << 40)

    def masked(self, content: str) -> str:
        """The line after masking and delimiter splitting (the key of the line cache)."""
        if not self._ready:
            self._setup()
        text = self._masker(content)
        for d in self.extra_delimiters:
            text = text.replace(d, " ")
        return text

    def tokens(self, content: str) -> tuple[str, ...]:
        """The masked tokens the tree sees."""
        return tuple(self.masked(content).split())

    def add(self, content: str, line_no: int = 0) -> ParsedLine:
        """Learn from one line (the message part, without header); returns its template and id."""
        masked, spans = self._masked_many([content])  # masked text and spans in one pass
        if masked[0] is None:
            c = self._learn_text(self.masked(content))
            return ParsedLine(line_no, c.cid, c.template, self._params(c, content) if c.param_pos else ())
        c = self._learn_text(masked[0])
        if not c.param_pos:
            return ParsedLine(line_no, c.cid, c.template, ())
        if len(masked[0].split()) != len(c.tokens):
            return ParsedLine(line_no, c.cid, c.template, ())
        values, _, _ = _core.drain_params([content], spans, [c.spec])
        return ParsedLine(line_no, c.cid, c.template, tuple(values))

    def _learn_text(self, text: str) -> _Cluster:
        """Learn from a masked line (`masked`)."""
        if not self._ready:
            self._setup()
        self.stats["lines"] += 1
        c = self._cache.get(text)
        if c is not None and c.alive:  # the hot path: a masked line seen before
            if not c.tokens:
                self.stats["empty"] += 1
            c.size += 1
            self.last_change = ChangeType.NONE
            if self.max_clusters is not None:
                self._touch(c)
            return c
        toks = text.split()
        if not toks:
            self.stats["empty"] += 1
        leaf = self._leaf(toks, create=True)
        c = self._best(leaf, toks)
        if c is None:
            c = _Cluster(self._next_id, toks, 1, self._masker.placeholders)
            self._next_id += 1
            self._clusters[c.cid] = c
            c.leaf = leaf
            leaf.append(c)
            self.last_change = ChangeType.CREATED
            self._changes[c.cid] = ChangeType.CREATED
            if self.max_clusters is not None and len(self._clusters) > self.max_clusters:
                self._evict()
        else:
            changed = False
            ctoks = c.tokens
            for i, tok in enumerate(toks):
                if ctoks[i] != tok and ctoks[i] != WILDCARD:
                    ctoks[i] = WILDCARD
                    changed = True
            if changed:
                c.refresh(self._masker.placeholders)
                self._changes.setdefault(c.cid, ChangeType.UPDATED)
            c.size += 1
            self.last_change = ChangeType.UPDATED if changed else ChangeType.NONE
            if self.max_clusters is not None:
                self._touch(c)
        if len(self._cache) < self.max_cache:
            self._cache[text] = c
        return c

    def match(self, content: str, line_no: int = 0) -> ParsedLine | None:
        """The template covering a line, or None. Strictly read-only (no counts, no cache, no
        recency). A line matches when it was seen before, or when a template of its leaf covers it
        exactly (every non-wildcard token equal), as Drain3's `match` does."""
        c = self._lookup(content)
        if c is None:
            return None
        return ParsedLine(line_no, c.cid, c.template, self._params(c, content) if c.param_pos else ())

    def _lookup(self, content: str) -> _Cluster | None:
        return self._lookup_text(self.masked(content))

    def _lookup_text(self, text: str) -> _Cluster | None:
        c = self._cache.get(text)
        if c is None or not c.alive:
            toks = text.split()
            leaf = self._leaf(toks, create=False)
            c = self._best(leaf, toks, exact=True) if leaf else None
        return c

    def parameters(self, content: str, template_id: int) -> tuple[str, ...]:
        """The values under the slots of a line's template (``<*>`` and mask placeholders), in
        order: the raw text of `content` each one stands for (see base.py)."""
        if not self._ready:
            self._setup()
        c = self._clusters.get(template_id)
        if c is None or not c.param_pos:
            return ()
        return self._params(c, content)

    def spans(self, content: str) -> list[tuple[str, int, int, list[tuple[int, int]]]]:
        """Per token the line's masked token, the raw span it stands for and the raw spans of the
        mask placeholders inside it (see align.py)."""
        if not self._ready:
            self._setup()
        text, origins = self._masker.mask_aligned(content)
        for d in self.extra_delimiters:
            found = []
            i = text.find(d)
            while i >= 0:
                found.append((i, i + len(d)))
                i = text.find(d, i + len(d))
            if found:
                text, origins = align.apply(text, origins, found, " ")
        phs = tuple(dict.fromkeys((WILDCARD, *self._masker.placeholders)))
        rs, re_ = origins
        out = []
        for tok, start, a, b in align.tokens(text, origins):
            inner = []
            j = tok.find("<")
            while j >= 0:
                for p in phs:
                    if tok.startswith(p, j):
                        inner.append((rs[start + j], re_[start + j + len(p) - 1]))
                        j += len(p) - 1
                        break
                j = tok.find("<", j + 1)
            out.append((tok, a, b, inner))
        return out

    # ------------------------------------------------------------------ internals
    def _params(self, c: _Cluster, content: str) -> tuple[str, ...]:
        masked, spans = self._masked_many([content])
        if spans[0] is not None:
            return self._params_of(c, content, _decode(masked[0], spans[0]))
        return self._params_of(c, content, self.spans(content))

    def _params_of(self, c: _Cluster, content: str, toks: list) -> tuple[str, ...]:
        if len(toks) != len(c.tokens):  # not this line's template (`parameters` with another id)
            return ()
        out: list[str] = []
        for i in c.param_pos:
            tpl = c.tokens[i]
            tok, a, b, inner = toks[i]
            if tpl == WILDCARD or tok != tpl:  # a generalised position: the whole raw token
                out.append(content[a:b])
            else:  # a masked token kept as it is: one value per placeholder
                out.extend(content[x:y] for x, y in inner)
        return tuple(out)

    def _leaf(self, toks: list[str], create: bool) -> list[_Cluster] | None:
        n = len(toks)
        node = self._root.get(n)
        if node is None:
            if not create:
                return None
            node = self._root[n] = {}
        levels = self._levels if self._levels < n else n
        if levels == 0:
            leaf = node.get("")
            if leaf is None and create:
                leaf = node[""] = []
            return leaf
        last = levels - 1
        for i in range(levels):
            tok = toks[i]
            if self.parametrize_numeric_tokens and not _DIGITS.isdisjoint(tok):
                tok = WILDCARD
            child = node.get(tok)
            if child is None:
                if tok != WILDCARD:
                    # a new branch only while there is room; the last slot is kept for <*>
                    room = len(node) + (WILDCARD not in node) < self.max_children
                    if not room:
                        tok = WILDCARD
                        child = node.get(tok)
                    elif not create:  # `add` would open a new branch: nothing to match
                        return None
                if child is None:
                    if not create:
                        return None
                    child = node[tok] = [] if i == last else {}
            node = child
        return node  # type: ignore[return-value]

    def _best(self, leaf: list[_Cluster], toks: list[str], exact: bool = False) -> _Cluster | None:
        """The most similar cluster of a leaf above the threshold (ties: more wildcards, then
        older); with `exact`, only clusters whose template covers the line are candidates."""
        best, best_sim, best_par = None, -1.0, -1
        n = len(toks)
        for c in leaf:
            if exact and not same_or_wild(c.tokens, toks):
                continue
            same = par = 0
            for a, b in zip(c.tokens, toks):
                if a == WILDCARD:
                    par += 1
                elif a == b:
                    same += 1
            sim = same / n if n else 1.0
            if sim > best_sim or (sim == best_sim and par > best_par):
                best, best_sim, best_par = c, sim, par
        if best is None or best_sim < self.similarity:
            return None
        return best

    def _touch(self, c: _Cluster) -> None:
        # dicts keep insertion order: re-inserting makes `c` the most recently used
        del self._clusters[c.cid]
        self._clusters[c.cid] = c

    def _evict(self) -> None:
        cid = next(iter(self._clusters))
        c = self._clusters.pop(cid)
        c.alive = False  # cache entries pointing to it are ignored, then overwritten
        if c.leaf is not None:
            c.leaf.remove(c)
        log.debug("evicted template %d (max_clusters=%d)", cid, self.max_clusters)

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict:
        """The whole state as JSON-ready data (parameters, templates, counts, line cache)."""
        if not self._ready:
            self._setup()
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "params": {
                "depth": self.depth,
                "similarity": self.similarity,
                "max_children": self.max_children,
                "max_clusters": self.max_clusters,
                "masking": [r.to_dict() for r in self.masking],
                "mask_prefix": self.mask_prefix,
                "mask_suffix": self.mask_suffix,
                "mask_placeholder": self.mask_placeholder,
                "extra_delimiters": list(self.extra_delimiters),
                "parametrize_numeric_tokens": self.parametrize_numeric_tokens,
                "max_cache": self.max_cache,
            },
            "next_id": self._next_id,
            **({"built_for": self.built_for} if getattr(self, "built_for", None) else {}),
            # in recency order (oldest first) so eviction continues identically after a load
            "clusters": [{"id": c.cid, "tokens": list(c.tokens), "size": c.size} for c in self._clusters.values()],
            # the cache decides where repeated lines go: saved so a loaded state continues exactly
            "cache": [[k, c.cid] for k, c in self._cache.items() if c.alive],
        }

    @classmethod
    def from_dict(cls, d: dict) -> DrainParser:
        """Rebuild a parser from `to_dict` data; InputError when it is not such data."""
        check_header(d, STATE_FORMAT, STATE_VERSION, "Drain")
        try:
            p = d["params"]
            parser = cls(
                depth=p["depth"], similarity=p["similarity"], max_children=p["max_children"],
                max_clusters=p.get("max_clusters"), masking=rules_from_data(p["masking"]),
                mask_prefix=p.get("mask_prefix", "<"), mask_suffix=p.get("mask_suffix", ">"),
                mask_placeholder=p.get("mask_placeholder"), extra_delimiters=tuple(p.get("extra_delimiters", ())),
                parametrize_numeric_tokens=bool(p.get("parametrize_numeric_tokens", True)),
                max_cache=int(p.get("max_cache", 200_000)),
            )
            parser._setup()
            ph = parser._masker.placeholders
            # leaves are rebuilt in creation order, so ties inside a leaf resolve as before
            for item in sorted(d["clusters"], key=lambda c: int(c["id"])):
                toks = [str(t) for t in item["tokens"]]
                c = _Cluster(int(item["id"]), toks, int(item.get("size", 1)), ph)
                leaf = parser._leaf(toks, create=True)
                c.leaf = leaf
                leaf.append(c)
            # map ids to the objects just built, keeping the saved (recency) order
            built = {c.cid: c for c in _iter_leaves(parser._root)}
            parser._clusters = {int(item["id"]): built[int(item["id"])] for item in d["clusters"]}
            parser._next_id = int(d["next_id"])
            if len(built) != len(d["clusters"]):
                raise InputError("Drain state lists a cluster id twice")
            if built and parser._next_id <= max(built):
                raise InputError(f"Drain state's next_id {parser._next_id} is not above its cluster ids (up to "
                                 f"{max(built)}): a new template would overwrite an old one")
            parser._cache = {str(k): built[int(v)] for k, v in d.get("cache", [])}
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"Drain state is incomplete or corrupt: {exc!r}") from exc
        built_for = d.get("built_for")
        parser.built_for = built_for if isinstance(built_for, str) else None
        return parser


class _CoreTokens:
    """`DrainParser.spans` read lazily from the compiled core's tokens_spans output: token i is
    (masked token, raw start, raw end, raw spans of its placeholders), built only when asked."""

    __slots__ = ("words", "flat")

    def __init__(self, masked: str, spans: bytes) -> None:
        import array

        self.words = masked.split()
        self.flat = array.array("i", spans)

    def __len__(self) -> int:
        return self.flat[0]

    def __getitem__(self, i: int) -> tuple[str, int, int, list[tuple[int, int]]]:
        f = self.flat
        k = 1 + 4 * i
        base = 1 + 4 * f[0] + 2 * f[k + 2]
        return (self.words[i], f[k], f[k + 1], [(f[base + 2 * j], f[base + 2 * j + 1]) for j in range(f[k + 3])])

    def __eq__(self, other) -> bool:
        return [self[i] for i in range(len(self))] == list(other)


def _decode(masked: str, spans: bytes) -> _CoreTokens:
    return _CoreTokens(masked, spans)


def same_or_wild(template: list[str], toks: list[str]) -> bool:
    """True when every template token equals the line's token or is the wildcard."""
    return len(template) == len(toks) and all(a == WILDCARD or a == b for a, b in zip(template, toks))


def _iter_leaves(root: dict):
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            yield from node
        else:
            stack.extend(node.values())
