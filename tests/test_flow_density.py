"""Prompt -> response information density, sub-martingale test, directed information, answers.

Ground truth comes from finite-state token models: a Markov chain used as a token model (the prompt
is the first symbol, so I(X; Y^n) = I(X_1; X_2) exactly) and the feedback channel of seminfo.sources
(exact I(X^n -> Y^n) by forward recursion).
"""

import math

import numpy as np
import pytest

from seminfo.errors import DistributionError, InputError, ShapeError
from seminfo.exact import mutual_information, relative_entropy
from seminfo.flow import (answer_information, density_terms, information_flow, multi_turn_flow,
                          prompt_information, submartingale_test)
from seminfo.models.base import ModelState, Tokenizer, TokenModel

P = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]])
PI0 = np.array([0.2, 0.3, 0.5])


class SymbolTokenizer(Tokenizer):
    vocab_size = 3

    def encode(self, data):
        data = data.encode() if isinstance(data, str) else data
        return list(data)

    def decode(self, ids):
        return bytes(ids)

    def fingerprint(self):
        return "symbols3"


class MarkovModel(TokenModel):
    """A Markov chain as a token model: p(x_1) = PI0, p(x_t | x_{t-1}) = P[x_{t-1}]."""

    name = "markov3"
    tokenizer = SymbolTokenizer()
    vocab_size = 3
    max_context = 40

    def __init__(self, P=P, PI0=PI0):
        self.P, self.PI0 = P, PI0

    def next_log_probs(self, ids, *, prefix=True):
        ids = np.asarray(ids)
        rows = np.log(self.P)[ids]                                        # (B, T, K)
        if prefix:
            first = np.broadcast_to(np.log(self.PI0), (ids.shape[0], 1, 3))
            rows = np.concatenate([first, rows], axis=1)
        return rows

    def begin(self, batch_size=1):
        return ModelState(np.tile(np.log(self.PI0), (batch_size, 1)), 0)

    def feed(self, state, ids):
        out = np.log(self.P)[np.asarray(ids)]
        return ModelState(out[:, -1], state.length + ids.shape[1]), out

    def fingerprint(self):
        return "markov3"


MODEL = MarkovModel()


@pytest.fixture
def sampling():
    """Tests that draw continuations need seminfo.models.sampling (the token-model package)."""
    import seminfo.models.sampling as module       # a broken import of the project fails, never skips
    return module


def test_flow_null_prompt_matches_closed_form():
    r = information_flow(MODEL, [0], [1, 1, 2])
    # conditional: P[0,1], P[1,1], P[1,2]; null marginal: PI0[1], then the same chain
    assert np.allclose(r.conditional_log2p, np.log2([P[0, 1], P[1, 1], P[1, 2]]))
    assert np.allclose(r.marginal_log2p, np.log2([PI0[1], P[1, 1], P[1, 2]]))
    assert np.allclose(r.info_density_bits, [math.log2(P[0, 1] / PI0[1]), 0, 0])
    assert r.total_bits == pytest.approx(math.log2(P[0, 1] / PI0[1]))
    assert r.expected_density_bits[0] == pytest.approx(relative_entropy(P[0], PI0))
    assert r.marginal == "null-prompt"
    assert r.tokens == ["\x01", "\x01", "\x02"]


def test_flow_prompt_set_mixture_is_exact():
    w = [0.5, 0.3, 0.2]
    y = [2, 0, 1]
    r = information_flow(MODEL, [1], y, prompts=[[0], [1], [2]], weights=w)
    # log p(y^t) = log sum_k w_k p(y^t | x_k)
    lik = np.array([[P[k, 2], P[k, 2] * P[2, 0], P[k, 2] * P[2, 0] * P[0, 1]] for k in range(3)])
    log_marg = np.log2(np.dot(w, lik))
    assert np.allclose(np.cumsum(r.marginal_log2p), log_marg)
    assert r.marginal == "prompt-set mixture (3 prompts)"
    assert np.all(r.expected_density_bits >= -1e-12)


def test_directed_information_over_prompt_set_recovers_mutual_information(sampling):
    w = np.array([0.5, 0.3, 0.2])
    truth = mutual_information(w[:, None] * P)                  # I(X_1; X_2) = I(X; Y^n) for a chain
    est = prompt_information(MODEL, [[0], [1], [2]], 4, weights=w, n_samples=200, seed=0)
    assert est.units == "bits"
    assert abs(est.value - truth) < 5 * est.stderr + 1e-12
    assert abs(est.extra["plain_mean_S_n_bits"] - truth) < 0.1


def test_submartingale_single_prompt(sampling):
    r = submartingale_test(MODEL, [0], 5, n_samples=400, seed=1)
    assert r.verdict == "consistent with a sub-martingale"
    assert np.all(r.mean_expected_increment_bits >= -1e-12)
    truth = relative_entropy(P[0], PI0)                          # E S_n = D(p(Y^n|x) || p(Y^n))
    assert abs(r.total.value - truth) < 5 * r.total.stderr
    assert r.total_rao_blackwell.value == pytest.approx(truth, abs=1e-12)   # later steps add exactly 0
    assert r.lower_bits.shape == (5,) and np.all(r.lower_bits <= r.upper_bits)


def test_submartingale_violation_detected_when_sampling_law_differs(sampling):
    # cold sampling picks y_1 = 0 (94%) where p(0 | x=0) = 0.5 < marginal 0.9: E[iota_1] = -0.66 bits
    model = MarkovModel(P=np.array([[0.5, 0.25, 0.25], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]]),
                        PI0=np.array([0.9, 0.05, 0.05]))
    r = submartingale_test(model, [0], 3, n_samples=200, temperature=0.2, seed=0)
    assert r.verdict.startswith("violated")
    assert r.upper_bits[0] < 0
    ok = submartingale_test(model, [0], 3, n_samples=200, seed=0)
    assert ok.verdict == "consistent with a sub-martingale"


def test_feedback_channel_directed_information_recovered():
    from seminfo.sources import FeedbackChannel
    fc = FeedbackChannel.example()
    n, S = 4, 3000
    rng = np.random.default_rng(0)
    sums, rb = [], []
    for _ in range(S):
        x, y = fc.sample(n, seed=rng)
        d = density_terms(fc.y_log_probs_causal(x, y), fc.y_log_probs(y)[:n], y)
        sums.append(d["iota"].sum())
        rb.append(d["kl"].sum())
        assert np.all(d["kl"] >= -1e-12)                         # expected increments are >= 0
    truth = fc.directed_information(n)
    for v in (np.array(sums), np.array(rb)):
        assert abs(v.mean() - truth) < 5 * v.std(ddof=1) / math.sqrt(S)


def test_multi_turn_directed_form():
    r = multi_turn_flow(MODEL, [("input", [0]), ("output", [1, 2]), ("input", [0]), ("output", [0])])
    # output tokens 1, 2, 0 preceded by 0, 1, 0 in the full context; marginal: outputs alone 1, 2, 0
    assert np.allclose(r.conditional_log2p, np.log2([P[0, 1], P[1, 2], P[0, 0]]))
    assert np.allclose(r.marginal_log2p, np.log2([PI0[1], P[1, 2], P[2, 0]]))
    assert r.marginal == "null-input (directed)"
    with pytest.raises(InputError, match="at least one 'output' turn"):
        multi_turn_flow(MODEL, [("input", [0])])
    with pytest.raises(InputError, match="role 'input' or 'output'"):
        multi_turn_flow(MODEL, [("user", [0])])


def chain_paths(start, n, S, seed):
    rng = np.random.default_rng(seed)
    out = np.empty((S, n), dtype=int)
    prev = np.full(S, start)
    for t in range(n):
        prev = (rng.random((S, 1)) < P[prev].cumsum(1)).argmax(1)
        out[:, t] = prev
    return out


def test_answer_posteriors_exact_and_drift():
    # answers "1" and "2" after the last reasoning token y_t: pi_t(a) = P[y_t, a] / (P[y_t,1] + P[y_t,2])
    paths = chain_paths(0, 3, 300, seed=0)                       # reasoning paths from the model's law
    r = answer_information(MODEL, [0], [[1], [2]], paths=paths.tolist(), answer_cue="")
    assert np.array_equal(r.path_ids, paths)
    S = r.posterior.shape[0]
    assert r.posterior.shape == (S, 4, 2)
    last = np.concatenate([np.zeros((S, 1), dtype=int), r.path_ids], axis=1)     # question, then path
    expect = P[last][:, :, 1:] / P[last][:, :, 1:].sum(-1, keepdims=True)
    assert np.allclose(r.posterior, expect)
    assert np.allclose(r.candidate_mass, P[last][:, :, 1:].sum(-1))
    assert np.allclose(r.information_bits[:, 0], 0)
    # exact E[pi_t] from the chain's t-step law, versus the estimated drift
    q = np.eye(3)[0]
    pi = lambda s: P[s, 1:] / P[s, 1:].sum()                      # noqa: E731
    for t in range(1, 4):
        q = q @ P
        exact = sum(q[s] * pi(s) for s in range(3)) - pi(0)
        assert np.all(np.abs(r.drift[t] - exact) < 5 * r.drift_stderr[t] + 1e-12)
    assert r.martingale_pvalue < 1e-3                            # this chain is far from a martingale


def test_answer_sampled_paths(sampling):
    r = answer_information(MODEL, [0], [[1], [2]], n_paths=5, n_tokens=4, answer_cue="", seed=0)
    assert r.posterior.shape == (5, 5, 2)
    assert np.allclose(r.posterior.sum(-1), 1)
    assert np.allclose(r.gain_per_token_bits.sum(1), r.information_bits[:, -1])


def test_bad_input():
    with pytest.raises(InputError, match="The `prompt` parameter of information_flow must not be empty"):
        information_flow(MODEL, "", [1])
    with pytest.raises(InputError, match="The `response` parameter of information_flow must not be empty"):
        information_flow(MODEL, [0], [])
    with pytest.raises(InputError, match="needs a `response` or a number of tokens"):
        information_flow(MODEL, [0])
    with pytest.raises(InputError, match="more than the model's context of 40"):
        information_flow(MODEL, [0], n_tokens=40)
    with pytest.raises(DistributionError, match="The `weights` parameter of information_flow must sum to 1"):
        information_flow(MODEL, [0], [1], prompts=[[0], [1]], weights=[0.5, 0.6])
    with pytest.raises(DistributionError, match="non-negative"):
        information_flow(MODEL, [0], [1], prompts=[[0], [1]], weights=[1.5, -0.5])
    with pytest.raises(ShapeError, match="one weight per prompt"):
        information_flow(MODEL, [0], [1], prompts=[[0], [1]], weights=[1.0])
    with pytest.raises(DistributionError, match="must be a sequence of numbers"):
        information_flow(MODEL, [0], [1], prompts=[[0], [1]], weights=["a", 0.5])
    with pytest.raises(InputError, match="The `answers` parameter of answer_information must not be empty"):
        answer_information(MODEL, [0], [[1], ""], answer_cue="")
    with pytest.raises(InputError, match="at least 2 candidate"):
        answer_information(MODEL, [0], [[1]], answer_cue="")
    with pytest.raises(InputError, match="symbols in 0..2"):
        information_flow(MODEL, [0], [5])


def test_density_terms_expectation_is_relative_entropy():
    # sum_y p(y) iota(y) = D(p || q) >= 0 for any pair of next-token laws (the sub-martingale step)
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.full(6, 0.5))
        q = rng.dirichlet(np.full(6, 0.5))
        ys = np.arange(6)
        d = density_terms(np.log(np.tile(p, (6, 1))), np.log(np.tile(q, (6, 1))), ys)
        assert np.dot(p, d["iota"]) == pytest.approx(d["kl"][0], abs=1e-12)
        assert d["kl"][0] == pytest.approx(relative_entropy(p, q), abs=1e-12)
        assert d["entropy"][0] >= 0
    with pytest.raises(ShapeError, match="shape"):
        density_terms(np.zeros((2, 3)), np.zeros((2, 4)), np.array([0, 1]))


class ChannelTokenizer(Tokenizer):
    vocab_size = 4                                   # 0, 1: inputs x; 2, 3: outputs y

    def encode(self, data):
        return [int(c) for c in (data.decode() if isinstance(data, bytes) else data)]

    def decode(self, ids):
        return "".join(map(str, ids)).encode()

    def fingerprint(self):
        return "channel4"


class FeedbackChannelModel(TokenModel):
    """The feedback channel of seminfo.sources as a token model over the stream x_1 y_1 x_2 y_2 ...

    Inputs are tokens 0/1, outputs 2/3. A row holding inputs is read as interleaved pairs (the
    encoder's law before each x, the channel's p(y_t | y^{t-1}, x^t) before each y); a row of outputs
    alone gets the exact output marginal p(y_t | y^{t-1}) (forward recursion). So the null-input
    marginal of multi_turn_flow is exact here and E S_n = I(X^n -> Y^n).
    """

    name = "feedback-channel"
    tokenizer = ChannelTokenizer()
    vocab_size = 4

    def __init__(self):
        from seminfo.sources import FeedbackChannel
        self.fc = FeedbackChannel.example()

    def _row(self, ids):
        out = np.full((ids.size + 1, 4), -np.inf)
        if np.all(ids >= 2):                                              # outputs alone
            out[:, 2:] = self.fc.y_log_probs(ids - 2)
            return out
        x, y = ids[0::2], ids[1::2] - 2
        assert ids.size % 2 == 0 and np.all(x < 2) and np.all(y >= 0)    # test helper: pairs only
        out[0::2, :2] = self.fc.x_log_probs(x, y)
        out[1::2, 2:] = self.fc.y_log_probs_causal(x, y)
        return out

    def next_log_probs(self, ids, *, prefix=True):
        assert prefix
        return np.stack([self._row(np.asarray(r)) for r in np.asarray(ids)])

    def begin(self, batch_size=1):
        raise NotImplementedError

    def feed(self, state, ids):
        raise NotImplementedError

    def fingerprint(self):
        return "feedback-channel"


def test_multi_turn_flow_recovers_directed_information_of_feedback_channel():
    # the directed form through the public API, on a stateful channel with feedback used as a token
    # model: E sum_t iota_t = E sum_t D_t = I(X^n -> Y^n) exactly (and != I(X^n; Y^n) with feedback)
    model = FeedbackChannelModel()
    fc = model.fc
    n, S = 4, 600
    rng = np.random.default_rng(5)
    sums, rb = [], []
    for _ in range(S):
        x, y = fc.sample(n, seed=rng)
        turns = [t for a, b in zip(x, y) for t in (("input", [int(a)]), ("output", [int(b) + 2]))]
        r = multi_turn_flow(model, turns)
        assert r.token_ids == (y + 2).tolist()
        assert np.all(r.expected_density_bits >= -1e-12)                 # sub-martingale increments
        sums.append(r.total_bits)
        rb.append(r.expected_density_bits.sum())
    truth = fc.directed_information(n)
    assert abs(fc.mutual_information(n) - truth) > 0.05                 # feedback: DI != MI
    for v in (np.array(sums), np.array(rb)):
        assert abs(v.mean() - truth) < 5 * v.std(ddof=1) / math.sqrt(S)


def test_submartingale_with_prompt_set_mixture(sampling):
    # fixed x = 0, mixture marginal over the set: E S_n = D(P[0] || sum_k w_k P[k]) (a Markov chain
    # forgets the prompt after the first token, so later increments are exactly 0)
    w = np.array([0.5, 0.3, 0.2])
    r = submartingale_test(MODEL, [0], 3, n_samples=300, prompts=[[0], [1], [2]], weights=w, seed=2)
    truth = relative_entropy(P[0], w @ P)
    assert r.marginal == "prompt-set mixture (3 prompts)"
    assert r.verdict == "consistent with a sub-martingale"
    assert abs(r.total.value - truth) < 5 * r.total.stderr
    assert r.total_rao_blackwell.value == pytest.approx(truth, abs=1e-12)
    assert np.all(r.lower_bits[1:] <= 1e-12) and np.all(r.upper_bits[1:] >= -1e-12)
    with pytest.raises(InputError, match="more than the model's context of 40"):
        submartingale_test(MODEL, [0], 3, prompts=[[0], [1] * 38], seed=0)
