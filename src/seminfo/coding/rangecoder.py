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

The cost of coding a token is ``-log2 q(x)`` with q the quantised model; the cost of ending a
block is at most two 32-bit words. Both are reported as the coder's overhead over the model's
cross-entropy ``sum -log2 p(x)`` [2]_.

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


class BlockEncoder:
    """One range encoder per block: ``encode(token, p_row)`` then ``payload()`` (bytes)."""

    def __init__(self) -> None:
        c = _constriction()
        self._enc = c.stream.queue.RangeEncoder()
        self._family = c.stream.model.Categorical(perfect=False)

    def encode(self, token: int, p_row: np.ndarray) -> None:
        """Append one token coded with the distribution ``p_row`` (shape (1, K), float64)."""
        self._enc.encode(np.array([token], dtype=np.int32), self._family, p_row)

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
