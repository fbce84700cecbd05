"""MLAD (Zang et al., arXiv 2401.07655; Wang et al., ACL 2025 Industry): ONE unsupervised model for
several systems: sentence vectors of templates, a Transformer whose attention is alpha-entmax, and
a Gaussian-mixture head whose negative log-likelihood (the sample energy) is the anomaly score.

No code of the authors is public; this follows the paper's design (seed_methods.md section 2.4)
and fixes the third-party re-implementation's defects (section 2.6):

- Representation: every template text is embedded ONCE with a `SentenceEncoder` (MiniLM, 384-d,
  or a local model folder; on-disk cache), L2-normalised. Templates live in ONE vocabulary over
  (system, template id) (`MultiSystemTemplates`), so one model reads several systems and a new
  system's templates are represented by their text. A sequence is the list of its templates'
  vectors -> a learnable projection to `d_model` (the third party had none: 384 != 100 crashed)
  + sinusoidal positions.
- Encoder: `n_layers` pre-norm layers, `n_heads` heads; attention weights = alpha-entmax of the
  scaled scores (`entmax.entmax_bisect`; alpha = 1 is softmax exactly; padding keys are masked
  out). The third-party bisection returned all zeros for 1 < alpha < 2. FFN with CELU (the
  third party's choice), final LayerNorm, masked mean pooling -> h.
- GMM head in log space (DAGMM-style): responsibilities come from the current mixture estimate
  (E-step); the batch's weighted statistics give phi, mu, Sigma (+ eps*I) (M-step, differentiable
  in h); energy E(h) = -log sum_k phi_k N(h; mu_k, Sigma_k) with log-sum-exp and Cholesky in
  float64 (the third party exponentiated in float32: every likelihood underflowed to 0). Loss =
  (lambda_energy * mean E + lambda_cov * sum_k sum_j 1 / Sigma_k[j, j]) / d_model (+ the auxiliary
  loss below): both mixture terms per latent dimension, because DAGMM's lambdas (0.1, 0.005) were set
  for a latent of a few dimensions and both terms grow with d; at d_model = 100 unscaled they
  reached ~17,000 against a masked-template loss of 1-3, and the shared mixture squeezed HDFS's
  sessions together (chosen by a rule fixed before the run, on held-out masked-template loss:
  benchmarks/README.md). The third party's negative lambda_cov on Frobenius norms rewarded huge
  covariances. A running
  estimate (exponential average of batch statistics) serves the E-step and validation; after
  training, EM over the whole training set (float64, weighted by sequence counts; from the running
  estimate and from seeded k-means++ starts, the highest likelihood kept) gives the final mixture.
- Mixture size (`components`): "per-system" (default) gives the mixture `n_components` for each
  training system, so a joint model of four systems has 20 (the paper's K = 5 when one system is
  trained); "total" keeps `n_components` in all. With 5 in all, the four-system model gave HDFS a
  single component where a model of HDFS alone uses five (chosen by a rule fixed before the run,
  on a development set: benchmarks/README.md).
- Mixture weights at scoring time (`mixture_weights`): "shared" scores every system by its
  density under all training systems together (the paper's one energy); "system" keeps the shared
  components but weights them by the system's own phi_s (the mean responsibility of its training
  sequences): the density of the system's normal data, so a sequence that resembles ANOTHER
  system's normal data is not thereby normal. A system never seen in training uses phi.
- Collapse ("identical shortcut", paper section on UniAD-style shortcuts; ambiguous, section 9):
  an encoder trained only to lower GMM energy can map every sequence, normal or not, to one tight
  cluster, and the energy then says nothing. We add an auxiliary self-supervised objective,
  MASKED-TEMPLATE PREDICTION over the sentence vectors: about `mask_ratio` of the positions are
  replaced by a learned mask vector and the model must name the hidden template among all
  training templates, scoring each candidate by the dot product with the candidate's projected
  sentence vector (tied to the input projection, so any system's templates can be candidates).
  Why this and not reconstruction (DAGMM): a model that sees its whole input can learn the
  identity and then reconstructs anomalies as well as normal data, which is exactly the shortcut
  MLAD warns about; a masked position cannot be copied, so the token outputs, and their mean h,
  must carry the context of the sequence. The covariance penalty keeps h from shrinking.
- `no_gmm=True`: no GMM head; trained by masked-template prediction alone and scored by its
  negative log-likelihood, every position masked exactly once over round(1 / mask_ratio)
  deterministic copies (a template never seen in training competes with the training templates).
- Training data: normal sequences only (known anomalies are dropped), deduplicated per system with
  counts as weights, in seeded random batches that mix systems (a batch of one length would bias
  the batch's mixture statistics), early stopping on the masked-template loss of a held-out share
  of the training sequences (deterministic masks).
- Threshold: never here. `logad evaluate` picks it on validation (best F1, or a quantile of normal
  validation energies when validation holds no anomaly); the experiments do the same per system
  (`logad.experiments.mlad.choose_system_threshold`) and store it in `thresholds_`.

Multi-system API: `fit_systems([(name, templates, train_sequences), ...])`, then
`score_system(name, sequences)` for any system, also one never seen in training (zero-shot: its
templates are embedded from their texts). The network and its alpha-entmax attention are
`mlad_network`, the Gaussian-mixture maths `mlad_mixture`; `logad transfer --method mlad` and
`logad mlad` are `logad.experiments.mlad` and `logad.experiments.mlad_runs`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from logad.detectors.base import check_choice, check_float, check_int
from logad.detectors.crosssystem.mlad_mixture import gmm_energy, gmm_fit, gmm_log_components, gmm_m_step
from logad.detectors.crosssystem.mlad_network import build_network, scale
from logad.detectors.crosssystem.templates import MultiSystemTemplates, fallback_vector
from logad.detectors.deep.base import DeepDetector
from logad.detectors.deep.engine import TrainConfig, torch, train
from logad.errors import InputError, InvalidParameterError, NotFittedError, require
from logad.progress import Progress
from logad.records import Sequence

log = logging.getLogger(__name__)

SCORE_BATCH_CELLS = 2_000_000  # batch * length^2 per scoring forward pass (attention memory)
GMM_MOMENTUM = 0.8  # running mixture estimate: share of the previous estimate kept per step
FINAL_EM_ITERS = 100
FINAL_EM_RESTARTS = 2  # seeded k-means++ starts tried beside the running estimate (best likelihood wins)
# weight of each system in joint training: its sequence count ("none"), the square root of it
# ("sqrt"), or the same total for every system ("equal"); the exponent applied to the total
BALANCES = ("none", "sqrt", "equal")
# mixture weights of the energy: the shared phi (density under all training systems together), or
# a seen system's own phi_s (its density under the shared components); unseen systems use phi
MIXTURE_WEIGHTS = ("shared", "system")
# n_components counts the mixture's components in all ("total") or for each training system
# ("per-system": the mixture has n_components x systems; the same K when one system is trained)
COMPONENTS = ("total", "per-system")
_BALANCE_POWER = {"none": 1.0, "sqrt": 0.5, "equal": 0.0}
SUB_BATCH = 64  # sequences per forward pass inside a training batch, grouped by length (less padding)


def _unit_rows(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(n > 0, n, 1.0)).astype(np.float32)


# ----------------------------------------------------------------------------- the detector
class MLADDetector(DeepDetector):
    """Unsupervised: fit on normal sequences (labelled anomalies are dropped). Score = GMM energy
    of the pooled representation (or masked-template NLL with `no_gmm`); higher = more anomalous.

    One system: `add_templates({id: text})`, then `fit(sequences)` (the system is named by the
    parameter `system`). Several systems: `fit_systems([(name, templates, sequences), ...])` and
    `score_system(name, sequences)`.
    """

    name = "mlad"
    explains = True
    uses_templates = True
    supervised = False
    needs_normal_only = True
    ORIGINAL_SPLIT = "mlad-balanced"  # the third-party split: all anomalies + as many normals in test

    def __init__(
        self,
        *,
        encoder: str = "minilm",
        cache_dir: str | None = None,
        system: str = "default",
        d_model: int = 100,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 256,
        dropout: float = 0.1,
        alpha: float = 1.5,
        n_components: int = 5,
        components: str = "per-system",
        no_gmm: bool = False,
        mask_ratio: float = 0.15,
        lambda_energy: float = 0.1,
        lambda_cov: float = 0.005,
        lambda_mtp: float = 1.0,
        cov_eps: float = 1e-5,
        batch_size: int = 512,
        lr: float = 1e-3,
        epochs: int = 30,
        patience: int = 5,
        val_fraction: float = 0.1,
        max_len: int = 512,
        balance: str = "none",
        mixture_weights: str = "shared",
        seed: int = 0,
        max_train_seconds: float | None = None,
    ) -> None:
        self.encoder = encoder
        self.cache_dir = cache_dir
        self.system = system
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.alpha = alpha
        self.n_components = n_components
        self.components = components
        self.no_gmm = no_gmm
        self.mask_ratio = mask_ratio
        self.lambda_energy = lambda_energy
        self.lambda_cov = lambda_cov
        self.lambda_mtp = lambda_mtp
        self.cov_eps = cov_eps
        self.batch_size = batch_size
        self.lr = lr
        self.epochs = epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.max_len = max_len
        self.balance = balance
        self.mixture_weights = mixture_weights
        self.seed = seed
        self.max_train_seconds = max_train_seconds

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        for name in ("d_model", "n_heads", "n_layers", "d_ff", "n_components", "batch_size", "epochs",
                     "patience", "max_len"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)
        check_choice("balance", self.balance, BALANCES)
        check_choice("mixture_weights", self.mixture_weights, MIXTURE_WEIGHTS)
        check_choice("components", self.components, COMPONENTS)
        if self.d_model % self.n_heads:
            raise InvalidParameterError(
                f"`d_model` must be divisible by `n_heads`, got d_model={self.d_model!r}, n_heads={self.n_heads!r}"
            )
        check_float("alpha", self.alpha, 1.0, 2.0)
        check_float("dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_float("mask_ratio", self.mask_ratio, 0.0, 1.0, low_open=True, high_open=True)
        for name in ("lambda_energy", "lambda_cov", "lambda_mtp"):
            check_float(name, getattr(self, name), 0.0, 1e6)
        check_float("cov_eps", self.cov_eps, 0.0, 10.0, low_open=True)
        check_float("lr", self.lr, 0.0, 1.0, low_open=True)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        if not isinstance(self.no_gmm, bool):
            raise InvalidParameterError(f"`no_gmm` must be true or false, got {self.no_gmm!r}")
        if self.no_gmm and self.lambda_mtp == 0:
            raise InvalidParameterError("`no_gmm` scores by masked-template prediction: `lambda_mtp` must be > 0, got 0")
        if not self.no_gmm and self.lambda_energy == 0 and self.lambda_mtp == 0:
            raise InvalidParameterError("`lambda_energy` and `lambda_mtp` are both 0: nothing to train")
        if not isinstance(self.encoder, str) or not self.encoder:
            raise InvalidParameterError(f"`encoder` must be 'minilm', 'hashing' or a model folder, got {self.encoder!r}")
        if not isinstance(self.system, str) or not self.system:
            raise InvalidParameterError(f"`system` must be a non-empty name, got {self.system!r}")
        if self.max_train_seconds is not None:
            check_float("max_train_seconds", self.max_train_seconds, 0.0, math.inf, low_open=True)
        if self.alpha != 1.0:
            require("entmax", "semantic")  # a clear error naming the extra, before any training

    # -- templates and their vectors -----------------------------------------------------------
    def add_templates(self, templates: dict[int, str], system: str | None = None):
        """Template texts by id for `system` (default: the `system` parameter)."""
        if not isinstance(templates, dict):
            raise InputError(f"`templates` must be a dict {{template id: text}}, got {type(templates).__name__}")
        name = system or self.system
        store = self.__dict__.setdefault("_texts", {})
        texts = dict(store.get(name, {}))
        for k, v in templates.items():
            texts[int(k)] = str(v)
        store[name] = texts
        return self

    def templates_texts(self, system: str | None = None) -> dict[int, str]:
        """The template texts known for `system` (default: the `system` parameter)."""
        return dict(self.__dict__.get("_texts", {}).get(system or self.system, {}))

    def _sentence_encoder(self):
        enc = self.__dict__.get("_encoder")
        if enc is None:
            from logad.features.sentence import SentenceEncoder

            enc = SentenceEncoder(self.encoder, cache_dir=self.cache_dir)
            self._encoder = enc
        return enc

    def _encode(self, texts: list[str], system: str) -> np.ndarray:
        """Unit-length sentence vectors of `texts`; records the embedding cost per system."""
        enc = self._sentence_encoder()
        before = dict(vars(enc.stats))
        vecs = _unit_rows(enc.encode(texts))
        after = vars(enc.stats)
        delta = {k: after[k] - before.get(k, 0) for k in after}
        stats = self.__dict__.setdefault("embedding_stats_", {})
        acc = stats.setdefault(system, {k: 0 for k in delta})
        for k, v in delta.items():
            acc[k] = acc.get(k, 0) + v
        acc["encoded_per_second"] = acc["encoded"] / acc["seconds"] if acc.get("seconds", 0) > 0 else None
        return vecs

    def _add_rows(self, system: str, ids: Iterable[int]) -> None:
        """Give every (system, id) in `ids` a vocabulary row and a vector: its text's sentence
        vector when the text is known, else a fixed pseudo-random vector (id 0 = unknown: none).
        A row that had no text gets its sentence vector once its text is given."""
        texts = self.__dict__.get("_texts", {}).get(system, {})
        new = sorted({int(i) for i in ids if int(i) != 0 and (system, int(i)) not in self.vocab_.index})
        redo = [r for r in sorted(self.textless_) if self.vocab_.owners[r][0] == system
                and self.vocab_.owners[r][1] in texts]
        if not new and not redo:
            return
        with_text = [i for i in new if i in texts]
        without = [i for i in new if i not in texts]
        if without and texts:
            log.warning("mlad: %d template ids of %r have no text; using id-only vectors for them", len(without), system)
        elif without:
            log.warning("mlad: no template texts for %r (fit(templates=...) or add_templates); using id-only vectors", system)
        all_texts = [texts[i] for i in with_text] + [texts[self.vocab_.owners[r][1]] for r in redo]
        vecs = self._encode(all_texts, system) if all_texts else None
        if self.in_dim_ is None:  # the encoder's dimension, known from its first vectors
            self.in_dim_ = int(vecs.shape[1]) if vecs is not None else int(self._sentence_encoder().dim)
            self.vectors_ = np.zeros((len(self.vocab_), self.in_dim_), np.float32)
        if vecs is not None and vecs.shape[1] != self.in_dim_:
            raise InputError(f"the sentence encoder gives {vecs.shape[1]}-d vectors; this model reads {self.in_dim_}-d")
        self.vocab_.add(system, {i: texts[i] for i in with_text})
        self.vocab_.add(system, {i: "" for i in without})
        grow = len(self.vocab_) - self.vectors_.shape[0]
        if grow > 0:
            self.vectors_ = np.vstack([self.vectors_, np.zeros((grow, self.in_dim_), np.float32)])
        rows_text = [self.vocab_.row(system, i) for i in with_text]
        if vecs is not None:
            for r, v in zip(rows_text + redo, vecs):
                self.vectors_[r] = v
        for r in redo:
            self.vocab_.texts[r] = texts[self.vocab_.owners[r][1]]
            self.textless_.discard(r)
        for tid in without:
            r = self.vocab_.row(system, tid)
            self.vectors_[r] = fallback_vector(self.seed, system, tid, self.in_dim_)
            self.textless_.add(r)
        self._table = None

    def _rows(self, system: str, sequences: list[Sequence]) -> list[tuple[int, ...]]:
        """Vocabulary rows of each sequence (new templates get rows first); the last `max_len`."""
        ids = {t for s in sequences for t in s.template_ids}
        self._add_rows(system, ids)
        enc = self.vocab_.encode
        out = []
        for s in sequences:
            r = tuple(enc(system, s.template_ids))
            out.append(r[-self.max_len:] if len(r) > self.max_len else r)
        return out

    def _table_tensor(self):
        if getattr(self, "_table", None) is None or self._table.shape[0] != self.vectors_.shape[0]:
            self._table = torch().from_numpy(np.ascontiguousarray(self.vectors_))
        return self._table

    def _scaled_table(self):
        """The table times the projection's factor (`mlad_network.scale`), made once per table:
        the same values as scaling each batch's gathered vectors, without doing it per batch."""
        table = self._table_tensor()
        cached = self.__dict__.get("_scaled")
        if cached is None or cached[0] is not table:
            cached = (table, table * scale(self.in_dim_), {})
            self._scaled = cached
        return cached[1]

    def _scaled_candidates(self, cand_rows):
        """Scaled vectors of the candidate rows `cand_rows` (a tensor), kept while the table and
        the rows are the same."""
        scaled = self._scaled_table()
        memo = self._scaled[2]
        key = (cand_rows.data_ptr(), tuple(cand_rows.shape))
        hit = memo.get(key)
        if hit is None or not torch().equal(hit[0], cand_rows):
            hit = (cand_rows.clone(), scaled.index_select(0, cand_rows))
            memo.clear()
            memo[key] = hit
        return hit[1]

    def _batch(self, row_seqs: list[tuple[int, ...]]):
        """(B, L, in_dim) SCALED vectors (pass `scaled=True` to the model), lengths, and the row
        index tensor; an empty sequence = row 0."""
        t = torch()
        lengths = [max(1, len(r)) for r in row_seqs]
        idx = np.zeros((len(row_seqs), max(lengths)), dtype=np.int64)
        for i, r in enumerate(row_seqs):
            idx[i, : len(r)] = r
        idx_t = t.from_numpy(idx)
        x = self._scaled_table().index_select(0, idx_t.view(-1)).view(*idx.shape, -1)
        return x, t.tensor(lengths, dtype=t.long), idx_t

    # -- the model ------------------------------------------------------------------------------
    def _build_model(self):
        return build_network(self.in_dim_, self.d_model, self.n_heads, self.n_layers, self.d_ff, self.dropout,
                          float(self.alpha), self.mixture_components_)

    def _mtp_logits(self, model, tokens, cand_rows):
        """Scores of every candidate template for each token output: dot products with the
        candidates' projected sentence vectors."""
        cand = model.project(self._scaled_candidates(cand_rows), scaled=True)
        return model.mtp(tokens) @ cand.transpose(0, 1) / math.sqrt(self.d_model)

    def _random_mask(self, lengths, n: int, generator=None):
        """Positions to hide: each valid one with probability mask_ratio, at least one per sequence."""
        t = torch()
        valid = t.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
        masked = (t.rand(len(lengths), n, generator=generator) < self.mask_ratio) & valid
        none = ~masked.any(1)
        if bool(none.any()):
            pick = (t.rand(len(lengths), generator=generator) * lengths.to(t.float32)).long().clamp_max(n - 1)
            masked[none, pick[none]] = True
        return masked

    def _gmm_params(self, model):
        return model.gmm_phi, model.gmm_mu, model.gmm_cov

    def _init_gmm(self, model, h, w) -> None:
        t = torch()
        phi, mu, cov, _ = gmm_fit(h, w, self.mixture_components_, self.cov_eps, seed=self.seed, iters=10)
        with t.no_grad():
            model.gmm_phi.copy_(phi)
            model.gmm_mu.copy_(mu)
            model.gmm_cov.copy_(cov)
            model.gmm_ready.fill_(1.0)

    def _loss(self, model, items: list, generator=None):
        """The training objective on one batch of (rows, weight) items.

        The batch is drawn at random (its mixture statistics must not depend on length), but it is
        run through the encoder in sub-batches of similar length, so little is padded."""
        t = torch()
        w = t.tensor([c for _, c in items], dtype=t.float32)
        order = sorted(range(len(items)), key=lambda i: (len(items[i][0]), i))
        chunks = [order[i:i + SUB_BATCH] for i in range(0, len(order), SUB_BATCH)]
        loss = w.new_zeros(())
        use_gmm = not self.no_gmm and (self.lambda_energy > 0 or self.lambda_cov > 0)
        if not model.training and self.lambda_mtp > 0:
            # validation (early stopping) = held-out masked-template prediction alone: the energy under
            # the running mixture lags the moving representation and rises while it still improves
            use_gmm = False
        mtp_sum = w.new_zeros(())
        hs = []
        for chunk in chunks:
            x, lengths, idx = self._batch([items[i][0] for i in chunk])
            wc = w[chunk]
            if self.lambda_mtp > 0:
                masked = self._random_mask(lengths, x.shape[1], generator)
                tokens, _ = model(x, lengths, masked, scaled=True)
                logits = self._mtp_logits(model, tokens[masked], t.from_numpy(self.train_rows_))
                target = t.from_numpy(self._cand_index)[idx[masked]]
                per_pos = t.nn.functional.cross_entropy(logits, target, reduction="none")
                pos_w = (wc / masked.sum(1).to(t.float32)).unsqueeze(1).expand_as(masked)[masked]
                mtp_sum = mtp_sum + (per_pos * pos_w).sum()
            if use_gmm:
                hs.append(model(x, lengths, scaled=True)[1])
        if self.lambda_mtp > 0:
            loss = loss + self.lambda_mtp * mtp_sum / w.sum()
        if use_gmm:
            h64 = t.cat(hs).double()
            w64 = w[[i for c in chunks for i in c]].double()
            if model.training:
                if float(model.gmm_ready) == 0.0:
                    self._init_gmm(model, h64.detach(), w64)
                with t.no_grad():  # E-step from the current estimate
                    gamma = t.softmax(gmm_log_components(h64.detach(), *self._gmm_params(model)), dim=1)
                phi, mu, cov, nk = gmm_m_step(h64, gamma, w64, self.cov_eps)
                empty = nk < 1e-3 * nk.sum()  # too few members for batch statistics: keep the estimate
                mu = t.where(empty.unsqueeze(1), model.gmm_mu, mu)
                cov = t.where(empty.view(-1, 1, 1), model.gmm_cov, cov)
                with t.no_grad():
                    m = GMM_MOMENTUM
                    model.gmm_phi.mul_(m).add_((1 - m) * phi.detach())
                    model.gmm_mu.mul_(m).add_((1 - m) * mu.detach())
                    model.gmm_cov.mul_(m).add_((1 - m) * cov.detach())
            else:
                phi, mu, cov = self._gmm_params(model)
            energy = gmm_energy(h64, phi, mu, cov)
            penalty = (1.0 / t.diagonal(cov, dim1=-2, dim2=-1)).sum()
            gmm_loss = (self.lambda_energy * (energy * w64).sum() / w64.sum() + self.lambda_cov * penalty) / self.d_model
            loss = loss + gmm_loss.float()
        return loss

    # -- training -------------------------------------------------------------------------------
    def _fit(self, sequences: list[Sequence], labels: np.ndarray | None) -> None:
        texts = self.__dict__.get("_texts", {}).get(self.system, {})
        self._fit_systems([(self.system, texts, sequences)])

    def fit_systems(self, systems, *, progress: Progress | None = None) -> MLADDetector:
        """Train ONE model on the normal sequences of several systems.

        `systems`: (name, templates {id: text}, sequences) triples; sequences labelled 1 are
        dropped (known anomalies), unlabelled ones are kept (assumed normal)."""
        self._validate_params()
        if progress is not None:
            self._progress = progress
        prepared = []
        names = []
        for item in systems:
            try:
                name, templates, seqs = item
            except (TypeError, ValueError):
                raise InvalidParameterError("each system is a (name, templates, sequences) triple") from None
            if not isinstance(name, str) or not name:
                raise InvalidParameterError(f"a system name must be a non-empty string, got {name!r}")
            if name in names:
                raise InvalidParameterError(f"system {name!r} is given twice")
            if templates is not None and not isinstance(templates, dict):
                raise InputError(f"templates of {name!r} must be a dict {{template id: text}}, got {type(templates).__name__}")
            keep = [s for s in seqs if s.label != 1]
            if not keep:
                raise InvalidParameterError(f"system {name!r} has no normal training sequence")
            names.append(name)
            prepared.append((name, templates or {}, keep))
        if not prepared:
            raise InvalidParameterError("`systems` must name at least one system, got 0")
        for name, templates, _ in prepared:
            if templates:
                self.add_templates(templates, system=name)
        self._fitted = False
        self.threshold_ = None
        self._fit_systems(prepared)
        self._fitted = True
        return self

    def _fit_systems(self, systems: list[tuple[str, dict, list[Sequence]]]) -> None:
        t = torch()
        progress = self._progress
        self.vocab_ = MultiSystemTemplates()
        self.textless_: set[int] = set()
        self.thresholds_: dict[str, float] = {}
        self.embedding_stats_ = {}
        self.in_dim_ = None  # set by the first vectors (row 0, the unknown template, stays zero)
        self.vectors_ = None
        self._table = None
        rng = np.random.default_rng(self.seed)
        fit_counts: Counter = Counter()
        val_counts: Counter = Counter()
        self.systems_ = []
        per_system_rows = []
        self.mixture_components_ = self.n_components * (len(systems) if self.components == "per-system" else 1)
        for name, _, seqs in systems:  # texts were registered by set_templates
            # embed every template of the system once (also those not in training: cheaper in one go)
            all_ids = set(self.__dict__.get("_texts", {}).get(name, {})) | {t_ for s in seqs for t_ in s.template_ids}
            self._add_rows(name, all_ids)
            rows = self._rows(name, seqs)
            per_system_rows.append(set(rows))
            n_val = int(round(len(rows) * self.val_fraction)) if len(rows) > 1 else 0
            order = rng.permutation(len(rows))
            for j, i in enumerate(order):
                (val_counts if j < n_val else fit_counts)[rows[i]] += 1
            self.systems_.append({"name": name, "training_sequences": len(seqs) - n_val,
                                  "validation_sequences": n_val, "templates": len(all_ids)})
            progress.stage(f"mlad: {name}: {len(seqs)} normal sequences ({len(set(rows))} distinct), "
                           f"{len(all_ids)} templates")
        # a system's total weight becomes total ** power (rescaled so the grand total is kept)
        power = _BALANCE_POWER[self.balance]
        owner = {r: name for (name, _, _), rs in zip(systems, per_system_rows) for r in rs}
        totals = Counter()
        for r, c in list(fit_counts.items()) + list(val_counts.items()):
            totals[owner[r]] += c
        raw = {n: totals[n] ** power for n in totals}
        scale = sum(totals.values()) / sum(raw.values())
        factor = {n: raw[n] * scale / totals[n] for n in totals}
        self.system_weights_ = {n: factor[n] * totals[n] for n in totals}
        fit_items = [(r, float(c) * factor[owner[r]]) for r, c in sorted(fit_counts.items())]
        val_items = [(r, float(c) * factor[owner[r]]) for r, c in sorted(val_counts.items())]
        train_rows = sorted({x for r, _ in fit_items + val_items for x in r} | {0})
        self.train_rows_ = np.asarray(train_rows, dtype=np.int64)
        self._refresh_candidates()
        t.manual_seed(self.seed)
        self.model_ = self._build_model()

        # seeded random batches that mix systems; re-drawn every epoch
        batch_rng = np.random.default_rng([self.seed, 1])
        n_batches = max(1, math.ceil(len(fit_items) / self.batch_size))
        train_batches: list[list] = [[] for _ in range(n_batches)]

        def redraw(epoch: int) -> None:
            order = batch_rng.permutation(len(fit_items))
            for b in range(n_batches):
                train_batches[b] = [fit_items[i] for i in order[b * self.batch_size:(b + 1) * self.batch_size]]

        redraw(0)
        val_batches = [val_items[i:i + self.batch_size] for i in range(0, len(val_items), self.batch_size)]
        val_gen_seed = self.seed + 7919

        def loss_of(model, batch_list):
            (items,) = batch_list
            if model.training:
                return self._loss(model, items)
            gen = torch().Generator().manual_seed(val_gen_seed)  # the same masks every epoch
            return self._loss(model, items, gen)

        config = TrainConfig(epochs=self.epochs, batch_size=1, lr=self.lr, patience=self.patience, seed=self.seed,
                             max_seconds=self.max_train_seconds)
        self.history_ = train(
            self.model_, train_items=train_batches, val_items=val_batches,
            lengths=lambda its: [1] * len(its), loss_of=loss_of, config=config, progress=progress,
            name="mlad", on_epoch_start=lambda e: redraw(e) if e > 1 else None, on_epoch_end=self._on_epoch_end,
        )
        self.model_.eval()
        self.system_phi_: dict[str, list[float]] = {}  # set by the final EM; none without a mixture
        if not self.no_gmm:
            self._final_gmm(fit_items + val_items, [owner[r] for r, _ in fit_items + val_items])

    def _refresh_candidates(self) -> None:
        cand = np.full(len(self.vocab_), -1, dtype=np.int64)
        cand[self.train_rows_] = np.arange(self.train_rows_.size)
        self._cand_index = cand

    def _final_gmm(self, items: list, systems: list[str]) -> None:
        """EM over the representations of ALL training sequences (weighted by their counts): the
        mixture used at scoring time. EM only finds a local optimum: started from the running
        estimate alone it can empty components (on a two-system fixture it put both systems in one
        component, at a lower likelihood than one component per system), so it also starts from
        FINAL_EM_RESTARTS seeded k-means++ centres and keeps the start with the highest training
        log-likelihood, EM's own objective. Also each system's own weights phi_s: the
        count-weighted mean responsibility of its sequences (`systems[i]` names the system of
        `items[i]`)."""
        t = torch()
        rows = [r for r, _ in items]
        h = t.from_numpy(self._represent_rows(rows)).double()
        w = t.tensor([c for _, c in items], dtype=t.float64)
        m = self.model_
        starts = [(m.gmm_phi, m.gmm_mu, m.gmm_cov)] if float(m.gmm_ready) else []
        starts += [None] * FINAL_EM_RESTARTS
        fits = [gmm_fit(h, w, self.mixture_components_, self.cov_eps, seed=self.seed + i, init=init, iters=FINAL_EM_ITERS)
                for i, init in enumerate(starts)]
        self.final_em_log_likelihoods_ = [f[3] for f in fits]
        phi, mu, cov, ll = max(fits, key=lambda f: f[3])  # the first start wins ties
        with t.no_grad():
            m.gmm_phi.copy_(phi)
            m.gmm_mu.copy_(mu)
            m.gmm_cov.copy_(cov)
            m.gmm_ready.fill_(2.0)  # 2 = final estimate over the training set
            gamma = t.softmax(gmm_log_components(h, phi, mu, cov), dim=1) * w.unsqueeze(1)
        self.train_log_likelihood_ = ll
        owner = np.asarray(systems)
        masses = {name: gamma[t.from_numpy(owner == name)].sum(0) for name in dict.fromkeys(systems)}
        self.system_phi_ = {name: [float(v) for v in mass / mass.sum()] for name, mass in masses.items()}

    # -- scoring --------------------------------------------------------------------------------
    def _chunks(self, row_seqs: list[tuple[int, ...]]):
        """Index chunks of similar length whose attention fits in SCORE_BATCH_CELLS."""
        order = sorted(range(len(row_seqs)), key=lambda i: (len(row_seqs[i]), i))
        i = 0
        while i < len(order):
            n = max(1, len(row_seqs[order[min(len(order) - 1, i + 511)]]))
            size = max(1, min(512, SCORE_BATCH_CELLS // (n * n * self.n_heads)))
            yield order[i:i + size]
            i += size

    def _represent_rows(self, row_seqs: list[tuple[int, ...]]) -> np.ndarray:
        t = torch()
        out = np.zeros((len(row_seqs), self.d_model), dtype=np.float32)
        self.model_.eval()
        with t.no_grad():
            for chunk in self._chunks(row_seqs):
                x, lengths, _ = self._batch([row_seqs[i] for i in chunk])
                out[chunk] = self.model_(x, lengths, scaled=True)[1].numpy()
        return out

    def _energy_rows(self, row_seqs: list[tuple[int, ...]], system: str | None = None) -> np.ndarray:
        t = torch()
        h = t.from_numpy(self._represent_rows(row_seqs)).double()
        m = self.model_
        phi = m.gmm_phi
        own = self.system_phi_.get(system)
        if self.mixture_weights == "system" and own is not None:
            phi = t.tensor(own, dtype=t.float64)
        with t.no_grad():
            return gmm_energy(h, phi, m.gmm_mu, m.gmm_cov).numpy()

    def _mtp_rows(self, row_seqs: list[tuple[int, ...]], reduce: str = "mean") -> np.ndarray:
        """Mean negative log-likelihood of each position's template when it is masked; every
        position is masked exactly once over round(1 / mask_ratio) deterministic copies. A
        template outside the training candidates is scored against them as one extra candidate."""
        t = torch()
        k = max(1, int(round(1.0 / self.mask_ratio)))
        out = np.zeros(len(row_seqs), dtype=np.float64)
        self._refresh_candidates()
        cand_rows = t.from_numpy(self.train_rows_)
        cand_index = t.from_numpy(self._cand_index)
        self.model_.eval()
        with t.no_grad():
            for chunk in self._chunks(row_seqs):
                x, lengths, idx = self._batch([row_seqs[i] for i in chunk])
                n = x.shape[1]
                valid = t.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
                total = t.zeros(len(chunk), dtype=t.float64)
                top = t.zeros(len(chunk), dtype=t.float64)
                for r in range(k):
                    masked = valid & ((t.arange(n) % k) == r).unsqueeze(0)
                    if not bool(masked.any()):
                        continue
                    tokens, _ = self.model_(x, lengths, masked, scaled=True)
                    sel = tokens[masked]
                    logits = self._mtp_logits(self.model_, sel, cand_rows)
                    true_rows = idx[masked]
                    own = (self.model_.mtp(sel) * self.model_.project(self._table_tensor()[true_rows])).sum(-1)
                    own = own / math.sqrt(self.d_model)
                    ci = cand_index[true_rows]
                    known = ci >= 0
                    extra = t.where(known, t.full_like(own, float("-inf")), own)
                    logp = t.log_softmax(t.cat([logits, extra.unsqueeze(1)], dim=1), dim=1)
                    pick = t.where(known, ci, t.full_like(ci, logits.shape[1]))
                    nll = -logp.gather(1, pick.unsqueeze(1)).squeeze(1).double()
                    owner = t.arange(len(chunk)).unsqueeze(1).expand_as(masked)[masked]
                    total.index_add_(0, owner, nll)
                    top.scatter_reduce_(0, owner, nll, reduce="amax")
                out[chunk] = (top if reduce == "max" else total / lengths.double()).numpy()
        return out

    def _scores_rows(self, row_seqs: list[tuple[int, ...]], system: str | None = None) -> np.ndarray:
        uniq = sorted(set(row_seqs), key=lambda r: (len(r), r))
        where = {r: i for i, r in enumerate(uniq)}
        vals = self._mtp_rows(uniq) if self.no_gmm else self._energy_rows(uniq, system)
        return np.asarray(vals, dtype=np.float64)[[where[r] for r in row_seqs]]

    def _score(self, sequences: list[Sequence]) -> np.ndarray:
        return self._scores_rows(self._rows(self.system, sequences), self.system)

    def score_system(self, name: str, sequences: Iterable[Sequence], templates: dict[int, str] | None = None) -> np.ndarray:
        """Scores of `sequences` of system `name` (one seen in training, or a new one: its
        templates are embedded from `templates` or texts given earlier with set_templates)."""
        self._check_fitted()
        if templates:
            self.add_templates(templates, system=name)
        seqs = list(sequences)
        if not seqs:
            return np.zeros(0, dtype=np.float64)
        return self._scores_rows(self._rows(name, seqs), name)

    def represent_system(self, name: str, sequences: Iterable[Sequence]) -> np.ndarray:
        """The pooled representations h (n, d_model) of `sequences` of system `name`."""
        self._check_fitted()
        return self._represent_rows(self._rows(name, list(sequences)))

    def predict_system(self, name: str, sequences: Iterable[Sequence]) -> np.ndarray:
        """Alarms with the system's own threshold (`thresholds_[name]`, else `threshold_`)."""
        thr = self.thresholds_.get(name, self.threshold_)
        if thr is None:
            raise NotFittedError(f"no threshold for system {name!r}; use choose_system_threshold first")
        return self.score_system(name, sequences) > thr

    def explain(self, sequence: Sequence) -> list[tuple[int, float]]:
        """Occlusion: for each distinct template, how much the score drops when all its lines
        are removed; templates that raise the score, largest first."""
        self._check_fitted()
        ids = tuple(sequence.template_ids)
        if not ids:
            return []
        distinct = sorted(set(ids), key=ids.index)
        variants = [Sequence("full", ids)] + [Sequence(f"-{t}", tuple(x for x in ids if x != t)) for t in distinct]
        scores = self.score(variants)
        drops = [(int(t_), float(scores[0] - scores[i + 1])) for i, t_ in enumerate(distinct)]
        return sorted([d for d in drops if d[1] > 0], key=lambda kv: (-kv[1], kv[0]))

    # -- persistence ----------------------------------------------------------------------------
    def _state(self) -> dict:
        hist = getattr(self, "history_", None)
        return {
            "in_dim": self.in_dim_,
            "texts": {name: [[k, v] for k, v in sorted(d.items())] for name, d in self.__dict__.get("_texts", {}).items()},
            "textless_rows": sorted(self.textless_),
            "systems": self.systems_,
            "mixture_components": self.mixture_components_,
            "thresholds": self.thresholds_,
            "history": hist.as_dict() if hist is not None else None,
            "embedding": self.__dict__.get("embedding_stats_", {}),
            "system_phi": self.system_phi_,
        }

    def _restore_state(self, state: dict) -> None:
        self.in_dim_ = int(state["in_dim"])
        self._texts = {name: {int(k): str(v) for k, v in pairs} for name, pairs in state["texts"].items()}
        self.textless_ = {int(r) for r in state["textless_rows"]}
        self.systems_ = list(state["systems"])
        # models saved before `components` existed: n_components was the whole mixture
        self.mixture_components_ = int(state.get("mixture_components", self.n_components))
        self.thresholds_ = {str(k): float(v) for k, v in state["thresholds"].items()}
        self.embedding_stats_ = dict(state.get("embedding") or {})
        # models saved before per-system weights existed have none: every system then uses phi
        self.system_phi_ = {str(k): [float(x) for x in v] for k, v in (state.get("system_phi") or {}).items()}

    def _extra_tensors(self) -> dict:
        t = torch()
        return {"vectors": t.from_numpy(np.ascontiguousarray(self.vectors_)), "train_rows": t.from_numpy(self.train_rows_)}

    def _restore_extra_tensors(self, tensors: dict) -> None:
        self.vectors_ = tensors["vectors"].numpy().astype(np.float32)
        self.train_rows_ = tensors["train_rows"].numpy().astype(np.int64)
        if self.vectors_.shape != (len(self.vocab_), self.in_dim_):
            raise ValueError(f"template vectors {self.vectors_.shape} do not match {len(self.vocab_)} rows x {self.in_dim_}")
        self._table = None
        self._refresh_candidates()

    @classmethod
    def _vocabulary_from_dict(cls, data: dict) -> MultiSystemTemplates:
        return MultiSystemTemplates.from_dict(data)
