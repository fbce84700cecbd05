"""Pages of test results: `logad evaluate` (one detector) and `logad bench` (datasets x detectors)."""

from __future__ import annotations

from pathlib import Path

from logad.report import figures, honesty
from logad.report.render import render, svg
from logad.report.svg import ANOMALOUS, NORMAL, PALETTE, fmt, utc


def _metric_cards(m: dict, oracle: bool, threshold: dict) -> list[dict]:
    def card(label, key, sub=""):
        v = m.get(key)
        return {"label": label, "value": "-" if v is None else f"{v:.3f}", "sub": sub, "oracle": oracle}

    return [
        card("F1", "f1", "oracle-on-test" if oracle else ""),
        card("precision", "precision"),
        card("recall", "recall"),
        {"label": "false-positive rate", "value": "-" if m.get("fpr") is None else f"{m['fpr']:.4f}",
         "sub": honesty.budget_text(threshold), "oracle": oracle},
        card("ROC-AUC", "roc_auc", "threshold-free"),
        card("PR-AUC", "pr_auc", "threshold-free"),
        {"label": "threshold", "value": fmt(threshold.get("value")), "sub": str(threshold.get("policy", "")),
         "oracle": oracle},
    ]


def score_figures(result: dict) -> dict:
    """The histogram, ROC and PR figures of a result's `curves` (empty when it has none)."""
    c = result.get("curves")
    if not c:
        return {}
    thr = c.get("threshold")
    h = c["histogram"]
    oracle = honesty.is_oracle(result)
    out = {
        "histogram": svg(figures.score_histogram(
            h["edges"], h["normal"], h["anomalous"], threshold=thr, clipped_above=h.get("clipped_above", False),
            threshold_label="threshold (oracle-on-test)" if oracle else "threshold",
            label=f"score distributions of {c['n'] - c['n_anomalous']:,} normal and {c['n_anomalous']:,} anomalous "
                  "test sequences")),
    }
    at = c.get("at_threshold") or {}
    if "roc" in c:
        out["roc"] = svg(figures.curve_chart(
            [{"name": "ROC", "x": c["roc"]["fpr"], "y": c["roc"]["tpr"], "colour": NORMAL}],
            x_label="false-positive rate", y_label="true-positive rate (recall)", label="ROC curve", kind="roc",
            x_range=(0, 1), y_range=(0, 1.0001), diagonal=True,
            point={"x": at.get("fpr"), "y": at.get("tpr"), "label": f"threshold {fmt(thr)}"} if at else None))
    if "pr" in c:
        out["pr"] = svg(figures.curve_chart(
            [{"name": "precision-recall", "x": c["pr"]["recall"], "y": c["pr"]["precision"], "colour": ANOMALOUS}],
            x_label="recall", y_label="precision", label="precision-recall curve", kind="pr", x_range=(0, 1),
            y_range=(0, 1.0001), baseline=c["pr"].get("base_rate"), baseline_label="chance (anomaly rate)",
            point={"x": at.get("recall"), "y": at.get("precision"), "label": f"threshold {fmt(thr)}"} if at else None))
    return out


def sequence_item(ex: dict, templates: dict, texts: dict[int, str], *, anchor: str) -> dict:
    """An example (or alarm) as the `sequence` macro draws it: lines with their text (or template),
    the lines the detector blamed, the lines truly anomalous, and the explanation."""
    blamed = set(ex.get("blamed") or [])
    truth = ex.get("line_labels") or []
    lines = []
    for j, (no, tid) in enumerate(zip(ex.get("line_nos") or [], ex.get("template_ids") or [])):
        lines.append({"no": no, "tid": tid, "template": templates.get(str(tid), f"template {tid}"),
                      "text": texts.get(no), "blamed": j in blamed, "truth": bool(truth[j]) if j < len(truth) else False})
    if not lines:  # sequences from session files carry no line numbers: their templates in order
        lines = [{"no": j + 1, "tid": tid, "template": templates.get(str(tid), f"template {tid}"), "text": None,
                  "blamed": j in blamed, "truth": False} for j, tid in enumerate(ex.get("template_ids") or [])]
    expl = ex.get("explanation") or []
    top = max((abs(w) for _, w in expl), default=0) or 1
    kind = ex.get("kind", "")
    tags = [("fa" if kind == "false alarm" else "miss" if kind == "miss" else "alarm", kind)] if kind else []
    when = f", {utc(ex['start_time'])}" if ex.get("start_time") is not None else ""
    return {
        "id": anchor,
        "title": str(ex.get("sequence_id")),
        "tags": tags,
        "summary": f"score {fmt(ex.get('score'))}, label {'anomalous' if ex.get('label') == 1 else 'normal'}, "
                   f"{ex.get('n_lines', len(lines)):,} lines{when}",
        "lines": lines,
        "more": max(0, int(ex.get("n_lines", len(lines))) - len(lines)),
        "explanation": [{"tid": t, "template": templates.get(str(t), f"template {t}"), "weight": w,
                         "share": abs(w) / top} for t, w in expl],
        "note": "" if any(ln["text"] for ln in lines) else "raw lines not available here: each line shows its template",
    }


def evaluate_context(result: dict, *, bases=()) -> dict:
    from logad.report.lines import read_lines

    m = result.get("metrics") or {}
    c = result.get("counts") or {}
    thr = result.get("threshold") or {}
    oracle = honesty.is_oracle(result)
    det = result.get("detector") or {}
    name = det.get("name", "?") if isinstance(det, dict) else str(det)
    dataset = result.get("dataset", "")
    cap = honesty.caption(result)
    ctx: dict = {
        "kind": "evaluate",
        "title": f"{name} on {dataset}" if dataset else name,
        "subtitle": f"logad evaluate · {honesty.protocol_text(result)}",
        "flags": honesty.flags(result),
        "oracle": oracle,
        "cards": _metric_cards(m, oracle, thr),
        "protocol": honesty.protocol_text(result),
        "threshold": honesty.threshold_text(thr),
        "caption": cap,
        "counts": {k: c.get(k) for k in ("tp", "fp", "tn", "fn")},
        **score_figures(result),
    }
    n, na = m.get("n"), m.get("n_anomalous")
    ctx["caption_hist"] = (f"Each class's share of test sequences per score bin ({n - na:,} normal, {na:,} anomalous). "
                           if n is not None and na is not None else "") + cap
    ctx["caption_roc"] = f"ROC-AUC {fmt(m.get('roc_auc'))}; the ring is the operating point of the threshold. " + cap
    ctx["caption_pr"] = f"PR-AUC (average precision) {fmt(m.get('pr_auc'))}. " + cap
    audit = result.get("audit") or {}
    ctx["audit"] = [
        ("log lines in both train and test", f"{audit.get('shared_lines', '-')}"),
        ("test sequences identical to a training one",
         f"{audit.get('identical_sequences', '-')} ({audit.get('identical_sequences_share', 0):.1%})"),
        ("... of them with the other label", f"{audit.get('identical_with_other_label', '-')}"),
        ("test sequences holding a template unseen in training",
         f"{audit.get('unseen_template_sequences', '-')} ({audit.get('unseen_template_share', 0):.1%})"),
    ] if audit else [("audit", "not in this result")]
    split_rows = [("split", c.get("protocol", "-"))]
    for part in ("train", "validation", "test"):
        v = c.get(part)
        if isinstance(v, dict):
            split_rows.append((part, f"{v.get('sequences', 0):,} sequences, {v.get('anomalous', 0):,} anomalous"))
    if c.get("ordered_by"):
        split_rows.append(("ordered by", c["ordered_by"]))
    if c.get("train_end") is not None and c.get("test_start") is not None:
        split_rows.append(("training ends / test starts", f"{utc(c['train_end'])} / {utc(c['test_start'])}"))
    ctx["split_rows"] = split_rows
    ex = result.get("examples") or {}
    items = (ex.get("false_alarms") or []) + (ex.get("misses") or [])
    files = (result.get("data") or {}).get("read") or []
    texts, notes = read_lines(files, [no for it in items for no in it.get("line_nos", [])], bases=bases)
    tpl = ex.get("templates") or {}
    ctx["examples"] = [sequence_item(it, tpl, texts, anchor=f"ex-{i}") for i, it in enumerate(items)]
    ctx["examples_note"] = (
        f"The {len(ex.get('false_alarms') or [])} highest-scored of {ex.get('n_false_alarms', 0):,} false alarms and the "
        f"{len(ex.get('misses') or [])} lowest-scored of {ex.get('n_misses', 0):,} misses. Lines the detector blames are "
        "red; a red edge marks a line labelled anomalous." if ex else "")
    ctx["notes"] = notes
    data = result.get("data") or {}
    sec = result.get("seconds") or {}
    setup = [("detector", name), ("dataset", dataset or "-"), ("source", data.get("source", "-")),
             ("grouping", _grouping_text(data.get("grouping"))),
             ("sequences", f"{data.get('sequences', '-')} ({data.get('anomalous_sequences', '-')} anomalous)"),
             ("templates", data.get("templates", "-")),
             ("fit / score seconds", f"{fmt(sec.get('fit'))} / {fmt(sec.get('score'))}"),
             ("scored per second", fmt(sec.get("score_per_second")))]
    if result.get("params_file"):
        setup.append(("parameters from", result["params_file"]))
    if result.get("tuning"):
        setup.append(("tuning", result["tuning"].get("note", "")))
    ctx["setup"] = setup
    params = det.get("params") if isinstance(det, dict) else None
    ctx["params"] = sorted((k, str(v)) for k, v in (params or {}).items())
    ctx["sections"] = [("summary", "result"), ("scores", "scores"), ("confusion", "confusion"), ("audit", "audit"),
                       *([("mistakes", "mistakes")] if ctx["examples"] else []), ("setup", "setup")]
    return ctx


def _grouping_text(g) -> str:
    if not isinstance(g, dict):
        return "-"
    return ", ".join(f"{k} {v}" for k, v in g.items() if v is not None)


def evaluate_page(result: dict, *, source: str | None = None, bases=()) -> str:
    bases = list(bases) + ([Path(source).resolve().parent] if source else [])
    return render("evaluate.html", source=source, **evaluate_context(result, bases=bases))


def bench_context(data: dict) -> dict:
    results = data.get("results") or []
    datasets = list(dict.fromkeys(str(r.get("dataset", "?")) for r in results))
    detectors = list(dict.fromkeys(_det_name(r) for r in results))
    by = {(str(r.get("dataset", "?")), _det_name(r)): r for r in results}
    oracle_any = any(honesty.is_oracle(r) for r in results)
    charts = []
    for key, title in (("f1", "F1"), ("fpr", "false-positive rate"), ("roc_auc", "ROC-AUC")):
        series = [(d, [(by.get((ds, d)) or {}).get("metrics", {}).get(key) for ds in datasets]) for d in detectors]
        y_max = 1.0 if key != "fpr" else None
        charts.append(svg(figures.bar_chart(datasets, series, label=f"{title} per dataset and detector", y_label=title,
                                            y_max=y_max, width=max(480, 140 * len(datasets) * max(1, len(detectors)) // 2),
                                            value_format="{:.3f}" if key != "fpr" else "{:.4f}")))
    rows = []
    for r in results:
        m = r.get("metrics") or {}
        rows.append([r.get("dataset", "?"), _det_name(r), r.get("protocol", "honest"),
                     honesty.threshold_text(r.get("threshold")), *(f"{m[k]:.3f}" if m.get(k) is not None else "-"
                                                                  for k in ("f1", "precision", "recall")),
                     (f"{m['fpr']:.4f}" + (f" ({honesty.budget_text(r.get('threshold'))})"
                                           if honesty.budget_text(r.get("threshold")) else ""))
                     if m.get("fpr") is not None else "-",
                     f"{m['roc_auc']:.3f}" if m.get("roc_auc") is not None else "-"])
    rocs = []
    for ds in datasets:
        series = []
        for i, d in enumerate(detectors):
            c = (by.get((ds, d)) or {}).get("curves") or {}
            if "roc" in c:
                series.append({"name": d, "x": c["roc"]["fpr"], "y": c["roc"]["tpr"], "colour": PALETTE[i % len(PALETTE)]})
        if series:
            rocs.append(svg(figures.curve_chart(series, x_label="false-positive rate", y_label="true-positive rate",
                                                label=f"ROC curves on {ds}", kind="roc", x_range=(0, 1), y_range=(0, 1.0001),
                                                diagonal=True, width=360)))
    flags = []
    for r in results:
        for f in honesty.flags(r):
            flags.append({**f, "text": f"{r.get('dataset')} / {_det_name(r)}: {f['text']}"})
    return {
        "kind": "bench", "title": f"{len(detectors)} detectors on {len(datasets)} datasets",
        "subtitle": "logad bench · every figure on the test part; thresholds from validation unless flagged",
        "flags": flags, "charts": charts, "rocs": rocs, "rows": rows, "oracle": oracle_any,
        "columns": ["dataset", "detector", "protocol", "threshold", "F1", "precision", "recall", "FPR", "ROC-AUC"],
        "sections": [("charts", "charts"), ("table", "table")],
    }


def _det_name(r: dict) -> str:
    d = r.get("detector")
    return str(d.get("name", "?")) if isinstance(d, dict) else str(d)


def bench_page(data: dict, *, source: str | None = None) -> str:
    return render("bench.html", source=source, **bench_context(data))
