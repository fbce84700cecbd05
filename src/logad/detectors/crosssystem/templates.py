"""The cross-system vocabulary: one row per (dataset, template id), and the id-only vector of a
template without text.

Template ids are only meaningful inside one dataset, so every cross-system vocabulary is keyed by
(dataset, template id): MetaLog's original looked source templates up in the target's rows
(seed_methods.md section 1.5); keying by pair makes that impossible.
"""

from __future__ import annotations

import zlib

import numpy as np


def fallback_vector(seed: int, name: str, tid: int, dim: int) -> np.ndarray:
    """A fixed pseudo-random unit vector for template `tid` of system `name` when it has no text
    (an id-only representation): the same for the same seed, system and id."""
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode()), int(tid) & 0xFFFFFFFF])
    v = rng.standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


class MultiSystemTemplates:
    """Rows 1.. are (dataset, template id) pairs, each with its own system's text; row 0 = unknown.

    `add(name, templates)` registers a system's templates; `encode(name, ids)` maps a sequence of
    that system's template ids to rows (an id the system never registered maps to 0)."""

    UNKNOWN = 0

    def __init__(self) -> None:
        self.index: dict[tuple[str, int], int] = {}
        self.texts: list[str] = [""]
        self.owners: list[tuple[str, int] | None] = [None]

    def add(self, name: str, templates: dict[int, str]) -> MultiSystemTemplates:
        for tid in sorted(templates):
            key = (name, int(tid))
            if key not in self.index:
                self.index[key] = len(self.texts)
                self.texts.append(str(templates[tid]))
                self.owners.append(key)
        return self

    def __len__(self) -> int:
        return len(self.texts)

    def row(self, name: str, template_id: int) -> int:
        return self.index.get((name, int(template_id)), self.UNKNOWN)

    def encode(self, name: str, template_ids) -> list[int]:
        get = self.index.get
        return [get((name, int(t)), self.UNKNOWN) for t in template_ids]

    def systems(self) -> list[str]:
        return sorted({o[0] for o in self.owners if o is not None})

    def to_dict(self) -> dict:
        return {"rows": [[o[0], o[1], t] for o, t in zip(self.owners[1:], self.texts[1:])]}

    @classmethod
    def from_dict(cls, d: dict) -> MultiSystemTemplates:
        v = cls()
        for name, tid, text in d["rows"]:
            v.index[(str(name), int(tid))] = len(v.texts)
            v.texts.append(str(text))
            v.owners.append((str(name), int(tid)))
        return v
