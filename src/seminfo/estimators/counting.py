"""Sparse counting of joint symbols and lagged contexts (the kernel under every plug-in estimator).

Scope: turn stacked integer columns (a symbol and its lagged history, say) into one int64 code per
row, count the codes and hand every sample the count of its own cell. Mixed-radix codes are built
column by column; when the code space would pass 2^62, or is much larger than the number of rows,
the codes are compressed to ``0..m-1`` with :func:`numpy.unique`, so an alphabet of 10^4 symbols with
a history of several symbols costs memory in proportion to the number of samples, never to K^k.
Dense :func:`numpy.bincount` is used whenever the code space is at most a few times the sample count.

Also here: the batch-means standard error of a mean of serially dependent per-step terms, shared by
the plug-in and universal estimators.

Leaves out: continuous data (no binning is done here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["lagged", "encode", "cell_log_counts", "batch_means_stderr"]

_MAX_CODE = 2 ** 62


def lagged(x: np.ndarray, lags: Sequence[int], start: int) -> list[np.ndarray]:
    """Columns ``x[t - lag]`` for ``t = start .. len(x)-1``, one per lag (lag 0 is the present)."""
    n = len(x)
    return [x[start - lag: n - lag] for lag in lags]


def _compress(code: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(code, return_inverse=True)
    return inv.astype(np.int64, copy=False).reshape(-1), int(uniq.size)


def encode(columns: Sequence[np.ndarray], sizes: Sequence[int], n_rows: int | None = None
           ) -> tuple[np.ndarray, int]:
    """Mixed-radix int64 code of each row of the stacked `columns`.

    Parameters
    ----------
    columns : sequence of (N,) int64 arrays
        Column j holds symbols in ``0..sizes[j]-1``.
    sizes : sequence of int
        Alphabet size of each column.
    n_rows : int, optional
        Number of rows when `columns` is empty (every row then gets code 0).

    Returns
    -------
    codes : (N,) int64
        Equal rows get equal codes, different rows different codes; codes lie in ``0..size-1``.
    size : int
        Size of the code space (at most ``max(4 N, 2^16)`` after compression).
    """
    if not columns:
        return np.zeros(int(n_rows or 0), dtype=np.int64), 1
    n = len(columns[0])
    limit = max(4 * n, 2 ** 16)
    code = np.asarray(columns[0], dtype=np.int64)
    size = int(sizes[0])
    for col, k in zip(columns[1:], sizes[1:]):
        k = int(k)
        if size * k >= _MAX_CODE:
            code, size = _compress(code)
        code = code * k + col
        size *= k
    if size > limit:
        code, size = _compress(code)
    return code, size


def cell_log_counts(codes: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Natural log of the count of each row's own cell, and the number of occupied cells.

    Logs are taken once per cell and gathered, so the cost per row is one lookup.

    Returns
    -------
    per_row : (N,) float64
        ``ln #{j : codes[j] == codes[i]}``.
    occupied : int
        Number of distinct codes (the ``m`` of the Miller-Madow correction).
    """
    counts = np.bincount(codes, minlength=size)
    occupied = int(np.count_nonzero(counts))
    return np.log(np.maximum(counts, 1))[codes], occupied


def batch_means_stderr(terms: np.ndarray) -> float:
    """Standard error of ``mean(terms)`` by non-overlapping batch means.

    ``b = floor(sqrt(N))`` batches of ``floor(N / b)`` consecutive terms (the tail is dropped):
    ``se = std(batch means, ddof=1) / sqrt(b)``. Valid for stationary, mixing sequences whose
    correlation time is much shorter than a batch; it underestimates under long-range dependence.
    Returns ``nan`` for fewer than 4 terms.
    """
    terms = np.asarray(terms, dtype=np.float64)
    n = terms.size
    if n < 4:
        return math.nan
    b = int(math.isqrt(n))
    size = n // b
    means = terms[: b * size].reshape(b, size).mean(axis=1)
    return float(means.std(ddof=1) / math.sqrt(b))
