"""Two tiny synthetic systems for the MLAD tests ("storage" and "compute", sharing no template),
and tiny model sizes for the "hashing" encoder (no model download)."""

from __future__ import annotations

import random

from logad.pipeline.systems import SystemData
from logad.records import Sequence

TINY = dict(encoder="hashing", d_model=16, n_heads=2, n_layers=1, d_ff=32, n_components=2, epochs=8,
            batch_size=32, lr=3e-3, seed=3)
FAST = {**TINY, "alpha": 1.0, "epochs": 3}  # transfer tests train three models each: softmax, few epochs

# two systems that share no template (ids overlap on purpose: they are different templates)
STORAGE = {1: "receiving block <*> src <*> dest <*>", 2: "received block <*> of size <*>",
           3: "packet responder <*> for block <*> terminating", 4: "deleting block <*> file <*>",
           5: "exception while serving block <*> to <*>", 6: "writeblock <*> received exception <*>"}
COMPUTE = {1: "instruction cache parity error corrected", 2: "generating core <*>", 3: "ciod: login chdir failed",
           4: "job <*> started on node <*>", 5: "job <*> finished with status <*>", 6: "kernel panic: machine check"}


def _sessions(name: str, n_normal: int, n_anom: int, seed: int) -> list[Sequence]:
    rng = random.Random(seed)
    out = []
    for i in range(n_normal):
        body = [1] + [2] * rng.choice((1, 2, 3)) + [3] * rng.choice((1, 2)) + ([4] if rng.random() < 0.5 else [])
        out.append(Sequence(f"{name}-n{i}", tuple(body), label=0))
    for i in range(n_anom):
        body = [1, 2, 5, 6, 6] if i % 2 else [1, 6, 2, 2, 5, 3]
        out.append(Sequence(f"{name}-a{i}", tuple(body), label=1))
    return out


def _system(name: str, templates: dict, seed: int, n_normal: int = 60, n_anom: int = 16) -> SystemData:
    return SystemData(name=name, system=name, sequences=_sessions(name, n_normal, n_anom, seed), templates=templates,
                      ordered_by="file order (no timestamps)", source="synthetic")
