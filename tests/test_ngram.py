"""Tests of the interpolated modified Kneser-Ney model (seminfo.models.ngram).

Ground truth: a direct, dictionary-based transcription of Chen & Goodman's interpolated modified KN
(with KenLM's start-of-sequence rule for lower-order counts); normalisation and positivity on every
context (also with hypothesis); the cross-entropy on a Markov source against its exact entropy rate.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.errors import AlphabetError, InputError, ModelMismatchError, ShapeError
from seminfo.models.base import TokenModel, Tokenizer
from seminfo.models.ngram import KneserNeyModel
from seminfo.models.source_model import SymbolTokenizer
from seminfo.sources import MarkovSource


# ---------------------------------------------------------------------- reference implementation
def _ref_discounts(values):
    n = [sum(1 for c in values if c == i) for i in (1, 2, 3, 4)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] > 0 else float("nan")
    fb = y if 0 < y <= 1 else 0.5
    out = []
    for i in range(3):
        est = (i + 1) - (i + 2) * y * n[i + 1] / n[i] if n[i] > 0 and math.isfinite(y) else float("nan")
        out.append(est if math.isfinite(est) and 0 < est <= i + 1 else fb)
    return out


class RefKN:
    """Textbook interpolated modified Kneser-Ney, one probability at a time (slow, obvious)."""

    def __init__(self, seqs, N, K, prefix=()):
        self.N, self.K = N, K
        raw = {k: Counter() for k in range(1, N + 1)}
        lefts = {k: defaultdict(set) for k in range(1, N + 1)}
        start = {k: Counter() for k in range(1, N + 1)}
        P = len(prefix)
        for s in seqs:
            s = list(prefix) + [int(v) for v in s]
            for t in range(P, len(s)):
                for k in range(1, N + 1):
                    if t - k + 1 < 0:
                        continue
                    g = tuple(s[t - k + 1:t + 1])
                    raw[k][g] += 1
                    if t - k >= 0:
                        lefts[k][g].add(s[t - k])
                    else:
                        start[k][g] += 1
        self.counts = {N: dict(raw[N])}
        for k in range(1, N):
            self.counts[k] = {g: len(lefts[k][g]) + start[k][g] for g in raw[k]}
        self.D = {k: _ref_discounts(list(self.counts[k].values())) for k in self.counts}

    def prob(self, w, history):
        p = 1.0 / self.K
        for k in range(1, self.N + 1):
            if len(history) < k - 1:
                break
            ctx = tuple(history[len(history) - (k - 1):]) if k > 1 else ()
            row = {g[-1]: c for g, c in self.counts[k].items() if g[:-1] == ctx}
            S = sum(row.values())
            if S == 0:
                continue
            D = self.D[k]
            d = lambda c: 0.0 if c == 0 else D[min(c, 3) - 1]   # noqa: E731
            gamma = sum(d(c) for c in row.values()) / S
            c = row.get(w, 0)
            p = max(c - d(c), 0.0) / S + gamma * p
        return p


# ---------------------------------------------------------------------- exactness
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_reference_on_every_context(order):
    rng = np.random.default_rng(order)
    K = 6
    seqs = [rng.integers(0, 5, size=n) for n in (40, 3, 25, 0, 60)]          # token 5 never seen
    prefix = (5,)
    model = KneserNeyModel.fit(seqs, order=order, vocab_size=K, prefix=prefix)
    ref = RefKN(seqs, order, K, prefix)
    ids = np.concatenate([seqs[0][:10], rng.integers(0, K, size=10)])[None]  # seen, then unseen contexts
    lp = model.next_log_probs(ids)
    hist = list(prefix)
    for t in range(ids.shape[1] + 1):
        want = np.array([ref.prob(w, hist[-(order - 1):] if order > 1 else []) for w in range(K)])
        np.testing.assert_allclose(np.exp(lp[0, t]), want, rtol=1e-12, atol=0)
        if t < ids.shape[1]:
            hist.append(int(ids[0, t]))


def test_short_history_without_prefix_matches_reference():
    seqs = [[0, 1, 2, 0, 1, 2, 1, 1, 0], [2, 2, 1, 0]]
    model = KneserNeyModel.fit(seqs, order=3, vocab_size=4)
    ref = RefKN(seqs, 3, 4)
    lp = model.next_log_probs(np.array([[2, 2, 1]]))
    for t, hist in enumerate([[], [2], [2, 2], [2, 1]]):
        want = [ref.prob(w, hist) for w in range(4)]
        np.testing.assert_allclose(np.exp(lp[0, t]), want, rtol=1e-12)


def test_unigram_closed_form():
    # order 1 uses raw counts 4, 2, 1, 1, 0: n1 = 2, n2 = 1, n3 = 0, n4 = 1, so Y = 1/2,
    # D1 = 1 - 2Y n2/n1 = 1/2, D2 = 2 - 3Y n3/n2 = 2, D3+ undefined (n3 = 0) -> falls back to Y
    m = KneserNeyModel.fit([[0, 0, 0, 0, 1, 1, 2, 3]], order=1, vocab_size=5)
    assert m.discounts[1] == (0.5, 2.0, 0.5) and m.discounts["fallbacks"][1] == ["D3"]
    gamma = (0.5 + 2.0 + 0.5 + 0.5) / 8
    want = np.array([3.5, 0.0, 0.5, 0.5, 0.0]) / 8 + gamma / 5
    np.testing.assert_allclose(np.exp(m.begin(1).log_probs[0]), want, rtol=1e-14)


# ---------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(data=st.data(), order=st.integers(1, 5), K=st.integers(1, 9))
def test_every_context_normalised_and_positive(data, order, K):
    seqs = data.draw(st.lists(st.lists(st.integers(0, K - 1), max_size=30), max_size=4))
    prefix = data.draw(st.lists(st.integers(0, K - 1), max_size=2))
    query = data.draw(st.lists(st.integers(0, K - 1), min_size=1, max_size=12))
    m = KneserNeyModel.fit(seqs, order=order, vocab_size=K, prefix=prefix)
    p = np.exp(m.next_log_probs(np.array([query])))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    assert p.min() > 0


@pytest.mark.parametrize("order", [1, 2, 4])
def test_incremental_equals_parallel_and_token_stats_match_base(order):
    rng = np.random.default_rng(7)
    m = KneserNeyModel.fit([rng.integers(0, 8, 300)], order=order, vocab_size=10, prefix=(9,))
    ids = rng.integers(0, 10, size=(3, 11))
    par = m.next_log_probs(ids)
    s0 = m.begin(3)
    s1, a = m.feed(s0, ids[:, :4])
    s2, b = m.feed(s1, ids[:, 4:])
    assert s2.length == 1 + 11 and np.array_equal(s2.log_probs, b[:, -1])
    assert np.array_equal(np.concatenate([s0.log_probs[:, None], a, b], axis=1), par)
    for kw in ({}, {"n_context": 3}, {"n_context": 2, "prefix": False}):
        s, h = m.token_stats(ids, **kw)
        s_ref, h_ref = TokenModel.token_stats(m, ids, **kw)
        np.testing.assert_allclose(s, s_ref, rtol=1e-12)
        np.testing.assert_allclose(h, h_ref, rtol=1e-12)
        s1, none = m.token_stats(ids, entropy=False, **kw)
        assert none is None and np.array_equal(s1, s)
        assert TokenModel.token_stats(m, ids, entropy=False, **kw)[1] is None


def test_without_prefix_the_state_is_the_last_tokens_only():
    rng = np.random.default_rng(3)
    m = KneserNeyModel.fit([rng.integers(0, 4, 200)], order=3, vocab_size=4)
    ids = rng.integers(0, 4, size=(1, 9))
    lp = m.next_log_probs(ids, prefix=False)
    # after ids[:t+1] only the last two tokens matter
    for t in range(1, 9):
        alone = m.next_log_probs(ids[:, t - 1:t + 1], prefix=False)[0, -1]
        assert np.array_equal(lp[0, t], alone)


def test_cross_entropy_on_markov_source_approaches_entropy_rate():
    src = MarkovSource.random(3, order=2, seed=1, concentration=0.7)
    train, test = src.sample(60_000, seed=2), src.sample(20_000, seed=3)
    m = KneserNeyModel.fit([train], order=3, vocab_size=3)
    s, _ = m.token_stats(test[None], n_context=2)
    bits = s[0] / math.log(2)
    blocks = bits[: bits.size // 50 * 50].reshape(50, -1).mean(axis=1)        # batch means
    se = blocks.std(ddof=1) / math.sqrt(50)
    truth = src.entropy_rate()
    # E[surprisal] = H + D(p || p_model) >= H; the KL of a 3-gram fit on 60k symbols is < 0.01 bit
    assert truth - 5 * se <= bits.mean() <= truth + 5 * se + 0.01


# ---------------------------------------------------------------------- persistence
def test_save_load_round_trip_and_tampering(tmp_path):
    rng = np.random.default_rng(0)
    m = KneserNeyModel.fit([rng.integers(0, 20, 500), rng.integers(0, 20, 50)], order=3, vocab_size=20,
                           prefix=(0,), name="toy")
    m.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["ngram.json", "ngram.npz"]
    back = KneserNeyModel.load(tmp_path / "m")
    ids = rng.integers(0, 20, size=(2, 15))
    assert np.array_equal(back.next_log_probs(ids), m.next_log_probs(ids))
    assert back.fingerprint() == m.fingerprint() and back.name == "toy" and back.prefix == (0,)
    other = KneserNeyModel.fit([rng.integers(0, 20, 500)], order=3, vocab_size=20)
    assert other.fingerprint() != m.fingerprint()
    # damaged counts are detected through the recorded fingerprint
    with np.load(tmp_path / "m" / "ngram.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["counts_3"] = arrays["counts_3"] + 1
    np.savez(tmp_path / "m" / "ngram.npz", **arrays)
    with pytest.raises(ModelMismatchError, match="does not match its recorded fingerprint"):
        KneserNeyModel.load(tmp_path / "m")


def test_load_checks_tokenizer(tmp_path):
    class Tok(Tokenizer):
        vocab_size = 3

        def encode(self, data):
            return list(data)

        def decode(self, ids):
            return bytes(ids)

        def fingerprint(self):
            return "ab" * 32
    m = KneserNeyModel.fit([[0, 1, 2, 1]], order=2, vocab_size=3, tokenizer=Tok())
    m.save(tmp_path)
    with pytest.raises(InputError, match="The `tokenizer` parameter of KneserNeyModel.load is required"):
        KneserNeyModel.load(tmp_path)
    with pytest.raises(ModelMismatchError, match="does not belong to the model"):
        KneserNeyModel.load(tmp_path, tokenizer=SymbolTokenizer(3))
    assert KneserNeyModel.load(tmp_path, tokenizer=Tok()).fingerprint() == m.fingerprint()
    with pytest.raises(InputError, match="must be a directory written by KneserNeyModel.save"):
        KneserNeyModel.load(tmp_path / "nowhere")


# ---------------------------------------------------------------------- input errors
def test_input_errors():
    with pytest.raises(InputError, match=r"The `order` parameter of KneserNeyModel.fit must be a positive "
                                         r"integer. Got 0."):
        KneserNeyModel.fit([[0, 1]], order=0, vocab_size=2)
    with pytest.raises(AlphabetError, match=r"The `sequences` parameter of KneserNeyModel.fit must hold "
                                            r"token ids in 0..1. Got 2."):
        KneserNeyModel.fit([[0, 2]], order=2, vocab_size=2)
    with pytest.raises(ShapeError, match="must hold 1-D sequences. Sequence 0 has shape"):
        KneserNeyModel.fit([[[0, 1]]], order=2, vocab_size=2)
    with pytest.raises(InputError, match="must be a list of token-id sequences"):
        KneserNeyModel.fit("abc", order=2, vocab_size=2)
    with pytest.raises(ModelMismatchError, match="beyond `vocab_size` = 2"):
        KneserNeyModel.fit([[0, 1]], order=2, vocab_size=2, tokenizer=SymbolTokenizer(5))
    m = KneserNeyModel.fit([[0, 1]], order=2, vocab_size=2)
    with pytest.raises(ShapeError, match=r"must be a 2-D \(batch, time\) array of token ids"):
        m.next_log_probs(np.array([0, 1]))
    with pytest.raises(AlphabetError, match="must hold token ids in 0..1. Got 3."):
        m.next_log_probs(np.array([[0, 3]]))
    with pytest.raises(InputError, match="`n_context` parameter of token_stats must be >= 1"):
        m.token_stats(np.array([[0, 1]]), prefix=False)
    with pytest.raises(ShapeError, match="one row per context of the state"):
        m.feed(m.begin(2), np.array([[0]]))


# ---------------------------------------------------------------------- the built-in model
def test_builtin_ngram_is_built_cached_and_scores_the_corpus():
    from seminfo.models.builtin import corpus_path
    from seminfo.models.ngram import BUILTIN_ORDER, builtin_ngram
    m = builtin_ngram()                       # about 10 s the first time, then read from the cache
    assert (m.name, m.order, m.vocab_size, m.prefix) == ("builtin:ngram", BUILTIN_ORDER, 4096, (0,))
    assert m.n_train_tokens > 1_000_000 and builtin_ngram().fingerprint() == m.fingerprint()
    text = corpus_path("valid").read_bytes()[:20_000]
    ids = np.asarray(m.tokenizer.encode(text), dtype=np.int64)
    assert m.tokenizer.decode(ids.tolist()) == text
    s, _ = m.token_stats(ids[None])
    bits_per_byte = s.sum() / math.log(2) / len(text)
    assert 1.2 < bits_per_byte < 2.2          # unigram: 2.8, docs/ngram.md: 1.48 on the full split
    p = np.exp(m.next_log_probs(ids[None, :50]))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    assert p.min() > 0
