"""Raw log files (or LogPAI structured CSVs) to sequences: read -> parse -> group, with the read
reports kept so that nothing is lost silently."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.progress import SILENT, Progress
from logad.records import Sequence
from logad.splitting import Split
from logad.windowing.columns import ColumnsBuilder, LineColumns, columns_can_group, group_columns
from logad.windowing.grouping import Grouping, LineEvent, group_events, identifier_extractor

log = logging.getLogger(__name__)


@dataclass
class LoadedLogs:
    """Sequences made from one source, with everything needed to report how."""

    sequences: list[Sequence]
    source: str
    grouping: dict
    reports: list = field(default_factory=list)
    parser: object | None = None
    unlabelled_sessions: list[str] = field(default_factory=list)
    split: Split | None = None  # set when the source prescribes its split (session files)
    templates: dict[int, str] = field(default_factory=dict)
    event_ids: dict[str, int] | None = None  # structured CSVs: EventId -> template id
    multiline: str | None = None  # raw logs: the continuation rule the lines were read with

    def summary(self) -> dict:
        return {
            "source": self.source,
            "grouping": self.grouping,
            "sequences": len(self.sequences),
            "anomalous_sequences": sum(1 for s in self.sequences if s.label == 1),
            "templates": len(self.templates),
            "read": [r.as_dict() if hasattr(r, "as_dict") else vars(r) for r in self.reports],
            "unlabelled_sessions": len(self.unlabelled_sessions),
        }


def default_grouping(format_name: str, session_regex: str | None = None) -> Grouping:
    """Sensible defaults: HDFS-like logs by session id, others in 100-line windows."""
    if session_regex:
        return Grouping(kind="session", session_regex=session_regex)
    if format_name == "hdfs":
        return Grouping(kind="session", session_regex=r"(blk_-?\d+)")
    return Grouping(kind="count", size=100)


def parse_events(
    paths: list[Path],
    fmt,
    parser,
    grouping: Grouping,
    *,
    reports: list,
    learn: bool = True,
    progress: Progress = SILENT,
    with_values: bool = False,
    blocks: list | None = None,
) -> Iterator[LineEvent]:
    """Stream the files through `logad.parsing.parse_files` (the path `logad parse` takes),
    yielding one LineEvent per parsed line.

    With `learn=False` the parser only matches (saved model at detection time); lines matching no
    known template get template id 0 ("unknown"), which every detector treats as unseen. Ids are
    final as of the end of their block: a later merge can make one an alias, so `load_logs`
    resolves them once all lines are parsed (`resolve_sequences`). `reports` receives one
    ReadReport per file; `blocks`, when given, (first line, last line, templates) per block, for
    bringing values up to date (`refresh_values`).
    """
    sessions_from_text = _sessions_from_text(grouping)
    for block, line_offset, keys_of in _keyed_blocks(paths, fmt, parser, grouping, reports=reports, learn=learn,
                                                     progress=progress, with_values=with_values, blocks=blocks):
        params = block.parameters if with_values else None
        labels = block.labels if block.labels is not None else itertools.repeat(None)
        times = [None if t != t else t for t in block.timestamps]
        for i, (line_no, tid, t, label, keys) in enumerate(zip(block.line_nos, block.template_ids, times, labels,
                                                               keys_of)):
            if sessions_from_text and not keys:
                continue  # counted by _keyed_blocks: lines outside any session
            values = (numeric_values(params[i]) if tid else ()) if params is not None else None
            yield LineEvent(line_offset + line_no, tid, t, label, keys, values, block.path)


def parse_columns(
    paths: list[Path], fmt, parser, grouping: Grouping, *, reports: list, learn: bool = True,
    progress: Progress = SILENT,
) -> LineColumns:
    """What `parse_events` yields, as columns (`logad.windowing.columns`): the same lines, with no
    per-line object, for the groupings `group_columns` does."""
    builder = ColumnsBuilder(sessions=_sessions_from_text(grouping))
    for block, line_offset, keys_of in _keyed_blocks(paths, fmt, parser, grouping, reports=reports, learn=learn,
                                                     progress=progress):
        builder.add(block.line_nos, block.template_ids, block.timestamps, block.labels, block.path,
                    keys_of if builder.sessions else None, line_offset=line_offset)
    return builder.build()


def _sessions_from_text(grouping: Grouping) -> bool:
    """Session ids read from the line's text (else from the file's path: the windower reads those)."""
    return grouping.kind == "session" and not grouping.session_from_path


def _keyed_blocks(paths: list[Path], fmt, parser, grouping: Grouping, *, reports: list, learn: bool,
                  progress: Progress, with_values: bool = False, blocks: list | None = None):
    """(parsed block, line offset of its file in the run, each line's keys) for every block of the
    run, keeping `reports`, `blocks` and the progress up to date (see `parse_events`). Keys: the
    session ids a line names (sessions from text), `(entity,)` (entities), else empty."""
    from logad.parsing.files import parse_files

    extract = identifier_extractor(grouping.session_regex) if _sessions_from_text(grouping) else None
    block_keys = _block_extractor(grouping.session_regex) if extract is not None else None
    entity_field = grouping.entity_field or getattr(fmt, "entity_field", None)
    run = parse_files(paths, fmt, parser, learn=learn, parameters=with_values)
    line_offset = 0
    n = 0  # lines of the current file passed on (for sessions: those naming a session)
    current = None
    for block in run:
        if block.report is not current:
            current = block.report
            reports.append(current)
            n = 0
        if blocks is not None and len(block):
            blocks.append((line_offset + block.line_nos[0], line_offset + block.line_nos[-1], block.templates))
        if extract is not None:
            keys_of = block_keys(block.contents) if block_keys is not None else [None] * len(block)
            if None in keys_of:  # lines the core left (a scan in C first: usually there are none)
                for i, k in enumerate(keys_of):
                    if k is None:
                        keys_of[i] = extract(block.contents[i])
            passed = len(block) - keys_of.count(())
        elif grouping.kind == "entity":
            col = block.fields.get(entity_field) if entity_field else None
            keys_of = [(v,) for v in col] if col is not None else [("",)] * len(block)
            passed = len(block)
        else:
            keys_of = itertools.repeat(())
            passed = len(block)
        yield block, line_offset, keys_of
        before = n
        n += passed
        if n // 20000 != before // 20000:
            progress.tick(f"parsed {Path(block.path).name}", n)
        if block.last_of_file:
            report = block.report
            without = report.records - n if extract is not None else 0
            if without:
                # a real situation (HDFS has a few lines naming no block); say it, do not hide it
                report.lines_without_session = without
                log.info("%s: %d lines name no session id", block.path, without)
            line_offset += report.lines_total


def _block_extractor(pattern: str):
    """Session ids of a block of lines in one call of the compiled core, when the regex is one it
    runs and `findall` would return whole matches (no group, or one group around everything);
    None otherwise (then `identifier_extractor` does each line). Lines the core leaves are None."""
    try:
        from logad import _core  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - depends on the build
        return None
    import re

    from logad.parsing.rxvm import compile_rule

    try:
        rx = re.compile(pattern)
    except re.error:
        return None
    if rx.groups > 1:
        return None
    inner = pattern
    if rx.groups == 1:
        if not (pattern.startswith("(") and pattern.endswith(")") and not pattern.startswith("(?")):
            return None
        inner = pattern[1:-1]
        try:
            if re.compile(inner).groups != 0 or f"({inner})" != pattern:
                return None
        except re.error:
            return None
    spec = compile_rule(inner)
    if spec is None:
        return None
    rules = _core.compile_rules([("rx", spec, "")])
    return lambda contents: _core.find_keys(contents, rules)


def numeric_values(parameters) -> tuple[float, ...]:
    """A line's parameters as numbers: decimal integers and floats parse, anything else is NaN."""
    out = []
    for p in parameters:
        try:
            out.append(float(p))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return tuple(out)


def refresh_values(sequences: list[Sequence], parser, blocks: list) -> list[Sequence]:
    """Values of lines whose template changed after their block (a word became ``<*>``), brought
    to the final template: a new slot takes the number its old token was, or NaN."""
    import bisect

    from logad.parsing.base import slot_positions

    starts = [b[0] for b in blocks]
    final: dict[int, str] = {}
    marks = parser.placeholders
    out = []
    changed_any = False
    for s in sequences:
        if s.line_values is None:
            out.append(s)
            continue
        new_vals = list(s.line_values)
        changed = False
        for k, (line_no, tid) in enumerate(zip(s.line_nos, s.template_ids)):
            if not tid:
                continue
            j = bisect.bisect_right(starts, line_no) - 1
            if j < 0:
                continue
            old = blocks[j][2].get(tid)
            if old is None:
                continue
            f = final.get(tid)
            if f is None:
                f = final[tid] = parser.templates_text(parser.resolve(tid))
            if f == old:
                continue
            dt, *vals = new_vals[k]
            o_toks, n_toks = old.split(" "), f.split(" ")
            if len(o_toks) != len(n_toks):
                continue
            res, q = [], 0
            for o, n_ in zip(o_toks, n_toks):
                c = len(slot_positions(o, marks))
                mine = vals[q:q + c]
                q += c
                if o == n_:
                    res.extend(mine)
                elif n_ == "<*>":  # generalised: the value its old token had
                    if c == 1 and o in ("<*>", *marks):
                        res.extend(mine)
                    else:
                        res.extend(numeric_values([o]) if c == 0 else (float("nan"),))
            new_vals[k] = (dt, *res)
            changed = True
        if changed:
            changed_any = True
            out.append(dataclasses.replace(s, line_values=tuple(new_vals)))
        else:
            out.append(s)
    return out if changed_any else sequences


def resolve_ids(template_ids, parser):
    """`resolve_sequences` on a column of template ids (a numpy array): each distinct id resolved once."""
    import numpy as np

    distinct, where = np.unique(template_ids, return_inverse=True)
    final = np.array([parser.resolve(t) if t else 0 for t in distinct.tolist()], dtype=template_ids.dtype)
    return final[where.reshape(-1)] if len(distinct) else template_ids


def resolve_sequences(sequences: list[Sequence], parser) -> list[Sequence]:
    """Map every template id through `parser.resolve` (the final id of each line, merges followed
    through aliases; the identity for a parser that never merges)."""
    resolve = parser.resolve
    cache: dict[int, int] = {0: 0}  # 0 = unknown line (match found nothing)
    out = []
    for s in sequences:
        ids = []
        for t in s.template_ids:
            r = cache.get(t)
            if r is None:
                r = cache[t] = resolve(t)
            ids.append(r)
        ids_t = tuple(ids)
        out.append(s if ids_t == s.template_ids else dataclasses.replace(s, template_ids=ids_t))
    return out


def _label_units(sequences: list[Sequence], labels: dict[str, int], unlabelled: list[str]) -> list[Sequence]:
    """Give each entity or file sequence (or window of one) the label of its unit; units the map
    does not name are listed as unlabelled, like sessions."""
    out = []
    for s in sequences:
        label = labels.get(s.entity) if s.entity is not None else None
        if label is None:
            unlabelled.append(s.sequence_id)
            out.append(s)
        else:
            out.append(dataclasses.replace(s, label=int(label)))
    return out


def _report_window_stats(stats: dict, progress: Progress) -> None:
    """Say what the windower could not place as asked: lines with an unusable or backward timestamp,
    lines naming no session (never silently lost)."""
    notes = {
        "time_not_finite": "lines with a timestamp that is not a finite number (they take the previous line's time)",
        "time_out_of_range": "lines with a timestamp far outside the log's range (they take the previous line's time)",
        "late": "lines stamped earlier than a line before them (placed at the latest time so far)",
        "no_session": "lines whose file path names no session",
    }
    for key, text in notes.items():
        if stats.get(key):
            progress.stage(f"note: {stats[key]} {text}")
            log.info("%d %s", stats[key], text)


def load_logs(
    paths: list[str | Path],
    *,
    format: str,
    grouping: Grouping | None = None,
    labels: dict[str, int] | None = None,
    parser=None,
    learn: bool = True,
    progress: Progress = SILENT,
    with_values: bool = False,
    multiline: str | None = None,
) -> LoadedLogs:
    """Read, parse and group raw log files of one system. `with_values` keeps every line's
    numeric parameters and time gap (`Sequence.line_values`, for parameter-value models);
    `multiline` replaces the format's continuation rule ("any", "none" or a regex)."""
    from logad.formats.registry import get_format
    from logad.parsing import parser_for

    fmt = get_format(format)
    if multiline is not None:
        fmt = fmt.with_multiline(multiline)
    grouping = grouping or default_grouping(fmt.name)
    if grouping.kind == "entity" and not (grouping.entity_field or getattr(fmt, "entity_field", None)):
        raise InvalidParameterError(f"format {fmt.name!r} has no entity field; pass --entity-field")
    if grouping.kind == "entity" and not grouping.entity_field:  # name the field the format supplied,
        grouping = dataclasses.replace(grouping, entity_field=fmt.entity_field)  # so a saved model records it
    if parser is None:
        parser = parser_for(fmt.name)
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("no log file given")
    reports: list = []
    names = files[0].name if len(files) == 1 else f"{len(files)} files ({files[0].name}, ...)"
    progress.stage(f"reading and parsing {names}")
    unlabelled: list[str] = []
    window_stats: dict = {}
    if columns_can_group(grouping) and not with_values:  # no per-line objects (see windowing.columns)
        blocks = None
        columns = parse_columns(files, fmt, parser, grouping, reports=reports, learn=learn, progress=progress)
        columns.template_ids = resolve_ids(columns.template_ids, parser)
        sequences = group_columns(columns, grouping, labels=labels, on_unlabelled=unlabelled.extend,
                                  stats=window_stats)
    else:
        columns = None
        blocks = [] if with_values else None
        events = parse_events(
            files, fmt, parser, grouping, reports=reports, learn=learn, progress=progress, with_values=with_values,
            blocks=blocks,
        )
        sequences = group_events(events, grouping, labels=labels, on_unlabelled=unlabelled.extend,
                                 stats=window_stats)
    _report_window_stats(window_stats, progress)
    if labels is not None and grouping.kind in ("entity", "file"):  # labels of whole units (a container's log)
        sequences = _label_units(sequences, labels, unlabelled)
    if blocks:  # values of lines whose template changed later, against the final template
        sequences = refresh_values(sequences, parser, blocks)
    if columns is None:  # every consumer (windows, detectors, saved models) sees the final id of each line
        sequences = resolve_sequences(sequences, parser)
    for r in reports:
        progress.stage(r.summary())
    if unlabelled:
        progress.stage(
            f"warning: {len(unlabelled)} sessions have no label in the labels file "
            f"(e.g. {unlabelled[0]}); they are kept with an unknown label and left out of scoring"
        )
    templates = dict(parser.live_templates)  # no aliases: ids are resolved
    progress.stage(f"{len(sequences)} sequences ({grouping.kind}), {len(templates)} templates")
    return LoadedLogs(
        sequences=sequences,
        source=", ".join(str(f) for f in files),
        grouping=grouping.describe(),
        reports=reports,
        parser=parser,
        unlabelled_sessions=unlabelled,
        templates=templates,
        multiline=fmt.multiline,
    )


def load_structured(
    paths: list[str | Path],
    *,
    grouping: Grouping,
    event_ids: dict[str, int] | None = None,
    learn: bool = True,
    progress: Progress = SILENT,
) -> LoadedLogs:
    """Sequences from LogPAI structured CSVs (already parsed: EventId per row).

    EventIds become integer template ids through `event_ids` (extended when `learn`; an unseen
    EventId gets id 0, "unknown", when not learning). The mapping is returned in
    `LoadedLogs.event_ids` so a saved model keeps it.
    """
    from logad.formats.structured import read_structured

    if grouping.kind == "session":
        raise InvalidParameterError("structured CSVs are grouped by count or time windows, not by session id")
    event_ids = dict(event_ids or {})
    templates: dict[int, str] = {}

    def events() -> Iterator[LineEvent]:
        for path in paths:
            progress.stage(f"reading {path}")
            for row in read_structured(path):
                tid = event_ids.get(row.event_id)
                if tid is None:
                    if learn:
                        tid = event_ids[row.event_id] = len(event_ids) + 1
                    else:
                        tid = 0
                if tid and tid not in templates:
                    templates[tid] = row.template or row.event_id
                yield LineEvent(row.line_no, tid, row.timestamp, row.label, (), None, str(path))

    sequences = group_events(events(), grouping)
    loaded = LoadedLogs(
        sequences=sequences,
        source=", ".join(str(p) for p in paths),
        grouping=grouping.describe(),
        templates=templates,
    )
    loaded.event_ids = event_ids
    return loaded
