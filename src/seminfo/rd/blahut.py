"""Rate-distortion R(D), distortion-rate D(R) and whole R(D) curves, certified (SPEC §5).

R(D) = min_{P(xhat|x): E d(X, Xhat) <= D} I(X; Xhat) for a discrete source p(x) and a distortion
matrix d(x, xhat) (Shannon 1959), computed by Blahut-Arimoto at a Lagrange slope (Blahut 1972) with
safeguarded SQUAREM acceleration. Every result is an interval [rate_lower, rate_upper]: the upper
end is the mutual information of an explicit kernel meeting the distortion (achievable), the lower
end Blahut's dual bound (Theorem 8 of [1]); the width is at most `tol` (default 1e-9 bits) unless the
solver says it did not converge. A target distortion D is met by bracketing slopes: convexity of R
makes the chord between two achievable points an upper bound and every slope's supporting line a
lower bound, so the interval is certified exactly at D.

Conventions: bits per source symbol; `slope` is dR/dD in bits per distortion unit (<= 0); the
reproduction alphabet (columns of d) may differ from the source's; +inf marks a forbidden pair.
D_min = sum_x p(x) min_xhat d(x, xhat); D_max = min_xhat sum_x p(x) d(x, xhat) (R = 0 beyond it).

References
----------
1. R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans. IT
   18(4):460-473, 1972.
2. S. Arimoto, "An algorithm for computing the capacity of arbitrary discrete memoryless channels",
   IEEE Trans. IT 18(1), 1972.
3. T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., 2006, ch. 10.
4. R. Varadhan and C. Roland, Scand. J. Statist. 35, 2008 (SQUAREM).

Leaves out: continuous sources (Gaussian closed forms are not computed here).
"""

from __future__ import annotations

import heapq
import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_float, as_int, as_pmf
from ..errors import InputError
from ..results import Result
from ..units import LN2
from ._iterate import (BAPoint, Sandwich, ba_rate_distortion, bracket_solve, check_distortion,
                       check_supported, next_beta)

__all__ = ["RateDistortionResult", "DistortionRateResult", "RateDistortionCurve", "rate_distortion",
           "distortion_rate", "rate_distortion_curve"]


@dataclass(frozen=True)
class RateDistortionResult(Result):
    """One point of R(D), certified: ``rate_lower <= R(distortion) <= rate_upper``.

    Attributes
    ----------
    rate, rate_lower, rate_upper : float
        Midpoint and ends of the certified interval, bits per source symbol.
    distortion : float
        The distortion D the interval is about, per symbol (the target D, or the distortion of the
        kernel found at `slope`).
    slope : float
        dR/dD at the solved point, bits per distortion unit (-inf at D_min, 0 at D >= D_max).
    conditional : ndarray, shape (K, M)
        A kernel P(xhat | x) achieving (distortion <= D, I <= rate_upper) (rows of probability-zero
        source letters are the Gibbs rows of the same reproduction law, or 0 if all forbidden).
    reproduction : ndarray, shape (M,)
        Its output law P(xhat).
    converged, n_iter : bool, int
        Whether the width reached `tol`; Blahut-Arimoto steps used in total.
    """

    rate: float
    distortion: float
    rate_lower: float
    rate_upper: float
    slope: float
    conditional: np.ndarray
    reproduction: np.ndarray
    converged: bool
    n_iter: int
    tol: float
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "blahut-arimoto+squarem"

    @property
    def width(self) -> float:
        return self.rate_upper - self.rate_lower


@dataclass(frozen=True)
class DistortionRateResult(Result):
    """D(R), certified: ``distortion_lower <= D(rate) <= distortion_upper`` (per symbol)."""

    distortion: float
    rate: float
    distortion_lower: float
    distortion_upper: float
    converged: bool
    n_iter: int
    tol: float
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "blahut-arimoto+squarem"


@dataclass(frozen=True)
class RateDistortionCurve(Result):
    """Points of R(D) sampled adaptively (more where the curve bends), each a certified interval.

    Arrays of shape (N,) sorted by increasing distortion; rates in bits per symbol, slopes in bits
    per distortion unit. `max_chord_error` bounds the vertical distance between the piecewise-linear
    curve through the points and the true R(D) (bits per symbol).
    """

    distortion: np.ndarray
    rate: np.ndarray
    rate_lower: np.ndarray
    rate_upper: np.ndarray
    slope: np.ndarray
    d_min: float
    d_max: float
    max_chord_error: float
    converged: bool
    n_iter: int
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "blahut-arimoto+squarem, chord-slope refinement"


# --------------------------------------------------------------------------- problem set-up
class _Problem:
    """Validated source and distortion, reduced to the letters of positive probability."""

    def __init__(self, p_x: Any, d: Any, func: str, tol: Any, max_iter: Any):
        p = as_pmf(p_x, "p_x", func, ndim=1)
        self.d_full = check_distortion(d, p.size, func)
        check_supported(p, self.d_full, func)
        self.keep = p > 0
        self.p = p[self.keep]
        self.d = self.d_full[self.keep]
        self.func = func
        self.tol_bits = as_float(tol, "tol", func, minimum=0.0, strict_min=True)
        self.tol = self.tol_bits * LN2                                   # nats
        self.max_iter = as_int(max_iter, "max_iter", func, minimum=1)
        self.d_min = float(self.p @ self.d.min(axis=1))
        with np.errstate(invalid="ignore"):
            col = self.p @ np.where(np.isfinite(self.d), self.d, np.inf)
        self.zero_col = int(np.argmin(col))
        self.d_max = float(col[self.zero_col])                           # inf if no finite column
        self.n_iter = 0

    def solve(self, beta: float, warm: BAPoint | None = None) -> BAPoint:
        pt = ba_rate_distortion(self.p, self.d, beta, logq0=None if warm is None else warm.logq,
                                tol=self.tol / 4, max_iter=self.max_iter)
        self.n_iter += pt.n_iter
        return pt

    def zero_point(self) -> BAPoint:
        """(D_max, 0): every letter reproduced by the best single column; line R >= 0."""
        M = self.d.shape[1]
        Q = np.zeros((self.p.size, M))
        Q[:, self.zero_col] = 1.0
        logq = np.full(M, -np.inf)
        logq[self.zero_col] = 0.0
        return BAPoint(beta=0.0, D=self.d_max, I=0.0, a=0.0, gap=0.0, logq=logq, Q=Q)

    def full_kernel(self, Q: np.ndarray, logq: np.ndarray) -> np.ndarray:
        """Kernel on the whole source alphabet (rows of zero-probability letters filled)."""
        out = np.zeros(self.d_full.shape)
        out[self.keep] = Q
        if not self.keep.all():
            q = np.exp(logq)
            rows = np.where(np.isfinite(self.d_full[~self.keep]), q[None, :], 0.0)
            s = rows.sum(axis=1, keepdims=True)
            out[~self.keep] = np.divide(rows, s, out=np.zeros_like(rows), where=s > 0)
        return out

    def initial_sandwich(self) -> Sandwich:
        pts = [self.solve(math.inf)]
        if math.isfinite(self.d_max):
            pts.append(self.zero_point())
        else:                                                 # no single column: go to small beta
            beta = 1.0 / max(1.0, float(np.max(self.d[np.isfinite(self.d)])))
            for _ in range(60):
                pts.append(self.solve(beta, pts[-1]))
                beta /= 4.0
                if pts[-1].I - pts[-2].I > -1e-15 and len(pts) > 2:
                    break
            # beta = 0: min I over the allowed pairs only, R_inf = lim R(D); its line R >= I - gap
            # holds for every D, so targets beyond the last distortion are certified too
            pts.append(self.solve(0.0, pts[-1]))
        return Sandwich(pts)

    def warn(self, what: str, width: float) -> None:
        warnings.warn(f"{self.func} stopped at max_iter={self.max_iter} before the certified "
                      f"width reached tol={self.tol_bits:g} bits ({what}: width {width:.3g} bits); "
                      "the result has converged=False.", RuntimeWarning, stacklevel=3)


def solve_point(prob: "_Problem", D: Any, slope: Any) -> tuple:
    """R at a target D or a slope for any problem with the _Problem interface.

    Returns (distortion, lower, upper, slope in bits per distortion unit, point, converged),
    rates in nats per letter.
    """
    func = prob.func
    if slope is not None:
        s = as_float(slope, "slope", func, maximum=0.0)
        if s == 0.0 and math.isfinite(prob.d_max):
            pt = prob.zero_point()
            return pt.D, 0.0, 0.0, 0.0, pt, True
        pt = prob.solve(-s * LN2)
        if not pt.converged:
            prob.warn(f"slope {s:g}", pt.gap / LN2)
        return pt.D, pt.I - pt.gap, pt.I, s, pt, pt.converged
    target = as_float(D, "D", func)
    if target < prob.d_min - 1e-12 * max(1.0, abs(prob.d_min)):
        raise InputError(f"The `D` parameter of {func} must be >= the minimum achievable distortion "
                         f"D_min = {prob.d_min:.12g} (sum_x p(x) min_xhat d(x, xhat)). Got {target:g}.")
    target = max(target, prob.d_min)
    if target >= prob.d_max:
        pt = prob.zero_point()
        return target, 0.0, 0.0, 0.0, pt, True
    sw = prob.initial_sandwich()
    if target == prob.d_min:
        pt = sw.points[0]
        if not pt.converged:
            prob.warn(f"D = D_min = {target:g}", pt.gap / LN2)
        return target, pt.I - pt.gap, pt.I, -math.inf, pt, pt.converged
    bracket_solve(prob.solve, sw, target=target, on="D", tol=prob.tol, max_rounds=200,
                  D_min=prob.d_min)
    lower, upper = sw.lower_R(target), sw.upper_R(target)
    ok = upper - lower <= prob.tol                             # the interval is what is certified
    if not ok:
        prob.warn(f"D = {target:g}", (upper - lower) / LN2)
    pt = min((q for q in sw.points if q.D <= target), key=lambda q: target - q.D)
    return target, lower, upper, -pt.beta / LN2, pt, ok


def _chord_error_bound(left: BAPoint, right: BAPoint) -> float:
    """Certified bound (nats) on max over [left.D, right.D] of chord(D) - R(D).

    The chord through the achievable points lies above R; R lies above both supporting lines
    (and 0), so the difference is at most the chord minus the larger line, a concave piecewise
    linear function maximal at an end or where the lines cross.
    """
    if right.D <= left.D:
        return max(left.gap, right.gap)

    def chord(x: float) -> float:
        return left.I + (right.I - left.I) * (x - left.D) / (right.D - left.D)

    def lines(x: float) -> float:
        best = max(0.0, right.lower - right.beta * (x - right.D))
        if math.isfinite(left.beta):                           # the D_min end bounds only R(D_min):
            best = max(best, left.lower - left.beta * (x - left.D))   # the sup is just right of it
        return best

    xs = [left.D, right.D]
    if math.isfinite(left.beta) and left.beta != right.beta:
        x = (left.lower - right.lower + left.beta * left.D - right.beta * right.D) / (left.beta - right.beta)
        if left.D < x < right.D:
            xs.append(x)
    return max(max(chord(x) - lines(x) for x in xs), 0.0)


def _result(prob: _Problem, D: float, lower: float, upper: float, slope: float, pt: BAPoint,
            converged: bool) -> RateDistortionResult:
    lo, up = max(lower, 0.0) / LN2, upper / LN2
    return RateDistortionResult(
        rate=0.5 * (lo + up), distortion=D, rate_lower=lo, rate_upper=up, slope=slope,
        conditional=prob.full_kernel(pt.Q, pt.logq), reproduction=np.exp(pt.logq),
        converged=converged, n_iter=prob.n_iter, tol=prob.tol_bits)


# --------------------------------------------------------------------------- public functions
def rate_distortion(p_x: Any, d: Any, D: Any = None, slope: Any = None, *, tol: float = 1e-9,
                    max_iter: int = 20_000) -> RateDistortionResult:
    """R(D) = min_{P(xhat|x): E d <= D} I(X; Xhat), as a certified interval (Blahut-Arimoto).

    Parameters
    ----------
    p_x : array_like, shape (K,)
        Source pmf.
    d : array_like, shape (K, M), or "hamming" / "squared"
        Distortion d(x, xhat) >= 0; +inf forbids a pair. M may differ from K.
    D : float, optional
        Target distortion per symbol, >= D_min. Exactly one of `D` and `slope`.
    slope : float, optional
        Lagrange slope dR/dD <= 0 in bits per distortion unit; the point of the curve where the
        tangent has this slope.
    tol : float, keyword-only
        Largest width of [rate_lower, rate_upper], bits (default 1e-9).
    max_iter : int, keyword-only
        Cap on Blahut-Arimoto steps per solve; hitting it gives converged=False and a
        RuntimeWarning.

    Returns
    -------
    RateDistortionResult
        rate, rate_lower, rate_upper in bits per symbol; distortion per symbol; slope; the kernel.

    Raises
    ------
    DistributionError, ShapeError, InputError
        Invalid pmf; d of the wrong shape, with NaN or negative entries, or forbidding a whole
        row; D below D_min; neither or both of D and slope.

    References
    ----------
    1. Blahut (1972), Theorems 5 and 8. 2. Cover & Thomas (2006), Thm 10.2.1 and sec. 10.8.

    Examples
    --------
    Bernoulli(0.3) source, Hamming distortion: R(0.1) = h(0.3) - h(0.1).

    >>> r = rate_distortion([0.7, 0.3], "hamming", D=0.1)
    >>> round(r.rate, 9), r.rate_upper - r.rate_lower <= 1e-9
    (0.412295306, True)
    """
    func = "rate_distortion"
    if (D is None) == (slope is None):
        raise InputError(f"{func} needs exactly one of the `D` and `slope` parameters. Got "
                         f"{'neither' if D is None else 'both'}.")
    prob = _Problem(p_x, d, func, tol, max_iter)
    D_, lower, upper, sl, pt, ok = solve_point(prob, D, slope)
    return _result(prob, D_, lower, upper, sl, pt, ok)


def distortion_rate(p_x: Any, d: Any, R: Any, *, tol: float = 1e-9, max_iter: int = 20_000
                    ) -> DistortionRateResult:
    """D(R) = min_{P(xhat|x): I(X; Xhat) <= R} E d(X, Xhat), as a certified interval.

    Parameters as in :func:`rate_distortion`; `R` is the rate in bits per symbol (>= 0) and `tol`
    the largest width of [distortion_lower, distortion_upper] in distortion units.

    Returns
    -------
    DistortionRateResult
        distortion, distortion_lower, distortion_upper per symbol; rate in bits per symbol.
    """
    func = "distortion_rate"
    prob = _Problem(p_x, d, func, tol, max_iter)
    rate = as_float(R, "R", func, minimum=0.0)
    target = rate * LN2
    sw = prob.initial_sandwich()
    if target >= sw.points[0].I:                               # enough rate for D_min
        lo = prob.d_min if target >= sw.points[0].I else sw.lower_D(target, prob.d_min)
        return DistortionRateResult(prob.d_min, rate, lo, prob.d_min, True, prob.n_iter, prob.tol_bits)
    ok, _ = bracket_solve(prob.solve, sw, target=target, on="R", tol=prob.tol_bits, max_rounds=200,
                          D_min=prob.d_min)
    lower, upper = sw.lower_D(target, prob.d_min), sw.upper_D(target)
    ok = upper - lower <= prob.tol_bits
    if not ok:
        prob.warn(f"R = {rate:g}", upper - lower)
    return DistortionRateResult(0.5 * (lower + upper), rate, lower, upper, ok, prob.n_iter,
                                prob.tol_bits)


def rate_distortion_curve(p_x: Any, d: Any, *, resolution: float | None = None, max_points: int = 200,
                          tol: float = 1e-9, max_iter: int = 20_000) -> RateDistortionCurve:
    """The curve R(D) on [D_min, D_max], sampled where it bends (chord-slope refinement).

    Between two solved points the next slope is the chord's; convexity makes the new point the one
    farthest from the chord. Each interval carries a certified bound on its chord error (chord
    minus the supporting lines of its ends); the interval with the largest bound is split first,
    and refinement stops when every bound is within `resolution` bits. Each point is a certified interval of width <= `tol` bits.

    Parameters
    ----------
    p_x, d : as in :func:`rate_distortion`.
    resolution : float, keyword-only, optional
        Largest vertical distance (bits) between the linear interpolation and R(D); default
        1e-3 * R(D_min) (at least 1e-9).
    max_points : int, keyword-only
        Cap on the number of points; refinement goes to the interval of largest certified chord
        error first, and the curve reports a certified bound `max_chord_error` (bits).

    Returns
    -------
    RateDistortionCurve
        Arrays sorted by distortion; rates in bits per symbol.
    """
    func = "rate_distortion_curve"
    prob = _Problem(p_x, d, func, tol, max_iter)
    max_points = as_int(max_points, "max_points", func, minimum=2)
    sw = prob.initial_sandwich()
    r0 = sw.points[0].I / LN2
    res = max(1e-3 * r0, 1e-9) if resolution is None else as_float(
        resolution, "resolution", func, minimum=0.0, strict_min=True)
    # Refine the interval with the largest certified chord error first (a heap), so that a cap on
    # the number of points leaves the error spread evenly; stop when every bound is <= res.
    heap: list = []
    count = itertools.count()

    def push(left: BAPoint, right: BAPoint) -> None:
        heapq.heappush(heap, (-_chord_error_bound(left, right), next(count), left, right))

    pts = sw.points
    for i in range(len(pts) - 1):
        push(pts[i], pts[i + 1])
    final_err = 0.0                                            # nats, intervals not split further
    while heap:
        neg, _, left, right = heapq.heappop(heap)
        err = -neg
        if err / LN2 <= res or len(sw.points) >= max_points:
            final_err = max(final_err, err)
            break
        beta = next_beta(left, right, None)
        pt = prob.solve(beta, left if math.isfinite(left.beta) else right)
        if not (left.D < pt.D < right.D):                      # cannot split (flat or kinked)
            final_err = max(final_err, err)
            continue
        sw.add(pt)
        push(left, pt)
        push(pt, right)
    final_err = max([final_err] + [-item[0] for item in heap]) / LN2
    pts = sw.points
    ok = all(pt.converged for pt in pts)
    if not ok:
        prob.warn("curve", max(pt.gap for pt in pts) / LN2)
    lower = np.array([max(pt.I - pt.gap, 0.0) for pt in pts]) / LN2
    upper = np.array([pt.I for pt in pts]) / LN2
    slopes = np.array([-pt.beta / LN2 if pt.beta else 0.0 for pt in pts])
    return RateDistortionCurve(
        distortion=np.array([pt.D for pt in pts]), rate=0.5 * (lower + upper), rate_lower=lower,
        rate_upper=upper, slope=slopes, d_min=prob.d_min, d_max=prob.d_max,
        max_chord_error=final_err, converged=ok, n_iter=prob.n_iter)
