"""The entropy coder: a range coder driven by next-token distributions, one coder per block.

Scope
-----
Turns a model's next-token log-probabilities into codable integer models and drives the FIFO
range coder of `constriction` [1]_ (``constriction.stream.queue.RangeEncoder`` / ``RangeDecoder``,
32-bit words). Each distribution is quantised by ``constriction.stream.model.Categorical(perfect=False)``
to 24-bit fixed point: every token gets at least 2**-24 of the mass (the floor, measured at 24.03
bits per coded floor token), so any token stays codable whatever the model says. Encoder and
decoder build the quantised table from the same float64 array ``exp(log p)``, so they agree bit for
bit as long as the model returns bit-identical log-probabilities on both sides.

The cost of coding a token is ``-log2 q(x)`` with q the quantised model, which :func:`quantised`
computes exactly as constriction does (checked against the coder's output in the tests); the
range coder adds at most ``-log2(1 - 2**-8)`` < 1/128 bit per token (its range stays >= 2**32)
and ends a block with at most two 32-bit words. The codec reports ``sum -log2 q(x)`` (the coded
cross-entropy) beside the model's own ``sum -log2 p(x)`` [2]_.

The portable path hands the coder integer frequencies as float64 (exact below 2**53): the
cumulative sums are exact and constriction's one division is correctly rounded, so the quantised
table is the same on every machine. No ``exp`` is taken on that path.

Leaves out: adaptive or mixed models (the model is the token model), ANS / stack coding.

References
----------
.. [1] R. Bamler, "Understanding Entropy Coding With Asymmetric Numeral Systems (ANS): a
       Statistician's Perspective", arXiv:2201.01741 (2022); the `constriction` library.
.. [2] G. Deletang et al., "Language Modeling Is Compression", ICLR 2024, arXiv:2309.10668.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArchiveError, DistributionError

#: Coder identifier written in the archive header: constriction 0.5 queue range coder with u32
#: words and 24-bit ``Categorical(perfect=False)`` models built from float64 ``exp(log p)``.
CODER_ID = 1
#: Fixed-point precision of the quantised probabilities (bits).
PRECISION_BITS = 24


def _constriction():
    import constriction
    return constriction


def probabilities(log_probs: np.ndarray, func: str) -> np.ndarray:
    """``exp(log p)`` as a C-contiguous float64 array of shape (A, K), after checking it is codable.

    -inf log-probabilities give 0 (the coder's floor still makes them codable); NaN or +inf, or a
    row without mass, raise DistributionError rather than a deep error from the coder.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    p = np.exp(lp)
    if not np.all(np.isfinite(p)):
        raise DistributionError(
            f"The token model used by {func} returned NaN or +inf log-probabilities "
            f"({int(np.sum(~np.isfinite(p)))} entries); it cannot drive an entropy coder.")
    if np.any(p.sum(axis=-1) <= 0):
        raise DistributionError(f"The token model used by {func} returned a distribution with no "
                                "mass (every log-probability is -inf).")
    return np.ascontiguousarray(p)


def quantised(p: np.ndarray) -> np.ndarray:
    """The integer weights (out of ``2**24``) constriction's ``Categorical(perfect=False)`` gives `p`.

    For a row ``p`` of K non-negative float64 numbers (not necessarily summing to one), with
    ``C_i = p_0 + ... + p_{i-1}`` summed left to right and ``s = (2**24 - K) / C_K``, symbol i gets
    the interval ``[floor(C_i s) + i, floor(C_{i+1} s) + i + 1)``, the last one ending at ``2**24``
    (constriction 0.5, ``LazyContiguousCategoricalEntropyModel``). Every weight is >= 1.

    Parameters
    ----------
    p : ndarray, shape (..., K), float64

    Returns
    -------
    ndarray of int64, shape (..., K), each row summing to ``2**24``.
    """
    p = np.asarray(p, dtype=np.float64)
    K = p.shape[-1]
    c = np.cumsum(p, axis=-1)                                   # sequential, as Rust's fold
    scale = np.float64(2**PRECISION_BITS - K) / c[..., -1:]     # (..., 1)
    left = np.zeros(p.shape, dtype=np.int64)
    left[..., 1:] = np.floor(c[..., :-1] * scale).astype(np.int64)
    left += np.arange(K, dtype=np.int64)
    right = np.empty_like(left)
    right[..., :-1] = left[..., 1:]
    right[..., -1] = 2**PRECISION_BITS
    return right - left


def coded_bits(p: np.ndarray, symbols: np.ndarray) -> float:
    """``sum_t -log2 q_t(x_t)``: the code length of `symbols` under the quantised rows of `p` (bits)."""
    p = np.asarray(p, dtype=np.float64)
    if p.shape[0] == 0:
        return 0.0
    i = np.asarray(symbols, dtype=np.int64)
    rows = np.arange(p.shape[0])
    c = np.cumsum(p, axis=-1)                                   # sequential, as Rust's fold
    return coded_bits_from(np.where(i > 0, c[rows, np.maximum(i - 1, 0)], 0.0), c[rows, i], c[:, -1], i,
                           p.shape[-1])


def coded_bits_from(before, through, total, symbols: np.ndarray, K: int) -> float:
    """:func:`coded_bits` from each row's cumulative sums (as Rust's fold gives them) before and
    through its coded symbol and its total: for rows of integers (exact sums) these come from
    wherever they were summed, without a cumulative sum of every row."""
    # the weights of :func:`quantised` at the coded symbols only (the same float operations, on two
    # entries of each row instead of K): q_i = right_i - left_i
    i = np.asarray(symbols, dtype=np.int64)
    scale = np.float64(2**PRECISION_BITS - K) / np.asarray(total, dtype=np.float64)
    left = np.where(i > 0, np.floor(np.asarray(before, dtype=np.float64) * scale), 0.0).astype(np.int64) + i
    right = np.where(i < K - 1, np.floor(np.asarray(through, dtype=np.float64) * scale).astype(np.int64) + i + 1,
                     2**PRECISION_BITS)
    q = right - left
    return float(np.sum(PRECISION_BITS - np.log2(q.astype(np.float64))))


#: Bits charged by the range coder beyond ``sum -log2 q`` per coded symbol, at most (range >= 2**32).
PER_SYMBOL_SLACK_BITS = 1.0 / 128.0
#: Bits of termination per block, at most (two 32-bit words).
TERMINATION_BITS = 64


class BlockEncoder:
    """One range encoder per block: ``encode(token, p_row)`` or ``encode_many``, then ``payload()``."""

    def __init__(self) -> None:
        c = _constriction()
        self._enc = c.stream.queue.RangeEncoder()
        self._family = c.stream.model.Categorical(perfect=False)

    def encode(self, token: int, p_row: np.ndarray) -> None:
        """Append one token coded with the distribution ``p_row`` (shape (1, K), float64)."""
        self._enc.encode(np.array([token], dtype=np.int32), self._family, p_row)

    def encode_many(self, tokens: np.ndarray, p: np.ndarray) -> None:
        """Append ``tokens`` (shape (T,)) coded with the rows of ``p`` (shape (T, K), float64) in one call."""
        if len(tokens):
            self._enc.encode(np.ascontiguousarray(tokens, dtype=np.int32), self._family,
                             np.ascontiguousarray(p, dtype=np.float64))

    def payload(self) -> bytes:
        """The compressed words as little-endian bytes (a multiple of 4 bytes)."""
        return self._enc.get_compressed().astype("<u4").tobytes()


class BlockDecoder:
    """The inverse of :class:`BlockEncoder` on one block's payload."""

    def __init__(self, payload: bytes) -> None:
        c = _constriction()
        if len(payload) % 4:
            raise ArchiveError(f"A block payload must be a whole number of 32-bit words. Got "
                               f"{len(payload)} bytes; the archive is corrupted.")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._dec = c.stream.queue.RangeDecoder(words)
        self._family = c.stream.model.Categorical(perfect=False)

    def decode(self, p_row: np.ndarray) -> int:
        """Decode one token with the distribution ``p_row`` (shape (1, K), float64)."""
        try:
            return int(self._dec.decode(self._family, p_row)[0])
        except (ValueError, RuntimeError, AssertionError) as exc:     # constriction: invalid data
            raise ArchiveError(f"A block payload cannot be decoded ({exc}); the archive is "
                               "corrupted or was made with other probabilities.") from None


# ---------------------------------------------------------------------------------------------
# the escape: one more symbol in the alphabet, then the byte, uniform

#: The uniform distribution of an escaped byte (256 weights of exactly 2**16: 8 bits each).
UNIFORM_BYTE = np.ones((1, 256), dtype=np.float64)


def with_escape(p: np.ndarray, escape_prob_bits: int) -> np.ndarray:
    """Rows of `p` (shape (A, K), any positive scale) extended by an escape symbol at index K.

    The escape gets ``2**-escape_prob_bits`` of each row's mass and the tokens keep the rest in
    proportion: ``[p (1 - e), e sum(p)]`` with e a power of two, so the products are exact for the
    integer frequencies of the portable path (below 2**31) and deterministic for any float64 input.
    """
    p = np.asarray(p, dtype=np.float64)
    e = 2.0 ** -escape_prob_bits
    total = np.sum(p, axis=-1, keepdims=True)
    return np.ascontiguousarray(np.concatenate([p - p * e, total * e], axis=-1))
