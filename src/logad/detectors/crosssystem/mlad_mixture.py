"""MLAD's Gaussian-mixture head in log space (DAGMM-style, seed_methods.md section 2.4).

Component log-densities from Cholesky factors in float64 (the third party exponentiated in
float32: every likelihood underflowed to 0), the sample energy E(h) = -log sum_k phi_k N(h; mu_k,
Sigma_k) with log-sum-exp, the weighted M-step (phi, mu, Sigma + eps*I, differentiable in h), and
EM over a whole training set from a given start or seeded k-means++ centres.
"""

from __future__ import annotations

import math

import numpy as np

from logad.detectors.deep.engine import torch
from logad.errors import InvalidParameterError


def _cholesky(cov):
    """Cholesky factors of (K, d, d) covariances; more jitter when one is not positive definite."""
    t = torch()
    factor, info = t.linalg.cholesky_ex(cov)
    jitter = 1e-6
    eye = t.eye(cov.shape[-1], dtype=cov.dtype)
    while bool((info != 0).any()):
        if jitter > 1e3:
            raise InvalidParameterError("the mixture covariances are not positive definite (non-finite representations?)")
        factor, info = t.linalg.cholesky_ex(cov + jitter * eye)
        jitter *= 10.0
    return factor


def gmm_log_components(h, phi, mu, cov):
    """(N, K) log(phi_k N(h_i; mu_k, cov_k)), computed from Cholesky factors (no exp, no underflow)."""
    t = torch()
    d = h.shape[1]
    factor = _cholesky(cov)  # (K, d, d)
    diff = (h.unsqueeze(0) - mu.unsqueeze(1)).transpose(1, 2)  # (K, d, N)
    sol = t.linalg.solve_triangular(factor, diff, upper=False)  # L^-1 (h - mu)
    maha = (sol * sol).sum(dim=1)  # (K, N)
    logdet = 2.0 * t.log(t.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)  # (K,)
    log_norm = -0.5 * (d * math.log(2.0 * math.pi) + logdet.unsqueeze(1) + maha)
    return (log_norm + t.log(phi.clamp_min(1e-30)).unsqueeze(1)).transpose(0, 1)


def gmm_energy(h, phi, mu, cov):
    """Sample energy E(h) = -log sum_k phi_k N(h; mu_k, cov_k), via log-sum-exp; shape (N,)."""
    t = torch()
    return -t.logsumexp(gmm_log_components(h, phi, mu, cov), dim=1)


def gmm_m_step(h, gamma, weights, eps: float):
    """Weighted M-step: phi (K,), mu (K, d), cov (K, d, d) + eps*I, and the component masses nk."""
    t = torch()
    wg = gamma * weights.unsqueeze(1)  # (N, K)
    nk = wg.sum(0)
    safe = nk.clamp_min(1e-12)
    phi = nk / nk.sum().clamp_min(1e-12)
    mu = (wg.transpose(0, 1) @ h) / safe.unsqueeze(1)
    diff = h.unsqueeze(0) - mu.unsqueeze(1)  # (K, N, d)
    cov = t.einsum("kn,knd,kne->kde", wg.transpose(0, 1), diff, diff) / safe.view(-1, 1, 1)
    cov = cov + eps * t.eye(h.shape[1], dtype=h.dtype).unsqueeze(0)
    return phi, mu, cov, nk


def gmm_fit(h, weights, k: int, eps: float, *, seed: int, init=None, iters: int = 50, tol: float = 1e-7):
    """EM for a K-component full-covariance mixture on rows of `h` (float64 tensors), weighted.

    Starts from `init` = (phi, mu, cov) when given, else from weighted k-means++ centres (seeded).
    Returns (phi, mu, cov, mean log-likelihood)."""
    t = torch()
    w = weights / weights.sum()
    if init is None:
        x = h.numpy()
        wn = w.numpy()
        rng = np.random.default_rng(seed)
        centres = [x[rng.choice(len(x), p=wn)]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1) * wn
            p = d2 / d2.sum() if d2.sum() > 0 else wn
            centres.append(x[rng.choice(len(x), p=p)])
        mu = t.tensor(np.asarray(centres), dtype=h.dtype)
        var = ((h - (w.unsqueeze(1) * h).sum(0)) ** 2 * w.unsqueeze(1)).sum(0) + eps
        cov = t.diag_embed(var).unsqueeze(0).repeat(k, 1, 1)
        phi = t.full((k,), 1.0 / k, dtype=h.dtype)
    else:
        phi, mu, cov = (p.clone() for p in init)
    last = -math.inf
    ll = last
    for _ in range(iters):
        logc = gmm_log_components(h, phi, mu, cov)
        lse = t.logsumexp(logc, dim=1)
        ll = float((lse * w).sum())
        gamma = t.exp(logc - lse.unsqueeze(1))
        new_phi, new_mu, new_cov, nk = gmm_m_step(h, gamma, w, eps)
        empty = nk < 1e-8  # an empty component keeps its parameters (and a tiny weight)
        phi = t.where(empty, t.full_like(new_phi, 1e-8), new_phi)
        phi = phi / phi.sum()
        mu = t.where(empty.unsqueeze(1), mu, new_mu)
        cov = t.where(empty.view(-1, 1, 1), cov, new_cov)
        if abs(ll - last) <= tol * max(1.0, abs(ll)):
            break
        last = ll
    return phi, mu, cov, ll
