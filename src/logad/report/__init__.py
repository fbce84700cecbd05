"""logad.report: self-contained HTML reports of logad's results, and the SVG figures they draw.

    from logad.report import write_report
    write_report("result.json", "report.html")          # kind read from the file's content

One HTML file per result: CSS, JavaScript and every figure inline (SVG), no request leaves the
page, printable. Every figure of a test result says its protocol and where its threshold came
from; anything decided on test labels is flagged oracle-on-test on the figure.

Modules: `figures` (SVG from plain data, shared with the service's dashboard), `svg` (scales,
axes), `render` (the Jinja2 templates), `honesty` (provenance texts), `evaluate` (evaluate and
bench pages), `experiments` (transfer and tune), `detect` (the detect summary written beside a
detect CSV, and its page), `parse` (a parse output's page), `lines` (raw lines by number),
`load` (which output a file is).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_report", "report_html", "write_report", "KINDS"]

KINDS = ("evaluate", "bench", "transfer", "tune", "detect", "parse")


def report_html(kind: str, data, *, source: str | None = None, model: str | Path | None = None) -> str:
    """The page of a result already in memory: `data` is the result dict (evaluate, bench,
    transfer, tune) or the path of the output file (detect CSV, parse CSV/Parquet)."""
    from logad.errors import InvalidParameterError

    if kind == "evaluate":
        from logad.report.evaluate import evaluate_page

        return evaluate_page(data, source=source)
    if kind == "bench":
        from logad.report.evaluate import bench_page

        return bench_page(data, source=source)
    if kind == "transfer":
        from logad.report.experiments import transfer_page

        return transfer_page(data, source=source)
    if kind == "tune":
        from logad.report.experiments import tune_page

        return tune_page(data, source=source)
    if kind == "detect":
        from logad.report.detect import detect_page

        return detect_page(data, model=model)
    if kind == "parse":
        from logad.report.parse import parse_page

        return parse_page(data)
    raise InvalidParameterError(f"`kind` must be one of {', '.join(KINDS)}, got {kind!r}")


def build_report(path: str | Path, *, model: str | Path | None = None) -> tuple[str, str]:
    """(kind, HTML) of the logad output at `path`; InputError when it is not one."""
    from logad.report.load import read_result

    kind, data = read_result(path)
    return kind, report_html(kind, data, source=str(path), model=model)


def write_report(path: str | Path, out: str | Path, *, model: str | Path | None = None) -> dict:
    """Write the report of `path` to `out`; returns `{"kind", "out", "bytes"}`."""
    from logad.io import atomic_write_text

    kind, page = build_report(path, model=model)
    atomic_write_text(out, page)
    return {"kind": kind, "out": str(out), "bytes": len(page.encode("utf-8"))}
