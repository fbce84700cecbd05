"""The one function that parses files: `parse_files`, used by `logad parse`, by the pipeline
(`load_logs`, hence `logad evaluate`, `train`, `detect`) and by an online service.

    run = parse_files(["HDFS.log.gz"], "hdfs")        # the default parser with the HDFS preset
    for block in run:                                  # ParsedBlock: columns of parsed records
        ...block.template_ids, block.parameters[i], block.fields["Level"]...
    run.reports                                        # one ReadReport per file read so far

One pass: each input byte is read once (formats/reader.py reads by bytes, splits headers in linear
time and reads timestamps a block at a time); the parser learns a block at a time (`parse_block`).
Memory is bounded by the block's bytes (`block_bytes`), not by the file.

Ids and parameters in a block are final as of the end of that block. A later block can still
generalise a template an earlier block used (the default parser merges, Drain generalises): the
ids stay valid (`parser.resolve` maps an absorbed id to its survivor), and `reparameterise` turns
a line's parameters against the template it had (`ParsedBlock.templates`) into parameters against
the final template. `FinalTemplates` records what a run handed out and says which blocks a
consumer has to revisit at the end (output.py does this for files it wrote).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.formats.reader import (
    BLOCK_BYTES,
    MAX_BLOCK_LINES,
    MAX_LINE_BYTES,
    ReadReport,
    check_matched,
    read_blocks,
)
from logad.parsing.base import Parameters, Parser


@dataclass
class ParsedBlock:
    """Parsed records of consecutive lines of one file, as columns (one entry per record).

    `template_ids`: final as of the end of this block (0 = no template, only when not learning).
    `parameters`: per line, against its template in `templates` (the text of every id of the
    block at the end of the block). `report`: the file's read report, complete when `last_of_file`.
    `index`: the block's number in the run (0, 1, ...).
    """

    path: str
    index: int
    line_nos: list[int]
    template_ids: list[int]
    parameters: Parameters | None
    templates: dict[int, str]
    contents: list[str]
    fields: dict[str, list[str]]
    timestamps: list[float]
    labels: list[int] | None
    report: ReadReport
    last_of_file: bool = False

    def __len__(self) -> int:
        return len(self.template_ids)


class ParseRun:
    """An iterable of `ParsedBlock`s over files (see `parse_files`); `reports` holds one
    ReadReport per file begun, and `lines` the records parsed so far."""

    def __init__(self, paths: Iterable[str | Path], fmt, parser: Parser, *, learn: bool = True,
                 parameters: bool = True, learn_with: Callable[[list[str]], object] | None = None,
                 block_bytes: int = BLOCK_BYTES,
                 max_block_lines: int = MAX_BLOCK_LINES, max_line_bytes: int = MAX_LINE_BYTES,
                 require_match: bool = True) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise InputError("no log file given")
        self.fmt = fmt
        self.parser = parser
        self.learn = learn
        self.parameters = parameters
        self.learn_with = learn_with
        self.block_bytes = block_bytes
        self.max_block_lines = max_block_lines
        self.max_line_bytes = max_line_bytes
        self.require_match = require_match
        self.reports: list[ReadReport] = []
        self.lines = 0
        self._started = False

    def __iter__(self) -> Iterator[ParsedBlock]:
        if self._started:
            raise InputError("a ParseRun is read once (its files are streamed); call parse_files again")
        self._started = True
        index = 0
        parser = self.parser
        for path in self.paths:
            report = ReadReport(path=str(path))
            self.reports.append(report)
            pending: ParsedBlock | None = None
            for rb in read_blocks(path, self.fmt, report, block_bytes=self.block_bytes,
                                  max_block_lines=self.max_block_lines, max_line_bytes=self.max_line_bytes):
                if self.learn and self.learn_with is not None:
                    self.learn_with(rb.contents)  # e.g. keys in worker processes, placed in order
                    res = parser.parse_block(rb.contents, learn=False, parameters=self.parameters)
                else:
                    res = parser.parse_block(rb.contents, learn=self.learn, parameters=self.parameters)
                block = ParsedBlock(str(path), index, rb.line_nos, res.ids, res.parameters, res.templates,
                                    rb.contents, rb.fields, rb.timestamps, rb.labels, report)
                index += 1
                self.lines += len(block)
                if pending is not None:  # one block of look-ahead, to mark the file's last block
                    yield pending
                pending = block
            if self.require_match:
                check_matched(report, self.fmt)
            if pending is not None:
                pending.last_of_file = True
                yield pending


def parse_files(paths: Iterable[str | Path], fmt, parser: Parser | None = None, *, mode: str = "default",
                learn: bool = True, parameters: bool = True, workers: int = 1, block_bytes: int = BLOCK_BYTES,
                max_block_lines: int = MAX_BLOCK_LINES, max_line_bytes: int = MAX_LINE_BYTES,
                require_match: bool = True) -> ParseRun:
    """Parse raw log files (plain or gzip): a `ParseRun`, iterated once, yielding `ParsedBlock`s.

    fmt: a format name, a format string with ``<Content>``, or a LogFormat. parser: any `Parser`
    (default: a fresh parser of `mode` with the format's preset). learn: False only matches (a
    saved parser at detection time; unknown lines get id 0). parameters: compute each line's real
    values. workers: processes computing keys while learning (same ids as 1). block_bytes /
    max_block_lines: a block holds the whole lines of at most this many decompressed bytes and
    lines. max_line_bytes: longer lines are cut (counted). require_match: InputError for a file of
    which the format matches no line.
    """
    from logad.formats.registry import LogFormat, get_format
    from logad.parsing.registry import parser_for

    if not isinstance(fmt, LogFormat):
        fmt = get_format(fmt)
    if parser is None:
        parser = parser_for(fmt.name, mode)
    learn_with = None
    if workers != 1:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameterError(f"`workers` must be an integer >= 1, got {workers!r}")
        p = parser

        def learn_with(contents: list[str]) -> None:
            p.add_many(contents, workers=workers)

    return ParseRun(paths, fmt, parser, learn=learn, parameters=parameters, learn_with=learn_with,
                    block_bytes=block_bytes, max_block_lines=max_block_lines, max_line_bytes=max_line_bytes,
                    require_match=require_match)


class FinalTemplates:
    """What a run handed out, to bring earlier blocks up to date at its end.

    `note(block)` after a block was consumed; `stale()` at the end: per block index, the ids of
    that block whose template changed afterwards (text generalised, or merged into another id),
    with the text the block's parameters refer to.
    """

    def __init__(self, parser: Parser) -> None:
        self.parser = parser
        self._seen: dict[int, dict[int, str]] = {}  # block index -> {id: text at the block's end}

    def note(self, block: ParsedBlock) -> None:
        self._seen[block.index] = block.templates

    def note_as(self, index: int, templates: dict[int, str]) -> None:
        """Record what block `index` was written with (after an in-memory fix)."""
        self._seen[index] = templates

    def changed(self, templates: dict[int, str]) -> dict[int, str]:
        """The ids of `templates` whose live id or text is not that any more (id -> old text)."""
        p = self.parser
        out = {}
        for tid, text in templates.items():
            r = p.resolve(tid)
            if r != tid or p.templates_text(r) != text:
                out[tid] = text
        return out

    def stale(self) -> dict[int, dict[int, str]]:
        p = self.parser
        final: dict[int, tuple[int, str]] = {}
        out: dict[int, dict[int, str]] = {}
        for index, used in self._seen.items():
            for tid, text in used.items():
                f = final.get(tid)
                if f is None:
                    r = p.resolve(tid)
                    f = final[tid] = (r, p.templates_text(r))
                if f[0] != tid or f[1] != text:
                    out.setdefault(index, {})[tid] = text
        return out

    def final(self, tid: int) -> tuple[int, str]:
        """The live id and the final text of an id."""
        r = self.parser.resolve(tid)
        return r, self.parser.templates_text(r)
