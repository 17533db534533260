"""Markov token source of order k on K symbols, with its exact stationary law and entropy rate.

The chain is given by transition rows P(x_t | x_{t-k}, ..., x_{t-1}). Contexts are numbered in base K
with the oldest symbol most significant: c = sum_i x_{t-k+i} K^(k-1-i). The stationary law over the
K^k contexts is solved exactly (one linear system; an error if it is not unique), and
H = -sum_c pi(c) sum_j P(j | c) log P(j | c) (Cover & Thomas 2006, Thm 4.2.4).

Unless `initial` is given the source starts in its stationary law, so (X_t) is stationary.

References
----------
1. Cover & Thomas (2006), sec. 4.2.
2. J. R. Norris, *Markov Chains*, 1997 (stationary distributions, irreducibility).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from .._validate import (MAX_AXES, as_float, as_int, as_pmf, as_real, as_stochastic, as_symbols, check_size,
                         int_power)
from ..errors import DistributionError, InputError, ShapeError
from ..exact._stationary import check_states, stationary_distribution
from ..units import log_base
from .base import TokenSource, check_block, check_sample, cumulative, draw, rng_from

__all__ = ["MarkovSource"]


class MarkovSource(TokenSource):
    """Order-k Markov chain on symbols 0..K-1.

    Parameters
    ----------
    P : array_like, shape (K**k, K) or (K,)*k + (K,)
        Transition rows: ``P[c, j]`` = P(x_t = j | context c) (contexts numbered as in the module
        docstring), or the same as a (k+1)-axis array with axes (x_{t-k}, ..., x_{t-1}, x_t).
        Each row must sum to 1 (tolerance 1e-9).
    order : int, keyword-only
        1 <= k <= 64; K**k may not exceed 8192 contexts (the stationary law is solved exactly).
    initial : array_like, shape (K**k,) or (K,)*k, keyword-only, optional
        Law of the first k symbols; default the stationary law over contexts.

    Raises
    ------
    DistributionError
        Rows not stochastic, or the chain over contexts has more than one closed class
        (its stationary law is not unique).

    Examples
    --------
    Binary symmetric chain that flips with probability 0.1: entropy rate h(0.1).

    >>> round(MarkovSource([[0.9, 0.1], [0.1, 0.9]]).entropy_rate(), 6)
    0.468996
    """

    def __init__(self, P: Any, *, order: int = 1, initial: Any = None):
        func = "MarkovSource"
        k = as_int(order, "order", func, minimum=1, maximum=MAX_AXES)      # contexts are k-axis arrays
        arr = as_real(P, "P", func, error=DistributionError, what="an array of transition probabilities")
        K = arr.shape[-1] if arr.ndim else 0
        n_ctx = int_power(K, k)                      # math.inf when astronomically large
        if arr.ndim == k + 1 and k > 1:
            if any(d != K for d in arr.shape):
                raise ShapeError(f"The `P` parameter of {func} must have shape (K,)*(order+1) = "
                                 f"({K},)*{k + 1} in the tensor form. Got {arr.shape}.")
            arr = arr.reshape(K ** k, K)
        elif arr.ndim != 2 or arr.shape[0] != n_ctx or K == 0:
            need = f"({n_ctx}, {K})" if n_ctx < 2 ** 64 else "(K**order, K)"
            raise ShapeError(f"The `P` parameter of {func} must have shape (K**order, K) = {need} or "
                             f"(K,)*(order+1) for order {k}. Got shape {arr.shape}.")
        self.order = k
        self.alphabet_size = K
        self.transition = as_stochastic(arr, "P", func)                          # (K^k, K)
        self.stationary = stationary_distribution(self._context_chain(), "P", func)  # (K^k,)
        if initial is None:
            self.initial = self.stationary
        else:
            init = as_pmf(initial, "initial", func)
            if init.size != n_ctx or init.ndim not in (1, k):
                raise ShapeError(f"The `initial` parameter of {func} must have shape (K**order,) = "
                                 f"({K ** k},) or (K,)*order. Got shape {init.shape}.")
            self.initial = init.reshape(-1)
        with np.errstate(divide="ignore"):
            self._logP = np.log(self.transition)

    def _context_chain(self) -> sparse.csr_matrix:
        """Transition matrix between contexts: c -> (c * K + j) mod K^k with prob P[c, j]."""
        K, n_ctx = self.alphabet_size, self.transition.shape[0]
        rows = np.repeat(np.arange(n_ctx), K)
        cols = (rows * K + np.tile(np.arange(K), n_ctx)) % n_ctx
        return sparse.csr_matrix((self.transition.ravel(), (rows, cols)), shape=(n_ctx, n_ctx))

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(cls, K: int, order: int = 1, *, seed: Any = None, concentration: float = 1.0
               ) -> "MarkovSource":
        """Random chain whose rows are drawn iid from Dirichlet(concentration, ..., concentration).

        Small `concentration` gives peaked rows (low entropy rate), large gives near-uniform rows.
        """
        func = "MarkovSource.random"
        K = as_int(K, "K", func, minimum=1)
        order = as_int(order, "order", func, minimum=1, maximum=MAX_AXES)
        n_ctx = int_power(K, order)
        check_size(n_ctx * K, f"The `K` and `order` parameters of {func} (K**(order+1) = "
                              f"{K}^{order + 1} transition probabilities)", hint="Use a smaller K or order.")
        check_states(n_ctx, "order", func)
        a = as_float(concentration, "concentration", func, minimum=0.0, strict_min=True)
        rows = rng_from(seed, func).dirichlet(np.full(K, a), size=n_ctx)
        return cls(rows, order=order)

    # ------------------------------------------------------------------ ground truth
    def entropy_rate(self, *, base: float = 2) -> float:
        """Entropy rate -sum_c pi(c) sum_j P(j|c) log P(j|c) per symbol (exact), units of `base`."""
        lb = log_base(base, "MarkovSource.entropy_rate")
        plogp = np.where(self.transition > 0, self.transition * np.where(np.isfinite(self._logP),
                                                                          self._logP, 0.0), 0.0)
        return float(-self.stationary @ plogp.sum(axis=1)) / lb

    def block_pmf(self, n: int) -> np.ndarray:
        """Exact pmf of (X_1..X_n), shape (K,)*n, from `initial` and the transition rows."""
        K, k = self.alphabet_size, self.order
        n = check_block(n, K, "MarkovSource.block_pmf")
        block = self.initial.reshape((K,) * k)
        if n <= k:
            return block.sum(axis=tuple(range(n, k))) if n < k else block.copy()
        P = self.transition.reshape((K,) * (k + 1))
        for t in range(k, n):
            block = block[..., None] * P.reshape((1,) * (t - k) + P.shape)
        return block

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, *, seed: Any = None) -> np.ndarray:
        """Draw x_1..x_n (int64): the first k from `initial`, then the transition rows."""
        func = "MarkovSource.sample"
        n = check_sample(n, func, cells_per_symbol=2)                   # u and the symbols
        K, k = self.alphabet_size, self.order
        rng = rng_from(seed, func)
        u = rng.random(n + 1)
        ctx = draw(cumulative(self.initial), u[0])
        first = np.array(np.unravel_index(ctx, (K,) * k)).ravel()
        out = np.empty(n, dtype=np.int64)
        m = min(n, k)
        out[:m] = first[:m]
        cum = cumulative(self.transition)
        n_ctx = K ** k
        for t in range(k, n):
            j = draw(cum[ctx], u[t + 1])
            out[t] = j
            ctx = (ctx * K + j) % n_ctx
        return out

    # ------------------------------------------------------------------ predictive interface
    def start_state(self) -> tuple:
        """The empty history (the state is the tuple of the last <= k symbols)."""
        return ()

    def state_log_probs(self, state: tuple) -> np.ndarray:
        """log P(next | last k symbols); before k symbols, the conditional law of `initial`."""
        K, k = self.alphabet_size, self.order
        if len(state) == k:
            return self._logP[int(np.ravel_multi_index(state, (K,) * k))].copy()
        sub = self.initial.reshape((K,) * k)[tuple(state)]
        nxt = sub.sum(axis=tuple(range(1, sub.ndim))) if sub.ndim > 1 else sub
        total = nxt.sum()
        if total <= 0:
            raise InputError(f"The history {tuple(int(s) for s in state)} has probability 0 under the "
                             "`initial` law of this MarkovSource; the law after it is undefined.")
        with np.errstate(divide="ignore"):
            return np.log(nxt / total)

    def advance(self, state: tuple, symbol: int) -> tuple:
        """The last <= k symbols after appending `symbol`."""
        s = self._symbol(symbol, "MarkovSource.advance")
        return (tuple(state) + (s,))[-self.order:]

    def predictive_log_probs(self, x: Any) -> np.ndarray:
        """(n + 1, K) log p(x_{t+1} | x_1..x_t); rows t >= k are read off the transition rows."""
        K, k = self.alphabet_size, self.order
        x = as_symbols(x, "x", "MarkovSource.predictive_log_probs", alphabet_size=K, min_length=0)
        out = np.empty((x.size + 1, K))
        for t in range(min(k, x.size + 1)):
            out[t] = self.state_log_probs(tuple(int(s) for s in x[:t]))
        if x.size >= k:
            ctx = np.zeros(x.size - k + 1, dtype=np.int64)
            for i in range(k):                                   # ctx[t-k] = code of x[t-k:t]
                ctx = ctx * K + x[i:x.size - k + 1 + i]
            out[k:] = self._logP[ctx]
        return out

    def __repr__(self) -> str:
        return f"MarkovSource(K={self.alphabet_size}, order={self.order})"
