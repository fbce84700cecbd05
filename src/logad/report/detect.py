"""The page of a `logad detect` run: its CSV, the summary beside it, and (optionally) its model."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from logad.detectors.persistence import read_json_file
from logad.errors import InputError
from logad.report import figures, honesty
from logad.report.detect_summary import SUMMARY_KIND, summary_path
from logad.report.render import render, svg
from logad.report.svg import fmt, utc

HEATMAP_ROWS = 40
ALARM_TABLE = 2000
TIMELINE_POINTS = 1500


def _float(v: str) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if not math.isnan(x) else None


def read_detect_csv(path: Path) -> list[dict]:
    """The rows of a detect CSV with typed score, alarm, times and line numbers."""
    csv.field_size_limit(2**31 - 1)
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("sequence_id", "score", "alarm") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path} is not a detect CSV: no column {', '.join(missing)}")
        for i, r in enumerate(reader, 2):
            score = _float(r.get("score"))
            if score is None and r.get("score") not in ("inf", "-inf"):
                raise InputError(f"{path}, line {i}: score {r.get('score')!r} is not a number")
            rows.append({
                "id": r["sequence_id"], "score": score if score is not None else float(r["score"]),
                "alarm": r.get("alarm", "0").strip() in ("1", "True", "true"),
                "start": _float(r.get("start_time")), "end": _float(r.get("end_time")),
                "first": _float(r.get("first_line")), "last": _float(r.get("last_line")),
                "lines": int(_float(r.get("lines")) or 0), "explanation": r.get("explanation", ""),
                "blamed": r.get("anomalous_lines", ""),
            })
    return rows


def _load_summary(csv_path: Path) -> dict | None:
    p = summary_path(csv_path)
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != SUMMARY_KIND:
        raise InputError(f"{p} is not a logad detect summary")
    return data


def _model_info(model: str | Path | None) -> dict:
    if model is None:
        return {}
    p = Path(model) / "model.json"
    if not p.is_file():
        raise InputError(f"{model} is not a logad model folder (no model.json)")
    meta = read_json_file(p, "model")  # the model loader's reader: size, nesting and decoding checked
    if not isinstance(meta, dict):
        raise InputError(f"{p} is corrupt: not a JSON object")
    return {"detector": meta.get("detector"), "format": meta.get("format"), "grouping": meta.get("grouping"),
            "threshold": meta.get("threshold"), "threshold_info": meta.get("threshold_info")}


def _dense(sparse: list, n: int) -> list[int]:
    out = [0] * n
    for b, v in sparse:
        if 0 <= b < n:
            out[b] = v
    return out


def _bucket_of(v: float | None, edges: list[float]) -> int:
    if v is None:
        return -1
    import bisect

    return min(max(bisect.bisect_right(edges, v) - 1, 0), len(edges) - 2)


def _param_rows(params: list[dict]) -> list[dict]:
    out = []
    for j, p in enumerate(params):
        rng = ""
        if p.get("numeric"):
            n = p["numeric"]
            rng = f"numeric {fmt(n['min'])} to {fmt(n['max'])}, median {fmt(n['median'])}"
        out.append({"pos": j + 1, "range": rng, "top": p.get("top", []),
                    "distinct": (f"{p['distinct']:,}{'+' if p.get('distinct_capped') else ''}" if p.get("distinct") else "")})
    return out


def detect_context(csv_path: str | Path, model: str | Path | None = None) -> dict:
    path = Path(csv_path)
    rows = read_detect_csv(path)
    summary = _load_summary(path)
    info = (summary or {}).get("model") or _model_info(model)
    if model is not None and not info:
        info = _model_info(model)
    thr_info = dict(info.get("threshold_info") or {})
    thr = info.get("threshold")
    thr_info.setdefault("value", thr)
    alarms = [r for r in rows if r["alarm"]]
    notes = []
    flags = []
    if thr_info.get("warning"):
        flags.append({"level": honesty.WARN, "text": f"Threshold: {thr_info['warning']}"})
    provenance = (f"An alarm is a sequence whose score exceeds {fmt(thr)}, the threshold set when the model was "
                  f"trained ({honesty.threshold_text(thr_info)}); no label of these logs was used." if thr is not None
                  else "The threshold's provenance is unknown: give --model DIR (the model folder).")
    ctx: dict = {"kind": "detect", "source": str(path), "flags": flags, "provenance": provenance, "notes": notes}
    det = info.get("detector") or "?"
    ctx["title"] = f"{det} alarms in {path.name}"
    ctx["subtitle"] = f"logad detect · {len(rows):,} sequences, {len(alarms):,} alarms · threshold {fmt(thr)}"
    cards = [{"label": "sequences scored", "value": f"{len(rows):,}"},
             {"label": "alarms", "value": f"{len(alarms):,}", "sub": f"{len(alarms) / len(rows):.1%} of sequences" if rows else ""},
             {"label": "threshold", "value": fmt(thr), "sub": str(thr_info.get("policy", ""))}]
    ctx["timeline"] = ctx["heatmap"] = None
    ctx["new_templates"], ctx["vanished"], ctx["template_rows"], ctx["details"] = [], [], [], []
    if summary is None:
        notes.append(f"No summary beside the CSV ({summary_path(path).name}): the template heatmap, new and vanished "
                     "templates and the alarms' lines need it; logad detect writes it.")
        ctx["timeline"] = _timeline_from_rows(rows, None, thr)
    else:
        edges = summary["axis"]["edges"]
        time_axis = summary["axis"]["kind"] == "time"
        n = len(edges) - 1
        cards += [{"label": "lines", "value": f"{summary['lines']:,}"},
                  {"label": "templates seen", "value": f"{summary['templates_seen']:,}"},
                  {"label": "lines no trained template covers", "value": f"{summary['unknown']['lines']:,}",
                   "sub": f"{len(summary['new_templates'])} new templates" if summary["new_templates"] else ""},
                  {"label": "trained templates vanished", "value": f"{summary['vanished_total']:,}"}]
        ctx["timeline"] = _timeline_from_rows(rows, summary, thr)
        ctx["heatmap"] = svg(_heatmap(summary, edges, time_axis, n))
        ctx["heatmap_caption"] = (
            f"Lines per template per {'time' if time_axis else 'line-number'} bucket of "
            f"{_bucket_width(edges, time_axis)} (colour on a log scale; hover a cell for its count). The red strip counts "
            "alarms (sequences starting in the bucket). Red labels: templates no trained template covers (grouped here "
            "by a fresh parser). " + provenance)
        ctx["new_templates"] = [
            {"text": t["text"], "count": t["count"], "first_line": t["first_line"], "example": t.get("example", ""),
             "spark": svg(figures.sparkline(_dense(t["buckets"], n), label=f"lines of new template {i + 1} over time",
                                            colour="#c62828"))}
            for i, t in enumerate(summary["new_templates"])]
        ctx["vanished"] = summary["vanished"]
        ctx["vanished_total"] = summary["vanished_total"]
        alarm_buckets = [i for i, a in enumerate(summary["alarms_per_bucket"]) if a]
        ctx["template_rows"] = [
            {"id": tid, "text": t["text"], "count": t["count"], "training": t.get("training_count"),
             "first_line": t["first_line"],
             "spark": svg(figures.sparkline(_dense(t["buckets"], n), label=f"lines of template {tid} over time",
                                            marks_at=alarm_buckets)),
             "params": _param_rows(t.get("parameters") or [])}
            for tid, t in summary["templates"].items()]
        ctx["details"] = [_alarm_item(a, summary, i) for i, a in enumerate(summary["top_alarms"])]
        if summary["axis"].get("lines_without_time"):
            notes.append(f"{summary['axis']['lines_without_time']:,} lines carry no timestamp and are not in the time buckets.")
    ctx["cards"] = cards
    detailed = {d["title"]: d["id"] for d in ctx["details"]}
    top = sorted(alarms, key=lambda r: -r["score"])[:ALARM_TABLE]
    ctx["alarm_rows"] = [{"id": r["id"], "href": detailed.get(r["id"]), "start": utc(r["start"]), "score": r["score"],
                          "lines": r["lines"], "first": r["first"], "explanation": r["explanation"]} for r in top]
    if len(alarms) > ALARM_TABLE:
        notes.append(f"The alarm table shows the {ALARM_TABLE:,} highest-scored of {len(alarms):,} alarms; all are in the CSV.")
    ctx["sections"] = [("summary", "summary"), ("timeline", "timeline"), *([("heatmap", "templates × time")] if ctx["heatmap"] else []),
                       *([("changes", "new & vanished")] if summary else []), ("alarms", "alarms"),
                       *([("templates", "templates")] if ctx["template_rows"] else [])]
    return ctx


def _bucket_width(edges: list[float], time_axis: bool) -> str:
    from logad.report.svg import duration

    w = edges[1] - edges[0] if len(edges) > 1 else 0
    return duration(w) if time_axis else f"{w:,.0f} lines"


def _timeline_from_rows(rows: list[dict], summary: dict | None, thr) -> dict:
    if summary is not None:
        edges = summary["axis"]["edges"]
        time_axis = summary["axis"]["kind"] == "time"
        lines = summary["lines_per_bucket"]
    else:
        time_axis = sum(r["start"] is not None for r in rows) >= 0.9 * max(1, len(rows))
        vals = [r["start"] if time_axis else r["first"] for r in rows]
        vals = [v for v in vals if v is not None] or [0.0, 1.0]
        lo, hi = min(vals), max(vals)
        hi = hi if hi > lo else lo + 1
        edges = [lo + (hi - lo) * i / 96 for i in range(97)]
        lines = [0] * 96
        for r in rows:
            b = _bucket_of(r["start"] if time_axis else r["first"], edges)
            if b >= 0:
                lines[b] += r["lines"]
    n = len(edges) - 1
    max_scores: list[float | None] = [None] * n
    alarms = [0] * n
    for r in rows:
        b = _bucket_of(r["start"] if time_axis else r["first"], edges)
        if b < 0 or not math.isfinite(r["score"]):
            continue
        if max_scores[b] is None or r["score"] > max_scores[b]:
            max_scores[b] = r["score"]
        alarms[b] += r["alarm"]
    al = sorted((r for r in rows if r["alarm"]), key=lambda r: -r["score"])[:TIMELINE_POINTS]
    detailed = {a["sequence_id"] for a in (summary or {}).get("top_alarms", [])}
    order = {a["sequence_id"]: i for i, a in enumerate((summary or {}).get("top_alarms", []))}
    points = [{"t": r["start"] if time_axis else r["first"], "score": r["score"],
               "tip": f"alarm {r['id']}: score {fmt(r['score'])}, {utc(r['start'])}",
               "href": f"#alarm-{order[r['id']]}" if r["id"] in detailed else None} for r in al]
    fig = figures.alarm_timeline(edges, lines, alarms, max_scores=max_scores, points=points, threshold=thr,
                                 time_axis=time_axis, label="alarms and scores over time")
    return {"svg": svg(fig), "caption": (
        f"Top: the highest sequence score per bucket and every alarm (a dot; the {min(len(al), 30)} highest link to "
        "their lines); the dashed line is the threshold set at training. Bottom: lines per bucket, alarms in red.")}


def _heatmap(summary: dict, edges: list[float], time_axis: bool, n: int) -> str:
    tpls = summary["templates"]
    chosen = list(tpls)[:HEATMAP_ROWS]
    for a in summary["top_alarms"][:10]:  # the templates alarms blame get a row even when rare
        for tid, _ in (a.get("explanation") or [])[:2]:
            if str(tid) in tpls and str(tid) not in chosen:
                chosen.append(str(tid))
    rows, matrix, notes, links = [], [], [], []
    for tid in chosen:
        t = tpls[tid]
        rows.append(f"#{tid} {t['text']}")
        matrix.append(_dense(t["buckets"], n))
        notes.append("")
        links.append(f"#tpl-{tid}")
    for i, t in enumerate(summary["new_templates"][:10]):
        rows.append(f"new {i + 1}: {t['text']}")
        matrix.append(_dense(t["buckets"], n))
        notes.append("new")
        links.append("#changes")
    if summary["unknown"]["lines"] and not summary["new_templates"]:
        rows.append("lines no trained template covers")
        matrix.append(_dense(summary["unknown"]["buckets"], n))
        notes.append("unseen")
        links.append(None)
    return figures.heatmap(rows, edges, matrix, alarms=summary["alarms_per_bucket"], time_axis=time_axis,
                           row_notes=notes, row_links=links,
                           label=f"lines per template over {'time' if time_axis else 'the log'} ({len(rows)} templates)")


def _alarm_item(a: dict, summary: dict, i: int) -> dict:
    tpl = a.get("templates") or {}
    blamed = set(a.get("blamed") or [])
    lines = [{"no": no, "tid": tid, "template": tpl.get(str(tid), f"template {tid}"), "text": txt, "blamed": j in blamed,
              "truth": False}
             for j, (no, tid, txt) in enumerate(zip(a["line_nos"], a["template_ids"], a.get("texts") or []))]
    expl = a.get("explanation") or []
    top = max((abs(w) for _, w in expl), default=0) or 1
    used = list(dict.fromkeys(t for t in a["template_ids"] if t))
    tparams = []
    for tid in used:
        t = summary["templates"].get(str(tid))
        if t and t.get("parameters"):
            tparams.append({"tid": tid, "template": t["text"], "params": _param_rows(t["parameters"])})
    return {
        "id": f"alarm-{i}", "title": str(a["sequence_id"]), "tags": [("alarm", "alarm")],
        "summary": f"score {fmt(a['score'])}, {a['n_lines']:,} lines, {utc(a.get('start_time'))}"
                   + (f", {len(blamed)} lines blamed" if blamed else ""),
        "lines": lines, "more": max(0, a["n_lines"] - len(lines)),
        "explanation": [{"tid": t, "template": tpl.get(str(t), f"template {t}"), "weight": w, "share": abs(w) / top}
                        for t, w in expl],
        "template_params": tparams[:8],
        "note": "" if any(ln["text"] for ln in lines) else "raw lines not recorded: each line shows its template",
    }


def detect_page(csv_path: str | Path, *, model: str | Path | None = None) -> str:
    return render("detect.html", **detect_context(csv_path, model))
