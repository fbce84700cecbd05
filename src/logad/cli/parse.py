"""`logad parse`: raw log files to parsed records (Parquet or CSV) and their templates."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(sub) -> None:
    pa = sub.add_parser("parse", help="parse raw log lines into templates and parameters")
    pa.add_argument("files", nargs="+", metavar="FILE")
    pa.add_argument("--format", required=True, help="format name or format string with <Content>")
    pa.add_argument("--multiline", metavar="RULE",
                    help="continuation lines joined to the record before them: any, none, or a regex "
                         "(default: the format's: any for hadoop, spark, zookeeper)")
    pa.add_argument("--out", required=True,
                    help="output: X.parquet (columns: file, line_no, timestamp, template_id, template, parameters, "
                         "header fields) or X.csv (parameters as a JSON array); the templates go to X.templates.*")
    pa.add_argument("--state", help="parser state JSON: loaded if it exists, saved after parsing")
    pa.add_argument("--match-only", action="store_true", help="never learn: unmatched lines get template id 0")
    pa.add_argument("--mode", default="default",
                    help="parser for a new state: default (accurate, streaming) or drain (Drain's exact grouping)")
    pa.add_argument("--workers", type=int, default=1, help="processes computing keys (same ids as 1; default 1)")
    pa.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="ray: compute keys as Ray tasks (pip install 'logad[distributed]')")
    pa.add_argument("--address", help="Ray cluster address (default: start a local Ray with --workers CPUs)")
    pa.add_argument("--overwrite", action="store_true",
                    help="replace a templates table another run left beside --out")
    pa.add_argument("--progress", action="store_true", help="print lines, lines/s and memory every million lines")
    pa.set_defaults(func=cmd_parse)


def _skip_pandas_probe() -> None:
    """In a `logad parse` process of its own: pyarrow, when pandas is installed, imports it on its
    first conversion (to recognise DataFrames), 0.2 s of a command that never hands it one. Mark
    pandas absent for this process (it exits when the command ends). Not done when `main` is called
    from another program (tests, notebooks), which may want pandas."""
    if "pandas" not in sys.modules and Path(sys.argv[0]).name == "logad":
        sys.meta_path.insert(0, _NoPandas())


class _NoPandas:
    """An import finder for which pandas does not exist (see `_skip_pandas_probe`)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (not needed by logad parse)", name=name)
        return None


def cmd_parse(args) -> int:
    """`logad parse`; with `--state`, one run at a time holds that state (two at once would each
    save over the other's templates, leaving outputs with ids the state does not know)."""
    import contextlib

    from logad.io import exclusive_lock

    guard = exclusive_lock(args.state, "the parser state") if args.state else contextlib.nullcontext()
    with guard:
        return _parse(args)


def _parse(args) -> int:
    from logad.errors import InvalidParameterError
    from logad.formats.registry import get_format
    from logad.parsing import load_parser, parser_for
    from logad.parsing.files import parse_files
    from logad.parsing.output import ParsedWriter, check_outputs

    if args.workers < 1:
        raise InvalidParameterError(f"`--workers` must be >= 1, got {args.workers}")
    fmt = get_format(args.format)
    if args.multiline is not None:
        fmt = fmt.with_multiline(args.multiline)
    table = check_outputs(args.files, args.out, args.state, overwrite=args.overwrite)
    if args.state and Path(args.state).exists():
        parser = load_parser(args.state)
        made_for = getattr(parser, "built_for", None)
        if made_for and made_for != _format_key(fmt):
            print(f"warning: the state {args.state} was built from logs read as {made_for!r}; these are read as "
                  f"{_format_key(fmt)!r} (templates and ids may not fit: use another --state for another system)",
                  file=sys.stderr)
    else:
        parser = parser_for(fmt.name, args.mode)
    if (args.workers > 1 or args.engine == "ray") and (args.match_only or parser.mode != "default"):
        raise InvalidParameterError("`--workers` and `--engine ray` need the default parser mode and learning "
                                    f"(got mode {parser.mode!r}, match_only={args.match_only})")
    n_before = len(parser.templates)
    if str(args.out).lower().endswith((".parquet", ".pq")):
        _skip_pandas_probe()
    run = parse_files(args.files, fmt, parser, learn=not args.match_only,
                      workers=args.workers if args.engine == "local" else 1)
    if args.engine == "ray":
        from logad.parsing.distributed import add_many_ray

        run.learn_with = lambda contents: add_many_ray(parser, contents, address=args.address, num_cpus=args.workers)
    writer = ParsedWriter(args.out, list(fmt.splitter.fields), parser, table=table)
    t0 = time.perf_counter()
    next_mark = 1_000_000
    try:
        for block in run:
            writer.write(block)
            if args.progress and run.lines >= next_mark:
                next_mark = _progress(run.lines, t0, next_mark)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if args.state and not args.match_only:
        parser.built_for = getattr(parser, "built_for", None) or _format_key(fmt)
        parser.save(args.state)
    for r in run.reports:
        print(r.summary(), file=sys.stderr)
    stats = parser.stats
    if stats.get("empty") or stats.get("oversized"):
        print(f"parser: {stats['empty']} lines without tokens, {stats['oversized']} cut to the parser's length cap "
              "(all parsed)", file=sys.stderr)
    kinds = [c.value for c in parser.changes().values()]
    print(f"templates: {kinds.count('created')} new, {kinds.count('updated')} generalised, "
          f"{kinds.count('merged')} merged into another (their ids stay valid)", file=sys.stderr)
    print(f"parsed {run.lines} lines into {len(parser.live_templates)} templates "
          f"({len(parser.templates) - n_before} new ids) -> {args.out}, {table}", file=sys.stderr)
    return 0


def _progress(lines: int, t0: float, mark: int) -> int:
    import os
    import resource

    with open("/proc/self/statm") as fh:
        rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dt = time.perf_counter() - t0
    cpu = time.process_time()
    print(f"progress: {lines} lines {dt:.3f} s cpu {cpu:.3f} s {lines / dt:.0f} lines/s rss {rss:.0f} MB "
          f"peak {peak:.0f} MB", file=sys.stderr, flush=True)
    while mark <= lines:
        mark += 1_000_000
    return mark


def _format_key(fmt) -> str:
    """What names the format a state was built with: its registered name, or a user's format string."""
    return fmt.header if fmt.name == "custom" else fmt.name
