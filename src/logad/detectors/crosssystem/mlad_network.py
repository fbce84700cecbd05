"""MLAD's network: a Transformer whose attention weights are alpha-entmax (seed_methods.md 2.4).

A learnable projection of the templates' sentence vectors to `d_model` + sinusoidal positions;
pre-norm layers whose attention is alpha-entmax of the scaled scores (alpha = 1 is softmax exactly;
padding keys are masked out; the third-party bisection returned all zeros for 1 < alpha < 2), FFN
with CELU, final LayerNorm, masked mean pooling -> h; a masked-template prediction head; and the
buffers of the Gaussian mixture over h (`mlad_mixture`).
"""

from __future__ import annotations

import functools
import math

from logad.detectors.deep.engine import torch
from logad.errors import require

BISECT_STEPS = 30
# entmax15 by length groups: a group ends where a sequence is shorter than GROUP_RATIO x the
# group's longest one; at most MAX_GROUPS groups per batch (each costs some fixed overhead)
GROUP_RATIO = 0.7
MAX_GROUPS = 4


def attention_weights(scores, key_valid, alpha: float):
    """alpha-entmax over the last axis of `scores`, with invalid keys (key_valid False) at 0.

    alpha = 1 is softmax exactly; 1 < alpha <= 2 is `entmax.entmax_bisect`, except alpha = 1.5
    (`entmax.entmax15`, exact) and alpha = 2 (`entmax.sparsemax`): the same mappings, faster.
    Every row needs at least one valid key.
    """
    t = torch()
    masked = scores.masked_fill(~key_valid, float("-inf"))
    if alpha == 1.0:
        return t.softmax(masked, dim=-1)
    entmax = require("entmax", "semantic")
    if alpha == 1.5:  # the same mapping, computed exactly by sorting: ~6x faster than 50 bisection steps
        return entmax.entmax15(masked, dim=-1)
    if alpha == 2.0:
        return entmax.sparsemax(masked, dim=-1)
    # the bracket halves each step: 30 steps locate tau to ~1e-9, below float32 resolution
    return entmax.entmax_bisect(masked, alpha=float(alpha), dim=-1, n_iter=BISECT_STEPS)


def length_groups(lengths: list[int]) -> list[tuple[list[int], int]]:
    """Batch rows grouped by length for `entmax15_by_length`: (row indices, the group's longest
    length) pairs, longest group first; rows of similar length share a group."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    groups = []
    end = len(order)
    while end > 0:
        longest = lengths[order[end - 1]]
        start = end - 1
        if len(groups) == MAX_GROUPS - 1:
            start = 0
        while start > 0 and lengths[order[start - 1]] > GROUP_RATIO * longest:
            start -= 1
        groups.append((order[start:end], longest))
        end = start
    return groups


def _entmax15_rows(x):
    """1.5-entmax over the last axis of `x` (a fresh tensor, overwritten): the operations of
    `entmax.entmax15` (Entmax15Function.forward, full sort) in the same order, so the values are
    the same bits; in place where the library makes a new tensor."""
    t = torch()
    max_val, _ = x.max(dim=-1, keepdim=True)
    x.sub_(max_val).div_(2)
    srt, _ = t.sort(x, dim=-1, descending=True)
    rho = t.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    mean = srt.cumsum(-1).div_(rho)
    mean_sq = (srt ** 2).cumsum(-1).div_(rho)
    ss = rho * (mean_sq - mean ** 2)
    delta = (1 - ss).div_(rho).clamp_(0)
    tau = mean.sub_(delta.sqrt_())
    support = (tau <= srt).sum(-1).unsqueeze(-1)
    tau_star = tau.gather(-1, support - 1)
    return x.sub_(tau_star).clamp_(min=0).pow_(2)


@functools.cache
def _entmax15_function():
    t = torch()

    class Entmax15ByLength(t.autograd.Function):
        """1.5-entmax of attention scores (B, H, n, n) whose keys beyond each row's length are
        padding: the same values and gradients as `entmax.entmax15` of the masked scores on every
        query row that is not padding, with less work. Forward: each length group is computed on
        its own keys only (a masked key is -inf: it sorts last and changes no running sum before
        it, so a shorter row gives the same bits); query rows beyond a group's longest length are
        padding and left at 0 instead (nothing valid reads them: keys beyond a length get weight 0,
        and the gradient that reaches a padding row is 0). Backward: the library's formula on the
        computed rows, each over all n keys, so its sums run over the same elements in the same
        order; 0 on the rows never computed."""

        @staticmethod
        def forward(ctx, scores, key_valid, groups):
            y = scores.new_zeros(scores.shape)
            blocks = []
            for rows, longest in groups:
                sel = slice(rows[0], rows[-1] + 1) if rows == list(range(rows[0], rows[-1] + 1)) else rows
                blocks.append((sel, longest))
                block = scores[sel, :, :longest, :longest]
                x = block.masked_fill(~key_valid[sel, None, None, :longest], float("-inf"))
                y[sel, :, :longest, :longest] = _entmax15_rows(x)
            ctx.save_for_backward(y, key_valid)
            ctx.blocks = blocks
            return y

        @staticmethod
        def backward(ctx, dy):
            y, key_valid = ctx.saved_tensors
            dx = t.zeros_like(dy)  # rows never computed: no gradient
            for sel, longest in ctx.blocks:  # the computed rows, each over all n keys (same sums)
                gppr = y[sel, :, :longest].sqrt()  # = 1 / g''(y), as in Entmax15Function.backward
                d = dy[sel, :, :longest] * gppr
                q = d.sum(-1) / gppr.sum(-1)
                d -= q.unsqueeze(-1) * gppr
                dx[sel, :, :longest] = d
            return dx.masked_fill_(~key_valid[:, None, None, :], 0.0), None, None  # masked_fill's backward

    return Entmax15ByLength


def entmax15_by_length(scores, key_valid, groups):
    """alpha = 1.5 attention weights of `scores` (B, H, n, n) with keys valid where `key_valid`
    (B, n) is True, `groups` from `length_groups`: equal to `attention_weights(scores,
    key_valid[:, None, None, :], 1.5)` on every valid query row (padding query rows beyond their
    group's longest length: 0)."""
    return _entmax15_function().apply(scores, key_valid, groups)


def scale(in_dim: int) -> float:
    """The factor of the unit-length sentence vectors before the projection: unit-variance entries."""
    return math.sqrt(in_dim)


@functools.lru_cache(maxsize=64)
def _positions(length: int, dim: int):
    """Sinusoidal positions (length, dim); cached (never written to by the caller)."""
    t = torch()
    pos = t.arange(length, dtype=t.float32).unsqueeze(1)
    div = t.exp(t.arange(0, dim, 2, dtype=t.float32) * (-math.log(10000.0) / dim))
    pe = t.zeros(length, dim)
    pe[:, 0::2] = t.sin(pos * div)
    pe[:, 1::2] = t.cos(pos * div)[:, : dim // 2]
    return pe


def build_network(in_dim: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, dropout: float,
               alpha: float, n_components: int):
    t = torch()
    nn = t.nn
    head_dim = d_model // n_heads

    class EntmaxLayer(nn.Module):
        """Pre-norm Transformer layer whose attention weights are alpha-entmax."""

        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.out = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.CELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
            self.drop = nn.Dropout(dropout)

        def forward(self, x, key_valid, groups=None):
            b, n, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, n_heads, head_dim).permute(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
            if groups is not None:  # alpha = 1.5: the same weights on valid rows, by length groups
                att = entmax15_by_length(scores, key_valid, groups)
            else:
                att = attention_weights(scores, key_valid[:, None, None, :], alpha)
            y = (att @ v).transpose(1, 2).reshape(b, n, d_model)
            x = x + self.drop(self.out(y))
            return x + self.drop(self.ff(self.ln2(x)))

    class MLADNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(in_dim, d_model)  # sentence vectors -> d_model
            self.mask_vector = nn.Parameter(t.randn(d_model) * 0.02)
            self.drop = nn.Dropout(dropout)
            self.layers = nn.ModuleList(EntmaxLayer() for _ in range(n_layers))
            self.norm = nn.LayerNorm(d_model)
            self.mtp = nn.Linear(d_model, d_model)  # masked-template prediction head
            k, d = n_components, d_model
            self.register_buffer("gmm_phi", t.full((k,), 1.0 / k, dtype=t.float64))
            self.register_buffer("gmm_mu", t.zeros(k, d, dtype=t.float64))
            self.register_buffer("gmm_cov", t.eye(d, dtype=t.float64).repeat(k, 1, 1))
            self.register_buffer("gmm_ready", t.zeros((), dtype=t.float64))

        def project(self, vectors, scaled: bool = False):
            # unit-length sentence vectors scaled to unit-variance entries, then projected;
            # `scaled`: the vectors were multiplied by `scale(in_dim)` already (the same values)
            return self.proj(vectors if scaled else vectors * scale(in_dim))

        def forward(self, x, lengths, masked=None, scaled: bool = False):
            """Token outputs (B, L, d) and masked mean pooling h (B, d); `scaled` as in project."""
            b, n, _ = x.shape
            valid = t.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
            e = self.project(x, scaled)
            if masked is not None:
                e = t.where(masked.unsqueeze(-1), self.mask_vector.expand_as(e), e)
            z = self.drop(e + _positions(n, d_model).unsqueeze(0))
            groups = length_groups(lengths.tolist()) if alpha == 1.5 else None
            for layer in self.layers:
                z = layer(z, valid, groups)
            z = self.norm(z)
            vm = valid.unsqueeze(-1).to(z.dtype)
            h = (z * vm).sum(1) / vm.sum(1).clamp_min(1.0)
            return z, h

    return MLADNet()
