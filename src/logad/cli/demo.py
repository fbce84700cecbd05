"""`logad demo` and `logad formats`."""

from __future__ import annotations


def add_parser(sub) -> None:
    d = sub.add_parser("demo", help="simulate a small system and a cluster, detect injected failures (no download)")
    d.add_argument("--scale", type=float, default=1.0, help="size of the simulated logs (default 1.0)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", help="keep the simulated logs and results in this folder")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)
    f = sub.add_parser("formats", help="list the known log formats")
    f.set_defaults(func=cmd_formats)


def cmd_demo(args) -> int:
    from logad.demo.run import run_demo

    return run_demo(scale=args.scale, seed=args.seed, out_dir=args.out, quiet=args.quiet)


def cmd_formats(args) -> int:
    from logad.formats.registry import get_format, list_formats

    for name in list_formats():
        print(f"{name:12s} {get_format(name).header}")
    return 0
