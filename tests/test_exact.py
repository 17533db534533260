"""Exact measures (seminfo.exact): closed forms, identities under hypothesis, and every bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.errors import DistributionError, InputError, ShapeError
from seminfo.exact import (causally_conditioned_entropy, conditional_entropy, conditional_mutual_information,
                           cross_entropy, directed_information, entropy, mutual_information,
                           relative_entropy, reverse_directed_information, stationary_transfer_entropy)


def h2(p):
    return 0.0 if p in (0, 1) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def random_pmf(rng, shape, zeros=True):
    w = rng.gamma(0.5, size=shape)
    if zeros:
        w[rng.random(shape) < 0.15] = 0.0
    if w.sum() == 0:
        w.flat[0] = 1.0
    return w / w.sum()


seeds = st.integers(0, 2 ** 32 - 1)
settings.register_profile("h1", max_examples=40, deadline=None)
settings.load_profile("h1")


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("K", [1, 2, 5, 256])
def test_uniform_entropy_is_log_K(K):
    assert entropy(np.full(K, 1 / K)) == pytest.approx(math.log2(K), abs=1e-12)
    assert entropy(np.full(K, 1 / K), base=math.e) == pytest.approx(math.log(K), abs=1e-12)
    assert entropy(np.full(K, 1 / K), base=10) == pytest.approx(math.log10(K), abs=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_bernoulli_entropy(p):
    assert entropy([p, 1 - p]) == pytest.approx(h2(p), abs=1e-12)


def test_xor_one_bit_of_synergy():
    p = np.zeros((2, 2, 2))
    for x in range(2):
        for y in range(2):
            p[x, y, x ^ y] = 0.25
    assert mutual_information(p, x_axes=0, y_axes=1) == pytest.approx(0.0, abs=1e-15)
    assert conditional_mutual_information(p) == pytest.approx(1.0, abs=1e-15)
    assert entropy(p) == pytest.approx(2.0)


def test_binary_symmetric_channel_mutual_information():
    e = 0.11
    p = 0.5 * np.array([[1 - e, e], [e, 1 - e]])
    assert mutual_information(p) == pytest.approx(1 - h2(e), abs=1e-12)
    assert conditional_entropy(p) == pytest.approx(h2(e), abs=1e-12)


def test_relative_and_cross_entropy_closed_forms():
    a, b = 0.3, 0.6
    d = a * math.log2(a / b) + (1 - a) * math.log2((1 - a) / (1 - b))
    assert relative_entropy([a, 1 - a], [b, 1 - b]) == pytest.approx(d, abs=1e-12)
    assert cross_entropy([a, 1 - a], [b, 1 - b]) == pytest.approx(h2(a) + d, abs=1e-12)
    assert relative_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert relative_entropy([1.0, 0.0], [0.5, 0.5]) == pytest.approx(1.0)


def test_axis_groups_and_defaults():
    rng = np.random.default_rng(0)
    p = random_pmf(rng, (2, 3, 2, 2))
    # the remaining-axes default and an explicit reshape agree
    flat = np.moveaxis(p, 1, -1).reshape(2 * 2 * 2, 3).T             # (Y, rest)
    assert mutual_information(p, y_axes=1) == pytest.approx(mutual_information(flat), abs=1e-12)
    assert conditional_entropy(p, x_axes=(0, 2), y_axes=3) == pytest.approx(
        entropy(p.sum(axis=1)) - entropy(p.sum(axis=(0, 1, 2))), abs=1e-12)


def test_transfer_entropy_delay_line():
    """Y_t = X_{t-1} with X fair iid: 1 bit; through a BSC(e): 1 - h(e) bits."""
    for e in (0.0, 0.2):
        T = np.zeros((2, 2, 2, 2))
        for x in range(2):
            for y in range(2):
                for x2 in range(2):
                    T[x, y, x2, x] += 0.5 * (1 - e)
                    T[x, y, x2, 1 - x] += 0.5 * e
        assert stationary_transfer_entropy(transition=T) == pytest.approx(1 - h2(e), abs=1e-12)
        assert stationary_transfer_entropy(transition=T.reshape(4, 4), pair_shape=(2, 2)) == \
            pytest.approx(1 - h2(e), abs=1e-12)
        # longer histories add nothing for a first-order delay line
        assert stationary_transfer_entropy(transition=T, k=2, l=2) == pytest.approx(1 - h2(e), abs=1e-12)


def test_transfer_entropy_window_form_matches_chain_form():
    rng = np.random.default_rng(3)
    T = random_pmf(rng, (2, 3, 2, 3), zeros=False)
    T = T / T.sum(axis=(2, 3), keepdims=True)
    P = T.reshape(6, 6)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    pi = pi / pi.sum()
    block = (pi[:, None] * P).reshape(2, 3, 2, 3)                  # X1, Y1, X2, Y2
    window = np.transpose(block.sum(axis=2), (1, 0, 2))            # (Y1, X1, Y2)
    assert stationary_transfer_entropy(window) == pytest.approx(
        stationary_transfer_entropy(transition=T), abs=1e-12)


# ------------------------------------------------------------------ properties (hypothesis)
@given(seeds, st.integers(1, 4), st.integers(1, 4))
def test_chain_rule_and_nonnegativity(seed, kx, ky):
    p = random_pmf(np.random.default_rng(seed), (kx, ky))
    hx, hy, hxy = entropy(p.sum(1)), entropy(p.sum(0)), entropy(p)
    assert hxy == pytest.approx(hx + conditional_entropy(p.T), abs=1e-12)     # H(X,Y) = H(X) + H(Y|X)
    assert mutual_information(p) >= -1e-12
    assert conditional_entropy(p) >= -1e-12
    assert mutual_information(p) == pytest.approx(hx - conditional_entropy(p), abs=1e-12)
    q = random_pmf(np.random.default_rng(seed + 1), (kx, ky), zeros=False)
    assert relative_entropy(p, q) >= -1e-12
    assert cross_entropy(p, q) >= hxy - 1e-12


@given(seeds, st.integers(2, 3), st.integers(2, 3), st.integers(2, 3))
def test_data_processing_on_markov_chain(seed, kx, ky, kz):
    rng = np.random.default_rng(seed)
    px = random_pmf(rng, (kx,))
    wyx = rng.dirichlet(np.ones(ky), size=kx)
    wzy = rng.dirichlet(np.ones(kz), size=ky)
    p = px[:, None, None] * wyx[:, :, None] * wzy[None, :, :]          # X - Y - Z
    ixy = mutual_information(p, x_axes=0, y_axes=1)
    ixz = mutual_information(p, x_axes=0, y_axes=2)
    assert ixz <= ixy + 1e-12
    assert conditional_mutual_information(p, x_axes=0, y_axes=2, z_axes=1) == pytest.approx(0, abs=1e-12)


@given(seeds, st.integers(1, 3), st.integers(2, 3), st.integers(2, 3))
def test_conservation_law(seed, n, kx, ky):
    p = random_pmf(np.random.default_rng(seed), (kx, ky) * n)
    x_axes = tuple(range(0, 2 * n, 2))
    mi = mutual_information(p, x_axes=x_axes)
    di, rdi = directed_information(p, n), reverse_directed_information(p, n)
    assert abs(mi - di - rdi) < 1e-12
    assert di >= -1e-12 and rdi >= -1e-12
    hy = entropy(p.sum(axis=x_axes))
    assert di == pytest.approx(hy - causally_conditioned_entropy(p, n), abs=1e-12)


@given(seeds, st.integers(1, 3), st.integers(2, 3))
def test_directed_information_equals_mutual_information_without_feedback(seed, n, K):
    """P(x^n, y^n) = P(x^n) prod_t P(y_t | x^t, y^{t-1}): inputs ignore outputs, so DI = MI."""
    rng = np.random.default_rng(seed)
    p = random_pmf(rng, (K,) * n)                                  # P(x^n), axes X1..Xn
    joint = np.zeros((K, K) * n)
    for idx in np.ndindex(*((K, K) * n)):
        xs, ys = idx[0::2], idx[1::2]
        w = p[xs]
        for t in range(n):                                         # a fixed random kernel per history
            r = np.random.default_rng(hash((seed, xs[:t + 1], ys[:t])) % 2 ** 32).dirichlet(np.ones(K))
            w *= r[ys[t]]
        joint[idx] = w
    mi = mutual_information(joint, x_axes=tuple(range(0, 2 * n, 2)))
    assert directed_information(joint, n) == pytest.approx(mi, abs=1e-12)
    assert reverse_directed_information(joint, n) == pytest.approx(0.0, abs=1e-12)


def test_directed_information_canonical_cases():
    """A noiseless copy without feedback (DI = 1 bit, reverse DI = 0), and an input that only repeats
    the fed-back output Y1, a fresh coin (DI = 0, reverse DI = MI = 1 bit)."""
    p = np.zeros((2, 2, 2, 2))
    for x1 in range(2):
        p[x1, x1, x1, x1] = 0.5
    assert directed_information(p, 2) == pytest.approx(1.0)
    assert reverse_directed_information(p, 2) == pytest.approx(0.0, abs=1e-15)
    q = np.zeros((2, 2, 2, 2))
    for x1 in range(2):
        for y1 in range(2):
            q[x1, y1, y1, y1] = 0.25                                # Y1 a fresh coin, X2 = Y1, Y2 = X2
    assert directed_information(q, 2) == pytest.approx(0.0, abs=1e-15)
    assert reverse_directed_information(q, 2) == pytest.approx(1.0)
    assert mutual_information(q, x_axes=(0, 2)) == pytest.approx(1.0)


# ------------------------------------------------------------------ bad input
def test_bad_pmfs_raise_distribution_errors():
    with pytest.raises(DistributionError, match=r"The `p` parameter of entropy must be non-negative"):
        entropy([1.5, -0.5])
    with pytest.raises(DistributionError, match=r"must contain only finite numbers. Got 1 NaN"):
        entropy([np.nan, 1.0])
    with pytest.raises(DistributionError, match=r"must sum to 1 \(tolerance 1e-09\). Got a sum of 0.9"):
        entropy([0.5, 0.4])
    with pytest.raises(DistributionError, match=r"The `q` parameter of relative_entropy must sum to 1"):
        relative_entropy([0.5, 0.5], [0.5, 0.6])
    with pytest.raises(ShapeError, match=r"The `p` parameter of entropy must be a non-empty array"):
        entropy([])


def test_complex_and_text_inputs_are_refused_not_coerced():
    # numpy would drop the imaginary part (with only a warning) and parse strings as numbers.
    with pytest.raises(DistributionError, match=r"The `p` parameter of entropy must be an array of "
                                                r"probabilities \(real numbers\). Got complex values"):
        entropy(np.array([0.5 + 0.1j, 0.5 - 0.1j]))
    with pytest.raises(DistributionError, match=r"Got text values"):
        entropy(["0.5", "0.5"])
    with pytest.raises(DistributionError, match=r"Got complex values"):
        entropy([0.5, 0.5 + 0j])                      # a mixed list is complex too
    with pytest.raises(DistributionError, match=r"must be an array of probabilities: a rectangular array .* rows differ in length"):
        entropy([[0.5], [0.25, 0.25]])               # ragged
    with pytest.raises(InputError, match=r"The `base` parameter of entropy must be a real number. Got '2'"):
        entropy([0.5, 0.5], base="2")
    with pytest.raises(InputError, match=r"must be a real number. Got True"):
        entropy([0.5, 0.5], base=True)
    assert entropy(np.array([0.5, 0.5], dtype=np.float32), base=np.float64(2)) == pytest.approx(1.0)


def test_wrong_axes_raise_shape_errors():
    p = np.full((2, 2, 2), 1 / 8)
    with pytest.raises(ShapeError, match=r"must have 2 axes \(x_axes, y_axes in that order\)"):
        mutual_information(p)
    with pytest.raises(ShapeError, match=r"The `x_axes` parameter of mutual_information must hold axis "
                                         r"numbers in 0..2"):
        mutual_information(p, x_axes=3, y_axes=0)
    with pytest.raises(ShapeError, match=r"must be disjoint"):
        mutual_information(p, x_axes=(0, 1), y_axes=1)
    with pytest.raises(ShapeError, match=r"must not repeat an axis"):
        conditional_entropy(p, x_axes=(0, 0), y_axes=1)
    with pytest.raises(ShapeError, match=r"needs the parameters `y_axes`, `z_axes`"):
        conditional_mutual_information(np.full((2,) * 4, 1 / 16), x_axes=0)
    with pytest.raises(ShapeError, match=r"The `p` and `q` parameters of cross_entropy must have the same shape"):
        cross_entropy([0.5, 0.5], [1 / 3] * 3)


def test_directed_measures_need_2n_axes():
    p = np.full((2, 2, 2, 2), 1 / 16)
    with pytest.raises(ShapeError, match=r"The `p` parameter of directed_information must have 2n = 6 axes "
                                         r"ordered X1, Y1, \.\.\., Xn, Yn \(n = 3\). Got 4 axes"):
        directed_information(p, 3)
    with pytest.raises(InputError, match=r"The `n` parameter of reverse_directed_information must be a "
                                         r"positive integer. Got 0."):
        reverse_directed_information(p, 0)
    with pytest.raises(InputError, match=r"must be an integer"):
        causally_conditioned_entropy(p, 2.0)


def test_bad_base_and_transfer_entropy_arguments():
    with pytest.raises(InputError, match=r"The `base` parameter of entropy must be > 1. Got 1.0."):
        entropy([1.0], base=1)
    with pytest.raises(InputError, match=r"needs exactly one of `p` .* Got neither."):
        stationary_transfer_entropy()
    with pytest.raises(ShapeError, match=r"must have k \+ l \+ 1 = 3 axes"):
        stationary_transfer_entropy(np.full((2, 2), 0.25))
    with pytest.raises(InputError, match=r"The `l` parameter of stationary_transfer_entropy must be a "
                                         r"positive integer. Got 0."):
        stationary_transfer_entropy(np.full((2, 2), 0.25), k=1, l=0)
    with pytest.raises(ShapeError, match=r"`pair_shape` parameter .* is needed"):
        stationary_transfer_entropy(transition=np.eye(4))
    with pytest.raises(DistributionError, match=r"The `transition` parameter of stationary_transfer_entropy "
                                                r"must have rows that sum to 1 \(tolerance 1e-09\). Row 0"):
        stationary_transfer_entropy(transition=np.full((4, 4), 0.3), pair_shape=(2, 2))
    with pytest.raises(DistributionError, match=r"irreducible chain .* Got 4 closed classes"):
        stationary_transfer_entropy(transition=np.eye(4), pair_shape=(2, 2))


@pytest.mark.parametrize("module", ["seminfo.exact.shannon", "seminfo.exact.directed", "seminfo.exact.transfer",
                                    "seminfo.sources.iid", "seminfo.sources.markov", "seminfo.sources.hmm",
                                    "seminfo.sources.channel"])
def test_documentation_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_bad_transition_and_pair_shape_raise_input_errors():
    with pytest.raises(ShapeError, match=r"The `pair_shape` parameter of stationary_transfer_entropy must be "
                                         r"a pair \(Kx, Ky\)"):
        stationary_transfer_entropy(transition=np.full((4, 4), 0.25), pair_shape=(2,))
    with pytest.raises(InputError, match=r"The `transition` parameter of stationary_transfer_entropy must be "
                                         r"an array of transition probabilities \(real numbers\). Got text values"):
        stationary_transfer_entropy(transition="abcd", pair_shape=(2, 2))
