"""The service's summaries as plain data, for `GET /v1/templates`, `GET /v1/timeline` and the
dashboard (which draws them with `logad.report.figures`)."""

from __future__ import annotations

import bisect
import math

MAX_ALARM_POINTS = 5000


def templates_view(service) -> dict:
    """Every trained template with what the service has processed of it: lines, first and last
    log time, example lines and the values its parameters took (a sample: see rollup.py)."""
    e = service.engine
    texts = e.parser.templates
    with e.lock:
        r = e.rollup
        totals = dict(r.totals)
        first, last = dict(r.first), dict(r.last)
        examples = {t: list(v) for t, v in r.examples.items()}
        params = {t: r.parameter_summary(t) for t in r.params}
        untimed = r.untimed
    rows = []
    for tid in sorted(texts):
        rows.append({"id": tid, "text": texts[tid], "lines": totals.get(tid, 0), "first_time": first.get(tid),
                     "last_time": last.get(tid), "examples": examples.get(tid, []), "parameters": params.get(tid, [])})
    return {
        "templates": rows,
        "unmatched": {"lines": totals.get(0, 0), "examples": examples.get(0, []), "first_time": first.get(0),
                      "last_time": last.get(0)},
        "lines": sum(totals.values()),
        "lines_without_time": untimed,
        "note": "lines processed since the state folder was made (checkpointed with the engine); parameter values "
                "from the first line of each template in every request, at most 5,000 lines per template",
    }


def timeline_view(service, buckets: int = 60, top: int = 30) -> dict:
    """Lines per template per log-time bucket (the `top` templates with the most lines, and the
    lines no trained template covers), lines, sequences scored, their highest score and the
    alarms per bucket, and the newest alarms as points (time, score)."""
    e = service.engine
    texts = e.parser.templates
    with e.lock:
        tl = e.rollup.timeline(max(1, min(int(buckets), 500)))
        totals = dict(e.rollup.totals)
    edges = tl["edges"]
    n = max(0, len(edges) - 1)
    alarms = [0] * n
    points = []
    for aid, kind, start, end, score, sid in service.store.alarm_times(MAX_ALARM_POINTS):
        t = start if start is not None else end
        if t is None or not n:
            continue
        j = min(max(bisect.bisect_right(edges, t) - 1, 0), n - 1)
        alarms[j] += 1
        points.append({"id": aid, "kind": kind, "t": t, "score": score if isinstance(score, float) and
                       math.isfinite(score) else None, "sequence_id": sid})
    order = sorted((t for t in tl["templates"] if t), key=lambda t: (-totals.get(t, 0), t))[:max(0, int(top))]
    rows = [{"id": t, "text": texts.get(t, f"template {t}"), "lines": totals.get(t, 0), "counts": tl["templates"][t]}
            for t in order]
    if 0 in tl["templates"]:
        rows.append({"id": 0, "text": "lines no trained template covers", "lines": totals.get(0, 0),
                     "counts": tl["templates"][0]})
    return {
        "edges": edges,
        "bucket_seconds": (edges[1] - edges[0]) if n else None,
        "lines": tl["lines"],
        "sequences": tl["sequences"],
        "max_scores": tl["max_scores"],
        "alarms": alarms,
        "alarm_points": points,
        "templates": rows,
        "templates_total": len([t for t in totals if t]),
        "threshold": service.model.threshold,
        "note": "log time (the lines' own timestamps), not arrival time; alarms placed by their first line's time",
    }
