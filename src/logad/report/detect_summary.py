"""The summary `logad detect` writes beside its CSV (`alarms.csv` -> `alarms.summary.json`): what
the CSV cannot say and a report needs.

- lines per time bucket, and per template per bucket (the template x time heatmap);
- templates new in these logs (lines no trained template covers, grouped by a fresh parser) and
  trained templates that vanished (never seen here), with their training counts;
- per template, a summary of its parameter values (top values, numeric ranges);
- the highest-scored alarms with their lines (raw text, template, parameters), the lines the
  detector blames and its explanation.

It reads the new logs once more, read-only (the model's parser only `match`es), so every line is
counted once whatever the windows overlap, and at its own timestamp.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from logad.io import finite_json_default
from logad.progress import SILENT, Progress

SUMMARY_KIND = "logad-detect-summary"
SUMMARY_VERSION = 1
BUCKETS = 96
TOP_ALARMS = 30
ALARM_LINES = 100
HEATMAP_TEMPLATES = 300
VALUE_KEYS = 2000  # distinct values counted per template parameter, then only their number grows
NUMERIC_SAMPLE = 2000
NEW_LINES = 50_000  # unknown lines grouped into new templates (the rest only counted)
LINE_CHARS = 1000


def summary_path(csv_path: str | Path) -> Path:
    """Where the summary of a detect CSV lives: beside it, `.summary.json` for its suffix."""
    return Path(csv_path).with_suffix(".summary.json")


class _ParamStats:
    """Top values and numeric range of one template parameter, in bounded memory."""

    __slots__ = ("values", "overflow", "n", "numeric", "lo", "hi", "sample", "_rng")

    def __init__(self) -> None:
        self.values: Counter = Counter()
        self.overflow = 0
        self.n = 0
        self.numeric = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.sample: list[float] = []
        self._rng = np.random.default_rng(0)

    def add(self, value: str) -> None:
        self.add_many([value])

    def add_many(self, values) -> None:
        """Count values (in order): each distinct one is converted to a number once, and the
        numeric sample is a reservoir over every numeric occurrence."""
        self.n += len(values)
        counts = Counter(values)
        number: dict[str, float | None] = {}
        for v, c in counts.items():
            if v in self.values or len(self.values) < VALUE_KEYS:
                self.values[v] += c
            else:
                self.overflow += c
            x = None
            if not (v[:1].isascii() and v[:1].isalpha() and v[:1] not in "iInN"):  # "blk_..": no float, no exception
                try:
                    x = float(v)
                except ValueError:
                    pass
            number[v] = x if x is not None and math.isfinite(x) else None
        xs = [x for x in map(number.__getitem__, values) if x is not None]
        if not xs:
            return
        seen = self.numeric
        self.numeric += len(xs)
        self.lo, self.hi = min(self.lo, min(xs)), max(self.hi, max(xs))
        room = NUMERIC_SAMPLE - len(self.sample)
        if room > 0:
            self.sample.extend(xs[:room])
            seen += min(room, len(xs))
            xs = xs[room:]
        if xs:  # reservoir sampling (Algorithm R), the k-th new value replacing a slot with p = S / (seen + k)
            slots = (self._rng.random(len(xs)) * (seen + 1 + np.arange(len(xs)))).astype(np.int64)
            for j, x in zip(slots.tolist(), xs):
                if j < NUMERIC_SAMPLE:
                    self.sample[j] = x

    def as_dict(self) -> dict:
        out: dict = {"n": self.n, "distinct": len(self.values) + (1 if self.overflow else 0),
                     "distinct_capped": bool(self.overflow),
                     "top": [[v[:80], c] for v, c in self.values.most_common(5)]}
        if self.numeric and self.numeric >= 0.9 * self.n:
            q = np.quantile(self.sample, [0.5, 0.99]) if self.sample else [math.nan, math.nan]
            out["numeric"] = {"min": self.lo, "max": self.hi, "median": float(q[0]), "p99": float(q[1]),
                              "n": self.numeric}
        return out


def _training_counts(parser) -> dict[int, int]:
    """Lines per template seen in training, from the parser's saved state (when it keeps them)."""
    try:
        state = parser.to_dict()
    except Exception:  # noqa: BLE001 - a parser without counts: the report says "not recorded"
        return {}
    out: dict[int, int] = {}
    for item in state.get("templates") or state.get("clusters") or []:
        if isinstance(item, dict) and "id" in item and "size" in item:
            out[int(item["id"])] = int(item["size"])
    return out


def _blocks(model, files: list[str]):
    """Blocks of lines, each (global line numbers, timestamps (NaN: none), template ids, contents
    or None, Parameters or None), with the read reports. Raw logs go through the model's parser
    read-only, block by block in the compiled core (`parse_files`, learn=False); structured CSVs
    carry their EventIds."""
    reports: list = []
    if model.structured:
        from logad.formats.structured import read_structured

        ids = model.event_ids or {}

        def gen_structured():
            for path in files:
                nos, times, tids = [], [], []
                for row in read_structured(path):
                    nos.append(row.line_no)
                    times.append(math.nan if row.timestamp is None else row.timestamp)
                    tids.append(ids.get(row.event_id, 0))
                reports.append({"path": str(path), "lines_total": len(nos), "records": len(nos)})
                yield (np.asarray(nos, dtype=np.int64), np.asarray(times, dtype=np.float64),
                       np.asarray(tids, dtype=np.int64), None, None)

        return gen_structured(), reports
    from logad.formats.registry import get_format
    from logad.parsing.files import parse_files

    fmt = get_format(model.format_name)
    if getattr(model, "multiline", None) is not None:  # the records `logad detect` scored
        fmt = fmt.with_multiline(model.multiline)

    def gen():
        offset = 0
        for block in parse_files(files, fmt, model.parser, learn=False, parameters=True):
            yield (np.asarray(block.line_nos, dtype=np.int64) + offset, np.asarray(block.timestamps, dtype=np.float64),
                   np.asarray(block.template_ids, dtype=np.int64), block.contents, block.parameters)
            if block.last_of_file:
                reports.append(block.report.as_dict())
                offset += block.report.lines_total

    return gen(), reports


def _add_parameters(stats: dict, tids: np.ndarray, params) -> None:
    """Every parameter value of a block into its (template, position) stats, one bulk add each."""
    offs = np.asarray(params.offsets, dtype=np.int64)
    counts = np.diff(offs)
    if not counts.any():
        return
    values = np.empty(len(params.values), dtype=object)
    values[:] = params.values
    has = counts > 0
    for tid in np.unique(tids[has]).tolist():
        rows = np.flatnonzero(has & (tids == tid))
        for n in np.unique(counts[rows]).tolist():  # one count per template; lines that differ get none
            these = rows[counts[rows] == n]
            for j in range(n):
                st = stats.get((tid, j))
                if st is None:
                    st = stats[(tid, j)] = _ParamStats()
                st.add_many(values[offs[these] + j].tolist())


def summarise_detection(model, files: list[str], sequences, scores, alarms, *, templates: dict[int, str],
                        csv_name: str = "", progress: Progress = SILENT) -> dict:
    """The summary of one detect run (see the module doc). `model` is the `TrainedModel` that
    scored `sequences` of the logs in `files`; `scores` and `alarms` are per sequence."""
    scores = np.asarray(scores, dtype=np.float64)
    alarms = np.asarray(alarms, dtype=bool)
    order = [int(i) for i in np.argsort(-np.where(alarms, scores, -np.inf), kind="stable")[: int(alarms.sum())]]
    top = order[:TOP_ALARMS]
    wanted: dict[int, None] = {}
    for i in top:
        for n in sequences[i].line_nos[:ALARM_LINES]:
            wanted[int(n)] = None
    progress.stage(f"summarising the run for its report: reading {len(files)} file(s) again")
    line_parts: list[np.ndarray] = []
    time_parts: list[np.ndarray] = []
    id_parts: list[np.ndarray] = []
    stats: dict[tuple[int, int], _ParamStats] = {}
    unknown: list[tuple[int, str, float | None]] = []
    n_unknown = 0
    kept: dict[int, tuple[str | None]] = {}
    wanted_nos = np.fromiter(wanted, dtype=np.int64, count=len(wanted))
    blocks, reports = _blocks(model, files)
    n = 0
    for nos, ts, tids, contents, params in blocks:
        line_parts.append(nos)
        time_parts.append(ts)
        id_parts.append(tids)
        new = np.flatnonzero(tids == 0)
        n_unknown += len(new)
        if contents is not None:
            for i in new[: max(0, NEW_LINES - len(unknown))].tolist():
                unknown.append((int(nos[i]), contents[i], None if ts[i] != ts[i] else float(ts[i])))
        if params is not None:
            _add_parameters(stats, tids, params)
        for i in np.flatnonzero(np.isin(nos, wanted_nos)).tolist():
            kept[int(nos[i])] = (contents[i][:LINE_CHARS] if contents is not None else None,)
        before, n = n, n + len(nos)
        if n // 50_000 != before // 50_000:
            progress.tick("summarised lines", n)
    lines = np.concatenate(line_parts) if line_parts else np.zeros(0, dtype=np.int64)
    t = np.concatenate(time_parts) if time_parts else np.zeros(0, dtype=np.float64)
    ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
    has_time = bool(t.size) and np.isfinite(t).mean() >= 0.9
    axis = t if has_time else lines.astype(np.float64)
    fin = np.isfinite(axis)
    lo, hi = (float(axis[fin].min()), float(axis[fin].max())) if fin.any() else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, BUCKETS + 1)
    bucket = np.clip(np.searchsorted(edges, axis, side="right") - 1, 0, BUCKETS - 1)
    bucket[~fin] = -1
    ok = bucket >= 0

    def sparse(mask) -> list[list[int]]:
        c = np.bincount(bucket[mask & ok], minlength=BUCKETS)
        return [[int(b), int(v)] for b, v in enumerate(c) if v]

    counts = Counter(ids.tolist())
    known = sorted((tid for tid in counts if tid != 0), key=lambda x: -counts[x])
    trained = _training_counts(model.parser) if model.parser is not None else {}
    tpl_rows = {}
    for tid in known[:HEATMAP_TEMPLATES]:
        m = ids == tid
        first = int(lines[m].min())
        tpl_rows[str(tid)] = {
            "text": templates.get(tid, f"template {tid}"), "count": counts[tid], "first_line": first,
            "training_count": trained.get(tid), "buckets": sparse(m),
            "parameters": [stats[(tid, j)].as_dict() for j in range(_n_params(stats, tid))],
        }
    # lines no trained template covers, grouped by a fresh parser of the same format (provisional)
    new_templates = _group_unknown(model, unknown, edges, has_time)
    seen = set(counts)
    live = getattr(model.parser, "live_templates", None) if model.parser is not None else None
    vocabulary = dict(live or templates)
    vanished = sorted((tid for tid in vocabulary if tid not in seen), key=lambda x: (-(trained.get(x) or 0), x))
    seq_bucket = _sequence_buckets(sequences, edges, has_time)
    alarm_b = np.bincount(seq_bucket[alarms & (seq_bucket >= 0)], minlength=BUCKETS) if len(sequences) else np.zeros(BUCKETS)
    top_alarms = [_alarm(model, sequences[i], float(scores[i]), kept, templates) for i in top]
    return {
        "kind": SUMMARY_KIND,
        "version": SUMMARY_VERSION,
        "csv": csv_name,
        "model": {"detector": getattr(model.detector, "name", "?"), "format": model.format_name,
                  "grouping": model.grouping, "threshold": model.threshold, "threshold_info": model.threshold_info},
        "files": reports,
        "lines": int(lines.size),
        "sequences": int(len(sequences)),
        "alarms": int(alarms.sum()),
        "axis": {"kind": "time" if has_time else "line", "edges": [float(e) for e in edges],
                 "lines_without_time": int((~np.isfinite(t)).sum()) if has_time else None},
        "lines_per_bucket": np.bincount(bucket[ok], minlength=BUCKETS).astype(int).tolist(),
        "alarms_per_bucket": alarm_b.astype(int).tolist(),
        "unknown": {"lines": n_unknown, "buckets": sparse(ids == 0)},
        "templates": tpl_rows,
        "templates_seen": len(known),
        "new_templates": new_templates,
        "vanished": [{"id": tid, "text": vocabulary[tid], "training_count": trained.get(tid)} for tid in vanished[:200]],
        "vanished_total": len(vanished),
        "top_alarms": top_alarms,
    }


def _n_params(stats: dict, tid: int) -> int:
    n = 0
    while (tid, n) in stats:
        n += 1
    return n


def _group_unknown(model, unknown: list[tuple[int, str, float | None]], edges, has_time: bool) -> list[dict]:
    if not unknown or model.structured:
        return []
    from logad.parsing import parser_for

    fresh = parser_for(model.format_name)
    tids = [fresh.add(content, no).template_id for no, content, _ in unknown]
    resolve = getattr(fresh, "resolve", lambda x: x)
    groups: dict[int, list[int]] = {}
    for k, tid in enumerate(tids):
        groups.setdefault(resolve(tid), []).append(k)
    out = []
    for tid, members in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:100]:
        nos = [unknown[k][0] for k in members]
        axis = [(unknown[k][2] if unknown[k][2] is not None else math.nan) if has_time else float(unknown[k][0])
                for k in members]
        axis = np.asarray(axis, dtype=np.float64)
        axis = axis[np.isfinite(axis)]  # a line without a timestamp is counted, not placed in time
        b = np.clip(np.searchsorted(edges, axis, side="right") - 1, 0, len(edges) - 2)
        c = np.bincount(b, minlength=len(edges) - 1)
        out.append({"text": fresh.templates_text(tid) if hasattr(fresh, "templates_text") else fresh.templates[tid],
                    "count": len(members), "first_line": min(nos), "example": unknown[members[0]][1][:LINE_CHARS],
                    "buckets": [[int(i), int(v)] for i, v in enumerate(c) if v]})
    return out


def _sequence_buckets(sequences, edges, has_time: bool) -> np.ndarray:
    vals = []
    for s in sequences:
        if has_time:
            vals.append(s.start_time if s.start_time is not None else math.nan)
        else:
            vals.append(float(min(s.line_nos)) if s.line_nos else math.nan)
    v = np.asarray(vals, dtype=np.float64)
    b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    b[~np.isfinite(v)] = -1
    return b.astype(np.int64)


def _alarm(model, seq, score: float, kept: dict, templates: dict) -> dict:
    det = model.detector
    item: dict = {"sequence_id": seq.sequence_id, "score": score if math.isfinite(score) else str(score),
                  "start_time": seq.start_time,
                  "end_time": seq.end_time, "n_lines": len(seq),
                  "template_ids": [int(x) for x in seq.template_ids[:ALARM_LINES]],
                  "line_nos": [int(x) for x in seq.line_nos[:ALARM_LINES]]}
    item["texts"] = [kept.get(n, (None,))[0] for n in item["line_nos"]]
    if det.explains:
        item["explanation"] = [[int(tid), float(w)] for tid, w in det.explain(seq)[:5]]
    if det.localises:
        item["blamed"] = [int(j) for j in det.localise(seq) if j < ALARM_LINES]
    item["templates"] = {str(tid): templates.get(tid, "unseen template" if tid == 0 else f"template {tid}")
                         for tid in set(item["template_ids"]) | {e[0] for e in item.get("explanation", [])}}
    return item


def write_detect_summary(csv_path: str | Path, model, files: list[str], sequences, scores, alarms, *,
                         templates: dict[int, str], progress: Progress = SILENT) -> Path:
    """Summarise a detect run and write it beside its CSV; returns the summary's path."""
    from logad.io import atomic_write_text

    summary = summarise_detection(model, files, sequences, scores, alarms, templates=templates,
                                  csv_name=Path(csv_path).name, progress=progress)
    path = summary_path(csv_path)
    atomic_write_text(path, json.dumps(summary, separators=(",", ":"), default=finite_json_default) + "\n")
    return path
