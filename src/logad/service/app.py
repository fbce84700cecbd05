"""The HTTP face of the service (FastAPI; extra `serve`).

Routes (JSON unless said otherwise; every route but /healthz needs `Authorization: Bearer TOKEN`
when the service has a token):

POST /v1/lines            text/plain: raw lines in the model's format; application/x-ndjson: objects
                          {"line": "...", "source": "..."}. Query: source (for text/plain; default
                          "http"), on_error=reject|skip. 200 {"accepted", "first_offset", "last_offset",
                          "skipped"} once the lines are durable. 400 malformed / empty / binary body,
                          413 body over the limit, 415 other content type, 421 a source of another
                          shard, 422 lines not in the format (on_error=reject; nothing is accepted),
                          429 queue full / 503 not ready, with Retry-After.
POST /v1/flush            end of stream: closes every open window; waits (up to ?wait=SECONDS, default
                          60) until processed: 200 {"flushed", "stream", "sequences_closed", "alarms"},
                          202 when still processing.
GET  /v1/alarms           ?since=&source=&min_score=&kind=&after=&limit=&wait= -> {"alarms": [...], "next"}
                          (wait=SECONDS: when no alarm matches yet, wait up to that long for one: a
                          live view polls with after=<last id seen>)
GET  /v1/alarms/{id}      one alarm; 404
POST /v1/alarms/{id}/feedback  {"verdict": "true_positive"|"false_positive", "note"}; 404, 422
GET  /v1/status           counters, queue, latency percentiles, model, journal
GET  /v1/templates        the model's templates with what was processed of them {"templates": [{"id",
                          "text", "lines", "first_time", "last_time", "examples", "parameters"}], "unmatched"}
GET  /v1/timeline         ?buckets=&top= lines per template per log-time bucket, lines, sequences, highest
                          score and alarms per bucket, alarm points {"edges", "templates": [{"id", "counts"}], ...}
GET  /v1/rates            ?seconds= lines acknowledged / processed per second, queue depth, one sample a second
GET  /healthz             200 {"status": "ok"} when ready, else 503
GET  /metrics             Prometheus text format
"""

# no `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime

import asyncio
import hmac
import json
import logging
import math
from datetime import datetime

from logad.errors import require
from logad.service.config import Unavailable, WrongShard
from logad.service.lines import BodyError, decode_ndjson, decode_text
from logad.service.service import Service

log = logging.getLogger("logad.service")
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-lines")
TEXT_TYPES = ("text/plain", "")


def _clean(o):
    """JSON-safe: non-finite floats become their names."""
    if isinstance(o, float) and not math.isfinite(o):
        return repr(o)
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def create_app(service: Service, *, routers=(), public=()):
    """The FastAPI application serving `service` (started already, or started by the caller).
    `routers`: more `fastapi.APIRouter`s to include (a dashboard adds its pages this way; its
    handlers reach the service as `request.app.state.service`). `public`: paths (exact) answered
    without the bearer token, besides /healthz: pages a browser opens, which hold no data."""
    fastapi = require("fastapi", "serve")
    from fastapi import Request
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool

    app = fastapi.FastAPI(title="logad serve", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    token = service.config.token()
    metrics = service.metrics
    open_paths = {"/healthz", *public}

    def reply(payload: dict, status: int = 200, headers: dict | None = None):
        body = json.dumps(_clean(payload), separators=(",", ":"), default=str)
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def refuse(status: int, reason: str, message: str, headers: dict | None = None, **extra):
        metrics.rejected_requests.labels(reason).inc()
        log.info("refused a request: %d %s: %s", status, reason, message)
        return reply({"error": message, "reason": reason, **extra}, status, headers)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        route = path
        for prefix in ("/v1/alarms/", "/dashboard/alarms/", "/dashboard/part/"):
            if path.startswith(prefix):
                route = prefix + "{id}"  # bounded label values
        if token is not None and path not in open_paths:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                response = refuse(401, "unauthorized", "missing or wrong bearer token",
                                  {"WWW-Authenticate": 'Bearer realm="logad"'})
                metrics.requests.labels(route, "401").inc()
                return response
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - one bad request never takes the server down
            log.exception("error while serving %s %s", request.method, path)
            response = reply({"error": "internal error (logged)", "reason": "internal"}, 500)
        metrics.requests.labels(route, str(response.status_code)).inc()
        return response

    async def read_body(request: Request) -> bytes:
        limit = service.config.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise BodyError(f"Content-Length {length!r} is not a number", 400, "malformed") from None
            if declared > limit:
                raise BodyError(f"the body is {declared} bytes, over the limit of {limit}", 413, "too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(f"the body is over the limit of {limit} bytes", 413, "too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/v1/lines")
    async def post_lines(request: Request):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        source = request.query_params.get("source") or service.config.default_source
        on_error = request.query_params.get("on_error", service.config.on_error)
        if on_error not in ("reject", "skip"):
            return refuse(400, "malformed", f"on_error must be 'reject' or 'skip', got {on_error!r}")
        if ctype not in TEXT_TYPES and ctype not in NDJSON_TYPES:
            return refuse(415, "content_type", f"Content-Type {ctype!r} is not text/plain or application/x-ndjson")
        try:
            body = await read_body(request)
            if not body.strip():
                raise BodyError("the body is empty: send one raw log line per line", 400, "empty")
            lines, sources, split, invalid = await run_in_threadpool(_prepare, service, body, ctype, source)
        except BodyError as exc:
            return refuse(exc.status, exc.reason, str(exc))
        except WrongShard as exc:
            return refuse(421, "wrong_shard", str(exc))
        if split.records == 0 and split.n_bad:
            metrics.rejected_lines.labels("not_in_format").inc(split.n_bad)
            fmt = service.engine.parser.fmt
            return refuse(422, "not_in_format", f"no line is in the model's format {fmt.name!r} ({fmt.header})",
                          lines=[i + 1 for i in split.bad[:20]])
        if split.n_bad and on_error == "reject":
            metrics.rejected_lines.labels("not_in_format").inc(split.n_bad)
            fmt = service.engine.parser.fmt
            return refuse(422, "not_in_format",
                          f"{split.n_bad} of {split.n} lines are not in the model's format {fmt.name!r} "
                          f"({fmt.header}); nothing was accepted (send ?on_error=skip to accept the others)",
                          lines=[i + 1 for i in split.bad[:20]])
        if split.records == 0:
            return refuse(400, "empty", "the body holds no log line (only blank lines)")
        try:
            fut = service.ingest(lines, sources, split=split)
            rec = await asyncio.wrap_future(fut)
        except Unavailable as exc:
            metrics.rejected_lines.labels(exc.reason).inc(len(lines))
            return refuse(exc.status, exc.reason, str(exc), {"Retry-After": str(exc.retry_after)})
        skipped = {}
        if split.n_bad:
            skipped["not_in_format"] = split.n_bad
        if split.blank:
            skipped["blank"] = split.blank
        out = {"accepted": rec.n, "first_offset": rec.first_offset, "last_offset": rec.last_offset, "skipped": skipped}
        if split.n_bad:
            out["not_in_format_lines"] = [i + 1 for i in split.bad[:20]]
        if invalid:
            out["invalid_utf8_lines"] = invalid
        if split.oversized:
            out["truncated_lines"] = split.oversized
        return reply(out)

    @app.post("/v1/flush")
    async def post_flush(request: Request):
        try:
            wait = _number(request.query_params.get("wait"), 60.0)
        except ValueError as exc:
            return refuse(400, "malformed", str(exc))
        try:
            fut = service.flush()
        except Unavailable as exc:
            return refuse(exc.status, exc.reason, str(exc), {"Retry-After": str(exc.retry_after)})
        try:
            summary = await asyncio.wait_for(asyncio.wrap_future(fut), timeout=wait)
        except TimeoutError:
            return reply({"flushed": "pending", "note": f"still processing after {wait} s"}, 202)
        return reply(summary)

    @app.get("/v1/alarms")
    async def get_alarms(request: Request):
        q = request.query_params
        try:
            since = _time(q.get("since"))
            min_score = _number(q.get("min_score"), None)
            after = int(q.get("after") or 0)
            limit = int(q.get("limit") or 100)
        except ValueError as exc:
            return refuse(400, "malformed", str(exc))
        kind = q.get("kind")
        if kind is not None and kind not in ("sequence", "new_template"):
            return refuse(400, "malformed", f"kind must be 'sequence' or 'new_template', got {kind!r}")
        try:
            wait = min(60.0, max(0.0, _number(q.get("wait"), 0.0)))
        except ValueError as exc:
            return refuse(400, "malformed", str(exc))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            alarms, nxt = await run_in_threadpool(service.store.alarms, since=since, source=q.get("source"),
                                                  min_score=min_score, kind=kind, after=after, limit=limit)
            if alarms or loop.time() >= deadline or service.stopping or service.closing:
                break
            await asyncio.sleep(min(0.25, max(0.0, deadline - loop.time())))
        return reply({"alarms": alarms, "next": None if nxt is None else str(nxt)})

    @app.get("/v1/alarms/{alarm_id}")
    async def get_alarm(alarm_id: str):
        if not alarm_id.isdigit():
            return refuse(404, "not_found", f"no alarm {alarm_id!r}")
        a = await run_in_threadpool(service.store.alarm, int(alarm_id))
        if a is None:
            return refuse(404, "not_found", f"no alarm {alarm_id}")
        return reply(a)

    @app.post("/v1/alarms/{alarm_id}/feedback")
    async def post_feedback(alarm_id: str, request: Request):
        from logad.service.store import VERDICTS

        try:
            body = json.loads(await read_body(request) or b"null")
        except (ValueError, BodyError) as exc:
            return refuse(400, "malformed", f"the feedback must be JSON like {{\"verdict\": \"true_positive\"}}: {exc}")
        if not isinstance(body, dict) or str(body.get("verdict", body.get("label", ""))).lower() not in VERDICTS:
            return refuse(422, "malformed", "give {\"verdict\": \"true_positive\" | \"false_positive\", \"note\": ...}")
        verdict = VERDICTS[str(body.get("verdict", body.get("label"))).lower()]
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            return refuse(422, "malformed", "`note` must be a string")
        a = await run_in_threadpool(service.store.feedback, int(alarm_id), verdict, note) if alarm_id.isdigit() else None
        if a is None:
            return refuse(404, "not_found", f"no alarm {alarm_id}")
        log.info("feedback on alarm %s: %s", alarm_id, verdict)
        return reply(a)

    @app.get("/v1/status")
    async def get_status():
        return reply(await run_in_threadpool(service.status))

    @app.get("/v1/templates")
    async def get_templates():
        from logad.service.views import templates_view

        return reply(await run_in_threadpool(templates_view, service))

    @app.get("/v1/timeline")
    async def get_timeline(request: Request):
        from logad.service.views import timeline_view

        try:
            buckets = int(request.query_params.get("buckets") or 60)
            top = int(request.query_params.get("top") or 30)
        except ValueError as exc:
            return refuse(400, "malformed", f"buckets and top must be integers: {exc}")
        return reply(await run_in_threadpool(timeline_view, service, buckets, top))

    @app.get("/v1/rates")
    async def get_rates(request: Request):
        try:
            seconds = min(3600.0, max(1.0, _number(request.query_params.get("seconds"), 300.0)))
        except ValueError as exc:
            return refuse(400, "malformed", str(exc))
        return reply(service.rates.series(seconds) if service.rates is not None else {})

    @app.get("/healthz")
    async def healthz():
        ok = service.ready and service.failed is None and service.journal.failed is None
        body = {"status": "ok" if ok else "unavailable", "ready": service.ready,
                "failed": None if service.failed is None else str(service.failed),
                "processed_offset": service.engine.next_offset - 1, "journal_offset": service.journal.next_offset - 1,
                "queue_lines": service.queued_lines}
        return reply(body, 200 if ok else 503)

    @app.get("/metrics")
    async def get_metrics():
        data, ctype = await run_in_threadpool(metrics.render)
        return Response(data, media_type=ctype)

    for router in routers:
        app.include_router(router)
    return app


def _prepare(service: Service, body: bytes, ctype: str, source: str):
    """(lines, sources, split, invalid UTF-8 lines) of a body, checked for the shard and split."""
    if ctype in NDJSON_TYPES:
        lines, sources = decode_ndjson(body, source)
        invalid = 0
    else:
        lines, invalid = decode_text(body)
        sources = [source] * len(lines)
    if not lines:
        raise BodyError("the body holds no log line", 400, "empty")
    service.check_shard(sources)
    split = service.engine.parser.split(lines)
    return lines, sources, split, invalid


def _number(text: str | None, default):
    if text is None or text == "":
        return default
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {text!r}")
    return v


def _time(text: str | None) -> float | None:
    """Seconds since the epoch, or an ISO-8601 time (UTC when it names no zone)."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"`since` must be seconds since the epoch or an ISO-8601 time, got {text!r}") from None
    if t.tzinfo is None:
        from datetime import UTC

        t = t.replace(tzinfo=UTC)
    return t.timestamp()
