"""`logad report`: one self-contained HTML page from a result of evaluate, bench, transfer, tune,
detect or parse."""

from __future__ import annotations


def add_parser(sub) -> None:
    rp = sub.add_parser(
        "report", help="an HTML report (self-contained, offline, printable) of a logad result",
        description="Draw a logad output as one HTML file: the JSON of `logad evaluate`, `bench`, `transfer`, "
        "`tune` (trials.json, best.json or its --out folder), the CSV of `logad detect` (its summary beside it; "
        "--model for the threshold's provenance when it is missing), or the output of `logad parse`. Every figure "
        "is inline SVG; nothing is fetched when the page opens.",
    )
    rp.add_argument("result", metavar="RESULT", help="the result file (its kind is read from its content)")
    rp.add_argument("--out", required=True, metavar="HTML", help="the HTML file to write")
    rp.add_argument("--model", metavar="DIR", help="the model folder of a detect CSV")
    rp.add_argument("--quiet", action="store_true")
    rp.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    import time

    from logad.report import write_report

    t0 = time.perf_counter()
    info = write_report(args.result, args.out, model=args.model)
    if not args.quiet:
        print(f"{info['kind']} report -> {info['out']} ({info['bytes'] / 1024:,.0f} KB, "
              f"{time.perf_counter() - t0:.1f}s)")
    return 0


def write_flag_report(path: str, kind: str, data, *, model=None) -> None:
    """What the `--report HTML` flags of evaluate, bench, detect and transfer call."""
    from logad.io import atomic_write_text
    from logad.report import report_html

    atomic_write_text(path, report_html(kind, data, model=model))
    print(f"report -> {path}")
