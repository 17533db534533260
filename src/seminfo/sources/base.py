"""The contract of a finite-state token source with exact ground truth (theory §2).

A :class:`TokenSource` generates integer symbols 0..K-1 and knows its own law exactly: it samples,
gives the exact pmf of short blocks, its entropy rate (``entropy_rate()``, always a float;
``entropy_rate_interval()``, always a certified :class:`~seminfo.results.Interval`, of width 0 when
the rate is exact), and the true next-symbol distribution given any past. The last
part, the predictive interface, is what lets a source stand in for a token model, so that every
estimator and every model-based measure can be checked against truth:

* ``start_state()`` -> an opaque state (a tuple or a numpy belief vector) before any symbol;
* ``state_log_probs(state)`` -> (K,) natural-log p(next symbol | past);
* ``advance(state, symbol)`` -> the new state (pure: the old state is not changed);
* ``predictive_log_probs(x)`` -> (n + 1, K): row t is the law of x_{t+1} given x_1..x_t.

Under the source's own law the mean of -log2 p(x_t | x^{t-1}) over a long sample converges to the
entropy rate (Shannon-McMillan-Breiman; Cover & Thomas 2006, Thm 16.8.1).

Leaves out: continuous sources, and sources whose law is only known through samples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .._validate import MAX_AXES, as_int, as_rng, as_symbols, check_size, int_power
from ..errors import InputError
from ..exact._stationary import MAX_BLOCK_ENTRIES
from ..results import Interval
from ..units import unit_name

__all__ = ["TokenSource"]


def rng_from(seed: Any, func: str) -> np.random.Generator:
    """A numpy Generator from None, an int seed or a Generator (used as is): :func:`as_rng`."""
    return as_rng(seed, func)


def check_sample(n: Any, func: str, cells_per_symbol: int = 1, minimum: int = 1) -> int:
    """Validate a sample length and that its arrays (`cells_per_symbol` numbers a symbol) fit
    :data:`seminfo._validate.MAX_CELLS`."""
    n = as_int(n, "n", func, minimum=minimum)
    check_size(n * cells_per_symbol, "n", func)
    return n


def exact_interval(value: float, base: float) -> Interval:
    """The width-0 Interval of a rate known exactly."""
    return Interval(lower=value, upper=value, units=f"{unit_name(base)}/symbol", method="exact",
                    notes="closed form (width 0)")


def draw(cum: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from one cumulative row (last entry 1): never picks a zero-mass symbol."""
    return int(np.searchsorted(cum, u, side="right"))


def cumulative(rows: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis with the last entry set to exactly 1."""
    cum = np.cumsum(rows, axis=-1)
    cum[..., -1] = 1.0
    return cum


def check_block(n: Any, K: int, func: str, param: str = "n", *, axes_per_symbol: int = 1) -> int:
    """Validate a block length: K**n entries fit the enumeration limit and the pmf's
    n * axes_per_symbol axes fit numpy. `param` may name two parameters (``"k` and `l"``)."""
    n = as_int(n, param, func, minimum=1)
    axes = n * axes_per_symbol
    two = "`" in param
    who = f"The `{param}` parameter{'s' if two else ''} of {func}"
    if axes > MAX_AXES:
        raise InputError(f"{who} ask{'' if two else 's'} for a pmf with {axes} axes, more than numpy's "
                         f"{MAX_AXES}. "
                         f"Use a block of at most {MAX_AXES // axes_per_symbol} symbols.")
    entries = int_power(K, n)
    if entries > MAX_BLOCK_ENTRIES:
        need = f"{K}^{n} = {entries}" if entries < 10 ** 15 else f"{K}^{n}"
        raise InputError(f"{who} {'are' if two else 'is'} too large for exact enumeration: the pmf would "
                         f"need {need} entries, more than the limit of {MAX_BLOCK_ENTRIES}. Use a "
                         f"smaller `{param}`.")
    return n


class TokenSource(ABC):
    """Base class of finite-state sources over the alphabet 0..alphabet_size-1."""

    #: Number of symbols K.
    alphabet_size: int

    @abstractmethod
    def sample(self, n: int, *, seed: Any = None) -> np.ndarray:
        """Draw x_1..x_n (int64, shape (n,)); the same `seed` gives the same sequence."""

    @abstractmethod
    def entropy_rate(self, *, base: float = 2) -> float:
        """Entropy rate lim H(X_n | X^{n-1}) per symbol in units of `base`: the exact value, or
        (sources without a closed form) the midpoint of :meth:`entropy_rate_interval`."""

    def entropy_rate_interval(self, *, base: float = 2) -> Interval:
        """Certified enclosure ``lower <= entropy rate <= upper`` per symbol (width 0 when exact)."""
        return exact_interval(self.entropy_rate(base=base), base)

    @abstractmethod
    def block_pmf(self, n: int) -> np.ndarray:
        """Exact joint pmf of (X_1..X_n), an n-axis array of shape (K,)*n."""

    @abstractmethod
    def start_state(self) -> Any:
        """State before any symbol has been seen."""

    @abstractmethod
    def state_log_probs(self, state: Any) -> np.ndarray:
        """(K,) natural-log probabilities of the next symbol in `state`."""

    @abstractmethod
    def advance(self, state: Any, symbol: int) -> Any:
        """State after seeing `symbol` (a new object; `state` is unchanged)."""

    def block_entropy(self, n: int, *, base: float = 2) -> float:
        """Block entropy H(X_1, ..., X_n) of the first n symbols (total, units of `base`)."""
        from ..exact import entropy
        return entropy(self.block_pmf(n), base=base)

    def predictive_log_probs(self, x: Any) -> np.ndarray:
        """True next-symbol log-probabilities along a sequence: row t = log p(. | x_1..x_t).

        Parameters
        ----------
        x : array_like of int, shape (n,)
            Symbols in 0..K-1 (may be empty).

        Returns
        -------
        ndarray, shape (n + 1, K)
            Natural logarithms; row 0 is the law of the first symbol.
        """
        func = f"{type(self).__name__}.predictive_log_probs"
        x = as_symbols(x, "x", func, alphabet_size=self.alphabet_size, min_length=0)
        out = np.empty((x.size + 1, self.alphabet_size))
        state = self.start_state()
        for t, s in enumerate(x):
            out[t] = self.state_log_probs(state)
            state = self.advance(state, int(s))
        out[x.size] = self.state_log_probs(state)
        return out

    def _symbol(self, symbol: Any, func: str) -> int:
        return int(as_symbols(np.asarray([symbol]), "symbol", func, alphabet_size=self.alphabet_size)[0])
