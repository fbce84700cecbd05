"""`logad transfer`: the standard cross-system experiment, with both baselines."""

from __future__ import annotations

import json
from pathlib import Path

from logad.cli.common import parse_params
from logad.errors import InvalidParameterError
from logad.io import json_default


def add_parser(sub) -> None:
    tf = sub.add_parser(
        "transfer", help="cross-system experiment: learn from source systems, adapt to a target with few labels"
    )
    tf.add_argument("--method", required=True, help="metalog | mlad | crosyslog")
    tf.add_argument("--source", action="append", nargs="+", required=True, metavar="DATASET[=DIR]",
                    help="labelled source system(s) (repeatable); DIR defaults to the dataset's data folder")
    tf.add_argument("--target", required=True, metavar="DATASET[=DIR]")
    tf.add_argument("--target-labels", type=float, required=True, metavar="AMOUNT",
                    help="labels of the target's training part: a fraction (< 1) of each class, or a count (>= 1; "
                    "entry-level methods read it as a number of labelled entries)")
    tf.add_argument("--target-normal-labels", type=float, metavar="FRACTION",
                    help="label this fraction of the target's training NORMALS instead, --target-labels then "
                    "counting anomalies only (MetaLog's code labels 0.5 of the normals)")
    tf.add_argument("--label-setting", choices=["each-class", "metalog-code"],
                    help="a named label budget: each-class = --target-labels of each class; metalog-code = "
                    "--target-labels of the anomalies and half of the normals, as MetaLog's code labels them "
                    "(MetaLog then keeps its original pseudo-label rule)")
    tf.add_argument("--protocol", choices=["honest", "original"], default="honest")
    tf.add_argument("--param", action="append", metavar="NAME=VALUE", help="method parameter (repeatable)")
    tf.add_argument("--window", type=int, help="count window of raw supercomputer logs (default 20)")
    tf.add_argument("--step", type=int, help="window step (default: the window)")
    tf.add_argument("--per-node", action="store_true",
                    help="windows over each node's own lines (the format's node field) instead of all lines")
    tf.add_argument("--ratios", type=float, nargs=3, default=[0.6, 0.1, 0.3], metavar=("TRAIN", "VAL", "TEST"))
    tf.add_argument("--split", choices=["auto", "pooled"], default="auto",
                    help="how the target is split: auto = its own train/test files where it has them (session "
                         "files; validation from the end of its training file), else chronological where there is "
                         "time, else a seeded shuffle stratified by label; pooled = every sequence pooled (no own split)")
    tf.add_argument("--split-groups", metavar="REGEX",
                    help="the target's shuffle keeps whole groups on one side: the regex's first group in the "
                         r"sequence id or its file path names its group (a job, a VM), e.g. '(job_\d+)'; "
                         "stratified by whether a group holds an anomaly")
    tf.add_argument("--seed", type=int, default=0)
    tf.add_argument("--no-cache", action="store_true",
                    help="parse raw logs afresh instead of reading the system cache ($LOGAD_CACHE/systems)")
    tf.add_argument("--json", metavar="OUT", help="write metrics, baselines and setup as JSON")
    tf.add_argument("--report", metavar="HTML", help="write the HTML report of the experiment here")
    tf.add_argument("--quiet", action="store_true")
    tf.set_defaults(func=cmd_transfer)


def cmd_transfer(args) -> int:
    import time

    from logad.experiments.transfer import ENTRY_LEVEL, make_setup, method_runner
    from logad.pipeline.systems import load_system
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    run = method_runner(args.method)  # an unknown method fails before any data is read
    if args.target_labels is None or not args.target_labels > 0:
        raise InvalidParameterError(f"--target-labels must be > 0 (a fraction < 1 or a count >= 1), got {args.target_labels!r}")
    entries = args.method in ENTRY_LEVEL
    if args.target_normal_labels is not None and entries:
        raise InvalidParameterError(
            f"--target-normal-labels applies to sequence-level methods; {args.method!r} labels entries "
            "(give their number with --target-labels)"
        )
    if args.split_groups is not None and entries:
        raise InvalidParameterError(
            f"--split-groups applies to sequence-level methods; {args.method!r} splits the target's log entries "
            "in time order")
    specs = [spec for group in args.source for spec in group]
    how = dict(window=args.window, step=args.step, entries=entries, per_entity=args.per_node, progress=progress,
               cache=not args.no_cache)
    sources = [load_system(spec, **how) for spec in specs]
    target = load_system(args.target, **how)
    if args.label_setting is not None and entries:
        raise InvalidParameterError(f"--label-setting applies to sequence-level methods, not {args.method!r}")
    setup = make_setup(sources, target, args.target_labels, ratios=tuple(args.ratios), seed=args.seed,
                       protocol=args.protocol, normal_amount=args.target_normal_labels,
                       label_setting=args.label_setting, split=args.split, groups=args.split_groups)
    params = parse_params(args.param)
    t0 = time.perf_counter()
    result = run(setup, params, progress)
    seconds = time.perf_counter() - t0
    out = {
        "method": args.method,
        "protocol": args.protocol,
        "params": params,
        "setup": setup.describe(),
        **result,
        "seconds": round(seconds, 3),
    }
    rows = [(args.method, result)] + list(result.get("baselines", {}).items())
    print(f"{args.method}: {' + '.join(s.name for s in sources)} -> {target.name}, "
          f"{int(setup.labelled.sum())} labelled target sequences ({args.protocol} protocol)")
    if not entries:  # an entry-level method splits the target's entries itself (its details say how)
        print(f"target split: {_split_line(setup.target_split.describe())}")
    print(f"{'model':<22} {'F1':>6} {'precision':>9} {'recall':>7} {'FPR':>6}")
    for name, r in rows:
        m = r["metrics"]
        fpr = m.get("fpr")
        print(f"{name:<22} {m['f1']:>6.3f} {m['precision']:>9.3f} {m['recall']:>7.3f} "
              f"{'' if fpr is None else format(fpr, '.3f'):>6}")
    warning = (result.get("threshold") or {}).get("warning")
    if warning:  # e.g. a quantile of too few labelled normals
        print(f"NOTE: the method's threshold: {warning}")
    policy = (result.get("threshold") or {}).get("policy")
    if policy == "oracle-on-test":
        print("NOTE: the method's figure used a rule tuned on the test labels (oracle-on-test), as its paper did")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=json_default) + "\n")
        print(f"wrote {args.json}")
    if args.report:
        from logad.cli.report import write_flag_report

        write_flag_report(args.report, "transfer", json.loads(json.dumps(out, default=json_default)))
    return 0


def _split_line(split: dict) -> str:
    """`session-files (the dataset's own split: ...): train 43 / validation 7 / test 5,546 (651 anomalous)`."""
    sizes = " / ".join(f"{p} {split[p]['sequences']:,}" for p in ("train", "validation", "test"))
    groups = split.get("groups")
    text = f"{split['protocol']} ({split.get('ordered_by', '-')}): {sizes} ({split['test']['anomalous']:,} anomalous in test)"
    if groups:
        text += f"; {groups['groups']:,} groups of {groups['regex']!r}, {groups['on_both_sides']} on both sides"
    return text
