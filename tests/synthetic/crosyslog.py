"""Tiny synthetic entry-level systems for the CroSysLog tests (two sources, one target sharing no
message with them), tiny model sizes for the "hashing" encoder, and one intra-op torch thread."""

from __future__ import annotations

import numpy as np
import pytest

from logad.experiments.transfer import make_setup
from logad.pipeline.systems import EntryData, SystemData
from tests.conftest import needs_torch

torch = needs_torch()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared machine: one intra-op thread is several times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = {"encoder": "hashing", "window_size": 10, "hidden": 8, "k_spt": 40, "k_qry": 40, "tasks_per_source": 1,
        "meta_iterations": 3, "update_step": 2, "adapt_steps": 3, "update_lr": 0.5, "target_only_steps": 5,
        "source_only_epochs": 1, "n_support": 60, "spt_ratio": (0.02, 0.6), "qry_ratio": (0.02, 0.6)}


def _system(name: str, system: str, normal: list[str], anomalous: list[str], n: int = 200, seed: int = 0,
            anomaly_free_prefix: int = 0) -> SystemData:
    """`n` entries: normal messages, with bursts of anomalous ones (none in the first
    `anomaly_free_prefix` entries)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    i = 0
    while i < n:
        if i >= anomaly_free_prefix and rng.random() < 0.08:
            for _ in range(int(rng.integers(2, 5))):
                texts.append(f"{rng.choice(anomalous)} {int(rng.integers(100))}")
                labels.append(1)
            i = len(texts)
            continue
        texts.append(f"{rng.choice(normal)} {int(rng.integers(100))}")
        labels.append(0)
        i = len(texts)
    texts, labels = texts[:n], labels[:n]
    return SystemData(name=name, system=system, sequences=[], templates={}, ordered_by="time", source="synthetic",
                      entries=EntryData(texts=texts, labels=np.asarray(labels, dtype=np.int64)))


SRC_A = (["job started on node", "heartbeat ok", "user session opened"], ["kernel panic fatal", "disk failure detected"])
SRC_B = (["temperature normal", "fan speed nominal"], ["power supply failed error", "memory fault fatal"])
TGT = (["instruction cache corrected", "rts tree initialised"], ["data storage interrupt", "lustre mount broke"])


def _setup(seed: int = 0, amount: float = 60, target=None, protocol: str = "honest"):
    sources = [_system("src-a", "thunderbird", *SRC_A, seed=1), _system("src-b", "liberty", *SRC_B, seed=2)]
    target = target or _system("tgt", "bgl", *TGT, n=240, seed=3)
    return make_setup(sources, target, amount, seed=seed, protocol=protocol)
