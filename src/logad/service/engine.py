"""Online detection: journal records in, alarms out, deterministically.

`Engine` owns the streaming windower and the model. `process(record)` parses the record's lines
(`LineParser`), pushes them through the windower, scores each closed sequence with the trained
detector and thresholds it exactly as `logad detect` does (`score > threshold_`), and yields the
alarms in batches (small ones, so an alarm is stored soon after its sequence closes). A flush
record closes every open window (the end of a stream) and starts stream number + 1.

Everything the engine keeps between records is in `state()` (plain JSON): restoring it and feeding
the records after it gives exactly the alarms of an uninterrupted run, which is how the service
recovers from a crash (the alarms' keys are deterministic, so those already stored are skipped).
The state includes the `Rollup` of what was processed (lines per template over log time, examples,
parameter values, scores per time bucket), which the dashboard and `GET /v1/timeline` show.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator

from logad.records import Sequence
from logad.service.journal import FLUSH, Record
from logad.service.lines import LineParser
from logad.service.rollup import Rollup

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_NEW_TEMPLATES = 10_000  # distinct new templates remembered (each alarms once)
COUNTERS = ("records", "lines", "blank", "not_in_format", "oversized", "no_session", "unmatched", "events",
            "sequences", "alarms_sequence", "alarms_new_template", "flushes", "new_templates_not_remembered")


class Engine:
    """The detector of the service (see the module docstring).

    `read_lines(offsets) -> {offset: text}` and `sources_of(offsets) -> {offset: source}` give the
    text and source of lines still open (the journal keeps them). Sequences closed by lines are
    scored together once the first of them has waited `max_wait` seconds (checked every
    `chunk_lines` lines), or `score_batch` of them wait, or the record ends; `score_batch` is also
    how many a flush scores at once;
    `max_alarm_lines`: lines with their text in one alarm (the blamed ones first)."""

    def __init__(self, model, parser: LineParser, *, read_lines: Callable, sources_of: Callable,
                 chunk_lines: int = 512, score_batch: int = 256, max_wait: float = 0.02,
                 max_alarm_lines: int = 100, explain_top: int = 10) -> None:
        from logad.windowing.streaming import StreamingWindower

        self.model = model
        self.parser = parser
        self.detector = model.detector
        self.threshold = float(model.threshold)
        self.read_lines = read_lines
        self.sources_of = sources_of
        self.chunk_lines = chunk_lines
        self.max_wait = max_wait
        self.score_batch = score_batch
        self.max_alarm_lines = max_alarm_lines
        self.explain_top = explain_top
        self.windower = StreamingWindower(parser.grouping)
        self.rollup = Rollup()  # what the dashboard shows (readers hold `lock`)
        self.lock = threading.Lock()
        self.stream = 0
        self.new_keys: set[str] = set()
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.positions: dict[str, dict] = {}  # followed files: where the journal has them up to
        self.next_rseq = 0
        self.next_offset = 1
        self.on_closed: Callable[[int], None] | None = None  # a metrics hook: sequences closed
        self.flushed: dict[int, dict] = {}  # record -> what its flush closed (the latest ones)
        # (closed_at, closed_by) of the sequences scored since the caller last took them: every
        # batch `process` yields (even an empty one) has its sequences decided
        self.decided: list[tuple[float, str]] = []

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        return {
            "version": STATE_VERSION,
            "windower": self.windower.to_dict(),
            "rollup": self.rollup.to_dict(),
            "stream": self.stream,
            "new_keys": sorted(self.new_keys),
            "counters": dict(self.counters),
            "positions": self.positions,
            "next_rseq": self.next_rseq,
            "next_offset": self.next_offset,
        }

    def load(self, state: dict) -> None:
        from logad.errors import InputError
        from logad.windowing.streaming import StreamingWindower

        if state.get("version") != STATE_VERSION:
            raise InputError(f"checkpoint version {state.get('version')!r} is not {STATE_VERSION}")
        self.windower = StreamingWindower.from_dict(state["windower"])
        if self.windower.grouping.describe() != self.parser.grouping.describe():
            raise InputError(f"the checkpoint groups by {self.windower.grouping.describe()}, the model by "
                             f"{self.parser.grouping.describe()}")
        if state.get("rollup") is not None:
            self.rollup = Rollup.from_dict(state["rollup"])
        self.stream = int(state["stream"])
        self.new_keys = set(state["new_keys"])
        self.counters.update({k: int(v) for k, v in state["counters"].items()})
        self.positions = dict(state.get("positions") or {})
        self.next_rseq = int(state["next_rseq"])
        self.next_offset = int(state["next_offset"])

    @staticmethod
    def oldest_open_line(state: dict) -> int | None:
        """The smallest offset held in an open window of a `state()` (None: none open), or 0 when
        the windower's state layout is not one this version reads (then every line is kept)."""
        try:
            return _oldest(state["windower"])
        except (KeyError, IndexError, TypeError, ValueError):
            return 0

    def warm_up(self) -> None:
        """Score (and explain) one made-up sequence, so that what a detector does on its first
        call (imports, allocations) is not paid by the first sequence of the stream. Changes no
        state."""
        import sklearn

        tid = next(iter(self.parser.templates), 1)
        values = ((0.0,), (0.0,)) if self.parser.with_values else None
        s = Sequence("warm-up", (tid, tid), (0, 0), 0.0, 0.0, line_values=values)
        try:
            with sklearn.config_context(assume_finite=True):
                self.detector.score([s])
                if self.detector.explains:
                    self.detector.explain(s)
                if self.detector.localises:
                    self.detector.localise(s)
        except Exception as exc:  # noqa: BLE001 - only a warm-up: the first real call pays instead
            log.debug("warm-up of %s failed: %s", self.detector.name, exc)

    # ------------------------------------------------------------------ processing
    def process(self, rec: Record) -> Iterator[list[dict]]:
        """Batches of alarms of one record (consume them all before the next record). A batch is
        yielded after every scoring, empty when nothing alarmed; `decided` then lists when each
        sequence scored so far closed."""
        c = self.counters
        c["records"] += 1
        if rec.kind == FLUSH:
            closed = self.windower.flush()
            now = time.time()
            c["flushes"] += 1
            c["sequences"] += len(closed)
            if self.on_closed is not None and closed:
                self.on_closed(len(closed))
            stream = self.stream
            self.stream += 1
            n_alarms = 0
            for i in range(0, len(closed), self.score_batch):
                alarms = self._score([(s, now) for s in closed[i:i + self.score_batch]], stream, "flush")
                n_alarms += len(alarms)
                yield alarms
            self.flushed[rec.rseq] = {"stream": stream, "sequences_closed": len(closed), "alarms": n_alarms}
            while len(self.flushed) > 100:
                self.flushed.pop(next(iter(self.flushed)))
            self._done(rec)
            return
        split = rec.split if rec.split is not None else self.parser.split(rec.lines)
        rec.split = None  # free it
        c["lines"] += split.n
        c["blank"] += split.blank
        c["not_in_format"] += split.n_bad
        c["oversized"] += split.oversized
        events, new = self.parser.events(split, rec.first_offset, rec.sources)
        with self.lock:
            self.rollup.add_block(split.template_ids, split.timestamp, split.content, self._parameters)
        c["unmatched"] += len(new)
        c["events"] += len(events)
        c["no_session"] += split.records - len(events)
        pending: list[dict] = self._new_templates(new, rec, split) if new else []
        push = self.windower.push
        closed: list[tuple[Sequence, float]] = []
        step = self.chunk_lines
        first_at = 0.0  # when the oldest sequence waiting to be scored closed (perf_counter)
        wait, batch = self.max_wait, self.score_batch
        for lo in range(0, len(events), step):
            for ev in events[lo:lo + step]:
                out = push(ev)
                if out:
                    if not closed:
                        first_at = time.perf_counter()
                    now = time.time()
                    closed.extend((s, now) for s in out)
            # score what closed when it has waited long enough, or many are waiting, or at the end:
            # few calls (each has a fixed cost), and a bounded wait for the first of them
            last = lo + step >= len(events)
            if closed and (last or len(closed) >= batch or time.perf_counter() - first_at >= wait):
                c["sequences"] += len(closed)
                if self.on_closed is not None:
                    self.on_closed(len(closed))
                for i in range(0, len(closed), batch):  # a burst (log time jumped) in pieces, each stored
                    pending += self._score(closed[i:i + batch], self.stream, "line")
                    yield pending
                    pending = []
                closed = []
            elif pending:
                yield pending
                pending = []
        if pending:
            yield pending
        self._done(rec)

    def _parameters(self, content: str, tid: int):
        try:
            return self.parser.parser.parameters(content, tid)
        except Exception:  # noqa: BLE001 - a sample for people to look at; never stops processing
            return None

    def _done(self, rec: Record) -> None:
        self.next_rseq = rec.rseq + 1
        self.next_offset = max(self.next_offset, rec.first_offset + rec.n)
        tail = rec.meta.get("tail")
        if tail:
            self.positions[tail["path"]] = tail

    # ------------------------------------------------------------------ alarms
    def _score(self, closed: list[tuple[Sequence, float]], stream: int, closed_by: str) -> list[dict]:
        """Alarms of closed sequences; `closed_by` 'line' (a line closed it) or 'flush'.

        scikit-learn's finiteness checks are skipped (our own count features are finite): they
        are a third of the cost of explaining one alarm, and change no number."""
        import sklearn

        seqs = [s for s, _ in closed]
        self.decided.extend((at, closed_by) for _, at in closed)
        out = []
        thr = self.threshold
        with sklearn.config_context(assume_finite=True):
            scores = self.detector.score(seqs)
            with self.lock:
                self.rollup.add_scores([s.start_time for s in seqs], scores)
            for (s, at), sc in zip(closed, scores):
                if sc > thr:
                    out.append(self._alarm(s, float(sc), at, stream, closed_by))
        self.counters["alarms_sequence"] += len(out)
        return out

    def _alarm(self, s: Sequence, score: float, closed_at: float, stream: int, closed_by: str) -> dict:
        det = self.detector
        explanation: list[tuple[int, float]] = []
        if det.explains:
            explanation = list(det.explain(s))[: self.explain_top]
        ids = s.template_ids
        blame = None
        positions: list[int] = []
        if det.localises:
            positions = sorted(set(int(j) for j in det.localise(s)))
            blame = "localised"
        elif explanation:
            top = {t for t, _ in explanation[:3]}
            positions = [j for j, t in enumerate(ids) if t in top]
            blame = "explanation"
        offsets = list(s.line_nos)
        cap = self.max_alarm_lines
        shown = set(positions[:cap])
        for j in range(len(offsets)):
            if len(shown) >= cap:
                break
            shown.add(j)
        shown_sorted = sorted(shown)
        text = self.read_lines([offsets[j] for j in shown_sorted])
        srcs = self.sources_of(offsets if len(offsets) <= 10_000 else offsets[:10_000])
        blamed = set(positions)
        tt = self.parser.template_text
        lines = [{"offset": offsets[j], "source": srcs.get(offsets[j]), "text": text.get(offsets[j]),
                  "template_id": ids[j], "template": tt(ids[j]), "blamed": j in blamed} for j in shown_sorted]
        sources = list(dict.fromkeys(v for v in srcs.values() if v is not None))
        return {
            "key": f"{stream}:{s.sequence_id}",
            "kind": "sequence",
            "stream": stream,
            "sequence_id": s.sequence_id,
            "score": _num(score),
            "threshold": self.threshold,
            "detector": det.name,
            "start_time": s.start_time,
            "end_time": s.end_time,
            "source": srcs.get(offsets[0]) if offsets else None,
            "sources": sources[:100],
            "first_offset": min(offsets) if offsets else None,
            "last_offset": max(offsets) if offsets else None,
            "n_lines": len(s),
            "entity": s.entity,
            "lines": lines,
            "explanation": [{"template_id": t, "template": tt(t), "weight": _num(w)} for t, w in explanation],
            "blamed_offsets": [offsets[j] for j in positions],
            "blame": blame,
            "closed_at": closed_at,
            "closed_by": closed_by,
        }

    def _new_templates(self, new: list[tuple], rec: Record, split) -> list[dict]:
        out = []
        for offset, key, _content, t in new:
            h = hashlib.sha1(key.encode("utf-8", errors="replace")).hexdigest()[:20]
            if h in self.new_keys:
                continue
            if len(self.new_keys) >= MAX_NEW_TEMPLATES:
                self.counters["new_templates_not_remembered"] += 1
                continue
            self.new_keys.add(h)
            i = offset - rec.first_offset
            out.append({
                "key": f"template:{h}",
                "kind": "new_template",
                "stream": self.stream,
                "sequence_id": None,
                "score": None,
                "threshold": None,
                "detector": "parser",
                "start_time": t,
                "end_time": t,
                "source": rec.sources[i],
                "sources": [rec.sources[i]],
                "first_offset": offset,
                "last_offset": offset,
                "n_lines": 1,
                "lines": [{"offset": offset, "source": rec.sources[i], "text": rec.lines[i], "template_id": 0,
                           "template": "unseen template", "blamed": True}],
                "new_template": key,
                "explanation": [],
                "blamed_offsets": [offset],
                "blame": "new template",
                "closed_at": time.time(),
                "closed_by": "line",
            })
        self.counters["alarms_new_template"] += len(out)
        return out


def _num(x: float):
    """A float for JSON: the number when finite, else its name ('inf')."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def _oldest(d: dict) -> int | None:
    """The smallest line number held in a StreamingWindower state (format version 1)."""
    if d.get("version") != 1:
        raise ValueError("unknown windower state version")
    st = d["state"]
    kind = d["grouping"]["kind"]
    firsts: list[int] = []
    if kind == "session":
        firsts = [rows[0][0] for _sid, _key, _last, rows, _order in st["open"] if rows]
    elif kind == "count":
        firsts = [st["lines"][0][0]] if st["lines"] else []
    elif kind in ("entity", "file"):
        firsts = [rows[0][0] for _key, rows in st["whole"] if rows]
        firsts += [run["lines"][0][0] for _key, run in st["runs"] if run["lines"]]
    elif kind == "time":
        firsts = [st["lines"][0][1][0]] if st["lines"] else []
        firsts += [st["pending"][0][0]] if st["pending"] else []
    else:
        raise ValueError(kind)
    return min(firsts) if firsts else None
