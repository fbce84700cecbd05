"""HTML pages from the report templates (Jinja2, autoescaped: log lines are untrusted text).

`environment()` is the one Jinja2 environment of logad's pages: the report templates
(`base.html`, `macros.html`, one page per result kind) with the filters they use. The service's
dashboard extends `base.html` and imports `macros.html` from it, so its alarms, template tables
and figures look and behave as in the reports.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from logad.report.svg import duration, fmt, utc

TEMPLATES = Path(__file__).with_name("templates")


def _pct(v, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}%}"


def _metric(v) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _thousands(v) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


@functools.lru_cache(maxsize=1)
def environment():
    """The Jinja2 environment of logad's HTML pages (templates in `logad/report/templates`)."""
    import jinja2  # a core dependency (small, pure Python), imported only when a page is drawn
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=fmt, pct=_pct, metric=_metric, utc=utc, duration=duration, thousands=_thousands)
    return env


def svg(markup: str):
    """A figure string from `logad.report.figures`, marked safe for the templates (the figure
    functions escape every text they draw)."""
    from markupsafe import Markup

    return Markup(markup)


def static(name: str) -> str:
    """The text of a static asset (report.css, report.js), inlined into every page."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render(template: str, **context) -> str:
    """One self-contained page: the CSS and JavaScript inline, figures inline as SVG."""
    from markupsafe import Markup

    from logad import __version__

    env = environment()
    context.setdefault("generated", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    context.setdefault("version", __version__)
    context.setdefault("flags", [])
    context.setdefault("notes", [])
    context.setdefault("sections", [])
    context["css"] = Markup(static("report.css"))
    context["js"] = Markup(static("report.js"))
    return env.get_template(template).render(**context)
