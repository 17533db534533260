"""Exact values beside estimates from samples, for every built-in finite-state source.

This is the foundation's self-check, shown by `seminfo demo` and in the report: each row gives a
quantity known exactly (or enclosed in a certified interval) and the estimate from `n` samples with
its standard error, so a reader sees at once whether the estimators recover the truth.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .results import Interval, Result

#: Most samples per source :func:`foundation_table` accepts (100,000 take about a second).
MAX_SAMPLES = 10_000_000


@dataclass(frozen=True)
class DemoRow(Result):
    """One line of the exact-versus-estimated table (all values in `units`)."""

    source: str
    quantity: str
    units: str
    exact: float            # exact value, or the midpoint of the certified interval
    exact_lower: float
    exact_upper: float
    estimate: float
    stderr: float
    method: str
    n: int

    @property
    def z(self) -> float:
        """Distance of the estimate from the exact value (or interval) in standard errors."""
        gap = max(self.exact_lower - self.estimate, self.estimate - self.exact_upper, 0.0)
        return gap / self.stderr if self.stderr > 0 else (0.0 if gap == 0 else math.inf)


def _exact(v) -> tuple[float, float, float]:
    if isinstance(v, Interval):
        return v.midpoint, v.lower, v.upper
    v = float(v)
    return v, v, v


def builtin_sources():
    """The demo's sources: name -> source object (small, with known truth)."""
    from .sources import FeedbackChannel, HiddenMarkovSource, IIDSource, MarkovSource
    return {
        "iid Zipf(8)": IIDSource(np.arange(1, 9) ** -1.0 / np.sum(np.arange(1, 9) ** -1.0)),
        "Markov-1 (4 symbols)": MarkovSource(np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1],
                                                       [0.05, 0.05, 0.8, 0.1], [0.3, 0.3, 0.2, 0.2]])),
        "Markov-2 (binary)": MarkovSource(np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.15, 0.85]]),
                                          order=2),
        "hidden Markov (2 states, 3 symbols)": HiddenMarkovSource(
            np.array([[0.95, 0.05], [0.1, 0.9]]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])),
        "feedback channel": FeedbackChannel.example(),
    }


@functools.lru_cache(maxsize=4)
def _feedback_rates(horizon: int):
    """The feedback channel's exact rates at `horizon` (seconds of enumeration, same every call)."""
    return builtin_sources()["feedback channel"].rates(horizon)


def foundation_table(n: int = 100_000, *, seed: int = 0, hmm_horizon: int = 10) -> list[DemoRow]:
    """Exact quantities and estimates from `n` samples of each built-in source (bits/symbol).

    `n` is at least 100 and at most :data:`MAX_SAMPLES` (time and memory grow linearly with it);
    `seed` is a non-negative integer (source i is sampled with ``seed + 1000 * i``).
    """
    from ._validate import as_int, as_seed
    from .estimators import estimate_directed_information, estimate_entropy_rate, transfer_entropy
    func = "foundation_table"
    n = as_int(n, "n", func, minimum=100, maximum=MAX_SAMPLES)
    seed = as_seed(seed, func)
    if seed is None or not isinstance(seed, int):
        from .errors import InputError
        raise InputError(f"The `seed` parameter of {func} must be a non-negative integer (each source "
                         f"is sampled with seed + 1000 * i). Got {seed!r}.")
    hmm_horizon = as_int(hmm_horizon, "hmm_horizon", func, minimum=1)
    rows: list[DemoRow] = []
    units = "bits/symbol"
    for i, (name, src) in enumerate(builtin_sources().items()):
        rng_seed = seed + 1000 * i
        if name == "feedback channel":
            x, y = src.sample(n, seed=rng_seed)
            rates = _feedback_rates(hmm_horizon)
            for quantity, exact, est in (
                ("directed information rate X->Y", rates.directed_information,
                 estimate_directed_information(x, y, method="ctw")),
                ("transfer entropy X->Y (k=1,l=1)", rates.transfer_entropy,
                 transfer_entropy(x, y, k=1, l=1)),
            ):
                e, lo, hi = _exact(exact)
                rows.append(DemoRow(name, quantity, units, e, lo, hi, est.value, est.stderr, est.method, est.n))
            continue
        x = src.sample(n, seed=rng_seed)
        if name.startswith("hidden"):
            # an order-3 plug-in estimates H(Y_t | Y_{t-3}^{t-1}) of the stationary process, which is
            # exactly the upper bound at horizon 4 and lies above the rate: compare it with that
            order = 3
            exact = src.entropy_rate_interval(horizon=order + 1).upper
            rate = src.entropy_rate_interval(horizon=hmm_horizon)
            quantity = (f"H(Y_t | Y_(t-3)^(t-1)) (order-3 plug-in; rate in "
                        f"[{rate.lower:.5f}, {rate.upper:.5f}])")
        else:
            order = getattr(src, "order", 0)
            exact = src.entropy_rate()
            quantity = f"entropy rate (order-{order} plug-in)"
        est = estimate_entropy_rate(x, order=order, alphabet_size=src.alphabet_size)
        e, lo, hi = _exact(exact)
        rows.append(DemoRow(name, quantity, units, e, lo, hi, est.value, est.stderr, est.method, est.n))
    return rows
