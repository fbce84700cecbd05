"""Prometheus metrics of one service (its own registry, so several can live in one process).

Counters of what the detector did (lines parsed, unmatched, sequences, alarms) are read from the
engine's counters at scrape time: they are part of the checkpoint, so they continue across
restarts and always equal what the processing of the journal produced. `logad_lines_received_total`
is the journal's count of acknowledged lines (persistent too). Request-level counts (refusals by
reason, HTTP codes) and latencies are this process's.
"""

from __future__ import annotations

from logad.errors import require

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, service) -> None:
        pc = require("prometheus_client", "serve")
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        self.pc = pc
        self.registry = pc.CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = pc.Counter("logad_http_requests", "HTTP requests by route and status code",
                                   ["route", "code"], registry=r)
        self.rejected_requests = pc.Counter("logad_requests_rejected", "Requests refused, by reason",
                                            ["reason"], registry=r)
        self.rejected_lines = pc.Counter("logad_lines_rejected", "Lines in refused requests or skipped before "
                                         "the journal, by reason", ["reason"], registry=r)
        self.processing = pc.Histogram("logad_processing_latency_seconds",
                                       "From a request's lines being acknowledged to their being processed",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.alarm_latency = pc.Histogram("logad_alarm_latency_seconds",
                                          "From a sequence closing to its alarm being stored",
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.fsync = pc.Histogram("logad_journal_fsync_seconds", "Journal write + fdatasync of one group commit",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.sink = pc.Counter("logad_sink_deliveries", "Alarm deliveries to sinks, by sink kind and outcome",
                               ["sink", "outcome"], registry=r)
        svc = service

        class _Collector:
            def collect(self):
                c = svc.engine.counters if svc.engine is not None else {}
                journal = svc.journal
                received = (journal.next_offset - 1) if journal is not None else 0
                yield _counter(CounterMetricFamily, "logad_lines_received", "Lines acknowledged (journaled)", received)
                yield _counter(CounterMetricFamily, "logad_lines_parsed",
                               "Lines processed that are records of the model's format", c.get("lines", 0)
                               - c.get("blank", 0) - c.get("not_in_format", 0))
                yield _counter(CounterMetricFamily, "logad_lines_unmatched",
                               "Lines matching no trained template (new-template events)", c.get("unmatched", 0))
                skipped = CounterMetricFamily("logad_lines_skipped", "Lines processed but in no sequence",
                                              labels=["reason"])
                for reason in ("blank", "not_in_format", "no_session"):
                    skipped.add_metric([reason], c.get(reason, 0))
                yield skipped
                yield _counter(CounterMetricFamily, "logad_sequences_closed", "Sequences closed and scored",
                               c.get("sequences", 0))
                alarms = CounterMetricFamily("logad_alarms", "Alarms raised, by kind", labels=["kind"])
                alarms.add_metric(["sequence"], c.get("alarms_sequence", 0))
                alarms.add_metric(["new_template"], c.get("alarms_new_template", 0))
                yield alarms
                yield _counter(CounterMetricFamily, "logad_flushes", "Flushes (ends of stream) processed",
                               c.get("flushes", 0))
                q = GaugeMetricFamily("logad_queue_depth", "Lines acknowledged and not yet processed")
                q.add_metric([], svc.queued_lines)
                yield q
                lim = GaugeMetricFamily("logad_queue_limit", "Lines the queue holds before requests get 429")
                lim.add_metric([], svc.config.max_queue_lines)
                yield lim
                held = GaugeMetricFamily("logad_open_lines", "Lines held in open windows and sessions")
                held.add_metric([], svc.open_lines)
                yield held
                if journal is not None:
                    jb = GaugeMetricFamily("logad_journal_bytes", "Size of the journal kept on disk")
                    jb.add_metric([], journal.size_bytes)
                    yield jb

            def describe(self):
                return []

        r.register(_Collector())

    def render(self) -> tuple[bytes, str]:
        return self.pc.generate_latest(self.registry), self.pc.CONTENT_TYPE_LATEST


def _counter(cls, name: str, doc: str, value: float):
    m = cls(name, doc)
    m.add_metric([], value)
    return m
