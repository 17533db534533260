"""Optimal vectorisation at rank d, and the InfoNCE/CPC bound, on joint laws where I(X; Y) is exact.

Scope (theory §9). X is a context (for a finite-state source: the last L symbols, so that for an
order-k Markov source with L = k the value I(X_{t+1}; X^t) is exact) and Y the next symbol.

* **Rank-d log-bilinear model on the sphere.** p_d(y | x) = exp(<u(x), v(y)> / tau) / Z(x) with
  ||u(x)|| = ||v(y)|| = 1 in R^d and a learned temperature tau, fitted to the exact joint law by maximum
  likelihood (L-BFGS). It carries

      I_d = I(X; Y) - E_X D(p(. | X) || p_d(. | X)) = H(Y) - E[-log2 p_d(Y | X)]   (bits),

  at most I(X; Y) for every fit (a divergence is never negative). With positive conditionals and
  d >= rank + 2 the supremum over fits is I(X; Y) itself (pad u and v with one private coordinate each
  and let tau shrink), so the curve I_d rises to the exact value; at small d it can even be negative
  (the model cannot match the marginal of Y without a bias: ``bias=True`` adds one).
* **InfoNCE / CPC.** With one positive pair (x, y_1) ~ p(x, y) and N - 1 negatives y_2..y_N ~ p(y),

      I_NCE(f) = E[ log2 ( e^{f(x, y_1)} / ((1/N) sum_j e^{f(x, y_j)}) ) ] <= min(I(X; Y), log2 N)

  for every critic f (van den Oord et al. 2018; Poole et al. 2019). Each term is at most log2 N, so the
  ceiling holds sample by sample; the bound <= I holds in expectation. The optimal critic is
  f* = log p(y | x) / p(y) (any x-dependent constant added). Negatives are drawn as multinomial counts
  over the K_Y symbols, so N = 2^12 (or 2^30) costs K_Y per term, not N.

References
----------
1. A. van den Oord, Y. Li, O. Vinyals, "Representation learning with contrastive predictive coding",
   arXiv:1807.03748, 2018.
2. B. Poole, S. Ozair, A. van den Oord, A. Alemi, G. Tucker, "On variational bounds of mutual
   information", ICML 2019.
3. D. McAllester, K. Stratos, "Formal limitations on the measurement of mutual information",
   AISTATS 2020 (no distribution-free lower bound exceeds O(log N)).
4. T. Mikolov et al., "Distributed representations of words and phrases", NeurIPS 2013 (log-bilinear
   next-word models); A. Radford et al., "Learning transferable visual models from natural language
   supervision", 2021 (unit-norm embeddings with a learned temperature).

Leaves out: neural encoders of unbounded contexts; the critic learned here is a table over (x, y).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import _describe, as_int, as_pmf, as_rng, check_size, int_power, one_of
from ..errors import InputError, ShapeError
from ..results import Estimate, Result

__all__ = ["LogBilinearFit", "VectorizationCurve", "InfoNCECurve", "context_joint", "loglinear_fit",
           "vectorization_curve", "infonce_bound", "infonce_curve"]

LN2 = math.log(2.0)

#: Largest number of cells of a joint law (contexts x symbols) the fits accept.
MAX_JOINT_CELLS = 2 ** 20

#: Smallest learned temperature. Below the full rank the supremum over unit vectors is approached only as
#: tau -> 0 (nearly parallel vectors emulate a free model of one dimension less), which no optimiser
#: reaches; bounding tau makes the fit a well-posed problem whose optimum is attained. At full rank tau
#: need not be small, so the bound costs nothing there.
TAU_MIN = 1e-3

#: Largest number of negatives N (the multinomial trick makes any N cost K_Y per term).
MAX_NEGATIVES = 2 ** 40


# ---------------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True)
class LogBilinearFit(Result):
    """Maximum-likelihood rank-d log-bilinear model p_d(y | x) ∝ exp(<u(x), v(y)>/tau + c(y)).

    Attributes
    ----------
    information : float
        I_d = I(X; Y) - E_X D(p(.|X) || p_d(.|X)) in bits (total, per pair (X, Y)).
    exact : float
        I(X; Y) in bits.
    gap : float
        E_X D(p(.|X) || p_d(.|X)) = exact - information, in bits (>= 0).
    u, v : ndarray, shapes (K_X, d), (K_Y, d)
        Context and symbol vectors (unit rows when `sphere`).
    tau : float
        Temperature (1 when not `sphere`: the scale is in the vectors).
    bias : ndarray or None
        c(y) in nats, when fitted.
    dim : int
    sphere : bool
    converged : bool
        Whether L-BFGS met its tolerance in the best start.
    n_iter : int
        Iterations of the best start.
    units : str
        ``"bits"``.
    """

    information: float
    exact: float
    gap: float
    u: np.ndarray
    v: np.ndarray
    tau: float
    bias: np.ndarray | None
    dim: int
    sphere: bool
    converged: bool
    n_iter: int
    units: str = "bits"

    def as_dict(self) -> dict:
        """Figures only (not the vectors)."""
        return {"dim": self.dim, "information": self.information, "exact": self.exact, "gap": self.gap,
                "tau": self.tau, "sphere": self.sphere, "converged": self.converged,
                "n_iter": self.n_iter, "units": self.units}


@dataclass(frozen=True)
class VectorizationCurve(Result):
    """I_d against d for the rank-d log-bilinear model (see :class:`LogBilinearFit`).

    Attributes
    ----------
    dims : ndarray of int
    information : ndarray
        I_d in bits for each d.
    exact : float
        I(X; Y) in bits.
    tau : ndarray
        Fitted temperature for each d.
    converged : ndarray of bool
    sphere, bias : bool
    units : str
    """

    dims: np.ndarray
    information: np.ndarray
    exact: float
    tau: np.ndarray
    converged: np.ndarray
    sphere: bool
    bias: bool
    units: str = "bits"


@dataclass(frozen=True)
class InfoNCECurve(Result):
    """The InfoNCE bound against the number of candidates N, beside log2 N and the exact I.

    Attributes
    ----------
    n_negatives : ndarray of int
        N (candidates per positive, the positive included).
    log2_n : ndarray
        The ceiling log2 N, bits.
    exact : float
        I(X; Y), bits.
    optimal, optimal_stderr : ndarray
        Bound with the optimal critic log p(y|x)/p(y) and its Monte Carlo standard error, bits.
    learned, learned_stderr : ndarray
        Bound with a table critic fitted on separate draws, evaluated on fresh ones, bits.
    n_samples : int
        Positive pairs per estimate.
    units : str
    """

    n_negatives: np.ndarray
    log2_n: np.ndarray
    exact: float
    optimal: np.ndarray
    optimal_stderr: np.ndarray
    learned: np.ndarray | None
    learned_stderr: np.ndarray | None
    n_samples: int
    units: str = "bits"
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# joint laws

def context_joint(source: Any, *, context: int | None = None) -> np.ndarray:
    """Exact stationary joint law of (X_{t-L+1..t}, X_{t+1}) as a (K^L, K) matrix.

    Parameters
    ----------
    source : TokenSource
        A finite-state source of seminfo.sources whose ``block_pmf`` is stationary (the default
        initial law of MarkovSource and HiddenMarkovSource).
    context : int, keyword-only, optional
        L, the context length; default the order k of a Markov source (then the mutual information of
        the joint is I(X_{t+1}; X^t), exactly), else 1.

    Returns
    -------
    ndarray, shape (K**L, K)
        Rows: contexts (oldest symbol most significant), columns: next symbol.

    Examples
    --------
    >>> from seminfo.sources import MarkovSource
    >>> context_joint(MarkovSource([[0.9, 0.1], [0.1, 0.9]])).round(3).tolist()
    [[0.45, 0.05], [0.05, 0.45]]
    """
    func = "context_joint"
    from ..sources.base import TokenSource
    if not isinstance(source, TokenSource):
        raise InputError(f"The `source` parameter of {func} must be a finite-state source of "
                         f"seminfo.sources (MarkovSource, HiddenMarkovSource, IIDSource). Got "
                         f"{_describe(source)}.")
    K = source.alphabet_size
    L = as_int(getattr(source, "order", 1) if context is None else context, "context", func, minimum=1)
    check_size(int_power(K, L + 1), "context", func, limit=MAX_JOINT_CELLS)
    return np.asarray(source.block_pmf(L + 1), dtype=np.float64).reshape(K ** L, K)


def _as_joint(joint: Any, func: str) -> np.ndarray:
    from ..sources.base import TokenSource
    if isinstance(joint, TokenSource):
        joint = context_joint(joint)
    P = as_pmf(joint, "joint", func, ndim=2)
    check_size(P.size, "joint", func, limit=MAX_JOINT_CELLS)
    return P


def _mi_bits(P: np.ndarray) -> tuple[float, float]:
    """(I(X;Y), H(Y)) in bits."""
    px, py = P.sum(1), P.sum(0)
    nz = P > 0
    mi = float(np.sum(P[nz] * np.log2(P[nz] / np.outer(px, py)[nz])))
    hy = float(-np.sum(py[py > 0] * np.log2(py[py > 0])))
    return max(mi, 0.0), hy


# ---------------------------------------------------------------------------------------------------
# rank-d log-bilinear fit

def _unpack(theta: np.ndarray, shapes: tuple[int, int, int], learn_scale: bool, bias: bool):
    Kx, Ky, d = shapes
    A = theta[: Kx * d].reshape(Kx, d)
    B = theta[Kx * d: (Kx + Ky) * d].reshape(Ky, d)
    i = (Kx + Ky) * d
    s = theta[i] if learn_scale else None
    i += int(learn_scale)
    c = theta[i: i + Ky] if bias else None
    return A, B, s, c


def _objective(theta, P, px, shapes, sphere, learn_scale, beta0, bias):
    """Cross-entropy -sum P log p_d (nats) and its gradient."""
    A, B, s, c = _unpack(theta, shapes, learn_scale, bias)
    if sphere:
        na = np.linalg.norm(A, axis=1, keepdims=True) + 1e-300
        nb = np.linalg.norm(B, axis=1, keepdims=True) + 1e-300
        U, V = A / na, B / nb
    else:
        U, V = A, B
    beta = math.exp(s) if learn_scale else beta0
    S = U @ V.T                                                          # (Kx, Ky)
    L = beta * S + (c[None, :] if bias else 0.0)
    m = L.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(L - m).sum(axis=1, keepdims=True))
    logq = L - lse
    loss = -float(np.sum(P * logq))
    R = px[:, None] * np.exp(logq) - P                                   # d loss / d L
    gU = beta * (R @ V)
    gV = beta * (R.T @ U)
    if sphere:
        gA = (gU - U * np.sum(U * gU, axis=1, keepdims=True)) / na
        gB = (gV - V * np.sum(V * gV, axis=1, keepdims=True)) / nb
    else:
        gA, gB = gU, gV
    parts = [gA.ravel(), gB.ravel()]
    if learn_scale:
        parts.append(np.array([beta * float(np.sum(R * S))]))
    if bias:
        parts.append(R.sum(axis=0))
    return loss, np.concatenate(parts)


def _fit(P, px, d, sphere, tau, bias, theta0, max_iter):
    from scipy.optimize import minimize
    Kx, Ky = P.shape
    learn_scale = sphere and tau is None
    beta0 = 1.0 / tau if tau is not None else 1.0
    bounds = None
    if learn_scale:                     # log(1/tau) <= log(1/TAU_MIN); everything else is free
        bounds = [(None, None)] * ((Kx + Ky) * d) + [(None, math.log(1.0 / TAU_MIN))]
        bounds += [(None, None)] * (Ky if bias else 0)
        theta0 = theta0.copy()
        theta0[(Kx + Ky) * d] = min(theta0[(Kx + Ky) * d], math.log(1.0 / TAU_MIN))
    res = minimize(_objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   args=(P, px, (Kx, Ky, d), sphere, learn_scale, beta0, bias),
                   options={"maxiter": max_iter, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10})
    return res


def _init(rng, Kx, Ky, d, sphere, tau, bias):
    scale = 1.0 if sphere else 0.1
    parts = [scale * rng.standard_normal(Kx * d), scale * rng.standard_normal(Ky * d)]
    if sphere and tau is None:
        parts.append(np.array([math.log(2.0)]))
    if bias:
        parts.append(np.zeros(Ky))
    return np.concatenate(parts)


def _spectral_init(P, px, d, rng, sphere, tau, bias):
    """Start from the rank-d SVD of the row-centred log p(y|x) (zeros floored at 1e-6), rows of u and v
    normalised on the sphere (with their largest product as the inverse temperature)."""
    Kx, Ky = P.shape
    cond = P / np.where(px > 0, px, 1.0)[:, None]
    L = np.log(np.maximum(cond, 1e-6))
    L -= L.mean(axis=1, keepdims=True)
    U, S, Vt = np.linalg.svd(L, full_matrices=False)
    r = min(d, S.size)
    A = np.zeros((Kx, d))
    B = np.zeros((Ky, d))
    A[:, :r] = U[:, :r] * np.sqrt(S[:r])
    B[:, :r] = Vt[:r].T * np.sqrt(S[:r])
    A += 1e-3 * rng.standard_normal(A.shape)
    B += 1e-3 * rng.standard_normal(B.shape)
    parts = [A.ravel(), B.ravel()]
    if sphere and tau is None:
        na, nb = np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1)
        parts.append(np.array([math.log(max(float(na.max() * nb.max()), 1e-3))]))
    if bias:
        parts.append(np.zeros(Ky))
    return np.concatenate(parts)


def _pad(theta, Kx, Ky, d_old, d, rng, sphere, tau, bias):
    """Warm start at rank d from a rank-d_old solution: new coordinates small and random."""
    A, B, s, c = _unpack(theta, (Kx, Ky, d_old), sphere and tau is None, bias)
    eps = 1e-2 * (np.abs(A).mean() + 1e-3)
    A2 = np.hstack([A, eps * rng.standard_normal((Kx, d - d_old))])
    B2 = np.hstack([B, eps * rng.standard_normal((Ky, d - d_old))])
    parts = [A2.ravel(), B2.ravel()]
    if s is not None:
        parts.append(np.array([s]))
    if c is not None:
        parts.append(c)
    return np.concatenate(parts)


def _check_fit_options(sphere, tau, bias, restarts, max_iter, func):
    sphere = one_of(sphere, (True, False), "sphere", func)
    bias = one_of(bias, (True, False), "bias", func)
    if tau is not None:
        from .._validate import as_float
        tau = as_float(tau, "tau", func, minimum=0.0, strict_min=True)
    restarts = as_int(restarts, "restarts", func, minimum=1, maximum=100)
    max_iter = as_int(max_iter, "max_iter", func, minimum=1, maximum=10 ** 6)
    return sphere, tau, bias, restarts, max_iter


def _result(res, P, px, hy, exact, d, sphere, tau, bias) -> LogBilinearFit:
    Kx, Ky = P.shape
    learn_scale = sphere and tau is None
    A, B, s, c = _unpack(res.x, (Kx, Ky, d), learn_scale, bias)
    if sphere:
        A = A / (np.linalg.norm(A, axis=1, keepdims=True) + 1e-300)
        B = B / (np.linalg.norm(B, axis=1, keepdims=True) + 1e-300)
    t = (math.exp(-s) if learn_scale else (tau if tau is not None else 1.0))
    info = hy - float(res.fun) / LN2
    return LogBilinearFit(information=info, exact=exact, gap=exact - info, u=A, v=B, tau=float(t),
                          bias=None if c is None else c.copy(), dim=d, sphere=sphere,
                          converged=bool(res.success), n_iter=int(res.nit))


def loglinear_fit(joint: Any, *, dim: int, sphere: bool = True, tau: float | None = None,
                  bias: bool = False, restarts: int = 3, max_iter: int = 2000,
                  seed: Any = 0) -> LogBilinearFit:
    """Fit p_d(y|x) ∝ exp(<u(x), v(y)>/tau) by maximum likelihood; I_d = H(Y) - E[-log2 p_d(Y|X)].

    Parameters
    ----------
    joint : array_like, shape (K_X, K_Y), or TokenSource
        Exact joint pmf of (X, Y); a finite-state source is turned into (context, next symbol) by
        :func:`context_joint`.
    dim : int, keyword-only
        d >= 1.
    sphere : bool, keyword-only
        Unit-norm u and v with temperature tau (default); False: free vectors in R^d, tau = 1.
    tau : float, keyword-only, optional
        Fixed temperature (sphere only); default learned, bounded below by ``TAU_MIN`` = 1e-3.
    bias : bool, keyword-only
        Add a per-symbol bias c(y) (default False, as in theory §9).
    restarts : int, keyword-only
        Starts of L-BFGS, the best kept (default 3): the first from the rank-d SVD of the centred
        log p(y|x), the others random.
    max_iter : int, keyword-only
        L-BFGS iterations per start (default 2000); ``converged`` says whether they sufficed.
    seed : int or Generator, keyword-only

    Returns
    -------
    LogBilinearFit
        ``information`` I_d (bits) <= ``exact`` I(X;Y); ``gap`` = E_X D(p || p_d) in bits.

    Notes
    -----
    I_d <= I(X;Y) for any fit, however poor, because it is I(X;Y) minus a relative entropy; this is
    what the tests check, together with I_d reaching I(X;Y) at full rank. The fit is non-convex: the
    value is a lower estimate of the best rank-d figure (more ``restarts`` can only raise it).

    Examples
    --------
    A noiseless copy of a fair bit holds 1 bit; vectors on the circle (d = 2) with a small temperature
    carry almost all of it (the exact bit needs tau -> 0).

    >>> fit = loglinear_fit([[0.5, 0.0], [0.0, 0.5]], dim=2)
    >>> fit.information <= fit.exact == 1.0, fit.information > 0.999
    (True, True)
    """
    func = "loglinear_fit"
    P = _as_joint(joint, func)
    Kx, Ky = P.shape
    d = as_int(dim, "dim", func, minimum=1, maximum=4096)
    sphere, tau, bias, restarts, max_iter = _check_fit_options(sphere, tau, bias, restarts, max_iter, func)
    if tau is not None and not sphere:
        raise InputError(f"The `tau` parameter of {func} applies to unit-norm vectors only (sphere=True); "
                         "free vectors carry their own scale. Drop `tau` or set sphere=True.")
    check_size((Kx + Ky) * d * 40, "dim", func, limit=MAX_JOINT_CELLS * 8)
    rng = as_rng(seed, func)
    px = P.sum(axis=1)
    exact, hy = _mi_bits(P)
    best = None
    starts = [_spectral_init(P, px, d, rng, sphere, tau, bias)]
    starts += [_init(rng, Kx, Ky, d, sphere, tau, bias) for _ in range(restarts - 1)]
    for theta0 in starts:
        res = _fit(P, px, d, sphere, tau, bias, theta0, max_iter)
        if best is None or res.fun < best.fun:
            best = res
    return _result(best, P, px, hy, exact, d, sphere, tau, bias)


def vectorization_curve(joint: Any, *, dims: Any = None, sphere: bool = True, tau: float | None = None,
                        bias: bool = False, restarts: int = 1, max_iter: int = 1000,
                        seed: Any = 0) -> VectorizationCurve:
    """I_d against d: the information a rank-d log-bilinear model on the sphere carries (bits).

    Each d is fitted from `restarts` random starts and from the best fit at the previous d padded with
    small new coordinates (warm start), keeping the best; so the curve is non-decreasing up to the
    optimiser's tolerance.

    Parameters
    ----------
    joint : array_like (K_X, K_Y) or TokenSource
        As in :func:`loglinear_fit`.
    dims : sequence of int, keyword-only, optional
        Increasing ranks; default 1, 2, 3, ... up to min(K_X, K_Y) + 2.
    sphere, tau, bias, restarts, max_iter, seed : keyword-only
        As in :func:`loglinear_fit`.

    Returns
    -------
    VectorizationCurve

    Examples
    --------
    >>> c = vectorization_curve([[0.4, 0.1], [0.1, 0.4]], dims=[1, 2])
    >>> bool(c.information[-1] <= c.exact + 1e-9), round(c.exact, 4)
    (True, 0.2781)
    """
    func = "vectorization_curve"
    P = _as_joint(joint, func)
    Kx, Ky = P.shape
    sphere, tau, bias, restarts, max_iter = _check_fit_options(sphere, tau, bias, restarts, max_iter, func)
    if tau is not None and not sphere:
        raise InputError(f"The `tau` parameter of {func} applies to unit-norm vectors only (sphere=True). "
                         "Drop `tau` or set sphere=True.")
    if dims is None:
        ds = list(range(1, min(Kx, Ky) + 3))
    else:
        try:
            ds = [as_int(v, "dims", func, minimum=1, maximum=4096) for v in np.atleast_1d(np.asarray(dims))
                  .tolist()]
        except (TypeError, ValueError):
            raise InputError(f"The `dims` parameter of {func} must be a sequence of positive integers. Got "
                             f"{_describe(dims)}.") from None
        if not ds or any(b <= a for a, b in zip(ds, ds[1:])):
            raise InputError(f"The `dims` parameter of {func} must be a non-empty increasing sequence of "
                             f"positive integers. Got {ds}.")
    check_size((Kx + Ky) * ds[-1] * 40 * len(ds), "dims", func, limit=MAX_JOINT_CELLS * 64)
    rng = as_rng(seed, func)
    px = P.sum(axis=1)
    exact, hy = _mi_bits(P)
    info, taus, conv = [], [], []
    prev, prev_d = None, None
    for d in ds:
        starts = [_spectral_init(P, px, d, rng, sphere, tau, bias)]
        starts += [_init(rng, Kx, Ky, d, sphere, tau, bias) for _ in range(restarts - 1)]
        if prev is not None:
            starts.insert(0, _pad(prev.x, Kx, Ky, prev_d, d, rng, sphere, tau, bias))
        best = None
        for theta0 in starts:
            res = _fit(P, px, d, sphere, tau, bias, theta0, max_iter)
            if best is None or res.fun < best.fun:
                best = res
        r = _result(best, P, px, hy, exact, d, sphere, tau, bias)
        info.append(r.information)
        taus.append(r.tau)
        conv.append(r.converged)
        prev, prev_d = best, d
    return VectorizationCurve(dims=np.array(ds), information=np.array(info), exact=exact,
                              tau=np.array(taus), converged=np.array(conv), sphere=sphere, bias=bias)


# ---------------------------------------------------------------------------------------------------
# InfoNCE

def _optimal_critic(P: np.ndarray) -> np.ndarray:
    """log p(x, y) / (p(x) p(y)) in nats; -inf where p(x, y) = 0 (never a positive pair)."""
    px, py = P.sum(1), P.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.log(P) - np.log(px)[:, None] - np.log(py)[None, :]
    F[P == 0] = -np.inf
    return F


def _draw(P: np.ndarray, N: int, n: int, rng: np.random.Generator):
    """n positive pairs (x, y1) and the counts (n, K_Y) of the N - 1 negatives of each."""
    Kx, Ky = P.shape
    flat = rng.choice(Kx * Ky, size=n, p=P.ravel())
    x, y1 = np.divmod(flat, Ky)
    py = P.sum(axis=0)
    counts = rng.multinomial(N - 1, py / py.sum(), size=n) if N > 1 else np.zeros((n, Ky), np.int64)
    return x, y1, counts


def _stratified_terms(F: np.ndarray, P: np.ndarray, N: int, n: int, rng: np.random.Generator
                      ) -> tuple[float, float]:
    """InfoNCE in bits, stratified over the positive pair: the n draws are split over the cells (x, y1)
    in proportion to P (at least 2 per cell with P > 0), only the negatives are random, and the cell means
    are weighted by P. Unbiased for the same expectation as plain sampling, without the variance of
    choosing the positives; the standard error is sqrt(sum_c P_c^2 s_c^2 / n_c)."""
    Kx, Ky = P.shape
    cells = np.flatnonzero(P.ravel() > 0)
    w = P.ravel()[cells]
    n_c = np.maximum(np.floor(w * n).astype(np.int64), 2)
    x = np.repeat(cells // Ky, n_c)
    y1 = np.repeat(cells % Ky, n_c)
    py = P.sum(axis=0)
    counts = (rng.multinomial(N - 1, py / py.sum(), size=x.size) if N > 1
              else np.zeros((x.size, Ky), np.int64))
    t = _terms(F, x, y1, counts, N) / LN2
    starts = np.concatenate([[0], np.cumsum(n_c)[:-1]])
    means = np.add.reduceat(t, starts) / n_c
    sq = np.add.reduceat((t - np.repeat(means, n_c)) ** 2, starts) / (n_c - 1)
    return float(w @ means), float(math.sqrt(np.sum(w ** 2 * sq / n_c)))


def _terms(F: np.ndarray, x, y1, counts, N: int) -> np.ndarray:
    """Per-sample InfoNCE terms (nats): f(x,y1) - log((e^{f(x,y1)} + sum_y c_y e^{f(x,y)}) / N)."""
    n = x.size
    W = counts.astype(np.float64)
    W[np.arange(n), y1] += 1.0                                           # the positive among the N
    Fx = F[x]                                                            # (n, Ky)
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = np.where(W > 0, np.log(W), -np.inf) + Fx
    logw = np.where(W > 0, logw, -np.inf)                                # 0 * e^{-inf} = 0
    m = logw.max(axis=1)
    lse = m + np.log(np.exp(logw - m[:, None]).sum(axis=1))
    return Fx[np.arange(n), y1] - lse + math.log(N)


def _learn_critic(P, N, n_train, rng, max_iter=500):
    """Table critic F (K_X, K_Y) maximising the InfoNCE objective on n_train fresh draws."""
    from scipy import sparse
    from scipy.optimize import minimize
    Kx, Ky = P.shape
    x, y1, counts = _draw(P, N, n_train, rng)
    W = counts.astype(np.float64)
    W[np.arange(n_train), y1] += 1.0
    logW = np.where(W > 0, np.log(np.where(W > 0, W, 1.0)), -np.inf)
    onehot = np.zeros((n_train, Ky))
    onehot[np.arange(n_train), y1] = 1.0
    S = sparse.csr_matrix((np.ones(n_train), (x, np.arange(n_train))), shape=(Kx, n_train))
    ridge = 1e-4 / n_train

    def neg(theta):
        F = theta.reshape(Kx, Ky)
        Fx = F[x]
        lw = logW + Fx
        m = lw.max(axis=1, keepdims=True)
        e = np.exp(lw - m)
        z = e.sum(axis=1, keepdims=True)
        terms = Fx[np.arange(n_train), y1] - (m + np.log(z)).ravel()
        G = S @ (onehot - e / z)                                         # (Kx, Ky) ascent direction
        val = -terms.mean() + ridge * float(theta @ theta)
        return val, (-G / n_train).ravel() + 2 * ridge * theta

    res = minimize(neg, np.zeros(Kx * Ky), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": 1e-9})
    return res.x.reshape(Kx, Ky), bool(res.success)


def _check_nce(joint, n_negatives, critic, n_samples, n_train, func):
    P = _as_joint(joint, func)
    Kx, Ky = P.shape
    N = as_int(n_negatives, "n_negatives", func, minimum=1, maximum=MAX_NEGATIVES)
    n = as_int(n_samples, "n_samples", func, minimum=2)
    check_size(n * Ky * 4, "n_samples", func)
    if isinstance(critic, str):
        critic = one_of(critic, ("optimal", "learned"), "critic", func)
    else:
        from .._validate import as_real
        arr = as_real(critic, "critic", func, what="'optimal', 'learned' or a (K_X, K_Y) array of scores")
        if arr.shape != P.shape:
            raise ShapeError(f"The `critic` parameter of {func} must have the shape of `joint`, {P.shape}. "
                             f"Got {arr.shape}.")
        if np.any(np.isnan(arr)) or np.any(arr == np.inf):
            raise InputError(f"The `critic` parameter of {func} must hold numbers or -inf (no NaN, no "
                             "+inf).")
        critic = arr
    n_train = n if n_train is None else as_int(n_train, "n_train", func, minimum=2)
    check_size(n_train * Ky * 4, "n_train", func)
    return P, N, critic, n, n_train


def infonce_bound(joint: Any, *, n_negatives: int, critic: Any = "optimal", n_samples: int = 20_000,
                  n_train: int | None = None, seed: Any = 0) -> Estimate:
    """The InfoNCE lower bound E[log2 (e^{f(x,y_1)} / (1/N) sum_j e^{f(x,y_j)})] <= min(I, log2 N).

    Parameters
    ----------
    joint : array_like, shape (K_X, K_Y), or TokenSource
        Exact joint pmf of (X, Y) (a source gives (context, next symbol), see :func:`context_joint`).
    n_negatives : int, keyword-only
        N, the candidates each positive is scored against, itself included (van den Oord et al.'s N:
        one positive and N - 1 negatives drawn from p(y)); 1 <= N <= 2^40.
    critic : "optimal", "learned" or array (K_X, K_Y), keyword-only
        ``"optimal"``: f = log p(y|x)/p(y) (the best critic, Poole et al. 2019). ``"learned"``: a table
        fitted by L-BFGS to maximise the same objective on `n_train` separate draws, then evaluated on
        fresh ones (so the estimate is still a lower bound in expectation). An array: your scores (nats;
        -inf allowed).
    n_samples : int, keyword-only
        Positive pairs in the Monte Carlo average (default 20,000).
    n_train : int, keyword-only, optional
        Training draws of the learned critic (default `n_samples`).
    seed : int or Generator, keyword-only

    Returns
    -------
    Estimate
        In bits, with its standard error (positives stratified over the cells of the joint, negatives
        drawn at random: see ``method``); ``extra`` holds ``log2_n``, ``exact_bits``
        (I(X;Y)) and ``n_negatives``.

    Notes
    -----
    Every term is at most log2 N, so the estimate never exceeds log2 N; its expectation is at most
    I(X;Y) for any critic (theory §9). With the optimal critic it rises to I(X;Y) as N grows.

    Examples
    --------
    Independent X and Y: the optimal critic is 0 and so is every term.

    >>> e = infonce_bound([[0.25, 0.25], [0.25, 0.25]], n_negatives=8)
    >>> abs(e.value) < 1e-12, e.stderr < 1e-12, e.units
    (True, True, 'bits')
    """
    func = "infonce_bound"
    P, N, critic, n, n_train = _check_nce(joint, n_negatives, critic, n_samples, n_train, func)
    rng = as_rng(seed, func)
    exact, _ = _mi_bits(P)
    notes = ""
    if isinstance(critic, str) and critic == "optimal":
        F, method = _optimal_critic(P), "infonce, optimal critic log p(y|x)/p(y)"
    elif isinstance(critic, str):
        F, ok = _learn_critic(P, N, n_train, rng)
        method = f"infonce, table critic learned on {n_train} draws"
        notes = "" if ok else "the critic's L-BFGS stopped at its iteration cap"
    else:
        F, method = critic, "infonce, given critic"
    value, se = _stratified_terms(F, P, N, n, rng)
    return Estimate(value=value, stderr=se, units="bits", n=n, method=method + ", positives stratified",
                    notes=notes, extra={"n_negatives": N, "log2_n": math.log2(N), "exact_bits": exact})


def infonce_curve(joint: Any, *, n_negatives: Any = None, n_samples: int = 20_000,
                  n_train: int | None = None, learned: bool = True, seed: Any = 0) -> InfoNCECurve:
    """InfoNCE with the optimal and a learned critic for N = 2, 4, ..., 4096, against log2 N and I.

    Parameters
    ----------
    joint : array_like (K_X, K_Y) or TokenSource
    n_negatives : sequence of int, keyword-only
        Values of N; default 2^1 .. 2^12.
    n_samples, n_train, seed : keyword-only
        As in :func:`infonce_bound`.
    learned : bool, keyword-only
        Also fit the table critic at each N (default True; `learned` and `learned_stderr` are None
        when False).

    Returns
    -------
    InfoNCECurve

    Examples
    --------
    >>> c = infonce_curve([[0.5, 0.0], [0.0, 0.5]], n_negatives=[2, 64], n_samples=2000, learned=False)
    >>> bool(np.all(c.optimal <= c.log2_n + 1e-12)), round(c.exact, 6)
    (True, 1.0)
    """
    func = "infonce_curve"
    P = _as_joint(joint, func)
    Ns = [2 ** i for i in range(1, 13)] if n_negatives is None else n_negatives
    try:
        Ns = [as_int(v, "n_negatives", func, minimum=1, maximum=MAX_NEGATIVES) for v in
              np.atleast_1d(np.asarray(Ns)).tolist()]
    except (TypeError, ValueError):
        raise InputError(f"The `n_negatives` parameter of {func} must be a sequence of positive integers. "
                         f"Got {_describe(n_negatives)}.") from None
    if not Ns:
        raise InputError(f"The `n_negatives` parameter of {func} must not be empty.")
    learned = one_of(learned, (True, False), "learned", func)
    rng = as_rng(seed, func)
    opt, opt_se, lrn, lrn_se = [], [], [], []
    for N in Ns:
        e = infonce_bound(P, n_negatives=N, critic="optimal", n_samples=n_samples, seed=rng)
        opt.append(e.value)
        opt_se.append(e.stderr)
        if learned:
            e = infonce_bound(P, n_negatives=N, critic="learned", n_samples=n_samples, n_train=n_train,
                              seed=rng)
            lrn.append(e.value)
            lrn_se.append(e.stderr)
    exact, _ = _mi_bits(P)
    return InfoNCECurve(n_negatives=np.array(Ns), log2_n=np.log2(np.array(Ns, dtype=float)), exact=exact,
                        optimal=np.array(opt), optimal_stderr=np.array(opt_se),
                        learned=np.array(lrn) if learned else None,
                        learned_stderr=np.array(lrn_se) if learned else None, n_samples=int(as_int(n_samples, "n_samples",
                                                                                 func, minimum=2)))
