"""The figures of logad's reports, as SVG strings drawn from plain data (lists, dicts, numbers).

Every function takes what it shows and returns one `<svg class="fig">` element with
`data-figure` (its kind) and `data-marks` (how many data marks it drew), so a page can be checked
for figures that really hold data. No logad object, no numpy needed: the service's dashboard
draws the same figures from its own counters.

    score_histogram   normal vs anomalous score distributions, the threshold drawn
    curve_chart       ROC, PR, training losses, trial learning curves (lines, a marked point)
    bar_chart         methods beside their baselines, detectors across datasets (grouped bars)
    heatmap           templates x time buckets, with an alarm strip
    alarm_timeline    scores and alarms over time above the lines per time bucket
    scatter           trials: objective against time or against one parameter
    sparkline         a tiny trend for a table row
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from logad.report.svg import (
    ALARM,
    ANOMALOUS,
    GRID,
    INK,
    MUTED,
    NORMAL,
    PALETTE,
    Linear,
    axes,
    esc,
    fmt,
    legend,
    line,
    num,
    open_svg,
    polyline,
    rect,
    text,
    time_ticks,
    utc,
)


def _finite(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def score_histogram(edges: Sequence[float], normal: Sequence[int], anomalous: Sequence[int], *,
                    threshold: float | None = None, threshold_label: str = "threshold",
                    clipped_above: bool = False, width: int = 640, height: int = 270,
                    label: str = "score distributions of normal and anomalous test sequences") -> str:
    """Each class's share of sequences per score bin (both classes visible whatever their sizes),
    the counts in each bar's tooltip, the threshold as a dashed line."""
    left, right, top, bottom = 52, width - 12, 26, height - 42
    n_norm, n_anom = sum(normal), sum(anomalous)
    share_n = [c / n_norm if n_norm else 0.0 for c in normal]
    share_a = [c / n_anom if n_anom else 0.0 for c in anomalous]
    ymax = max([*share_n, *share_a, 0.01])
    x = Linear(edges[0], edges[-1], left, right)
    y = Linear(0, ymax * 1.08, bottom, top)
    y_ticks = [(t, f"{t:.0%}" if ymax > 0.05 else f"{t:.1%}") for t in y.ticks(4)]
    out = [axes(x, y, left=left, right=right, top=top, bottom=bottom, x_label="score (higher = more anomalous)",
                y_label="share of the class", y_ticks=y_ticks)]
    marks = 0
    for i in range(len(edges) - 1):
        x0, x1 = x(edges[i]), x(edges[i + 1])
        w = max(x1 - x0 - 1, 1)
        last = clipped_above and i == len(edges) - 2
        span = f"{fmt(edges[i])} and above" if last else f"{fmt(edges[i])} to {fmt(edges[i + 1])}"
        for shares, counts, colour, name, off, total in (
            (share_n, normal, NORMAL, "normal", 0.0, n_norm), (share_a, anomalous, ANOMALOUS, "anomalous", 0.5, n_anom)
        ):
            if counts[i]:
                marks += 1
                top_y = y(shares[i])
                out.append(rect(x0 + off * w, top_y, w / 2, bottom - top_y, colour,
                                f"{name}: {counts[i]:,} of {total:,} sequences ({shares[i]:.1%}), scores {span}",
                                ' class="mark" fill-opacity="0.85"'))
    if threshold is not None and _finite(threshold):
        px = x(threshold)
        out.append(line(px, top - 6, px, bottom, INK, 1.6, "5 3", cls="threshold"))
        out.append(text(min(px + 4, right - 150), top - 10, f"{threshold_label} {fmt(threshold)}", weight="600"))
    out.append(legend([(f"normal (n={n_norm:,})", NORMAL), (f"anomalous (n={n_anom:,})", ANOMALOUS)],
                      left + 8, height - 4))
    return open_svg("histogram", width, height, label, marks) + "".join(out) + "</svg>"


def curve_chart(series: Sequence[dict], *, x_label: str, y_label: str, label: str, kind: str = "curve",
                x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
                point: dict | None = None, diagonal: bool = False, baseline: float | None = None,
                baseline_label: str = "", width: int = 320, height: int = 280, x_ticks=None) -> str:
    """Lines through `series` (`{"name", "x", "y", "colour"?, "dash"?}`); `point` (`{"x", "y",
    "label"}`) marks where the threshold sits; `diagonal` draws chance on a ROC; `baseline` a
    horizontal reference (a PR curve's positive rate)."""
    n_rows = max(1, (len([s for s in series if s["x"]]) + 1) // 2)
    left, right, top, bottom = 48, width - 10, 14, height - 50 - 13 * (n_rows - 1)
    xs = [v for s in series for v in s["x"] if _finite(v)]
    ys = [v for s in series for v in s["y"] if _finite(v)]
    xr = x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
    yr = y_range or ((min(ys), max(ys)) if ys else (0.0, 1.0))
    if y_range is None and yr[1] > yr[0]:
        pad = (yr[1] - yr[0]) * 0.06
        yr = (yr[0] - pad if yr[0] - pad > 0 or yr[0] < 0 else 0.0, yr[1] + pad)
    x = Linear(xr[0], xr[1], left, right)
    y = Linear(yr[0], yr[1], bottom, top)
    out = [axes(x, y, left=left, right=right, top=top, bottom=bottom, x_label=x_label, y_label=y_label,
                x_ticks=x_ticks)]
    if diagonal:
        out.append(line(x(xr[0]), y(yr[0]), x(xr[1]), y(yr[1]), GRID, 1.2, "4 3"))
    if baseline is not None and _finite(baseline):
        out.append(line(left, y(baseline), right, y(baseline), MUTED, 1, "4 3"))
        if baseline_label:
            out.append(text(right - 2, y(baseline) - 4, baseline_label, anchor="end", fill=MUTED, size=10))
    marks = 0
    keys = []
    for i, s in enumerate(series):
        colour = s.get("colour") or PALETTE[i % len(PALETTE)]
        pts = [(x(a), y(b)) for a, b in zip(s["x"], s["y"]) if _finite(a) and _finite(b)]
        if not pts:
            continue
        marks += len(pts)
        if len(pts) == 1:
            out.append(f'<circle class="mark" cx="{num(pts[0][0])}" cy="{num(pts[0][1])}" r="3" fill="{colour}"/>')
        else:
            out.append(polyline(pts, colour, 1.8, s.get("dash", "")))
        keys.append((s["name"], colour, s.get("dash", "")))
    if point is not None and _finite(point.get("x")) and _finite(point.get("y")):
        px, py = x(point["x"]), y(point["y"])
        out.append(f'<circle class="threshold" cx="{num(px)}" cy="{num(py)}" r="5" fill="none" stroke="{INK}" '
                   f'stroke-width="2"><title>{esc(point.get("label", ""))}</title></circle>')
        tx = px + 8 if px < (left + right) / 2 else px - 8
        out.append(text(tx, py + (14 if py < top + 20 else -8), point.get("label", ""),
                        anchor="start" if px < (left + right) / 2 else "end", size=10, weight="600"))
    rows = [keys[i:i + 2] for i in range(0, len(keys), 2)]
    for r, items in enumerate(rows):
        out.append(legend([(n, c) for n, c, _ in items], left, bottom + 44 + 13 * r,
                          dash=[d or "" for _, _, d in items] if any(d for _, _, d in items) else None))
    return open_svg(kind, width, height, label, marks) + "".join(out) + "</svg>"


def bar_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, label: str,
              y_label: str = "", y_max: float | None = None, width: int = 640, height: int = 280,
              colours: Sequence[str] | None = None, value_format: str = "{:.3f}",
              category_notes: Sequence[str] | None = None) -> str:
    """Grouped bars: one group per category, one bar per series, the value written on each bar;
    a missing value (None) leaves a labelled gap instead of a zero."""
    left, right, top, bottom = 48, width - 10, 18, height - 62
    vals = [v for _, vs in series for v in vs if _finite(v)]
    ymax = y_max if y_max is not None else (max(vals) * 1.1 if vals else 1.0)
    x0 = left + 8
    group_w = (right - x0) / max(1, len(categories))
    bar_w = min(46.0, group_w * 0.8 / max(1, len(series)))
    y = Linear(0, ymax or 1.0, bottom, top)
    out = [axes(Linear(0, 1, left, right), y, left=left, right=right, top=top, bottom=bottom, y_label=y_label,
                x_ticks=[])]
    marks = 0
    colours = list(colours or PALETTE)
    for ci, cat in enumerate(categories):
        gx = x0 + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, (name, vs) in enumerate(series):
            v = vs[ci] if ci < len(vs) else None
            bx = gx + si * bar_w
            if _finite(v):
                marks += 1
                by = y(v)
                out.append(rect(bx + 1, by, bar_w - 2, bottom - by, colours[si % len(colours)],
                                f"{cat}, {name}: {value_format.format(v)}", ' class="mark"'))
                out.append(text(bx + bar_w / 2, by - 3, value_format.format(v), anchor="middle", size=9))
            else:
                out.append(text(bx + bar_w / 2, bottom - 4, "n/a", anchor="middle", size=9, fill=MUTED))
        cx = x0 + ci * group_w + group_w / 2
        out.append(text(cx, bottom + 14, _short(cat, int(group_w / 6)), anchor="middle"))
        if category_notes and ci < len(category_notes) and category_notes[ci]:
            out.append(text(cx, bottom + 27, _short(category_notes[ci], int(group_w / 5.5)), anchor="middle",
                            size=9, fill=ALARM if "oracle" in category_notes[ci] else MUTED))
    if len(series) > 1 or series and series[0][0]:
        out.append(legend([(n, colours[i % len(colours)]) for i, (n, _) in enumerate(series)], left, height - 6))
    return open_svg("bars", width, height, label, marks) + "".join(out) + "</svg>"


def _short(s: str, n: int) -> str:
    s = str(s)
    return s if len(s) <= max(n, 4) else s[: max(n, 4) - 1] + "…"


def _heat(v: int, vmax: int) -> str:
    """White to dark blue on a log scale of counts."""
    if v <= 0 or vmax <= 0:
        return "#ffffff"
    t = math.log1p(v) / math.log1p(vmax)
    r = int(235 - t * (235 - 16))
    g = int(243 - t * (243 - 64))
    b = int(250 - t * (250 - 122))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(rows: Sequence[str], edges: Sequence[float], matrix: Sequence[Sequence[int]], *, label: str,
            time_axis: bool = True, alarms: Sequence[int] | None = None, row_notes: Sequence[str] | None = None,
            row_links: Sequence[str | None] | None = None, width: int = 960, row_h: int = 13,
            label_w: int = 300) -> str:
    """Counts of each row (template) per column (time bucket between consecutive `edges`), on a
    log colour scale; `alarms` per column as a red strip under the grid; `row_notes` ("new",
    "vanished") tint a row's label; `row_links` make a label a link."""
    n_cols = max(1, len(edges) - 1)
    left, right, top = label_w, width - 14, 8
    grid_h = row_h * len(rows)
    strip = 16 if alarms is not None else 0
    bottom = top + grid_h
    height = bottom + strip + 48
    cw = (right - left) / n_cols
    vmax = max((v for r in matrix for v in r), default=0)
    out = []
    marks = 0
    for ri, name in enumerate(rows):
        ry = top + ri * row_h
        note = row_notes[ri] if row_notes and ri < len(row_notes) else ""
        colour = {"new": ALARM, "unseen": ALARM, "vanished": MUTED}.get(note, INK)
        lab = text(left - 6, ry + row_h - 3, _short(name, int(label_w / 6.3)), anchor="end", size=10, fill=colour)
        lab = lab.replace("</text>", f"<title>{esc(name)}</title></text>")
        link = row_links[ri] if row_links and ri < len(row_links) else None
        out.append(f'<a href="{esc(link)}">{lab}</a>' if link else lab)
        row = matrix[ri]
        for ci in range(n_cols):
            v = row[ci] if ci < len(row) else 0
            if v:
                marks += 1
                when = _span(edges, ci, time_axis)
                out.append(rect(left + ci * cw, ry, cw + 0.3, row_h - 1, _heat(v, vmax), f"{name}\n{when}: {v:,} lines",
                                f' class="mark cell" data-col="{ci}"'))
    out.append(f'<rect x="{left}" y="{top}" width="{num(right - left)}" height="{grid_h}" fill="none" stroke="{GRID}"/>')
    if alarms is not None:
        amax = max(alarms, default=0)
        out.append(text(left - 6, bottom + 12, "alarms", anchor="end", size=10, fill=ALARM, weight="600"))
        for ci, a in enumerate(alarms[:n_cols]):
            if a:
                op = 0.25 + 0.75 * (a / amax if amax else 0)
                out.append(rect(left + ci * cw, bottom + 2, cw + 0.3, strip - 4, ALARM,
                                f"{_span(edges, ci, time_axis)}: {a:,} alarms", f' fill-opacity="{op:.2f}" class="alarm-cell"'))
    ty = bottom + strip
    ticks = time_ticks(edges[0], edges[-1]) if time_axis else [(t, fmt(t)) for t in Linear(edges[0], edges[-1], 0, 1).ticks()]
    xs = Linear(edges[0], edges[-1], left, right)
    for v, lab in ticks:
        out.append(line(xs(v), ty, xs(v), ty + 4, MUTED))
        out.append(text(xs(v), ty + 15, lab, anchor="middle", fill=MUTED))
    out.append(text((left + right) / 2, ty + 32, "time (UTC)" if time_axis else "line number", anchor="middle"))
    # colour key
    for i, v in enumerate((1, max(1, int(round(vmax ** 0.5))), vmax) if vmax else ()):
        kx = 12 + i * 70
        out.append(rect(kx, ty + 22, 14, 10, _heat(v, vmax)))
        out.append(text(kx + 18, ty + 31, f"{v:,}", size=9, fill=MUTED))
    return open_svg("heatmap", width, height, label, marks) + "".join(out) + "</svg>"


def _span(edges: Sequence[float], i: int, time_axis: bool) -> str:
    if time_axis:
        return f"{utc(edges[i])} to {utc(edges[i + 1])[11:]}"
    return f"lines {int(edges[i]):,} to {int(edges[i + 1]):,}"


def alarm_timeline(edges: Sequence[float], lines: Sequence[int], alarms: Sequence[int], *, label: str,
                   max_scores: Sequence[float | None] | None = None, points: Sequence[dict] = (),
                   threshold: float | None = None, time_axis: bool = True, width: int = 960,
                   height: int = 300) -> str:
    """Top: the highest score per time bucket (line), each alarm as a red dot linking to its
    details (`points`: `{"t", "score", "tip", "href"}`), the threshold dashed. Bottom: lines per
    bucket (grey) with the alarms per bucket (red) in front."""
    left, right = 60, width - 14
    top1, bottom1 = 14, int(height * 0.55)
    top2, bottom2 = bottom1 + 22, height - 40
    x = Linear(edges[0], edges[-1], left, right)
    n = max(1, len(edges) - 1)
    cw = (right - left) / n
    out = []
    marks = 0
    svals = [v for v in (max_scores or []) if _finite(v)] + [p["score"] for p in points if _finite(p.get("score"))]
    if threshold is not None and _finite(threshold):
        svals.append(threshold)
    lo, hi = (min(svals), max(svals)) if svals else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or 0.5
    ys = Linear(lo - pad, hi + pad, bottom1, top1)
    ticks = time_ticks(edges[0], edges[-1]) if time_axis else [(t, fmt(t)) for t in Linear(edges[0], edges[-1], 0, 1).ticks()]
    out.append(axes(x, ys, left=left, right=right, top=top1, bottom=bottom1, y_label="score",
                    x_ticks=[(v, "") for v, _ in ticks], y_ticks=[(t, fmt(t)) for t in ys.ticks(4)]))
    if max_scores:
        pts = [(left + (i + 0.5) * cw, ys(v)) for i, v in enumerate(max_scores) if _finite(v)]
        if pts:
            marks += len(pts)
            out.append(polyline(pts, NORMAL, 1.2))
    if threshold is not None and _finite(threshold):
        out.append(line(left, ys(threshold), right, ys(threshold), INK, 1.4, "5 3", cls="threshold"))
        out.append(text(right - 4, ys(threshold) - 4, f"threshold {fmt(threshold)}", anchor="end", size=10, weight="600"))
    for p in sorted(points, key=lambda p: p.get("score") if _finite(p.get("score")) else 0.0):  # highest on top
        if not (_finite(p.get("t")) and _finite(p.get("score"))):
            continue
        marks += 1
        dot = (f'<circle class="mark alarm-dot" cx="{num(x(p["t"]))}" cy="{num(ys(p["score"]))}" r="3.2" fill="{ALARM}" '
               f'fill-opacity="0.8"><title>{esc(p.get("tip", ""))}</title></circle>')
        out.append(f'<a href="{esc(p["href"])}">{dot}</a>' if p.get("href") else dot)
    lmax = max(lines, default=0)
    yl = Linear(0, lmax or 1, bottom2, top2)
    out.append(axes(x, yl, left=left, right=right, top=top2, bottom=bottom2, y_label="lines",
                    x_label="time (UTC)" if time_axis else "line number", x_ticks=ticks,
                    y_ticks=[(t, fmt(t)) for t in yl.ticks(3)]))
    amax = max(alarms, default=0)
    for i in range(n):
        v = lines[i] if i < len(lines) else 0
        span = _span(edges, i, time_axis)
        if v:
            marks += 1
            out.append(rect(left + i * cw, yl(v), max(cw - 0.5, 0.5), bottom2 - yl(v), "#b9c4cf", f"{span}: {v:,} lines",
                            ' class="mark"'))
        a = alarms[i] if i < len(alarms) else 0
        if a:
            marks += 1
            h = max(2.0, (bottom2 - top2) * 0.35 * a / amax) if amax else 0
            out.append(rect(left + i * cw, bottom2 - h, max(cw - 0.5, 0.5), h, ALARM, f"{span}: {a:,} alarms",
                            ' class="mark alarm-bar"'))
    out.append(legend([("highest score per bucket", NORMAL), ("alarm", ALARM), ("lines", "#b9c4cf")], left, height - 4))
    return open_svg("timeline", width, height, label, marks) + "".join(out) + "</svg>"


def scatter(points: Sequence[dict], *, x_label: str, y_label: str, label: str, width: int = 480, height: int = 280,
            log_x: bool = False, legend_items: Sequence[tuple[str, str]] = (), best: dict | None = None,
            x_ticks=None) -> str:
    """Dots (`{"x", "y", "colour"?, "tip"?, "r"?}`); `best` (`{"x", "y", "label"}`) is ringed."""
    left, right, top, bottom = 52, width - 12, 16, height - 58
    xs = [p["x"] for p in points if _finite(p.get("x"))]
    ys = [p["y"] for p in points if _finite(p.get("y"))]
    use_log = bool(log_x and xs and min(xs) > 0)

    def tx(v: float) -> float:
        return math.log10(v) if use_log else v

    xr = (min(map(tx, xs)), max(map(tx, xs))) if xs else (0.0, 1.0)
    yr = (min(ys), max(ys)) if ys else (0.0, 1.0)
    padx = (xr[1] - xr[0]) * 0.05 or 0.5
    pady = (yr[1] - yr[0]) * 0.08 or 0.05
    x = Linear(xr[0] - padx, xr[1] + padx, left, right)
    y = Linear(yr[0] - pady, yr[1] + pady, bottom, top)
    ticks = x_ticks
    if ticks is None and use_log:
        ticks = [(t, fmt(10 ** t)) for t in x.ticks()]
    out = [axes(x, y, left=left, right=right, top=top, bottom=bottom, x_label=x_label, y_label=y_label, x_ticks=ticks)]
    marks = 0
    for p in points:
        if not (_finite(p.get("x")) and _finite(p.get("y"))):
            continue
        marks += 1
        out.append(f'<circle class="mark" cx="{num(x(tx(p["x"])))}" cy="{num(y(p["y"]))}" r="{p.get("r", 4)}" '
                   f'fill="{p.get("colour", NORMAL)}" fill-opacity="0.8"><title>{esc(p.get("tip", ""))}</title></circle>')
    if best is not None and _finite(best.get("x")) and _finite(best.get("y")):
        bx, by = x(tx(best["x"])), y(best["y"])
        out.append(f'<circle class="best" cx="{num(bx)}" cy="{num(by)}" r="8" fill="none" stroke="{INK}" stroke-width="2"/>')
        out.append(text(bx + (10 if bx < (left + right) / 2 else -10), by - 8, best.get("label", "best"),
                        anchor="start" if bx < (left + right) / 2 else "end", size=10, weight="600"))
    if legend_items:
        out.append(legend(list(legend_items), left, height - 6))
    return open_svg("scatter", width, height, label, marks) + "".join(out) + "</svg>"


def sparkline(values: Sequence[float], *, label: str = "trend", width: int = 120, height: int = 20,
              colour: str = NORMAL, marks_at: Sequence[int] = ()) -> str:
    """A small trend (e.g. a template's lines per time bucket), bars scaled to the row's maximum;
    `marks_at` buckets are drawn red (alarms)."""
    n = max(1, len(values))
    vmax = max(values, default=0) or 1
    w = width / n
    out = []
    marks = 0
    red = set(marks_at)
    for i, v in enumerate(values):
        if v:
            marks += 1
            h = max(1.0, (height - 2) * v / vmax)
            out.append(rect(i * w, height - h, max(w - 0.3, 0.4), h, ALARM if i in red else colour,
                            extra=' class="mark"'))
    return open_svg("sparkline", width, height, label, marks, cls="fig spark") + "".join(out) + "</svg>"
