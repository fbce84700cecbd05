"""MLAD's network: a Transformer whose attention weights are alpha-entmax (seed_methods.md 2.4).

A learnable projection of the templates' sentence vectors to `d_model` + sinusoidal positions;
pre-norm layers whose attention is alpha-entmax of the scaled scores (alpha = 1 is softmax exactly;
padding keys are masked out; the third-party bisection returned all zeros for 1 < alpha < 2), FFN
with CELU, final LayerNorm, masked mean pooling -> h; a masked-template prediction head; and the
buffers of the Gaussian mixture over h (`mlad_mixture`).
"""

from __future__ import annotations

import math

from logad.detectors.deep.engine import torch
from logad.errors import require

BISECT_STEPS = 30


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


def _positions(length: int, dim: int):
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

        def forward(self, x, key_valid):
            b, n, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, n_heads, head_dim).permute(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
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

        def project(self, vectors):
            # unit-length sentence vectors scaled to unit-variance entries, then projected
            return self.proj(vectors * math.sqrt(in_dim))

        def forward(self, x, lengths, masked=None):
            """Token outputs (B, L, d) and masked mean pooling h (B, d)."""
            b, n, _ = x.shape
            valid = t.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
            e = self.project(x)
            if masked is not None:
                e = t.where(masked.unsqueeze(-1), self.mask_vector.expand_as(e), e)
            z = self.drop(e + _positions(n, d_model).unsqueeze(0))
            for layer in self.layers:
                z = layer(z, valid)
            z = self.norm(z)
            vm = valid.unsqueeze(-1).to(z.dtype)
            h = (z * vm).sum(1) / vm.sum(1).clamp_min(1.0)
            return z, h

    return MLADNet()
