"""Estimators from integer sequences (seminfo.estimators) against closed forms and exact sources.

Tolerances: |estimate - truth| < 5 stderr + an explicit bias allowance where the estimator has a
known bias (CTW redundancy O(S log n / n)); stderr is the estimator's own batch-means error.
"""

import math

import numpy as np
import pytest

import seminfo
from seminfo import AlphabetError, InputError, ShapeError
from seminfo.estimators.ctw import ctw_log_probs, interleaved_context


def h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def delay_channel(n, eps, seed):
    """x iid fair bits; y_t = x_{t-1} XOR Bernoulli(eps). TE_{X->Y} = DI rate = 1 - h(eps)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    y = np.empty(n, dtype=np.int64)
    y[0] = rng.integers(0, 2)
    y[1:] = x[:-1] ^ (rng.random(n - 1) < eps)
    return x, y


def within(est, truth, bias=0.0):
    assert abs(est.value - truth) < 5 * est.stderr + bias, (est, truth)


def ctw_redundancy(leaves, n):
    """Willems-Shtarkov-Tjalkens bound on binary CTW's redundancy per symbol (bits) for a tree source
    with `leaves` leaves: (Gamma_D(S) + S (log2(n/S)/2 + 1)) / n with Gamma_D(S) <= 2S - 1. For
    I_hat_1 it bounds the bias: E I_hat_1 lies in [DI - R_joint, DI + R_marginal]."""
    return (2 * leaves - 1 + leaves * (0.5 * math.log2(n / leaves) + 1)) / n


# -- entropy rate ----------------------------------------------------------------------------------

def test_iid_entropy_converges_and_units():
    src = seminfo.IIDSource([0.5, 0.25, 0.125, 0.125])
    x = src.sample(20_000, seed=1)
    est = seminfo.estimate_entropy_rate(x)
    assert est.units == "bits/symbol" and est.n == 20_000 and est.method == "miller-madow"
    within(est, 1.75)
    assert est.bias == pytest.approx(-(4 - 1) / (2 * 20_000) / math.log(2))
    plug = seminfo.estimate_entropy_rate(x, method="plugin")
    assert plug.value == pytest.approx(est.value + est.bias, abs=1e-12)
    nats = seminfo.estimate_entropy_rate(x, base=math.e)
    assert nats.units == "nats/symbol" and nats.value == pytest.approx(est.value * math.log(2))


def test_markov_entropy_rate_closed_form():
    P = np.array([[0.9, 0.1], [0.3, 0.7]])
    pi = np.array([0.75, 0.25])
    truth = pi[0] * h2(0.1) + pi[1] * h2(0.3)
    x = seminfo.MarkovSource(P).sample(50_000, seed=2)
    est = seminfo.estimate_entropy_rate(x, order=1)
    within(est, truth)
    # order 0 measures the marginal entropy h(0.25) instead, far above the rate
    within(seminfo.estimate_entropy_rate(x, order=0), h2(0.25))


def test_entropy_rate_plugin_matches_hand_count():
    x = np.array([0, 1, 1, 0, 1, 1, 1, 0])
    # pairs (x_{t-1}, x_t): 01 11 10 01 11 11 10 -> n(0)=2 ctx, n(1)=5 ctx
    expected = -(2 * math.log2(2 / 2) + 3 * math.log2(3 / 5) + 2 * math.log2(2 / 5)) / 7
    est = seminfo.estimate_entropy_rate(x, order=1, method="plugin")
    assert est.value == pytest.approx(expected, abs=1e-12)


def test_sparse_large_alphabet():
    rng = np.random.default_rng(3)
    k = 10_000
    # random walk on Z_K with steps 0..3: entropy rate exactly 2 bits, 10^8 joint cells (sparse path)
    n = 500_000
    x = np.cumsum(rng.integers(0, 4, n)) % k
    est = seminfo.estimate_entropy_rate(x, order=1, alphabet_size=k)
    assert est.n == n - 1
    # Miller-Madow leaves the second-order bias (1 - sum_i 1/p_i) / (12 N_c^2) nats per context
    # (Harris 1975): N_c = 50 samples per context, p_i = 1/4 -> 5e-4 nats; allow twice that in bits
    within(est, 2.0, bias=2 * 15 / (12 * 50 ** 2) / math.log(2))
    x = rng.integers(0, k, 200_000)
    # order 0 on uniform 10^4 symbols: Miller-Madow removes most of the (K-1)/2N bias
    e0 = seminfo.estimate_entropy_rate(x, alphabet_size=k)
    assert abs(e0.value - math.log2(k)) < 5 * e0.stderr + 0.01


def test_dense_and_sparse_counting_agree():
    from seminfo.estimators.plugin import _dense_cmi_terms, plugin_cmi_terms

    rng = np.random.default_rng(16)
    a, b, c = rng.integers(0, 3, 500), rng.integers(0, 4, 500), rng.integers(0, 5, 500)
    dense = _dense_cmi_terms((a, 3), (b, 4), (c, 5))
    sparse = plugin_cmi_terms((a, 10 ** 7), (b, 10 ** 7), (c, 5))    # too big for a dense table
    np.testing.assert_allclose(dense[0], sparse[0], atol=1e-12)
    assert dense[1] == pytest.approx(sparse[1])
    dense_h = _dense_cmi_terms((a, 3), None, (c, 5))
    sparse_h = plugin_cmi_terms((a, 10 ** 7), None, (c, 5))
    np.testing.assert_allclose(dense_h[0], sparse_h[0], atol=1e-12)
    assert dense_h[1] == pytest.approx(sparse_h[1])


# -- mutual information ----------------------------------------------------------------------------

def test_mutual_information_iid_pairs():
    rng = np.random.default_rng(4)
    n, e = 40_000, 0.3
    x = rng.integers(0, 4, n)
    y = np.where(rng.random(n) < e, rng.integers(0, 4, n), x)
    p = np.full((4, 4), e / 16) + np.eye(4) * (1 - e) / 4
    truth = seminfo.mutual_information(p)
    est = seminfo.estimate_mutual_information(x, y)
    within(est, truth)
    indep = seminfo.estimate_mutual_information(x, rng.integers(0, 4, n))
    within(indep, 0.0)


# -- transfer entropy ------------------------------------------------------------------------------

def test_transfer_entropy_binary_closed_form():
    eps = 0.1
    x, y = delay_channel(60_000, eps, seed=5)
    te = seminfo.transfer_entropy(x, y, k=1, l=1)
    assert te.units == "bits/symbol" and te.method == "plugin"
    within(te, 1 - h2(eps))
    back = seminfo.transfer_entropy(y, x, k=1, l=1, method="miller-madow")
    within(back, 0.0)


def test_transfer_entropy_matches_feedback_channel():
    ch = seminfo.FeedbackChannel.example()
    x, y = ch.sample(60_000, seed=6)
    within(seminfo.transfer_entropy(x, y, k=1, l=1), ch.transfer_entropy(k=1, l=1))


def test_transfer_entropy_equals_infomeasure():
    im = pytest.importorskip("infomeasure")
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, 3000)
    y = (np.roll(x, 1) + rng.integers(0, 2, 3000)) % 3
    for k, l in [(1, 1), (2, 1), (1, 3)]:
        ours = seminfo.transfer_entropy(x, y, k=k, l=l).value
        theirs = im.transfer_entropy(x, y, approach="discrete", src_hist_len=l, dest_hist_len=k,
                                     base=2)
        assert abs(ours - theirs) < 1e-9


def test_transfer_entropy_matches_brute_force_counts():
    """Schreiber's plug-in formula written with dictionaries, independent of the vectorised kernel."""
    from collections import Counter
    rng = np.random.default_rng(20)
    x = rng.integers(0, 3, 400)
    y = (np.roll(x, 1) + rng.integers(0, 2, 400)) % 4
    for k, l in [(1, 1), (2, 1), (1, 2), (2, 2)]:
        h = max(k, l)
        rows = [(tuple(y[t - k:t]), tuple(x[t - l:t]), y[t]) for t in range(h, len(y))]
        n_abc = Counter(rows)
        n_c = Counter(r[0] for r in rows)
        n_bc = Counter(r[:2] for r in rows)
        n_ac = Counter((r[0], r[2]) for r in rows)
        ref = sum(math.log2(n_abc[r] * n_c[r[0]] / (n_bc[r[:2]] * n_ac[(r[0], r[2])]))
                  for r in rows) / len(rows)
        est = seminfo.transfer_entropy(x, y, k=k, l=l)
        assert est.value == pytest.approx(ref, abs=1e-12) and est.n == len(rows)


def test_transfer_entropy_sparse_alphabet_of_ten_thousand():
    """K = 10^4, n = 10^6: 10^8 possible (y_{t-1}, x_{t-1}) contexts, about 8 10^4 occupied.
    x a random walk on Z_K with steps 0..3, y_t = x_{t-1} + fair bit: TE = H(s + b - b') - 1 bit
    with s uniform on 0..3 and b, b' fair bits, i.e. H([1, 3, 4, 4, 3, 1] / 16) - 1."""
    rng = np.random.default_rng(21)
    k, n = 10_000, 1_000_000
    x = np.cumsum(rng.integers(0, 4, n)) % k
    y = (np.roll(x, 1) + rng.integers(0, 2, n)) % k
    truth = seminfo.entropy(np.array([1, 3, 4, 4, 3, 1]) / 16) - 1
    te = seminfo.transfer_entropy(x, y, method="miller-madow")
    within(te, truth)
    assert te.stderr < 1e-3


def test_transfer_entropy_surrogates():
    x, y = delay_channel(2000, 0.2, seed=8)
    te = seminfo.transfer_entropy(x, y, surrogates=19, seed=0)
    assert te.pvalue == pytest.approx(1 / 20)


# -- directed information --------------------------------------------------------------------------

def test_ctw_matches_reference_implementation():
    def ref(target, rows, k):
        counts, le, lw, out, prev = {}, {}, {}, [], 0.0
        for t, y in enumerate(target):
            path = [()]
            for c in rows[t]:
                path.append(path[-1] + (int(c),))
            for d in range(len(path) - 1, -1, -1):
                node = path[d]
                cnt = counts.setdefault(node, [0] * k)
                le[node] = le.get(node, 0.0) + math.log((cnt[y] + 0.5) / (sum(cnt) + k / 2))
                cnt[y] += 1
                if d == len(path) - 1:
                    lw[node] = le[node]
                else:
                    s = sum(v for ch, v in lw.items() if len(ch) == d + 1 and ch[:d] == node)
                    lw[node] = float(np.logaddexp(math.log(0.5) + le[node], math.log(0.5) + s))
            out.append(lw[()] - prev)
            prev = lw[()]
        return np.array(out)

    rng = np.random.default_rng(9)
    for k, kx, depth in [(2, 2, 2), (3, 2, 1), (2, 3, 0)]:
        y, x = rng.integers(0, k, 80), rng.integers(0, kx, 80)
        m = max(k, kx)
        ctx = interleaved_context(y, [x], depth, pad=m)
        ours = ctw_log_probs(y, ctx, k, m + 1)
        np.testing.assert_allclose(ours, ref(list(y), ctx, k), atol=1e-10)
        # full predictive distributions: row t, column a = CTW after appending a to y^{t-1}
        full = ctw_log_probs(y, ctx, k, m + 1, full=True)
        np.testing.assert_allclose(full[np.arange(80), y], ours, atol=1e-12)
        np.testing.assert_allclose(np.logaddexp.reduce(full, axis=1), 0.0, atol=1e-12)
        for t in (0, 7, 79):
            for a in range(k):
                lp = ref(list(y[:t]) + [a], ctx[: t + 1], k)[-1]
                assert full[t, a] == pytest.approx(lp, abs=1e-10)
    # depth 0 is the sequential KT estimator: P(0 0 1) = (1/2)(3/4)(1/6)
    kt = ctw_log_probs(np.array([0, 0, 1]), np.zeros((3, 0), np.int64), 2, 1)
    assert kt.sum() == pytest.approx(math.log(0.5 * 0.75 / 6))


def test_ctw_directed_information_delay_channel():
    eps = 0.1
    x, y = delay_channel(100_000, eps, seed=10)
    di = seminfo.estimate_directed_information(x, y)
    assert di.units == "bits/symbol" and di.method == "ctw" and di.n == 100_000
    # joint tree: y_t depends on x_{t-1}, third on the path (x_t, y_{t-1}, x_{t-1}): 8 leaves, doubled
    # for the padding contexts of the first steps; the marginal (fair bits) is a single leaf
    within(di, 1 - h2(eps), bias=ctw_redundancy(16, di.n))
    rev = seminfo.estimate_directed_information(y, x)
    within(rev, 0.0, bias=ctw_redundancy(4, rev.n))     # both trees are single leaves (x is iid)


def test_ctw_directed_information_variant_2():
    eps = 0.1
    x, y = delay_channel(100_000, eps, seed=17)
    di = seminfo.estimate_directed_information(x, y, variant=2)
    assert di.method == "ctw I_hat_2" and di.extra["variant"] == 2
    within(di, 1 - h2(eps), bias=ctw_redundancy(16, di.n))   # same assignment as I_hat_1
    # the stderr is not the (about fivefold too small) batch-means error of the I_hat_2 terms
    i1 = seminfo.estimate_directed_information(x, y)
    assert di.stderr >= i1.stderr and di.stderr >= abs(di.value - i1.value)
    assert di.stderr == pytest.approx(math.hypot(i1.stderr, di.value - i1.value), rel=1e-9)
    rev = seminfo.estimate_directed_information(y, x, variant=2)
    assert 0.0 <= rev.value < 5 * rev.stderr + ctw_redundancy(4, rev.n)   # divergences: never negative


def test_directed_information_feedback_channel():
    ch = seminfo.FeedbackChannel.example()
    x, y = ch.sample(100_000, seed=11)
    truth = ch.rates(8).directed_information
    est = seminfo.estimate_directed_information(x, y, depth=4)
    lo, hi = truth.lower - 0.01, truth.upper + 0.01    # CTW redundancy allowance as above
    assert lo - 5 * est.stderr < est.value < hi + 5 * est.stderr, (est, truth)


def test_plugin_directed_information_and_predictor_protocol():
    eps = 0.15
    x, y = delay_channel(40_000, eps, seed=12)
    # order 2 sees x_{t-1}, x_t and y_{t-2}, y_{t-1}: the delay channel is order 2
    within(seminfo.estimate_directed_information(x, y, method="plugin", order=2), 1 - h2(eps))

    class Oracle:
        """True conditionals of the delay channel: Q(y_t | y^{t-1}, x^t) and Q(y_t | y^{t-1})."""

        def log_probs_sequence(self, target, side=()):
            if not side:
                return np.full(len(target), math.log(0.5))
            xs = side[0]
            hit = np.r_[True, target[1:] == xs[:-1]]
            out = np.where(hit, math.log(1 - eps), math.log(eps))
            out[0] = math.log(0.5)
            return out

    est = seminfo.estimate_directed_information(x, y, predictor=Oracle())
    within(est, 1 - h2(eps))


def test_directed_information_surrogate_pvalue():
    x, y = delay_channel(1500, 0.2, seed=13)
    d = seminfo.estimate_directed_information(x, y, depth=2, surrogates=9, seed=1)
    assert d.pvalue == pytest.approx(0.1)


# -- surrogate test --------------------------------------------------------------------------------

def test_surrogate_test_dependence_and_null():
    def stat(a, b):
        return seminfo.transfer_entropy(a, b, k=1, l=1).value

    x, y = delay_channel(1000, 0.3, seed=14)
    res = seminfo.surrogate_test(stat, x, y, n_surrogates=49, method="block", block=20, seed=2)
    assert res.pvalue == pytest.approx(1 / 50) and res.surrogates.shape == (49,)
    rng = np.random.default_rng(15)
    ps = [seminfo.surrogate_test(stat, rng.integers(0, 2, 300), rng.integers(0, 2, 300),
                                 n_surrogates=19, seed=i).pvalue for i in range(40)]
    # p is uniform on {1/20, ..., 1} under the null: mean 0.525, sd 0.29, se of the mean 0.046
    assert abs(np.mean(ps) - 0.525) < 5 * 0.29 / math.sqrt(40)


# -- continuous data -------------------------------------------------------------------------------

def test_gaussian_and_ksg_mutual_information():
    from seminfo.estimators import gaussian_mutual_information, ksg_mutual_information

    rng = np.random.default_rng(18)
    rho, n = 0.6, 4000
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho ** 2) * rng.normal(size=n)
    truth = -0.5 * math.log2(1 - rho ** 2)
    g = gaussian_mutual_information(x, y)
    assert g.units == "bits/sample"
    within(g, truth)
    within(ksg_mutual_information(x, y, k=4), truth, bias=0.01)   # KSG bias is O(1e-3) here [Kraskov]
    # conditioning on the common cause removes the dependence
    z = rng.normal(size=n)
    within(gaussian_mutual_information(x + z, y + z, z), truth)


def test_gaussian_transfer_entropy_closed_form():
    from seminfo.estimators import gaussian_transfer_entropy

    rng = np.random.default_rng(19)
    a, b, n = 0.5, 0.8, 20_000
    x, e = rng.normal(size=n), rng.normal(size=n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = a * y[t - 1] + b * x[t - 1] + e[t]
    # var(y_t | y_{t-1}) = b^2 + 1, var(y_t | y_{t-1}, x_{t-1}) = 1
    within(gaussian_transfer_entropy(x, y), 0.5 * math.log2(1 + b * b))
    within(gaussian_transfer_entropy(y, x), 0.0)
    with pytest.raises(InputError, match="singular sample covariance"):
        gaussian_transfer_entropy(np.ones(100), y[:100])


# -- bad input -------------------------------------------------------------------------------------

def test_bad_input_messages():
    x = np.array([0, 1, 0, 1, 1, 0])
    with pytest.raises(InputError, match=r"The `k` parameter of transfer_entropy must be a positive "
                                         r"integer\. Got 0\."):
        seminfo.transfer_entropy(x, x, k=0)
    with pytest.raises(ShapeError, match="must have the same length. Got 6 and 5"):
        seminfo.transfer_entropy(x, x[:5])
    with pytest.raises(ShapeError, match="must have the same length"):
        seminfo.estimate_directed_information(x, x[:5])
    with pytest.raises(ShapeError, match="The sequence is empty"):
        seminfo.estimate_entropy_rate([])
    with pytest.raises(AlphabetError, match=r"symbols in 0\.\.1 \(the declared alphabet size is 2\)"):
        seminfo.estimate_entropy_rate([0, 1, 2], alphabet_size=2)
    with pytest.raises(InputError, match="The `order` parameter of estimate_entropy_rate must be "
                                         "smaller than the sequence length"):
        seminfo.estimate_entropy_rate(x, order=6)
    with pytest.raises(InputError, match=r"allows 1024 possible contexts but only 95 samples remain and "
                                         r"they occupy \d+ distinct contexts \(fewer than 4 samples per"):
        seminfo.estimate_entropy_rate(np.random.default_rng(0).integers(0, 4, 100), order=5,
                                      alphabet_size=4)
    with pytest.raises(InputError, match=r"The history \(k=6, l=1\) of transfer_entropy allows 128 "):
        seminfo.transfer_entropy(np.random.default_rng(1).integers(0, 2, 100),
                                 np.random.default_rng(2).integers(0, 2, 100), k=6)
    with pytest.raises(InputError, match=r"The order-5 history of estimate_directed_information allows"):
        seminfo.estimate_directed_information(np.random.default_rng(1).integers(0, 2, 50),
                                              np.random.default_rng(2).integers(0, 2, 50),
                                              method="plugin", order=5)
    # a long history is fine when the samples fill few of its contexts (a period-4 sequence)
    assert seminfo.estimate_entropy_rate(np.arange(100) % 4, order=5, alphabet_size=4).value == \
        pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InputError, match="The `method` parameter of estimate_mutual_information "
                                         "must be one of"):
        seminfo.estimate_mutual_information(x, x, method="nsb")
    with pytest.raises(InputError, match="must hold integer symbols"):
        seminfo.transfer_entropy(np.array([0.5, 1.0, 0.0]), np.array([0, 1, 0]))
    with pytest.raises(InputError, match="`predictor` parameter of estimate_directed_information "
                                         "must have a method log_probs_sequence"):
        seminfo.estimate_directed_information(x, x, predictor=object())
    with pytest.raises(InputError, match="The `variant` parameter of estimate_directed_information "
                                         "applies only to method='ctw'"):
        seminfo.estimate_directed_information(x, x, method="plugin", variant=2)
    with pytest.raises(InputError, match="The `variant` parameter of estimate_directed_information "
                                         "must be one of 1, 2. Got 3"):
        seminfo.estimate_directed_information(x, x, variant=3)
    with pytest.raises(InputError, match="The `block` parameter of surrogate_test applies only"):
        seminfo.surrogate_test(lambda a, b: 0.0, x, x, block=3)
