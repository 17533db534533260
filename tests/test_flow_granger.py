"""Granger causality: token streams (held-out n-gram), linear VAR (statsmodels, Gaussian TE), Pearl's ladder."""

import math
import warnings

import numpy as np
import pytest

import seminfo
from seminfo.errors import InputError, ShapeError
from seminfo.flow import ConfoundedSCM, granger, linear_granger, pca_trajectory


def h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def noisy_copy(n, eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    y = np.zeros(n, dtype=np.int64)
    y[1:] = x[:-1] ^ (rng.random(n - 1) < eps)
    return x, y


# --- token streams ---------------------------------------------------------------------------------

def test_granger_acceptance_interface_recovers_closed_form():
    # y_t = x_{t-1} XOR Bernoulli(eps), x iid fair: TE_{X->Y} = 1 - h(eps), and X's past is all that helps
    eps = 0.1
    x, y = noisy_copy(20_000, eps, seed=1)
    r = seminfo.granger(x, y, order=1, surrogates=19, seed=0)
    truth = 1 - h2(eps)
    assert r.units == "bits/symbol"
    assert r.stderr > 0
    # smoothing of a 4-context model on 10^4 training steps biases by < 1e-3 bits
    assert abs(r.value - truth) < 5 * r.stderr + 1e-3
    assert r.pvalue == pytest.approx(1 / 20)


def test_granger_reverse_direction_is_null():
    x, y = noisy_copy(20_000, 0.1, seed=2)
    r = granger(y, x, order=1, surrogates=19, seed=0)      # y does not help predict x
    assert abs(r.value) < 5 * r.stderr + 1e-3
    assert r.pvalue > 0.05
    assert r.extra["surrogate_mean"] < 0 or abs(r.extra["surrogate_mean"]) < 1e-3   # held-out: bias <= 0


def test_granger_matches_feedback_channel_transfer_entropy():
    from seminfo.sources import FeedbackChannel
    fc = FeedbackChannel.example()
    x, y = fc.sample(40_000, seed=3)
    truth = fc.transfer_entropy(k=2, l=2)
    r = granger(x, y, order=2, surrogates=0)
    assert r.pvalue is None
    assert abs(r.value - truth) < 5 * r.stderr + 2e-3


def test_granger_block_surrogates_and_predictors():
    x, y = noisy_copy(4_000, 0.2, seed=4)

    def restricted(yy, _):
        return np.full(yy.size, math.log(0.5))

    def full(yy, xx):                                       # the true conditional law
        prev = np.concatenate([[0], xx[:-1]])
        return np.where(yy == prev, math.log(0.8), math.log(0.2))

    r = granger(x, y, order=1, predictors=(restricted, full), surrogates=9, surrogate_method="block",
                seed=1)
    assert abs(r.value - (1 - h2(0.2))) < 5 * r.stderr
    assert r.pvalue == pytest.approx(0.1)


def test_granger_bad_input():
    x, y = noisy_copy(100, 0.1, seed=0)
    with pytest.raises(InputError, match=r"The `order` parameter of granger must be a positive integer. Got 0."):
        granger(x, y, order=0)
    with pytest.raises(ShapeError, match="must have the same length"):
        granger(x, y[:-1])
    with pytest.raises(ShapeError, match="too short"):
        granger(x[:12], y[:12], order=1)
    with pytest.raises(InputError, match="`train_fraction` parameter of granger must be in"):
        granger(x, y, train_fraction=1.0)
    with pytest.raises(InputError, match="`method` parameter of granger must be one of"):
        granger(x, y, method="lstm")
    with pytest.raises(seminfo.AlphabetError, match=">= 0"):
        granger(x - 1, y)


# --- linear Granger --------------------------------------------------------------------------------

def var_data(T, b, seed, sx=1.0, se=1.0, a=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, sx, T)
    y = np.zeros(T)
    e = rng.normal(0, se, T)
    for t in range(1, T):
        y[t] = a * y[t - 1] + b * x[t - 1] + e[t]
    return x, y


@pytest.mark.parametrize("order", [1, 2, 3])
def test_linear_granger_matches_statsmodels(order):
    from statsmodels.tsa.stattools import grangercausalitytests
    x, y = var_data(400, 0.3, seed=order)
    r = linear_granger(x, y, order=order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f, p, df_den, df_num = grangercausalitytests(np.column_stack([y, x]), maxlag=[order])[order][0][
            "ssr_ftest"]
    assert r.test == "F"
    assert r.statistic == pytest.approx(f, rel=1e-9)
    assert r.pvalue == pytest.approx(p, rel=1e-6, abs=1e-300)
    assert r.df == (df_num, df_den)


def test_linear_granger_gaussian_te_identity():
    # x iid: y is AR(1) with white innovation b x_{t-1} + e, so TE = 1/2 log2(1 + b^2 sx^2 / se^2) exactly
    b, sx, se = 0.6, 1.0, 1.0
    x, y = var_data(20_000, b, seed=7, sx=sx, se=se)
    r = linear_granger(x, y, order=1)
    truth = 0.5 * math.log2(1 + b * b * sx * sx / (se * se))
    assert abs(r.value - truth) < 5 * r.stderr + r.extra["null_bias"]
    # TE = 1/2 ln(RSS_r / RSS_f) = 1/2 ln(1 + q F / df) on the same data (theory §8)
    q, df = r.df
    assert r.value == pytest.approx(0.5 * math.log2(1 + q * r.statistic / df), rel=1e-10)


def test_linear_granger_vector_target_and_pca():
    rng = np.random.default_rng(5)
    T = 3_000
    x = rng.normal(size=(T, 2))
    y = np.zeros((T, 2))
    for t in range(1, T):
        y[t] = 0.3 * y[t - 1] + np.array([0.5 * x[t - 1, 0], 0.0]) + rng.normal(size=2)
    r = linear_granger(x, y, order=1)
    assert r.test == "LR-chi2" and r.df == (4,)
    truth = 0.5 * math.log2(1 + 0.25)
    assert abs(r.value - truth) < 5 * r.stderr + r.extra["null_bias"]
    z = pca_trajectory(np.column_stack([y, 0.01 * rng.normal(size=T)]), 2)
    assert z.shape == (T, 2)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-12)
    null = linear_granger(rng.normal(size=T), rng.normal(size=T), order=2)
    assert null.pvalue > 1e-3


def test_linear_granger_bad_input():
    with pytest.raises(InputError, match="The `order` parameter of linear_granger must be a positive integer"):
        linear_granger(np.zeros(10), np.zeros(10), order=0)
    with pytest.raises(InputError, match="too large for the data"):
        linear_granger(np.arange(8.0), np.arange(8.0), order=3)
    with pytest.raises(InputError, match="finite"):
        linear_granger([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="singular"):
        linear_granger(np.random.default_rng(0).normal(size=50), np.ones(50))


# --- Pearl's ladder ---------------------------------------------------------------------------------

def test_confounder_gives_granger_without_intervention_effect():
    scm = ConfoundedSCM(flip=0.05, x_noise=0.05, y_noise=0.05, effect=0.0)
    lad = scm.ladder()
    assert lad.transfer_entropy_bits > 0.1                 # rung 1: large
    assert lad.average_causal_effect == 0.0                # rung 2: exactly zero
    assert abs(lad.intervened_transfer_entropy_bits) < 1e-12
    assert lad.observational_difference > 0.5
    x, y, _ = scm.sample(20_000, seed=1)
    r = granger(x, y, order=1, surrogates=19, seed=0)
    assert abs(r.value - lad.transfer_entropy_bits) < 5 * r.stderr + 2e-3
    assert r.pvalue == pytest.approx(0.05)
    xd, yd, _ = scm.sample(20_000, seed=2, intervened=True)
    rd = granger(xd, yd, order=1, surrogates=19, seed=0)
    assert abs(rd.value) < 5 * rd.stderr + 1e-3
    assert rd.pvalue > 0.05


def test_confounder_with_real_effect():
    scm = ConfoundedSCM(effect=0.3)
    assert scm.average_causal_effect() == pytest.approx(0.3, abs=1e-12)
    assert scm.transfer_entropy(intervened=True) > 0.05
    # the exact joint is a pmf
    assert scm.joint().sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InputError, match="The `effect` parameter of ConfoundedSCM must be <= 1"):
        ConfoundedSCM(effect=1.5)


def test_granger_ctw_predictor():
    eps = 0.1
    x, y = noisy_copy(20_000, eps, seed=6)
    r = granger(x, y, order=1, method="ctw", surrogates=4, seed=0)
    # prequential CTW pays a learning cost of O(log n / n) bits per symbol on the evaluation half
    assert abs(r.value - (1 - h2(eps))) < 5 * r.stderr + 5e-3
    assert r.pvalue == pytest.approx(0.2)
    null = granger(y, x, order=1, method="ctw", surrogates=0)
    assert abs(null.value) < 5 * null.stderr + 5e-3
