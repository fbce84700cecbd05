"""MLAD's Gaussian mixture in log space."""

from __future__ import annotations

import numpy as np

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem.mlad_mixture import gmm_energy, gmm_fit  # noqa: E402


def test_gmm_energy_equals_direct_computation():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    phi = np.array([0.3, 0.7])
    mu = np.array([[0.0, 0.0], [3.0, -1.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.25]]])
    h = np.array([[0.1, 0.2], [3.0, -1.2], [10.0, 10.0]])
    direct = -logsumexp(np.stack([np.log(phi[k]) + multivariate_normal(mu[k], cov[k]).logpdf(h) for k in range(2)]), axis=0)
    got = gmm_energy(*(torch.tensor(a) for a in (h, phi, mu, cov))).numpy()
    np.testing.assert_allclose(got, direct, rtol=1e-10)


def test_gmm_energy_has_no_underflow_in_high_dimension():
    d = 100
    h = torch.full((2, d), 3.0, dtype=torch.float64)
    h[1] = 30.0  # log-density around -45,000: exp() underflows, log-sum-exp does not
    cov = (torch.eye(d, dtype=torch.float64) * 0.01).unsqueeze(0).repeat(2, 1, 1)
    e = gmm_energy(h, torch.tensor([0.5, 0.5], dtype=torch.float64), torch.zeros(2, d, dtype=torch.float64), cov)
    assert torch.isfinite(e).all() and e[1] > e[0] > 18.42  # not the third party's constant -log(1e-8)
    assert float(e[1]) > 1e4


def test_gmm_fit_finds_two_clusters():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-5, 0.5, (200, 2)), rng.normal(5, 0.5, (100, 2))])
    phi, mu, cov, ll = gmm_fit(torch.tensor(x), torch.ones(300, dtype=torch.float64), 2, 1e-6, seed=0)
    order = np.argsort(mu[:, 0].numpy())
    np.testing.assert_allclose(phi.numpy()[order], [2 / 3, 1 / 3], atol=1e-3)
    np.testing.assert_allclose(mu.numpy()[order], [[-5, -5], [5, 5]], atol=0.2)
    assert np.isfinite(ll)
