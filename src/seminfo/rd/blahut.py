"""Rate-distortion R(D), distortion-rate D(R) and whole R(D) curves, certified (theory §5).

R(D) = min_{P(xhat|x): E d(X, Xhat) <= D} I(X; Xhat) for a discrete source p(x) and a distortion
matrix d(x, xhat) (Shannon 1959), computed by Blahut-Arimoto at a Lagrange slope (Blahut 1972) with
safeguarded SQUAREM acceleration. Every result is an interval [lower, upper]: the upper
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
from typing import Any, NamedTuple

import numpy as np

from .._validate import as_float, as_int, as_pmf
from ..errors import InputError
from ..results import CertifiedResult, Result, deprecated_alias
from ..units import LN2
from ._iterate import (BAPoint, Sandwich, ba_rate_distortion, bracket_solve, check_distortion,
                       check_supported, next_beta, slope_at)

__all__ = ["RateDistortionResult", "DistortionRateResult", "RateDistortionCurve", "rate_distortion",
           "distortion_rate", "rate_distortion_curve"]


@dataclass(frozen=True)
class RateDistortionResult(CertifiedResult):
    """One point of R(D), certified: ``lower <= R(distortion) <= upper`` (bits per symbol).

    Attributes
    ----------
    rate, lower, upper : float
        Midpoint and ends of the certified interval, bits per source symbol (`width` = upper -
        lower; `interval` gives it as a :class:`~seminfo.results.Interval`).
    distortion : float
        The distortion D the interval is about, per symbol (the target D, or the distortion of the
        kernel found at `slope`).
    slope : float
        dR/dD at `distortion`, bits per distortion unit (-inf at D_min, 0 at D >= D_max). At a
        target D it is pinned by the supporting lines on both sides to a relative 1e-7 (the
        solver adds slopes until it is), unless D is at a kink or an end of the curve.
    conditional : ndarray, shape (K, M)
        A kernel P(xhat | x) with distortion <= `distortion` and I(X; Xhat) <= `upper` (at a
        target D, the time-sharing mixture of the two solved kernels whose chord gives `upper`;
        rows of probability-zero source letters are the Gibbs rows of the same reproduction law,
        or 0 if all forbidden).
    reproduction : ndarray, shape (M,)
        Its output law P(xhat).
    converged, n_iter : bool, int
        Whether the width reached `tol`; Blahut-Arimoto steps used in total.
    tol : float
        The requested largest width, bits per symbol.

    ``rate_lower`` and ``rate_upper`` are deprecated aliases of `lower` and `upper`.
    """

    rate: float
    distortion: float
    lower: float
    upper: float
    slope: float
    conditional: np.ndarray
    reproduction: np.ndarray
    converged: bool
    n_iter: int
    tol: float
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "blahut-arimoto+squarem"

    rate_lower = deprecated_alias("lower", "rate_lower")
    rate_upper = deprecated_alias("upper", "rate_upper")


@dataclass(frozen=True)
class DistortionRateResult(CertifiedResult):
    """D(R), certified: ``lower <= D(rate) <= upper`` (distortion per symbol).

    Attributes
    ----------
    distortion, lower, upper : float
        Midpoint and ends of the certified interval, in `units` (distortion per symbol).
    rate : float
        The rate R the interval is about, in `rate_units` (bits per symbol).
    converged, n_iter : bool, int
        Whether the width reached `tol`; Blahut-Arimoto steps used in total.
    tol : float
        The requested largest width, distortion per symbol.

    The headline quantity is the distortion, so `units` is the distortion's (it was
    "bits/symbol", the rate's, in 0.1.0). ``distortion_lower``, ``distortion_upper`` and
    ``distortion_units`` are deprecated aliases of `lower`, `upper` and `units`.
    """

    distortion: float
    rate: float
    lower: float
    upper: float
    converged: bool
    n_iter: int
    tol: float
    units: str = "distortion/symbol"
    rate_units: str = "bits/symbol"
    method: str = "blahut-arimoto+squarem"

    distortion_lower = deprecated_alias("lower", "distortion_lower")
    distortion_upper = deprecated_alias("upper", "distortion_upper")
    distortion_units = deprecated_alias("units", "distortion_units")


@dataclass(frozen=True)
class RateDistortionCurve(Result):
    """Points of R(D) sampled adaptively (more where the curve bends), each a certified interval.

    Arrays of shape (N,) sorted by increasing distortion: ``lower[i] <= R(distortion[i]) <=
    upper[i]`` and ``rate = (lower + upper) / 2`` in bits per symbol (`width` = upper - lower);
    `slope` is dR/dD at each point in bits per distortion unit. `max_chord_error` bounds the
    vertical distance between the piecewise-linear curve through the points and the true R(D)
    (bits per symbol). ``rate_lower`` and ``rate_upper`` are deprecated aliases of `lower` and
    `upper`.
    """

    distortion: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    slope: np.ndarray
    d_min: float
    d_max: float
    max_chord_error: float
    converged: bool
    n_iter: int
    units: str = "bits/symbol"
    distortion_units: str = "distortion/symbol"
    method: str = "blahut-arimoto+squarem, chord-slope refinement"

    rate_lower = deprecated_alias("lower", "rate_lower")
    rate_upper = deprecated_alias("upper", "rate_upper")

    @property
    def width(self) -> np.ndarray:
        """``upper - lower`` at each point, bits per symbol."""
        return self.upper - self.lower


#: Largest `max_points` of rate_distortion_curve (each point is one Blahut-Arimoto solve).
MAX_CURVE_POINTS = 10_000


# --------------------------------------------------------------------------- problem set-up
#: Smallest per-solve certificate (nats) distortion_rate asks for, far above the rounding
#: allowance of a solve and reachable by Blahut-Arimoto.
_MIN_SOLVE_TOL = 1e-13


class _Problem:
    """Validated source and distortion, reduced to the letters of positive probability.

    `tol` is the largest width of the interval, in the result's units (`tol_units`); `solve_tol`
    gives the certificate each Blahut-Arimoto solve must reach (nats).
    """

    tol_units = "bits"

    def __init__(self, p_x: Any, d: Any, func: str, tol: Any, max_iter: Any):
        p = as_pmf(p_x, "p_x", func, ndim=1)
        self.d_full = check_distortion(d, p.size, func)
        check_supported(p, self.d_full, func)
        self.keep = p > 0
        self.p = p[self.keep]
        self.d = self.d_full[self.keep]
        self.func = func
        self.tol = as_float(tol, "tol", func, minimum=0.0, strict_min=True)   # in tol_units
        self.max_iter = as_int(max_iter, "max_iter", func, minimum=1)
        self.scale = 1                                                   # symbols per letter
        self.d_min = float(self.p @ self.d.min(axis=1))
        col = self.p @ self.d                                            # +inf: not a single column
        self.zero_col = int(np.argmin(col))
        self.d_max = float(col[self.zero_col])                           # inf if no finite column
        self.n_iter = 0

    @property
    def rate_tol(self) -> float:
        """The width asked of a rate interval, nats per letter."""
        return self.tol * LN2

    def solve_tol(self, beta: float) -> float:
        """Certificate (Blahut's gap, nats) each solve at `beta` must reach."""
        return self.rate_tol / 4

    def solve(self, beta: float, warm: BAPoint | None = None) -> BAPoint:
        pt = ba_rate_distortion(self.p, self.d, beta, logq0=None if warm is None else warm.logq,
                                tol=self.solve_tol(beta), max_iter=self.max_iter)
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
        """`width` in tol_units per letter (a block of `scale` symbols)."""
        warnings.warn(f"{self.func} stopped at max_iter={self.max_iter} before the certified "
                      f"width reached tol={self.tol / self.scale:g} {self.tol_units} ({what}: width "
                      f"{width / self.scale:.3g} {self.tol_units}); the result has converged=False.",
                      RuntimeWarning, stacklevel=3)


class _DistortionProblem(_Problem):
    """D(R): `tol` is the largest width of the distortion interval (distortion units).

    A solve at beta whose certificate is g nats moves its supporting line by g / beta in
    distortion (and its achievable point by about as much), so each solve asks for
    g <= beta tol / 4; the end D_min (beta = inf) only needs R(D_min) to the library's default
    accuracy.
    """

    tol_units = "distortion units"

    @property
    def rate_tol(self) -> float:
        return 1e-9 * LN2

    def solve_tol(self, beta: float) -> float:
        if not math.isfinite(beta):
            return self.rate_tol / 4
        return max(beta * self.tol / 4, _MIN_SOLVE_TOL)


#: Relative accuracy to which a target-D result pins its slope (see bracket_solve).
SLOPE_RTOL = 1e-7


class _Solved(NamedTuple):
    """One point of R: the distortion, the certified interval and slope (nats), and a kernel."""

    distortion: float
    lower: float
    upper: float
    slope: float                 # dR/dD, bits per distortion unit
    Q: Any                       # a kernel with distortion <= `distortion`, I <= upper
    logq: Any                    # its output law (log), or the solver's warm-start tables
    converged: bool


def _mix(a: BAPoint, b: BAPoint, w: float) -> tuple[Any, Any]:
    """Kernel (1 - w) Q_a + w Q_b and its output law (the time-sharing of two solved points)."""
    if w <= 0.0 or a is b:
        return a.Q, a.logq
    if w >= 1.0:
        return b.Q, b.logq
    Q = (1 - w) * a.Q + w * b.Q
    if not isinstance(a.logq, np.ndarray):                     # directed: warm-start tables only
        return Q, a.logq
    with np.errstate(divide="ignore"):
        logq = np.logaddexp(math.log1p(-w) + a.logq, math.log(w) + b.logq)
    return Q, logq


def solve_point(prob: "_Problem", D: Any, slope: Any) -> _Solved:
    """R at a target D or a slope for any problem with the _Problem interface (rates in nats
    per letter, slope in bits per distortion unit)."""
    func = prob.func
    if slope is not None:
        s = as_float(slope, "slope", func, maximum=0.0)
        if s == 0.0 and math.isfinite(prob.d_max):
            pt = prob.zero_point()
            return _Solved(pt.D, 0.0, 0.0, 0.0, pt.Q, pt.logq, True)
        pt = prob.solve(-s * LN2)
        if not pt.converged:
            prob.warn(f"slope {s:g}", pt.gap / LN2)
        return _Solved(pt.D, pt.I - pt.gap, pt.I, s, pt.Q, pt.logq, pt.converged)
    target = as_float(D, "D", func)
    if target < prob.d_min - 1e-12 * max(1.0, abs(prob.d_min)):
        raise InputError(f"The `D` parameter of {func} must be >= the minimum achievable distortion "
                         f"D_min = {prob.d_min:.12g} (sum_x p(x) min_xhat d(x, xhat)). Got {target:g}.")
    target = max(target, prob.d_min)
    if target >= prob.d_max:
        pt = prob.zero_point()
        return _Solved(target, 0.0, 0.0, 0.0, pt.Q, pt.logq, True)
    sw = prob.initial_sandwich()
    if target == prob.d_min:
        pt = sw.points[0]
        if not pt.converged:
            prob.warn(f"D = D_min = {target:g}", pt.gap / LN2)
        return _Solved(target, pt.I - pt.gap, pt.I, -math.inf, pt.Q, pt.logq, pt.converged)
    bracket_solve(prob.solve, sw, target=target, on="D", tol=prob.rate_tol, max_rounds=200,
                  D_min=prob.d_min, slope_rtol=SLOPE_RTOL)
    lower = sw.lower_R(target)
    upper, a, b, w = sw.upper_R_witness(target)
    ok = upper - lower <= prob.rate_tol                        # the interval is what is certified
    if not ok:
        prob.warn(f"D = {target:g}", (upper - lower) / LN2)
    Q, logq = _mix(a, b, w)
    return _Solved(target, lower, upper, -slope_at(sw.points, target) / LN2, Q, logq, ok)


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


def _result(prob: _Problem, sol: _Solved) -> RateDistortionResult:
    lo, up = max(sol.lower, 0.0) / LN2, sol.upper / LN2
    return RateDistortionResult(
        rate=0.5 * (lo + up), distortion=sol.distortion, lower=lo, upper=up, slope=sol.slope,
        conditional=prob.full_kernel(sol.Q, sol.logq), reproduction=np.exp(sol.logq),
        converged=sol.converged, n_iter=prob.n_iter, tol=prob.tol)


# --------------------------------------------------------------------------- public functions
def rate_distortion(p_x: Any, d: Any, D: Any = None, slope: Any = None, *, tol: float = 1e-9,
                    max_iter: int = 20_000) -> RateDistortionResult:
    """R(D) = min_{P(xhat|x): E d <= D} I(X; Xhat), as a certified interval (Blahut-Arimoto).

    Parameters
    ----------
    p_x : array_like, shape (K,)
        Source pmf.
    d : array_like, shape (K, M), or "hamming" / "squared"
        Distortion d(x, xhat) >= 0; +inf forbids a pair. M may differ from K. The shorthands
        build a K x K matrix and need K * K <= 2^24.
    D : float, optional
        Target distortion per symbol, >= D_min. Exactly one of `D` and `slope`.
    slope : float, optional
        Lagrange slope dR/dD <= 0 in bits per distortion unit; the point of the curve where the
        tangent has this slope.
    tol : float, keyword-only
        Largest width of [lower, upper], bits per symbol (default 1e-9; finite, > 0).
    max_iter : int, keyword-only
        Cap on Blahut-Arimoto steps per solve; hitting it gives converged=False and a
        RuntimeWarning.

    Returns
    -------
    RateDistortionResult
        rate, lower, upper in bits per symbol; distortion per symbol; slope (bits per distortion
        unit) at that distortion; a kernel achieving it.

    Raises
    ------
    DistributionError, ShapeError, InputError
        Invalid pmf; d of the wrong shape, with NaN or negative entries, or forbidding a whole
        row; D below D_min; neither or both of D and slope; tol not finite and > 0.

    References
    ----------
    1. Blahut (1972), Theorems 5 and 8. 2. Cover & Thomas (2006), Thm 10.2.1 and sec. 10.8.

    Examples
    --------
    Bernoulli(0.3) source, Hamming distortion: R(0.1) = h(0.3) - h(0.1), and the slope there is
    h'(0.1) = -log2(0.9 / 0.1).

    >>> r = rate_distortion([0.7, 0.3], "hamming", D=0.1)
    >>> round(r.rate, 9), r.width <= 1e-9, round(r.slope, 6)
    (0.412295306, True, -3.169925)
    >>> r.lower <= r.rate <= r.upper
    True
    """
    func = "rate_distortion"
    if (D is None) == (slope is None):
        raise InputError(f"{func} needs exactly one of the `D` and `slope` parameters. Got "
                         f"{'neither' if D is None else 'both'}.")
    prob = _Problem(p_x, d, func, tol, max_iter)
    return _result(prob, solve_point(prob, D, slope))


def distortion_rate(p_x: Any, d: Any, R: Any, *, tol: float = 1e-9, max_iter: int = 20_000
                    ) -> DistortionRateResult:
    """D(R) = min_{P(xhat|x): I(X; Xhat) <= R} E d(X, Xhat), as a certified interval.

    Parameters as in :func:`rate_distortion`; `R` is the rate in bits per symbol (>= 0) and `tol`
    the largest width of [lower, upper] in distortion units (finite, > 0). Each Blahut-Arimoto
    solve at slope -beta is certified to beta * tol / 4 nats, so that its supporting line is
    within tol / 4 in distortion.

    Returns
    -------
    DistortionRateResult
        distortion, lower, upper per symbol (`units`); rate in bits per symbol.

    Examples
    --------
    Bernoulli(0.3), Hamming: D(R) inverts R(D) = h(0.3) - h(D), so D(0.412295306) = 0.1.

    >>> r = distortion_rate([0.7, 0.3], "hamming", R=0.4122953057)
    >>> round(r.distortion, 7), r.width <= 1e-9, r.units
    (0.1, True, 'distortion/symbol')
    """
    func = "distortion_rate"
    prob = _DistortionProblem(p_x, d, func, tol, max_iter)
    rate = as_float(R, "R", func, minimum=0.0)
    target = rate * LN2
    sw = prob.initial_sandwich()
    if target >= sw.points[0].I:                               # enough rate for D_min
        return DistortionRateResult(prob.d_min, rate, prob.d_min, prob.d_min, True, prob.n_iter,
                                    prob.tol)
    bracket_solve(prob.solve, sw, target=target, on="R", tol=prob.tol, max_rounds=200,
                  D_min=prob.d_min)
    lower, upper = sw.lower_D(target, prob.d_min), sw.upper_D(target)
    ok = upper - lower <= prob.tol
    if not ok:
        prob.warn(f"R = {rate:g}", upper - lower)
    return DistortionRateResult(0.5 * (lower + upper), rate, lower, upper, ok, prob.n_iter, prob.tol)


def rate_distortion_curve(p_x: Any, d: Any, *, resolution: float | None = None, max_points: int = 200,
                          tol: float = 1e-9, max_iter: int = 20_000) -> RateDistortionCurve:
    """The curve R(D) on [D_min, D_max], sampled where it bends (chord-slope refinement).

    Between two solved points the next slope is the chord's; convexity makes the new point the one
    farthest from the chord. Each interval carries a certified bound on its chord error (chord
    minus the supporting lines of its ends); the interval with the largest bound is split first,
    and refinement stops when every bound is within `resolution` bits. Each point is a certified
    interval of width <= `tol` bits.

    Parameters
    ----------
    p_x, d, tol, max_iter : as in :func:`rate_distortion`.
    resolution : float, keyword-only, optional
        Largest vertical distance (bits) between the linear interpolation and R(D); default
        1e-3 * R(D_min) (at least 1e-9).
    max_points : int, keyword-only
        Cap on the number of points (2 to 10,000); refinement goes to the interval of largest
        certified chord error first, and the curve reports a certified bound `max_chord_error`
        (bits).

    Returns
    -------
    RateDistortionCurve
        Arrays sorted by distortion; lower, upper, rate in bits per symbol; slope in bits per
        distortion unit.

    Examples
    --------
    >>> c = rate_distortion_curve([0.7, 0.3], "hamming", max_points=5)
    >>> c.distortion.size, float(c.rate[0]) == float(c.rate.max()), bool((c.width <= 1e-9).all())
    (5, True, True)
    """
    func = "rate_distortion_curve"
    prob = _Problem(p_x, d, func, tol, max_iter)
    max_points = as_int(max_points, "max_points", func, minimum=2, maximum=MAX_CURVE_POINTS)
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
        distortion=np.array([pt.D for pt in pts]), rate=0.5 * (lower + upper), lower=lower,
        upper=upper, slope=slopes, d_min=prob.d_min, d_max=prob.d_max,
        max_chord_error=final_err, converged=ok, n_iter=prob.n_iter)
