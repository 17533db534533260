"""Transfer entropy of an explicit stationary law.

TE_{X->Y}(k, l) = I(Y_t ; X_{t-l}^{t-1} | Y_{t-k}^{t-1}) (Schreiber 2000): how much the last l
inputs tell about the next output beyond what the last k outputs tell. Two ways to give the law:

* a joint pmf with k + l + 1 axes ordered (Y_{t-k}, ..., Y_{t-1}, X_{t-l}, ..., X_{t-1}, Y_t);
* a first-order Markov chain over pairs (x, y), given by its transition matrix; its stationary law
  is computed exactly (:func:`seminfo.exact._stationary.stationary_distribution`) and the window of
  max(k, l) + 1 pairs is enumerated.

The value is a single-time quantity in units of `base` (bits per time step by default).

References
----------
1. T. Schreiber, "Measuring information transfer", Phys. Rev. Lett. 85, 461 (2000).
2. Cover & Thomas (2006), eq. (2.60) for conditional mutual information.

Leaves out: estimation from samples (seminfo.estimators.transfer_entropy) and higher-order pair chains
(write their window pmf and use the first form).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import MAX_AXES, as_int, as_pmf, as_real, as_stochastic, check_size, int_power
from ..errors import DistributionError, InputError, ShapeError
from ..units import log_base
from ._stationary import MAX_BLOCK_ENTRIES, chain_block_pmf, stationary_distribution
from .shannon import _cmi

__all__ = ["stationary_transfer_entropy"]

_FUNC = "stationary_transfer_entropy"


def _pair_chain(transition: Any, pair_shape: Any) -> tuple[np.ndarray, int, int]:
    """Return the pair transition as a (Kx*Ky, Kx*Ky) stochastic matrix and (Kx, Ky)."""
    T = as_real(transition, "transition", _FUNC, error=DistributionError,
                what="an array of transition probabilities")
    if T.ndim == 4:
        kx, ky = T.shape[0], T.shape[1]
        if T.shape[2:] != (kx, ky):
            raise ShapeError(f"The `transition` parameter of {_FUNC} must have shape (Kx, Ky, Kx, Ky) "
                             f"(axes x_{{t-1}}, y_{{t-1}}, x_t, y_t). Got {T.shape}.")
    elif T.ndim == 2:
        if pair_shape is None:
            raise ShapeError(f"The `pair_shape` parameter of {_FUNC} is needed with a 2-D `transition` "
                             "(states numbered x * Ky + y): pass pair_shape=(Kx, Ky).")
        if not isinstance(pair_shape, (tuple, list)) or len(pair_shape) != 2:
            raise ShapeError(f"The `pair_shape` parameter of {_FUNC} must be a pair (Kx, Ky) of positive "
                             f"integers. Got {pair_shape!r}.")
        kx = as_int(pair_shape[0], "pair_shape", _FUNC, minimum=1)
        ky = as_int(pair_shape[1], "pair_shape", _FUNC, minimum=1)
        if T.shape != (kx * ky, kx * ky):
            raise ShapeError(f"The `transition` parameter of {_FUNC} must have shape (Kx*Ky, Kx*Ky) = "
                             f"({kx * ky}, {kx * ky}) for pair_shape ({kx}, {ky}). Got {T.shape}.")
    else:
        raise ShapeError(f"The `transition` parameter of {_FUNC} must have 4 axes (Kx, Ky, Kx, Ky) or 2 "
                         f"axes with `pair_shape`. Got {T.ndim} axes (shape {T.shape}).")
    P = as_stochastic(T.reshape(kx * ky, kx * ky), "transition", _FUNC)
    return P, kx, ky


def stationary_transfer_entropy(p: Any = None, *, k: int = 1, l: int = 1, transition: Any = None,
                                pair_shape: Any = None, base: float = 2) -> float:
    """Transfer entropy TE_{X->Y} = I(Y_t ; X_{t-l}^{t-1} | Y_{t-k}^{t-1}) of a stationary law.

    Parameters
    ----------
    p : array_like with k + l + 1 axes, optional
        Joint pmf of (Y_{t-k}, ..., Y_{t-1}, X_{t-l}, ..., X_{t-1}, Y_t), in that axis order.
    k : int, keyword-only
        Target (Y) history length, >= 0 (k = 0 gives I(Y_t ; X_{t-l}^{t-1})).
    l : int, keyword-only
        Source (X) history length, >= 1.
    transition : array_like, keyword-only, optional
        Instead of `p`: transition law of a stationary first-order Markov chain over pairs, shape
        (Kx, Ky, Kx, Ky) with axes (x_{t-1}, y_{t-1}, x_t, y_t), or (Kx*Ky, Kx*Ky) with states
        numbered x * Ky + y and `pair_shape` = (Kx, Ky). The chain must be irreducible.
    pair_shape : tuple of int, keyword-only
        (Kx, Ky) for a 2-D `transition`.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        TE in units of `base` per time step (a rate: one step of Y given the histories).

    Examples
    --------
    Y copies the previous X, X is a fair coin: TE with k = l = 1 is 1 bit.

    >>> import numpy as np
    >>> p = np.zeros((2, 2, 2))            # axes (Y_{t-1}, X_{t-1}, Y_t)
    >>> for y0 in range(2):
    ...     for x0 in range(2):
    ...         p[y0, x0, x0] = 0.25
    >>> stationary_transfer_entropy(p)
    1.0

    References
    ----------
    1. Schreiber (2000), eq. (4).
    """
    lb = log_base(base, _FUNC)
    k = as_int(k, "k", _FUNC, minimum=0)
    l = as_int(l, "l", _FUNC, minimum=1)
    if (p is None) == (transition is None):
        raise InputError(f"{_FUNC} needs exactly one of `p` (a window pmf) and `transition` (a pair "
                         "Markov chain). Got " + ("both." if p is not None else "neither."))
    if p is not None:
        p = as_pmf(p, "p", _FUNC)
        if p.ndim != k + l + 1:
            raise ShapeError(f"The `p` parameter of {_FUNC} must have k + l + 1 = {k + l + 1} axes ordered "
                             f"(Y_{{t-k}}..Y_{{t-1}}, X_{{t-l}}..X_{{t-1}}, Y_t) for k = {k}, l = {l}. "
                             f"Got {p.ndim} axes (shape {p.shape}).")
        return _cmi(p, (k + l,), tuple(range(k, k + l)), tuple(range(k))) / lb
    P, kx, ky = _pair_chain(transition, pair_shape)
    m = max(k, l) + 1
    if 2 * m > MAX_AXES:
        raise InputError(f"The `k` and `l` parameters of {_FUNC} give a window of max(k, l) + 1 = {m} "
                         f"pairs, {2 * m} axes, more than numpy's {MAX_AXES}. Use k, l <= "
                         f"{MAX_AXES // 2 - 1}.")
    check_size(int_power(kx * ky, m), f"The window of {_FUNC} ((Kx*Ky)^(max(k,l)+1) = {kx * ky}^{m})",
               limit=MAX_BLOCK_ENTRIES, unit="entries", hint="Use smaller k and l.")
    pi = stationary_distribution(P, "transition", _FUNC)
    block = chain_block_pmf(pi, P, m).reshape((kx, ky) * m)         # axes X_1, Y_1, ..., X_m, Y_m
    ys = tuple(2 * i + 1 for i in range(m - 1 - k, m - 1))
    xs = tuple(2 * i for i in range(m - 1 - l, m - 1))
    return _cmi(block, (2 * m - 1,), xs, ys) / lb
