"""The live dashboard of `logad serve`, at `GET /` (extra `serve`; issue 16, item 2).

Server-rendered with the report package's Jinja2 templates and figures (`logad.report.render`,
`logad.report.figures`), and a little plain JavaScript (`report/templates/dashboard.js`) that keeps
it live: the alarm feed long-polls `GET /v1/alarms?after=<last id>&wait=25`; the other panels are
HTML fragments the server renders again (`GET /dashboard/part/{status,time,templates}`), fetched
every few seconds; an alarm opens as `GET /dashboard/alarms/{id}` (its lines, the blamed ones
marked, its explanation, true/false-positive buttons that `POST /v1/alarms/{id}/feedback` and show
the verdict the service recorded).

Authentication: with a bearer token (`--token-file`), `GET /` is the only path answered without
it, and it holds no data: the page asks for the token once, keeps it in the tab's sessionStorage
and sends it as the `Authorization` header of every request it makes; every fragment and API path
refuses a request without it (401). Without a token (a loopback address) the first page already
holds every panel. Nothing leaves the host: the page's Content-Security-Policy allows requests to
its own origin only (`connect-src 'self'`), scripts only with the response's nonce.
"""

# no `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime

import math
import secrets
import time

PUBLIC = ("/",)
PARTS = ("status", "time", "templates", "feed")
FEED = 50
HEATMAP_ROWS = 30
COLUMNS = 60


def csp(nonce: str) -> str:
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
FRAGMENT_CSP = "default-src 'none'; frame-ancestors 'none'"


def dashboard_router():
    """The FastAPI router of the dashboard; include it with `create_app(service, routers=[...],
    public=PUBLIC)`."""
    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse
    from starlette.concurrency import run_in_threadpool

    router = APIRouter()

    @router.get("/")
    async def page(request: Request):
        service = request.app.state.service
        nonce = secrets.token_urlsafe(18)
        html = await run_in_threadpool(page_html, service, nonce)
        return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": csp(nonce)})

    @router.get("/dashboard/part/{name}")
    async def part(name: str, request: Request):
        service = request.app.state.service
        if name not in PARTS:
            return HTMLResponse(f"<p>no part {_esc(name)}</p>", 404, headers=HEADERS)
        html = await run_in_threadpool(part_html, service, name)
        return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": FRAGMENT_CSP})

    @router.get("/dashboard/alarms/{alarm_id}")
    async def alarm(alarm_id: str, request: Request):
        service = request.app.state.service
        a = await run_in_threadpool(service.store.alarm, int(alarm_id)) if alarm_id.isdigit() else None
        if a is None:
            return HTMLResponse(f"<p>no alarm {_esc(alarm_id)}</p>", 404, headers=HEADERS)
        html = await run_in_threadpool(alarm_html, service, a)
        return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": FRAGMENT_CSP})

    return router


def _esc(s: str) -> str:
    from markupsafe import escape

    return str(escape(s))


# ---------------------------------------------------------------------- pages
def _env():
    from logad.report.render import environment

    return environment()


def page_html(service, nonce: str) -> str:
    from markupsafe import Markup

    from logad.report.render import render, static

    auth = service.config.token_file is not None
    ctx = {"title": "logad serve" if auth else model_title(service), "kind": "live",
           "subtitle": "" if auth else model_subtitle(service),
           "sections": [("alarms", "Alarms"), ("time", "Over time"), ("templates", "Templates"),
                        ("status", "Ingestion")],
           "nonce": nonce, "auth": auth, "dash_css": Markup(static("dashboard.css")),
           "dash_js": Markup(static("dashboard.js")), "parts": {}}
    if not auth:  # nothing to hide: the first page holds every panel
        ctx["parts"] = {name: Markup(part_html(service, name)) for name in PARTS}
    return render("dashboard.html", **ctx)


def model_title(service) -> str:
    m = service.model
    return f"{m.detector.name} on {m.format_name} logs"


def model_subtitle(service) -> str:
    m = service.model
    return (f"{_grouping_text(service.engine.parser.grouping.describe())}; threshold {m.threshold:.6g}; "
            f"model {service.config.model}")


def _grouping_text(g: dict) -> str:
    kind = g.get("kind")
    if kind == "session":
        out = f"sessions by {g.get('session_regex') or g.get('session_from_path')}"
        if g.get("timeout"):
            out += f", closed after {g['timeout']:g} s of log time without a line"
        return out
    size, step = g.get("size"), g.get("step")
    unit = " s" if kind == "time" else " lines"
    out = f"{kind} windows of {size:g}{unit}" + (f", every {step:g}{unit}" if step and step != size else "")
    return out + (f" per {g['entity_field']}" if g.get("entity_field") else "")


def part_html(service, name: str) -> str:
    ctx = {"status": status_context, "time": time_context, "templates": templates_context,
           "feed": feed_context}[name](service)
    return _env().get_template("dashboard_part.html").render(part=name, **ctx)


def alarm_html(service, a: dict) -> str:
    return _env().get_template("dashboard_part.html").render(part="alarm", **alarm_context(service, a))


# ---------------------------------------------------------------------- contexts
def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def status_context(service) -> dict:
    from logad.report import figures
    from logad.report.render import svg

    st = service.status()
    c = st["counters"]
    rates = service.rates.series(300) if service.rates is not None else {"time": []}
    now = time.time()
    ago = [t - now for t in rates["time"]]
    rate_now = rates["received_per_s"][-1] if rates["time"] else 0.0
    cards = [
        {"label": "lines acknowledged", "value": f"{st['journal']['lines']:,}"},
        {"label": "lines processed", "value": f"{st['processed']['offset']:,}"},
        {"label": "queue (lines)", "value": f"{st['queue']['lines']:,}", "sub": f"limit {st['queue']['limit']:,}"},
        {"label": "held in open windows", "value": f"{st['open_lines']:,}"},
        {"label": "sequences scored", "value": f"{c.get('sequences', 0):,}"},
        {"label": "alarms", "value": f"{c.get('alarms_sequence', 0) + c.get('alarms_new_template', 0):,}",
         "sub": f"{c.get('alarms_sequence', 0):,} sequences, {c.get('alarms_new_template', 0):,} new templates"},
        {"label": "lines/s now", "value": f"{rate_now:,.0f}"},
        {"label": "feedback", "value": f"{sum(st['feedback'].values()):,}",
         "sub": f"{st['feedback'].get('true_positive', 0)} true, {st['feedback'].get('false_positive', 0)} false"},
    ]
    rate_fig = queue_fig = None
    if ago:
        rate_fig = svg(figures.curve_chart(
            [{"name": "acknowledged (journaled)", "x": ago, "y": rates["received_per_s"]},
             {"name": "processed (parsed, windowed, scored)", "x": ago, "y": rates["processed_per_s"], "dash": "4 2"}],
            x_label="seconds ago", y_label="lines per second", kind="rate", width=520, height=230,
            y_range=(0, max(10, max(rates["received_per_s"] + rates["processed_per_s"]) * 1.1)),
            label="lines acknowledged and processed per second, the last 5 minutes"))
        queue_fig = svg(figures.curve_chart(
            [{"name": "queue: acknowledged, not yet processed", "x": ago, "y": rates["queue_lines"]}],
            x_label="seconds ago", y_label="lines", kind="queue", width=420, height=230,
            y_range=(0, max(10, max(rates["queue_lines"]) * 1.1)),
            label="queue depth (lines acknowledged and not yet processed), the last 5 minutes"))
    skipped = {k: c.get(k, 0) for k in ("blank", "not_in_format", "no_session") if c.get(k)}
    return {"model": f"{model_title(service)}: {model_subtitle(service)}", "cards": cards, "rate_fig": rate_fig, "queue_fig": queue_fig, "skipped": skipped,
            "latency": st["alarm_latency_seconds"], "uptime": st["uptime_seconds"], "status": st}


def time_context(service) -> dict:
    from logad.report import figures
    from logad.report.render import svg
    from logad.service.views import timeline_view

    tl = timeline_view(service, COLUMNS, HEATMAP_ROWS)
    edges = tl["edges"]
    if len(edges) < 2:
        return {"timeline": None, "heatmap": None}
    points = [{"t": p["t"], "score": p["score"], "href": f"#alarm-{p['id']}",
               "tip": f"alarm {p['id']}: {p['sequence_id']}, score {p['score']:.4g}"}
              for p in tl["alarm_points"] if p["score"] is not None][:1500]
    timeline = svg(figures.alarm_timeline(edges, tl["lines"], tl["alarms"], max_scores=tl["max_scores"],
                                          points=points, threshold=_num(tl["threshold"]),
                                          label="alarms and the highest score per time bucket, lines per bucket"))
    rows = [f"#{t['id']} {t['text']}" if t["id"] else t["text"] for t in tl["templates"]]
    heat = svg(figures.heatmap(rows, edges, [t["counts"] for t in tl["templates"]], alarms=tl["alarms"],
                               row_notes=["" if t["id"] else "unseen" for t in tl["templates"]],
                               row_links=[f"#tpl-{t['id']}" for t in tl["templates"]],
                               label=f"lines per template over log time ({len(rows)} templates)"))
    width = tl["bucket_seconds"] or 0
    return {"timeline": timeline, "heatmap": heat, "bucket": _duration(width), "shown": len(rows),
            "total": tl["templates_total"], "n_points": len(points), "n_alarms": sum(tl["alarms"])}


def _duration(s: float) -> str:
    from logad.report.svg import duration

    return duration(s)


def templates_context(service) -> dict:
    from logad.report import figures
    from logad.report.render import svg
    from logad.service.views import templates_view, timeline_view

    tv = templates_view(service)
    tl = timeline_view(service, 40, 10_000)
    series = {t["id"]: t["counts"] for t in tl["templates"]}
    total = max(1, tv["lines"])
    rows = []
    for t in sorted(tv["templates"], key=lambda t: (-t["lines"], t["id"])):
        counts = series.get(t["id"])
        rows.append({"id": t["id"], "text": t["text"], "lines": t["lines"], "share": t["lines"] / total,
                     "spark": svg(figures.sparkline(counts, label=f"lines of template {t['id']} over log time",
                                                    width=140, height=22)) if counts and any(counts) else None,
                     "first": t["first_time"], "last": t["last_time"], "examples": t["examples"],
                     "params": param_rows(t["parameters"])})
    um = tv["unmatched"]
    return {"rows": rows, "unmatched": um, "unmatched_spark": svg(figures.sparkline(
        series[0], label="lines no trained template covers, over log time", width=140, height=22, colour="#c62828"))
        if series.get(0) and any(series[0]) else None, "lines": tv["lines"], "note": tv["note"],
        "seen": sum(1 for r in rows if r["lines"])}


def param_rows(params: list[dict]) -> list[dict]:
    """A parameter summary as `macros.html`'s `param_summary` shows it."""
    from logad.report.svg import fmt

    out = []
    for p in params:
        rng = f"numeric {fmt(p['numeric']['min'])} to {fmt(p['numeric']['max'])}" if p.get("numeric") else ""
        out.append({"pos": p["position"], "range": rng, "top": p["top"],
                    "distinct": f"{p['distinct']:,}{'+' if p['more_distinct'] else ''}" if p["distinct"] else ""})
    return out


def feed_context(service) -> dict:
    alarms = service.store.latest(FEED)
    return {"alarms": [feed_row(a) for a in alarms], "last": max((a["id"] for a in alarms), default=0)}


def feed_row(a: dict) -> dict:
    fb = a.get("feedback") or {}
    return {"id": a["id"], "kind": a["kind"], "title": a.get("sequence_id") or "new template",
            "score": _num(a.get("score")), "time": a.get("start_time"), "n_lines": a.get("n_lines") or 0,
            "verdict": fb.get("verdict"), "source": a.get("source") or ""}


def alarm_context(service, a: dict) -> dict:
    from logad.report.svg import fmt, utc

    expl = a.get("explanation") or []
    weights = [abs(_num(e.get("weight")) or 0.0) for e in expl]
    top = max(weights, default=0.0) or 1.0
    lines = [{"no": ln["offset"], "tid": ln["template_id"], "template": ln.get("template", ""), "text": ln.get("text"),
              "blamed": bool(ln.get("blamed")), "truth": False} for ln in a.get("lines") or []]
    with service.engine.lock:
        r = service.engine.rollup
        used = list(dict.fromkeys(ln["tid"] for ln in lines if ln["tid"]))
        tparams = [{"tid": t, "template": service.engine.parser.template_text(t), "params": param_rows(r.parameter_summary(t))}
                   for t in used[:8] if r.params.get(t)]
    new = a["kind"] == "new_template"
    score = _num(a.get("score"))
    summary = (f"a line no trained template covers, at {utc(a.get('start_time'))}" if new else
               f"score {fmt(score) if score is not None else a.get('score')} (threshold {fmt(a.get('threshold'))}), "
               f"{a.get('n_lines') or 0:,} lines, {utc(a.get('start_time'))} to {utc(a.get('end_time'))}")
    if a.get("blamed_offsets"):
        summary += f", {len(a['blamed_offsets']):,} lines blamed ({a.get('blame')})"
    item = {"id": f"alarm-{a['id']}", "title": a.get("sequence_id") or f"new template: {a.get('new_template', '')}",
            "tags": [("new", "new template")] if new else [("alarm", "alarm")],
            "summary": summary, "lines": lines, "more": max(0, (a.get("n_lines") or 0) - len(lines)),
            "explanation": [{"tid": e["template_id"], "template": e["template"], "weight": _num(e.get("weight")),
                             "share": w / top} for e, w in zip(expl, weights)],
            "template_params": tparams,
            "note": f"source {a.get('source')}; stream offsets {a.get('first_offset')} to {a.get('last_offset')}"}
    return {"a": a, "item": item, "feedback": a.get("feedback")}
