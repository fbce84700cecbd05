"""Raw lines to line events (`LineEvent`'s fields), exactly as `logad detect` makes them from a file.

`LineParser(model)` holds what a trained model says about reading a line: the format's header
split, the parser's read-only matching (a line matching no trained template gets id 0), the session
id regex or entity field, and the numeric parameter values when the detector reads them. The two
steps are kept apart because the HTTP face checks the format before it acknowledges a request,
and the processor turns the result into events later:

- `split(lines)` -> `Split`: the positions of the lines that are records, and per record its
  content, timestamp, label and entity; how many lines are blank or not in the model's format;
- `events(split, first_offset, sources)` -> the `LineEvent`s of the records, with `line_no` = the
  line's offset (offsets count every line the service accepted, from 1, so a file replayed whole
  gets the line numbers `logad detect` gives it), and the lines whose template is new.

`parse_block(lines, first_offset, sources)` does both. Everything here is a pure function of the
lines and the model, so replaying a journal gives the same events.

Every step is the one `logad detect` takes, on a whole block at a time: the format's reader splits
the headers (`logad.formats.reader`: the compiled `_core.split_block` running the format's
linear-time program, its Python reference where there is none) and reads the timestamps a block
at a time (`logad.formats.times.timestamps`); the parser's bulk `keys()` computes the lines' keys
in C and `match` runs once per distinct key (its answer depends only on the key; a parser without
keys matches the block with `match_many`, and a detector that reads parameter values gets them
from the parser's `parse_block(learn=False)`); the session ids of a block come from one call of
the compiled core where the session regex allows it (`logad.pipeline.logs`), per line otherwise.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

from logad.errors import InputError

_KEY_CACHE = 200_000  # distinct keys whose template id is remembered (the cache is cleared when full)


@dataclass
class Split:
    """The header split of a block of `n` lines. `rows`: the positions (from 0) of the lines that
    are records; per record (in that order) its `content`, `timestamp` (None: no time), `label`
    (None when the format has no label field) and `entity` (None unless grouped by entity).
    `bad`: the positions of the first 20 lines not in the format, `n_bad` how many there are."""

    n: int
    rows: list[int]
    content: list[str]
    timestamp: list[float | None]
    label: list[int] | None = None
    entity: list[str] | None = None
    bad: list[int] = field(default_factory=list)
    n_bad: int = 0
    blank: int = 0
    oversized: int = 0
    template_ids: list[int] | None = None  # per record, once `events` has matched them

    @property
    def records(self) -> int:
        return len(self.rows)


@dataclass(slots=True)
class Event:
    """`logad.windowing.grouping.LineEvent`'s fields, in a class that is not frozen: the windower
    reads only the fields (and `dataclasses.replace`s one), and making one of these costs a
    quarter of a frozen one, on every line (tests/service/test_lines.py keeps the fields equal)."""

    line_no: int
    template_id: int
    timestamp: float | None = None
    label: int | None = None
    keys: tuple[str, ...] = ()
    values: tuple[float, ...] | None = None
    source: str = ""


def session_ids(pattern: str):
    """What `logad.windowing.grouping.identifier_extractor` answers (the distinct ids a line names,
    in order; with several groups, the first), with less work for the usual one id per line."""
    rx = re.compile(pattern)  # validated with the model's grouping
    findall = rx.findall
    if rx.groups > 1:
        def extract(text: str) -> tuple[str, ...]:
            found = findall(text)
            return tuple(dict.fromkeys(f[0] for f in found)) if found else ()
    else:
        def extract(text: str) -> tuple[str, ...]:
            found = findall(text)
            if len(found) < 2:
                return tuple(found)
            return tuple(dict.fromkeys(found))
    return extract


class LineParser:
    """Reads raw lines the way a trained model's `detect` does (see the module docstring)."""

    def __init__(self, model) -> None:
        from logad.formats import reader
        from logad.formats.registry import get_format
        from logad.pipeline.logs import _block_extractor

        if model.structured:
            raise InputError("this model was trained on structured CSVs; `logad serve` reads raw log lines")
        self.model = model
        self.fmt = get_format(model.format_name)
        self.parser = model.parser
        self.grouping = model._grouping().validated()
        self.with_values = bool(model.detector.needs_line_values())
        g = self.grouping
        splitter = self.fmt.splitter
        self._splitter = splitter
        self._names = [f for f in splitter.fields if f != "Content"]
        self._split_block = reader.block_splitter(splitter)  # what read_blocks runs
        self._max_line_bytes = reader.MAX_LINE_BYTES
        self.label_field = self.fmt.label_field
        self.entity_field = (g.entity_field or self.fmt.entity_field) if g.kind == "entity" else None
        from_text = g.kind == "session" and not g.session_from_path
        self.extract = session_ids(g.session_regex) if from_text else None
        self.block_keys = _block_extractor(g.session_regex) if from_text else None
        self._keys_of = getattr(self.parser, "keys", None)  # bulk keys (the default parser)
        self._key_ids: dict[str, int] = {}
        self.templates: dict[int, str] = dict(self.parser.templates)

    # ------------------------------------------------------------------ header split
    def split(self, lines: Seq[str]) -> Split:
        """The records of a block of lines, split as `logad detect`'s reader splits a file's."""
        from logad.formats.reader import ReadReport
        from logad.formats.times import timestamps

        n = len(lines)
        if not n:
            return Split(0, [], [], [])
        buf = "\n".join(lines).encode("utf-8", errors="replace") + b"\n"
        if buf.count(b"\n") != n:  # a line holding a line break (no decoder here makes one): one line each
            buf = "\n".join(ln.replace("\n", " ") for ln in lines).encode("utf-8", errors="replace") + b"\n"
        report = ReadReport()
        rows, contents, cols = self._split_block(buf, 0, self._splitter, self._names, self._max_line_bytes, report)
        times = timestamps(self.fmt.time_spec, cols, len(contents))
        out = Split(n, rows, contents, [None if t != t else t for t in times], bad=report.unmatched_line_nos,
                    n_bad=report.unmatched, blank=report.empty_lines, oversized=report.oversized)
        if self.label_field in cols:
            out.label = [0 if v == "-" else 1 for v in cols[self.label_field]]
        if self.entity_field is not None:
            col = cols.get(self.entity_field)
            out.entity = list(col) if col is not None else [""] * len(contents)
        return out

    # ------------------------------------------------------------------ template ids, events
    def template_ids(self, contents: list[str]) -> tuple[list[int], list[str] | None]:
        """Template ids of message parts (0 = no trained template), and their keys when the
        parser computes keys (the identity of a new template)."""
        if self._keys_of is None:
            return list(self.parser.match_many(contents)), None
        keys = self._keys_of(contents)
        known = self._key_ids
        get = known.get
        ids = [get(k, -1) for k in keys]
        if -1 in ids:
            match = self.parser.match
            for i, k in enumerate(keys):
                if ids[i] != -1:
                    continue
                tid = get(k)
                if tid is None:
                    if len(known) >= _KEY_CACHE:
                        known.clear()
                    p = match(contents[i])  # depends only on the line's key: one call per key
                    tid = known[k] = p.template_id if p is not None else 0
                ids[i] = tid
        return ids, keys

    def events(self, split: Split, first_offset: int, sources: Seq[str]) -> tuple[list[Event], list[tuple]]:
        """(events, new templates) of a split block whose first line has offset `first_offset`.
        `sources` gives each line's source. New templates are (offset, key, content, timestamp)
        of every record matching no trained template (the caller keeps which keys it has seen)."""
        rows, contents = split.rows, split.content
        params = None
        if self.with_values:  # ids and values as detect's parse_files gives them
            res = self.parser.parse_block(contents, learn=False, parameters=True)
            ids, keys, params = list(res.ids), None, res.parameters
        else:
            ids, keys = self.template_ids(contents)
        split.template_ids = ids
        new: list[tuple] = []
        if 0 in ids:
            zeros = [j for j, t in enumerate(ids) if not t]
            if keys is None and self._keys_of is not None:
                zk = self._keys_of([contents[j] for j in zeros])
            else:
                zk = [keys[j] if keys is not None else contents[j] for j in zeros]
            new = [(first_offset + rows[j], k, contents[j], split.timestamp[j]) for j, k in zip(zeros, zk)]
        g = self.grouping
        if self.extract is not None:
            ks = self.block_keys(contents) if self.block_keys is not None else [None] * len(contents)
            if None in ks:
                extract = self.extract
                ks = [extract(c) if k is None else k for k, c in zip(ks, contents)]
        elif g.kind == "entity":
            ks = [(v,) for v in split.entity]
        else:
            ks = itertools.repeat(())
        offsets = [first_offset + r for r in rows]
        labels = split.label if split.label is not None else itertools.repeat(None)
        if params is not None:
            from logad.pipeline.logs import numeric_values

            values = [numeric_values(params[j]) if t else () for j, t in enumerate(ids)]
        else:
            values = itertools.repeat(None)
        if sources and sources.count(sources[0]) == len(sources):
            srcs = itertools.repeat(sources[0])
        else:
            srcs = [sources[r] for r in rows]
        cols = zip(offsets, ids, split.timestamp, labels, ks, values, srcs)
        if self.extract is not None:  # a line naming no session is skipped, as `logad detect` skips it
            evs = [Event(*c) for c in cols if c[4]]
        else:
            evs = list(itertools.starmap(Event, cols))
        return evs, new

    def parse_block(self, lines: Seq[str], first_offset: int, sources: Seq[str]):
        """`events(split(lines), ...)`: the events and new templates of a block of raw lines."""
        return self.events(self.split(lines), first_offset, sources)

    def template_text(self, tid: int) -> str:
        return self.templates.get(tid, "unseen template") if tid else "unseen template"


# ---------------------------------------------------------------------- request bodies
class BodyError(ValueError):
    """A request body that cannot be read as log lines; `status` is the HTTP code to answer."""

    def __init__(self, message: str, status: int = 400, reason: str = "malformed") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


_CONTROL = bytes(b for b in range(32) if b < 9 or 13 < b < 32)


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than a tenth control characters: not text (the rule `logad detect`
    applies to a file's first bytes)."""
    if not data:
        return False
    if data.count(b"\x00") > max(1, len(data) // 100):
        return True
    control = len(data) - len(data.translate(None, _CONTROL))
    return control > len(data) // 10


def decode_text(body: bytes, check_binary: bool = True) -> tuple[list[str], int]:
    """The lines of a text/plain body (split on '\\n' only, trailing '\\r' removed, as a file is
    read) and how many held invalid UTF-8 (decoded with replacement characters)."""
    if check_binary and looks_binary(body):
        raise BodyError("the body looks binary (NUL or control bytes), not log lines", 400, "binary")
    try:
        text = body.decode("utf-8")
        invalid = 0
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
        invalid = -1
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if "\r" in text:
        lines = [ln.rstrip("\r") for ln in lines]
    if invalid:
        invalid = sum(1 for ln in lines if "\ufffd" in ln)
    return lines, invalid


LINE_KEYS = ("line", "message", "log")
SOURCE_KEYS = ("source", "file", "path")


def decode_ndjson(body: bytes, default_source: str) -> tuple[list[str], list[str]]:
    """(lines, sources) of an application/x-ndjson body: one JSON object per line holding the raw
    line under `line` (or `message` / `log`, the names Vector and Fluent Bit use) and optionally
    its `source` (or `file` / `path`). A value holding newlines counts as that many lines, as it
    would in a file."""
    import json

    if looks_binary(body):
        raise BodyError("the body looks binary (NUL or control bytes), not NDJSON", 400, "binary")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the NDJSON body is not valid UTF-8 (byte {exc.start})", 400, "malformed") from None
    lines: list[str] = []
    sources: list[str] = []
    loads = json.loads
    for n, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw)
        except ValueError as exc:
            raise BodyError(f"NDJSON line {n} is not JSON: {exc}", 400, "malformed") from None
        if not isinstance(obj, dict):
            raise BodyError(f"NDJSON line {n} must be an object like {{\"line\": \"...\"}}, got {type(obj).__name__}",
                            400, "malformed")
        line = next((obj[k] for k in LINE_KEYS if k in obj), None)
        if not isinstance(line, str):
            raise BodyError(f"NDJSON line {n} has no string field 'line' (or 'message' / 'log')", 400, "malformed")
        src = next((obj[k] for k in SOURCE_KEYS if k in obj), default_source)
        if not isinstance(src, str):
            raise BodyError(f"NDJSON line {n}: 'source' must be a string, got {src!r}", 400, "malformed")
        if "\n" in line or "\r" in line:
            parts = [p.rstrip("\r") for p in line.split("\n")]
            if parts and parts[-1] == "" and len(parts) > 1:
                parts.pop()
        else:
            parts = [line]
        for p in parts:
            lines.append(_valid_utf8(p))
            sources.append(src)
    return lines, sources


def _valid_utf8(text: str) -> str:
    """The text with lone surrogates (possible in JSON escapes) replaced, so it encodes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
