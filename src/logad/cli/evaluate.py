"""`logad evaluate` (one detector, an honest split) and `logad bench` (datasets x detectors)."""

from __future__ import annotations

from logad.cli.common import (
    add_grouping_args,
    add_source_args,
    detector_params,
    fmt_metric,
    load_source,
    params_file,
    wants_values,
)
from logad.cli.config import add_config_arg
from logad.errors import InvalidParameterError
from logad.io import write_json


def add_parser(sub) -> None:
    ev = sub.add_parser("evaluate", help="train and evaluate one detector with an honest split")
    add_source_args(ev)
    add_grouping_args(ev)
    ev.add_argument("--detector", help="detector name (required unless --params-file names one)")
    ev.add_argument("--param", action="append", metavar="NAME=VALUE", help="detector parameter (repeatable)")
    ev.add_argument("--params-file", metavar="JSON", help="parameters from `logad tune`'s best.json (--param overrides)")
    ev.add_argument("--split", default="auto", help="chronological | session-files (default: by dataset)")
    ev.add_argument("--ratios", type=float, nargs=3, default=[0.6, 0.1, 0.3], metavar=("TRAIN", "VAL", "TEST"))
    ev.add_argument("--threshold-policy", metavar="POLICY",
                    help="default: best-f1-validation, or alarm-budget:0.005 where validation holds no anomaly | "
                         "alarm-budget[:B] | train-quantile[:Q] | fixed:VALUE")
    add_budget_args(ev)
    ev.add_argument(
        "--protocol",
        choices=["honest", "original"],
        default="honest",
        help="original = the paper's decision rule; where it tunes on test labels the result is marked oracle-on-test",
    )
    ev.add_argument("--json", help="write the full result JSON here")
    ev.add_argument("--predictions", help="write sequence_id,score,predicted,label per test sequence")
    ev.add_argument("--rollup", metavar="REGEX",
                    help="also report per unit (a job, a host): the regex's first group in the sequence id or its "
                         "file path; a unit alarms when one of its sequences does")
    ev.add_argument("--report", metavar="HTML", help="write the HTML report of the result here (see `logad report`)")
    ev.add_argument("--quiet", action="store_true")
    add_config_arg(ev)
    ev.set_defaults(func=cmd_evaluate)
    be = sub.add_parser("bench", help="datasets x detectors matrix as a Markdown table")
    be.add_argument("--datasets", nargs="+", required=True, metavar="NAME=DIR")
    be.add_argument("--detectors", required=True, help="comma-separated detector names")
    add_budget_args(be)
    be.add_argument("--out", help="write the Markdown table here")
    be.add_argument("--json", help="write all results here")
    be.add_argument("--report", metavar="HTML", help="write the HTML report of all results here")
    be.add_argument("--quiet", action="store_true")
    be.set_defaults(func=cmd_bench)


def add_budget_args(parser) -> None:
    """`--alarm-budget B` and `--budget-folds K` (evaluate, bench, train)."""
    parser.add_argument("--alarm-budget", type=float, metavar="B",
                        help="flag about this share of normal operation (e.g. 0.01): the threshold is the conformal "
                             "(1 - B) quantile of out-of-fold scores of every training normal (K extra fits); the "
                             "same as --threshold-policy alarm-budget:B")
    parser.add_argument("--budget-folds", type=int, default=5, metavar="K",
                        help="models fitted for --alarm-budget, each without one fold of the training normals "
                             "(default 5)")
    parser.add_argument("--budget-method", choices=["cross-fit", "cross-conformal"],
                        help="cross-fit: one threshold on a model fitted on all training normals; cross-conformal: "
                             "the K fold models are the model and a conformal p-value decides (K x scoring); "
                             "default: the policy's")


def budget_policy(args, default: str | None = None) -> tuple[str | None, dict]:
    """(policy spec, its keyword arguments) from --alarm-budget / --budget-folds / --threshold-policy."""
    spec = getattr(args, "threshold_policy", None)
    budget = getattr(args, "alarm_budget", None)
    if budget is not None:
        if spec is not None and spec != default and not str(spec).startswith("alarm-budget"):
            raise InvalidParameterError(
                f"give either --alarm-budget or --threshold-policy, not both (got --alarm-budget {budget} and "
                f"--threshold-policy {spec})")
        spec = f"alarm-budget:{budget}"
    if spec is not None and str(spec).partition(":")[0] == "alarm-budget":
        kw = {"folds": args.budget_folds}
        if getattr(args, "budget_method", None):
            kw["method"] = args.budget_method
        return spec, kw
    return spec, {}


def cmd_evaluate(args) -> int:
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import evaluate_detector, write_predictions
    from logad.pipeline import make_split
    from logad.progress import Progress
    from logad.splitting.audit import format_audit

    progress = Progress(enabled=not args.quiet)
    args.detector, file_params = params_file(args)
    params = detector_params(args, file_params)
    split_name = args.split
    if args.protocol == "original":
        from logad.detectors.registry import detector_class

        cls = detector_class(args.detector)
        # the paper's own settings and decision rule, then the caller's explicit parameters
        params = {**getattr(cls, "ORIGINAL_PARAMS", {}), **params}
        if split_name == "auto" and getattr(cls, "ORIGINAL_SPLIT", None):
            split_name = cls.ORIGINAL_SPLIT  # the paper's own data split
    loaded, name = load_source(args, progress, with_values=wants_values(args.detector, params))
    split = make_split(loaded, split_name, tuple(args.ratios))
    detector = get_detector(args.detector, **params)
    policy, policy_kw = budget_policy(args)
    if policy and args.protocol == "original":
        raise InvalidParameterError("--protocol original decides with the paper's rule; drop --alarm-budget / "
                                    "--threshold-policy, or use --protocol honest")
    ev = evaluate_detector(
        detector, split, policy=policy, policy_kw=policy_kw, protocol=args.protocol, progress=progress,
        templates=loaded.templates,
    )
    ev.result["dataset"] = name
    ev.result["data"] = loaded.summary()
    if args.params_file:
        ev.result["params_file"] = str(args.params_file)
    m = ev.result["metrics"]
    print(format_audit(ev.result["audit"]))
    for note in (ev.result["threshold"].get("warning"), ev.result.get("test_selection")):
        if note:  # the original protocols that read test labels say so
            print(f"NOTE: {note}")
    print(
        f"{name} {args.detector}: F1 {m['f1']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
        f"FPR {m['fpr']:.5f}{budget_text(ev.result['threshold'])}  ROC-AUC {fmt_metric(m.get('roc_auc'))}  "
        f"threshold {ev.result['threshold']['value']:.6g} ({ev.result['threshold'].get('policy')})"
    )
    if args.rollup:
        from logad.evaluation.rollup import rollup_result

        ev.result["rollup"] = r = rollup_result(ev.test, ev.scores, ev.predicted, args.rollup)
        if "metrics" in r:
            u = r["metrics"]
            print(f"per unit ({r['units']} units, {r['anomalous_units']} anomalous, {r['sequences_per_unit']:.1f} "
                  f"sequences each): F1 {u['f1']:.4f}  precision {u['precision']:.4f}  recall {u['recall']:.4f}  "
                  f"FPR {u['fpr']:.5f}  ROC-AUC {fmt_metric(u.get('roc_auc'))}")
    if args.json:
        write_json(args.json, ev.result)
    if args.predictions:
        write_predictions(args.predictions, ev)
    if args.report:
        from logad.cli.report import write_flag_report

        write_flag_report(args.report, "evaluate", ev.result)
    return 0


def budget_text(threshold: dict) -> str:
    """` (budget 0.01)` beside an achieved FPR, when the threshold aimed at an alarm budget."""
    b = threshold.get("budget")
    return f" (budget {b:g})" if isinstance(b, int | float) else ""


def cmd_bench(args) -> int:
    from logad.detectors.registry import get_detector
    from logad.evaluation.runner import RESULT_COLUMNS, evaluate_detector, markdown_table, result_row
    from logad.pipeline import load_dataset, make_split
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    policy, policy_kw = budget_policy(args)
    rows = []
    results = []
    for spec in args.datasets:
        name, _, data_dir = spec.partition("=")
        if not data_dir:
            raise InvalidParameterError(f"--datasets entries look like NAME=DIR, got {spec!r}")
        loaded = load_dataset(name, data_dir, progress=progress)
        split = make_split(loaded, "auto")
        for det_name in args.detectors.split(","):
            ev = evaluate_detector(get_detector(det_name.strip()), split, policy=policy, policy_kw=policy_kw,
                                   progress=progress, templates=loaded.templates)
            rows.append(result_row(name, ev))
            results.append({"dataset": name, **ev.result})
    table = markdown_table(rows, RESULT_COLUMNS)
    print(table)
    if args.out:
        from logad.io import atomic_write_text

        atomic_write_text(args.out, table + "\n")
    if args.json:
        write_json(args.json, {"results": results})
    if args.report:
        from logad.cli.report import write_flag_report

        write_flag_report(args.report, "bench", {"results": results})
    return 0
