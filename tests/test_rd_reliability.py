"""Reliability of seminfo.rd (issue 14): slopes, tolerances, scale invariance, sizes, one naming.

Slopes are checked against central differences of the curve itself; rate-reward intervals against
closed forms computed in 60-digit arithmetic (mpmath) at reward scales from 1e-300 to 1e300, and
against the same problem scaled by a power of two (the rate is invariant under r -> c r,
rho -> c rho); size limits are checked to answer before anything large is built.
"""

import math
import time
import warnings
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seminfo
from seminfo.errors import InputError
from seminfo.rd import (block_rate_distortion, channel_capacity, directed_rate_distortion,
                        distortion_rate, information_bottleneck, logloss_rate_distortion,
                        rate_distortion, rate_distortion_curve, rate_reward, rate_reward_curve)
from seminfo.results import Interval
from seminfo.sources import IIDSource, MarkovSource


def h(x):
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def zipf(K):
    p = 1.0 / np.arange(1, K + 1)
    return p / p.sum()


def central(f, x, step):
    return (f(x + step) - f(x - step)) / (2 * step)


# --------------------------------------------------------------------------- slopes
@pytest.mark.parametrize("p,D", [([0.7, 0.3], 0.1), ([0.7, 0.3], 0.29), (zipf(64), 0.3), (zipf(64), 0.1)])
def test_rate_distortion_slope_is_the_derivative_at_the_target(p, D):
    # before: the slope of the nearest solved point left of D (18% off for Zipf(64) at D = 0.3)
    r = rate_distortion(p, "hamming", D=D)
    fd = central(lambda x: rate_distortion(p, "hamming", D=x, tol=1e-11).rate, D, 1e-4)
    assert abs(r.slope - fd) <= 1e-5 * abs(fd)


def test_rate_distortion_slope_on_a_linear_piece():
    # erasure distortion, uniform bit: R(D) = 1 - D, slope exactly -1 everywhere inside (0, 1)
    d = np.array([[0.0, 1.0, np.inf], [np.inf, 1.0, 0.0]])
    for D in (0.1, 0.5, 0.9):
        assert abs(rate_distortion([0.5, 0.5], d, D=D).slope + 1.0) < 1e-6


def test_block_rate_distortion_slope_is_per_symbol():
    # the issue's case: n = 2, Hamming, Bernoulli(0.3); the block slope was not divided by n
    b = block_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2, D=0.1)
    assert abs(b.slope - (-math.log2(0.9 / 0.1))) < 1e-6          # h'(0.1), not twice it
    src = MarkovSource([[0.9, 0.1], [0.2, 0.8]])
    b = block_rate_distortion(src, "hamming", 2, D=0.1)
    fd = central(lambda x: block_rate_distortion(src, "hamming", 2, D=x, tol=1e-13).rate, 0.1, 1e-4)
    assert abs(b.slope - fd) <= 1e-5 * abs(fd)
    assert b.tol == 1e-9 and b.width <= 1e-9


def test_directed_rate_distortion_slope_matches_finite_differences():
    src = MarkovSource([[0.9, 0.1], [0.2, 0.8]])
    r = directed_rate_distortion(src, "hamming", 2, D=0.1)
    fd = central(lambda x: directed_rate_distortion(src, "hamming", 2, D=x, tol=1e-12).rate, 0.1, 1e-4)
    assert abs(r.slope - fd) <= 1e-5 * abs(fd)


def test_curve_slopes_match_finite_differences():
    p = [0.7, 0.3]
    c = rate_distortion_curve(p, "hamming", max_points=8)
    for D, slope in zip(c.distortion[1:-1], c.slope[1:-1]):
        fd = central(lambda x: rate_distortion(p, "hamming", D=x, tol=1e-13).rate, float(D), 1e-5)
        assert abs(slope - fd) <= 1e-5 * abs(fd)


def test_rate_reward_slopes_match_finite_differences():
    p, rw = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 3.0])
    for rho in (1.2, 2.0, 2.8):
        r = rate_reward(p, rw, rho=rho)
        fd = central(lambda x: rate_reward(p, rw, rho=x).rate, rho, 1e-5)
        assert abs(r.slope - fd) <= 1e-6 * abs(fd)
    c = rate_reward_curve(p, rw, n_points=5)
    for rho, slope in zip(c.reward[1:-1], c.slope[1:-1]):
        fd = central(lambda x: rate_reward(p, rw, rho=x).rate, float(rho), 1e-5)
        assert abs(slope - fd) <= 1e-6 * abs(fd)


def test_kernel_at_a_target_meets_it_within_the_upper_end():
    # the kernel is the time-sharing of the two points whose chord gives `upper`; before, it was
    # the nearest point on the left, whose rate exceeded `upper` (0.0160 > 0.0126 bits at D = 0.29)
    p = np.array([0.7, 0.3])
    for D in (0.05, 0.29):
        r = rate_distortion(p, "hamming", D=D)
        joint = p[:, None] * r.conditional
        assert abs(float((joint * (1 - np.eye(2))).sum()) - D) < 1e-15
        assert seminfo.mutual_information(joint) <= r.upper + 1e-15
        assert np.allclose(r.reproduction, joint.sum(axis=0), atol=1e-15)


# --------------------------------------------------------------------------- distortion_rate tol
def _d_of_r(p, R):
    from scipy.optimize import brentq
    return brentq(lambda D: h(p) - h(D) - R, 1e-15, p, xtol=1e-16, rtol=1e-15)


@pytest.mark.parametrize("scale,tol", [(1.0, 1e-9), (1e6, 1e-3), (1e-6, 1e-15)])
def test_distortion_rate_tol_is_a_width_in_distortion_units(scale, tol):
    # tol used to be read as bits for each solve too: with distortions scaled by 1e6 the solves'
    # rate accuracy (1e-3 bits) left the D interval ~60 units wide and never converged
    R = 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = distortion_rate([0.7, 0.3], scale * (1 - np.eye(2)), R=R, tol=tol)
    truth = scale * _d_of_r(0.3, R)
    assert r.converged and r.width <= tol and r.tol == tol
    assert r.lower <= truth <= r.upper
    assert r.units == "distortion/symbol" and r.rate_units == "bits/symbol"


# --------------------------------------------------------------------------- rate_reward scales
def test_rate_reward_tiny_rewards_issue_example():
    r = rate_reward([0.8, 0.2], [0, 1e-16], rho=5e-17)
    truth = 0.5 * math.log2(0.5 / 0.8) + 0.5 * math.log2(0.5 / 0.2)   # 0.32193 bits, not 2.3219
    assert r.lower <= truth <= r.upper and r.width < 1e-12
    assert r.reward == 5e-17 and r.reward_max == 1e-16


@pytest.mark.parametrize("rewards,rho", [([0.0, 1.0], 1.0 + 1e-13), ([0.0, 1e6], 1e6 * (1 + 1e-13)),
                                         ([0.0, 1e-16], 1.0000001e-16), ([-2.0, -1.0], -0.9999999)])
def test_rate_reward_refuses_a_target_above_the_largest_reward(rewards, rho):
    with pytest.raises(InputError, match="`rho` parameter of rate_reward must be <= the largest"):
        rate_reward([0.5, 0.5], rewards, rho=rho)
    assert rate_reward([0.5, 0.5], rewards, rho=rewards[1]).rate == 1.0    # the largest itself


def _kl_truth(p, r0, r1, rho):
    """R_rr for two responses, exactly: the policy must put q = (rho - r0) / (r1 - r0) on r1."""
    p0, p1 = mpmath.mpf(1 - p), mpmath.mpf(p)
    q = (mpmath.mpf(rho) - mpmath.mpf(r0)) / (mpmath.mpf(r1) - mpmath.mpf(r0))
    return (q * mpmath.log(q / p1) + (1 - q) * mpmath.log((1 - q) / p0)) / mpmath.log(2)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(k=st.integers(1, 1023), r0=st.sampled_from([0.0, -0.5, 0.25, -3.0]),
       q=st.floats(0.0, 1.0), log10c=st.floats(-300.0, 300.0))
def test_rate_reward_interval_contains_closed_form_at_any_scale(k, r0, q, log10c):
    p = k / 1024                                               # 1 - p exact: p_ref sums to 1
    c = 10.0 ** log10c
    rewards = [r0 * c, c]
    rho = (r0 + q * (1 - r0)) * c
    with mpmath.workdps(60):
        q_exact = (mpmath.mpf(rho) - mpmath.mpf(rewards[0])) / (mpmath.mpf(rewards[1]) - mpmath.mpf(rewards[0]))
        rho0_exact = (1 - mpmath.mpf(p)) * mpmath.mpf(rewards[0]) + mpmath.mpf(p) * mpmath.mpf(rewards[1])
        if q_exact > 1:
            with pytest.raises(InputError):
                rate_reward([1 - p, p], rewards, rho=rho)
            return
        r = rate_reward([1 - p, p], rewards, rho=rho)
        if mpmath.mpf(rho) <= rho0_exact:
            truth = mpmath.mpf(0)
        elif q_exact == 1:
            truth = -mpmath.log(mpmath.mpf(p), 2)
        else:
            truth = _kl_truth(p, rewards[0], rewards[1], rho)
        assert mpmath.mpf(r.lower) <= truth <= mpmath.mpf(r.upper), (r, truth)
    assert r.width <= 1e-9


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data(), k=st.integers(-1000, 1000), n=st.integers(2, 5))
def test_rate_reward_is_scale_invariant(data, k, n):
    # scaling by c = 2^k is exact in floating point, so the scaled problem is the same problem:
    # its certified interval must contain the unit-scale one's true value, i.e. they intersect
    p = np.array(data.draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    p /= p.sum()
    p[-1] = 1.0 - p[:-1].sum()
    rw = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, 1e-3, 7.25]),
                                     min_size=n, max_size=n, unique=True)))
    lo, hi = float(p @ rw), float(rw.max())
    rho = lo + data.draw(st.floats(0.0, 1.0)) * (hi - lo)
    base = rate_reward(p, rw, rho=rho)
    scaled = rate_reward(p, np.ldexp(rw, k), rho=math.ldexp(rho, k))
    assert max(base.lower, scaled.lower) <= min(base.upper, scaled.upper)
    assert scaled.width <= 1e-9 and base.width <= 1e-9
    assert scaled.reward == math.ldexp(base.reward, k)
    s = rate_reward(p, np.ldexp(rw, k), slope=math.ldexp(1.0, -k))     # slope is per reward unit
    t = rate_reward(p, rw, slope=1.0)
    assert max(s.lower, t.lower) <= min(s.upper, t.upper)


def test_rate_reward_huge_rewards_and_slopes_stay_finite():
    r = rate_reward([0.5, 0.5], [-1.7e308, 1.7e308], rho=8.5e307)
    assert r.lower <= 1 - h(0.75) <= r.upper
    r = rate_reward([0.5, 0.5], [-1.7e308, 1.7e308], slope=1e300)
    assert r.lower <= 1.0 <= r.upper
    est = seminfo.rd.rate_reward_from_samples(np.array([1e300, -1e300, 0.0, 1e300]), 1e-300)
    assert np.isfinite(est.rate.value) and np.isfinite(est.reward.stderr)


# --------------------------------------------------------------------------- sizes and tolerances
def _quick_input_error(call, match):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=match):
        call()
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("call,match", [
    (lambda: directed_rate_distortion(IIDSource([0.5, 0.5]), "hamming", 2 ** 80, D=0.1),
     r"`n` parameter of directed_rate_distortion needs K\^n M\^n = 2\^2.418e\+24 cells"),
    (lambda: block_rate_distortion(IIDSource([0.5, 0.5]), "hamming", 2 ** 80, D=0.1),
     r"`n` parameter of block_rate_distortion needs .* limit of 4194304"),
    (lambda: block_rate_distortion(IIDSource(np.full(8, 1 / 8)), "hamming", 8, D=0.1),
     r"needs K\^n M\^n = 281474976710656 cells"),
    (lambda: information_bottleneck([[0.25, 0.25], [0.25, 0.25]], n_clusters=10 ** 9),
     r"`n_clusters` parameter of information_bottleneck .* 2000000000 cells, more than the limit"),
    (lambda: information_bottleneck(np.full((300, 2), 1 / 600), betas=np.geomspace(1, 10, 1000)),
     r"keeps one \(X, T\) = \(300, 300\) encoder per beta for 1000 betas"),
    (lambda: rate_distortion(np.full(10 ** 5, 1e-5), "hamming", D=0.1),
     r"`d` parameter of rate_distortion is 'hamming', which needs a K x M = 100000 x 100000"),
    (lambda: rate_distortion_curve([0.5, 0.5], "hamming", max_points=10 ** 9),
     r"`max_points` parameter of rate_distortion_curve must be an integer <= 10000"),
    (lambda: rate_reward_curve([0.5, 0.5], [0.0, 1.0], n_points=10 ** 9),
     r"`n_points` parameter of rate_reward_curve must be an integer <= 100000"),
    (lambda: seminfo.rd.best_of_n([0.5, 0.5], [0.0, 1.0], 10 ** 400),
     r"`n` parameter of best_of_n must be an integer <="),
    (lambda: seminfo.rd.rate_reward_model(None, len, slopes=[1.0], n_samples=10 ** 6, n_tokens=10 ** 3),
     r"n_samples \* n_tokens = 1000000000 sampled tokens"),
    (lambda: seminfo.rd.loss_memory_frontier(SimpleNamespace(alphabet_size=20, order=3, transition=None)),
     r"`source` parameter of loss_memory_frontier .* X = 8000, T = 8000"),
    (lambda: seminfo.rd.ngram_point(MarkovSource([[0.9, 0.1], [0.2, 0.8]]), 2, n_train=10 ** 12),
     r"`n_train` parameter of ngram_point must be an integer <= 10000000"),
    (lambda: seminfo.rd.transformer_point(MarkovSource([[0.9, 0.1], [0.2, 0.8]]), 10 ** 6),
     r"`context` parameter of transformer_point must be an integer <= 1024"),
])
def test_sizes_are_refused_before_allocating(call, match):
    _quick_input_error(call, match)


TOL_CALLS = {
    "rate_distortion": lambda **kw: rate_distortion([0.7, 0.3], "hamming", D=0.1, **kw),
    "distortion_rate": lambda **kw: distortion_rate([0.7, 0.3], "hamming", R=0.3, **kw),
    "rate_distortion_curve": lambda **kw: rate_distortion_curve([0.7, 0.3], "hamming", **kw),
    "channel_capacity": lambda **kw: channel_capacity([[0.9, 0.1], [0.1, 0.9]], **kw),
    "information_bottleneck": lambda **kw: information_bottleneck([[0.4, 0.1], [0.1, 0.4]], **kw),
    "directed_rate_distortion": lambda **kw: directed_rate_distortion(IIDSource([0.7, 0.3]), "hamming",
                                                                      2, D=0.1, **kw),
    "block_rate_distortion": lambda **kw: block_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2,
                                                                D=0.1, **kw),
}


@pytest.mark.parametrize("name", sorted(TOL_CALLS))
@pytest.mark.parametrize("tol,rule", [(math.nan, "must be finite"), (math.inf, "must be finite"),
                                      (-1.0, "must be > 0.0"), (0.0, "must be > 0.0")])
def test_tol_must_be_finite_and_positive(name, tol, rule):
    _quick_input_error(lambda: TOL_CALLS[name](tol=tol), f"`tol` parameter of {name} {rule}")


@pytest.mark.parametrize("name", sorted(TOL_CALLS))
def test_max_iter_must_be_positive(name):
    _quick_input_error(lambda: TOL_CALLS[name](max_iter=0),
                       f"`max_iter` parameter of {name} must be a positive integer")


def test_information_bottleneck_seed_is_validated():
    _quick_input_error(lambda: information_bottleneck([[0.4, 0.1], [0.1, 0.4]], seed=-1),
                       "`seed` parameter of information_bottleneck must be None, a non-negative")


# --------------------------------------------------------------------------- one naming
def _results():
    return {
        "RateDistortionResult": rate_distortion([0.7, 0.3], "hamming", D=0.1),
        "DistortionRateResult": distortion_rate([0.7, 0.3], "hamming", R=0.3),
        "CapacityResult": channel_capacity([[0.9, 0.1], [0.1, 0.9]]),
        "DirectedRateDistortionResult": directed_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2,
                                                                 D=0.1),
        "RateRewardResult": rate_reward([0.8, 0.2], [0.0, 1.0], rho=0.5),
        "LogLossRateDistortionResult": logloss_rate_distortion([0.5, 0.5], 0.25),
    }


def test_every_certified_result_has_lower_upper_width_interval():
    headline = {"RateDistortionResult": "rate", "DistortionRateResult": "distortion",
                "CapacityResult": "capacity", "DirectedRateDistortionResult": "rate",
                "RateRewardResult": "rate", "LogLossRateDistortionResult": "rate"}
    for name, r in _results().items():
        assert type(r).__name__ == name
        value = getattr(r, headline[name])
        assert r.lower <= value <= r.upper and r.width == r.upper - r.lower
        iv = r.interval
        assert isinstance(iv, Interval) and (iv.lower, iv.upper, iv.units) == (r.lower, r.upper, r.units)
        d = r.as_dict()
        assert d["lower"] == r.lower and d["upper"] == r.upper
        assert not {"rate_lower", "rate_upper", "distortion_lower", "distortion_upper"} & set(d)
    assert _results()["DistortionRateResult"].units == "distortion/symbol"


@pytest.mark.parametrize("make,old,new", [
    (lambda: rate_distortion([0.7, 0.3], "hamming", D=0.1), "rate_lower", "lower"),
    (lambda: rate_distortion([0.7, 0.3], "hamming", D=0.1), "rate_upper", "upper"),
    (lambda: distortion_rate([0.7, 0.3], "hamming", R=0.3), "distortion_lower", "lower"),
    (lambda: distortion_rate([0.7, 0.3], "hamming", R=0.3), "distortion_upper", "upper"),
    (lambda: distortion_rate([0.7, 0.3], "hamming", R=0.3), "distortion_units", "units"),
    (lambda: rate_distortion_curve([0.7, 0.3], "hamming", max_points=4), "rate_lower", "lower"),
    (lambda: rate_distortion_curve([0.7, 0.3], "hamming", max_points=4), "rate_upper", "upper"),
    (lambda: directed_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2, D=0.1), "rate_lower", "lower"),
    (lambda: directed_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2, D=0.1), "rate_upper", "upper"),
    (lambda: rate_reward([0.8, 0.2], [0.0, 1.0], rho=0.5), "rate_lower", "lower"),
    (lambda: rate_reward([0.8, 0.2], [0.0, 1.0], rho=0.5), "rate_upper", "upper"),
])
def test_old_attribute_names_warn_and_still_work(make, old, new):
    r = make()
    with pytest.warns(DeprecationWarning, match=f"`{type(r).__name__}.{old}` is deprecated.*use `.{new}`"):
        value = getattr(r, old)
    assert np.array_equal(value, getattr(r, new))


def test_curve_width_is_per_point():
    c = rate_distortion_curve([0.7, 0.3], "hamming", max_points=4)
    assert np.array_equal(c.width, c.upper - c.lower) and np.all(c.width <= 1e-9)


def test_logloss_rate_distortion_returns_a_result_and_still_works_as_a_number():
    r = logloss_rate_distortion([0.25] * 4, 1.5)
    assert (r.rate, r.distortion, r.entropy, r.slope) == (0.5, 1.5, 2.0, -1.0)
    assert r.lower <= 0.5 <= r.upper and r.width < 1e-13
    assert logloss_rate_distortion([0.25] * 4, 3.0).slope == 0.0
    with pytest.warns(DeprecationWarning, match="read `.rate`"):
        assert r == 0.5
    with pytest.warns(DeprecationWarning):
        assert float(r) == 0.5 and round(r, 3) == 0.5 and r + 1 == 1.5 and r < 1
    assert r == logloss_rate_distortion([0.25] * 4, 1.5)            # result vs result: no warning
