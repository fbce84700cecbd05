"""The page of a `logad parse` output (CSV or Parquet, read by its columns): the template table with
counts, example lines and parameter value summaries, and a drift report over the log."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from logad.errors import InputError
from logad.report import figures
from logad.report.detect_summary import _ParamStats
from logad.report.render import render, svg

BUCKETS = 60
HEATMAP_ROWS = 40
TABLE_ROWS = 500
REQUIRED = ("line_no", "template_id", "template")


def split_parameters(value) -> list[str]:
    """A row's parameters: a JSON array (the newer output), a list (Parquet), or space-joined text."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("["):
        try:
            data = json.loads(text)
            if isinstance(data, list):
                return [str(v) for v in data]
        except json.JSONDecodeError:
            pass
    return text.split(" ") if text else []


def read_rows(path: Path) -> Iterator[dict]:
    """The rows of a parse output as dicts (`file`, `line_no`, `template_id`, `template`, `parameters`)."""
    with open(path, "rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if parquet:
        from logad.errors import require

        pq = require("pyarrow.parquet", "semantic")
        f = pq.ParquetFile(path)
        missing = [c for c in REQUIRED if c not in f.schema_arrow.names]
        if missing:
            raise InputError(f"{path} is not a parse output: no column {', '.join(missing)}")
        for batch in f.iter_batches(batch_size=65536):
            yield from batch.to_pylist()
        return
    csv.field_size_limit(2**31 - 1)
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path} is not a parse output: no column {', '.join(missing)} "
                             f"(it has {', '.join((reader.fieldnames or [])[:8]) or 'none'})")
        yield from reader


def _example(template: str, params: list[str]) -> str:
    """A line rebuilt from its template and parameters (each `<*>` filled in order)."""
    parts = template.split("<*>")
    if len(parts) - 1 != len(params):
        return template + ("  [" + " | ".join(params) + "]" if params else "")
    out = [parts[0]]
    for p, rest in zip(params, parts[1:]):
        out += [p, rest]
    return "".join(out)


def parse_context(path: str | Path) -> dict:
    path = Path(path)
    counts: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    texts: dict[int, str] = {}
    examples: dict[int, list[str]] = {}
    stats: dict[tuple[int, int], _ParamStats] = {}
    seq: list[int] = []
    files: dict[str, int] = {}
    for i, r in enumerate(read_rows(path)):
        try:
            tid = int(r["template_id"])
        except (TypeError, ValueError):
            raise InputError(f"{path}, row {i + 2}: template_id {r.get('template_id')!r} is not an integer") from None
        seq.append(tid)
        files[str(r.get("file", ""))] = files.get(str(r.get("file", "")), 0) + 1
        counts[tid] = counts.get(tid, 0) + 1
        if tid not in first:
            first[tid] = i
        last[tid] = i
        params = split_parameters(r.get("parameters"))
        texts[tid] = str(r.get("template") or "")
        ex = examples.setdefault(tid, [])
        if len(ex) < 3:
            ex.append(_example(texts[tid], params))
        for j, v in enumerate(params[:16]):
            st = stats.get((tid, j))
            if st is None:
                st = stats[(tid, j)] = _ParamStats()
            st.add(v)
    n = len(seq)
    if n == 0:
        raise InputError(f"{path} holds no parsed line")
    final = _final_templates(path)
    texts.update({t: final[t] for t in texts if t in final})
    edges = [i * n / BUCKETS for i in range(BUCKETS + 1)]
    per: dict[int, list[int]] = {}
    for i, tid in enumerate(seq):
        per.setdefault(tid, [0] * BUCKETS)[min(int(i * BUCKETS / n), BUCKETS - 1)] += 1
    order = sorted(counts, key=lambda t: -counts[t])
    half = n / 2
    late = [t for t in order if first[t] >= half]
    gone = [t for t in order if last[t] < half]
    rows = [t for t in order[:HEATMAP_ROWS]]
    for t in late[:8] + gone[:8]:
        if t not in rows:
            rows.append(t)
    notes_row = ["new" if t in late else "vanished" if t in gone else "" for t in rows]
    heat = figures.heatmap([f"#{t} {texts.get(t, '')}" for t in rows], [e + 1 for e in edges], [per[t] for t in rows],
                           time_axis=False, row_notes=notes_row, row_links=[f"#tpl-{t}" for t in rows],
                           label=f"lines per template along the log ({len(rows)} templates)")
    seen: set[int] = set()
    disc_x, disc_y = [], []
    step = max(1, n // 400)
    for i, tid in enumerate(seq):
        seen.add(tid)
        if i % step == 0 or i == n - 1:
            disc_x.append(i + 1)
            disc_y.append(len(seen))
    discovery = figures.curve_chart([{"name": "distinct templates", "x": disc_x, "y": disc_y}], x_label="lines read",
                                    y_label="templates seen so far", label="templates discovered along the log",
                                    kind="discovery", width=480, height=260, y_range=(0, max(disc_y) * 1.05))
    table = []
    for t in order[:TABLE_ROWS]:
        params = []
        for j in range(16):
            st = stats.get((t, j))
            if st is None:
                break
            d = st.as_dict()
            num = d.get("numeric")
            params.append({"pos": j + 1, "top": d["top"], "distinct": f"{d['distinct']:,}{'+' if d['distinct_capped'] else ''}",
                           "range": f"numeric {num['min']:g} to {num['max']:g}, median {num['median']:g}" if num else ""})
        table.append({"id": t, "text": texts.get(t, ""), "count": counts[t], "share": counts[t] / n,
                      "first": first[t] + 1, "examples": examples.get(t, []), "params": params,
                      "note": "new" if t in late else "vanished" if t in gone else "",
                      "spark": svg(figures.sparkline(per[t], label=f"lines of template {t} along the log"))})
    notes = []
    if len(order) > TABLE_ROWS:
        notes.append(f"The table shows the {TABLE_ROWS} most frequent of {len(order):,} templates.")
    if 0 in counts:
        notes.append(f"{counts[0]:,} lines matched no template (id 0, --match-only).")
    return {
        "kind": "parse", "title": f"templates of {path.name}", "source": str(path),
        "subtitle": f"logad parse · {n:,} lines in {len(files)} file(s) · {len(order):,} templates",
        "cards": [{"label": "lines", "value": f"{n:,}"}, {"label": "templates", "value": f"{len(order):,}"},
                  {"label": "templates covering 90% of lines", "value": f"{_cover(order, counts, n, 0.9):,}"},
                  {"label": "first seen in the second half", "value": f"{len(late):,}"},
                  {"label": "not seen in the second half", "value": f"{len(gone):,}"}],
        "heatmap": svg(heat), "discovery": svg(discovery), "table": table, "notes": notes,
        "late": [(t, texts.get(t, ""), counts[t], first[t] + 1) for t in late[:50]],
        "gone": [(t, texts.get(t, ""), counts[t], last[t] + 1) for t in gone[:50]],
        "files": sorted(files.items()),
        "sections": [("summary", "summary"), ("drift", "drift"), ("templates", "templates")],
    }


def _cover(order: list[int], counts: dict[int, int], n: int, share: float) -> int:
    acc = 0
    for k, t in enumerate(order, 1):
        acc += counts[t]
        if acc >= share * n:
            return k
    return len(order)


def _final_templates(path: Path) -> dict[int, str]:
    """The final template texts written beside a parse CSV (`OUT.templates.csv`), when present."""
    p = path.with_suffix(".templates.csv")
    if not p.is_file():
        return {}
    out = {}
    with open(p, newline="", encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh):
            try:
                out[int(r["template_id"])] = r.get("template", "")
            except (KeyError, TypeError, ValueError):
                continue
    return out


def parse_page(path: str | Path) -> str:
    return render("parse.html", **parse_context(path))
