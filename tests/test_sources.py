"""Token sources (seminfo.sources): exact truth, sampling within stated standard errors, the predictive
interface, the feedback channel's recursions against seminfo.exact, and every bad input."""

import math

import numpy as np
import pytest

from seminfo.errors import DistributionError, InputError, ShapeError, AlphabetError
from seminfo.exact import (causally_conditioned_entropy, directed_information, entropy, mutual_information,
                           reverse_directed_information, stationary_transfer_entropy)
from seminfo.results import Interval
from seminfo.sources import FeedbackChannel, HiddenMarkovSource, IIDSource, MarkovSource, TokenSource


def h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def batch_mean(values, batches=40):
    """Mean and batch-means standard error (valid for mixing, correlated sequences)."""
    b = np.asarray(values)[: len(values) // batches * batches].reshape(batches, -1).mean(axis=1)
    return float(np.mean(values)), float(b.std(ddof=1) / math.sqrt(batches))


def mean_log_loss_bits(src, x):
    lp = src.predictive_log_probs(x)
    return -lp[np.arange(x.size), x] / math.log(2)


HMM = HiddenMarkovSource(np.array([[0.95, 0.05], [0.1, 0.9]]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))


# ------------------------------------------------------------------ iid
def test_iid_closed_forms_and_block_pmf():
    p = np.array([0.5, 0.25, 0.125, 0.125])
    src = IIDSource(p)
    assert src.entropy_rate() == pytest.approx(1.75)
    assert src.entropy_rate(base=math.e) == pytest.approx(1.75 * math.log(2))
    b = src.block_pmf(3)
    assert b.shape == (4, 4, 4) and b[1, 2, 3] == pytest.approx(0.25 * 0.125 * 0.125)
    assert src.block_entropy(3) == pytest.approx(3 * 1.75)
    assert np.allclose(src.predictive_log_probs([0, 1, 2]), np.log(p))


def test_iid_sample_frequencies_within_standard_error():
    p = np.array([0.6, 0.3, 0.1])
    x = IIDSource(p).sample(50_000, seed=1)
    assert x.dtype == np.int64
    freq = np.bincount(x, minlength=3) / x.size
    se = np.sqrt(p * (1 - p) / x.size)
    assert np.all(np.abs(freq - p) < 5 * se)
    assert np.array_equal(x, IIDSource(p).sample(50_000, seed=1))
    assert np.array_equal(IIDSource(p).sample(10, seed=np.random.default_rng(4)),
                          IIDSource(p).sample(10, seed=np.random.default_rng(4)))


# ------------------------------------------------------------------ Markov
@pytest.mark.parametrize("e", [0.05, 0.1, 0.3])
def test_binary_symmetric_markov_entropy_rate(e):
    src = MarkovSource([[1 - e, e], [e, 1 - e]])
    assert src.entropy_rate() == pytest.approx(h2(e), abs=1e-12)
    assert np.allclose(src.stationary, [0.5, 0.5])


def test_two_state_stationary_law_closed_form():
    a, b = 0.2, 0.05                                       # P(0->1) = a, P(1->0) = b
    src = MarkovSource([[1 - a, a], [b, 1 - b]])
    assert np.allclose(src.stationary, [b / (a + b), a / (a + b)], atol=1e-14)
    assert src.entropy_rate() == pytest.approx((b * h2(a) + a * h2(b)) / (a + b), abs=1e-12)


def test_markov_block_entropy_increments_equal_the_rate():
    src = MarkovSource.random(3, 2, seed=7, concentration=0.7)
    assert src.order == 2 and src.alphabet_size == 3
    h = [src.block_entropy(n) for n in range(1, 6)]
    for n in range(3, 6):                                  # H(X_n | X^{n-1}) = rate once n > k
        assert h[n - 1] - h[n - 2] == pytest.approx(src.entropy_rate(), abs=1e-12)
    b4 = src.block_pmf(4)
    assert np.allclose(b4.sum(axis=3), src.block_pmf(3)) and np.allclose(b4.sum(axis=0), src.block_pmf(3))


def test_markov_tensor_and_flat_forms_agree():
    rows = np.random.default_rng(0).dirichlet(np.ones(2), size=4)
    a, b = MarkovSource(rows, order=2), MarkovSource(rows.reshape(2, 2, 2), order=2)
    assert a.entropy_rate() == b.entropy_rate()
    assert np.array_equal(a.sample(100, seed=3), b.sample(100, seed=3))


def test_markov_sample_transitions_within_standard_error():
    P = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])
    x = MarkovSource(P).sample(60_000, seed=2)
    counts = np.zeros((3, 3))
    np.add.at(counts, (x[:-1], x[1:]), 1)
    n_i = counts.sum(axis=1, keepdims=True)
    se = np.sqrt(P * (1 - P) / n_i)
    assert np.all(np.abs(counts / n_i - P) < 5 * se)


@pytest.mark.parametrize("src", [MarkovSource.random(4, 1, seed=1), MarkovSource.random(2, 3, seed=2), HMM,
                                 IIDSource([0.2, 0.8])], ids=["markov1", "markov3", "hmm", "iid"])
def test_predictive_log_loss_converges_to_entropy_rate(src):
    x = src.sample(40_000, seed=11)
    loss = mean_log_loss_bits(src, x)
    m, se = batch_mean(loss)
    rate = src.entropy_rate_interval()
    assert isinstance(rate, Interval) and isinstance(src.entropy_rate(), float)
    gap = max(rate.lower - m, m - rate.upper, 0.0)
    assert gap < 5 * se, (m, se, rate)


@pytest.mark.parametrize("src", [MarkovSource.random(3, 2, seed=5), HMM, IIDSource([0.5, 0.5])])
def test_predictive_interface_matches_state_machine(src):
    x = src.sample(30, seed=0)
    fast = src.predictive_log_probs(x)
    slow = TokenSource.predictive_log_probs(src, x)            # the generic loop over advance()
    assert fast.shape == (31, src.alphabet_size)
    assert np.allclose(fast, slow, atol=1e-12)
    assert np.allclose(np.exp(fast).sum(axis=1), 1.0)
    # row t is the conditional law of the block pmf
    b = src.block_pmf(3)
    assert np.allclose(np.exp(fast[2]), b[x[0], x[1]] / b[x[0], x[1]].sum())
    s0 = src.start_state()
    before = np.array(s0, dtype=float).copy()
    src.advance(s0, int(x[0]))
    assert np.array_equal(np.array(s0, dtype=float), before)      # advance is pure


def test_markov_random_reproducible_and_validated():
    assert np.array_equal(MarkovSource.random(3, seed=9).transition, MarkovSource.random(3, seed=9).transition)
    with pytest.raises(InputError, match=r"The `concentration` parameter of MarkovSource.random must be > 0.0"):
        MarkovSource.random(3, concentration=0)


def test_markov_bad_inputs():
    with pytest.raises(DistributionError, match=r"The `P` parameter of MarkovSource must have rows that sum "
                                                r"to 1 \(tolerance 1e-09\). Row 1 sums to 0.9"):
        MarkovSource([[0.5, 0.5], [0.5, 0.4]])
    with pytest.raises(DistributionError, match=r"must be non-negative"):
        MarkovSource([[1.5, -0.5], [0.5, 0.5]])
    with pytest.raises(DistributionError, match=r"must contain only finite numbers"):
        MarkovSource([[np.nan, 0.5], [0.5, 0.5]])
    with pytest.raises(DistributionError, match=r"The `P` parameter of MarkovSource must define an irreducible "
                                                r"chain .* Got 2 closed classes"):
        MarkovSource(np.eye(2))
    with pytest.raises(ShapeError, match=r"must have shape \(K\*\*order, K\) = \(4, 2\) or \(K,\)\*\(order\+1\) for order 2"):
        MarkovSource(np.full((3, 2), 0.5), order=2)
    with pytest.raises(InputError, match=r"The `order` parameter of MarkovSource must be a positive integer"):
        MarkovSource([[1.0]], order=0)
    with pytest.raises(AlphabetError, match=r"must hold symbols in 0..1"):
        MarkovSource([[0.5, 0.5], [0.5, 0.5]]).predictive_log_probs([0, 2])
    with pytest.raises(InputError, match=r"The `seed` parameter of MarkovSource.sample must be None"):
        MarkovSource([[0.5, 0.5], [0.5, 0.5]]).sample(5, seed="x")
    with pytest.raises(InputError, match=r"too large for exact enumeration"):
        MarkovSource([[0.5, 0.5], [0.5, 0.5]]).block_pmf(40)


def test_transient_states_are_allowed():
    src = MarkovSource([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])   # state 0 is transient
    assert np.allclose(src.stationary, [0, 0.5, 0.5])
    assert src.entropy_rate() == pytest.approx(1.0)


# ------------------------------------------------------------------ hidden Markov
def test_hmm_bounds_tighten_with_horizon():
    ivs = [HMM.entropy_rate_interval(horizon=n) for n in range(1, 10)]
    for a, b in zip(ivs, ivs[1:]):
        assert b.lower >= a.lower - 1e-12 and b.upper <= a.upper + 1e-12
        assert b.width < a.width
    assert ivs[-1].width < 1e-3 and ivs[-1].units == "bits/symbol"


def test_hmm_with_identity_emissions_is_its_markov_chain():
    T = np.array([[0.7, 0.3], [0.4, 0.6]])
    iv = HiddenMarkovSource(T, np.eye(2)).entropy_rate_interval(horizon=3)
    truth = MarkovSource(T).entropy_rate()
    assert iv.lower == pytest.approx(truth, abs=1e-12) and iv.upper == pytest.approx(truth, abs=1e-12)


def test_hmm_block_entropy_and_pmf_agree():
    for n in (1, 2, 4):
        assert HMM.block_entropy(n) == pytest.approx(entropy(HMM.block_pmf(n)), abs=1e-12)
    assert np.allclose(HMM.block_pmf(4).sum(axis=3), HMM.block_pmf(3))
    assert np.allclose(HMM.block_pmf(4).sum(axis=0), HMM.block_pmf(3))     # stationary
    h = [HMM.block_entropy(n) for n in (7, 8)]
    assert h[1] - h[0] == pytest.approx(HMM.entropy_rate_interval(horizon=8).upper, abs=1e-12)


def test_hmm_sample_emission_frequencies():
    y, s = HMM.sample(40_000, seed=5, return_states=True)
    p = HMM.stationary @ HMM.E
    freq = np.bincount(y, minlength=3) / y.size
    # batch-means standard error: the states are correlated in time
    se = np.array([batch_mean((y == k).astype(float))[1] for k in range(3)])
    assert np.all(np.abs(freq - p) < 5 * se + 1e-12)


def test_hmm_bad_inputs():
    with pytest.raises(ShapeError, match=r"The `E` parameter of HiddenMarkovSource must have one row per "
                                         r"hidden state \(S = 2\)"):
        HiddenMarkovSource(np.eye(2)[::-1], np.full((3, 2), 0.5))
    with pytest.raises(DistributionError, match=r"The `E` parameter of HiddenMarkovSource must have rows that "
                                                r"sum to 1"):
        HiddenMarkovSource(np.eye(2)[::-1], [[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(DistributionError, match=r"The `T` parameter of HiddenMarkovSource must define an "
                                                r"irreducible chain"):
        HiddenMarkovSource(np.eye(2), np.full((2, 2), 0.5))
    with pytest.raises(InputError, match=r"The `horizon` parameter of HiddenMarkovSource.entropy_rate \(n = 30\)"
                                         r" is too large for exact enumeration"):
        HMM.entropy_rate(horizon=30)
    with pytest.raises(InputError, match=r"The `horizon` parameter of HiddenMarkovSource.entropy_rate_interval "
                                         r"\(n = 30\) is too large for exact enumeration"):
        HMM.entropy_rate_interval(horizon=30)
    with pytest.raises(InputError, match=r"has probability 0 under this source at position 1"):
        HiddenMarkovSource([[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [1.0, 0.0]]).predictive_log_probs([0, 1, 0])


# ------------------------------------------------------------------ feedback channel
CH = FeedbackChannel.example()
NOFB = FeedbackChannel.example(feedback=False)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("ch", [CH, NOFB], ids=["feedback", "no-feedback"])
def test_channel_recursions_match_exact_measures_on_the_joint_pmf(ch, n):
    p = ch.joint_pmf(n)
    assert p.shape == (2, 2) * n and p.sum() == pytest.approx(1.0)
    assert ch.directed_information(n) == pytest.approx(directed_information(p, n), abs=1e-12)
    assert ch.reverse_directed_information(n) == pytest.approx(reverse_directed_information(p, n), abs=1e-12)
    assert ch.causally_conditioned_entropy(n) == pytest.approx(causally_conditioned_entropy(p, n), abs=1e-12)
    assert ch.mutual_information(n) == pytest.approx(
        mutual_information(p, x_axes=tuple(range(0, 2 * n, 2))), abs=1e-12)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_channel_conservation_law_and_feedback(n):
    di, rdi, mi = CH.directed_information(n), CH.reverse_directed_information(n), CH.mutual_information(n)
    assert abs(mi - di - rdi) < 1e-12
    if n > 1:
        assert rdi > 0.01 and di < mi - 0.01
    assert NOFB.directed_information(n) == pytest.approx(NOFB.mutual_information(n), abs=1e-12)
    assert NOFB.reverse_directed_information(n) == pytest.approx(0.0, abs=1e-12)
    assert CH.has_feedback and not NOFB.has_feedback


def test_channel_rates_enclose_limits_and_nest():
    r6, r8 = CH.rates(6), CH.rates(8)
    assert r8.units == "bits/symbol"
    for name in ("causally_conditioned_entropy", "output_entropy", "input_entropy", "directed_information",
                 "reverse_directed_information", "mutual_information"):
        a, b = getattr(r6, name), getattr(r8, name)
        assert a.lower - 1e-12 <= b.lower <= b.upper <= a.upper + 1e-12, name
    assert r8.directed_information.width < 1e-5
    assert r8.reverse_directed_information.lower > 0.1
    # the policy term is exact: H(X_t | X^{t-1}, Y^{t-1}) = policy entropy for t >= 2
    assert (r8.directed_information_average + r8.reverse_directed_information_average
            == pytest.approx(r8.mutual_information_average, abs=1e-12))
    nofb = NOFB.rates(5).reverse_directed_information
    assert abs(nofb.lower) < 1e-12 and abs(nofb.upper) < 1e-12


def test_channel_transfer_entropy_matches_window_pmf():
    p = CH.joint_pmf(2)                                          # X1, Y1, X2, Y2 (stationary)
    window = np.transpose(p.sum(axis=2), (1, 0, 2))              # (Y1, X1, Y2)
    assert CH.transfer_entropy() == pytest.approx(stationary_transfer_entropy(window), abs=1e-12)
    assert CH.rates(3).transfer_entropy == pytest.approx(CH.transfer_entropy())
    assert CH.transfer_entropy(k=2, l=1) >= 0


def test_channel_predictive_laws_are_conditionals_of_the_joint_pmf():
    x, y = CH.sample(3, seed=4)
    p = CH.joint_pmf(3)
    causal = np.exp(CH.y_log_probs_causal(x, y))                 # (3, 2)
    cond = p[x[0], y[0], x[1], y[1], x[2], :]
    assert np.allclose(causal[2], cond / cond.sum())
    py = p.sum(axis=(0, 2, 4))
    marg = np.exp(CH.y_log_probs(y))                             # (4, 2)
    assert np.allclose(marg[2], py[y[0], y[1]] / py[y[0], y[1]].sum())
    assert np.allclose(marg[0], py.sum(axis=(1, 2)))
    xl = np.exp(CH.x_log_probs(x, y))                            # (4, 2)
    assert np.allclose(xl[2], CH.policy[x[1], y[1]])


def test_channel_samples_recover_exact_values():
    x, y = CH.sample(60_000, seed=8)
    assert np.array_equal((x, y)[0], CH.sample(60_000, seed=8)[0])
    pxy = CH.joint_pmf(1)
    freq = np.zeros((2, 2))
    np.add.at(freq, (x, y), 1 / x.size)
    se = np.array([[batch_mean(((x == a) & (y == b)).astype(float))[1] for b in range(2)] for a in range(2)])
    assert np.all(np.abs(freq - pxy) < 5 * se)
    # the information density log p(y_t|y^{t-1},x^t) - log p(y_t|y^{t-1}) averages to the DI rate
    idx = np.arange(y.size)
    dens = (CH.y_log_probs_causal(x, y)[idx, y] - CH.y_log_probs(y)[idx, y]) / math.log(2)
    m, se_m = batch_mean(dens)
    di = CH.rates(6).directed_information
    assert max(di.lower - m, m - di.upper, 0) < 5 * se_m


def test_channel_bad_inputs():
    pol, chan = CH.policy, CH.channel
    with pytest.raises(ShapeError, match=r"The `policy` parameter of FeedbackChannel must have shape "
                                         r"\(Kx, Ky, Kx\)"):
        FeedbackChannel(pol[:, :, :1], chan)
    with pytest.raises(ShapeError, match=r"The `channel` parameter of FeedbackChannel must have shape "
                                         r"\(Kx, S, Ky, S\) = \(2, S, 2, S\)"):
        FeedbackChannel(pol, chan[:, :, :, :1])
    bad = pol.copy()
    bad[0, 0] = [0.5, 0.6]
    with pytest.raises(DistributionError, match=r"The `policy` parameter of FeedbackChannel must have rows "
                                                r"that sum to 1 \(tolerance 1e-09\). Row 0"):
        FeedbackChannel(bad, chan)
    with pytest.raises(ShapeError, match=r"The `x` and `y` parameters of FeedbackChannel.y_log_probs_causal "
                                         r"must have the same length. Got 3 and 2."):
        CH.y_log_probs_causal([0, 1, 0], [0, 1])
    with pytest.raises(InputError, match=r"The `n` parameter of FeedbackChannel.joint_pmf is too large"):
        CH.joint_pmf(13)
    with pytest.raises(InputError, match=r"The `n` parameter of FeedbackChannel.directed_information must be "
                                         r"a positive integer. Got 0."):
        CH.directed_information(0)
    with pytest.raises(ShapeError, match=r"The `initial` parameter of FeedbackChannel must have shape"):
        FeedbackChannel(pol, chan, initial=np.full(8, 1 / 8))


def test_channel_lower_bound_may_condition_on_the_channel_state_only():
    """rates() conditions the causally conditioned term on S_0 instead of Z_0 = (X_0, Y_0, S_0): equal."""
    from seminfo.sources._forward import enumerate_given_start
    steps = [CH._mx, CH._my] * 5
    mu = CH.stationary.ravel()
    full = enumerate_given_start(mu, steps, what="n")[1::2]
    by_state = enumerate_given_start(mu, steps, what="n", labels=np.tile(np.arange(2), 4))[1::2]
    assert np.allclose(full, by_state, atol=1e-13, rtol=0)


def test_hmm_bounds_equal_brute_force_conditional_entropies_and_enclose_the_rate():
    """Both bounds from an explicit joint pmf of (S_1, Y_1..Y_n) summed over hidden paths, and every
    horizon's interval contains the (nested) horizon-12 interval, hence the rate."""
    import itertools
    S, K = HMM.n_states, HMM.alphabet_size
    fine = HMM.entropy_rate_interval(horizon=12)
    for n in (1, 2, 3, 4):
        joint = np.zeros((S,) + (K,) * n)                      # axes S_1, Y_1..Y_n
        for states in itertools.product(range(S), repeat=n):
            w_s = HMM.stationary[states[0]] * np.prod([HMM.T[a, b] for a, b in zip(states, states[1:])])
            for ys in itertools.product(range(K), repeat=n):
                joint[(states[0],) + ys] += w_s * np.prod([HMM.E[s, y] for s, y in zip(states, ys)])
        upper = entropy(joint.sum(axis=0)) - (entropy(joint.sum(axis=(0, n))) if n > 1 else 0.0)
        lower = entropy(joint) - entropy(joint.sum(axis=n))
        iv = HMM.entropy_rate_interval(horizon=n)
        assert iv.lower == pytest.approx(lower, abs=1e-12) and iv.upper == pytest.approx(upper, abs=1e-12)
        assert iv.lower <= fine.lower and fine.upper <= iv.upper


def test_non_numeric_transition_arrays_raise_input_errors():
    with pytest.raises(DistributionError, match=r"The `P` parameter of MarkovSource must be an array of "
                                                r"transition probabilities \(real numbers\). Got text values"):
        MarkovSource("ab")
    with pytest.raises(DistributionError, match=r"The `policy` parameter of FeedbackChannel must be an array of "
                                                r"probabilities \(real numbers\). Got text values"):
        FeedbackChannel("abc", CH.channel)
