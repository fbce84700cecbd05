"""`logad mlad`: the experiments of the MLAD README from the command line, with its flag names.

    logad mlad --datasets hdfs-sessions=DIR bgl=DIR [--train_only | --eval_only --model_path DIR |
               --transfer_learning | --alpha_ablation | --download_only] [--visualize] ...

Default: ONE model trained on the normal training sequences of every dataset together, then a
threshold per dataset from its validation part (best F1; a quantile of normal validation scores
when validation holds no anomaly) or `--threshold`, then each dataset's test part scored.
`--transfer_learning`: train on one dataset, evaluate on the other, both directions (zero-shot:
the model never sees the target; the threshold comes from the target's validation part, and the
JSON also gives the figure with the source's own threshold). `--alpha_ablation`: alpha in
(1.0, 1.2, 1.5, 1.8) on the first dataset. Raw supercomputer logs (BGL, Thunderbird) are cut into
`--window_size`-line windows. Splits (`--split`): `auto` = a session dataset's own files
(train file normal, its last 10% validation) and chronological 60/10/30 for raw logs; `pooled` =
every sequence pooled (chronological where there is time, else a seeded shuffle stratified by
label); `original` = the third-party split (test = all anomalies + as many normals; threshold =
0.99 quantile of the training energies, no validation).

The runs are `logad.experiments.mlad_runs`; this module parses the flags, calls them and prints.
"""

from __future__ import annotations

import argparse

from logad.errors import InvalidParameterError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "mlad", help="MLAD: one unsupervised model for several systems (train, evaluate, transfer, alpha ablation)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--download_only", "--download-only", action="store_true",
                      help="only report which dataset folders are present and complete")
    mode.add_argument("--train_only", "--train-only", action="store_true", help="train and save, no test evaluation")
    mode.add_argument("--eval_only", "--eval-only", action="store_true", help="evaluate a saved model (--model_path)")
    mode.add_argument("--transfer_learning", "--transfer-learning", action="store_true",
                      help="train on one of two datasets, evaluate on the other, both directions")
    mode.add_argument("--alpha_ablation", "--alpha-ablation", action="store_true",
                      help="alpha in 1.0, 1.2, 1.5, 1.8 on the first dataset")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DATASET=DIR",
                   help="e.g. hdfs-sessions=../shared/data/hdfs_sessions bgl=../shared/data/bgl_2k")
    p.add_argument("--split", choices=["auto", "pooled", "original"], default="auto")
    p.add_argument("--window_size", "--window-size", type=int, default=20, help="lines per window of raw logs")
    p.add_argument("--per_node", "--per-node", action="store_true",
                   help="windows over each node's own lines (the format's node field) instead of all lines")
    m = p.add_argument_group("model")
    m.add_argument("--d_model", "--d-model", type=int, default=100)
    m.add_argument("--n_heads", "--n-heads", type=int, default=4)
    m.add_argument("--n_layers", "--n-layers", type=int, default=2)
    m.add_argument("--d_ff", "--d-ff", type=int, default=256)
    m.add_argument("--dropout", type=float, default=0.1)
    m.add_argument("--alpha", type=float, default=1.5, help="entmax alpha (1 = softmax, 2 = sparsemax)")
    m.add_argument("--n_components", "--n-components", type=int, default=5,
                   help="Gaussian components (per training system unless --components total)")
    m.add_argument("--components", choices=["per-system", "total"], default="per-system",
                   help="per-system: the mixture has n_components for each training system (default); "
                        "total: n_components in all")
    m.add_argument("--mixture_weights", "--mixture-weights", choices=["shared", "system"], default="shared",
                   help="score a system by the density of all training systems (shared) or of its own (system)")
    m.add_argument("--no_gmm", "--no-gmm", action="store_true",
                   help="no GMM head: train and score by masked-template prediction alone")
    m.add_argument("--encoder", default="minilm", help="minilm | hashing | a local model folder")
    m.add_argument("--cache_dir", "--cache-dir", help="embedding cache folder (default ~/.cache/logad)")
    m.add_argument("--no_cache", "--no-cache", action="store_true",
                   help="parse raw logs afresh instead of reading the system cache ($LOGAD_CACHE/systems)")
    m.add_argument("--param", action="append", metavar="NAME=VALUE", help="any other mlad parameter (repeatable)")
    tr = p.add_argument_group("training")
    tr.add_argument("--batch_size", "--batch-size", type=int, default=512)
    tr.add_argument("--lr", type=float, default=0.001)
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--log_interval", "--log-interval", type=int, default=10, help=argparse.SUPPRESS)  # third party's
    o = p.add_argument_group("decision and output")
    o.add_argument("--threshold", type=float, help="energy threshold for every dataset (default: from validation)")
    o.add_argument("--visualize", action="store_true", help="write PNGs: confusion matrix, energies, 2-D map")
    o.add_argument("--save_dir", "--save-dir", help="where models are saved (default: OUTPUT_DIR/saved_models)")
    o.add_argument("--output_dir", "--output-dir", default="./results", help="JSON results and figures")
    o.add_argument("--model_path", "--model-path", help="a saved mlad model folder (--eval_only)")
    o.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_mlad)


# ----------------------------------------------------------------------------- arguments
def _specs(args) -> list[tuple[str, str]]:
    from logad.pipeline.systems import parse_spec

    out = []
    for spec in args.datasets:
        if "=" not in spec:
            raise InvalidParameterError(f"--datasets entries look like DATASET=DIR, got {spec!r}")
        name, folder = parse_spec(spec)
        if name in [n for n, _ in out]:
            raise InvalidParameterError(f"--datasets names {name!r} twice")
        out.append((name, spec))
    return out


def _params(args) -> dict:
    from logad.cli.common import parse_params

    params = dict(
        encoder=args.encoder, cache_dir=args.cache_dir, d_model=args.d_model, n_heads=args.n_heads,
        n_layers=args.n_layers, d_ff=args.d_ff, dropout=args.dropout, alpha=args.alpha,
        n_components=args.n_components, components=args.components, mixture_weights=args.mixture_weights,
        no_gmm=args.no_gmm, batch_size=args.batch_size, lr=args.lr,
        epochs=args.epochs, seed=args.seed,
    )
    params.update(parse_params(args.param))
    return params


# ----------------------------------------------------------------------------- the command
def cmd_mlad(args) -> int:
    from logad.experiments import mlad_runs
    from logad.progress import Progress

    progress = Progress(enabled=not args.quiet)
    if args.download_only:
        return 0 if mlad_runs.check_datasets(args.datasets, echo=print) else 1
    if args.eval_only and not args.model_path:
        raise InvalidParameterError("--eval_only needs --model_path DIR (a folder saved by `logad mlad`)")
    if args.model_path and not args.eval_only:
        raise InvalidParameterError("--model_path is read by --eval_only only")
    if args.transfer_learning and len(args.datasets) != 2:
        raise InvalidParameterError(f"--transfer_learning needs exactly two --datasets, got {len(args.datasets)}")
    opts = mlad_runs.RunOptions(split=args.split, threshold=args.threshold, visualize=args.visualize,
                                save_dir=args.save_dir, output_dir=args.output_dir)
    specs = [spec for _, spec in _specs(args)]
    systems = mlad_runs.load_datasets(specs, split=args.split, window=args.window_size, per_node=args.per_node,
                                      seed=args.seed, progress=progress, cache=not args.no_cache)
    params = _params(args)
    if args.alpha_ablation:
        mlad_runs.alpha_ablation(params, systems[0], opts, progress=progress, echo=print)
    elif args.transfer_learning:
        mlad_runs.transfer_learning(params, systems, opts, progress=progress, echo=print)
    else:
        mode = "eval_only" if args.eval_only else ("train_only" if args.train_only else "train+eval")
        mlad_runs.train_and_evaluate(params, systems, opts, mode=mode, model_path=args.model_path, progress=progress,
                                     echo=print)
    return 0
