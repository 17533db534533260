"""Tests of finite-state sources as token models (seminfo.models.source_model).

Ground truth: on its own samples a source's mean surprisal converges to its exact entropy rate
(Markov: closed form; HMM: inside the Cover-Thomas certified interval), within the standard error
of batch means (the surprisals are dependent, so batches of 1/40 of the sample are averaged first).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seminfo.errors import AlphabetError, InputError, ShapeError
from seminfo.models.base import TokenModel
from seminfo.models.source_model import SourceModel, SymbolTokenizer
from seminfo.sources import HiddenMarkovSource, IIDSource, MarkovSource


def _batch_mean_se(bits: np.ndarray, n_batches: int = 40) -> tuple[float, float]:
    b = bits[: bits.size // n_batches * n_batches].reshape(n_batches, -1).mean(axis=1)
    return float(bits.mean()), float(b.std(ddof=1) / math.sqrt(n_batches))


def test_iid_closed_form():
    m = SourceModel(IIDSource([0.5, 0.25, 0.25]))
    s, h = m.token_stats(np.array([[0, 1, 2]]))
    np.testing.assert_allclose(s / math.log(2), [[1.0, 2.0, 2.0]], rtol=1e-14)
    np.testing.assert_allclose(h / math.log(2), 1.5, rtol=1e-14)
    assert m.prefix == () and m.vocab_size == 3


def test_markov_mean_surprisal_equals_entropy_rate():
    src = MarkovSource.random(4, order=2, seed=5, concentration=0.5)
    m = SourceModel(src)
    x = src.sample(40_000, seed=6)
    s, h = m.token_stats(x[None])
    mean, se = _batch_mean_se(s[0] / math.log(2))
    truth = src.entropy_rate()
    assert abs(mean - truth) < 5 * se
    # the predictive entropy averages to the rate as well (it is its conditional expectation)
    mean_h, se_h = _batch_mean_se(h[0] / math.log(2))
    assert abs(mean_h - truth) < 5 * se_h + 1e-3


def test_hmm_mean_surprisal_inside_certified_interval():
    src = HiddenMarkovSource([[0.9, 0.1], [0.2, 0.8]], [[0.8, 0.15, 0.05], [0.1, 0.3, 0.6]])
    iv = src.entropy_rate_interval(horizon=10)
    assert iv.width < 1e-3
    x = src.sample(30_000, seed=1)
    s, _ = SourceModel(src).token_stats(x[None])
    mean, se = _batch_mean_se(s[0] / math.log(2))
    assert iv.lower - 5 * se <= mean <= iv.upper + 5 * se


def test_contract_parallel_incremental_and_predictive_agree():
    src = MarkovSource([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])      # a zero transition
    m = SourceModel(src, name="toy")
    ids = np.array([[0, 0, 1, 2, 2], [1, 2, 0, 1, 1]])
    par = m.next_log_probs(ids)
    for b in range(2):
        np.testing.assert_array_equal(par[b], src.predictive_log_probs(ids[b]))
    s0 = m.begin(2)
    s1, a = m.feed(s0, ids[:, :2])
    s2, c = m.feed(s1, ids[:, 2:])
    np.testing.assert_allclose(np.concatenate([s0.log_probs[:, None], a, c], axis=1), par, rtol=1e-14)
    assert s2.length == 5 and np.array_equal(s2.log_probs, c[:, -1])
    np.testing.assert_array_equal(m.next_log_probs(ids, prefix=False), par[:, 1:])
    s, h = m.token_stats(ids, n_context=1)
    with np.errstate(invalid="ignore"):                    # the reference meets 0 * -inf
        s_ref, h_ref = TokenModel.token_stats(m, ids, n_context=1)
    assert np.isfinite(h).all()
    np.testing.assert_allclose(s, s_ref)
    np.testing.assert_allclose(h, h_ref)
    assert m.fingerprint() != SourceModel(MarkovSource([[0.5, 0.5], [0.5, 0.5]])).fingerprint()
    assert m.fingerprint() == SourceModel(src).fingerprint()


def test_symbol_tokenizer_bytes_and_large_alphabets():
    tok = SymbolTokenizer(3)
    assert tok.encode(bytes([2, 0, 1])) == [2, 0, 1] and tok.decode([2, 0, 1]) == bytes([2, 0, 1])
    with pytest.raises(AlphabetError, match="must hold bytes below 3"):
        tok.encode(b"\x05")
    big = SourceModel(IIDSource(np.full(300, 1 / 300)))
    with pytest.raises(AlphabetError, match="needs an alphabet of at most 256 symbols. Got 300 symbols"):
        big.tokenizer.encode(b"ab")
    lp = big.next_log_probs(np.array([[299, 0]]))                            # ids still work
    np.testing.assert_allclose(lp, -math.log(300))


def test_input_errors():
    with pytest.raises(InputError, match="The `source` parameter of SourceModel must be a token source"):
        SourceModel(object())
    m = SourceModel(IIDSource([0.5, 0.5]))
    with pytest.raises(AlphabetError, match=r"The `ids` parameter of SourceModel.next_log_probs must hold "
                                            r"token ids in 0..1. Got 2."):
        m.next_log_probs(np.array([[0, 2]]))
    with pytest.raises(ShapeError, match="one row per context of the state"):
        m.feed(m.begin(1), np.array([[0], [1]]))
    with pytest.raises(InputError, match="The `batch_size` parameter of SourceModel.begin must be a "
                                         "positive integer. Got 0."):
        m.begin(0)
