"""Independent, identically distributed token source: x_t ~ p for every t.

The simplest ground truth: the entropy rate is H(p) exactly and the predictive law ignores the past.

References
----------
1. Cover & Thomas (2006), sec. 2.1 and 3.1 (AEP).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_pmf, as_symbols
from ..exact import entropy
from .base import TokenSource, check_block, check_sample, cumulative, rng_from

__all__ = ["IIDSource"]


class IIDSource(TokenSource):
    """iid source with P(X_t = a) = p[a].

    Parameters
    ----------
    p : array_like, shape (K,)
        Symbol pmf (non-negative, sums to 1 within 1e-9).

    Examples
    --------
    >>> IIDSource([0.5, 0.25, 0.25]).entropy_rate()
    1.5
    >>> IIDSource([0.5, 0.25, 0.25]).entropy_rate_interval().width
    0.0
    """

    def __init__(self, p: Any):
        self.p = as_pmf(p, "p", "IIDSource", ndim=1)
        self.alphabet_size = self.p.size
        with np.errstate(divide="ignore"):
            self._logp = np.log(self.p)

    def sample(self, n: int, *, seed: Any = None) -> np.ndarray:
        """Draw n iid symbols (int64)."""
        n = check_sample(n, "IIDSource.sample", cells_per_symbol=2)        # u and the symbols
        u = rng_from(seed, "IIDSource.sample").random(n)
        return np.searchsorted(cumulative(self.p), u, side="right").astype(np.int64)

    def entropy_rate(self, *, base: float = 2) -> float:
        """Entropy rate H(p) per symbol (exact), in units of `base`."""
        return entropy(self.p, base=base)

    def block_pmf(self, n: int) -> np.ndarray:
        """Product pmf p(x_1)...p(x_n), shape (K,)*n."""
        n = check_block(n, self.alphabet_size, "IIDSource.block_pmf")
        out = self.p
        for _ in range(n - 1):
            out = np.multiply.outer(out, self.p)
        return out

    def start_state(self) -> tuple:
        """The empty tuple: an iid source has no state."""
        return ()

    def state_log_probs(self, state: Any) -> np.ndarray:
        """log p (the same in every state)."""
        return self._logp.copy()

    def advance(self, state: Any, symbol: int) -> tuple:
        """Check the symbol and return the (unchanged) empty state."""
        self._symbol(symbol, "IIDSource.advance")
        return ()

    def predictive_log_probs(self, x: Any) -> np.ndarray:
        """(n + 1, K) rows all equal to log p."""
        x = as_symbols(x, "x", "IIDSource.predictive_log_probs", alphabet_size=self.alphabet_size,
                       min_length=0)
        return np.tile(self._logp, (x.size + 1, 1))

    def __repr__(self) -> str:
        return f"IIDSource(K={self.alphabet_size})"

