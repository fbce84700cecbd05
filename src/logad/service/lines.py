"""Raw lines to line events (`LineEvent`'s fields), exactly as `logad detect` makes them from a file.

`LineParser(model)` holds what a trained model says about reading a line: the format's header
split, the parser's read-only `match` (a line matching no trained template gets id 0), the session
id regex or entity field, and the numeric parameter values when the detector reads them. The two
steps are kept apart because the HTTP face checks the format before it acknowledges a request,
and the processor turns the result into events later:

- `split(lines)` -> `Split`: per line its content, timestamp, label and entity, or why it is not
  a record (blank, or not in the model's format);
- `events(split, first_offset, sources)` -> the `LineEvent`s of the lines that are records, with
  `line_no` = the line's offset (offsets count every line the service accepted, from 1, so a file
  replayed whole gets the line numbers `logad detect` gives it), and the lines whose template is
  new (`new_templates`).

`parse_block(lines, first_offset, sources)` does both. Everything here is a pure function of the
lines and the model, so replaying a journal gives the same events.

Speed: the header split uses an equivalent regex without backtracking when the format allows it
(`fast_header`), the parser's bulk `keys()` computes the lines' keys in C, and `match` runs once
per distinct key (its answer depends only on the key). When the parsing package offers a bulk
read-only split/match of its own, this class is the one place to switch to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

from logad.errors import InputError

# what `logad detect` reads per line (logad.formats.reader.read_lines): longer lines are cut
MAX_LINE_CHARS = 65_536
_KEY_CACHE = 200_000  # distinct keys whose template id is remembered (the cache is cleared when full)
_TIME_CACHE = 100_000


@dataclass
class Split:
    """The header split of a block of lines. Per line: `kind` 0 = record, 1 = blank, 2 = not in
    the format; for records `content`, `timestamp`, `label`, `entity` (others hold None/'')."""

    n: int
    kind: list[int]
    content: list[str]
    timestamp: list[float | None]
    label: list[int | None]
    entity: list[str]
    bad: list[int] = field(default_factory=list)  # positions of lines not in the format
    blank: int = 0
    oversized: int = 0

    @property
    def records(self) -> int:
        return self.n - len(self.bad) - self.blank


RECORD, BLANK, NOT_IN_FORMAT = 0, 1, 2


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


def fast_header(pattern: str) -> re.Pattern | None:
    """An equivalent of a format regex that does not backtrack over its leading whitespace-
    separated fields, or None when the format does not start that way.

    A format compiles to `^T F1 S1 F2 S2 ... Content$` where each field is `(?P<Name>.*?)`. The
    leading fields that are each followed directly by `\\s+` (with no field before them that is
    not) are rewritten `(?P<Name>\\S++)\\s++`; the rest is kept. If the rewrite matches a line, the
    original's first match is the same: the lazy field cannot end before the first whitespace (its
    separator needs one there), the greedy separator takes the whole run first, and so on one field
    further; past the rewritten fields both are the same pattern. (A rewritten field after a lazy
    one would not do: the lazy one could backtrack where the original widens the later field.)
    When the rewrite does not match, the caller uses the original. The text before the first field
    must be plain (no group, alternation or quantifier)."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    field = re.compile(r"\(\?P<(\w+)>\.\*\?\)\\s\+")
    head = re.match(r"\^((?:[^()|?*+{}\\]|\\[^sSdDwWbB0-9])*)", pattern)
    pos = head.end()
    out = pattern[:pos]
    n = 0
    while True:
        m = field.match(pattern, pos)
        if m is None:
            break
        out += f"(?P<{m.group(1)}>\\S++)\\s++"
        pos = m.end()
        n += 1
    if not n:
        return None
    try:
        return re.compile(out + pattern[pos:])
    except re.error:  # pragma: no cover - possessive quantifiers exist from Python 3.11
        return None


class LineParser:
    """Reads raw lines the way a trained model's `detect` does (see the module docstring)."""

    def __init__(self, model, *, max_line_chars: int = MAX_LINE_CHARS) -> None:
        from logad.formats.registry import get_format

        if model.structured:
            raise InputError("this model was trained on structured CSVs; `logad serve` reads raw log lines")
        self.model = model
        self.fmt = get_format(model.format_name)
        self.parser = model.parser
        self.grouping = model._grouping().validated()
        self.max_line_chars = max_line_chars
        self.with_values = bool(model.detector.needs_line_values())
        g = self.grouping
        self.rx = self.fmt.regex
        self.fast = fast_header(self.rx.pattern)
        self._group_names = list(self.rx.groupindex)
        self.label_field = self.fmt.label_field
        self.entity_field = (g.entity_field or self.fmt.entity_field) if g.kind == "entity" else None
        from_text = g.kind == "session" and not g.session_from_path
        self.extract = session_ids(g.session_regex) if from_text else None
        self._time = self.fmt.time
        self._time_keys = _time_fields(self.fmt) if self._time is not None else None
        self._time_cache: dict[tuple, float | None] = {}
        self._keys_of = getattr(self.parser, "keys", None)  # bulk keys (the default parser)
        self._key_ids: dict[str, int] = {}
        self.templates: dict[int, str] = dict(self.parser.templates)

    # ------------------------------------------------------------------ header split
    def split(self, lines: Seq[str]) -> Split:
        n = len(lines)
        kind = [RECORD] * n
        content: list = [""] * n
        stamp: list = [None] * n
        label: list = [None] * n
        entity: list = [""] * n
        out = Split(n, kind, content, stamp, label, entity)
        fast = self.fast.match if self.fast is not None else None
        slow = self.rx.match
        cut = self.max_line_chars
        label_field, entity_field = self.label_field, self.entity_field
        has_entity = entity_field in self.rx.groupindex
        has_label = label_field in self.rx.groupindex
        time_keys, time_of, cache = self._time_keys, self._time, self._time_cache
        for i, text in enumerate(lines):
            if not text.strip():
                kind[i] = BLANK
                out.blank += 1
                continue
            if len(text) > cut:
                text = text[:cut]
                out.oversized += 1
            m = fast(text) if fast is not None else None
            if m is None:
                m = slow(text)
                if m is None:
                    kind[i] = NOT_IN_FORMAT
                    out.bad.append(i)
                    continue
            content[i] = m.group("Content") or ""
            if label_field is not None:
                label[i] = 0 if (m.group(label_field) if has_label else None) == "-" else 1
            if entity_field is not None:
                entity[i] = m.group(entity_field) if has_entity else ""
            if time_of is not None:
                if time_keys is not None:
                    k = m.group(*time_keys) if len(time_keys) > 1 else (m.group(time_keys[0]),)
                    t = cache.get(k, -1.0)
                    if t == -1.0:
                        if len(cache) > _TIME_CACHE:
                            cache.clear()
                        fields = m.groupdict()
                        del fields["Content"]
                        t = cache[k] = time_of(fields)
                    stamp[i] = t
                else:
                    fields = m.groupdict()
                    del fields["Content"]
                    stamp[i] = time_of(fields)
        return out

    # ------------------------------------------------------------------ template ids, events
    def template_ids(self, contents: list[str]) -> tuple[list[int], list[str] | None]:
        """Template ids of message parts (0 = no trained template), and their keys when the
        parser computes keys (the identity of a new template)."""
        if self._keys_of is None:
            match = self.parser.match
            ids = []
            for c in contents:
                p = match(c)
                ids.append(p.template_id if p is not None else 0)
            return ids, None
        keys = self._keys_of(contents)
        known = self._key_ids
        ids = [0] * len(keys)
        match = self.parser.match
        for i, k in enumerate(keys):
            tid = known.get(k)
            if tid is None:
                if len(known) >= _KEY_CACHE:
                    known.clear()
                p = match(contents[i])  # depends only on the line's key: one call per key
                tid = known[k] = p.template_id if p is not None else 0
            ids[i] = tid
        return ids, keys

    def events(self, split: Split, first_offset: int, sources: Seq[str]) -> tuple[list[Event], list[tuple[int, str, str]]]:
        """(events, new templates) of a split block whose first line has offset `first_offset`.
        `sources` gives each line's source. New templates are (offset, key, content) of every
        record line matching no trained template (the caller keeps which keys it has seen)."""
        idx = [i for i, k in enumerate(split.kind) if k == RECORD] if split.records != split.n else range(split.n)
        contents = [split.content[i] for i in idx]
        ids, keys = self.template_ids(contents)
        extract, g = self.extract, self.grouping
        with_values = self.with_values
        entity_kind = g.kind == "entity"
        new: list[tuple[int, str, str]] = []
        evs: list[Event] = []
        append = evs.append
        stamp, label, entity = split.timestamp, split.label, split.entity
        for j, i in enumerate(idx):
            tid = ids[j]
            c = contents[j]
            if not tid:
                new.append((first_offset + i, keys[j] if keys is not None else c, c))
            if extract is not None:
                ks = extract(c)
                if not ks:
                    continue  # a line naming no session, skipped as `logad detect` skips it
            elif entity_kind:
                ks = (entity[i],)
            else:
                ks = ()
            values = None
            if with_values:
                values = _numeric(self.parser.parameters(c, tid)) if tid else ()
            append(Event(first_offset + i, tid, stamp[i], label[i], ks, values, sources[i]))
        return evs, new

    def parse_block(self, lines: Seq[str], first_offset: int, sources: Seq[str]):
        """`events(split(lines), ...)`: the events and new templates of a block of raw lines."""
        return self.events(self.split(lines), first_offset, sources)

    def template_text(self, tid: int) -> str:
        return self.templates.get(tid, "unseen template") if tid else "unseen template"


def _numeric(parameters) -> tuple[float, ...]:
    from logad.pipeline.logs import numeric_values

    return numeric_values(parameters)


class _Recorder(dict):
    """A mapping that remembers which keys a function read."""

    def __init__(self, names):
        super().__init__((n, "") for n in names)
        self.read: list[str] = []

    def __getitem__(self, key):
        self.read.append(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.append(key)
        return super().get(key, default)


def _time_fields(fmt) -> tuple[str, ...] | None:
    """The header fields a registered format's time function reads (its answer is cached by their
    values), or None when that cannot be told (the time is then computed for every line)."""
    from logad.formats.registry import FORMATS

    if FORMATS.get(fmt.name) is not fmt:
        return None
    names = [n for n in fmt.regex.groupindex if n != "Content"]
    rec = _Recorder(names)
    try:
        fmt.time(rec)
    except Exception:  # noqa: BLE001 - a probe only; the uncached path stays exact
        return None
    read = tuple(dict.fromkeys(k for k in rec.read if k in names))
    return read or None


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
