"""Shared parts of the deep detectors: key vocabulary, save/load through persist.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from logad.detectors.base import Detector
from logad.detectors.deep.persist import load_folder, save_folder
from logad.errors import InputError
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
    JSON state; saved as safetensors + JSON (see persist.py), never pickled.

    Subclasses implement `_fit`, `_score`, `_build_model()` (from params and vocab) and may
    extend `_state()` / `_restore_state()` for extra JSON state.
    """

    supervised = False
    needs_normal_only = True
    # Optional per-epoch callback `(epoch, train_loss, val_loss)` forwarded to the training engine;
    # set by the tuner (logad.tuning) to report intermediate results. Not a parameter: never saved.
    on_epoch_end = None

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

    def save(self, directory: str | Path) -> Path:
        self._check_fitted()
        tensors = {f"model.{k}": v for k, v in self.model_.state_dict().items()}
        tensors.update({f"extra.{k}": v for k, v in self._extra_tensors().items()})
        return save_folder(
            directory,
            detector=self.name,
            config={"params": self.get_params(), "threshold": self.threshold_, "state": self._state()},
            tensors=tensors,
            vocab=self.vocab_.to_dict(),
        )

    @classmethod
    def load(cls, directory: str | Path) -> DeepDetector:
        config, tensors, vocab = load_folder(directory, detector=cls.name)
        try:
            det = cls(**config["params"])
            det._validate_params()
            det.vocab_ = cls._vocabulary_from_dict(vocab)
            det._restore_state(config.get("state", {}))
            # extra tensors first: a model may be built from them (MetaLog's frozen embedding)
            det._restore_extra_tensors({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")})
            det.model_ = det._build_model()
            model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
            det.model_.load_state_dict(model_state)
            det.model_.eval()
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise InputError(f"{directory} holds an incompatible or damaged {cls.name!r} model: {exc}") from exc
        det._fitted = True
        thr = config.get("threshold")
        det.threshold_ = None if thr is None else float(thr)
        return det
