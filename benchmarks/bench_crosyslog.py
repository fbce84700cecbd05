"""CroSysLog figures: Thunderbird -> BGL at entry level, beside both baselines, in one run.

    python benchmarks/bench_crosyslog.py [--data-dir ../shared/data] [--seeds 0,1,2]
                                         [--variants default,first-order,masked-mean] [--no-original]

Source `thunderbird_slice`; targets `bgl_2k` and `bgl_text_windows`; 1,000 labelled target
entries (the first 1,000 in file order); every target entry after them is evaluated. For every
seed and variant the meta-trained model is trained once on the source, saved, and adapted to both
targets from the saved folder (save/load in use). Prints and writes
`benchmarks/results/crosyslog.md` (and the raw results as `crosyslog.json`).

Variants (fixed before any target figure was seen; the headline is `default`):
- default: second-order MAML, MiniLM with CroSysLog's rule (mean over all positions, the
  original per-system token lengths: BGL 10, Thunderbird 17);
- first-order: the same with first-order MAML;
- masked-mean: second-order MAML, MiniLM masked mean over up to 64 tokens (the Thunderbird
  alert's words "failed ... Fatal error" lie beyond its 17-token original cut).
Added after the first run's figures were seen, and marked post-hoc (never the headline):
- finetune-adamw: the default meta-trained model adapted with 200 AdamW steps (lr 1e-3), the
  budget of the `target-only-adamw` baseline (which is then also its same-rule baseline).
The original protocol (best of 15 adaptation steps judged on the query labels, support and query
allowed to overlap) is run once per target on the seed-0 default model and marked oracle-on-test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.detectors.crosssystem.crosyslog import CroSysLogConfig  # noqa: E402
from logad.errors import InputError  # noqa: E402
from logad.experiments.crosyslog import prepare, run_transfer  # noqa: E402
from logad.experiments.transfer import make_setup  # noqa: E402
from logad.pipeline.systems import load_system  # noqa: E402

LABELLED = 1000
VARIANTS = {
    "default": {},
    "first-order": {"first_order": True},
    "masked-mean": {"pooling": "mean", "max_length": 64},
    # added AFTER the first run's figures were seen (not the headline): the default meta-trained
    # model fine-tuned with the same 200 AdamW steps as the `target-only-adamw` baseline, to ask
    # whether the meta-learned start helps under that longer budget
    "finetune-adamw": {"adapt_optimizer": "adamw", "adapt_steps": 200, "adapt_lr": 1e-3},
}
REUSE = {"finetune-adamw": "default"}  # adapts the saved model of another variant (same meta-training)
# the original meta-test on these small targets: its 20 tasks of 1,000 + 10,000 entries with a
# support anomaly ratio >= 0.2 do not exist in 2,000 or 2,500 entries (nor two disjoint 1,000-entry
# supports with >= 5 % anomalies in bgl_2k); the nearest feasible draw: one task
ORIGINAL = {"target_tasks": 1, "target_k_spt": 1000, "target_k_qry": 1000, "target_spt_ratio": (0.05, 0.5),
            "target_qry_ratio": (0.01, 0.5), "oracle_steps": 15}


def load(data_dir: Path) -> tuple:
    source = load_system(f"thunderbird={data_dir / 'thunderbird_slice'}", entries=True, cache=True)
    targets = [load_system(f"bgl={data_dir / 'bgl_2k'}", entries=True, cache=True),
               load_system(f"bgl-text-windows={data_dir / 'bgl_text_windows'}")]
    return source, targets


def embedding_cost(systems: list, params: dict, cache: str) -> list[dict]:
    """Encode every dataset once into an EMPTY cache: the real embedding cost."""
    cfg = CroSysLogConfig.from_params({**params, "encoder_cache": cache})
    rows = []
    for s in systems:
        st = prepare(s, cfg).embedding
        rows.append({"dataset": s.name, "pooling": cfg.pooling, "max_length": cfg.max_length_for(s.system),
                     "entries": st["entries"], "unique": st["unique_messages"], "encoded": st["encoded"],
                     "per_s": st["encoded_per_second"], "encode_s": st["encode_seconds"],
                     "load_s": st["model_load_seconds"]})
        print(f"  embed {s.name} ({cfg.pooling}, {rows[-1]['max_length']} tokens): {st['unique_messages']} unique "
              f"of {st['entries']}, {st['encoded_per_second'] or 0:.0f}/s, {st['encode_seconds']:.1f}s", flush=True)
    return rows


def figures(result: dict) -> dict:
    out = {"crosyslog": result["metrics"]}
    for name, b in result["baselines"].items():
        out[name] = b["metrics"]
    for name, b in result["details"]["extra_baselines"].items():
        out[name] = b["metrics"]
    return out


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--no-original", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "crosyslog.md"))
    args = ap.parse_args(argv)
    data_dir = data_dir_or_none(Path(args.data_dir).resolve())
    if data_dir is None:  # it crashed here before: benchmarks skip cleanly without the shared data
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    t_all = time.perf_counter()
    source, targets = load(data_dir)
    work = Path(tempfile.mkdtemp(prefix="crosyslog-bench-"))
    cache = str(work / "embeddings")

    print("embedding cost (empty cache)", flush=True)
    emb_rows = []
    seen_reprs = set()
    for v in variants:
        rep = (VARIANTS[v].get("pooling", "mean-all"), VARIANTS[v].get("max_length"))
        if rep not in seen_reprs:
            seen_reprs.add(rep)
            emb_rows += embedding_cost([source, *targets], VARIANTS[v], cache)

    runs: dict = {}  # (variant, target, seed) -> result
    for seed in seeds:
        for v in variants:
            model_dir = work / f"model-{REUSE.get(v, v)}-{seed}"
            for i, target in enumerate(targets):
                params = {**VARIANTS[v], "encoder_cache": cache}
                params["save_dir" if i == 0 and v not in REUSE else "model_dir"] = str(model_dir)
                t0 = time.perf_counter()
                r = run_transfer(make_setup([source], target, LABELLED, seed=seed), params)
                runs[(v, target.name, seed)] = r
                f = figures(r)
                print(f"  seed {seed} {v:11s} {target.name:16s} crosyslog F1 {f['crosyslog']['f1']:.3f} | "
                      f"target-only {f['target-only']['f1']:.3f} | source-only {f['source-only']['f1']:.3f} | "
                      f"target-only-adamw {f['target-only-adamw']['f1']:.3f} | "
                      f"source-only-meta {f['source-only-meta']['f1']:.3f}  ({time.perf_counter() - t0:.0f}s)", flush=True)

    original = {}
    if not args.no_original and "default" in variants:
        for target in targets:
            params = {**ORIGINAL, "encoder_cache": cache, "model_dir": str(work / f"model-default-{seeds[0]}")}
            try:
                r = run_transfer(make_setup([source], target, LABELLED, seed=seeds[0], protocol="original"), params)
            except InputError as exc:  # the original's block constraints may have no solution here
                original[target.name] = {"error": str(exc)}
                print(f"  original protocol {target.name}: {exc}", flush=True)
                continue
            original[target.name] = r
            print(f"  original protocol {target.name}: F1 {r['metrics']['f1']:.3f} (oracle-on-test), "
                  f"target-only {r['baselines']['target-only']['metrics']['f1']:.3f}", flush=True)

    md = report(runs, original, emb_rows, seeds, variants, source, targets, time.perf_counter() - t_all)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md, encoding="utf-8")
    raw = {f"{v}|{t}|{s}": r for (v, t, s), r in runs.items()}
    raw.update({f"original|{t}": r for t, r in original.items()})
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str) + "\n", encoding="utf-8")
    print(md)
    print(f"wrote {out}")
    return 0


BASELINES = ("target-only", "source-only")
EXTRA = ("target-only-adamw", "source-only-meta")


def report(runs, original, emb_rows, seeds, variants, source, targets, seconds) -> str:
    lines = ["# CroSysLog: Thunderbird -> BGL at entry level", "",
             f"Source `thunderbird_slice` ({len(source.entries)} entries, {int(source.entries.labels.sum())} alerts); "
             f"{LABELLED} labelled target entries (the first {LABELLED} in file order, a contiguous block); every "
             "target entry after them is evaluated (no overlap). Entry-level F1/precision/recall of the anomalous "
             f"class; mean ± sample std over seeds {', '.join(map(str, seeds))} (all seeds shown, none picked). "
             "Honest protocol: adaptation steps fixed in advance (10 SGD steps, lr 0.5; `finetune-adamw`: 200 AdamW "
             "steps, lr 1e-3), argmax decision (the paper's rule), no hyper-parameter chosen on target labels. "
             "Variants: `default` = second-order MAML on MiniLM vectors pooled as CroSysLog pooled BERT (mean over "
             "all positions, the original token lengths BGL 10 / Thunderbird 17); `first-order` = the same with "
             "first-order MAML; `masked-mean` = masked mean over up to 64 tokens; these three were fixed before any "
             "target figure was seen. `finetune-adamw` (post-hoc, added after seeing the first run) adapts the "
             "default meta-trained model with the AdamW budget of the `target-only-adamw` baseline.", "",
             "Baselines (the verdict uses the first two): `target-only` = the same LSTM tagger from fresh weights "
             "trained on the 1,000 labelled entries with the method's own adaptation rule; `source-only` = the same "
             "tagger trained plainly (supervised) on the source, applied with no adaptation. Shown beside them: "
             "`target-only-adamw` (fresh weights, 200 AdamW steps on the labelled entries, a stronger budget) and "
             "`source-only-meta` (the meta-trained weights, no adaptation).", ""]
    for target in targets:
        name = target.name
        lines += [f"## {name}", "",
                  "| variant | model | F1 | precision | recall | ROC AUC | F1 per seed |", "|---|---|---|---|---|---|---|"]
        verdicts = []
        for v in variants:
            rows = [runs[(v, name, s)] for s in seeds if (v, name, s) in runs]
            if not rows:
                continue
            figs = [figures(r) for r in rows]
            for model in ("crosyslog", *BASELINES, *EXTRA):
                f1 = [f[model]["f1"] for f in figs]
                auc = [f[model]["roc_auc"] for f in figs if f[model]["roc_auc"] is not None]
                lines.append(f"| {v} | {model} | {fmt(f1)} | {fmt([f[model]['precision'] for f in figs])} | "
                             f"{fmt([f[model]['recall'] for f in figs])} | {fmt(auc)} | "
                             f"{', '.join(f'{x:.3f}' for x in f1)} |")
            mean = {m: statistics.mean(f[m]["f1"] for f in figs) for m in ("crosyslog", *BASELINES, *EXTRA)}
            wins = {m: sum(f["crosyslog"]["f1"] > f[m]["f1"] for f in figs) for m in (*BASELINES, *EXTRA)}
            both = all(mean["crosyslog"] > mean[m] for m in BASELINES)
            strict = all(mean["crosyslog"] > mean[m] for m in (*BASELINES, *EXTRA))
            verdicts.append(
                f"- **{v}**{' (post-hoc)' if v in REUSE else ''}: {'BEATS' if both else 'does NOT beat'} both baselines "
                f"(mean F1 {mean['crosyslog']:.3f} vs target-only {mean['target-only']:.3f}, "
                f"source-only {mean['source-only']:.3f}; higher F1 in {wins['target-only']}/{len(figs)} and "
                f"{wins['source-only']}/{len(figs)} seeds); against the extra baselines as well: "
                f"{'yes' if strict else 'no'} (target-only-adamw {mean['target-only-adamw']:.3f}, "
                f"source-only-meta {mean['source-only-meta']:.3f})")
        r0 = next(runs[k] for k in runs if k[1] == name)
        d = r0["details"]
        lines += ["", f"Evaluated: {d['evaluated_entries']} entries ({d['evaluated_anomalies']} anomalous); the "
                  f"labelled support holds {d['support_anomalies']} anomalies.", "", *verdicts, ""]
        if name in original and "error" in original[name]:
            lines += [f"Original protocol: could not be run ({original[name]['error']}).", ""]
        elif name in original:
            o = original[name]
            lines += [f"Original protocol (oracle-on-test; seed {seeds[0]}, default model): F1 "
                      f"{o['metrics']['f1']:.3f} (precision {o['metrics']['precision']:.3f}, recall "
                      f"{o['metrics']['recall']:.3f}), mean over {o['metrics']['averaged_over_tasks']} target tasks, "
                      f"each task's best of 15 steps judged on its query labels (steps kept: "
                      f"{o['threshold']['steps_kept']}); {o['details']['support_query_overlapping_tasks']} of them "
                      "with support and query overlapping. Same tasks, target-only "
                      f"{o['baselines']['target-only']['metrics']['f1']:.3f}, source-only "
                      f"{o['baselines']['source-only']['metrics']['f1']:.3f}. Not an honest estimate: shown to "
                      "measure the original's leak.", ""]

    lines += ["## Embedding cost (each unique message encoded once, empty cache)", "",
              "| dataset | pooling | tokens | entries | unique messages | encoded/s | encode s | model load s |",
              "|---|---|---|---|---|---|---|---|"]
    for e in emb_rows:
        lines.append(f"| {e['dataset']} | {e['pooling']} | {e['max_length']} | {e['entries']:,} | {e['unique']:,} | "
                     f"{e['per_s'] or 0:,.0f} | {e['encode_s']:.1f} | {e['load_s']:.1f} |")
    lines += ["", "## Training and adaptation seconds (mean over seeds)", "",
              "| variant | meta-training s (source) | iterations | adaptation s (bgl_2k) | target-only-adamw s | "
              "source-only supervised s |", "|---|---|---|---|---|---|"]
    for v in variants:
        rows = [runs[(v, targets[0].name, s)] for s in seeds if (v, targets[0].name, s) in runs]
        if rows:
            sec = [r["details"]["seconds"] for r in rows]
            lines.append(f"| {v} | {statistics.mean(s['meta_train'] for s in sec):.0f} | "
                         f"{rows[0]['details']['meta_training']['iterations']} | "
                         f"{statistics.mean(s['adapt'] for s in sec):.2f} | "
                         f"{statistics.mean(s['target_only_adamw_train'] for s in sec):.1f} | "
                         f"{statistics.mean(s['source_only_supervised_train'] for s in sec):.1f} |")
    lines += ["", f"Whole run: {seconds / 60:.1f} min on 2 shared CPU cores (torch 1 thread; other jobs were running, "
              "so wall times are inflated).", "", "## Limits of the data", "",
              "- `thunderbird_slice`: 19,350 lines of one 68-minute slice; its 715 alert lines are 714 lines of ONE "
              "node and ONE template (an InfiniBand `EVAPI_process_local_mad failed ... Fatal error` message) plus "
              "one CPU line. Every source task therefore teaches the same single alert; messages that read like "
              "failures (`Device in FATAL state`, `Failed to GetNodeInfo`, `mad_process failed`) are labelled "
              "normal. With the original 17-token cut the alert's embedding only sees "
              "`kernel: [KERNEL_IB][tsIbTavorMadProces`: nothing of its failure words.",
              "- `bgl_2k`: 2,000 lines with 143 alerts; the first 1,000 (labelled) hold 96, mostly `data TLB error "
              "interrupt` and `data storage interrupt`; the 47 alerts evaluated are all of message patterns absent "
              "from the labelled part (`ciod: Error reading message prefix`, `Lustre mount FAILED`, `rts: kernel "
              "terminated`, ...), while normal lines there also read like errors (`ciod: Error loading`, "
              "`LOGIN chdir(...) failed`). One run's F1 moves a lot with a handful of entries.",
              "- `bgl_text_windows`: 25 stored windows of 100 messages (337 anomalous lines, in 5 windows; stored "
              "without time, taken in file order); the labelled 10 windows hold 171 anomalous lines, the evaluated "
              "15 windows 166, almost all of message patterns present in the labelled part.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
