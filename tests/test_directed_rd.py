"""Tests of the directed (causal) rate-distortion function on finite-state sources."""


import numpy as np
import pytest

import seminfo
from seminfo.errors import InputError
from seminfo.exact import directed_information, mutual_information
from seminfo.rd import block_rate_distortion, directed_rate_distortion, rate_distortion
from seminfo.sources import IIDSource, MarkovSource


@pytest.mark.parametrize("n,D", [(1, 0.1), (2, 0.05), (3, 0.2)])
def test_iid_equals_single_letter(n, D):
    p = [0.7, 0.3]
    r = seminfo.directed_rate_distortion(IIDSource(p), "hamming", n, D=D)
    s = rate_distortion(p, "hamming", D=D)
    assert r.converged and r.width <= 1e-9
    assert max(r.lower, s.lower) <= min(r.upper, s.upper) + 1e-13


def test_iid_ternary_with_other_distortion():
    p = np.array([0.5, 0.3, 0.2])
    d = np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=float)
    r = directed_rate_distortion(IIDSource(p), d, 2, D=0.3)
    s = rate_distortion(p, d, D=0.3)
    assert max(r.lower, s.lower) <= min(r.upper, s.upper) + 1e-13


@pytest.mark.parametrize("n", [2, 3])
def test_markov_at_least_block_rd(n):
    src = MarkovSource([[0.9, 0.1], [0.2, 0.8]])
    r = directed_rate_distortion(src, "hamming", n, D=0.1)
    b = block_rate_distortion(src, "hamming", n, D=0.1)
    assert r.lower >= b.upper - 1e-12
    assert r.lower > b.upper + 1e-3                   # strictly above with memory


def test_kernel_is_causal_and_rate_is_directed_information():
    src = MarkovSource([[0.9, 0.1], [0.2, 0.8]])
    n = 3
    r = directed_rate_distortion(src, "hamming", n, slope=-3.0)
    J = r.joint                                                 # axes X1, Xh1, X2, Xh2, X3, Xh3
    di = directed_information(J, n) / n
    mi = mutual_information(J, x_axes=(0, 2, 4), y_axes=(1, 3, 5)) / n
    assert abs(di - mi) < 1e-12                                 # no feedback to the source
    assert abs(di - r.upper) < 1e-9
    # causality: Xh1 independent of (X2, X3) given X1
    cmi = seminfo.conditional_mutual_information(J, x_axes=(1,), y_axes=(2, 4), z_axes=(0,))
    assert abs(cmi) < 1e-10
    # source marginal preserved
    assert np.allclose(J.sum(axis=(1, 3, 5)), src.block_pmf(n))
    dist = sum(float((J.sum(axis=tuple(a for a in range(6) if a not in (2 * t, 2 * t + 1)))
                      * (1 - np.eye(2))).sum()) for t in range(n)) / n
    assert abs(dist - r.distortion) < 1e-12


def test_non_increasing_in_D():
    src = MarkovSource([[0.8, 0.2], [0.3, 0.7]])
    rates = [directed_rate_distortion(src, "hamming", 2, D=D).rate for D in (0.02, 0.1, 0.2)]
    assert rates[0] > rates[1] > rates[2]


def test_bad_horizon_and_distortion():
    with pytest.raises(InputError, match="`n` parameter of directed_rate_distortion must be a positive"):
        directed_rate_distortion(IIDSource([0.5, 0.5]), "hamming", 0, D=0.1)
    with pytest.raises(InputError, match=r"needs K\^n M\^n = 281474976710656 cells .* limit of 4194304"):
        directed_rate_distortion(IIDSource(np.full(8, 1 / 8)), "hamming", 8, D=0.1)
    with pytest.raises(InputError, match="minimum achievable distortion"):
        directed_rate_distortion(IIDSource([0.5, 0.5]), [[0.5, 1], [1, 0.5]], 2, D=0.1)
