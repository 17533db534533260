"""Context mixing on the portable path: exact integer rows, a bounded cost, smaller archives where text repeats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seminfo.coding import compress, decompress, read_header
from seminfo.coding.mixing import ContextMixer
from seminfo.errors import InputError

LOG = b"".join(b"2026-12-05 10:%02d:%02d status installed libfoo%d:amd64 1.2.%d\n" % (i % 60, (7 * i) % 60, i % 5, i % 3)
               for i in range(60))


def test_rows_are_integers_that_code_every_token_and_repeat_exactly():
    rng = np.random.default_rng(0)
    K = 50
    F = rng.integers(1, 1 << 24, size=(40, K)).astype(np.int64)
    F = F * ((1 << 30) // F.sum(1, keepdims=True))                     # rows adding up to about 2^30
    feeds = rng.integers(0, 5, size=40)
    a, b = ContextMixer(K).rows(F, feeds), ContextMixer(K).rows(F, feeds)
    assert a.dtype == np.int64 and np.array_equal(a, b)
    assert a.min() >= 1 and a.sum(1).max() < 1 << 31
    # after a few repeats of the same pair the context model carries most of the mass of what follows
    m = ContextMixer(K)
    rows = m.rows(np.tile(F[:1], (30, 1)), np.array([3, 4] * 15))
    assert rows[-1, 4] / rows[-1].sum() > 0.5 > F[0, 4] / F[0].sum()              # last token: 4


def test_mixing_costs_at_most_its_bound_and_pays_on_repetition():
    """Two-expert mixture with fixed share: never more than log2(1/0.9) + n (2^-6 / ln 2 + slack) bits
    above the model alone; on a repetitive log it is far below."""
    text = "Entropy is the unit; tokens carry it. Granger asked what the past explains.\n".encode()
    for data, pays in ((text, False), (LOG, True)):
        plain = compress(data, "builtin:ngram", mix=False, methods="model")
        mixed = compress(data, "builtin:ngram", methods="model")
        assert decompress(mixed.archive) == data and decompress(plain.archive) == data
        n = mixed.tokens
        bound = plain.cross_entropy_bits + math.log2(1 / 0.9) + n * (2 ** -6 / math.log(2) + 0.01)
        assert mixed.cross_entropy_bits <= bound
        if pays:
            assert mixed.cross_entropy_bits < 0.7 * plain.cross_entropy_bits
            assert len(mixed.archive) < len(plain.archive)


def test_the_header_says_whether_rows_were_mixed():
    on = compress(LOG, "builtin:ngram", methods="model")
    off = compress(LOG, "builtin:ngram", mix=False, methods="model")
    assert read_header(on.archive).mixed and not read_header(off.archive).mixed
    assert decompress(off.archive) == LOG


def test_mixing_escaped_bytes_and_several_blocks_round_trip():
    data = LOG[:600] + bytes(range(256)) + LOG[600:900]
    r = compress(data, "builtin:gpt", blocks=3, methods="model")
    assert read_header(r.archive).mixed
    assert decompress(r.archive) == data


def test_mixing_needs_the_portable_path():
    with pytest.raises(InputError, match="`mix` parameter of compress needs the portable path"):
        compress(b"abc", "builtin:ngram", portable=False, mix=True)
    r = compress(b"abc abc abc", "builtin:ngram", portable=False)
    assert not read_header(r.archive).mixed


def test_the_kernel_rows_are_the_numpy_rows():
    """Where the C kernels are built a row is one kernel call: the same integers as numpy, weight and
    all, on random rows with repeating contexts (every back-off level used)."""
    from seminfo.models.portable import fast
    if not fast.available():
        pytest.skip(f"no kernels here: {fast.status()}")
    rng = np.random.default_rng(3)
    for K, span in ((5, 5), (300, 12), (4096, 60)):
        a, b = ContextMixer(K), ContextMixer(K, kernels=False)
        assert a._lib is not None and b._lib is None
        for t in rng.integers(0, span, size=300):
            F = rng.integers(1, 1 << rng.integers(1, 31), size=K)
            np.testing.assert_array_equal(a.mix(F), b.mix(F))
            a.update(int(t))
            b.update(int(t))
            assert a.w == b.w


def test_whole_runs_of_rows_and_their_sums_are_the_numpy_ones():
    """ContextMixer.rows mixes a run of rows in one kernel call (counts kept in C hash maps, grown
    many times here) and gives each row's sum before its token and its total: numpy's integers."""
    rng = np.random.default_rng(4)
    K = 700
    F = rng.integers(1, 1 << 24, size=(900, K)).astype(np.int64)
    feeds = np.concatenate([rng.integers(0, K, size=600), rng.integers(0, 9, size=300)])   # many contexts, then repeats
    a, b = ContextMixer(K), ContextMixer(K, kernels=False)
    for (lo, hi), dtype in zip(((0, 1), (1, 450), (450, 900)), (np.int64, np.float64, np.int64)):
        ra, sa = a.rows(F[lo:hi], feeds[lo:hi], sums=True, dtype=dtype)
        rb, sb = b.rows(F[lo:hi], feeds[lo:hi], sums=True)
        assert ra.dtype == dtype
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(sa, sb)
        assert a.w == b.w
    idx = np.arange(len(rb))
    np.testing.assert_array_equal(sb[:, 1], rb.sum(1))
    np.testing.assert_array_equal(sb[:, 0], np.cumsum(rb, 1)[idx, feeds[450:]] - rb[idx, feeds[450:]])


@pytest.mark.parametrize("kernels", [True, False])
def test_the_mixer_refuses_bad_rows_and_tokens(kernels):
    m = ContextMixer(5, kernels=kernels)
    with pytest.raises(InputError, match="outside its vocabulary of 5"):
        m.rows(np.ones((2, 5), np.int64), np.array([1, 5]))
    with pytest.raises(InputError, match="rows \\(T, 5\\)"):
        m.rows(np.ones((2, 4), np.int64), np.array([1, 2]))
    with pytest.raises(InputError, match="needs a row from mix"):
        m.update(1)
    m.mix(np.ones(5, np.int64))
    with pytest.raises(InputError, match="outside its vocabulary"):
        m.update(-1)
