"""The online detector and its HTTP face (`logad serve`, extra `serve`).

    from logad.service import ServeConfig, start_in_thread
    running = start_in_thread(ServeConfig(model="model/", state_dir="state/", port=0))
    # POST lines to running.url + "/v1/lines", read alarms at running.url + "/v1/alarms"
    running.stop()

Modules, top to bottom: `config` (options), `lines` (raw lines -> LineEvents, as `logad detect`
reads them), `journal` (durable, group-committed log of accepted lines), `store` (SQLite: identity,
checkpoint, alarms, feedback, outbox), `rollup` (lines per template over log time, examples,
parameter values, scores: what the dashboard shows, checkpointed with the engine), `engine`
(windower + detector: records -> alarms, deterministic), `sinks` (webhook, Alertmanager), `tail`
(followed files, stdin), `rates` (lines per second and queue depth, sampled), `service` (all of
it, without HTTP), `metrics` (Prometheus), `views` (the summaries as JSON), `app` (FastAPI routes),
`dashboard` (the live dashboard at `/`), `server` (uvicorn), `cluster` (`logad detect --engine ray`). FastAPI, uvicorn and prometheus-client are imported only when a
server or its metrics are made; Ray only by the cluster engine.
"""

from __future__ import annotations

_EXPORTS = {
    "ServeConfig": "logad.service.config",
    "shard_of": "logad.service.config",
    "Service": "logad.service.service",
    "Unavailable": "logad.service.config",
    "LineParser": "logad.service.lines",
    "Journal": "logad.service.journal",
    "Store": "logad.service.store",
    "Engine": "logad.service.engine",
    "create_app": "logad.service.app",
    "start_in_thread": "logad.service.server",
    "serve": "logad.service.server",
    "detect_on_ray": "logad.service.cluster",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'logad.service' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
