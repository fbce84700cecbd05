"""The `logad` command line. Thin: one module per command group parses its arguments, calls the
library and prints.

Every error logad raises on purpose is printed as one line `logad: error: ...` with exit code 2;
no traceback unless --debug.
"""

from __future__ import annotations

import argparse
import logging
import sys

from logad.errors import LogadError

EXIT_ERROR = 2

# the command groups, in the order `logad --help` lists them
COMMANDS = ("demo", "parse", "data", "evaluate", "train", "tune", "transfer", "mlad", "report", "serve")


def build_parser() -> argparse.ArgumentParser:
    from logad import __version__

    p = argparse.ArgumentParser(prog="logad", description="Log anomaly detection from raw logs to honest results.")
    p.add_argument("--version", action="version", version=f"logad {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import importlib

    for name in COMMANDS:
        importlib.import_module(f"logad.cli.{name}").add_parser(sub)
    return p


# the cyclic garbage collector's first-generation threshold while a command runs: a command
# allocates millions of small containers (a tuple per line, a Sequence per session) that hold no
# cycles, and the default (700) ran the collector thousands of times: 10% of `logad evaluate`
GC_THRESHOLD = (100_000, 50, 1000)


def main(argv: list[str] | None = None) -> int:
    import gc

    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*before)  # main may be called from another program (tests, notebooks)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by `logad tune` in best.json
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="logad: %(message)s")
    try:
        from logad.cli.config import apply_config

        apply_config(args)
        return int(args.func(args) or 0)
    except LogadError as exc:
        if args.debug:
            raise
        print(f"logad: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, UnicodeError, ValueError, MemoryError) as exc:
        if args.debug:
            raise
        print(f"logad: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("logad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
