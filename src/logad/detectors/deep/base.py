"""Shared parts of the deep detectors: the key vocabulary and the common save/load of a torch model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from logad.detectors.base import Detector
from logad.records import Sequence


class KeyVocabulary:
    """Template id -> model index. Specials first (PAD=0, UNK=1, then any extra), then the keys
    seen in training by decreasing frequency (ties by id: deterministic). Unseen ids map to UNK."""

    PAD, UNK = 0, 1

    def __init__(self, specials: tuple[str, ...] = ("<pad>", "<unk>")) -> None:
        self.specials = tuple(specials)
        self.index: dict[int, int] = {}

    def fit(self, sequences: Iterable[Sequence]) -> KeyVocabulary:
        counts = Counter(t for s in sequences for t in s.template_ids)
        counts.pop(0, None)  # template id 0 is the pipeline's "unknown": never a known key
        ordered = sorted(counts, key=lambda k: (-counts[k], k))
        base = len(self.specials)
        self.index = {k: base + i for i, k in enumerate(ordered)}
        return self

    def __len__(self) -> int:
        return len(self.specials) + len(self.index)

    def special(self, name: str) -> int:
        return self.specials.index(name)

    def encode(self, template_ids: Iterable[int]) -> list[int]:
        get, unk = self.index.get, self.UNK
        return [get(t, unk) for t in template_ids]

    def key_of(self, index: int) -> int | None:
        """The template id behind a model index (None for specials)."""
        if not hasattr(self, "_inverse"):
            self._inverse = {v: k for k, v in self.index.items()}
        return self._inverse.get(index)

    def to_dict(self) -> dict:
        return {"specials": list(self.specials), "keys": [[k, v] for k, v in self.index.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> KeyVocabulary:
        v = cls(tuple(d["specials"]))
        v.index = {int(k): int(i) for k, i in d["keys"]}
        return v


class DeepDetector(Detector):
    """Base of torch detectors: fitted state = `model_` (a torch module) + `vocab_` + a small
    JSON state; saved in the common detector folder (logad.detectors.persistence: the weights are
    arrays like any other, never pickled).

    Subclasses implement `_fit`, `_score`, `_build_model()` (from params and vocab) and may
    extend `_state()` / `_restore_state()` for extra JSON state and `_extra_tensors()` /
    `_restore_extra_tensors()` for tensors beside the model's own.
    """

    supervised = False
    needs_normal_only = True
    reports_epochs = True  # the training engine calls fit(on_epoch_end=...) after every epoch

    def _build_model(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _state(self) -> dict:
        return {}

    def _restore_state(self, state: dict) -> None:
        pass

    def _extra_tensors(self) -> dict:
        return {}

    def _restore_extra_tensors(self, tensors: dict) -> None:
        pass

    @classmethod
    def _vocabulary_from_dict(cls, data: dict):
        """The saved vocabulary (a detector with another vocabulary class overrides this)."""
        return KeyVocabulary.from_dict(data)

    def _versions(self) -> dict[str, str]:
        from logad.detectors.deep.engine import torch

        return {**super()._versions(), "torch": torch().__version__}

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        arrays = {f"model.{k}": _to_numpy(v) for k, v in self.model_.state_dict().items()}
        arrays.update({f"extra.{k}": _to_numpy(v) for k, v in self._extra_tensors().items()})
        return {"state": self._state(), "vocab": self.vocab_.to_dict()}, arrays

    def _set_state(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        from logad.detectors.deep.engine import torch

        t = torch()
        tensors = {k: t.from_numpy(np.array(v)) for k, v in arrays.items()}
        self.vocab_ = self._vocabulary_from_dict(state["vocab"])
        self._restore_state(state.get("state", {}))
        # extra tensors first: a model may be built from them (MetaLog's frozen embedding)
        self._restore_extra_tensors({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")})
        self._check_weights_fit({k[len("model."):]: tuple(v.shape) for k, v in arrays.items() if k.startswith("model.")})
        self.model_ = self._build_model()
        self.model_.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        self.model_.eval()


    def _check_weights_fit(self, saved: dict[str, tuple[int, ...]]) -> None:
        """Refuse weights that are not the model the saved parameters describe, BEFORE building it:
        the model is first laid out on torch's "meta" device (shapes, no memory), so a tampered
        config (e.g. hidden=20000) cannot make the load allocate gigabytes."""
        from logad.detectors.deep.engine import torch

        t = torch()
        with t.device("meta"):
            expected = {k: tuple(v.shape) for k, v in self._build_model().state_dict().items()}
        if expected != saved:
            differ = sorted(set(expected) ^ set(saved)) or sorted(k for k in expected if expected[k] != saved[k])
            raise ValueError(f"the saved weights do not fit the model its parameters describe (first differences: "
                             f"{', '.join(differ[:3])})")


def _to_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().contiguous().numpy()
