"""Tests of the directed rate-reward function (exact Gibbs frontier, Best-of-N, SNIS)."""

import math

import numpy as np
import pytest

import seminfo
from seminfo.errors import InputError, ShapeError
from seminfo.rd import (best_of_n, per_token_divergence, rate_reward, rate_reward_curve,
                        rate_reward_from_samples)


def kl_bern(a, b):
    return sum(x * math.log2(x / y) for x, y in ((a, b), (1 - a, 1 - b)) if x > 0)


@pytest.mark.parametrize("p,rho", [(0.2, 0.5), (0.2, 0.9), (0.6, 0.7), (0.01, 0.5)])
def test_binary_frontier_is_kl_of_bernoullis(p, rho):
    r = seminfo.rate_reward([1 - p, p], [0.0, 1.0], rho=rho)
    assert r.lower - 1e-12 <= kl_bern(rho, p) <= r.upper + 1e-12
    assert r.upper - r.lower <= 1e-9
    assert abs(r.reward - rho) < 1e-12


def test_endpoints_and_slope_mode():
    p, rw = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 3.0])
    assert rate_reward(p, rw, rho=0.1).rate == 0.0                  # below rho_0 = 0.9
    top = rate_reward(p, rw, rho=3.0)
    assert abs(top.rate - math.log2(1 / 0.2)) < 1e-12
    r = rate_reward(p, rw, slope=1.0)
    back = rate_reward(p, rw, rho=r.reward)
    assert abs(back.rate - r.rate) < 1e-9 and abs(back.slope - 1.0) < 1e-6
    assert abs(np.sum(r.policy * np.log2(r.policy / p)) - r.rate) < 1e-12


def test_frontier_convex_increasing_and_with_prompts():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(6), size=3)
    R = rng.random((3, 6))
    c = rate_reward_curve(P, R, n_points=25, prompt_pmf=[0.5, 0.3, 0.2])
    assert np.all(np.diff(c.rate) > 0)
    slopes = np.diff(c.rate) / np.diff(c.reward)
    assert np.all(np.diff(slopes) >= -1e-6)
    assert c.rate[0] == 0.0


def test_best_of_n_above_frontier_and_below_bound():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(8))
    rw = rng.random(8)
    for N in (1, 2, 4, 16, 64):
        b = best_of_n(p, rw, N)
        f = rate_reward(p, rw, rho=min(b.reward, rw.max()))
        assert b.kl >= f.lower - 1e-12                        # frontier is the minimum
        assert b.kl <= b.kl_bound + 1e-12                         # Beirami et al. bound
        assert abs(b.policy.sum() - 1) < 1e-12
    assert best_of_n(p, rw, 16).kl > rate_reward(p, rw, rho=best_of_n(p, rw, 16).reward).rate + 1e-4


def test_per_token_divergence_sums_to_total():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(27)).reshape(3, 3, 3)
    rw = rng.random((3, 3, 3))
    parts = per_token_divergence(p, rw, 2.0)
    total = rate_reward(p.ravel(), rw.ravel(), slope=2.0).rate
    assert abs(parts.sum() - total) < 1e-12 and np.all(parts >= -1e-15)


def test_snis_estimate_within_standard_errors():
    rng = np.random.default_rng(4)
    K, n = 3, 3
    p1 = np.array([0.6, 0.3, 0.1])
    p = np.einsum("i,j,k->ijk", p1, p1, p1)
    rw = (np.indices((K,) * n).sum(axis=0) / 6.0)              # reward = mean symbol / 2
    exact = rate_reward(p.ravel(), rw.ravel(), slope=2.0)
    idx = rng.choice(p.size, size=20_000, p=p.ravel())
    toks = np.stack(np.unravel_index(idx, p.shape), axis=1)
    est = rate_reward_from_samples(rw.ravel()[idx], 2.0, tokens=toks)
    assert abs(est.rate.value - exact.rate) < 5 * est.rate.stderr + 1e-3
    assert abs(est.reward.value - exact.reward) < 5 * est.reward.stderr + 1e-3
    assert abs(est.per_token.sum() - est.rate.value) < 1e-12
    exact_parts = per_token_divergence(p, rw, 2.0)
    assert np.all(np.abs(est.per_token - exact_parts) < 0.02)
    assert 0 < est.ess <= 20_000


def test_bad_inputs():
    with pytest.raises(InputError, match="must contain only finite numbers"):
        rate_reward([0.5, 0.5], [0.0, np.inf], rho=0.5)
    with pytest.raises(InputError, match="must be <= the largest achievable expected reward"):
        rate_reward([0.5, 0.5], [0.0, 1.0], rho=2.0)
    with pytest.raises(ShapeError, match="must have the shape of `p_ref`"):
        rate_reward([0.5, 0.5], [0.0, 1.0, 2.0], rho=0.5)
    with pytest.raises(InputError, match="exactly one of the `rho` and `slope`"):
        rate_reward([0.5, 0.5], [0.0, 1.0])
    with pytest.raises(InputError, match="`n` parameter of best_of_n must be a positive integer"):
        best_of_n([0.5, 0.5], [0.0, 1.0], 0)


def test_binary_frontier_contained_without_slack_and_bad_p_ref():
    for p, rho in ((0.5, 0.999999), (1e-4, 0.999999), (0.01, 0.5)):
        r = rate_reward([1 - p, p], [0.0, 1.0], rho=rho)
        assert r.lower <= kl_bern(rho, p) <= r.upper
    with pytest.raises(InputError, match="`p_ref` parameter of rate_reward must be a pmf .* \\(real numbers\\)"):
        rate_reward("ab", [0.0, 1.0], rho=0.5)
    with pytest.raises(InputError, match="`p_ref` parameter of rate_reward must be a pmf .* whose rows differ"):
        rate_reward([[0.5, 0.5], [1.0]], [0.0, 1.0], rho=0.5)
    # a huge reward on a response of probability 0 neither overflows nor leaks NaN
    parts = per_token_divergence(np.array([[0.5, 0.0], [0.5, 0.0]]), [[0.0, 1e4], [1.0, 1e4]], 1.0)
    assert np.all(np.isfinite(parts))
