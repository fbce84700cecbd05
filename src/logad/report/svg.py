"""Small SVG building blocks: escaping, linear and log scales, readable ticks, time ticks, axes.

Everything returns strings. No dependency beyond the standard library, so the service can draw
the same figures as `logad report`.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK = "#222"
GRID = "#e3e3e3"
MUTED = "#666"
PALETTE = ("#3b6ea8", "#d9534f", "#5aa05a", "#e0a030", "#8a63b8", "#3aa3a3", "#b5651d", "#777777")
NORMAL = "#3b6ea8"
ANOMALOUS = "#d9534f"
ALARM = "#c62828"


def esc(text) -> str:
    """Text safe inside SVG/HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def num(v: float) -> str:
    """A coordinate, short: 2 decimals, no trailing zeros."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt(v: float | int | None, digits: int = 3) -> str:
    """A value for a label: integers with thousands separators, floats with `digits` significant digits."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return "∞" if v > 0 else ("-∞" if v < 0 else "NaN")
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    if float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v):,}"
    return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:,.{max(0, digits - 1 - int(math.log10(abs(v))))}f}"


class Linear:
    """Maps [lo, hi] onto pixels [a, b]."""

    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 0.0, 1.0
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self, n: int = 5) -> list[float]:
        return nice_ticks(self.lo, self.hi, n)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round values covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
              172800, 604800, 2592000, 31536000)


def time_ticks(lo: float, hi: float, n: int = 6) -> list[tuple[float, str]]:
    """Round moments between two epoch seconds, labelled in UTC at the resolution the span needs."""
    span = max(hi - lo, 1e-9)
    step = next((s for s in TIME_STEPS if span / s <= n), TIME_STEPS[-1])
    first = math.ceil(lo / step) * step
    if step >= 86400:
        pattern = "%Y-%m-%d"
    elif step >= 60:
        pattern = "%H:%M" if span < 86400 else "%m-%d %H:%M"
    else:
        pattern = "%H:%M:%S"
    out = []
    v = first
    while v <= hi:
        out.append((v, time.strftime(pattern, time.gmtime(v))))
        v += step
    return out


def utc(t: float | None, seconds: bool = True) -> str:
    """An epoch second as `2008-11-09 20:35:18 UTC`."""
    if t is None or not math.isfinite(t):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.gmtime(t)) + " UTC"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def open_svg(kind: str, width: int, height: int, label: str, marks: int, extra: str = "", cls: str = "fig") -> str:
    """The root element of a figure: scalable, labelled for screen readers, and carrying what it
    shows (`data-figure`, `data-marks`: the number of data marks drawn) for tests."""
    return (
        f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}" data-figure="{esc(kind)}" '
        f'data-marks="{int(marks)}" font-family="{esc(FONT)}" font-size="11"{extra}>'
        f"<title>{esc(label)}</title>"
    )


def text(x: float, y: float, s, *, anchor: str = "start", size: float = 11, fill: str = INK, weight: str = "",
         rotate: float | None = None, cls: str = "") -> str:
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    if size != 11:
        attrs += f' font-size="{num(size)}"'
    if fill != INK:
        attrs += f' fill="{fill}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    if rotate is not None:
        attrs += f' transform="rotate({num(rotate)} {num(x)} {num(y)})"'
    if cls:
        attrs += f' class="{cls}"'
    return f'<text x="{num(x)}" y="{num(y)}"{attrs}>{esc(s)}</text>'


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = INK, width: float = 1, dash: str = "",
         cls: str = "") -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    c = f' class="{cls}"' if cls else ""
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}" '
            f'stroke-width="{num(width)}"{d}{c}/>')


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "", extra: str = "") -> str:
    body = f"<title>{esc(tip)}</title>" if tip else ""
    attrs = f'x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" fill="{fill}"{extra}'
    return f"<rect {attrs}>{body}</rect>" if body else f"<rect {attrs}/>"


def polyline(points: Sequence[tuple[float, float]], stroke: str, width: float = 1.8, dash: str = "",
             cls: str = "mark") -> str:
    pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline class="{cls}" points="{pts}" fill="none" stroke="{stroke}" stroke-width="{num(width)}"{d}/>'


def axes(x, y, *, left: float, right: float, top: float, bottom: float, x_label: str = "", y_label: str = "",
         x_ticks: list[tuple[float, str]] | None = None, y_ticks: list[tuple[float, str]] | None = None) -> str:
    """Grid lines, tick labels and axis titles for scales `x` and `y` over a plot box."""
    out = []
    for v, lab in y_ticks if y_ticks is not None else [(t, fmt(t)) for t in y.ticks()]:
        py = y(v)
        out.append(line(left, py, right, py, GRID))
        out.append(text(left - 5, py + 3.5, lab, anchor="end", fill=MUTED))
    for v, lab in x_ticks if x_ticks is not None else [(t, fmt(t)) for t in x.ticks()]:
        px = x(v)
        out.append(line(px, bottom, px, bottom + 4, MUTED))
        out.append(text(px, bottom + 15, lab, anchor="middle", fill=MUTED))
    out.append(line(left, bottom, right, bottom, INK))
    out.append(line(left, top, left, bottom, INK))
    if x_label:
        out.append(text((left + right) / 2, bottom + 30, x_label, anchor="middle"))
    if y_label:
        out.append(text(13, (top + bottom) / 2, y_label, anchor="middle", rotate=-90))
    return "".join(out)


def legend(items: Sequence[tuple[str, str]], x: float, y: float, *, dash: Sequence[str] | None = None) -> str:
    """Colour keys in one row starting at (x, y)."""
    out = []
    cx = x
    for i, (name, colour) in enumerate(items):
        d = dash[i] if dash else ""
        if d:
            out.append(line(cx, y - 4, cx + 16, y - 4, colour, 2, d))
        else:
            out.append(rect(cx, y - 9, 12, 10, colour))
        out.append(text(cx + 20, y, name))
        cx += 28 + 6.2 * len(str(name))
    return "".join(out)
