"""Hidden Markov token source: a hidden chain S_t with transitions T emits Y_t ~ E(S_t, .).

The entropy rate of a hidden Markov process has no closed form. Cover & Thomas (2006, Thm 4.5.1)
enclose it: for the stationary process and every n,

    H(Y_n | Y^{n-1}, S_1)  <=  H(Y)  <=  H(Y_n | Y^{n-1}),

the lower bound non-decreasing and the upper non-increasing in n, both converging. Both are computed
exactly by the forward recursion of :mod:`seminfo.sources._forward` over all K^n output histories
(exponential in n, exact to rounding). The enumeration is capped: K^n x S numbers per step may not
exceed 2^23 (e.g. n <= 14 for K = 3, S = 2), and a larger `horizon` raises InputError.

The bounds always use the stationary law of the hidden chain (the rate does not depend on the start);
`initial` only changes sampling, `block_pmf`, `block_entropy` and the predictive interface.
``entropy_rate_interval(horizon=n)`` returns the enclosure as an Interval; ``entropy_rate(horizon=n)``
returns its midpoint as a float, within half the interval's width of the true rate.

References
----------
1. Cover & Thomas (2006), sec. 4.5, Thm 4.5.1.
2. L. R. Rabiner, "A tutorial on hidden Markov models", Proc. IEEE 77(2), 1989.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validate import as_int, as_pmf, as_stochastic, as_symbols, check_size
from ..errors import InputError, ShapeError
from ..exact._stationary import check_states, stationary_distribution
from ..results import Interval
from ..units import log_base, unit_name
from ._forward import check_steps, enumerate_given_start, enumerate_histories, filter_path
from .base import TokenSource, check_block, check_sample, cumulative, draw, rng_from

__all__ = ["HiddenMarkovSource"]


class _RateFloat(float):
    """The midpoint of a certified enclosure, as a float.

    Until this release ``HiddenMarkovSource.entropy_rate`` returned the Interval itself; its
    attributes still answer here for one release, with a DeprecationWarning pointing to
    ``entropy_rate_interval``.
    """

    def __new__(cls, interval: Interval) -> "_RateFloat":
        out = super().__new__(cls, interval.midpoint)
        out._interval = interval
        return out

    def _old(self, name: str) -> Any:
        warnings.warn(f"HiddenMarkovSource.entropy_rate() now returns a float (the midpoint); "
                      f"using `{'x in' if name == 'in' else '.' + name}` on its result is deprecated and "
                      f"will be removed. Use "
                      f"entropy_rate_interval(...) for the certified Interval.", DeprecationWarning,
                      stacklevel=3)
        return self._interval if name == "in" else getattr(self._interval, name)

    lower = property(lambda self: self._old("lower"))
    upper = property(lambda self: self._old("upper"))
    width = property(lambda self: self._old("width"))
    midpoint = property(lambda self: self._old("midpoint"))
    units = property(lambda self: self._old("units"))
    method = property(lambda self: self._old("method"))
    notes = property(lambda self: self._old("notes"))

    def __contains__(self, v: float) -> bool:
        return v in self._old("in")



class HiddenMarkovSource(TokenSource):
    """Hidden Markov source: S_1 ~ initial, S_t ~ T[S_{t-1}], Y_t ~ E[S_t].

    Parameters
    ----------
    T : array_like, shape (S, S)
        Hidden-state transition rows, each summing to 1.
    E : array_like, shape (S, K)
        Emission rows: E[s, y] = P(Y_t = y | S_t = s).
    initial : array_like, shape (S,), keyword-only, optional
        Law of S_1; default the (unique) stationary law of T.

    Examples
    --------
    >>> src = HiddenMarkovSource([[0.9, 0.1], [0.2, 0.8]], [[0.9, 0.1], [0.2, 0.8]])
    >>> iv = src.entropy_rate_interval(horizon=8)
    >>> iv.lower <= iv.upper and iv.width < 1e-2
    True
    >>> src.entropy_rate(horizon=8) == iv.midpoint
    True
    """

    def __init__(self, T: Any, E: Any, *, initial: Any = None):
        func = "HiddenMarkovSource"
        self.T = as_stochastic(T, "T", func)
        self.E = as_stochastic(E, "E", func)
        S = self.T.shape[0]
        if self.T.shape != (S, S):
            raise ShapeError(f"The `T` parameter of {func} must be square (S, S). Got {self.T.shape}.")
        if self.E.shape[0] != S:
            raise ShapeError(f"The `E` parameter of {func} must have one row per hidden state (S = {S}). "
                             f"Got shape {self.E.shape}.")
        self.n_states = S
        self.alphabet_size = self.E.shape[1]
        check_states(S, "T", func)
        check_size(self.alphabet_size * S * S, "The `T` and `E` parameters of HiddenMarkovSource "
                   "(K*S*S numbers per step of the forward recursion)", hint="Use fewer states or symbols.")
        self.stationary = stationary_distribution(self.T, "T", func)
        if initial is None:
            self.initial = self.stationary
        else:
            self.initial = as_pmf(initial, "initial", func, ndim=1)
            if self.initial.size != S:
                raise ShapeError(f"The `initial` parameter of {func} must have length S = {S}. "
                                 f"Got {self.initial.size}.")
        # steps of the forward recursion: M[y, s, s'] = P(Y = y, S_next = s' | S = s)
        self._first = np.einsum("sy,st->yst", self.E, np.eye(S))          # emit from S_1 itself
        self._step = np.einsum("st,ty->yst", self.T, self.E)              # move, then emit

    def _steps(self, n: int) -> list[np.ndarray]:
        return [self._first] + [self._step] * (n - 1)

    # ------------------------------------------------------------------ ground truth
    def entropy_rate(self, *, horizon: int = 10, base: float = 2) -> float:
        """Entropy rate per symbol: the midpoint of :meth:`entropy_rate_interval` at this horizon.

        It lies within half the interval's width of the true rate; read the width (and the
        certified bounds) from :meth:`entropy_rate_interval`, which takes the same `horizon` and
        `base`. Returns a float in units of `base` per symbol. (Until this release an Interval was
        returned; its attributes still work on the result for one release, with a DeprecationWarning.)
        """
        return _RateFloat(self._rate_interval(horizon, base, "HiddenMarkovSource.entropy_rate"))

    def entropy_rate_interval(self, *, horizon: int = 10, base: float = 2) -> Interval:
        """Certified enclosure [H(Y_n | Y^{n-1}, S_1), H(Y_n | Y^{n-1})] of the entropy rate, n = horizon.

        Parameters
        ----------
        horizon : int, keyword-only
            n >= 1; the interval narrows as n grows (cost K^n).
        base : float, keyword-only
            Logarithm base (2 gives bits).

        Returns
        -------
        Interval
            Lower and upper bounds in units of `base` per symbol.
        """
        return self._rate_interval(horizon, base, "HiddenMarkovSource.entropy_rate_interval")

    def _rate_interval(self, horizon: Any, base: float, func: str) -> Interval:
        lb = log_base(base, func)
        n = as_int(horizon, "horizon", func, minimum=1)
        check_steps(n, "horizon", func)
        what = f"The `horizon` parameter of {func} (n = {n})"
        upper = enumerate_histories(self.stationary, self._steps(n), what=what)[0][-1]
        lower = enumerate_given_start(self.stationary, self._steps(n), what=what)[-1]
        return Interval(lower=float(lower) / lb, upper=float(upper) / lb, units=f"{unit_name(base)}/symbol",
                        method=f"Cover-Thomas Thm 4.5.1 bounds at horizon {n}",
                        notes="lower = H(Y_n|Y^{n-1},S_1), upper = H(Y_n|Y^{n-1}), stationary start")

    def block_entropy(self, n: int, *, base: float = 2) -> float:
        """Exact block entropy H(Y_1..Y_n) (total, units of `base`) by the forward recursion."""
        func = "HiddenMarkovSource.block_entropy"
        lb = log_base(base, func)
        n = as_int(n, "n", func, minimum=1)
        check_steps(n, "n", func)
        h, _ = enumerate_histories(self.initial, self._steps(n), what=f"The `n` parameter of {func}")
        return float(h.sum()) / lb

    def block_pmf(self, n: int) -> np.ndarray:
        """Exact pmf of (Y_1..Y_n), shape (K,)*n, starting from `initial`."""
        func = "HiddenMarkovSource.block_pmf"
        n = check_block(n, self.alphabet_size, func)
        _, pmf = enumerate_histories(self.initial, self._steps(n), what=f"The `n` parameter of {func}",
                                     keep_pmf=True)
        return pmf.reshape((self.alphabet_size,) * n)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, seed: Any = None, return_states: bool = False):
        """Draw y_1..y_n (int64); with ``return_states=True`` also the hidden states s_1..s_n."""
        func = "HiddenMarkovSource.sample"
        n = check_sample(n, func, cells_per_symbol=4)          # u (n, 2), states and symbols
        if not isinstance(return_states, (bool, np.bool_)):
            raise InputError(f"The `return_states` parameter of {func} must be True or False. "
                             f"Got {return_states!r}.")
        rng = rng_from(seed, func)
        u = rng.random((n, 2))
        cT, cE = cumulative(self.T), cumulative(self.E)
        states = np.empty(n, dtype=np.int64)
        s = draw(cumulative(self.initial), u[0, 0])
        for t in range(n):
            if t:
                s = draw(cT[s], u[t, 0])
            states[t] = s
        y = np.empty(n, dtype=np.int64)
        for s_ in range(self.n_states):                       # emissions are independent given states
            at = states == s_
            y[at] = np.searchsorted(cE[s_], u[at, 1], side="right")
        return (y, states) if return_states else y

    # ------------------------------------------------------------------ predictive interface
    def start_state(self) -> np.ndarray:
        """Belief over the state that emits the next symbol: initially `initial`."""
        return self.initial.copy()

    def state_log_probs(self, state: np.ndarray) -> np.ndarray:
        """log p(next symbol | past) = log(belief @ E)."""
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(state) @ self.E)

    def advance(self, state: np.ndarray, symbol: int) -> np.ndarray:
        """Bayes update on the emitted symbol, then one hidden transition (a new array)."""
        y = self._symbol(symbol, "HiddenMarkovSource.advance")
        post = np.asarray(state) * self.E[:, y]
        if post.sum() <= 0:
            raise InputError(f"The `symbol` parameter of HiddenMarkovSource.advance has probability 0 "
                             f"in this state. Got {y}.")
        return (post / post.sum()) @ self.T

    def predictive_log_probs(self, x: Any) -> np.ndarray:
        """(n + 1, K) log p(y_{t+1} | y_1..y_t) by the forward filter (linear in n)."""
        func = "HiddenMarkovSource.predictive_log_probs"
        x = as_symbols(x, "x", func, alphabet_size=self.alphabet_size, min_length=0)
        rows = filter_path(self.initial, [self._step], x, func=func, first=[self._first])
        return _log(np.array(rows))

    def __repr__(self) -> str:
        return f"HiddenMarkovSource(S={self.n_states}, K={self.alphabet_size})"


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)
