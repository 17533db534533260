"""The directed rate-reward function of post-training (theory §6), exact and sampled.

R_rr(rho) = min_pi E_X D(pi(.|X) || pi_0(.|X)) subject to E r(X, Y) >= rho. Its optimum is the Gibbs
(exponential-tilting) policy pi_s(y|x) = pi_0(y|x) exp(s r(x, y)) / Z_s(x), with reward
rho(s) = E pi_s r and rate R(s) = s rho(s) - E_X log Z_s(X) (nats; reported in bits) -- the
KL-regularised objective of RLHF/DPO at beta = 1/s. R_rr is convex and increasing from 0 at
rho_0 = E pi_0 r to -E_X log pi_0(argmax r | X) at the largest reward.

* Enumerable response sets: :func:`rate_reward` (one point, certified by bracketing s),
  :func:`rate_reward_curve` (the frontier), :func:`best_of_n` (the exact Best-of-N policy, its
  KL and reward, and the bound log N - (N-1)/N of Beirami et al.), and
  :func:`per_token_divergence` (the chain-rule split of D(pi_s || pi_0) over the tokens of
  enumerable sequences).
* Token models: :func:`rate_reward_from_samples` estimates rho(s), R(s) and the per-token split
  from responses sampled from pi_0 by self-normalised importance sampling, with effective sample
  size and delta-method standard errors; :func:`rate_reward_model` samples them from a TokenModel.

Conventions: rates in bits per response (a response is the whole sequence y^n: divide by n for
bits per token); `slope` = dR/drho = s / ln 2 in bits per reward unit.

References
----------
1. theory §6; T. Korbak, E. Perez, C. Buckley, "RL with KL penalties is better viewed as Bayesian
   inference", 2022 (Gibbs optimum of the KL-regularised objective).
2. A. Beirami et al., "Theoretical guarantees on the best-of-n alignment policy", 2024.
3. A. B. Owen, *Monte Carlo theory, methods and examples*, 2013, ch. 9 (self-normalised IS, ESS).

Leaves out: learning a policy (no RL training); prompts enter only through an explicit law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from .._validate import as_finite, as_float, as_int, as_pmf, as_real, as_seed
from ..errors import DistributionError, InputError, ShapeError
from ..results import CertifiedResult, Estimate, Result, deprecated_alias
from ..units import LN2

__all__ = ["RateRewardResult", "RateRewardCurve", "BestOfNResult", "SampledRateReward",
           "rate_reward", "rate_reward_curve", "best_of_n", "per_token_divergence",
           "rate_reward_from_samples", "rate_reward_model"]


@dataclass(frozen=True)
class RateRewardResult(CertifiedResult):
    """One point of the rate-reward frontier, certified: ``lower <= R_rr(reward) <= upper``.

    Attributes
    ----------
    rate, lower, upper : float
        E_X D(pi_s || pi_0): midpoint and ends of the certified interval, bits per response.
    reward : float
        Expected reward of the policy (reward units).
    slope : float
        dR/drho in bits per reward unit (s / ln 2); 0 below rho_0, inf at the largest reward.
    policy : ndarray, shape of `p_ref`
        The Gibbs policy pi_s(y | x).
    reward_ref, reward_max : float
        rho_0 = E pi_0 r and the largest achievable expected reward.

    ``rate_lower`` and ``rate_upper`` are deprecated aliases of `lower` and `upper`.
    """

    rate: float
    reward: float
    lower: float
    upper: float
    slope: float
    policy: np.ndarray
    reward_ref: float
    reward_max: float
    units: str = "bits/response"
    method: str = "gibbs (exact)"

    rate_lower = deprecated_alias("lower", "rate_lower")
    rate_upper = deprecated_alias("upper", "rate_upper")


@dataclass(frozen=True)
class RateRewardCurve(Result):
    """The frontier R_rr(rho) on [rho_0, rho_max]: arrays (N,) of reward, rate (bits/response), slope."""

    reward: np.ndarray
    rate: np.ndarray
    slope: np.ndarray
    reward_ref: float
    reward_max: float
    units: str = "bits/response"


@dataclass(frozen=True)
class BestOfNResult(Result):
    """Best-of-N (N draws from pi_0, keep the highest reward, ties uniformly): exact law and cost."""

    n: int
    kl: float
    reward: float
    kl_bound: float
    policy: np.ndarray
    units: str = "bits/response"


@dataclass(frozen=True)
class SampledRateReward(Result):
    """Self-normalised importance-sampling estimate of one Gibbs point from samples of pi_0.

    Attributes
    ----------
    slope : float
        bits per reward unit (s / ln 2).
    rate, reward : Estimate
        R(s) in bits per response and rho(s) in reward units, with delta-method standard errors.
    ess : float
        Effective sample size (sum w)^2 / sum w^2 of the tilting weights w = exp(s r).
    per_token : ndarray, shape (n,) or None
        Prefix-tree plug-in split of the rate over token positions (bits); sums to rate.value.
    """

    slope: float
    rate: Estimate
    reward: Estimate
    ess: float
    n_samples: int
    per_token: np.ndarray | None = None
    units: str = "bits/response"
    method: str = "self-normalised importance sampling"


# --------------------------------------------------------------------------- exact (enumerable)
_EPS = float(np.finfo(float).eps)

#: Largest `n_points` of rate_reward_curve (one root-finding per point).
MAX_CURVE_POINTS = 100_000

#: Largest N of best_of_n (beyond, N is not an exact float and F^N is 0 or 1 anyway).
MAX_BEST_OF = 2 ** 53

#: Largest n_samples * n_tokens rate_reward_model draws (int64 tokens: 800 MB).
MAX_SAMPLED_TOKENS = 10 ** 8


def _scale_exponent(r: np.ndarray) -> int:
    """e with max |r| = m 2^e, m in [0.5, 1): rewards are handled as r 2^-e, exactly, in (-1, 1).

    The rate is invariant under r -> c r, rho -> c rho, s -> s / c; scaling by a power of two
    is exact, so every tolerance below is relative to the rewards' scale.
    """
    big = float(np.max(np.abs(r)))
    return math.frexp(big)[1] if big > 0 else 0


def _ldexp(x: float, e: int) -> float:
    """x 2^e, +-inf on overflow (math.ldexp raises instead)."""
    try:
        return math.ldexp(x, e)
    except OverflowError:
        return math.copysign(math.inf, x)


class _Problem:
    """Validated p_ref (X, N), rewards (X, N) scaled to (-1, 1) by 2^-e, and prompt law (X,)."""

    def __init__(self, p_ref: Any, reward: Any, prompt_pmf: Any, func: str):
        p = as_real(p_ref, "p_ref", func, error=DistributionError,
                    what="a pmf (N,) or a table of response pmfs (X, N)")
        self.shape = np.shape(p)
        if len(self.shape) not in (1, 2):
            raise ShapeError(f"The `p_ref` parameter of {func} must be a pmf (N,) or a table of "
                             f"response pmfs (X, N). Got shape {self.shape}.")
        rows = np.atleast_2d(p)
        self.p = np.stack([as_pmf(row, "p_ref", func) for row in rows])          # (X, N)
        r = as_finite(reward, "reward", func)
        if r.shape != self.shape:
            raise ShapeError(f"The `reward` parameter of {func} must have the shape of `p_ref` "
                             f"{self.shape}. Got {r.shape}.")
        self.e = _scale_exponent(r)
        self.r = np.ldexp(np.atleast_2d(r), -self.e)                            # (X, N), exact
        X = self.p.shape[0]
        if prompt_pmf is None:
            self.w = np.full(X, 1.0 / X)
        else:
            self.w = as_pmf(prompt_pmf, "prompt_pmf", func, ndim=1)
            if self.w.size != X:
                raise ShapeError(f"The `prompt_pmf` parameter of {func} must have {X} entries (one "
                                 f"per row of `p_ref`). Got {self.w.size}.")
        with np.errstate(divide="ignore"):
            self.logp = np.log(self.p)
        self.support = self.p > 0
        self.rmax_x = np.where(self.support, self.r, -np.inf).max(axis=1)        # (X,)
        self.rho0 = float(self.w @ np.sum(self.p * self.r, axis=1))
        self.rho_max = float(self.w @ self.rmax_x)
        # rounding of the averages rho_max (exact for one prompt) and rho_0, scaled units
        self.slack = 2 * X * _EPS * float(self.w @ np.abs(self.rmax_x)) if X > 1 else 0.0
        self.slack0 = 2 * (X + self.p.shape[1]) * _EPS * float(self.w @ np.sum(self.p * np.abs(self.r),
                                                                                axis=1))

    def unscale(self, rho: float) -> float:
        """A scaled reward back in the caller's units."""
        return _ldexp(rho, self.e)

    def tilt(self, s: float) -> tuple[np.ndarray, float, float, float]:
        """Policy pi_s, reward rho(s) (scaled), rate R(s) in nats and its rounding allowance.

        `s` is the scaled inverse temperature (the caller's s times 2^e). The allowance is a few
        ulps of the terms the rate sums, weighted by pi (a term of negligible pi cannot matter).
        """
        d = np.where(self.support, s * (self.r - self.rmax_x[:, None]), -np.inf)   # <= 0
        a = np.where(self.support, self.logp + d, -np.inf)
        logZ = logsumexp(a, axis=1, keepdims=True)                             # shifted by s rmax
        pi = np.exp(a - logZ)
        rho = float(self.w @ np.sum(pi * self.r, axis=1))
        with np.errstate(invalid="ignore"):                                    # 0 * (-inf) off support
            terms = np.where(pi > 0, pi * (a - logZ - np.where(self.support, self.logp, 0.0)), 0.0)
            size = np.where(pi > 0, pi * (np.abs(d) + np.abs(np.where(self.support, self.logp, 0.0))),
                            0.0)
        rate = float(self.w @ np.sum(terms, axis=1))
        pad = 16 * _EPS * (1.0 + abs(rate) + float(self.w @ np.sum(size, axis=1))
                           + float(self.w @ np.abs(logZ[:, 0])))
        return pi, rho, max(rate, 0.0), pad

    def top(self) -> tuple[np.ndarray, float, float]:
        """The policy on the argmax set (largest reward), its rate in nats and allowance."""
        best = self.support & (self.r == self.rmax_x[:, None])
        mass = np.sum(np.where(best, self.p, 0.0), axis=1)
        pi = np.where(best, self.p, 0.0) / mass[:, None]
        R = float(-self.w @ np.log(mass))
        return pi, R, 16 * _EPS * (1.0 + R)

    def out(self, pi: np.ndarray) -> np.ndarray:
        return pi.reshape(self.shape)


def _point(pb: _Problem, target: float, rho: float) -> RateRewardResult:
    """The frontier at a scaled target reward (`rho`: the same in the caller's units)."""
    R_unit = 1.0 / LN2

    def result(R: float, reward: float, lo: float, up: float, s_scaled: float, pi: np.ndarray
               ) -> RateRewardResult:
        slope = _ldexp(s_scaled, -pb.e) / LN2
        return RateRewardResult(R * R_unit, reward, max(lo, 0.0) * R_unit, up * R_unit, slope,
                                pb.out(pi), pb.unscale(pb.rho0), pb.unscale(pb.rho_max))

    if target >= pb.rho_max - pb.slack:                        # the largest reward (to rounding)
        pi, R, pad = pb.top()
        return result(R, pb.unscale(pb.rho_max), R - pad, R + pad, math.inf, pi)
    if target <= pb.rho0 - pb.slack0:
        return result(0.0, pb.unscale(pb.rho0), 0.0, 0.0, 0.0, pb.p.copy())
    if target <= pb.rho0:                                      # rho_0 to rounding: R_rr in [0, R(s)]
        level = pb.rho0 + 2 * pb.slack0                        # for an s whose rho(s) surely >= it
        s = 1.0
        while pb.tilt(s)[1] < level and s < 1e300:
            s *= 2.0
        while s > 1e-300 and pb.tilt(0.5 * s)[1] >= level:
            s *= 0.5
        R, pad = pb.tilt(s)[2:]
        return result(0.0, pb.unscale(pb.rho0), 0.0, R + pad + 16 * _EPS * s, 0.0, pb.p.copy())
    f = lambda s: pb.tilt(s)[1] - target                                    # increasing in s
    hi = 1.0
    while f(hi) < 0 and hi < 1e300:
        hi *= 2.0
    if f(hi) < 0:                                              # rho(s) never reaches the target in
        pi, R, pad = pb.top()                                  # floating point: R(hi) <= R_rr <= R_top
        R_hi, pad_hi = pb.tilt(hi)[2:]
        return result(R, rho, R_hi - pad_hi - 16 * _EPS * hi, R + pad, math.inf, pi)
    s = brentq(f, 0.0, hi, xtol=1e-300, rtol=4 * _EPS, maxiter=500, disp=False)
    lo_s, hi_s = 0.0, hi                                       # a certified bracket around the root
    for k in range(50):
        if f(s * (1 - 2.0 ** (k - 50))) <= 0:
            lo_s = s * (1 - 2.0 ** (k - 50))
            break
    for k in range(60):
        if f(s * (1 + 2.0 ** (k - 50))) >= 0:
            hi_s = min(s * (1 + 2.0 ** (k - 50)), hi)
            break
    R_lo, pad_lo = pb.tilt(lo_s)[2:]
    R_hi, pad_hi = pb.tilt(hi_s)[2:]
    pi, rr, R, pad = pb.tilt(s)
    # rho(s) is computed to a few ulps of the (scaled) rewards: a sign of f read wrongly by that
    # much moves s*, hence R = s rho - log Z, by about s times it
    slack = 16 * _EPS * hi_s
    return result(R, rho, min(R_lo, R) - max(pad_lo, pad) - slack,
                  max(R_hi, R) + max(pad_hi, pad) + slack, s, pi)


def rate_reward(p_ref: Any, reward: Any, rho: Any = None, slope: Any = None, *,
                prompt_pmf: Any = None) -> RateRewardResult:
    """R_rr(rho) = min E_X D(pi || pi_0) s.t. E r >= rho, by the Gibbs policy pi_0 e^{s r} / Z_s.

    Parameters
    ----------
    p_ref : array_like, shape (N,) or (X, N)
        Reference policy pi_0(y) over an enumerable response set, or one row per prompt.
    reward : array_like, same shape
        Finite rewards r(x, y), of any scale (the rate is invariant under r -> c r, rho -> c rho;
        every tolerance is relative to max |r|).
    rho : float, optional
        Target expected reward, at most the largest achievable expected reward E_X max_y r(X, y)
        (exactly, for one prompt; to the rounding of that average for several). Exactly one of
        `rho` and `slope`.
    slope : float, optional
        dR/drho >= 0 in bits per reward unit (s = slope * ln 2).
    prompt_pmf : array_like, shape (X,), keyword-only, optional
        Law of the prompts (default uniform).

    Returns
    -------
    RateRewardResult
        rate, lower, upper (bits per response, certified), reward, slope, policy.

    Examples
    --------
    Two responses, the rewarded one has reference probability 0.2: R(0.5) = D(Bern(0.5) || Bern(0.2)),
    whatever the scale of the rewards.

    >>> r = rate_reward([0.8, 0.2], [0.0, 1.0], rho=0.5)
    >>> round(r.rate, 9), r.lower <= r.rate <= r.upper, r.width < 1e-12
    (0.321928095, True, True)
    >>> round(rate_reward([0.8, 0.2], [0.0, 1e-16], rho=5e-17).rate, 9)
    0.321928095
    """
    func = "rate_reward"
    if (rho is None) == (slope is None):
        raise InputError(f"{func} needs exactly one of the `rho` and `slope` parameters. Got "
                         f"{'neither' if rho is None else 'both'}.")
    pb = _Problem(p_ref, reward, prompt_pmf, func)
    if slope is not None:
        sl = as_float(slope, "slope", func, minimum=0.0)
        s = min(_ldexp(sl * LN2, pb.e), 1e300)                 # scaled; 1e300: s (r - rmax) stays finite
        pi, rr, R, pad = pb.tilt(s)
        return RateRewardResult(R / LN2, pb.unscale(rr), max(R - pad, 0.0) / LN2, (R + pad) / LN2, sl,
                                pb.out(pi), pb.unscale(pb.rho0), pb.unscale(pb.rho_max))
    target_u = as_float(rho, "rho", func)
    target = math.ldexp(target_u, -pb.e)
    if target > pb.rho_max + pb.slack:
        raise InputError(f"The `rho` parameter of {func} must be <= the largest achievable expected "
                         f"reward {pb.unscale(pb.rho_max):.17g} (E_X max_y r(X, y)). Got "
                         f"{target_u:.17g}.")
    return _point(pb, target, target_u)


def rate_reward_curve(p_ref: Any, reward: Any, *, n_points: int = 50, prompt_pmf: Any = None
                      ) -> RateRewardCurve:
    """The frontier R_rr(rho) at `n_points` rewards evenly spaced on [rho_0, rho_max] (bits/response).

    `n_points` is 2 to 100,000 (one root-finding per point).

    Examples
    --------
    Rewards 0.2 (rho_0), 0.6 and 1: rates 0, D(Bern(0.6) || Bern(0.2)) and log2(1 / 0.2).

    >>> c = rate_reward_curve([0.8, 0.2], [0.0, 1.0], n_points=3)
    >>> [round(float(x), 6) for x in c.reward], [round(float(x), 6) for x in c.rate]
    ([0.2, 0.6, 1.0], [0.0, 0.550978, 2.321928])
    """
    func = "rate_reward_curve"
    n = as_int(n_points, "n_points", func, minimum=2, maximum=MAX_CURVE_POINTS)
    pb = _Problem(p_ref, reward, prompt_pmf, func)
    rhos = np.linspace(pb.rho0, pb.rho_max, n)                               # scaled units
    pts = [_point(pb, float(r), pb.unscale(float(r))) for r in rhos]
    return RateRewardCurve(reward=np.array([p.reward for p in pts]), rate=np.array([p.rate for p in pts]),
                           slope=np.array([p.slope for p in pts]), reward_ref=pb.unscale(pb.rho0),
                           reward_max=pb.unscale(pb.rho_max))


def best_of_n(p_ref: Any, reward: Any, n: int) -> BestOfNResult:
    """Best-of-N policy: P(y) = pi_0(y) / pi_0(r = r_y) [F(r_y)^N - F(r_y^-)^N], F the reward cdf.

    Returns its exact KL D(pi_BoN || pi_0) and expected reward, beside the bound
    KL <= log N - (N - 1)/N (Beirami et al. 2024), both in bits per response. One prompt: `p_ref`
    of shape (N,); `n` from 1 to 2^53.

    Examples
    --------
    Best of 2 with a fair coin as reward: the winner is rewarded with probability 3/4.

    >>> b = best_of_n([0.5, 0.5], [0.0, 1.0], 2)
    >>> b.reward, round(b.kl, 6), b.kl <= b.kl_bound
    (0.75, 0.188722, True)
    """
    func = "best_of_n"
    N = as_int(n, "n", func, minimum=1, maximum=MAX_BEST_OF)
    p = as_pmf(p_ref, "p_ref", func, ndim=1)
    r = as_finite(reward, "reward", func, ndim=1)
    if r.shape != p.shape:
        raise ShapeError(f"The `reward` parameter of {func} must have the shape of `p_ref` "
                         f"{p.shape}. Got {r.shape}.")
    levels, inv = np.unique(r, return_inverse=True)
    mass = np.bincount(inv, weights=p, minlength=levels.size)             # pi_0(r = level)
    F = np.cumsum(mass)
    F_before = F - mass
    top = np.clip(F, 0, 1) ** N - np.clip(F_before, 0, 1) ** N             # P(best reward = level)
    pi = np.where(mass[inv] > 0, p * top[inv] / np.where(mass[inv] > 0, mass[inv], 1.0), 0.0)
    kl = float(np.sum(np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1.0) /
                                                     np.where(p > 0, p, 1.0)), 0.0)))
    bound = math.log(N) - (N - 1) / N
    return BestOfNResult(n=N, kl=max(kl, 0.0) / LN2, reward=float(pi @ r), kl_bound=bound / LN2,
                         policy=pi)


def per_token_divergence(p_seq: Any, reward: Any, slope: Any) -> np.ndarray:
    """Chain-rule split D(pi_s || pi_0) = sum_t E_{pi_s} D(pi_s(.|y^{t-1}) || pi_0(.|y^{t-1})).

    Parameters
    ----------
    p_seq : array_like, shape (K,)*n
        Reference law of sequences y^n (axis t holds y_t).
    reward : array_like, shape (K,)*n
        Reward of each sequence.
    slope : float
        bits per reward unit (s / ln 2).

    Returns
    -------
    ndarray, shape (n,)
        Per-token terms in bits; they sum to the total rate of the Gibbs policy at `slope`.
    """
    func = "per_token_divergence"
    p = as_pmf(p_seq, "p_seq", func)
    r = as_finite(reward, "reward", func)
    if r.shape != p.shape:
        raise ShapeError(f"The `reward` parameter of {func} must have the shape of `p_seq` "
                         f"{p.shape}. Got {r.shape}.")
    s = as_float(slope, "slope", func, minimum=0.0) * LN2
    with np.errstate(over="ignore", invalid="ignore"):                 # r may be large where p = 0
        tilted = np.where(p > 0, p * np.exp(s * (r - r[p > 0].max())), 0.0)
    pi = tilted / tilted.sum()
    n = p.ndim
    out = np.empty(n)
    for t in range(n):
        keep = tuple(range(t + 1, n))
        pi_t = pi.sum(axis=keep) if keep else pi                           # (K,)*(t+1)
        p_t = p.sum(axis=keep) if keep else p
        pi_prev = pi_t.sum(axis=-1, keepdims=True)
        p_prev = p_t.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (pi_t / pi_prev) / (p_t / p_prev)                      # pi_s(y_t|.) / pi_0(y_t|.)
            out[t] = float(np.sum(np.where(pi_t > 0, pi_t * np.log(ratio), 0.0)))
    return out / LN2


# --------------------------------------------------------------------------- sampled (token models)
def rate_reward_from_samples(rewards: Any, slope: Any, *, tokens: Any = None) -> SampledRateReward:
    """SNIS estimate of rho(s) and R(s) = s rho(s) - log Z_s from responses sampled from pi_0.

    With w_i = exp(s r_i): rho_hat = sum w r / sum w, log Z_hat = log mean w, R_hat = s rho_hat -
    log Z_hat (converted to bits). Standard errors by the delta method on the two means (mean w,
    mean w r); ESS = (sum w)^2 / sum w^2 (Owen 2013, sec. 9.3). The estimate is consistent, with a
    bias of order 1/n; trust it only where the ESS is a sizeable fraction of n.

    Parameters
    ----------
    rewards : array_like, shape (S,)
        r(y_i) of S responses drawn from pi_0 (one prompt).
    slope : float
        bits per reward unit (s / ln 2), >= 0.
    tokens : array_like of int, shape (S, n), keyword-only, optional
        The responses; when given, the rate is split over positions by the prefix-tree plug-in
        log Z_hat(y^{<=t}) - log Z_hat(y^{<t}) (Z_hat of a prefix = mean of w over samples sharing
        it), weighted by the normalised w. The terms sum exactly to the rate estimate.

    Returns
    -------
    SampledRateReward
    """
    func = "rate_reward_from_samples"
    r = as_finite(rewards, "rewards", func, ndim=1)
    S = r.size
    if S < 2:
        raise ShapeError(f"The `rewards` parameter of {func} must hold at least 2 samples. Got {S}.")
    sl = as_float(slope, "slope", func, minimum=0.0)
    e = _scale_exponent(r)                                                # work with r 2^-e, exact:
    rs = np.ldexp(r, -e)                                                  # no overflow at any scale
    s = min(_ldexp(sl * LN2, e), 1e300)                                   # s r = (s 2^e)(r 2^-e)
    top = float(rs.max())
    w = np.exp(s * (rs - top))                                            # e^{s r} / e^{s max r}
    a, b = w.mean(), (w * rs).mean()
    rho_s = b / a
    R = s * (rho_s - top) - math.log(a)                                   # s rho - log Z
    cov = np.cov(np.stack([w, w * rs]), ddof=1) / S
    grad_rho = np.array([-b / a ** 2, 1 / a])
    grad_R = np.array([-s * b / a ** 2 - 1 / a, s / a])
    rho = _ldexp(rho_s, e)
    se_rho = _ldexp(float(math.sqrt(max(grad_rho @ cov @ grad_rho, 0.0))), e)
    se_R = float(math.sqrt(max(grad_R @ cov @ grad_R, 0.0)))
    ess = float(w.sum() ** 2 / (w ** 2).sum())
    per_token = None
    if tokens is not None:
        y = np.asarray(tokens)
        if y.dtype.kind not in "iub":
            raise InputError(f"The `tokens` parameter of {func} must hold integer token ids. Got "
                             f"dtype {y.dtype}.")
        if y.ndim != 2 or y.shape[0] != S:
            raise ShapeError(f"The `tokens` parameter of {func} must have shape (S, n) with S = {S} "
                             f"rows (one per reward). Got {y.shape}.")
        wn = w / w.sum()
        n = y.shape[1]
        logz_prev = np.full(S, math.log(a))                               # empty prefix
        per_token = np.empty(n)
        for t in range(n):
            _, grp = np.unique(y[:, :t + 1], axis=0, return_inverse=True)
            grp = grp.ravel()
            z = np.bincount(grp, weights=w) / np.bincount(grp)
            logz = np.log(z[grp])
            per_token[t] = float(wn @ (logz - logz_prev))
            logz_prev = logz
        per_token = per_token / LN2
    return SampledRateReward(
        slope=sl, rate=Estimate(R / LN2, se_R / LN2, "bits/response", S, "snis"),
        reward=Estimate(rho, se_rho, "reward", S, "snis"), ess=ess, n_samples=S, per_token=per_token)


def rate_reward_model(model: Any, reward_fn: Callable[[np.ndarray], Any], *, slopes: Any,
                      prompt: Any = None, n_tokens: int = 8, n_samples: int = 256, seed: int = 0,
                      best_of: Any = (2, 4, 8, 16)) -> dict:
    """Rate-reward of a TokenModel on sampled responses: SNIS points and Best-of-N points.

    Samples `n_samples` responses of `n_tokens` tokens from the model after `prompt` (through
    ``seminfo.models.sampling.sample``), scores them with `reward_fn` (tokens (S, n) -> rewards
    (S,)), and returns ``{"points": [SampledRateReward...], "best_of_n": [(N, kl_bound_bits,
    reward_estimate)...], "rewards": (S,)}``. The Best-of-N reward is estimated by the exact
    order-statistics formula on the empirical reward law.
    """
    func = "rate_reward_model"
    from ..models.sampling import sample          # token models load lazily (torch stays out)
    n_tokens = as_int(n_tokens, "n_tokens", func, minimum=1)
    n_samples = as_int(n_samples, "n_samples", func, minimum=2)
    if n_tokens * n_samples > MAX_SAMPLED_TOKENS:
        raise InputError(f"The `n_samples` and `n_tokens` parameters of {func} ask for n_samples * "
                         f"n_tokens = {n_tokens * n_samples} sampled tokens, more than the limit of "
                         f"{MAX_SAMPLED_TOKENS}. Sample fewer or shorter responses.")
    seed = as_seed(seed, func)
    slopes = as_finite(slopes, "slopes", func)
    best_of = [as_int(N, "best_of", func, minimum=1, maximum=MAX_BEST_OF)
               for N in np.atleast_1d(np.asarray(best_of, dtype=object)).tolist()]
    tokens = np.asarray(sample(model, prompt, n_tokens, n_samples=n_samples, seed=seed,
                               temperature=1.0).tokens)                     # (S, n)
    rewards = as_finite(reward_fn(tokens), "reward_fn(tokens)", func, ndim=1)
    if rewards.size != n_samples:
        raise ShapeError(f"The `reward_fn` parameter of {func} must return one reward per sample "
                         f"({n_samples}). Got {rewards.size}.")
    pts = [rate_reward_from_samples(rewards, s, tokens=tokens) for s in np.atleast_1d(slopes)]
    emp = np.full(n_samples, 1.0 / n_samples)
    bon = [best_of_n(emp, rewards, N) for N in best_of]
    return {"points": pts, "best_of_n": [(b.n, b.kl_bound, b.reward) for b in bon],
            "rewards": rewards, "tokens": tokens}
