"""Pearl's ladder: a perfect predictor's Granger statistic is association, not intervention.

A structural causal model with a hidden confounder (theory §8)::

    Z_t = Z_{t-1} XOR F_t,            F_t ~ Bernoulli(flip)        (hidden binary Markov chain)
    X_t = Z_t XOR U_t,                U_t ~ Bernoulli(x_noise)
    Y_t = X_{t-1}            if E_t = 1,   E_t ~ Bernoulli(effect)  (the only arrow X -> Y)
          Z_{t-1} XOR V_t    otherwise,    V_t ~ Bernoulli(y_noise)

With ``effect = 0`` there is no arrow from X to Y at all, yet X_{t-1} is a noisy reading of Z_{t-1},
which drives Y_t: the transfer entropy TE_{X->Y} = I(Y_t; X_{t-1} | Y_{t-1}) (the Granger statistic
of the best predictor with one step of history, rung 1 of Pearl's ladder) is large, while the
interventional quantities (rung 2) vanish: the average causal effect
``P(Y_t=1 | do(X_{t-1}=1)) - P(Y_t=1 | do(X_{t-1}=0))`` and the causal information flow of Ay & Polani
(the transfer entropy when X is set by a fair coin, independently of Z) are exactly 0.

Everything is computed exactly by enumerating (Z_{t-2}, Z_{t-1}, X_{t-2}, X_{t-1}, Y_{t-1}, Y_t)
under the stationary law (Z's chain is symmetric, so its stationary law is uniform), and can be
checked on samples with :func:`seminfo.flow.granger`.

Sources
-------
1. J. Pearl, "Causality" (2nd ed., 2009), ch. 1 and 3 (the ladder, do-calculus, back-door).
2. N. Ay, D. Polani, "Information flows in causal networks", Adv. Complex Syst. 11 (2008).
3. C. W. J. Granger, Econometrica 37 (1969).

Left out: identification from data (no back-door set is observed here, which is the point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float, as_int, as_rng, check_size
from ..errors import InputError
from ..results import Result

__all__ = ["ConfoundedSCM", "LadderResult"]

_NAME = "ConfoundedSCM"


def _bern(p: float) -> np.ndarray:
    """Kernel k[a, b] = P(b | a) of b = a XOR Bernoulli(p)."""
    return np.array([[1 - p, p], [p, 1 - p]])


@dataclass(frozen=True)
class LadderResult(Result):
    """Rung 1 versus rung 2 for one model, in bits per step (TE) and probability units (effects)."""

    transfer_entropy_bits: float           # I(Y_t; X_{t-1} | Y_{t-1}), observational (Granger)
    intervened_transfer_entropy_bits: float  # same with X set by a fair coin (Ay-Polani flow)
    observational_difference: float       # P(Y_t=1 | X_{t-1}=1) - P(Y_t=1 | X_{t-1}=0)
    average_causal_effect: float          # P(Y_t=1 | do(X_{t-1}=1)) - P(Y_t=1 | do(X_{t-1}=0))
    units: str = "bits/step (TE); probability difference (effects)"


@dataclass(frozen=True)
class ConfoundedSCM:
    """The confounded structural causal model of the module docstring.

    Parameters
    ----------
    flip, x_noise, y_noise : float in [0, 1]
        Flip probability of the hidden chain and the two observation noises.
    effect : float in [0, 1]
        Probability that Y_t copies X_{t-1} (0: no causal arrow X -> Y).
    """

    flip: float = 0.05
    x_noise: float = 0.05
    y_noise: float = 0.05
    effect: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip", "x_noise", "y_noise", "effect"):
            as_float(getattr(self, name), name, _NAME, minimum=0.0, maximum=1.0)

    # -- exact law ------------------------------------------------------------------------------
    def _y_kernel(self) -> np.ndarray:
        """P(y_t | z_{t-1}, x_{t-1}) as an array (z, x, y)."""
        k = np.empty((2, 2, 2))
        for z in range(2):
            for x in range(2):
                k[z, x] = self.effect * np.eye(2)[x] + (1 - self.effect) * _bern(self.y_noise)[z]
        return k

    def joint(self, *, intervened: bool = False) -> np.ndarray:
        """Stationary pmf of (Z_{t-2}, Z_{t-1}, X_{t-2}, X_{t-1}, Y_{t-1}, Y_t), shape (2,)*6.

        With ``intervened=True`` X is set by a fair coin, independently of Z (do(X ~ Bernoulli(1/2))).
        """
        pz = np.array([0.5, 0.5])
        tz = _bern(self.flip)
        tx = np.full((2, 2), 0.5) if intervened else _bern(self.x_noise)
        ky = self._y_kernel()
        # Y_{t-1} depends on (Z_{t-2}, X_{t-2}), Y_t on (Z_{t-1}, X_{t-1})
        return np.einsum("a,ab,ac,bd,ace,bdf->abcdef", pz, tz, tx, tx, ky, ky)

    def transfer_entropy(self, *, intervened: bool = False, base: float = 2.0) -> float:
        """TE_{X->Y} = I(Y_t; X_{t-1} | Y_{t-1}) with one step of history, in bits per step."""
        from ..exact import conditional_mutual_information
        p = self.joint(intervened=intervened).sum(axis=(0, 1, 2))          # (X_{t-1}, Y_{t-1}, Y_t)
        return float(conditional_mutual_information(np.transpose(p, (0, 2, 1)), base=base))

    def _p_y1_given_x(self, *, intervened: bool) -> np.ndarray:
        p = self.joint(intervened=intervened).sum(axis=(0, 1, 2, 4))       # (X_{t-1}, Y_t)
        return p[:, 1] / p.sum(axis=1)

    def observational_difference(self) -> float:
        """P(Y_t=1 | X_{t-1}=1) - P(Y_t=1 | X_{t-1}=0): what a predictor sees (rung 1)."""
        q = self._p_y1_given_x(intervened=False)
        return float(q[1] - q[0])

    def average_causal_effect(self) -> float:
        """P(Y_t=1 | do(X_{t-1}=1)) - P(Y_t=1 | do(X_{t-1}=0)) (rung 2). Equals `effect`."""
        q = self._p_y1_given_x(intervened=True)
        return float(q[1] - q[0])

    def ladder(self, *, base: float = 2.0) -> LadderResult:
        """All four exact numbers side by side."""
        return LadderResult(self.transfer_entropy(base=base),
                            self.transfer_entropy(intervened=True, base=base),
                            self.observational_difference(), self.average_causal_effect())

    # -- samples --------------------------------------------------------------------------------
    def sample(self, n: int, *, seed=None, intervened: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw (x, y, z), each int64 of length `n`, from the stationary SCM (or under do(X ~ coin))."""
        func = f"{_NAME}.sample"
        n = as_int(n, "n", func, minimum=2)
        check_size(6 * n, "n", func)                  # about six (n,) arrays: draws, x, y, z
        if not isinstance(intervened, (bool, np.bool_)):
            raise InputError(f"The `intervened` parameter of {func} must be True or False. "
                             f"Got {intervened!r}.")
        rng = as_rng(seed, func)
        flips = (rng.random(n) < self.flip).astype(np.int64)
        flips[0] = rng.integers(2)                                # stationary start: uniform
        z = np.cumsum(flips) % 2                                  # Z_t = Z_{t-1} XOR F_t
        if intervened:
            x = rng.integers(0, 2, n)
        else:
            x = z ^ (rng.random(n) < self.x_noise)
        y = np.empty(n, dtype=np.int64)
        y[0] = rng.integers(2)
        copy = rng.random(n - 1) < self.effect
        y[1:] = np.where(copy, x[:-1], z[:-1] ^ (rng.random(n - 1) < self.y_noise))
        return x.astype(np.int64), y, z
