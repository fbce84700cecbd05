"""What every parser is: the `Parser` protocol, the typed template change, and the block result
`parse_files` consumes.

Two parsers implement it (see registry.py): `SkeletonParser` (mode "default") and `DrainParser`
(mode "drain"). Callers use only what is declared here, so they never need to know which one they
hold (no `isinstance`, no `hasattr`).

Rules every parser keeps:
- `add` (and `add_many`, `parse_block` with ``learn=True``) may create or change a template;
  `match` (and ``learn=False``) is strictly read-only.
- Template ids are stable: an id handed out is never reused and stays valid. A parser that merges
  templates (the default parser) turns the absorbed id into an alias; `resolve` maps any id to the
  live id it stands for now (identity for a parser that never merges).
- Parameters are the real values: the template with each slot (``<*>``; in Drain mode with named
  masks also ``<NUM>``-style placeholders) replaced by the line's parameters, in order, gives back
  the line's content, up to the whitespace the tokeniser normalises (`reconstruct`).
- The state saves to JSON (`save` / `load`, `to_dict` / `from_dict`), never pickle.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from logad.records import ParsedLine

WILDCARD = "<*>"


class ChangeType(enum.Enum):
    """What the last `add` did to the template set (and, per id, what `changes()` reports)."""

    NONE = "none"
    CREATED = "created"
    UPDATED = "updated"
    MERGED = "merged"  # the default parser only: an id became an alias of another (still valid)


class Parameters(Sequence):
    """The parameters of a block of lines, flat: `values` holds every line's values in order and
    line i's are ``values[offsets[i]:offsets[i + 1]]`` (what the compiled core hands back, and what a
    Parquet list column is made of). Indexing gives one line's tuple. `buffers`, when the compiled
    core made them, are the values as UTF-8 bytes and int32 offsets (an Arrow string array's
    layout)."""

    __slots__ = ("values", "offsets", "buffers")

    def __init__(self, values: list[str], offsets: Sequence[int], buffers: tuple[bytes, bytes] | None = None) -> None:
        self.values = values
        self.offsets = offsets
        self.buffers = buffers

    @classmethod
    def from_tuples(cls, rows: Iterable[Sequence[str]]) -> Parameters:
        values: list[str] = []
        offsets = [0]
        for r in rows:
            values.extend(r)
            offsets.append(len(values))
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        return tuple(self.values[self.offsets[i]:self.offsets[i + 1]])


@dataclass
class BlockResult:
    """What a parser returns for a block of lines (`parse_block`).

    `ids`: one template id per line, final as of the end of the block (aliases of merges made inside
    the block followed; 0 = matched no template, only with ``learn=False``). `parameters`: per line,
    against its template as it stands at the end of the block (None when not asked for).
    `templates`: the text of every id in `ids` at the end of the block (what the parameters refer
    to; a later block may generalise a template, see `reparameterise`).
    """

    ids: list[int]
    parameters: Parameters | None = None
    templates: dict[int, str] = field(default_factory=dict)


@runtime_checkable
class Parser(Protocol):
    """The protocol both parsers implement. `mode` is the registry name ("default", "drain");
    `stats` counts lines, lines without tokens ("empty") and lines cut to the length cap
    ("oversized")."""

    mode: ClassVar[str]
    stats: dict[str, int]

    # learning and matching, one line at a time
    def add(self, content: str, line_no: int = 0) -> ParsedLine: ...
    def match(self, content: str, line_no: int = 0) -> ParsedLine | None: ...

    # many lines at a time (the fast paths)
    def add_many(self, contents: Iterable[str], *, workers: int = 1, chunk_size: int | None = None) -> list[int]: ...
    def match_many(self, contents: Iterable[str]) -> list[int]: ...
    def parse_block(self, contents: list[str], *, learn: bool = True, parameters: bool = True) -> BlockResult: ...

    # the template table
    def resolve(self, template_id: int) -> int: ...
    @property
    def templates(self) -> dict[int, str]: ...
    @property
    def live_templates(self) -> dict[int, str]: ...
    def templates_text(self, template_id: int) -> str: ...
    def parameters(self, content: str, template_id: int) -> tuple[str, ...]: ...
    def sizes(self) -> dict[int, int]: ...
    def changes(self) -> dict[int, ChangeType]: ...
    def reset_changes(self) -> None: ...
    def normalise(self, text: str) -> str: ...
    @property
    def placeholders(self) -> tuple[str, ...]: ...

    # state
    def to_dict(self) -> dict: ...
    @classmethod
    def from_dict(cls, d: dict) -> Parser: ...
    def save(self, path: str | Path) -> None: ...
    @classmethod
    def load(cls, path: str | Path) -> Parser: ...


def slot_positions(template: str, placeholders: Sequence[str] = ()) -> list[int]:
    """Character offsets of the slots of a template text, in order (``<*>`` and any of
    `placeholders`), non-overlapping, leftmost first."""
    marks = tuple(dict.fromkeys((WILDCARD, *placeholders)))
    out = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("<", i)
        if j < 0:
            break
        for m in marks:
            if template.startswith(m, j):
                out.append(j)
                i = j + len(m)
                break
        else:
            i = j + 1
    return out


def fill(template: str, parameters: Sequence[str], placeholders: Sequence[str] = ()) -> str | None:
    """The template with each slot replaced by the next parameter (None when the counts differ)."""
    marks = tuple(dict.fromkeys((WILDCARD, *placeholders)))
    pos = slot_positions(template, marks)
    if len(pos) != len(parameters):
        return None
    out = []
    last = 0
    for p, value in zip(pos, parameters):
        out.append(template[last:p])
        out.append(value)
        last = p + next(len(m) for m in marks if template.startswith(m, p))
    out.append(template[last:])
    return "".join(out)


def reconstruct(parser: Parser, template: str, parameters: Sequence[str]) -> str | None:
    """The line content a template and its parameters stand for, normalised as the parser's
    tokeniser normalises whitespace (compare with ``parser.normalise(content)``)."""
    text = fill(template, parameters, parser.placeholders)
    return None if text is None else parser.normalise(text)


def recipe(old_template: str, new_template: str, placeholders: Sequence[str] = ()) -> list | None:
    """How parameters against `old_template` become parameters against `new_template` (see
    `reparameterise`), once for every line of that template: one item per new slot, ``("p", j)``
    (the old parameter j), ``("c", text)`` (an old constant token) or ``("f", parts)`` (an old
    token holding slots, filled: parts are texts and old parameter numbers). None when the new
    template does not cover the old one. Also the number of old parameters it expects (second)."""
    old = old_template.split(" ") if old_template else []
    new = new_template.split(" ") if new_template else []
    if len(old) != len(new):
        return None
    marks = tuple(dict.fromkeys((WILDCARD, *placeholders)))
    out: list = []
    k = 0
    for o, n in zip(old, new):
        pos = slot_positions(o, marks)
        if o == n:
            out.extend(("p", k + i) for i in range(len(pos)))
        elif n == WILDCARD:
            if not pos:
                out.append(("c", o))
            elif len(pos) == 1 and o in marks:
                out.append(("p", k))
            else:
                parts: list = []
                last = 0
                for i, p in enumerate(pos):
                    if p > last:
                        parts.append(o[last:p])
                    parts.append(k + i)
                    last = p + next(len(m) for m in marks if o.startswith(m, p))
                if last < len(o):
                    parts.append(o[last:])
                out.append(("f", tuple(parts)))
        else:
            return None
        k += len(pos)
    return [out, k]


def apply_recipe(rec: list, parameters: Sequence[str]) -> tuple[str, ...] | None:
    """`reparameterise` by a `recipe`."""
    items, need = rec
    if len(parameters) != need:
        return None
    out = []
    for kind, arg in items:
        if kind == "p":
            out.append(parameters[arg])
        elif kind == "c":
            out.append(arg)
        else:
            out.append("".join(x if isinstance(x, str) else parameters[x] for x in arg))
    return tuple(out)


def reparameterise(old_template: str, new_template: str, parameters: Sequence[str],
                   placeholders: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The parameters of a line against `new_template`, given its parameters against the template
    it had when they were computed (`old_template`). Templates only generalise (a word becomes
    ``<*>``), so a new slot takes the old token with its own slots filled in. None when the new
    template does not cover the old one (a different token count or constant)."""
    old = old_template.split(" ") if old_template else []
    new = new_template.split(" ") if new_template else []
    if len(old) != len(new):
        return None
    marks = tuple(dict.fromkeys((WILDCARD, *placeholders)))
    out: list[str] = []
    k = 0
    for o, n in zip(old, new):
        need = len(slot_positions(o, marks))
        mine = parameters[k:k + need]
        if len(mine) != need:
            return None
        k += need
        if o == n:
            out.extend(mine)
        elif n == WILDCARD:
            filled = fill(o, mine, marks)
            if filled is None:
                return None
            out.append(filled)
        else:
            return None
    if k != len(parameters):
        return None
    return tuple(out)
