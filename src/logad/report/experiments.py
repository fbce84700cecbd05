"""Pages of experiments: `logad transfer` (a method beside its baselines) and `logad tune` (trials)."""

from __future__ import annotations

import json
from pathlib import Path

from logad.report import figures, honesty
from logad.report.render import render, svg
from logad.report.svg import ALARM, INK, MUTED, NORMAL, PALETTE, fmt

METRICS = (("f1", "F1"), ("precision", "precision"), ("recall", "recall"), ("fpr", "FPR"), ("roc_auc", "ROC-AUC"))
STATUS_COLOURS = {"completed": NORMAL, "stopped-early": "#e0a030", "error": MUTED}


def _models(result: dict) -> list[tuple[str, dict]]:
    """(name, {"metrics", "counts"}) of the method and each baseline, the method first."""
    out = [(str(result.get("method", "method")), result)]
    for name, b in (result.get("baselines") or {}).items():
        out.append((name, b or {}))
    return out


def _history_figure(name: str, details: dict) -> str | None:
    h = (details or {}).get("history") or {}
    series = []
    for i, key in enumerate(("train_loss", "val_loss", "target_loss")):
        ys = h.get(key) or []
        if ys:
            series.append({"name": key.replace("_", " "), "x": list(range(1, len(ys) + 1)), "y": ys,
                           "colour": PALETTE[i], "dash": "4 3" if key == "target_loss" else ""})
    if not series:
        return None
    cp = (details or {}).get("checkpoint") or {}
    point = None
    if cp.get("epoch"):
        e = int(cp["epoch"])
        val = (h.get("val_loss") or h.get("train_loss") or [])
        if 0 < e <= len(val):
            point = {"x": e, "y": val[e - 1], "label": f"checkpoint epoch {e} ({cp.get('policy', '?')})"}
    return figures.curve_chart(series, x_label="epoch", y_label="loss", label=f"training of {name}", kind="training",
                               point=point, width=380, height=260)


def transfer_context(result: dict) -> dict:
    details = result.get("details") or {}
    setup = result.get("setup") or details.get("setup") or {}
    models = _models(result)
    oracle = honesty.is_oracle(result)
    method = str(result.get("method", "?"))
    names = [n for n, _ in models]
    series = [(n, [(r.get("metrics") or {}).get(k) for k, _ in METRICS]) for n, r in models]
    colours = [ALARM if oracle else NORMAL, "#8aa6c8", "#b9b9b9", *PALETTE[3:]]
    bars = figures.bar_chart([t for _, t in METRICS], series, label=f"{method} beside its baselines on the target's test part",
                             y_label="value on the target's test part", y_max=1.0, width=720, colours=colours)
    sources = [s.get("name", "?") for s in setup.get("sources", [])]
    target = (setup.get("target") or {}).get("name", "?")
    tl = setup.get("target_labels") or {}
    budget = (f"{tl.get('labelled_sequences', '?'):,} labelled target sequences ({tl.get('labelled_anomalies', '?')} anomalous; "
              f"amount {tl.get('amount')} of each class" + (f", {tl['normal_amount']} of the normals" if tl.get("normal_amount") not in (None, tl.get("amount")) else "") + "), "
              f"{tl.get('unlabelled_training_sequences', 0):,} training sequences without labels") if tl else "-"
    histories = []
    for name, d in [(method, details.get("method") or {}), *(details.get("baselines") or {}).items()]:
        h = _history_figure(name, d)
        if h:
            cp = (d.get("checkpoint") or {})
            histories.append((svg(h), f"{name}: loss per epoch; the ring is the checkpoint kept ({cp.get('policy', '?')})."))
    rows = []
    for n, r in models:
        m, c = r.get("metrics") or {}, r.get("counts") or {}
        rows.append([n, *(("-" if m.get(k) is None else f"{m[k]:.3f}") for k, _ in METRICS),
                     "/".join(str(c.get(k, "-")) for k in ("tp", "fp", "tn", "fn")) if c else r.get("note", "-")])
    flags = honesty.flags(result)
    for note in details.get("notes") or []:
        flags.append({"level": honesty.WARN, "text": str(note)})
    split = setup.get("target_split") or {}
    cap = (f"{result.get('protocol', 'honest')} protocol; decision rule {honesty.threshold_text(result.get('threshold'))}; "
           f"checkpoint: {details.get('checkpoint_rule', '-')}.")
    if oracle:
        cap = "ORACLE-ON-TEST, not an honest estimate. " + cap
    return {
        "kind": "transfer", "title": f"{method}: {' + '.join(sources) or '?'} → {target}",
        "subtitle": f"logad transfer · {result.get('protocol', 'honest')} protocol · {budget}",
        "flags": flags, "oracle": oracle, "bars": svg(bars), "caption": cap, "histories": histories,
        "columns": ["model", *[t for _, t in METRICS], "tp/fp/tn/fn"], "rows": rows,
        "cards": [{"label": f"{n} F1", "value": "-" if (r.get("metrics") or {}).get("f1") is None else
                   f"{r['metrics']['f1']:.3f}", "oracle": oracle and i == 0, "sub": "the method" if i == 0 else "baseline"}
                  for i, (n, r) in enumerate(models)],
        "setup": [("sources", ", ".join(sources) or "-"), ("target", target), ("target label budget", budget),
                  ("target split", f"{split.get('protocol', '-')}: " + " / ".join(
                      f"{p} {split[p]['sequences']:,} ({split[p]['anomalous']:,} anomalous)" for p in ("train", "validation", "test")
                      if isinstance(split.get(p), dict))),
                  ("decision rule", honesty.threshold_text(result.get("threshold"))),
                  ("checkpoint rule", details.get("checkpoint_rule", "-")),
                  ("seed", setup.get("seed", "-")), ("seconds", fmt(result.get("seconds")))],
        "params": sorted((k, str(v)) for k, v in (result.get("params") or details.get("params") or {}).items()),
        "names": names,
        "sections": [("summary", "summary"), ("models", "method vs baselines"),
                     *([("training", "training")] if histories else []), ("setup", "setup")],
    }


def transfer_page(result: dict, *, source: str | None = None) -> str:
    return render("transfer.html", source=source, **transfer_context(result))


def _load_beside(path: Path, name: str) -> dict | None:
    p = path.with_name(name)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def tune_context(data: dict, source: str | None = None) -> dict:
    from logad.report.evaluate import score_figures

    here = Path(source) if source else None
    trials_doc = data if data.get("kind") == "logad-tune-trials" else (_load_beside(here, "trials.json") if here else None)
    best_doc = data if data.get("kind") == "logad-tune-best" else (_load_beside(here, "best.json") if here else None)
    retrain = _load_beside(here, "retrain.json") if here else None
    notes: list[str] = []
    trials = (trials_doc or {}).get("trials") or []
    obj = (trials_doc or best_doc or {}).get("objective") or {}
    oname, mode = obj.get("name", "objective"), obj.get("mode", (trials_doc or {}).get("mode", "max"))
    detector = (trials_doc or best_doc or {}).get("detector", "?")
    best_index = (trials_doc or {}).get("best_trial")
    if best_index is None and best_doc:
        best_index = (best_doc.get("objective") or {}).get("trial")
    best = next((t for t in trials if t.get("index") == best_index), None)
    figs = []
    if trials:
        pts = [{"x": t["index"], "y": t.get("objective"), "colour": STATUS_COLOURS.get(t.get("status"), MUTED),
                "tip": f"trial {t['index']} ({t.get('status')}): {oname} {fmt(t.get('objective'))}; "
                       + ", ".join(f"{k}={_short(v)}" for k, v in (t.get("config") or {}).items())} for t in trials]
        figs.append(svg(figures.scatter(
            pts, x_label="trial (in the order started)", y_label=f"{oname} on validation", label="trials over time",
            legend_items=[(s, c) for s, c in STATUS_COLOURS.items()],
            best={"x": best["index"], "y": best.get("objective"), "label": f"best: trial {best['index']}"} if best else None)))
        curves = []
        for t in trials:
            its = t.get("iterations") or []
            if len(its) > 1:
                is_best = best is not None and t["index"] == best["index"]
                curves.append({"name": f"trial {t['index']}" + (" (best)" if is_best else ""),
                               "x": [i["step"] for i in its], "y": [i.get("objective") for i in its],
                               "colour": INK if is_best else PALETTE[t["index"] % len(PALETTE)]})
        if curves:
            figs.append(svg(figures.curve_chart(curves[:16], x_label="epoch (report)", y_label=f"{oname} on validation",
                                                label="learning curves of the trials", kind="learning", width=480)))
        space = (trials_doc or {}).get("space") or {}
        for pname in space or sorted({k for t in trials for k in (t.get("config") or {})}):
            vals = [(t.get("config") or {}).get(pname) for t in trials]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals if v is not None)
            kind = str((space.get(pname) or {}).get("kind", "")) if isinstance(space.get(pname), dict) else ""
            cats = sorted({str(v) for v in vals}) if not numeric else []
            ppts = [{"x": v if numeric else cats.index(str(v)), "y": t.get("objective"),
                     "colour": STATUS_COLOURS.get(t.get("status"), MUTED), "tip": f"trial {t['index']}: {pname}={_short(v)}"}
                    for t, v in zip(trials, vals) if v is not None]
            figs.append(svg(figures.scatter(
                ppts, x_label=pname, y_label=oname, label=f"{oname} against {pname}", width=360,
                log_x=kind.startswith("log"), x_ticks=None if numeric else [(i, c) for i, c in enumerate(cats)])))
    else:
        notes.append("No trials.json here: only the best configuration is shown.")
    rows = [[t.get("index"), t.get("status"), fmt(t.get("objective"), 4), t.get("reports", "-"), fmt(t.get("seconds")),
             ", ".join(f"{k}={_short(v)}" for k, v in (t.get("config") or {}).items()), (t.get("error") or "")[:120]]
            for t in trials]
    ctx = {
        "kind": "tune", "title": f"tuning {detector}: {oname} ({mode}) on validation",
        "subtitle": f"logad tune · {len(trials)} trials · the test part never reached a trial",
        "flags": [], "figures": figs, "rows": rows, "notes": notes,
        "columns": ["trial", "status", oname, "reports", "seconds", "configuration", "error"],
        "best": best_doc, "retrain": None, "source": source,
        "prov": f"Every trial fit on the training part and was scored on the validation part ({oname}, {mode}imised); "
                "the test part was withheld from the search.",
    }
    if best_doc:
        ctx["best_rows"] = [("configuration", ", ".join(f"{k}={_short(v)}" for k, v in (best_doc.get("config") or {}).items())),
                            (f"{oname} on validation", fmt((best_doc.get("objective") or {}).get("value"), 4)),
                            ("trials / completed / stopped early / errors",
                             "{trials} / {completed} / {stopped_early} / {errors}".format(**{
                                 k: (best_doc.get("search") or {}).get(k, "-") for k in ("trials", "completed", "stopped_early", "errors")})),
                            ("search seconds", fmt((best_doc.get("search") or {}).get("seconds"))),
                            ("dataset", best_doc.get("dataset", "-"))]
    if retrain:
        m = retrain.get("metrics") or {}
        ctx["retrain"] = {"note": (retrain.get("tuning") or {}).get("note", ""),
                          "cards": [{"label": k, "value": "-" if m.get(k) is None else f"{m[k]:.3f}"}
                                    for k in ("f1", "precision", "recall", "fpr", "roc_auc")],
                          "threshold": honesty.threshold_text(retrain.get("threshold")), **score_figures(retrain)}
    ctx["sections"] = [("trials", "trials"), *([("best", "best")] if best_doc else []),
                       *([("retrain", "test, once")] if retrain else []), ("table", "table")]
    return ctx


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def tune_page(data: dict, *, source: str | None = None) -> str:
    return render("tune.html", **tune_context(data, source))
