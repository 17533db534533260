"""Directed information, causally conditioned entropy and reverse (delayed) directed information.

Scope: exact values for an explicit joint pmf of two length-n sequences, given as one array with
2n axes ordered X1, Y1, X2, Y2, ..., Xn, Yn (the order in which the symbols occur in a channel
used with feedback). Each measure is a sum over time of the Shannon primitives of
:mod:`seminfo.exact.shannon`:

* I(X^n -> Y^n) = sum_t I(X^t ; Y_t | Y^{t-1})                      (Massey 1990)
* H(Y^n || X^n) = sum_t H(Y_t | Y^{t-1}, X^t)                        (Kramer 1998)
* I(0*Y^{n-1} -> X^n) = sum_t I(Y^{t-1} ; X_t | X^{t-1})             (Massey & Massey 2005)

and I(X^n;Y^n) = I(X^n -> Y^n) + I(0*Y^{n-1} -> X^n) (the conservation law) holds to rounding.
All values are totals over the n steps in units of `base` (bits by default), not rates.

References
----------
1. J. Massey, "Causality, feedback and directed information", ISITA 1990.
2. G. Kramer, *Directed information for channels with feedback*, PhD thesis, ETH Zurich, 1998.
3. J. L. Massey and P. C. Massey, "Conservation of mutual and directed information", ISIT 2005.

Leaves out: rates of processes (see seminfo.sources.FeedbackChannel.rates) and estimation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_int, as_pmf
from ..errors import ShapeError
from ..units import log_base
from .shannon import _ch, _cmi

__all__ = ["directed_information", "causally_conditioned_entropy", "reverse_directed_information"]


def _sequence_pmf(p: Any, n: Any, func: str) -> tuple[np.ndarray, int]:
    """Validate a pmf with 2n axes X1, Y1, ..., Xn, Yn; return it and n."""
    n = as_int(n, "n", func, minimum=1)
    p = as_pmf(p, "p", func)
    if p.ndim != 2 * n:
        raise ShapeError(f"The `p` parameter of {func} must have 2n = {2 * n} axes ordered X1, Y1, "
                         f"..., Xn, Yn (n = {n}). Got {p.ndim} axes (shape {p.shape}).")
    return p, n


def _xs(t: int) -> tuple[int, ...]:
    """Axes of X^t = (X_1..X_t)."""
    return tuple(2 * i for i in range(t))


def _ys(t: int) -> tuple[int, ...]:
    """Axes of Y^t = (Y_1..Y_t)."""
    return tuple(2 * i + 1 for i in range(t))


def directed_information(p: Any, n: int, *, base: float = 2) -> float:
    """Directed information I(X^n -> Y^n) = sum_{t=1}^n I(X^t ; Y_t | Y^{t-1}).

    Parameters
    ----------
    p : array_like, shape (K_X, K_Y, K_X, K_Y, ...) with 2n axes
        Joint pmf of (X1, Y1, ..., Xn, Yn).
    n : int
        Number of time steps.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        Total directed information over the n steps, in units of `base` (divide by n for a rate).

    Examples
    --------
    Y_1 = X_1 with X_1 a fair bit: one bit flows from X to Y.

    >>> directed_information([[0.5, 0.0], [0.0, 0.5]], 1)
    1.0

    References
    ----------
    1. Massey (1990), eq. (7).
    """
    func = "directed_information"
    lb = log_base(base, func)
    p, n = _sequence_pmf(p, n, func)
    return sum(_cmi(p, _xs(t), (2 * t - 1,), _ys(t - 1)) for t in range(1, n + 1)) / lb


def causally_conditioned_entropy(p: Any, n: int, *, base: float = 2) -> float:
    """Causally conditioned entropy H(Y^n || X^n) = sum_{t=1}^n H(Y_t | Y^{t-1}, X^t).

    Parameters
    ----------
    p : array_like with 2n axes
        Joint pmf of (X1, Y1, ..., Xn, Yn).
    n : int
        Number of time steps.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        Total over the n steps, in units of `base`. H(Y^n) - H(Y^n || X^n) = I(X^n -> Y^n).

    References
    ----------
    1. Kramer (1998), sec. 3.
    """
    func = "causally_conditioned_entropy"
    lb = log_base(base, func)
    p, n = _sequence_pmf(p, n, func)
    return sum(_ch(p, (2 * t - 1,), _ys(t - 1) + _xs(t)) for t in range(1, n + 1)) / lb


def reverse_directed_information(p: Any, n: int, *, base: float = 2) -> float:
    """Reverse (delayed) directed information I(0*Y^{n-1} -> X^n) = sum_t I(Y^{t-1} ; X_t | X^{t-1}).

    The information the past outputs feed back into the inputs; zero when there is no feedback.

    Parameters
    ----------
    p : array_like with 2n axes
        Joint pmf of (X1, Y1, ..., Xn, Yn).
    n : int
        Number of time steps.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        Total over the n steps, in units of `base`. With :func:`directed_information` it sums to
        I(X^n; Y^n) (conservation law).

    References
    ----------
    1. Massey & Massey (2005), eq. (4).
    """
    func = "reverse_directed_information"
    lb = log_base(base, func)
    p, n = _sequence_pmf(p, n, func)
    return sum(_cmi(p, _ys(t - 1), (2 * t - 2,), _xs(t - 1)) for t in range(2, n + 1)) / lb
