"""Shannon measures of an explicit joint pmf: entropy, conditional entropy, (conditional) mutual
information, relative entropy and cross-entropy.

Scope: a pmf is a float64 numpy array whose axes are the random variables (axis i holds variable i,
its length the alphabet size). Measures name groups of axes (``x_axes``, ``y_axes``, ``z_axes``);
axes in no group are marginalised out. Every measure is written from one primitive, the entropy of a
marginal (:func:`_h`), in the way dit writes its measures, so each formula reads as in the textbook.

Conventions: 0 log 0 = 0; base 2 (bits) unless `base` says otherwise; all values are totals for the
variables named (not rates). Values are exact up to floating-point rounding (about 1e-15 bits per
term); a mutual information that is mathematically zero may come out as -1e-16 and is not clipped.

References
----------
1. T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006, ch. 2.
2. R. G. James, C. J. Ellison and J. P. Crutchfield, "dit: a Python package for discrete
   information theory", JOSS 3(25), 2018.

Leaves out: continuous variables (see seminfo.estimators) and estimation from samples.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .._validate import as_pmf
from ..errors import ShapeError
from ..units import log_base

__all__ = ["entropy", "conditional_entropy", "mutual_information", "conditional_mutual_information",
           "relative_entropy", "cross_entropy"]


# --------------------------------------------------------------------------- primitives
def _h(p: np.ndarray, axes: Sequence[int]) -> float:
    """Entropy in nats of the marginal of `p` on `axes` (0 log 0 = 0). ``axes=()`` gives 0."""
    axes = tuple(axes)
    if not axes:
        return 0.0
    drop = tuple(a for a in range(p.ndim) if a not in axes)
    m = p.sum(axis=drop) if drop else p
    m = m[m > 0]
    return float(-np.sum(m * np.log(m)))


def _ch(p: np.ndarray, x: Sequence[int], y: Sequence[int]) -> float:
    """Conditional entropy H(X|Y) = H(X,Y) - H(Y) in nats, X and Y given as axis tuples."""
    return _h(p, tuple(x) + tuple(y)) - _h(p, y)


def _cmi(p: np.ndarray, x: Sequence[int], y: Sequence[int], z: Sequence[int] = ()) -> float:
    """Conditional mutual information I(X;Y|Z) = H(X|Z) - H(X|Y,Z) in nats (axis tuples)."""
    x, y, z = tuple(x), tuple(y), tuple(z)
    return _h(p, x + z) + _h(p, y + z) - _h(p, x + y + z) - _h(p, z)


def _axes_group(value: Any, name: str, func: str, ndim: int) -> tuple[int, ...]:
    """Normalise one group of axes (an int or a sequence of ints) and check the range.

    Axis numbers are 0..ndim-1 (negative numbers, floats, booleans and text are refused), each at
    most once.
    """
    where = f"The `{name}` parameter of {func}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        items = [value]
    elif isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, range, np.ndarray)):
        raise ShapeError(f"{where} must be an axis number or a sequence of axis numbers in "
                         f"0..{ndim - 1}. Got {value!r}.")
    else:
        items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
    out = []
    for a in items:
        if (isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer))
                or not 0 <= int(a) < ndim):
            raise ShapeError(f"{where} must hold axis numbers in 0..{ndim - 1} (the pmf has "
                             f"{ndim} axes). Got {value!r}.")
        out.append(int(a))
    if not out:
        raise ShapeError(f"{where} must name at least one axis. Got {value!r}.")
    if len(set(out)) != len(out):
        raise ShapeError(f"{where} must not repeat an axis. Got {value!r}.")
    return tuple(out)


def _groups(p: np.ndarray, func: str, given: dict[str, Any]) -> list[tuple[int, ...]]:
    """Resolve the axis groups of a measure on `p`.

    `given` maps each group's keyword (in order) to the caller's value or None. When all are None
    the pmf must have exactly one axis per group (axis i is group i). When exactly one is None it
    takes the axes no other group names.
    """
    names = list(given)
    missing = [k for k, v in given.items() if v is None]
    if len(missing) == len(names):
        if p.ndim != len(names):
            raise ShapeError(
                f"The `p` parameter of {func} must have {len(names)} axes ({', '.join(names)} in "
                f"that order), or pass {', '.join(f'`{n}`' for n in names)} to name groups of axes. "
                f"Got {p.ndim} axes (shape {p.shape}).")
        return [(i,) for i in range(len(names))]
    groups: dict[str, tuple[int, ...]] = {}
    for k, v in given.items():
        if v is not None:
            groups[k] = _axes_group(v, k, func, p.ndim)
    if len(missing) == 1:
        used = {a for g in groups.values() for a in g}
        rest = tuple(a for a in range(p.ndim) if a not in used)
        if not rest:
            raise ShapeError(f"The `{missing[0]}` parameter of {func} was left out but no axes "
                             f"remain for it (shape {p.shape}); pass it explicitly.")
        groups[missing[0]] = rest
    elif missing:
        raise ShapeError(f"{func} needs the parameters {', '.join(f'`{n}`' for n in missing)} "
                         "when some axis groups are given; pass every group or none.")
    seen: set[int] = set()
    for k in names:
        if seen & set(groups[k]):
            raise ShapeError(f"The axis groups of {func} must be disjoint. Axis "
                             f"{sorted(seen & set(groups[k]))[0]} is named twice.")
        seen |= set(groups[k])
    return [groups[k] for k in names]


# --------------------------------------------------------------------------- measures
def entropy(p: Any, *, base: float = 2) -> float:
    """Joint entropy H(X_1, ..., X_d) = -sum_x p(x) log p(x) over all axes of a pmf.

    Parameters
    ----------
    p : array_like, shape (K_1, ..., K_d)
        Joint pmf; each axis is one variable. Must be non-negative and sum to 1 (tolerance 1e-9).
    base : float, keyword-only
        Logarithm base: 2 (bits, default), e (nats), 10 (hartleys).

    Returns
    -------
    float
        Total entropy of all axes, in units of `base`.

    Examples
    --------
    >>> entropy([0.5, 0.5])
    1.0
    >>> entropy([[0.25, 0.25], [0.25, 0.25]])
    2.0

    References
    ----------
    1. Cover & Thomas (2006), eq. (2.1).
    """
    lb = log_base(base, "entropy")
    p = as_pmf(p, "p", "entropy")
    return _h(p, range(p.ndim)) / lb


def conditional_entropy(p_xy: Any, *, x_axes: Any = None, y_axes: Any = None, base: float = 2) -> float:
    """Conditional entropy H(X | Y) = H(X, Y) - H(Y).

    Parameters
    ----------
    p_xy : array_like, shape (K_X, K_Y) or any shape with axis groups
        Joint pmf; by default axis 0 is X and axis 1 is Y.
    x_axes, y_axes : int or sequence of int, keyword-only
        Groups of axes forming X and Y, numbered 0..ndim-1 (other axes are marginalised out). If
        only one is given the other takes the remaining axes.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        H(X|Y) in units of `base` (total over the variables of X).

    Examples
    --------
    >>> conditional_entropy([[0.5, 0.0], [0.0, 0.5]])
    0.0

    References
    ----------
    1. Cover & Thomas (2006), eq. (2.10) and Thm 2.2.1 (chain rule).
    """
    func = "conditional_entropy"
    lb = log_base(base, func)
    p = as_pmf(p_xy, "p_xy", func)
    x, y = _groups(p, func, {"x_axes": x_axes, "y_axes": y_axes})
    return _ch(p, x, y) / lb


def mutual_information(p_xy: Any, *, x_axes: Any = None, y_axes: Any = None, base: float = 2) -> float:
    """Mutual information I(X; Y) = H(X) + H(Y) - H(X, Y).

    Parameters
    ----------
    p_xy : array_like, shape (K_X, K_Y) or any shape with axis groups
        Joint pmf; by default axis 0 is X and axis 1 is Y.
    x_axes, y_axes : int or sequence of int, keyword-only
        Groups of axes forming X and Y (see :func:`conditional_entropy`).
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        I(X;Y) in units of `base` (total, not per symbol).

    Examples
    --------
    >>> mutual_information([[0.5, 0.0], [0.0, 0.5]])
    1.0

    References
    ----------
    1. Cover & Thomas (2006), eq. (2.28) and (2.45).
    """
    func = "mutual_information"
    lb = log_base(base, func)
    p = as_pmf(p_xy, "p_xy", func)
    x, y = _groups(p, func, {"x_axes": x_axes, "y_axes": y_axes})
    return _cmi(p, x, y) / lb


def conditional_mutual_information(p_xyz: Any, *, x_axes: Any = None, y_axes: Any = None,
                                   z_axes: Any = None, base: float = 2) -> float:
    """Conditional mutual information I(X; Y | Z) = H(X, Z) + H(Y, Z) - H(X, Y, Z) - H(Z).

    Parameters
    ----------
    p_xyz : array_like, shape (K_X, K_Y, K_Z) or any shape with axis groups
        Joint pmf; by default axes 0, 1, 2 are X, Y, Z.
    x_axes, y_axes, z_axes : int or sequence of int, keyword-only
        Groups of axes forming X, Y and Z. If exactly one is left out it takes the remaining axes.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        I(X;Y|Z) in units of `base` (total).

    Examples
    --------
    XOR: Z = X xor Y with X, Y fair and independent; I(X;Y) = 0 but I(X;Y|Z) = 1 bit.

    >>> import numpy as np
    >>> p = np.zeros((2, 2, 2))
    >>> for x in range(2):
    ...     for y in range(2):
    ...         p[x, y, x ^ y] = 0.25
    >>> conditional_mutual_information(p)
    1.0

    References
    ----------
    1. Cover & Thomas (2006), eq. (2.60).
    """
    func = "conditional_mutual_information"
    lb = log_base(base, func)
    p = as_pmf(p_xyz, "p_xyz", func)
    x, y, z = _groups(p, func, {"x_axes": x_axes, "y_axes": y_axes, "z_axes": z_axes})
    return _cmi(p, x, y, z) / lb


def _pair(p: Any, q: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    p = as_pmf(p, "p", func)
    q = as_pmf(q, "q", func)
    if p.shape != q.shape:
        raise ShapeError(f"The `p` and `q` parameters of {func} must have the same shape. "
                         f"Got {p.shape} and {q.shape}.")
    return p, q


def relative_entropy(p: Any, q: Any, *, base: float = 2) -> float:
    """Relative entropy D(p || q) = sum_x p(x) log(p(x) / q(x)).

    Parameters
    ----------
    p, q : array_like, same shape
        Two pmfs on the same alphabet (any number of axes, compared entry by entry).
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        D(p||q) >= 0 in units of `base`; ``math.inf`` when p puts mass where q has none
        (supp p not contained in supp q), never NaN.

    Examples
    --------
    >>> relative_entropy([0.5, 0.5], [0.25, 0.75]) > 0
    True
    >>> relative_entropy([0.5, 0.5], [1.0, 0.0])
    inf

    References
    ----------
    1. Cover & Thomas (2006), eq. (2.26) and Thm 2.6.3 (information inequality).
    """
    func = "relative_entropy"
    lb = log_base(base, func)
    p, q = _pair(p, q, func)
    on = p > 0
    if np.any(q[on] == 0):
        return math.inf
    return float(np.sum(p[on] * (np.log(p[on]) - np.log(q[on])))) / lb


def cross_entropy(p: Any, q: Any, *, base: float = 2) -> float:
    """Cross-entropy H(p, q) = -sum_x p(x) log q(x) = H(p) + D(p || q).

    Parameters
    ----------
    p, q : array_like, same shape
        True pmf `p` and model pmf `q`.
    base : float, keyword-only
        Logarithm base (2 gives bits).

    Returns
    -------
    float
        Expected code length under `q` of symbols drawn from `p`, in units of `base`;
        ``math.inf`` when supp p is not contained in supp q.

    Examples
    --------
    >>> cross_entropy([0.5, 0.5], [0.5, 0.5])
    1.0

    References
    ----------
    1. Cover & Thomas (2006), Thm 5.4.3 (wrong-code penalty).
    """
    func = "cross_entropy"
    lb = log_base(base, func)
    p, q = _pair(p, q, func)
    d = relative_entropy(p, q, base=math.e)
    return math.inf if math.isinf(d) else (_h(p, range(p.ndim)) + d) / lb
