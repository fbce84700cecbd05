"""`logad parse`: raw log lines to templates."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    pa = sub.add_parser("parse", help="parse raw log lines into templates")
    pa.add_argument("files", nargs="+", metavar="FILE")
    pa.add_argument("--format", required=True, help="format name or format string with <Content>")
    pa.add_argument("--state", help="parser state JSON: loaded if it exists, saved after parsing")
    pa.add_argument("--match-only", action="store_true", help="never learn: unmatched lines get template id 0")
    pa.add_argument("--mode", choices=["default", "drain"], default="default",
                    help="parser for a new state: default (accurate, streaming) or drain (Drain's exact grouping)")
    pa.add_argument("--workers", type=int, default=1, help="processes computing keys (same ids as 1; default 1)")
    pa.add_argument("--engine", choices=["local", "ray"], default="local",
                    help="ray: compute keys as Ray tasks (pip install 'logad[distributed]')")
    pa.add_argument("--address", help="Ray cluster address (default: start a local Ray with --workers CPUs)")
    pa.add_argument("--out", required=True, help="output CSV: file,line_no,template_id,template,parameters")
    pa.set_defaults(func=cmd_parse)


def cmd_parse(args) -> int:
    import array
    import csv
    import itertools
    import tempfile

    from logad.errors import InvalidParameterError
    from logad.formats.reader import ReadReport, read_records
    from logad.formats.registry import get_format
    from logad.io import atomic_writer
    from logad.parsing import load_parser, parser_for
    from logad.parsing.skeleton import SkeletonParser

    if args.workers < 1:
        raise InvalidParameterError(f"`--workers` must be >= 1, got {args.workers}")
    fmt = get_format(args.format)
    if args.state and Path(args.state).exists():
        parser = load_parser(args.state)
    else:
        parser = parser_for(fmt.name, args.mode)
    batch = isinstance(parser, SkeletonParser) and not args.match_only
    if (args.workers > 1 or args.engine == "ray") and not batch:
        raise InvalidParameterError("`--workers` and `--engine ray` need the default parser mode and learning "
                                    f"(got mode {type(parser).__name__}, match_only={args.match_only})")
    n_before = len(parser.templates)
    reports = []

    def records(keep_reports: bool = True):
        for path in args.files:
            report = ReadReport(path=str(path))
            if keep_reports:
                reports.append(report)
            for rec in read_records(path, fmt, report=report):
                yield path, rec

    with atomic_writer(args.out) as fh, tempfile.TemporaryFile() as id_file:
        w = csv.writer(fh)
        w.writerow(["file", "line_no", "template_id", "template", "parameters"])
        if batch:
            # two passes, so every row carries the FINAL id of its line (a template learnt late can
            # merge an earlier one; rows written before would carry the absorbed id). Pass 1 learns
            # blocks of lines (keys in bulk, in worker processes or Ray tasks, placed in order) and
            # spools the ids to a temporary file (memory stays bounded); pass 2 reads the files
            # again and writes each line with its resolved id, final template and parameters.
            it = records()
            while True:
                block = [rec.content for _, rec in itertools.islice(it, 200_000)]
                if not block:
                    break
                if args.engine == "ray":
                    from logad.parsing.distributed import add_many_ray

                    ids = add_many_ray(parser, block, address=args.address, num_cpus=args.workers)
                else:
                    ids = parser.add_many(block, workers=args.workers)
                array.array("q", ids).tofile(id_file)
            id_file.seek(0)
            it = records(keep_reports=False)
            final: dict[int, int] = {}
            while True:
                block = list(itertools.islice(it, 200_000))
                if not block:
                    break
                ids = array.array("q")
                ids.fromfile(id_file, len(block))
                for (path, rec), tid in zip(block, ids):
                    r = final.get(tid)
                    if r is None:
                        r = final[tid] = parser.resolve(tid)
                    params = parser.parameters(rec.content, r)
                    w.writerow([path, rec.line_no, r, parser.templates_text(r), " ".join(params)])
        else:
            for path, rec in records():
                parsed = parser.match(rec.content, rec.line_no) if args.match_only else parser.add(rec.content, rec.line_no)
                if parsed is None:
                    w.writerow([path, rec.line_no, 0, "", ""])
                else:
                    params = parser.parameters(rec.content, parsed.template_id)
                    w.writerow([path, rec.line_no, parsed.template_id, parsed.template, " ".join(params)])
    # templates may generalise after a line was written: write the final table beside the rows
    templates_path = Path(args.out).with_suffix(".templates.csv")
    with atomic_writer(templates_path) as fh:
        w = csv.writer(fh)
        w.writerow(["template_id", "template", "alias_of"])
        for tid, tpl in sorted(parser.templates.items()):
            alias = parser.resolve(tid) if isinstance(parser, SkeletonParser) else tid
            w.writerow([tid, tpl, alias if alias != tid else ""])
    if args.state and not args.match_only:
        parser.save(args.state)
    for r in reports:
        print(r.summary(), file=sys.stderr)
    stats = getattr(parser, "stats", None)
    if stats and (stats.get("empty") or stats.get("oversized")):
        print(f"parser: {stats['empty']} lines without tokens, {stats['oversized']} cut to "
              f"{parser.max_line_chars} characters (all parsed)", file=sys.stderr)
    if isinstance(parser, SkeletonParser):
        kinds = [c.value for c in parser.changes().values()]
        print(f"templates: {kinds.count('created')} new, {kinds.count('updated')} generalised, "
              f"{kinds.count('merged')} merged into another (their ids stay valid)", file=sys.stderr)
    print(
        f"parsed {sum(r.records for r in reports)} lines into {len(parser.templates)} templates "
        f"({len(parser.templates) - n_before} new) -> {args.out}, {templates_path}",
        file=sys.stderr,
    )
    return 0
