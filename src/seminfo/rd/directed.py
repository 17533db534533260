"""Directed (nonanticipatory) rate-distortion of a finite-state source over a horizon n (theory §5).

R_dir,n(D) = (1/n) min I(X^n -> Xhat^n) over causally conditioned kernels
P(xhat^n || x^n) = prod_t P(xhat_t | xhat^{t-1}, x^t) with (1/n) sum_t E d(X_t, Xhat_t) <= D.
The source never sees the reconstructions, so I(X^n -> Xhat^n) = I(X^n; Xhat^n) here, and the
problem is convex: causal kernels form a convex set (linear constraints on the joint law) and the
mutual information is convex in the kernel. We solve its Lagrangian at multiplier beta exactly by
alternating minimisation of F(P, Q) = E log P(Xhat^n || X^n) / Q(Xhat^n) + beta E d over the causal
kernel P (a backward recursion: P_t = q_t exp(-beta d - E W_{t+1}) / exp(-W_t)) and the output law Q
(its marginal) -- Blahut-Arimoto for causal kernels, in the spirit of Naiss & Permuter (2013) and
Stavrou, Charalambous et al. (2016). Certificate: G(Q) = min_P F(P, Q) is convex and 1-homogeneous
in log scale (G(aQ) = G(Q) - log a), so min G >= G(Q) - log max_xhat r(xhat), r = Q_P / Q (the
argument of Blahut's Theorem 8, carried over); a target D is met by bracketing beta as in
:mod:`.blahut`, so each result is an interval of width <= `tol`.

Facts checked in tests: R_dir,n(D) equals the single-letter R(D) for iid sources, and is >= the
block rate-distortion R_n(D) = (1/n) min I(X^n; Xhat^n) (no causality) for sources with memory.

Conventions: bits per source symbol; distortion per symbol; exhaustive enumeration of x^n and xhat^n
(K^n M^n cells), so the horizon is small (the default cap is 2^22 cells).

References
----------
1. theory §5. 2. A. K. Gorbunov and M. S. Pinsker, "Nonanticipatory and prognostic epsilon entropies
   and message generation rates", Probl. Inf. Transm. 9, 1973. 3. S. Tatikonda, PhD thesis, MIT,
   2000. 4. I. Naiss and H. Permuter, "Extension of the Blahut-Arimoto algorithm for maximizing
   directed information", IEEE Trans. IT 59(1), 2013. 5. P. A. Stavrou, C. D. Charalambous, C. K.
   Kourtellaris, "Sequential necessary and sufficient conditions for capacity achieving
   distributions of channels with memory and feedback" / nonanticipative RDF papers, 2016-2018.

Leaves out: infinite-horizon limits (compute several n and watch convergence) and feedback sources.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validate import as_float, as_int, as_pmf
from ..errors import InputError
from ..results import CertifiedResult, deprecated_alias
from ..units import LN2
from ._iterate import BAPoint, check_distortion, check_supported
from .blahut import RateDistortionResult, _Problem, _result, solve_point

__all__ = ["DirectedRateDistortionResult", "directed_rate_distortion", "block_rate_distortion"]

#: Largest K^n * M^n the exhaustive solver accepts.
MAX_CELLS = 2 ** 22


@dataclass(frozen=True)
class DirectedRateDistortionResult(CertifiedResult):
    """R_dir,n at one distortion, certified: ``lower <= R_dir,n(distortion) <= upper``.

    Attributes
    ----------
    rate, lower, upper : float
        (1/n) I(X^n -> Xhat^n): midpoint and ends of the certified interval, bits per symbol.
    distortion : float
        Per-symbol distortion the interval is about.
    slope : float
        dR_dir,n/dD at `distortion`, bits per distortion unit (per-symbol rate over per-symbol
        distortion).
    horizon : int
        n.
    joint : ndarray, shape (K, M) * n
        Joint law of (X_1, Xhat_1, ..., X_n, Xhat_n) of a causal kernel with distortion <=
        `distortion` and rate <= `upper` (axes interleaved, as
        ``seminfo.exact.directed_information(joint, n)`` expects).

    ``rate_lower`` and ``rate_upper`` are deprecated aliases of `lower` and `upper`.
    """

    rate: float
    distortion: float
    lower: float
    upper: float
    slope: float
    horizon: int
    joint: np.ndarray
    converged: bool
    n_iter: int
    tol: float
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "causal blahut-arimoto (alternating minimisation)"

    rate_lower = deprecated_alias("lower", "rate_lower")
    rate_upper = deprecated_alias("upper", "rate_upper")


def _check_horizon(K: int, M: int, n: int, func: str) -> None:
    """Refuse a horizon whose K^n M^n grid exceeds MAX_CELLS, before anything is allocated."""
    bits = n * math.log2(K * M)                              # no (K M)^n for a huge n
    if bits > 64 or (K * M) ** n > MAX_CELLS:
        cells = f"{(K * M) ** n}" if bits <= 64 else f"2^{bits:.4g}"
        raise InputError(f"The `n` parameter of {func} needs K^n M^n = {cells} cells (K = {K}, M = "
                         f"{M}, n = {n}), more than the limit of {MAX_CELLS}. Use a smaller horizon.")


def _block_setup(source: Any, d: Any, n: Any, func: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Validated n, block pmf (K,)*n and distortion (K, M), checking the size before building.

    `source` is a source with ``block_pmf`` (and ``alphabet_size``) or the block pmf itself.
    """
    n = as_int(n, "n", func, minimum=1)
    if hasattr(source, "block_pmf"):
        K = getattr(source, "alphabet_size", None)
        K = int(K) if K is not None else int(np.size(source.block_pmf(1)))
        dd = check_distortion(d, K, func)
        _check_horizon(K, dd.shape[1], n, func)
        block = np.asarray(source.block_pmf(n), dtype=np.float64)
    else:
        block = as_pmf(source, "source", func)
        if block.ndim != n:
            raise InputError(f"The `source` parameter of {func} must be a source with block_pmf or "
                             f"a pmf with n = {n} axes. Got {block.ndim} axes.")
        K = block.shape[0]
        if any(s != K for s in block.shape):
            raise InputError(f"The `source` parameter of {func} must give a block pmf of shape "
                             f"(K,)*n. Got {block.shape}.")
        dd = check_distortion(d, K, func)
        _check_horizon(K, dd.shape[1], n, func)
    return n, block, dd


class _CausalProblem(_Problem):
    """Block source law and per-letter distortion; solves the Lagrangian at a multiplier."""

    def __init__(self, source: Any, d: Any, n: Any, func: str, tol: Any, max_iter: Any):
        self.func = func
        self.n, block, self.d = _block_setup(source, d, n, func)
        n = self.n
        self.K = K = block.shape[0]
        self.M = self.d.shape[1]
        self.tol = as_float(tol, "tol", func, minimum=0.0, strict_min=True)   # bits per symbol
        self.max_iter = as_int(max_iter, "max_iter", func, minimum=1)
        self.scale = 1
        self.n_iter = 0
        # marginals p_t(x^t) (K^t,) and conditionals cond_t(x_t | x^{t-1}) (K^{t-1}, K)
        self.px = [block.sum(axis=tuple(range(t, n))).reshape(-1) if t < n else block.reshape(-1)
                   for t in range(1, n + 1)]
        self.cond = []
        prev = np.ones(1)
        for t in range(n):
            joint = self.px[t].reshape(-1, K)                                  # (K^t, K)
            self.cond.append(np.divide(joint, prev[:, None], out=np.zeros_like(joint),
                                       where=prev[:, None] > 0))
            prev = self.px[t]
        letter = [block.sum(axis=tuple(a for a in range(n) if a != t)) for t in range(n)]  # p_t(x)
        for t in range(n):
            check_supported(letter[t], self.d, func)
        self.letter = letter
        rowmin = self.d.min(axis=1)
        self.const = sum(float(pl @ rowmin) for pl in letter)                   # sum_t E min d
        self.dz = self.d - rowmin[:, None]
        self.d_min = self.const / n
        cols = [self.d.T @ pl for pl in letter]                                 # (M,) each, +inf ok
        self.zero_cols = [int(np.argmin(c)) for c in cols]
        self.d_max = sum(float(c.min()) for c in cols) / n

    # -- the Lagrangian at beta ----------------------------------------------------------------
    def _logA(self, beta: float) -> np.ndarray:
        if math.isinf(beta):
            return np.where(self.dz == 0, 0.0, -np.inf)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(self.dz), -beta * np.where(np.isfinite(self.dz), self.dz, 0),
                            -np.inf)

    def _sweep(self, logA: np.ndarray, logq: list[np.ndarray]):
        """P-step (backward) and forward pass: returns G(Q) (nats), joint (K^n, M^n), kernels."""
        K, M, n = self.K, self.M, self.n
        W = None                                                               # W_{t+1}(x^t, xh^t)
        kernels = [None] * n
        for t in range(n, 0, -1):
            # E_t(x^t, xh^t) = sum_{x_{t+1}} cond(x_{t+1} | x^t) W_{t+1}(x^{t+1}, xh^t)
            if W is None:
                E = np.zeros((K ** t, M ** t))
            else:
                E = np.einsum("ak,akm->am", self.cond[t], W.reshape(K ** t, K, M ** t))
            logits = (logq[t - 1].reshape(1, 1, M ** (t - 1), M)
                      + logA.reshape(1, K, 1, M)
                      - E.reshape(K ** (t - 1), K, M ** (t - 1), M))          # (K^{t-1}, K, M^{t-1}, M)
            Wt = -logsumexp(logits, axis=-1)                                   # (K^{t-1}, K, M^{t-1})
            kernels[t - 1] = np.exp(logits + Wt[..., None])
            W = Wt.reshape(K ** t, M ** (t - 1))
        G = float(self.px[0] @ W[:, 0])
        J = np.ones((1, 1))
        for t in range(1, n + 1):
            J = (J.reshape(K ** (t - 1), 1, M ** (t - 1), 1) * self.cond[t - 1][:, :, None, None]
                 * kernels[t - 1])
            J = J.reshape(K ** t, M ** t)
        return G, J

    def solve(self, beta: float, warm: BAPoint | None = None) -> BAPoint:
        M, n = self.M, self.n
        logA = self._logA(beta)
        if warm is not None:                                   # warm.logq: this problem's tables
            logq = [np.maximum(lq, -700.0) for lq in warm.logq]
            logq = [lq - logsumexp(lq, axis=1, keepdims=True) for lq in logq]
        else:
            logq = [np.full((M ** t, M), -math.log(M)) for t in range(n)]
        it = 0
        while True:
            G, J = self._sweep(logA, logq)
            it += 1
            Qo = J.sum(axis=0)                                                 # (M^n,)
            logQ = np.zeros(1)
            for t in range(n):
                logQ = (logQ[:, None] + logq[t]).reshape(-1)
            with np.errstate(divide="ignore"):
                logr = np.where(Qo > 0, np.log(np.where(Qo > 0, Qo, 1.0)) - logQ, -np.inf)
            kl = float(np.sum(np.where(Qo > 0, Qo * logr, 0.0)))
            gap = max(float(np.max(logr)) - kl, 0.0)
            # rounding allowance (nats, whole block) on I_total and on its lower bound
            pad = 16 * n * float(np.finfo(float).eps) * (1.0 + abs(G) + abs(kl))
            if gap + 2 * pad <= self.rate_tol * n / 4 or it >= self.max_iter:
                break
            new = []                                                           # Q-step
            for t in range(n):
                m_t = Qo.reshape(M ** (t + 1), -1).sum(axis=1).reshape(M ** t, M)
                tot = m_t.sum(axis=1, keepdims=True)
                with np.errstate(divide="ignore", invalid="ignore"):
                    new.append(np.where(tot > 0, np.log(m_t) - np.log(tot), -math.log(M)))
            logq = new
        self.n_iter += it
        Edz = float(np.sum(J * self._dz_total()))
        I_total = max(G - (0.0 if math.isinf(beta) else beta * Edz) - kl, 0.0)
        D = (Edz + self.const) / n
        I = (I_total + pad) / n                                # certified: R in [I - g, I]
        g = (gap + 2 * pad) / n
        a = I - g + (0.0 if math.isinf(beta) else beta * D)
        pt = BAPoint(beta=beta, D=D, I=I, a=a, gap=g, logq=logq, Q=J,
                     converged=gap + 2 * pad <= self.rate_tol * n / 4, n_iter=it)
        return pt

    def _dz_total(self) -> np.ndarray:
        """sum_t dz(x_t, xh_t) on the (K^n, M^n) grid (finite where the kernel can put mass)."""
        if not hasattr(self, "_dzt"):
            K, M, n = self.K, self.M, self.n
            dz = np.where(np.isfinite(self.dz), self.dz, 0.0)
            tot = np.zeros((K,) * n + (M,) * n)
            for t in range(n):
                shape = [1] * (2 * n)
                shape[t], shape[n + t] = K, M
                tot = tot + dz.reshape(shape)
            self._dzt = tot.reshape(K ** n, M ** n)
        return self._dzt

    def zero_point(self) -> BAPoint:
        """Reconstruction independent of the source: xh_t = the best column for p_t (rate 0)."""
        K, M, n = self.K, self.M, self.n
        idx = 0
        for c in self.zero_cols:
            idx = idx * M + c
        J = np.zeros((K ** n, M ** n))
        J[:, idx] = self.px[-1]
        logq = []
        for t in range(n):
            lq = np.full((M ** t, M), -np.inf)
            lq[:, self.zero_cols[t]] = 0.0
            logq.append(lq)
        return BAPoint(beta=0.0, D=self.d_max, I=0.0, a=0.0, gap=0.0, logq=logq, Q=J)

    def joint(self, J: np.ndarray) -> np.ndarray:
        """(K^n, M^n) -> interleaved axes (X1, Xh1, ..., Xn, Xhn)."""
        K, M, n = self.K, self.M, self.n
        arr = J.reshape((K,) * n + (M,) * n)
        order = [a for t in range(n) for a in (t, n + t)]
        return np.transpose(arr, order).copy()


def directed_rate_distortion(source: Any, d: Any, n: int, D: Any = None, slope: Any = None, *,
                             tol: float = 1e-9, max_iter: int = 20_000
                             ) -> DirectedRateDistortionResult:
    """R_dir,n(D) = (1/n) min I(X^n -> Xhat^n) over causal kernels with (1/n) sum_t E d <= D.

    Parameters
    ----------
    source : TokenSource or array_like, shape (K,)*n
        A finite-state source with ``block_pmf(n)`` (IIDSource, MarkovSource, HiddenMarkovSource)
        or the block pmf of X^n itself.
    d : array_like, shape (K, M), or "hamming" / "squared"
        Per-letter distortion (+inf forbids a pair).
    n : int
        Horizon; K^n M^n must be at most 2^22 (checked before anything is built).
    D : float, optional
        Target per-symbol distortion (>= D_min). Exactly one of `D` and `slope`.
    slope : float, optional
        dR/dD <= 0 in bits per distortion unit.
    tol : float, keyword-only
        Largest width of the certified interval, bits per symbol (finite, > 0).
    max_iter : int, keyword-only
        Cap on alternating-minimisation sweeps per multiplier (warning and converged=False).

    Returns
    -------
    DirectedRateDistortionResult
        rate, lower, upper in bits per symbol; slope in bits per distortion unit; the joint law
        of (X_t, Xhat_t)_t of a causal kernel achieving it.

    Examples
    --------
    For an iid source it is the single-letter R(D): Bernoulli(0.3), Hamming, D = 0.1.

    >>> from seminfo.sources import IIDSource
    >>> r = directed_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 3, D=0.1)
    >>> round(r.rate, 6), round(r.slope, 4), r.width <= 1e-9
    (0.412295, -3.1699, True)
    """
    func = "directed_rate_distortion"
    if (D is None) == (slope is None):
        raise InputError(f"{func} needs exactly one of the `D` and `slope` parameters. Got "
                         f"{'neither' if D is None else 'both'}.")
    prob = _CausalProblem(source, d, n, func, tol, max_iter)
    sol = solve_point(prob, D, slope)
    lo, up = max(sol.lower, 0.0) / LN2, sol.upper / LN2
    return DirectedRateDistortionResult(
        rate=0.5 * (lo + up), distortion=sol.distortion, lower=lo, upper=up, slope=sol.slope,
        horizon=prob.n, joint=prob.joint(sol.Q), converged=sol.converged, n_iter=prob.n_iter,
        tol=prob.tol)


def block_rate_distortion(source: Any, d: Any, n: int, D: Any, *, tol: float = 1e-9,
                          max_iter: int = 20_000) -> RateDistortionResult:
    """R_n(D) = (1/n) min I(X^n; Xhat^n) with (1/n) sum_t E d(X_t, Xhat_t) <= D (no causality).

    The classical block rate-distortion function of the super-letter X^n, computed as
    :func:`rate_distortion` of the block law on the (K^n, M^n) distortion (1/n) sum_t d(x_t,
    xhat_t). The result is per symbol: rate, lower, upper (and `tol`) in bits per symbol, slope
    in bits per symbol per distortion unit (the block's slope divided by n); `conditional` and
    `reproduction` are the block kernel (K^n, M^n) and its output law (M^n,).

    Parameters as in :func:`directed_rate_distortion` (K^n M^n at most 2^22).

    Examples
    --------
    For an iid source it is the single-letter R(D), slope included.

    >>> from seminfo.sources import IIDSource
    >>> r = block_rate_distortion(IIDSource([0.7, 0.3]), "hamming", 2, D=0.1)
    >>> round(r.rate, 6), round(r.slope, 4)
    (0.412295, -3.1699)
    """
    func = "block_rate_distortion"
    n, block, dd = _block_setup(source, d, n, func)
    tol = as_float(tol, "tol", func, minimum=0.0, strict_min=True)
    K, M = dd.shape
    tot = np.zeros((K,) * n + (M,) * n)
    for t in range(n):
        shape = [1] * (2 * n)
        shape[t], shape[n + t] = K, M
        tot = tot + dd.reshape(shape)
    prob = _Problem(block.reshape(-1), tot.reshape(K ** n, M ** n) / n, func,
                    min(tol * n, 1e300), max_iter)             # tol per block of n symbols
    prob.scale = n
    sol = solve_point(prob, D, None)
    r = _result(prob, sol)
    return dataclasses.replace(r, rate=r.rate / n, lower=r.lower / n, upper=r.upper / n,
                               slope=r.slope / n, tol=tol)
