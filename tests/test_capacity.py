"""Tests of channel_capacity (Blahut-Arimoto with the certified upper bound)."""

import math

import numpy as np
import pytest

import seminfo
from seminfo.errors import DistributionError, ShapeError


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


@pytest.mark.parametrize("eps", [0.0, 0.01, 0.1, 0.3, 0.5])
def test_bsc(eps):
    r = seminfo.channel_capacity([[1 - eps, eps], [eps, 1 - eps]])
    assert r.lower - 1e-12 <= 1 - h(eps) <= r.upper + 1e-12
    assert r.upper - r.lower <= 1e-9 and r.converged


@pytest.mark.parametrize("e", [0.0, 0.2, 0.75])
def test_bec(e):
    r = seminfo.channel_capacity([[1 - e, e, 0.0], [0.0, e, 1 - e]])
    assert r.lower - 1e-12 <= 1 - e <= r.upper + 1e-12
    assert np.allclose(r.input_pmf, [0.5, 0.5])


def test_z_channel_closed_form():
    # Z channel, 1 -> 0 with probability a: C = log2(1 + (1 - a) a^(a / (1 - a)))
    a = 0.5
    r = seminfo.channel_capacity([[1, 0], [a, 1 - a]])
    truth = math.log2(1 + (1 - a) * a ** (a / (1 - a)))
    assert r.lower - 1e-12 <= truth <= r.upper + 1e-12
    assert abs(r.input_pmf[1] - 0.4) < 1e-6                    # known optimum for a = 1/2


def test_bounds_bracket_on_random_channels_and_lower_is_achieved():
    rng = np.random.default_rng(0)
    for _ in range(5):
        W = rng.dirichlet(np.ones(5), size=4)
        r = seminfo.channel_capacity(W, tol=1e-10)
        joint = r.input_pmf[:, None] * W
        assert abs(seminfo.mutual_information(joint) - r.lower) < 1e-9
        assert r.lower <= r.capacity <= r.upper and r.upper - r.lower <= 1e-10


def test_max_iter_warns():
    with pytest.warns(RuntimeWarning, match="stopped at max_iter=2"):
        r = seminfo.channel_capacity([[1, 0], [0.5, 0.5]], max_iter=2)
    assert not r.converged and r.n_iter == 2


def test_bad_channel():
    with pytest.raises(DistributionError, match="must have rows that sum to 1"):
        seminfo.channel_capacity([[0.5, 0.4], [0.5, 0.5]])
    with pytest.raises(ShapeError, match="must be a non-empty 2-D array"):
        seminfo.channel_capacity([0.5, 0.5])
    with pytest.raises(DistributionError, match="only finite numbers"):
        seminfo.channel_capacity([[np.nan, 1.0], [0.5, 0.5]])


def test_closed_forms_contained_without_slack():
    for eps in (0.11, 0.3, 0.49):
        r = seminfo.channel_capacity([[1 - eps, eps], [eps, 1 - eps]])
        assert r.lower <= 1 - h(eps) <= r.upper and r.upper - r.lower <= 1e-9
    for e in (0.01, 0.99):
        r = seminfo.channel_capacity([[1 - e, e, 0.0], [0.0, e, 1 - e]])
        assert r.lower <= 1 - e <= r.upper
