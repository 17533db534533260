"""Capacity of a discrete memoryless channel by Blahut-Arimoto, certified (theory §5).

C = max_{r} I(X; Y) for W[x, y] = P(y | x). With q = r W and D_x = D(W(.|x) || q), each step sets
r <- r exp(D_x) / sum r exp(D_x) (Arimoto 1972; Blahut 1972). Every iterate brackets the capacity:
I(r) = sum_x r(x) D_x <= C <= max_x D_x (the upper bound holds for any output law q, [1, Thm 1]),
so the solver stops when the bracket is narrower than `tol` and says so when it is not.

Conventions: bits per channel use. Rows of W are conditional pmfs (sum to 1, tolerance 1e-9).

References
----------
1. S. Arimoto, "An algorithm for computing the capacity of arbitrary discrete memoryless channels",
   IEEE Trans. IT 18(1):14-20, 1972.
2. R. E. Blahut, IEEE Trans. IT 18(4):460-473, 1972.
3. Cover & Thomas (2006), sec. 7.1 (BSC: 1 - h(p); BEC: 1 - e) and 10.8.

Leaves out: input cost constraints and channels with memory or feedback (see seminfo.sources).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_float, as_int, as_stochastic
from ..results import CertifiedResult
from ..units import LN2

__all__ = ["CapacityResult", "channel_capacity"]


@dataclass(frozen=True)
class CapacityResult(CertifiedResult):
    """Capacity of a DMC, certified: ``lower <= C <= upper`` (bits per channel use).

    Attributes
    ----------
    capacity : float
        Midpoint of [lower, upper].
    lower : float
        I(X; Y) of `input_pmf` (achievable), less a rounding allowance of a few ulps.
    upper : float
        max_x D(W(.|x) || output_pmf), plus the same allowance (`width` = upper - lower,
        `interval` the pair as an Interval).
    input_pmf, output_pmf : ndarray, shapes (X,), (Y,)
    converged, n_iter : bool, int
    """

    capacity: float
    lower: float
    upper: float
    input_pmf: np.ndarray
    output_pmf: np.ndarray
    converged: bool
    n_iter: int
    tol: float
    units: str = "bits/channel use"
    method: str = "blahut-arimoto"


def _divergences(W: np.ndarray, logW: np.ndarray, q: np.ndarray) -> np.ndarray:
    """D(W(.|x) || q) in nats for every row (0 log 0 = 0)."""
    logq = np.log(np.where(q > 0, q, 1.0))                     # q > 0 wherever some W > 0
    return np.sum(W * (logW - logq[None, :]), axis=1)


def channel_capacity(W: Any, *, tol: float = 1e-9, max_iter: int = 100_000) -> CapacityResult:
    """C = max_r I(X; Y) = max_r sum_x r(x) D(W(.|x) || r W), as a certified interval.

    Parameters
    ----------
    W : array_like, shape (X, Y)
        Transition matrix, W[x, y] = P(y | x); rows sum to 1.
    tol : float, keyword-only
        Largest width of [lower, upper], bits (finite, > 0).
    max_iter : int, keyword-only
        Cap on iterations; reaching it gives converged=False and a RuntimeWarning.

    Returns
    -------
    CapacityResult
        capacity, lower, upper in bits per channel use; the optimising input law.

    References
    ----------
    1. Arimoto (1972). 2. Blahut (1972). 3. Cover & Thomas (2006), Thm 7.1.1.

    Examples
    --------
    Binary symmetric channel with crossover 0.1: C = 1 - h(0.1).

    >>> r = channel_capacity([[0.9, 0.1], [0.1, 0.9]])
    >>> round(r.capacity, 9), r.width <= 1e-9, r.lower <= 0.5310044064107189 <= r.upper
    (0.531004406, True, True)
    """
    func = "channel_capacity"
    W = as_stochastic(W, "W", func)
    tol_bits = as_float(tol, "tol", func, minimum=0.0, strict_min=True)
    max_iter = as_int(max_iter, "max_iter", func, minimum=1)
    tol_n = tol_bits * LN2
    logW = np.log(np.where(W > 0, W, 1.0))                     # 0 log 0 = 0
    r = np.full(W.shape[0], 1.0 / W.shape[0])
    n_iter = 0
    eps = float(np.finfo(float).eps)
    hW = float(np.max(-np.sum(W * logW, axis=1)))              # largest row entropy (nats)
    while True:
        q = r @ W
        Dx = _divergences(W, logW, q)
        # rounding allowance on both ends: D_x sums terms of size up to H(W(.|x)) + cross-entropy
        pad = 16 * eps * (1.0 + hW + float(Dx.max()) + hW)
        lower, upper = float(r @ Dx) - pad, float(Dx.max()) + pad
        if upper - lower <= tol_n or n_iter >= max_iter:
            break
        logr = np.log(r) + Dx
        logr -= logr.max()
        r = np.exp(logr)
        r /= r.sum()
        n_iter += 1
    converged = upper - lower <= tol_n
    if not converged:
        warnings.warn(f"{func} stopped at max_iter={max_iter} before the certified width reached "
                      f"tol={tol_bits:g} bits (width {(upper - lower) / LN2:.3g} bits); the result "
                      "has converged=False.", RuntimeWarning, stacklevel=2)
    lo, up = max(lower, 0.0) / LN2, upper / LN2
    return CapacityResult(capacity=0.5 * (lo + up), lower=lo, upper=up, input_pmf=r, output_pmf=q,
                          converged=converged, n_iter=n_iter, tol=tol_bits)
