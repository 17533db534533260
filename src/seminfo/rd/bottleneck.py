"""Information bottleneck curves with deterministic annealing over beta (theory §5).

For a joint law p(x, y), the information bottleneck (Tishby, Pereira & Bialek 1999) compresses X into
T (Markov chain T - X - Y) by minimising I(X; T) - beta I(T; Y) over encoders p(t | x). At fixed
beta the self-consistent equations
    p(t | x) = p(t) exp(-beta D(p(y|x) || p(y|t))) / Z(x, beta),
    p(t) = sum_x p(x) p(t|x),  p(y|t) = sum_x p(y|x) p(t|x) p(x) / p(t)
are iterated to a fixed point (each step does not increase the IB Lagrangian). Beta is raised
gradually from a small value and each solution, slightly perturbed, seeds the next, so clusters
split as beta passes their critical values (deterministic annealing; Slonim 2002, ch. 3).

The returned curve keeps only points on the upper concave envelope of (I(X;T), I(T;Y)), since the
IB curve is concave and a local optimum below it is not a point of the curve. Checked in tests
against the closed-form curve of the doubly symmetric binary source,
I(T;Y) = 1 - h(eps * h^{-1}(1 - I(X;T))) (Mrs. Gerber's lemma; Wyner & Ziv 1973).

Conventions: bits; I(X;T) is the compression ("memory"), I(T;Y) the relevance.

References
----------
1. N. Tishby, F. C. Pereira, W. Bialek, "The information bottleneck method", 1999.
2. N. Slonim, "The information bottleneck: theory and applications", PhD thesis, 2002.
3. A. D. Wyner and J. Ziv, "A theorem on the entropy of certain binary sequences and
   applications", IEEE Trans. IT 19(6), 1973.

Leaves out: the deterministic and Gaussian IB; agglomerative variants.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validate import as_finite, as_float, as_int, as_pmf, as_rng
from ..errors import InputError
from ..results import Result
from ..units import LN2

__all__ = ["InformationBottleneckCurve", "information_bottleneck"]


@dataclass(frozen=True)
class InformationBottleneckCurve(Result):
    """Points of the IB curve, sorted by I(X;T).

    Attributes
    ----------
    beta : ndarray (N,)
        Trade-off parameter of each point.
    i_xt, i_ty : ndarray (N,)
        I(X;T) and I(T;Y) in bits (totals for one draw of (X, Y)).
    i_xy, h_y : float
        I(X;Y) (the ceiling of i_ty) and H(Y), bits.
    encoders : list of ndarray (X, n_clusters)
        p(t | x) of each point.
    converged : bool
        Whether every beta reached its fixed point within `max_iter`. Points of betas that did not
        (`n_unsettled`, typically near a critical beta where clusters split) are still achievable
        pairs, so the curve remains a valid inner bound; they are only possibly below the curve.
    """

    beta: np.ndarray
    i_xt: np.ndarray
    i_ty: np.ndarray
    i_xy: float
    h_y: float
    encoders: list
    converged: bool
    n_iter: int
    n_unsettled: int = 0
    units: str = "bits"
    method: str = "iterative IB with deterministic annealing"


def _mi(pxt: np.ndarray) -> float:
    """I in nats of a 2-D joint law."""
    a = pxt.sum(axis=1, keepdims=True)
    b = pxt.sum(axis=0, keepdims=True)
    m = pxt > 0
    return float(np.sum(pxt[m] * np.log(pxt[m] / (a @ b)[m])))


def _upper_envelope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points on the upper concave envelope (x increasing), starting at the origin."""
    order = np.lexsort((-y, x))
    hull: list[int] = []
    for i in order:
        if hull and y[i] <= y[hull[-1]] + 1e-15:
            continue                                        # not higher: dominated
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0:                                  # b under the chord a-i
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.array(hull, dtype=np.int64)


#: Largest (X, T) encoder or (T, Y) table one IB iteration may build (2^24 cells, 128 MiB).
MAX_IB_CELLS = 2 ** 24

#: Largest total size of the encoders kept, one (X, T) per beta (2^26 cells, 512 MiB).
MAX_IB_KEPT = 2 ** 26


def check_ib_size(X: int, T: int, Y: int, n_betas: int, func: str, param: str) -> None:
    """Refuse, before allocating, an IB problem whose arrays exceed the limits above; `param`
    names the argument that sets the size (n_clusters, or the source/joint law)."""
    if max(X * T, T * Y) > MAX_IB_CELLS:
        raise InputError(f"The `{param}` parameter of {func} gives an information bottleneck with X = "
                         f"{X}, T = {T}, Y = {Y}: tables of max(X T, T Y) = {max(X * T, T * Y)} "
                         f"cells, more than the limit of {MAX_IB_CELLS}. Use fewer clusters or a "
                         "smaller alphabet.")
    if n_betas * X * T > MAX_IB_KEPT:
        raise InputError(f"The `{param}` parameter of {func} keeps one (X, T) = ({X}, {T}) encoder per "
                         f"beta for {n_betas} betas: {n_betas * X * T} cells, more than the limit of "
                         f"{MAX_IB_KEPT}. Use fewer betas or fewer clusters.")


def information_bottleneck(p_xy: Any, *, betas: Any = None, n_clusters: int | None = None,
                           tol: float = 1e-8, max_iter: int = 1000, seed: int = 0
                           ) -> InformationBottleneckCurve:
    """The IB curve max I(T;Y) s.t. I(X;T) <= m, traced by min I(X;T) - beta I(T;Y) over beta.

    Parameters
    ----------
    p_xy : array_like, shape (X, Y)
        Joint law.
    betas : array_like, keyword-only, optional
        Increasing trade-off values (> 0); default 80 values geometric in [0.5, 1e4].
    n_clusters : int, keyword-only, optional
        Size of T (default |X|, enough for every point of the curve). X T and T Y must be at most
        2^24, and (number of betas) X T at most 2^26 (checked before anything is built).
    tol : float, keyword-only
        Stop a beta when the encoder changes by less than `tol` (max abs; finite, > 0).
    max_iter : int, keyword-only
        Cap on iterations per beta (a RuntimeWarning and converged=False if reached).
    seed : int or numpy Generator, keyword-only
        Seed of the perturbations that let clusters split.

    Returns
    -------
    InformationBottleneckCurve
        i_xt, i_ty in bits, on the upper concave envelope of the solutions found.

    Examples
    --------
    Y a copy of a fair bit X: the curve reaches I(T;Y) = I(X;Y) = 1 bit at I(X;T) = 1 bit.

    >>> c = information_bottleneck([[0.5, 0.0], [0.0, 0.5]], betas=[1.0, 10.0])
    >>> round(float(c.i_xt[-1]), 6), round(float(c.i_ty[-1]), 6), c.i_xy
    (1.0, 1.0, 1.0)
    """
    func = "information_bottleneck"
    p = as_pmf(p_xy, "p_xy", func, ndim=2)
    px = p.sum(axis=1)
    keep = px > 0
    p = p[keep]
    px = px[keep]
    py_x = p / px[:, None]                                            # (X, Y)
    with np.errstate(divide="ignore"):
        log_py_x = np.where(py_x > 0, np.log(np.where(py_x > 0, py_x, 1.0)), 0.0)
    X, Y = p.shape
    T = X if n_clusters is None else as_int(n_clusters, "n_clusters", func, minimum=1)
    if betas is None:
        b = np.geomspace(0.5, 1e4, 80)
    else:
        b = as_finite(betas, "betas", func, ndim=1)
        if np.any(b <= 0) or np.any(np.diff(b) < 0):
            raise InputError(f"The `betas` parameter of {func} must be positive and increasing. "
                             f"Got {b[:5]}...")
    check_ib_size(X, T, Y, b.size, func, "p_xy" if n_clusters is None else "n_clusters")
    tol = as_float(tol, "tol", func, minimum=0.0, strict_min=True)
    max_iter = as_int(max_iter, "max_iter", func, minimum=1)
    rng = as_rng(seed, func)
    enc = np.full((X, T), 1.0 / T)
    out_b, out_xt, out_ty, encs = [], [], [], []
    ok, total, unsettled = True, 0, 0
    for beta in b:
        enc = enc * (1 + 1e-3 * rng.standard_normal(enc.shape))      # let clusters split
        enc = np.abs(enc) / np.abs(enc).sum(axis=1, keepdims=True)
        for it in range(max_iter):
            pt = px @ enc                                            # (T,)
            pty = (enc * px[:, None]).T @ py_x                        # (T, Y) joint p(t, y)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_py_t = np.log(pty) - np.log(pt)[:, None]
            log_py_t = np.where(np.isfinite(log_py_t), log_py_t, -745.0)
            # D(p(y|x) || p(y|t)) for all x, t
            kl = np.sum(py_x * log_py_x, axis=1)[:, None] - py_x @ log_py_t.T   # (X, T)
            with np.errstate(divide="ignore"):
                logits = np.log(pt)[None, :] - beta * kl
            new = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
            delta = float(np.max(np.abs(new - enc)))
            enc = new
            if delta < tol:
                break
        else:
            ok = False
            unsettled += 1
        total += it + 1
        joint_xt = enc * px[:, None]
        joint_ty = joint_xt.T @ py_x
        out_b.append(beta)
        out_xt.append(_mi(joint_xt) / LN2)
        out_ty.append(_mi(joint_ty) / LN2)
        encs.append(enc.copy())
    if not ok:
        warnings.warn(f"{func} reached max_iter={max_iter} at {unsettled} of {b.size} betas before "
                      f"the encoder settled (tol={tol:g}); the curve has converged=False (its points "
                      "are still achievable).", RuntimeWarning, stacklevel=2)
    xt, ty = np.array(out_xt), np.array(out_ty)
    idx = _upper_envelope(np.concatenate([[0.0], xt]), np.concatenate([[0.0], ty]))
    idx = idx[idx > 0] - 1                                           # drop the origin
    pyy = p.sum(axis=0)
    h_y = float(-np.sum(pyy[pyy > 0] * np.log2(pyy[pyy > 0])))
    return InformationBottleneckCurve(
        beta=np.array(out_b)[idx], i_xt=xt[idx], i_ty=ty[idx], i_xy=_mi(p) / LN2, h_y=h_y,
        encoders=[encs[i] for i in idx], converged=ok, n_iter=total, n_unsettled=unsettled)
