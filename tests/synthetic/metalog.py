"""Two tiny synthetic systems for the MetaLog tests ("store" and "cloud", plus one sharing nothing),
and a tiny GloVe-format word-vector file written in tmp_path: no GloVe package and no real data needed."""

from __future__ import annotations

import random

import numpy as np
import pytest

from logad.pipeline.systems import SystemData
from logad.records import Sequence
from tests.conftest import needs_torch

torch = needs_torch()

# system "store": storage-like; anomalies carry template 4 (an error)
STORE = {1: "open file <*>", 2: "read block <*> of file", 3: "close file <*>", 4: "disk error failure on block <*>"}
# system "cloud": VM-like; same ids 1..4, different texts; anomalies carry template 3 (an error)
CLOUD = {1: "start instance <*>", 2: "claim memory <*> for instance", 3: "instance error failure <*>", 4: "stop instance <*>"}
# a system sharing no template and no word with the others
OTHER = {7: "alpha beta", 8: "gamma delta", 9: "epsilon zeta"}

WORDS = ["open", "file", "read", "block", "of", "close", "disk", "error", "failure", "on", "start", "instance",
         "claim", "memory", "for", "stop", "alpha", "beta", "gamma", "delta", "epsilon", "zeta"]

@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster, and far faster on a shared, oversubscribed machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(hidden=8, layers=1, epochs=3, batch_size=16, min_cluster_size=5, min_samples=5)


@pytest.fixture
def glove(tmp_path):
    """A GloVe-format text file; 'error' and 'failure' share a direction (what transfers)."""
    rng = np.random.default_rng(0)
    lines = []
    for w in WORDS:
        v = rng.normal(0, 0.3, 8)
        if w in ("error", "failure"):
            v[0] = 3.0
        lines.append(w + " " + " ".join(f"{x:.5f}" for x in v))
    path = tmp_path / "tiny-glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _system(name: str, templates: dict, normal_paths, anomaly_tid: int, n: int, n_anom: int, seed: int) -> SystemData:
    rng = random.Random(seed)
    seqs = []
    for i in range(n):
        path = list(rng.choice(normal_paths))
        label = 0
        if i % (n // n_anom) == 0 and sum(s.label for s in seqs) < n_anom:
            path.insert(rng.randrange(1, len(path)), anomaly_tid)
            label = 1
        seqs.append(Sequence(f"{name}{i}", tuple(path), label=label))
    return SystemData(name=name, system=name, sequences=seqs, templates=dict(templates),
                      ordered_by="file order (no timestamps)", source="synthetic")


def store(n=160, n_anom=32, seed=0):
    return _system("store", STORE, [(1, 2, 2, 3), (1, 2, 3), (1, 2, 2, 2, 3)], 4, n, n_anom, seed)


def cloud(n=200, n_anom=40, seed=1):
    return _system("cloud", CLOUD, [(1, 2, 4), (1, 2, 2, 4), (1, 4)], 3, n, n_anom, seed)


def params(glove, tmp_path, **kw):
    return {**TINY, "word_vectors": glove, "cache_dir": str(tmp_path / "cache"), **kw}
