"""How long the cross-system methods take, old code beside new code in the same run (issue 19 item 4).

    python benchmarks/bench_crosssystem_speed.py [--data-dir ../shared/data] [--what metalog,mlad,crosyslog]
        [--before-src DIR] [--metalog-params JSON] [--metalog-direction hdfs-openstack] [--seed 0]
        [--profile] [--out benchmarks/results/crosssystem-speed]

Each measurement runs in a fresh process (`--child`), one after another, with one torch thread
(OMP_NUM_THREADS=1): wall seconds, CPU seconds of the process (the time the work takes on one
core; the machine's load moves wall time, CPU time much less), the 1-minute load average before
and after (`/proc/loadavg`), and the figures, so that a faster path is seen to give the same
results. `--before-src DIR` runs every measurement a second time with `DIR` (a `src` folder of an
older commit, e.g. `git archive <commit> src | tar -x -C /tmp/before`) first on PYTHONPATH: the old
code timed in the same run as the new.

- metalog: `logad transfer --method metalog` on hdfs_2pct -> openstack_sessions (1 %/1 %, honest
  protocol, seed 0): loading both systems, then MetaLog and both baselines (`run_transfer`).
- mlad: the four-system model of `bench_mlad.py` (hdfs_sessions, openstack_sessions, bgl_2k,
  thunderbird_slice; seed 42, its parameters): loading, embedding (a cold cache, then the same
  cache warm in a second process), training, the per-system thresholds and test scores.
- crosyslog: `bench_crosyslog.py`'s default variant, seed 0: meta-training on thunderbird_slice and
  adapting to bgl_2k and bgl_text_windows, embedding cache cold then warm.

`--profile` adds the top functions of a cProfile of each child (cumulative time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return None


class Clock:
    """Wall and CPU seconds of named phases."""

    def __init__(self) -> None:
        self.phases: dict[str, dict] = {}

    def run(self, name: str, fn, *args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.phases[name] = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
        return out


def _figures(res: dict) -> dict:
    m, c = res.get("metrics") or {}, res.get("counts") or {}
    return {"f1": m.get("f1"), "precision": m.get("precision"), "recall": m.get("recall"), "fpr": m.get("fpr"),
            "counts": "/".join(str(c.get(k)) for k in ("tp", "fp", "tn", "fn")) if c else None}


# -- children -------------------------------------------------------------------------------------
def _cache_kw(load_system, args) -> dict:
    """The system cache for code that has one (older code parses every time)."""
    import inspect

    if args.system_cache and "cache" in inspect.signature(load_system).parameters:
        return {"cache": args.system_cache}
    return {}


def _pooled_kw(make_setup) -> dict:
    """The published runs pool openstack_sessions (its own training file holds 50 normal sessions and
    no anomaly for a 1 % budget); older code pools it without being asked."""
    import inspect

    return {"split": "pooled"} if "split" in inspect.signature(make_setup).parameters else {}


def child_metalog(data: Path, args, clock: Clock) -> dict:
    from logad.experiments.metalog import run_transfer
    from logad.experiments.transfer import make_setup
    from logad.pipeline.systems import load_system

    specs = {"hdfs": f"hdfs={data / 'hdfs_2pct'}", "openstack": f"openstack-sessions={data / 'openstack_sessions'}"}
    src_kind, tgt_kind = args.metalog_direction.split("-")
    how = _cache_kw(load_system, args)
    source = clock.run("load source", load_system, specs[src_kind], **how)
    target = clock.run("load target", load_system, specs[tgt_kind], **how)
    setup = make_setup([source], target, 0.01, seed=args.seed, normal_amount=args.metalog_normal_labels,
                       **_pooled_kw(make_setup))
    params = {**json.loads(args.metalog_common or "{}"), **json.loads(args.metalog_params or "{}")}
    with tempfile.TemporaryDirectory(prefix="metalog-speed-") as cache:
        params.setdefault("cache_dir", cache)
        res = clock.run("transfer (MetaLog + baselines)", run_transfer, setup, params)
    d = res["details"]
    out = {"figures": {"metalog": _figures(res), **{k: _figures(v) for k, v in res["baselines"].items()}},
           "train_seconds": {"metalog": d["method"]["train_seconds"],
                             **{k: v["train_seconds"] for k, v in d["baselines"].items()}},
           "pseudo_label_seconds": (d["method"].get("pseudo_labels") or {}).get("seconds"),
           "template_vectors_seconds": d["template_vectors"].get("seconds_total"),
           "checkpoint_epoch": d["method"]["checkpoint"]["epoch"],
           "params": {k: v for k, v in params.items() if k != "cache_dir"}}
    return out


def child_mlad(data: Path, args, clock: Clock) -> dict:
    sys.path.insert(0, str(BENCH))
    import bench_mlad as bm

    from logad.pipeline import load_dataset
    from logad.pipeline.systems import load_system

    how = _cache_kw(load_system, args)

    def load_all():  # bench_mlad.load_all, with the system cache only where the code has one
        out = []
        for short, dataset, folder, rule in bm.SYSTEMS:
            sysdata = load_system(f"{dataset}={data / folder}", window=20, per_entity=short in bm.PER_NODE, **how)
            split = load_dataset(dataset, data / folder).split if rule == "session files" else \
                bm.split_system(sysdata, seed=args.seed)
            out.append((short, sysdata, split, rule))
        return out

    systems = clock.run("load 4 systems", load_all)
    params = {"encoder": "minilm", "cache_dir": args.cache, "seed": args.seed, "epochs": 30, "batch_size": 64,
              "alpha": 1.5}
    det_box = {}

    def fit():
        det = bm.MLADDetector(**params)
        det.fit_systems([(short, d.templates, split.train) for short, d, split, _ in systems])
        det_box["det"] = det

    clock.run("fit (embedding + training + final EM)", fit)
    det = det_box["det"]

    def evaluate():
        out = {}
        for short, _d, split, _ in systems:
            thr = bm.choose_system_threshold(det, short, split.validation)
            test = [s for s in split.test if s.label is not None]
            scores = det.score_system(short, test)
            labels = bm.np.array([s.label for s in test], dtype=int)
            out[short] = _figures(bm.metrics_of(labels, scores, scores > thr["value"]))
        return out

    figures = clock.run("thresholds + test scores", evaluate)
    emb = getattr(det, "embedding_stats_", {})
    return {"figures": figures, "train_seconds": det.history_.seconds, "epochs": len(det.history_.train_loss),
            "best_epoch": det.history_.best_epoch,
            "embedding": {k: {"encoded": v.get("encoded"), "seconds": v.get("seconds")} for k, v in emb.items()}}


def child_crosyslog(data: Path, args, clock: Clock) -> dict:
    sys.path.insert(0, str(BENCH))
    import bench_crosyslog as bc

    from logad.pipeline.systems import load_system

    how = _cache_kw(load_system, args)

    def load():  # bench_crosyslog.load, with the system cache only where the code has one
        return (load_system(f"thunderbird={data / 'thunderbird_slice'}", entries=True, **how),
                [load_system(f"bgl={data / 'bgl_2k'}", entries=True, **how),
                 load_system(f"bgl-text-windows={data / 'bgl_text_windows'}")])

    source, targets = clock.run("load systems", load)
    out: dict = {"figures": {}}
    with tempfile.TemporaryDirectory(prefix="crosyslog-speed-") as work:
        for i, target in enumerate(targets):
            params = {"encoder_cache": args.cache}
            params["save_dir" if i == 0 else "model_dir"] = str(Path(work) / "model")
            setup = bc.make_setup([source], target, bc.LABELLED, seed=args.seed)
            res = clock.run(f"transfer to {target.name}" + (" (meta-training included)" if i == 0 else ""),
                            bc.run_transfer, setup, params)
            out["figures"][target.name] = {"crosyslog": _figures(res),
                                           **{k: _figures(v) for k, v in res["baselines"].items()}}
    return out


CHILDREN = {"metalog": child_metalog, "mlad": child_mlad, "crosyslog": child_crosyslog}


def run_child(args) -> int:
    import torch

    import logad  # noqa: F401  the PYTHONPATH copy (new or --before-src): bench_mlad and bench_crosyslog
    # put this worktree's src first on sys.path, which would otherwise shadow the old code

    torch.set_num_threads(1)
    data = Path(args.data_dir)
    clock = Clock()
    load0, w0, c0 = loadavg(), time.perf_counter(), time.process_time()
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    result = CHILDREN[args.child](data, args, clock)
    if prof is not None:
        import io
        import pstats

        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        result["profile"] = buf.getvalue()
    result.update(wall=time.perf_counter() - w0, cpu=time.process_time() - c0, load_before=load0, load_after=loadavg(),
                  phases=clock.phases, src=str(Path(sys.modules["logad"].__file__).parents[1]))
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# -- parent ---------------------------------------------------------------------------------------
def spawn(what: str, src: Path, args, extra: list[str], cache: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what, "--data-dir", args.data_dir,
           "--seed", str(args.seed), "--cache", cache, "--metalog-direction", args.metalog_direction, *extra]
    if args.system_cache:
        cmd += ["--system-cache", args.system_cache]
    if args.metalog_common:
        cmd += ["--metalog-common", args.metalog_common]
    if args.metalog_normal_labels is not None:
        cmd += ["--metalog-normal-labels", str(args.metalog_normal_labels)]
    if args.profile:
        cmd.append("--profile")
    print(f"== {what} with {src}: {' '.join(extra) or '(defaults)'} (load {loadavg()})", flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        return {"error": proc.stderr[-2000:], "what": what, "src": str(src)}
    res = json.loads(line[len("RESULT "):])
    print(f"   wall {res['wall']:.1f}s, cpu {res['cpu']:.1f}s, load {res['load_before']} -> {res['load_after']}; "
          f"figures {json.dumps(res['figures'])}", flush=True)
    return {"what": what, **res}


def markdown(runs: list[dict], command: str) -> str:
    lines = ["# Cross-system methods: time per run, old code beside new (`benchmarks/bench_crosssystem_speed.py`)", "",
             "Each row is one fresh process with one torch thread on a 2-core machine shared with other jobs: "
             "wall seconds move with the load (1-minute load average shown before and after), CPU seconds of the "
             "process are the time the work takes on one core.", "",
             "| method | code | label | wall s | CPU s | load before -> after | phases (wall / CPU s) | figures |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['what']} | {r['src']} | {r.get('label', '')} | error | | | | |")
            continue
        phases = "; ".join(f"{k} {v['wall']:.1f} / {v['cpu']:.1f}" for k, v in r["phases"].items())
        figs = "; ".join(f"{k}: F1 {v['f1']:.4f} ({v['counts']})" if "f1" in v and v["f1"] is not None else
                         f"{k}: " + ", ".join(f"{m} F1 {f['f1']:.4f} ({f['counts']})" for m, f in v.items())
                         for k, v in r["figures"].items())
        lines.append(f"| {r['what']} | {r['code']} | {r.get('label', '')} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                     f"{r['load_before']} -> {r['load_after']} | {phases} | {figs} |")
    lines += ["", "Command: `" + command + "`", ""]
    for r in runs:
        if r.get("profile"):
            lines += [f"## Profile: {r['what']}, {r['code']} {r.get('label', '')}", "", "```", r["profile"].strip(), "```", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--what", default="metalog,mlad,crosyslog")
    ap.add_argument("--before-src", help="a src folder of older code, timed in the same run")
    ap.add_argument("--metalog-params", help="JSON of MetaLog parameters for the current code's run")
    ap.add_argument("--metalog-common", help="JSON of MetaLog parameters for every code version (e.g. baselines off)")
    ap.add_argument("--metalog-normal-labels", type=float,
                    help="share of the target's normals labelled (0.5 = the original code's setting; default 1 %%)")
    ap.add_argument("--metalog-variants", default="",
                    help="extra current-code MetaLog runs, 'label=JSON' separated by ';' (e.g. the torch GRU path)")
    ap.add_argument("--metalog-direction", default="hdfs-openstack", choices=("hdfs-openstack", "openstack-hdfs"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "crosssystem-speed"))
    ap.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--system-cache", help="folder of the system cache (default: none, every run parses)")
    args = ap.parse_args()
    if args.child:
        return run_child(args)
    sys.path.insert(0, str(BENCH))
    from common import data_dir_or_none

    if data_dir_or_none(args.data_dir) is None:
        return 0
    now = REPO / "src"
    versions = [("new", now)] + ([("old", Path(args.before_src).resolve())] if args.before_src else [])
    runs = []
    for what in [w for w in args.what.split(",") if w]:
        for code, src in versions:
            with tempfile.TemporaryDirectory(prefix=f"speed-{what}-cache-") as cache:
                if what == "metalog":
                    given = code == "new" and args.metalog_params
                    jobs = [("", ["--metalog-params", args.metalog_params] if given else [])]
                    if code == "new":
                        for item in [v for v in args.metalog_variants.split(";") if v.strip()]:
                            label, _, js = item.partition("=")
                            jobs.append((label.strip(), ["--metalog-params", js]))
                else:  # the same cache folder: embeddings computed in the first run, read in the second
                    jobs = [("cold cache", []), ("warm cache", [])]
                for label, extra in jobs:
                    r = spawn(what, src, args, extra, cache)
                    r.update(code=code, label=label)
                    runs.append(r)
    command = "python benchmarks/bench_crosssystem_speed.py " + " ".join(sys.argv[1:])
    text = markdown(runs, command)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "runs": runs}, indent=1, default=str) + "\n",
                                        encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
