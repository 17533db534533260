"""Private numerical kernels shared by the rate-distortion solvers.

* :func:`ba_rate_distortion` -- Blahut-Arimoto at a fixed slope for R(D), in the log domain, with
  safeguarded SQUAREM extrapolation (Varadhan & Roland 2008), alternated with the constrained
  Newton method of Wang (2007), and Blahut's dual bound as the stopping rule, so every returned
  point carries a certified gap.
* :func:`check_distortion` -- validation of a distortion matrix (or the names "hamming"/"squared").
* :class:`Sandwich` -- certified inner/outer approximation of a convex non-increasing curve R(D) from
  solved points (an achievable point and a supporting line each), used to hit a target D or R and
  to sample whole curves adaptively.

Everything here works in nats; public functions convert to bits. Leaves out: public API and units.

References
----------
1. R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans. IT 18(4),
   1972 (Theorem 8: the dual lower bound).
2. R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating the
   convergence of any EM algorithm", Scand. J. Statist. 35, 2008 (SQUAREM).
3. Y. Wang, "On fast computation of the non-parametric maximum likelihood estimate of a mixing
   distribution", J. R. Statist. Soc. B 69(2), 2007 (constrained Newton method, CNM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._validate import as_real
from ..errors import InputError, ShapeError


# --------------------------------------------------------------------------- validation
#: Largest K * M distortion matrix the solvers take: 2^24 cells, 128 MiB in float64 (a solve keeps
#: a few arrays of that size and touches every cell a few times per iteration).
MAX_DISTORTION_CELLS = 2 ** 24


def _check_cells(K: int, M: int, what: str, func: str, param: str) -> None:
    if K * M > MAX_DISTORTION_CELLS:
        raise InputError(f"The `{param}` parameter of {func} {what} a K x M = {K} x {M} = {K * M} cell "
                         f"distortion matrix, more than the limit of {MAX_DISTORTION_CELLS}. Use "
                         "smaller alphabets.")


def check_distortion(d: Any, K: int, func: str, param: str = "d") -> np.ndarray:
    """Return the distortion matrix as float64 (K, M): finite or +inf entries, all >= 0.

    The strings "hamming" (M = K, 0 on the diagonal, 1 elsewhere) and "squared" ((i - j)^2 on the
    symbol indices, M = K) are accepted as shorthands. K * M is at most MAX_DISTORTION_CELLS,
    checked before a shorthand is built.
    """
    if isinstance(d, str) and d in ("hamming", "squared"):
        _check_cells(K, K, f"is {d!r}, which needs", func, param)
    if isinstance(d, np.ndarray) and d.ndim == 2 and d.shape[0] == K:
        _check_cells(K, d.shape[1], "is", func, param)
    if isinstance(d, str):
        if d == "hamming":
            return 1.0 - np.eye(K)
        if d == "squared":
            idx = np.arange(K, dtype=np.float64)
            return (idx[:, None] - idx[None, :]) ** 2
        raise InputError(f"The `{param}` parameter of {func} must be a (K, M) matrix or one of "
                         f"'hamming', 'squared'. Got {d!r}.")
    arr = as_real(d, param, func, what="a numeric (K, M) matrix").copy()
    if arr.ndim != 2 or arr.shape[0] != K or arr.shape[1] == 0:
        raise ShapeError(f"The `{param}` parameter of {func} must have shape (K, M) = ({K}, M) with "
                         f"K the size of the source pmf. Got shape {arr.shape}.")
    _check_cells(K, arr.shape[1], "is", func, param)
    if np.any(np.isnan(arr)):
        raise InputError(f"The `{param}` parameter of {func} must not contain NaN. Got "
                         f"{int(np.isnan(arr).sum())} NaN entries; use +inf for forbidden pairs.")
    if np.any(arr < 0):
        raise InputError(f"The `{param}` parameter of {func} must be non-negative (+inf marks a "
                         f"forbidden pair). Got a minimum entry of {arr.min():.6g}.")
    return arr


def check_supported(p: np.ndarray, d: np.ndarray, func: str) -> None:
    """Every source letter of positive probability needs a reproduction of finite distortion."""
    bad = np.flatnonzero((p > 0) & ~np.isfinite(d).any(axis=1))
    if bad.size:
        raise InputError(f"The `d` parameter of {func} forbids every reproduction of source letter "
                         f"{bad[0]} (probability {p[bad[0]]:.6g}): each row with positive "
                         "probability needs at least one finite distortion.")


# --------------------------------------------------------------------------- Blahut-Arimoto core
@dataclass
class BAPoint:
    """One solved slope: an achievable point (D, I) and the supporting line R(D') >= a - beta D'.

    All in nats and distortion units per letter. `gap` = I - (a - beta D) >= 0.
    """

    beta: float                 # -slope in nats per distortion unit (inf: the D_min end)
    D: float
    I: float
    a: float                    # intercept of the certified supporting line (nats)
    gap: float
    logq: Any = field(repr=False)           # warm start: log pmf (M,); directed: list of tables
    Q: np.ndarray = field(repr=False)       # conditional P(xhat | x), (K, M)
    converged: bool = True
    n_iter: int = 0

    @property
    def lower(self) -> float:
        """Certified lower bound on R at this point's own distortion D (nats)."""
        return self.I - self.gap


def _normalise_log(u: np.ndarray) -> np.ndarray:
    m = np.max(u)
    return u - (m + math.log(np.sum(np.exp(u - m))))


def ba_rate_distortion(p: np.ndarray, d: np.ndarray, beta: float, *, logq0: np.ndarray | None,
                       tol: float, max_iter: int, accelerate: bool = True) -> BAPoint:
    """Blahut-Arimoto at multiplier `beta` (nats per distortion unit; inf = restrict to row minima).

    Maximises G(q) = sum_x p(x) log sum_xhat q(xhat) A(x, xhat), A = exp(-beta (d - min_row d)),
    whose fixed-point map is q <- q c with c(xhat) = sum_x p(x) A(x, xhat) / (A q)(x). Stops when
    Blahut's gap max log c - sum q c log c <= tol (nats). `p` must be positive (zero rows dropped).
    """
    K, M = d.shape
    rowmin = d.min(axis=1, keepdims=True)
    dz = d - rowmin                                           # (K, M), 0 at each row's best letters
    if math.isinf(beta):
        A = (dz == 0).astype(np.float64)
    elif beta == 0.0:
        A = np.isfinite(dz).astype(np.float64)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            A = np.exp(-beta * dz)                             # exp(-inf) = 0 for forbidden pairs
    support = A.any(axis=0)                                    # letters that can ever be used
    A = A[:, support]
    Ms = A.shape[1]
    u = np.full(Ms, -math.log(Ms)) if logq0 is None else _normalise_log(logq0[support].copy())
    u = np.maximum(u, -700.0)
    u = _normalise_log(u)

    def evaluate(u: np.ndarray) -> tuple[np.ndarray, float]:
        aq = A @ np.exp(u)                                     # (K,)
        return (p / aq) @ A, float(p @ np.log(aq))             # c (Ms,), G(q)

    def gap_of(u: np.ndarray, c: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            logc = np.log(c)
            return float(np.max(logc) - np.sum(np.where(np.isfinite(u), np.exp(u) * c * logc, 0.0)))

    def ba_phase(u: np.ndarray, c: np.ndarray, g: float, limit: int, tol: float) -> tuple:
        n = 0
        while gap_of(u, c) > tol and n < limit:
            u1 = _normalise_log(u + np.log(c))                 # one Blahut-Arimoto step
            c1, g1 = evaluate(u1)
            n += 1
            if accelerate:                                     # SQUAREM, safeguarded by G
                u2 = _normalise_log(u1 + np.log(c1))
                r, v = u1 - u, (u2 - u1) - (u1 - u)
                nv = float(np.sqrt(v @ v))
                alpha = -float(np.sqrt(r @ r)) / nv if nv > 0 else -1.0
                if alpha < -1.0:
                    ue = _normalise_log(np.maximum(
                        _normalise_log(u - 2 * alpha * r + alpha * alpha * v), -700.0))
                    ce, ge = evaluate(ue)
                    n += 1
                    if ge >= g1:                               # never less progress than a BA step
                        u, c, g = ue, ce, ge
                        continue
                c2, g2 = evaluate(u2)
                n += 1
                u, c, g = u2, c2, g2
            else:
                u, c, g = u1, c1, g1
        return u, c, g, n

    dz_s = np.where(np.isfinite(dz[:, support]), dz[:, support], 0.0)
    beta_f = 0.0 if math.isinf(beta) else beta                 # log A = -beta_f dz where A > 0

    def iterate(u: np.ndarray, c: np.ndarray, g: float, n_iter: int, tol: float) -> tuple:
        while gap_of(u, c) > tol and n_iter < max_iter:       # alternate BA and Newton chunks
            u, c, g, n = ba_phase(u, c, g, min(100, max_iter - n_iter), tol)
            n_iter += n
            if gap_of(u, c) > tol and n_iter < max_iter:
                u, c, g, n = newton_phase(p, A, u, tol, min(60, max_iter - n_iter))
                n_iter += n
                if gap_of(u, c) > tol:                         # BA needs q > 0 everywhere
                    u = _normalise_log(np.maximum(u, -700.0))
                    c, g = evaluate(u)
        return u, c, g, n_iter

    def point(u: np.ndarray, c: np.ndarray) -> tuple:
        """The point built from u (whose c we know): Q = q A / (A q), and its certificate.

        I(Q) is evaluated in the dual form -beta D_z - E log (A q)(X) - sum q c log c (equal to
        sum p Q log(Q / q c) in exact arithmetic, but free of the cancellation of large logs in
        that sum, which costs up to ~1e-13 nats at K = 1024), so I and I - gap are accurate to a
        few ulps; `pad` (nats) widens both ends by a bound on the remaining rounding error.
        """
        q = np.exp(u)
        aq = A @ q
        Q = A * q[None, :] / aq[:, None]                       # (K, Ms)
        logc = np.log(c)
        qout = q * c
        Dz = float(p @ np.sum(np.where(Q > 0, Q * dz_s, 0.0), axis=1))
        Elog = float(p @ np.log(aq))
        I = max(-beta_f * Dz - Elog - float(qout @ logc), 0.0)
        gap = max(float(np.max(logc) - qout @ logc), 0.0)
        pad = 16 * _EPS * (1.0 + I + abs(Elog) + beta_f * (Dz + float(p @ rowmin[:, 0])))
        return q, Q, qout, Dz, I, gap, pad

    c, g = evaluate(u)
    u, c, g, n_iter = iterate(u, c, g, 0, tol)
    q, Q, qout, Dz, I, gap, pad = point(u, c)
    if gap + 2 * pad > tol and 4 * pad < tol and n_iter < max_iter:   # room for rounding
        u = _normalise_log(np.maximum(u, -700.0))             # BA needs q > 0 everywhere
        c, g = evaluate(u)
        u, c, g, n_iter = iterate(u, c, g, n_iter, tol - 2 * pad)
        q, Q, qout, Dz, I, gap, pad = point(u, c)
    D = Dz + float(p @ rowmin[:, 0])
    I, gap = I + pad, gap + 2 * pad                            # certified: R(D) in [I - gap, I]
    if math.isinf(beta):
        a = I - gap                                             # lower bound on R(D_min) only
    else:
        a = I - gap + beta * D
    logq_full = np.full(M, -np.inf)
    with np.errstate(divide="ignore"):
        logq_full[support] = np.log(qout)
    Q_full = np.zeros((K, M))
    Q_full[:, support] = Q
    return BAPoint(beta=beta, D=D, I=I, a=a, gap=gap, logq=logq_full, Q=Q_full,
                   converged=gap <= tol, n_iter=n_iter)


def newton_phase(p: np.ndarray, A: np.ndarray, u: np.ndarray, tol: float, limit: int) -> tuple:
    """Constrained Newton method (Wang 2007) for G(q) = sum_x p(x) log (A q)(x) on the simplex.

    Each step maximises the second-order model of G around q, sum_x p(x) [(r_x - 1) - (r_x - 1)^2/2]
    with r = A q' / A q, over q' >= 0 on the current support plus every letter with c > 1, by
    non-negative least squares (an extra heavy row keeps sum q' = 1); NNLS returns sparse solutions
    even when the columns of A are nearly collinear (smooth distortions). A backtracking line
    search on q + t (q' - q) keeps G increasing, so the limit is Blahut's fixed point.
    Returns (log q, c, G, evaluations); log q is -inf where q = 0.
    """
    from scipy.optimize import nnls
    q = np.exp(u)
    sp = np.sqrt(p)
    n = 0

    def evaluate(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        aq = A @ q
        return aq, (p / aq) @ A, float(p @ np.log(aq))

    aq, c, g = evaluate(q)
    while n < limit:
        logc = np.log(c)
        if float(np.max(logc) - (q * c) @ logc) <= tol:
            break
        S = np.flatnonzero((q > 0) | (c > 1.0))
        M = np.vstack([A[:, S] / aq[:, None] * sp[:, None], np.full((1, S.size), 1e3)])
        try:
            x, _ = nnls(M, np.concatenate([2.0 * sp, [1e3]]), maxiter=50 * S.size)
        except RuntimeError:                                   # NNLS did not finish
            break
        if not np.isfinite(x).all() or x.sum() <= 0:
            break
        target = np.zeros_like(q)
        target[S] = x / x.sum()
        t, accepted = 1.0, False
        for _ in range(40):
            cand = (1 - t) * q + t * target
            aq1, c1, g1 = evaluate(cand)
            n += 1
            if np.all(aq1 > 0) and g1 >= g:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        q, aq, c, g = cand, aq1, c1, g1
    with np.errstate(divide="ignore"):
        return np.log(q), c, g, n


# --------------------------------------------------------------------------- certified sandwich
_EPS = float(np.finfo(float).eps)


class Sandwich:
    """Solved points of a convex non-increasing curve R(D) and what they certify.

    Each point gives an achievable (D_i, I_i) (so R(D_i) <= I_i) and a supporting line
    R(D) >= a_i - beta_i D valid for every D. Upper bounds interpolate achievable points (convexity,
    time sharing); lower bounds take the best line.
    """

    def __init__(self, points: list[BAPoint]):
        self.points = sorted(points, key=lambda pt: pt.D)

    def add(self, pt: BAPoint) -> None:
        self.points.append(pt)
        self.points.sort(key=lambda pt: pt.D)

    def upper_R(self, D: float) -> float:
        return self.upper_R_witness(D)[0]

    def upper_R_witness(self, D: float) -> tuple[float, BAPoint | None, BAPoint | None, float]:
        """Certified upper bound on R(D) and the kernel achieving it: (bound, a, b, w).

        The kernel (1 - w) Q_a + w Q_b (time sharing) has distortion <= D and, since I is convex
        in the kernel, I <= bound. (inf, None, None, 0) when no solved point has distortion <= D.
        """
        best, wit = math.inf, (None, None, 0.0)
        pts = self.points
        for i, pt in enumerate(pts):
            if pt.D <= D:
                if pt.I < best:
                    best, wit = pt.I, (pt, pt, 0.0)
                if i + 1 < len(pts) and pts[i + 1].D > D:
                    nxt = pts[i + 1]
                    w = (D - pt.D) / (nxt.D - pt.D)
                    chord = (1 - w) * pt.I + w * nxt.I + 4 * _EPS * max(pt.I, nxt.I)
                    if chord < best:
                        best, wit = chord, (pt, nxt, w)
        return (best,) + wit

    def lower_R(self, D: float) -> float:
        """max_i of the lines, each evaluated as (I_i - gap_i) - beta_i (D - D_i) (no cancellation
        of beta_i D_i against a_i) and lowered by its own rounding error."""
        best = 0.0
        for pt in self.points:
            if math.isfinite(pt.beta):
                step = pt.beta * (D - pt.D)
                line = pt.lower - step
                best = max(best, line - 4 * _EPS * (abs(pt.lower) + abs(step)))
            elif D <= pt.D:                                    # the D_min end certifies R(D_min)
                best = max(best, pt.lower)
        return best

    def upper_D(self, R: float) -> float:
        """Smallest certified-achievable distortion at rate <= R (chord of achievable points)."""
        best = math.inf
        pts = self.points
        for i, pt in enumerate(pts):
            if pt.I <= R:
                best = min(best, pt.D)
            if i + 1 < len(pts):
                a, b = pt, pts[i + 1]
                if a.I > R >= b.I and a.I > b.I:
                    w = (a.I - R) / (a.I - b.I)
                    best = min(best, a.D + w * (b.D - a.D) + 4 * _EPS * max(a.D, b.D))
        return best

    def lower_D(self, R: float, D_min: float) -> float:
        """D(R) >= (a_i - R) / beta_i for every line with beta_i > 0."""
        best = D_min
        for pt in self.points:
            if math.isfinite(pt.beta) and pt.beta > 0:
                x = pt.D + (pt.lower - R) / pt.beta
                best = max(best, x - 4 * _EPS * (abs(pt.D) + abs(x)))
        return best


def next_beta(left: BAPoint, right: BAPoint, target_D: float | None) -> float:
    """Multiplier for the next solve between two bracketing points (left.D <= right.D).

    The chord slope gives the point of the curve farthest from the chord; when both slopes are
    finite and a target D is given, interpolate log beta linearly in D instead (a secant step),
    falling back to the chord if that leaves the bracket.
    """
    chord = (left.I - right.I) / (right.D - left.D) if right.D > left.D else 0.0
    lo, hi = right.beta, left.beta                             # beta decreases with D
    if target_D is not None and 0 < lo and math.isfinite(hi) and right.D > left.D:
        w = (target_D - left.D) / (right.D - left.D)
        if 0.0 <= w <= 1.0:                                    # target inside the bracket
            b = math.exp((1 - w) * math.log(hi) + w * math.log(lo))
            if lo < b < hi:
                return b
    if not (lo < chord < hi):
        chord = math.sqrt(max(lo, 1e-12) * hi) if math.isfinite(hi) else max(2 * lo, 1.0)
    return chord


def _bracket(points: list[BAPoint], target: float) -> tuple[BAPoint, BAPoint]:
    """The consecutive pair of solved points around distortion `target` (left.D <= target)."""
    idx = max([i for i, pt in enumerate(points) if pt.D <= target] or [0])
    idx = min(idx, len(points) - 2)
    return points[idx], points[idx + 1]


def _slope_bracket(points: list[BAPoint], target: float) -> tuple[BAPoint, BAPoint] | None:
    """The tightest supporting lines on either side of `target`: the smallest beta among points
    with D <= target and the largest among points with D > target (None if a side is empty).

    Chosen by beta, not by D: D(beta) is monotone only up to rounding (points of a linear piece
    of R, or near D_min, can tie or swap), and beta is what bounds the slope.
    """
    left = [pt for pt in points if pt.D <= target]
    right = [pt for pt in points if pt.D > target]
    if not left or not right:
        return None
    return min(left, key=lambda pt: pt.beta), max(right, key=lambda pt: pt.beta)


def _slope_settled(left: BAPoint, right: BAPoint, target: float, rtol: float) -> bool:
    """Whether the supporting lines around `target` pin dR/dD there to a relative `rtol`.

    R is convex, so beta_right <= -R'(target) <= beta_left when left.D <= target < right.D.
    """
    if left.D == target:
        return True
    if right.D - left.D <= 8 * _EPS * max(1.0, abs(target)):   # both ends at the target (a kink)
        return True
    if not math.isfinite(left.beta) or right.beta <= 0:
        return False
    return left.beta - right.beta <= rtol * right.beta


def slope_at(points: list[BAPoint], target: float) -> float:
    """-dR/dD at distortion `target` (nats per distortion unit) from the solved points around it.

    Interpolates log beta linearly in D between the bracketing pair (an estimate inside the
    certified range [beta_right, beta_left]); the nearer point's beta when the pair cannot be
    interpolated (an end of the curve).
    """
    pair = _slope_bracket(points, target)
    if pair is None or pair[0].D == target:
        return min(points, key=lambda pt: abs(pt.D - target)).beta
    left, right = pair
    if math.isfinite(left.beta) and right.beta > 0:
        w = (target - left.D) / (right.D - left.D)
        return math.exp((1 - w) * math.log(left.beta) + w * math.log(right.beta))
    return left.beta if target - left.D <= right.D - target else right.beta


#: Most extra solves spent pinning the slope once the width is reached.
_SLOPE_ROUNDS = 64


def bracket_solve(solve: Callable[[float, BAPoint | None], BAPoint], sandwich: Sandwich, *,
                  target: float, on: str, tol: float, max_rounds: int, D_min: float,
                  slope_rtol: float | None = None) -> tuple[bool, int]:
    """Add solved points until the certified interval at the target (D or R) is <= tol wide.

    With `slope_rtol` (on "D" only), go on until the supporting lines on both sides of the target
    pin the slope there to that relative accuracy: a secant step in log beta, or a bisection in
    log beta after two new points in a row fell on the same side of the target (the secant from
    a far point tends to approach the target from one side only). Returns (width reached, rounds).
    """
    rounds = slope_rounds = 0
    sides: list[bool] = []                                     # new point right of the target?
    while rounds < max_rounds:
        pts = sandwich.points
        if on == "D":
            width = sandwich.upper_R(target) - sandwich.lower_R(target)
            left, right = _bracket(pts, target)
        else:
            width = sandwich.upper_D(target) - sandwich.lower_D(target, D_min)
            idx = min(max([i for i, pt in enumerate(pts) if pt.I >= target] or [0]), len(pts) - 2)
            left, right = pts[idx], pts[idx + 1]
        pair = _slope_bracket(pts, target) if on == "D" else None
        slope_ok = (pair is None or slope_rtol is None or slope_rounds >= _SLOPE_ROUNDS
                    or _slope_settled(*pair, target, slope_rtol))
        if width <= tol and slope_ok:
            return True, rounds
        if width <= tol:                                       # only the slope is left to pin
            slope_rounds += 1
            left, right = pair
        if width <= tol and len(sides) >= 2 and sides[-1] == sides[-2]:
            if not math.isfinite(left.beta):
                beta = 2.0 * right.beta if right.beta > 0 else 1.0
            elif right.beta <= 0:
                beta = 0.5 * left.beta
            else:
                beta = math.sqrt(left.beta * right.beta)
        else:
            beta = next_beta(left, right, target if on == "D" else
                             left.D + (left.I - target) / max(left.I - right.I, 1e-300)
                             * (right.D - left.D))
        warm = left if abs(math.log(max(beta, 1e-300)) - math.log(max(min(left.beta, 1e300), 1e-300))) \
            < abs(math.log(max(beta, 1e-300)) - math.log(max(right.beta, 1e-300))) else right
        pt = solve(beta, warm)
        sandwich.add(pt)
        sides.append(pt.D > target)
        rounds += 1
    if on == "D":
        return sandwich.upper_R(target) - sandwich.lower_R(target) <= tol, rounds
    return sandwich.upper_D(target) - sandwich.lower_D(target, D_min) <= tol, rounds
