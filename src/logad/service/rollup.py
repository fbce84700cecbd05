"""What the service has seen, summed for people to look at (the dashboard, `GET /v1/templates`,
`GET /v1/timeline`): lines per template per log-time bucket, each template's total, first and last
time, example lines and a sample of its parameter values, and per bucket the sequences scored and
their highest score.

Part of the engine's state (checkpointed with it), so it survives a restart and, like the alarms,
equals what the processing of the journal produced. Bounded: at most `MAX_BUCKETS` buckets (when
the log's time span needs more, the bucket width doubles and neighbours merge), `EXAMPLES`
examples and `VALUES` distinct values per parameter (the rest counted as "other"); parameter
values are read from the first line of each template in every block the engine processes (a
request's lines), at most `SAMPLES` lines per template.
"""

from __future__ import annotations

import math
from collections import Counter

MAX_BUCKETS = 2048
WIDTH = 60.0  # seconds of log time per bucket to start with
EXAMPLES = 3
VALUES = 30
SAMPLES = 5000
MAX_TEMPLATES = 5000  # templates with examples and values kept (counts are kept for all)


class Rollup:
    """See the module docstring. Not thread-safe: the processor writes, readers take `snapshot`s
    under the engine's lock (the service's `rollup_view`)."""

    def __init__(self, width: float = WIDTH) -> None:
        self.width = float(width)
        self.cells: dict[int, Counter] = {}  # bucket -> {template id: lines}
        self.totals: Counter = Counter()  # template id -> lines (0: no trained template)
        self.untimed = 0  # lines without a usable time (in totals, in no bucket)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.examples: dict[int, list[str]] = {}
        self.params: dict[int, list[Counter]] = {}  # template -> per position: value -> count ("" key: other)
        self.sampled: Counter = Counter()
        self.scored: dict[int, list] = {}  # bucket -> [sequences scored, highest score]

    # ------------------------------------------------------------------ adding
    def add_block(self, ids: list[int], times: list[float | None], contents: list[str], parameters=None) -> None:
        """The records of one block: their template ids, times (None: no time) and contents.
        `parameters(content, tid)` gives a line's parameter values (None: not sampled)."""
        if not ids:
            return
        import numpy as np

        ids_a = np.asarray(ids, dtype=np.int64)
        uniq, first_at, counts = np.unique(ids_a, return_index=True, return_counts=True)
        totals = self.totals
        for tid, n in zip(uniq.tolist(), counts.tolist()):
            totals[tid] += n
        t = np.asarray(times, dtype=float)
        ok = np.isfinite(t)
        if not ok.all():
            self.untimed += int((~ok).sum())
            ids_a, t = ids_a[ok], t[ok]
        if len(t):
            m = int(ids_a.max()) + 1
            keys, n_keys = np.unique(np.floor(t / self.width).astype(np.int64) * m + ids_a, return_counts=True)
            cells = self.cells
            for k, n in zip(keys.tolist(), n_keys.tolist()):
                b, tid = divmod(k, m)
                cell = cells.get(b)
                if cell is None:
                    cell = cells[b] = Counter()
                cell[tid] += n
            order = np.argsort(ids_a, kind="stable")
            tids, starts = np.unique(ids_a[order], return_index=True)
            ts = t[order]
            first, last = self.first, self.last
            for tid, lo, hi in zip(tids.tolist(), np.minimum.reduceat(ts, starts).tolist(),
                                   np.maximum.reduceat(ts, starts).tolist()):
                if lo < first.get(tid, math.inf):
                    first[tid] = lo
                if hi > last.get(tid, -math.inf):
                    last[tid] = hi
            self._bound()
        # the first line of each template in the block: an example and a sample of its values
        for tid, j in zip(uniq.tolist(), first_at.tolist()):
            ex = self.examples.get(tid)
            if ex is None:
                if len(self.examples) >= MAX_TEMPLATES:
                    continue
                ex = self.examples[tid] = []
            content = contents[j]
            if len(ex) < EXAMPLES and content[:500] not in ex:
                ex.append(content[:500])
            if parameters is not None and tid and self.sampled[tid] < SAMPLES:
                values = parameters(content, tid)
                if values is None:
                    continue
                self.sampled[tid] += 1
                slots = self.params.setdefault(tid, [])
                while len(slots) < len(values):
                    slots.append(Counter())
                for c, v in zip(slots, values):
                    v = str(v)[:80]
                    if v in c or len(c) < VALUES:
                        c[v] += 1
                    else:
                        c[""] += 1

    def add_scores(self, start_times: list[float | None], scores) -> None:
        """Sequences scored: per bucket of their first line's time (where the dashboard places an
        alarm), how many and the highest score."""
        w = self.width
        for t, s in zip(start_times, scores):
            if t is None or not math.isfinite(t):
                continue
            s = float(s)
            b = math.floor(t / w)
            cell = self.scored.get(b)
            if cell is None:
                self.scored[b] = [1, s if math.isfinite(s) else None]
            else:
                cell[0] += 1
                if math.isfinite(s) and (cell[1] is None or s > cell[1]):
                    cell[1] = s
        self._bound()

    def _bound(self) -> None:
        while len(self.cells) > MAX_BUCKETS or len(self.scored) > MAX_BUCKETS:
            self.width *= 2
            cells: dict[int, Counter] = {}
            for b, c in self.cells.items():
                cells.setdefault(b // 2, Counter()).update(c)
            self.cells = cells
            scored: dict[int, list] = {}
            for b, (n, s) in self.scored.items():
                cell = scored.get(b // 2)
                if cell is None:
                    scored[b // 2] = [n, s]
                else:
                    cell[0] += n
                    if s is not None and (cell[1] is None or s > cell[1]):
                        cell[1] = s
            self.scored = scored

    # ------------------------------------------------------------------ reading
    def span(self) -> tuple[float, float] | None:
        """(first, last) log time of any bucket, or None before any timed line."""
        keys = list(self.cells) + list(self.scored)
        if not keys:
            return None
        return min(keys) * self.width, (max(keys) + 1) * self.width

    def timeline(self, n: int = 60) -> dict:
        """The buckets merged into at most `n` columns over the whole span: `edges` (n + 1 times),
        per template its lines per column, lines and sequences per column, highest score."""
        span = self.span()
        if span is None:
            return {"edges": [], "templates": {}, "lines": [], "sequences": [], "max_scores": []}
        lo, hi = span
        k = max(1, math.ceil((hi - lo) / self.width / max(1, n)))  # fine buckets per column
        step = k * self.width
        cols = max(1, math.ceil((hi - lo) / step))
        edges = [lo + i * step for i in range(cols + 1)]
        first = round(lo / self.width)
        per: dict[int, list[int]] = {}
        lines = [0] * cols
        for b, c in self.cells.items():
            j = min(cols - 1, (b - first) // k)
            for tid, v in c.items():
                row = per.get(tid)
                if row is None:
                    row = per[tid] = [0] * cols
                row[j] += v
                lines[j] += v
        seqs = [0] * cols
        best: list[float | None] = [None] * cols
        for b, (m, s) in self.scored.items():
            j = min(cols - 1, (b - first) // k)
            seqs[j] += m
            if s is not None and (best[j] is None or s > best[j]):
                best[j] = s
        return {"edges": edges, "templates": per, "lines": lines, "sequences": seqs, "max_scores": best}

    def parameter_summary(self, tid: int) -> list[dict]:
        out = []
        for i, c in enumerate(self.params.get(tid, [])):
            other = c.get("", 0)
            top = [(v, n) for v, n in c.most_common(6) if v != ""][:5]
            nums = []
            for v in c:
                try:
                    x = float(v)
                except ValueError:
                    continue
                if math.isfinite(x):
                    nums.append(x)
            distinct = len(c) - (1 if other else 0)
            numeric = None
            if nums and len(nums) >= 0.9 * distinct:
                numeric = {"min": min(nums), "max": max(nums)}
            out.append({"position": i + 1, "top": top, "distinct": distinct, "more_distinct": bool(other),
                        "other": other, "numeric": numeric, "sampled": self.sampled.get(tid, 0)})
        return out

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "cells": [[b, [[t, n] for t, n in c.items()]] for b, c in self.cells.items()],
            "totals": [[t, n] for t, n in self.totals.items()],
            "untimed": self.untimed,
            "first": [[t, v] for t, v in self.first.items()],
            "last": [[t, v] for t, v in self.last.items()],
            "examples": [[t, ex] for t, ex in self.examples.items()],
            "params": [[t, [[[v, n] for v, n in c.items()] for c in slots]] for t, slots in self.params.items()],
            "sampled": [[t, n] for t, n in self.sampled.items()],
            "scored": [[b, n, s] for b, (n, s) in self.scored.items()],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Rollup:
        r = cls(float(d["width"]))
        r.cells = {int(b): Counter({int(t): int(n) for t, n in c}) for b, c in d["cells"]}
        r.totals = Counter({int(t): int(n) for t, n in d["totals"]})
        r.untimed = int(d["untimed"])
        r.first = {int(t): float(v) for t, v in d["first"]}
        r.last = {int(t): float(v) for t, v in d["last"]}
        r.examples = {int(t): list(ex) for t, ex in d["examples"]}
        r.params = {int(t): [Counter({v: int(n) for v, n in c}) for c in slots] for t, slots in d["params"]}
        r.sampled = Counter({int(t): int(n) for t, n in d["sampled"]})
        r.scored = {int(b): [int(n), None if s is None else float(s)] for b, n, s in d["scored"]}
        return r
