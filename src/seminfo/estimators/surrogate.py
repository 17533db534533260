"""Surrogate (permutation) tests for a directed dependence X -> Y (theory §3).

Scope: recompute a statistic on copies of the data whose source has been scrambled and report the
permutation p-value ``p = (1 + #{s_i >= s_obs}) / (1 + n_surrogates)`` [1]. Two schemes:

* ``"shuffle"``: the source x is permuted uniformly at random. Destroys every dependence of y on x
  and also x's own serial structure.
* ``"block"``: x is cut into consecutive blocks of length `block` (the tail forms a short last
  block) and the blocks are permuted, keeping x's short-range structure [2]. Preferable when x is
  strongly autocorrelated; the dependence within a block boundary can leak, so use blocks longer
  than the history of the statistic.

Leaves out: IAAFT / twin surrogates for continuous data, multiple-testing correction.

References
----------
1. B. Phipson and G. K. Smyth, "Permutation p-values should never be zero", SAGMB 9, 2010.
2. H. R. Kunsch, "The jackknife and the bootstrap for general stationary observations",
   Ann. Statist. 17, 1989.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import MAX_SURROGATES, as_int, as_rng, as_seed, check_size, one_of, same_length
from ..errors import InputError, ShapeError
from ..results import Result

__all__ = ["surrogate_test", "SurrogateResult"]


@dataclass(frozen=True)
class SurrogateResult(Result):
    """Outcome of a surrogate test.

    Attributes
    ----------
    statistic : float
        The statistic on the data (its own units, e.g. bits/symbol).
    pvalue : float
        ``(1 + #{surrogate >= statistic}) / (1 + n_surrogates)``; one-sided (large = dependence).
    surrogates : (n_surrogates,) ndarray
        The statistic on each surrogate.
    method : str
        ``"shuffle"`` or ``"block"``.
    block : int or None
        Block length of the block scheme.
    """

    statistic: float
    pvalue: float
    surrogates: np.ndarray
    method: str
    block: int | None = None


def _value(v: Any, func: str) -> float:
    """The statistic's value as a finite float (an Estimate gives its ``value``)."""
    try:
        out = float(getattr(v, "value", v))
    except (TypeError, ValueError):
        out = None
    if out is None or not np.isfinite(out):
        raise InputError(f"The `statistic` parameter of {func} must return a finite number or an "
                         f"Estimate. Got {str(v)[:60]!r}.")
    return out


def surrogate_test(statistic: Callable[[np.ndarray, np.ndarray], Any], x: Any, y: Any, *,
                   n_surrogates: int = 99, method: str = "shuffle", block: int | None = None,
                   seed: Any = None) -> SurrogateResult:
    """Permutation p-value of ``statistic(x, y)`` against surrogates with a scrambled source x.

    ``p = (1 + sum_i [s(x_i*, y) >= s(x, y)]) / (1 + n_surrogates)``.

    Parameters
    ----------
    statistic : callable ``(x, y) -> float or Estimate``
        For example ``lambda x, y: seminfo.transfer_entropy(x, y)``. Must return a finite number
        (a NaN would make every comparison false and the p-value meaningless).
    x, y : (n,) arrays
        Source and target (any dtype the statistic accepts).
    n_surrogates : int
        Number of surrogates, 1..10**6 (99 gives p-values on a grid of 1/100).
    method : {"shuffle", "block"}
    block : int, optional
        Block length for ``"block"`` (default ``round(sqrt(n))``).
    seed : int or Generator, optional

    Returns
    -------
    SurrogateResult
    """
    func = "surrogate_test"
    if not callable(statistic):
        raise InputError(f"The `statistic` parameter of {func} must be callable (x, y) -> float. "
                         f"Got {type(statistic).__name__}.")
    n_surrogates = as_int(n_surrogates, "n_surrogates", func, minimum=1, maximum=MAX_SURROGATES)
    method = one_of(method, ("shuffle", "block"), "method", func)
    seed = as_seed(seed, func)
    try:
        x, y = np.asarray(x), np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"The `x` and `y` parameters of {func} must be sequences of equal length "
                         f"(one entry per time step). Got ragged input ({exc}).") from None
    for name, arr in (("x", x), ("y", y)):
        if arr.ndim == 0:
            raise InputError(f"The `{name}` parameter of {func} must be a sequence (one entry per time "
                             f"step). Got a scalar {arr.item()!r}.")
    same_length(x, y, ("x", "y"), func)
    n = len(x)
    check_size(n_surrogates * n, f"The `n_surrogates` parameter of {func} ({n_surrogates} surrogates "
               f"of {n} samples)", hint="Use fewer surrogates or a shorter series.")
    if n < 2:
        raise InputError(f"The `x` parameter of {func} must hold at least 2 samples. Got {n}.")
    if method == "block":
        block = as_int(block if block is not None else max(1, round(n ** 0.5)), "block", func,
                       minimum=1, maximum=n)
    elif block is not None:
        raise InputError(f"The `block` parameter of {func} applies only to method='block'. "
                         f"Got block={block} with method='shuffle'.")
    rng = as_rng(seed, func)
    observed = _value(statistic(x, y), func)
    starts = np.arange(0, n, block) if method == "block" else None
    out = np.empty(n_surrogates)
    for i in range(n_surrogates):
        if method == "shuffle":
            xs = x[rng.permutation(n)]
        else:
            order = rng.permutation(len(starts))
            xs = np.concatenate([x[s: s + block] for s in starts[order]])
        out[i] = _value(statistic(xs, y), func)
    p = (1.0 + np.count_nonzero(out >= observed)) / (1.0 + n_surrogates)
    return SurrogateResult(observed, float(p), out, method, block)
