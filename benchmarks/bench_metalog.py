"""MetaLog's cross-system figures, in one run: HDFS -> OpenStack and OpenStack -> HDFS.

    python benchmarks/bench_metalog.py [--data-dir ../shared/data] [--seeds 0[,1,2]] [--quick]
        [--hdfs 2pct|sessions] [--directions hdfs-openstack,openstack-hdfs] [--protocol honest|original]
        [--variant NAME --param K=V ...]

The issue's experiment (`logad transfer --method metalog`): a labelled source system, a target
system with 1 % of its training anomalies (and 1 % of its training normals) labelled, the rest of
the target's training part unlabelled (pseudo-labelled by MetaLog). Per direction: the target's
test F1 / precision / recall / FPR of MetaLog beside its two baselines (the same model trained on
the target's labels alone, and on the source alone, zero-shot), whether the target is met (F1 >=
0.90 and above both baselines), training seconds, and the template-vector cost (unique templates,
vectors computed per second, seconds; computed into a fresh cache so nothing is a cache hit).

HDFS is `hdfs_2pct` by default (raw lines -> Drain -> block sessions, chronological 60/10/30):
about a third of `hdfs_sessions`' sequences (6,901 training sessions instead of 20,076: each
epoch costs about a third as much, as source and as target) and the fairer test: HDFS's own ~3 %
anomaly rate in time order, where `hdfs_sessions` pools every anomaly with 2 % of the normals
(a test part half anomalous, which inflates precision and F1). `openstack_sessions` carries no
time, so it is pooled and split by a seeded, stratified shuffle (`split="pooled"`: its own training
file holds 50 normal sessions and no anomaly, nothing for a 1 % budget of anomalies).

Nothing is tuned on target test labels: the checkpoint is chosen on validation (each source's
validation split + the target's labelled budget), the decision rule is the paper's fixed
P(anomalous) >= 0.5. `--protocol original` runs MetaLog's own cutters and keeps the best-TEST epoch,
as the original code did; those rows are marked oracle-on-test.

`--variant NAME --param K=V` runs MetaLog with changed parameters (e.g. the ablation
`pseudo_labels=false`); such rows are marked POST-HOC and are never the figure.

Results accumulate in `benchmarks/results/metalog.json` (one entry per direction, protocol, seed;
a rerun replaces its own entries) and `metalog.md` is written from all of them. `--quick` (2
epochs, baselines included) only checks that everything runs; it writes nothing unless `--out`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.evaluation.runner import markdown_table  # noqa: E402

TARGET_F1 = 0.90  # issue 19: >= 0.90 at 1 %/1 %, each seed (issue 4 asked 0.80)
AMOUNT = 0.01
SPLIT = "pooled"  # every system pooled, as the published runs were (see above)
SYSTEMS = {
    "hdfs": {"2pct": ("hdfs", "hdfs_2pct"), "sessions": ("hdfs-sessions", "hdfs_sessions")},
    "openstack": ("openstack-sessions", "openstack_sessions"),
    # the development pair (another pair of systems): 20-line windows over each node's own lines,
    # the MLAD benchmark's grouping
    "thunderbird": ("thunderbird", "thunderbird_slice"),
    "bgl": ("bgl", "bgl_2k"),
}
PER_NODE = {"thunderbird", "bgl"}
DIRECTIONS = ("hdfs-openstack", "openstack-hdfs", "thunderbird-bgl", "bgl-thunderbird")
# named label settings: the budget, and the original code's (half of the target's normals)
SETTINGS = {"each-class": None, "metalog-code": 0.5}
COLUMNS = [("direction", "direction"), ("protocol", "protocol"), ("seed", "seed"), ("model", "model"),
           ("f1", "F1"), ("precision", "precision"), ("recall", "recall"), ("fpr", "FPR"), ("roc_auc", "ROC-AUC"),
           ("counts", "tp/fp/tn/fn"), ("train_s", "train s"), ("checkpoint", "checkpoint epoch")]
SUMMARY_COLUMNS = [("direction", "direction"), ("protocol", "protocol"), ("seeds", "seeds"), ("f1", "MetaLog F1"),
                   ("per_seed", "MetaLog F1 per seed"),
                   ("target_only", "target-only F1"), ("source_only", "source-only F1"), ("fpr", "MetaLog FPR"),
                   ("met", f"F1 >= {TARGET_F1} and above both"), ("train_s", "MetaLog train s")]
EMBED_COLUMNS = [("direction", "direction"), ("protocol", "protocol"), ("seed", "seed"), ("unique", "unique templates"),
                 ("computed", "vectors computed"), ("rate", "computed/s"), ("seconds", "computing s"),
                 ("load", "loading GloVe s"), ("total", "template space s")]


def system_spec(data: Path, kind: str, hdfs: str) -> tuple[str, str]:
    dataset, folder = SYSTEMS["hdfs"][hdfs] if kind == "hdfs" else SYSTEMS[kind]
    label = folder
    return f"{dataset}={data / folder}", label


def one_run(data: Path, direction: str, seed: int, args, loaded: dict) -> dict:
    from logad.experiments.metalog import run_transfer
    from logad.experiments.transfer import make_setup
    from logad.progress import Progress

    src_kind, tgt_kind = direction.split("-")
    systems = {kind: load(data, kind, args.hdfs, loaded) for kind in (src_kind, tgt_kind)}
    source, target = systems[src_kind][0], systems[tgt_kind][0]
    setup = make_setup([source], target, AMOUNT, seed=seed, protocol=args.protocol, normal_amount=args.normal_labels,
                       label_setting=args.setting, split=SPLIT)
    if args.development:  # figures on the target's VALIDATION part (never read by the method); test untouched
        setup.target_split = development_split(setup.target_split)
    params: dict = dict(args.params)
    if args.rule:
        params["pseudo_rule"] = args.rule
    if args.no_baselines:
        params["baselines"] = False
    if args.quick:
        params["epochs"] = 2
    with tempfile.TemporaryDirectory(prefix="metalog-vectors-") as cache:
        params["cache_dir"] = cache  # a fresh cache: the embedding cost is measured, not read back
        t0 = time.perf_counter()
        res = run_transfer(setup, params, Progress())
        wall = time.perf_counter() - t0
    return {
        "direction": f"{systems[src_kind][1]} -> {systems[tgt_kind][1]}",
        "key": direction,
        "protocol": args.protocol,
        "seed": seed,
        "quick": bool(args.quick),
        "variant": args.variant,
        "variant_params": args.params,
        "hdfs": args.hdfs,
        "normal_labels": args.normal_labels,
        "rule": res["details"]["params"].get("pseudo_rule"),
        "development": bool(args.development),
        "load_seconds": {systems[k][1]: systems[k][2] for k in systems},
        "wall_seconds": wall,
        "result": res,
    }


def development_split(split):
    """The split with its validation part as the part evaluated: MetaLog never reads the target's
    validation labels (its checkpoint uses the sources' validation and the labelled budget), so
    development figures come from there and the test part is never read."""
    from dataclasses import replace

    return replace(split, test=list(split.validation), details={**split.details, "evaluated": "validation part"})


def load(data: Path, kind: str, hdfs: str, loaded: dict):
    from logad.pipeline.systems import load_system

    spec, label = system_spec(data, kind, hdfs)
    if spec not in loaded:
        t0 = time.perf_counter()
        loaded[spec] = (load_system(spec, per_entity=kind in PER_NODE, cache=True), time.perf_counter() - t0)
    return loaded[spec][0], label, loaded[spec][1]


def pseudo_check(data: Path, run: dict, loaded: dict) -> dict:
    """DIAGNOSTIC, for the report only: the method's pseudo-labels (recomputed exactly as
    `fit_systems` computes them: same vectors, anchors, rule, parameters, seed) against the hidden
    labels of the unlabelled target sequences. Nothing is chosen on it."""
    import numpy as np

    from logad.detectors.crosssystem.metalog import MetaLogDetector, SystemPart, build_template_space
    from logad.experiments.transfer import make_setup

    src_kind, tgt_kind = run["key"].split("-")
    source, target = load(data, src_kind, run["hdfs"], loaded)[0], load(data, tgt_kind, run["hdfs"], loaded)[0]
    setup = make_setup([source], target, AMOUNT, seed=run["seed"], normal_amount=run.get("normal_labels"), split=SPLIT)
    p = run["result"]["details"]["params"]
    det = MetaLogDetector(**{k: p[k] for k in MetaLogDetector._param_names() if k in p})
    with tempfile.TemporaryDirectory(prefix="metalog-vectors-") as cache:
        ids = {target.name: {t for s in setup.target_split.train for t in s.template_ids}}
        det._set_space(build_template_space({target.name: target.templates}, word_vectors=p["word_vectors"],
                                            cache_dir=cache, seed=p["seed"], ids=ids))
    lab, y = setup.labelled_target()
    pl = det._pseudo_labels(target.name, SystemPart(target.name, lab, y), setup.unlabelled_target())
    unl = [s for s, m in zip(setup.target_split.train, setup.labelled) if not m]  # with their hidden labels
    truth = np.array([s.label for s in unl])
    used = pl.used
    soft = np.full(len(unl), np.nan)
    soft[used] = pl.soft_targets()
    pa = used & (soft > 0.5)
    out = {"unlabelled": int(len(unl)), "hidden_anomalies": int(truth.sum()), "used": int(used.sum()),
           "pseudo_anomalous": int(pa.sum()), "pseudo_anomalous_truly_anomalous": int((pa & (truth == 1)).sum()),
           "hidden_anomalies_pseudo_normal": int((used & (soft < 0.5) & (truth == 1)).sum()),
           "normals_at_one_half": int((used & (soft == 0.5) & (truth == 0)).sum()),
           "same_as_run": pl.info.get("pseudo_anomalous") == (run["result"]["details"]["method"].get("pseudo_labels") or {}).get("pseudo_anomalous")}
    return out


def proto_label(run: dict) -> str:
    label = run["protocol"] + (" (oracle-on-test)" if run["protocol"] == "original" else "")
    if run.get("normal_labels") is not None and run["protocol"] == "honest":
        label += f", {run['normal_labels']:.0%} of normals labelled"
    if run.get("rule"):
        label += f", pseudo-labels {run['rule']}"
    if run.get("development"):
        label += ", DEVELOPMENT (target validation part)"
    if run.get("variant"):
        label += f", POST-HOC {run['variant']}: " + ", ".join(f"{k}={v}" for k, v in run["variant_params"].items())
    return label


def _fig(metrics: dict | None, key: str):
    return None if not metrics else metrics.get(key)


def rows_of(run: dict) -> list[dict]:
    res = run["result"]
    d = res["details"]
    proto = proto_label(run)
    out = []
    models = [("MetaLog", res, d["method"])]
    for name in ("target-only", "source-only"):
        if name in res.get("baselines", {}):
            models.append((name, res["baselines"][name], d["baselines"].get(name, {})))
    for name, figs, det in models:
        m, c = figs.get("metrics"), figs.get("counts")
        out.append({
            "direction": run["direction"], "protocol": proto, "seed": run["seed"], "model": name,
            "f1": _fig(m, "f1"), "precision": _fig(m, "precision"), "recall": _fig(m, "recall"), "fpr": _fig(m, "fpr"),
            "roc_auc": _fig(m, "roc_auc"),
            "counts": "/".join(str(c[k]) for k in ("tp", "fp", "tn", "fn")) if c else "-",
            "train_s": det.get("train_seconds"), "checkpoint": (det.get("checkpoint") or {}).get("epoch"),
        })
    return out


def met(res: dict) -> bool | None:
    f1 = _fig(res.get("metrics"), "f1")
    if f1 is None:
        return None
    bases = [_fig(b.get("metrics"), "f1") for b in res.get("baselines", {}).values()]
    return f1 >= TARGET_F1 and all(b is None or f1 > b for b in bases)


def summary(runs: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["direction"], proto_label(r)), []).append(r)

    def agg(values):
        values = [v for v in values if v is not None]
        if not values:
            return None
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    out = []
    for (direction, protocol), rs in groups.items():
        res = [r["result"] for r in rs]
        oks = [met(x) for x in res]
        out.append({
            "direction": direction, "protocol": protocol,
            "seeds": ",".join(str(r["seed"]) for r in rs),
            "f1": agg([_fig(x["metrics"], "f1") for x in res]),
            "per_seed": " / ".join("-" if _fig(x["metrics"], "f1") is None else f"{_fig(x['metrics'], 'f1'):.3f}" for x in res),
            "target_only": agg([_fig(x["baselines"].get("target-only", {}).get("metrics"), "f1") for x in res]),
            "source_only": agg([_fig(x["baselines"].get("source-only", {}).get("metrics"), "f1") for x in res]),
            "fpr": agg([_fig(x["metrics"], "fpr") for x in res]),
            "met": ("not comparable (oracle-on-test)" if "oracle" in protocol else
                    "not the figure (post-hoc)" if "POST-HOC" in protocol else
                    f"{'yes' if all(oks) else 'no'} ({sum(bool(o) for o in oks)}/{len(oks)} seeds)"),
            "train_s": agg([x["details"]["method"]["train_seconds"] for x in res]),
        })
    return out


def embed_rows(runs: list[dict]) -> list[dict]:
    out = []
    for r in runs:
        v = r["result"]["details"]["template_vectors"]
        rate = v["computed"] / v["seconds"] if v.get("seconds") else None
        out.append({"direction": r["direction"], "protocol": proto_label(r), "seed": r["seed"], "unique": v.get("unique_templates"),
                    "computed": v.get("computed"), "rate": f"{rate:,.0f}" if rate else "-",
                    "seconds": v.get("seconds"), "load": v.get("load_seconds"), "total": v.get("seconds_total")})
    return out


def notes_of(runs: list[dict]) -> list[str]:
    lines = []
    for r in runs:
        d = r["result"]["details"]
        tl = d["setup"]["target_labels"]
        pl = d["method"].get("pseudo_labels") or {}
        hist = d["method"]["history"]
        val = ", ".join(f"{x:.4f}" for x in hist["val_loss"])
        if r["protocol"] == "original":  # the original's own cut: the --target-labels budget is not used
            labelled = (f"labelled target = {pl.get('anchors')} training normals (the first 50 %), "
                        f"{pl.get('unlabelled')} unlabelled (the ~1 % of training anomalies the filter keeps included); ")
        else:
            labelled = (f"labelled target {tl['labelled_sequences']} sequences ({tl['labelled_anomalies']} anomalous), "
                        f"{tl['unlabelled_training_sequences']} unlabelled; ")
        lines.append(
            f"- {r['direction']} ({proto_label(r)}, seed {r['seed']}): {labelled}"
            + (f"pseudo-labels: {pl.get('pseudo_normal')} normal / {pl.get('pseudo_anomalous')} anomalous "
               f"({pl.get('clusters')} clusters, {pl.get('normal_clusters')} anchored normal, status {pl.get('status')!r}); "
               if pl else "no pseudo-labels; ") +
            f"validation loss by epoch: {val}; stopped: {hist['stopped']}; wall {r['wall_seconds']:.0f}s "
            f"(every model of the run)."
        )
        pc = r.get("pseudo_check")
        if pc and "error" not in pc:
            lines.append(
                f"  - diagnostic (hidden labels, reporting only): of {pc['pseudo_anomalous']} pseudo-anomalous "
                f"unlabelled sequences {pc['pseudo_anomalous_truly_anomalous']} are truly anomalous; "
                f"{pc['hidden_anomalies_pseudo_normal']} of the {pc['hidden_anomalies']} hidden anomalies are "
                f"pseudo-labelled normal; {pc.get('normals_at_one_half', '?')} normals get a 50/50 target "
                f"({pc['used']} of {pc['unlabelled']} unlabelled sequences used)"
                + ("" if pc.get("same_as_run") else " [recomputed counts differ from the run's]"))
        for n in d.get("notes", []):
            lines.append(f"  - note: {n}")
        if r["protocol"] == "original":
            lines.append(f"  - {r['result']['checkpoint']['warning']}")
    return lines


def markdown(runs: list[dict], commands: list[str]) -> str:
    runs = sorted(runs, key=lambda r: (r["protocol"] != "honest", bool(r.get("variant")), r["key"], r["seed"]))
    rows = [row for r in runs for row in rows_of(r)]
    text = [
        "# MetaLog cross-system transfer (`benchmarks/bench_metalog.py`)",
        "",
        "1 % of the target's training anomalies labelled, and 1 % of its normals unless the row says otherwise "
        f"(MetaLog's code labels 50 % of the normals); target: F1 >= {TARGET_F1} and above "
        "both baselines. Honest protocol: checkpoint on validation (source validation split + the target's labelled "
        "budget), fixed decision rule P(anomalous) >= 0.5; no target test label used for any choice.",
        "",
        "## Summary",
        "",
        markdown_table(summary(runs), SUMMARY_COLUMNS),
        "",
        "## Per run",
        "",
        markdown_table(rows, COLUMNS),
        "",
        "## Template vectors (GloVe-50 TF-IDF, fresh cache: every vector computed)",
        "",
        "Each unique (system, template) text is embedded once per run; GloVe is loaded once per process "
        "(0 s when an earlier run of the same process loaded it).",
        "",
        markdown_table(embed_rows(runs), EMBED_COLUMNS),
        "",
        "## Runs",
        "",
        *notes_of(runs),
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands),
        "",
    ]
    return "\n".join(text)


def save(out: Path | None, runs: list[dict], command: str, data: Path, loaded: dict, *, fresh: bool) -> str:
    """Merge `runs` into the results JSON on disk (read afresh: another job may have written
    meanwhile; a rerun replaces its own entries), add the pseudo-label diagnostic where missing,
    write the JSON and the Markdown; return the Markdown."""
    entries, commands = list(runs), [command] if command else []
    path = out.with_suffix(".json") if out is not None else None
    if path is not None and path.exists() and not fresh:
        old = json.loads(path.read_text(encoding="utf-8"))

        def ident(r):
            return (r["key"], r["protocol"], r["seed"], r["hdfs"], r["quick"], r.get("variant"), r.get("normal_labels"),
                    r.get("rule"), r.get("development", False))

        keys = {ident(r) for r in runs}
        entries = [r for r in old.get("runs", []) if ident(r) not in keys] + entries
        commands = [c for c in old.get("commands", []) if c != command] + commands
    for r in entries:  # the pseudo-label diagnostic, for runs that lack it (honest protocol only)
        if r["protocol"] == "honest" and "pseudo_check" not in r and not r.get("quick"):
            try:
                r["pseudo_check"] = pseudo_check(data, r, loaded)
            except Exception as exc:  # noqa: BLE001 - a diagnostic must not lose the results
                r["pseudo_check"] = {"error": repr(exc)}
    text = markdown(entries, commands)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"machine": f"{platform.machine()}, 2 shared CPU cores, torch threads 1", "target_f1": TARGET_F1,
                "amount": AMOUNT, "commands": commands, "runs": entries}
        for suffix, content in ((".json", json.dumps(meta, indent=1, default=str) + "\n"), (".md", text)):
            tmp = out.with_suffix(suffix + ".tmp")
            tmp.write_text(content, encoding="utf-8")
            tmp.replace(out.with_suffix(suffix))
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0: the machine is shared)")
    ap.add_argument("--hdfs", choices=("2pct", "sessions"), default="2pct")
    ap.add_argument("--directions", default=",".join(DIRECTIONS), help=f"comma-separated, of {', '.join(DIRECTIONS)}")
    ap.add_argument("--protocol", choices=("honest", "original"), default="honest")
    ap.add_argument("--quick", action="store_true", help="2 epochs: checks that everything runs; writes nothing")
    ap.add_argument("--out", help="results stem (default benchmarks/results/metalog; none with --quick)")
    ap.add_argument("--fresh", action="store_true", help="drop earlier entries of the results JSON")
    ap.add_argument("--report-only", action="store_true", help="rewrite the Markdown from the results JSON; run nothing")
    ap.add_argument("--param", action="append", default=[], metavar="K=V",
                    help="a MetaLog parameter (JSON value) for a POST-HOC variant run; needs --variant")
    ap.add_argument("--normal-labels", type=float, metavar="FRACTION",
                    help="label this fraction of the target's training normals (default: 1 %%, as the anomalies); "
                    "MetaLog's code labels 0.5 of them")
    ap.add_argument("--variant", help="name of a post-hoc variant: its rows are marked post-hoc, never the figure")
    ap.add_argument("--rule", choices=("original", "distance"),
                    help="MetaLog's pseudo-label rule (default: the detector's default)")
    ap.add_argument("--setting", choices=tuple(SETTINGS),
                    help="named label setting: each-class = 1%% of each class (the issue's), metalog-code = 1%% of the "
                    "anomalies and half of the normals (the original code's; its pseudo-label rule unless --rule)")
    ap.add_argument("--development", action="store_true",
                    help="figures on the target's validation part (never read by MetaLog), not its test part; "
                    "results to benchmarks/results/metalog-development by default")
    ap.add_argument("--no-baselines", action="store_true", help="MetaLog alone (development runs)")
    args = ap.parse_args()
    data = data_dir_or_none(args.data_dir)
    if data is None:
        return 0
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if bool(args.param) != bool(args.variant):
        ap.error("--param and --variant go together (a changed parameter is a post-hoc variant)")
    args.params = {}
    for kv in args.param:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error(f"--param takes K=V, got {kv!r}")
        try:
            args.params[k] = json.loads(v)
        except json.JSONDecodeError:
            args.params[k] = v
    directions = [d.strip() for d in args.directions.split(",") if d.strip()]
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad or not seeds or not directions:
        ap.error(f"--directions must be among {', '.join(DIRECTIONS)}; --seeds must not be empty")

    import torch

    torch.set_num_threads(1)  # 2 cores shared by several engineers: no oversubscription
    if args.setting is not None:
        if args.normal_labels is not None:
            ap.error("--setting and --normal-labels both set the share of labelled normals; give one")
        args.normal_labels = SETTINGS[args.setting]
        if args.setting == "metalog-code" and args.rule is None:
            args.rule = "original"
    stem = "metalog-development" if args.development else "metalog"
    out = Path(args.out) if args.out else (None if args.quick else REPO / "benchmarks" / "results" / stem)
    command = "python benchmarks/bench_metalog.py " + " ".join(sys.argv[1:])
    loaded: dict = {}
    if args.report_only:
        if out is None:
            ap.error("--report-only needs a results stem (not --quick without --out)")
        print(save(out, [], "", data, loaded, fresh=False))
        return 0
    runs: list[dict] = []
    t_all = time.perf_counter()
    text = ""
    for seed in seeds:  # seed-major: a stopped job keeps whole seeds (results are written after each run)
        for direction in directions:
            print(f"== {direction} seed {seed} ({args.protocol}{', quick' if args.quick else ''})", flush=True)
            run = one_run(data, direction, seed, args, loaded)
            runs.append(run)
            for row in rows_of(run):
                print(f"   {row['model']:12s} F1 {row['f1'] if row['f1'] is None else round(row['f1'], 4)}  "
                      f"P {row['precision']}  R {row['recall']}  FPR {row['fpr']}  ({row['counts']})  "
                      f"train {row['train_s']}", flush=True)
            print(f"   target met: {met(run['result'])}; wall {run['wall_seconds']:.0f}s", flush=True)
            text = save(out, runs, command, data, loaded, fresh=args.fresh)
    print(f"all runs: {time.perf_counter() - t_all:.0f}s wall")
    print()
    print(text)
    if out is not None:
        print(f"written {out.with_suffix('.md')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
