"""The detect summary's parameter statistics, counted in bulk."""

from __future__ import annotations

import numpy as np

from logad.report import detect_summary as ds


def test_bulk_counts_equal_one_by_one_counts(monkeypatch):
    monkeypatch.setattr(ds, "VALUE_KEYS", 50)
    monkeypatch.setattr(ds, "NUMERIC_SAMPLE", 100)
    rng = np.random.default_rng(0)
    values = [str(int(v)) if v % 20 else f"x{v}" for v in rng.integers(0, 400, size=5000)] + ["inf", "nan", "1e3"]
    bulk, one = ds._ParamStats(), ds._ParamStats()
    for a in range(0, len(values), 700):  # blocks of values
        bulk.add_many(values[a:a + 700])
    for v in values:
        one.add(v)
    numbers = [float(v) for v in values if v not in ("inf", "nan") and not v.startswith("x")]
    for st in (bulk, one):
        assert st.n == len(values)
        assert len(st.values) == 50 and st.overflow == len(values) - sum(st.values.values())
        assert st.numeric == len(numbers)
        assert (st.lo, st.hi) == (min(numbers), max(numbers)) == (1.0, 1000.0)
        assert len(st.sample) == 100 and all(0 <= x <= 1000 for x in st.sample)
    assert bulk.values == one.values  # the first 50 distinct values, counted whole
    d = bulk.as_dict()
    assert d["numeric"]["min"] <= d["numeric"]["median"] <= d["numeric"]["max"]


def test_reservoir_is_uniform_over_occurrences(monkeypatch):
    monkeypatch.setattr(ds, "NUMERIC_SAMPLE", 200)
    st = ds._ParamStats()
    for a in range(0, 20_000, 1000):
        st.add_many([str(v) for v in range(a, a + 1000)])
    # a uniform sample of 0..19999: its mean near 10,000 (sd of the mean about 400)
    assert abs(np.mean(st.sample) - 10_000) < 2_000
