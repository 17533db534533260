"""A stateful channel used with feedback: the seed's model of an LLM in miniature (theory §2).

At each time t an encoder picks the input X_t from a policy that sees its last input and the last
output fed back, P(x_t | x_{t-1}, y_{t-1}); a finite-state channel then emits Y_t and moves its hidden
state, P(y_t, s_t | x_t, s_{t-1}). The triple Z_t = (X_t, Y_t, S_t) is a first-order Markov chain;
(X_0, Y_0, S_0) is drawn from its stationary law unless `initial` says otherwise, so the pair
process is stationary.

Exact totals over a horizon n come from forward recursions (:mod:`seminfo.sources._forward`) on
three views of the same law, each enumerating its symbol histories:

* the interleaved sequence X1, Y1, X2, Y2, ...: its per-step conditional entropies are
  H(X_t | X^{t-1}, Y^{t-1}) and H(Y_t | Y^{t-1}, X^t); the latter sum to H(Y^n || X^n);
* the outputs alone: H(Y^n) = sum_t H(Y_t | Y^{t-1});
* the inputs alone: H(X^n).

Then I(X^n -> Y^n) = H(Y^n) - H(Y^n || X^n), I(0*Y^{n-1} -> X^n) = H(X^n) - sum_t H(X_t | X^{t-1}, Y^{t-1}),
I(X^n;Y^n) = H(X^n) + H(Y^n) - H(X^n, Y^n), and the conservation law holds to rounding. Cost grows as
(Kx*Ky)^n; each step may hold at most 2^23 numbers (n <= 10 for binary X, Y and a 2-state channel).

Rates. Per-symbol averages (1/n) x total are reported as they are. Limits are enclosed in certified
intervals by the argument of Cover & Thomas Thm 4.5.1 applied to the Markov chain Z: for each
conditional entropy h_n = H(A_n | past observations up to n), h_n is non-increasing and
H(A_n | same, Z_0) non-decreasing in n, and both converge to the rate. The policy term
H(X_t | X_{t-1}, Y_{t-1}) is exact for t >= 2. The rate of a difference is enclosed by the
difference of the enclosures (lower = lower - upper), so the intervals are valid but not the tightest.
Without feedback (the policy ignores y) the reverse directed information is 0 and DI = MI exactly.

References
----------
1. J. Massey, "Causality, feedback and directed information", ISITA 1990.
2. G. Kramer, *Directed information for channels with feedback*, PhD thesis, ETH Zurich, 1998.
3. J. L. Massey and P. C. Massey, "Conservation of mutual and directed information", ISIT 2005.
4. H. H. Permuter, T. Weissman and A. J. Goldsmith, "Finite state channels with time-invariant
   deterministic feedback", IEEE Trans. IT 55(2), 2009.
5. Cover & Thomas (2006), Thm 4.5.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_int, as_pmf, as_real, as_stochastic, as_symbols, check_size, same_length
from ..errors import DistributionError, ShapeError
from ..exact import stationary_transfer_entropy
from ..exact._stationary import check_states, stationary_distribution
from ..results import Interval, Result
from ..units import log_base, unit_name
from ._forward import _row_entropy, check_steps, enumerate_given_start, enumerate_histories, filter_path
from .base import check_block, check_sample, cumulative, draw, rng_from

__all__ = ["FeedbackChannel", "FeedbackRates"]


@dataclass(frozen=True)
class FeedbackRates(Result):
    """Per-symbol information rates of a :class:`FeedbackChannel` at horizon n.

    Interval fields enclose the limit n -> infinity (certified; see the module docstring for the
    bound directions); ``*_average`` fields are the exact (1/n) x total at horizon n.
    """

    n: int
    units: str
    directed_information: Interval
    reverse_directed_information: Interval
    mutual_information: Interval
    causally_conditioned_entropy: Interval
    output_entropy: Interval
    input_entropy: Interval
    transfer_entropy: float
    directed_information_average: float
    reverse_directed_information_average: float
    mutual_information_average: float
    causally_conditioned_entropy_average: float


class FeedbackChannel:
    """Finite-state channel with an input policy that sees the fed-back output.

    Parameters
    ----------
    policy : array_like, shape (Kx, Ky, Kx)
        policy[x', y', x] = P(X_t = x | X_{t-1} = x', Y_{t-1} = y'); each [x', y', :] sums to 1.
    channel : array_like, shape (Kx, S, Ky, S)
        channel[x, s', y, s] = P(Y_t = y, S_t = s | X_t = x, S_{t-1} = s'); each [x, s', :, :] sums to 1.
    initial : array_like, shape (Kx, Ky, S), keyword-only, optional
        Law of (X_0, Y_0, S_0); default the stationary law of the chain Z_t = (X_t, Y_t, S_t).

    Examples
    --------
    >>> ch = FeedbackChannel.example()
    >>> di, rdi, mi = ch.directed_information(3), ch.reverse_directed_information(3), ch.mutual_information(3)
    >>> abs(mi - di - rdi) < 1e-12 and rdi > 0
    True
    """

    def __init__(self, policy: Any, channel: Any, *, initial: Any = None):
        func = "FeedbackChannel"
        pol = as_real(policy, "policy", func, error=DistributionError, what="an array of probabilities")
        ch = as_real(channel, "channel", func, error=DistributionError, what="an array of probabilities")
        if pol.ndim != 3 or pol.shape[2] != pol.shape[0]:
            raise ShapeError(f"The `policy` parameter of {func} must have shape (Kx, Ky, Kx) (axes "
                             f"x_{{t-1}}, y_{{t-1}}, x_t). Got shape {pol.shape}.")
        kx, ky = pol.shape[0], pol.shape[1]
        if ch.ndim != 4 or ch.shape[0] != kx or ch.shape[2] != ky or ch.shape[3] != ch.shape[1]:
            raise ShapeError(f"The `channel` parameter of {func} must have shape (Kx, S, Ky, S) = "
                             f"({kx}, S, {ky}, S) (axes x_t, s_{{t-1}}, y_t, s_t). Got shape {ch.shape}.")
        S = ch.shape[1]
        Z = kx * ky * S
        check_states(Z, "channel", func)               # the chain on Z = (x, y, s)
        check_size(max(kx, ky) * Z * Z, f"The `policy` and `channel` parameters of {func} "
                   f"(max(Kx, Ky) * (Kx*Ky*S)^2 numbers per recursion step)",
                   hint="Use smaller alphabets or fewer channel states.")
        self.policy = as_stochastic(pol.reshape(kx * ky, kx), "policy", func).reshape(kx, ky, kx)
        self.channel = as_stochastic(ch.reshape(kx * S, ky * S), "channel", func).reshape(kx, S, ky, S)
        self.input_size, self.output_size, self.n_states = kx, ky, S
        # chain on Z = (x, y, s), flattened in that order
        Q = np.einsum("pqx,xryd->pqrxyd", self.policy, self.channel).reshape(kx * ky * S, -1)
        self.stationary = stationary_distribution(Q, "channel", func).reshape(kx, ky, S)
        if initial is None:
            self.initial = self.stationary
        else:
            self.initial = as_pmf(initial, "initial", func)
            if self.initial.shape != (kx, ky, S):
                raise ShapeError(f"The `initial` parameter of {func} must have shape (Kx, Ky, S) = "
                                 f"({kx}, {ky}, {S}). Got {self.initial.shape}.")
        self._build_steps()
        self._cache: dict = {}

    def _build_steps(self) -> None:
        kx, ky, S = self.input_size, self.output_size, self.n_states
        Z, W = kx * ky * S, kx * S
        # input half-step: Z=(x', y', s') -> W=(x, s'), emitting x
        mx = np.zeros((kx, kx, ky, S, kx, S))
        for x in range(kx):
            for s in range(S):
                mx[x, :, :, s, x, s] = self.policy[:, :, x]
        # output half-step: W=(x, s') -> Z=(x, y, s), emitting y
        my = np.zeros((ky, kx, S, kx, ky, S))
        for x in range(kx):
            for y in range(ky):
                my[y, x, :, x, y, :] = self.channel[x, :, y, :]
        self._mx, self._my = mx.reshape(kx, Z, W), my.reshape(ky, W, Z)
        self._y_only = np.einsum("zw,ywv->yzv", self._mx.sum(axis=0), self._my)      # (Ky, Z, Z)
        self._x_only = np.einsum("xzw,wv->xzv", self._mx, self._my.sum(axis=0))      # (Kx, Z, Z)

    # ------------------------------------------------------------------ presets
    @classmethod
    def example(cls, *, feedback: bool = True) -> "FeedbackChannel":
        """Binary Gilbert-Elliott channel (good/bad hidden state) driven by an encoder.

        The channel state stays good with probability 0.8 and bad with 0.7; in the good state the
        output flips the input with probability 0.02, in the bad state with 0.3. With
        ``feedback=True`` the encoder repeats its last input with probability 0.85 when it was
        received correctly (y_{t-1} = x_{t-1}) and 0.25 otherwise: genuine feedback, so
        I(X^n -> Y^n) < I(X^n; Y^n) and the reverse directed information is > 0. With
        ``feedback=False`` it repeats with probability 0.7 whatever it received, and DI = MI.
        """
        stay = np.array([[0.8, 0.2], [0.3, 0.7]])           # P(s_t | s_{t-1}), 0 = good, 1 = bad
        flip = np.array([0.02, 0.3])
        channel = np.zeros((2, 2, 2, 2))
        for x in range(2):
            for s0 in range(2):
                for s in range(2):
                    channel[x, s0, x, s] = stay[s0, s] * (1 - flip[s])
                    channel[x, s0, 1 - x, s] = stay[s0, s] * flip[s]
        policy = np.zeros((2, 2, 2))
        for x0 in range(2):
            for y0 in range(2):
                repeat = (0.85 if y0 == x0 else 0.25) if feedback else 0.7
                policy[x0, y0, x0] = repeat
                policy[x0, y0, 1 - x0] = 1 - repeat
        return cls(policy, channel)

    @property
    def has_feedback(self) -> bool:
        """True when the policy depends on the fed-back output y_{t-1}."""
        return not np.allclose(self.policy, self.policy[:, :1, :], rtol=0, atol=0)

    # ------------------------------------------------------------------ exact totals
    def _check_n(self, n: Any, func: str) -> int:
        n = as_int(n, "n", func, minimum=1)
        check_steps(2 * n, "n", func)                  # the interleaved view has 2n steps
        return n

    def _entropies(self, n: int, func: str) -> dict[str, np.ndarray]:
        """Per-step conditional entropies (nats) of the three views from `initial`, cached by n."""
        key = n
        if key not in self._cache:
            mu = self.initial.ravel()
            what = f"The `n` parameter of {func} (n = {n})"
            inter, _ = enumerate_histories(mu, [self._mx, self._my] * n, what=what)
            self._cache[key] = {
                "x_given_past": inter[0::2],      # H(X_t | X^{t-1}, Y^{t-1})
                "y_given_past": inter[1::2],      # H(Y_t | Y^{t-1}, X^t)
                "y": enumerate_histories(mu, [self._y_only] * n, what=what)[0],
                "x": enumerate_histories(mu, [self._x_only] * n, what=what)[0],
            }
        return self._cache[key]

    def causally_conditioned_entropy(self, n: int, *, base: float = 2) -> float:
        """H(Y^n || X^n) = sum_t H(Y_t | Y^{t-1}, X^t), total over n steps in units of `base`."""
        func = "FeedbackChannel.causally_conditioned_entropy"
        lb = log_base(base, func)
        e = self._entropies(self._check_n(n, func), func)
        return float(e["y_given_past"].sum()) / lb

    def directed_information(self, n: int, *, base: float = 2) -> float:
        """I(X^n -> Y^n) = H(Y^n) - H(Y^n || X^n), total over n steps in units of `base`."""
        func = "FeedbackChannel.directed_information"
        lb = log_base(base, func)
        e = self._entropies(self._check_n(n, func), func)
        return float(e["y"].sum() - e["y_given_past"].sum()) / lb

    def reverse_directed_information(self, n: int, *, base: float = 2) -> float:
        """I(0*Y^{n-1} -> X^n) = H(X^n) - sum_t H(X_t | X^{t-1}, Y^{t-1}), total in units of `base`."""
        func = "FeedbackChannel.reverse_directed_information"
        lb = log_base(base, func)
        e = self._entropies(self._check_n(n, func), func)
        return float(e["x"].sum() - e["x_given_past"].sum()) / lb

    def mutual_information(self, n: int, *, base: float = 2) -> float:
        """I(X^n; Y^n) = H(X^n) + H(Y^n) - H(X^n, Y^n), total over n steps in units of `base`."""
        func = "FeedbackChannel.mutual_information"
        lb = log_base(base, func)
        e = self._entropies(self._check_n(n, func), func)
        joint = e["x_given_past"].sum() + e["y_given_past"].sum()
        return float(e["x"].sum() + e["y"].sum() - joint) / lb

    def joint_pmf(self, n: int) -> np.ndarray:
        """Exact joint pmf of (X1, Y1, ..., Xn, Yn), shape (Kx, Ky)*n, from `initial`."""
        func = "FeedbackChannel.joint_pmf"
        kx, ky = self.input_size, self.output_size
        n = check_block(n, kx * ky, func, axes_per_symbol=2)
        _, pmf = enumerate_histories(self.initial.ravel(), [self._mx, self._my] * n,
                                     what=f"The `n` parameter of {func}", keep_pmf=True)
        return pmf.reshape((kx, ky) * n)

    # ------------------------------------------------------------------ rates
    def policy_entropy(self, *, base: float = 2) -> float:
        """Exact H(X_t | X_{t-1}, Y_{t-1}) under the stationary law, per symbol in units of `base`."""
        lb = log_base(base, "FeedbackChannel.policy_entropy")
        pxy = self.stationary.sum(axis=2)                                   # (Kx, Ky)
        return float(np.sum(pxy * _row_entropy(self.policy))) / lb

    def transfer_entropy(self, *, k: int = 1, l: int = 1, base: float = 2) -> float:
        """Exact stationary TE_{X->Y} = I(Y_t ; X_{t-l}^{t-1} | Y_{t-k}^{t-1}) per symbol.

        Computed from the stationary window pmf of max(k, l) + 1 pairs with
        :func:`seminfo.exact.stationary_transfer_entropy`.
        """
        func = "FeedbackChannel.transfer_entropy"
        k = as_int(k, "k", func, minimum=0)
        l = as_int(l, "l", func, minimum=1)
        m = max(k, l) + 1
        check_block(m, self.input_size * self.output_size, func, "k` and `l", axes_per_symbol=2)
        p = self._stationary_view().joint_pmf(m)                            # axes X1, Y1, ..., Xm, Ym
        keep = [2 * i + 1 for i in range(m - 1 - k, m - 1)] + [2 * i for i in range(m - 1 - l, m - 1)]
        keep.append(2 * m - 1)
        window = p.sum(axis=tuple(a for a in range(2 * m) if a not in keep))
        window = np.transpose(window, np.argsort(np.argsort(keep)))
        return stationary_transfer_entropy(window, k=k, l=l, base=base)

    def _stationary_view(self) -> "FeedbackChannel":
        if self.initial is self.stationary:
            return self
        return FeedbackChannel(self.policy, self.channel)

    def rates(self, n: int, *, base: float = 2) -> FeedbackRates:
        """Information rates per symbol: exact averages at horizon n and certified limit intervals.

        Parameters
        ----------
        n : int
            Horizon; intervals narrow as n grows (cost (Kx*Ky)^n, times |Z| for the lower bounds).
        base : float, keyword-only
            Logarithm base (2 gives bits).

        Returns
        -------
        FeedbackRates
            Units ``bits/symbol`` for base 2. Intervals enclose the limits; averages are totals / n
            under the stationary start.
        """
        func = "FeedbackChannel.rates"
        lb = log_base(base, func)
        n = self._check_n(n, func)
        st = self._stationary_view()
        e = st._entropies(n, func)                              # st starts in the stationary law
        mu = self.stationary.ravel()
        what = f"The `n` parameter of {func} (n = {n})"
        # Given S_0 and the observed inputs, (X_0, Y_0) only weight X_1 and carry no information about
        # the hidden states, so H(Y_t | Y^{t-1}, X^t, Z_0) = H(Y_t | Y^{t-1}, X^t, S_0): condition on S_0.
        s_label = np.tile(np.arange(self.n_states), self.input_size * self.output_size)
        inter = enumerate_given_start(mu, [self._mx, self._my] * n, what=what, labels=s_label)
        lo_y = enumerate_given_start(mu, [self._y_only] * n, what=what)[-1]
        lo_x = enumerate_given_start(mu, [self._x_only] * n, what=what)[-1]
        lo_yx, hi_yx = inter[-1], e["y_given_past"][-1]
        hi_y, hi_x = e["y"][-1], e["x"][-1]
        hpol = self.policy_entropy(base=np.e)
        u = f"{unit_name(base)}/symbol"

        def iv(lo: float, hi: float, what: str) -> Interval:
            return Interval(lower=float(lo) / lb, upper=float(hi) / lb, units=u, method=f"forward recursion, horizon {n}",
                            notes=what)

        totals = {k: v.sum() for k, v in e.items()}
        return FeedbackRates(
            n=n, units=u,
            directed_information=iv(lo_y - hi_yx, hi_y - lo_yx, "H(Y) rate minus H(Y||X) rate"),
            reverse_directed_information=iv(lo_x - hpol, hi_x - hpol, "H(X) rate minus policy entropy"),
            mutual_information=iv(lo_x + lo_y - hpol - hi_yx, hi_x + hi_y - hpol - lo_yx,
                                  "H(X) + H(Y) - H(X,Y) rates"),
            causally_conditioned_entropy=iv(lo_yx, hi_yx, "[H(Y_n|Y^{n-1},X^n,Z_0), H(Y_n|Y^{n-1},X^n)]"),
            output_entropy=iv(lo_y, hi_y, "[H(Y_n|Y^{n-1},Z_0), H(Y_n|Y^{n-1})]"),
            input_entropy=iv(lo_x, hi_x, "[H(X_n|X^{n-1},Z_0), H(X_n|X^{n-1})]"),
            transfer_entropy=self.transfer_entropy(base=base),
            directed_information_average=float(totals["y"] - totals["y_given_past"]) / lb / n,
            reverse_directed_information_average=float(totals["x"] - totals["x_given_past"]) / lb / n,
            mutual_information_average=float(totals["x"] + totals["y"] - totals["x_given_past"]
                                             - totals["y_given_past"]) / lb / n,
            causally_conditioned_entropy_average=float(totals["y_given_past"]) / lb / n,
        )

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw (x_1..x_n, y_1..y_n), two int64 arrays; (x_0, y_0, s_0) ~ `initial`."""
        func = "FeedbackChannel.sample"
        n = check_sample(n, func, cells_per_symbol=4)          # u (n + 1, 2) and x, y
        kx, ky, S = self.input_size, self.output_size, self.n_states
        u = rng_from(seed, func).random((n + 1, 2))
        z = draw(cumulative(self.initial.ravel()), u[0, 0])
        xp, yp, s = np.unravel_index(z, (kx, ky, S))
        cpol = cumulative(self.policy)
        cch = cumulative(self.channel.reshape(kx, S, ky * S))
        x = np.empty(n, dtype=np.int64)
        y = np.empty(n, dtype=np.int64)
        for t in range(n):
            xp = draw(cpol[xp, yp], u[t + 1, 0])
            ys = draw(cch[xp, s], u[t + 1, 1])
            yp, s = divmod(ys, S)
            x[t], y[t] = xp, yp
        return x, y

    # ------------------------------------------------------------------ predictive interface
    def _pair(self, x: Any, y: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
        x = as_symbols(x, "x", func, alphabet_size=self.input_size, min_length=0)
        y = as_symbols(y, "y", func, alphabet_size=self.output_size, min_length=0)
        same_length(x, y, ("x", "y"), func)
        return x, y

    def _interleaved(self, x: np.ndarray, y: np.ndarray, func: str) -> list[np.ndarray]:
        seq = np.empty(2 * x.size, dtype=np.int64)
        seq[0::2], seq[1::2] = x, y
        return filter_path(self.initial.ravel(), [self._mx, self._my], seq, func=func)

    def y_log_probs_causal(self, x: Any, y: Any) -> np.ndarray:
        """(n, Ky) natural-log p(y_t | y^{t-1}, x^t) for t = 1..n: the output law given the joint past
        and the current input (the terms of H(Y^n || X^n))."""
        func = "FeedbackChannel.y_log_probs_causal"
        x, y = self._pair(x, y, func)
        rows = self._interleaved(x, y, func)
        return _log(np.array(rows[1::2]).reshape(x.size, self.output_size))

    def x_log_probs(self, x: Any, y: Any) -> np.ndarray:
        """(n + 1, Kx) natural-log p(x_{t+1} | x^t, y^t) for t = 0..n (the encoder's law)."""
        func = "FeedbackChannel.x_log_probs"
        x, y = self._pair(x, y, func)
        rows = self._interleaved(x, y, func)
        return _log(np.array(rows[0::2]))

    def y_log_probs(self, y: Any) -> np.ndarray:
        """(n + 1, Ky) natural-log p(y_{t+1} | y^t) for t = 0..n: the outputs alone, inputs unseen."""
        func = "FeedbackChannel.y_log_probs"
        y = as_symbols(y, "y", func, alphabet_size=self.output_size, min_length=0)
        return _log(np.array(filter_path(self.initial.ravel(), [self._y_only], y, func=func)))

    def __repr__(self) -> str:
        return (f"FeedbackChannel(Kx={self.input_size}, Ky={self.output_size}, S={self.n_states}, "
                f"feedback={self.has_feedback})")


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)
