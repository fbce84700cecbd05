"""Sending alarms on: a generic JSON webhook and Alertmanager's API, with retries and no duplicates.

Every stored alarm has one outbox row per configured sink, written in the alarm's own transaction
(store.py). This worker sends what is due, marks it delivered on a 2xx answer, and otherwise
retries with exponential backoff (`sink_retry_seconds`, 1 s by default, then 2 s, 4 s ... at most
5 minutes) up to `sink_attempts`
times, then marks it failed (counted in `logad_sink_deliveries_total{outcome="failed"}` and in
`/v1/status`). Delivery is at least once: a kill between a sink's 2xx and the row being marked
sends that alarm again after the restart, so every delivery carries the alarm's stable key
(`Idempotency-Key` header; Alertmanager merges alerts with the same labels anyway).

Generic webhook: POST `{"alarm": {...the alarm as GET /v1/alarms/{id} shows it...}}`.
Alertmanager webhook format (`--alertmanager-webhook URL`): the JSON Alertmanager itself POSTs to
its webhook receivers (version 4: status, groupLabels, commonLabels, alerts with a fingerprint),
for tools that already take those.
Alertmanager: POST `/api/v2/alerts` (appended to the URL unless it already ends with it) a list of
one alert: labels `alertname="LogAnomaly"` (`LogNewTemplate` for a new template), `detector`,
`source`, `sequence_id`, `severity="warning"`; annotations `summary`, `description`, `score`,
`threshold`, `alarm_id`; `startsAt` (the alarm's log time when it has one); `generatorURL`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

log = logging.getLogger("logad.service")
MAX_BACKOFF = 300.0


def webhook_payload(alarm: dict) -> tuple[str, bytes]:
    return "application/json", json.dumps({"alarm": alarm}, default=str).encode("utf-8")


def _iso(t: float | None) -> str:
    t = time.time() if t is None else t
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _alert(alarm: dict, base_url: str) -> dict:
    new = alarm.get("kind") == "new_template"
    if new:
        summary = f"new log template from {alarm.get('source')}"
        description = f"a line matching no trained template: {(alarm.get('lines') or [{}])[0].get('text')}"
    else:
        top = "; ".join(f"{e['template']} ({e['weight']:.3g})" if isinstance(e.get("weight"), float)
                        else str(e.get("template")) for e in (alarm.get("explanation") or [])[:3])
        summary = f"anomalous sequence {alarm.get('sequence_id')} ({alarm.get('n_lines')} lines) from {alarm.get('source')}"
        description = f"score {alarm.get('score')} > threshold {alarm.get('threshold')}" + (f"; {top}" if top else "")
    alert = {
        "labels": {
            "alertname": "LogNewTemplate" if new else "LogAnomaly",
            "detector": str(alarm.get("detector")),
            "source": str(alarm.get("source")),
            "sequence_id": str(alarm.get("sequence_id") or alarm.get("key")),
            "severity": "warning",
        },
        "annotations": {"summary": summary, "description": description, "score": str(alarm.get("score")),
                        "threshold": str(alarm.get("threshold")), "alarm_id": str(alarm.get("id"))},
        "startsAt": _iso(alarm.get("end_time") or alarm.get("created_at")),
        "generatorURL": f"{base_url}/v1/alarms/{alarm.get('id')}",
    }
    return alert


def alertmanager_payload(alarm: dict, base_url: str = "") -> tuple[str, bytes]:
    """What Alertmanager's API takes (POST /api/v2/alerts): a list of alerts."""
    return "application/json", json.dumps([_alert(alarm, base_url)]).encode("utf-8")


def alertmanager_webhook_payload(alarm: dict, base_url: str = "") -> tuple[str, bytes]:
    """What Alertmanager sends its webhook receivers (version 4), for the tools that take those."""
    import hashlib

    alert = _alert(alarm, base_url)
    alert.update(status="firing", endsAt="0001-01-01T00:00:00Z",
                 fingerprint=hashlib.sha1(str(alarm.get("key")).encode()).hexdigest()[:16])
    labels = alert["labels"]
    payload = {"version": "4", "groupKey": f"{{}}:{{alertname=\"{labels['alertname']}\"}}", "truncatedAlerts": 0,
               "status": "firing", "receiver": "logad", "groupLabels": {"alertname": labels["alertname"]},
               "commonLabels": labels, "commonAnnotations": alert["annotations"], "externalURL": base_url,
               "alerts": [alert]}
    return "application/json", json.dumps(payload).encode("utf-8")


class SinkWorker:
    """Delivers the outbox (see the module docstring) in one thread."""

    def __init__(self, service) -> None:
        self.service = service
        self.store = service.store
        c = service.config
        self.sinks = {f"webhook:{u}": ("webhook", u) for u in c.webhook}
        self.sinks.update({f"alertmanager:{u}": ("alertmanager", u) for u in c.alertmanager})
        self.sinks.update({f"am-webhook:{u}": ("am-webhook", u) for u in c.alertmanager_webhook})
        self.timeout = c.sink_timeout
        self.attempts = c.sink_attempts
        self.retry_seconds = c.sink_retry_seconds
        self.base_url = f"http://{c.host}:{c.port}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logad-sinks", daemon=True)

    def start(self) -> SinkWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = [d for d in self.store.due(time.time()) if d[2] in self.sinks]
            except Exception:  # noqa: BLE001 - the database is busy or closing; try again
                log.exception("sinks: reading the outbox failed")
                due = []
            for outbox_id, alarm_id, sink, attempts in due:
                if self._stop.is_set():
                    return
                self._deliver(outbox_id, alarm_id, sink, attempts)
            if not due:
                self._wake.wait(1.0)
                self._wake.clear()

    def _deliver(self, outbox_id: int, alarm_id: int, sink: str, attempts: int) -> None:
        kind, url = self.sinks[sink]
        alarm = self.store.alarm(alarm_id)
        counter = self.service.metrics.sink
        if alarm is None:  # pragma: no cover - alarms are never deleted
            self.store.retry(outbox_id, None, "alarm not found")
            return
        if kind == "alertmanager":
            target = url if url.rstrip("/").endswith("/api/v2/alerts") else url.rstrip("/") + "/api/v2/alerts"
            ctype, body = alertmanager_payload(alarm, self.base_url)
        elif kind == "am-webhook":
            target = url
            ctype, body = alertmanager_webhook_payload(alarm, self.base_url)
        else:
            target = url
            ctype, body = webhook_payload(alarm)
        req = urllib.request.Request(target, data=body, method="POST",
                                     headers={"Content-Type": ctype, "Idempotency-Key": alarm["key"],
                                              "User-Agent": "logad-serve"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured URLs
                code = resp.status
        except urllib.error.HTTPError as exc:
            code, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            code, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        else:
            error = f"HTTP {code}"
        if code is not None and 200 <= code < 300:
            self.store.delivered(outbox_id)
            counter.labels(kind, "delivered").inc()
            return
        n = attempts + 1
        if n >= self.attempts or (code is not None and 400 <= code < 500 and code not in (408, 429)):
            self.store.retry(outbox_id, None, error)
            counter.labels(kind, "failed").inc()
            log.warning("sink %s: giving up on alarm %d after %d attempts (%s)", sink, alarm_id, n, error)
            return
        self.store.retry(outbox_id, time.time() + min(MAX_BACKOFF, self.retry_seconds * 2.0 ** attempts), error)
        counter.labels(kind, "retried").inc()
        log.info("sink %s: alarm %d not delivered (%s), retrying", sink, alarm_id, error)
