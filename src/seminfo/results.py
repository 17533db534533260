"""Result objects shared across seminfo.

Estimators return an :class:`Estimate` (a value with its standard error and units); solvers
return their own frozen dataclasses built on :class:`Result`. Every result can be turned into a
plain dict (``as_dict``) for JSON output.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _plain(dataclasses.asdict(v))
    return v


@dataclass(frozen=True)
class Result:
    """Base class: a frozen record with a JSON-friendly ``as_dict``."""

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as plain python types (arrays become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Estimate(Result):
    """A value estimated from data, with its uncertainty.

    Attributes
    ----------
    value : float
        The point estimate, in `units`.
    stderr : float
        Standard error of `value` (same units). ``nan`` only when it cannot be computed, with the
        reason in `notes`.
    units : str
        For example ``"bits/symbol"``, ``"bits/token"``, ``"bits"``.
    n : int
        Number of samples (symbols, tokens) the estimate used.
    method : str
        How it was computed, e.g. ``"plugin"``, ``"miller-madow"``, ``"ctw"``.
    pvalue : float or None
        p-value of a significance test against the null of no dependence, when one was run.
    bias : float or None
        Estimated bias that was subtracted (e.g. Miller-Madow), in `units`; reported, not hidden.
    extra : dict
        Method-specific diagnostics.
    """

    value: float
    stderr: float
    units: str
    n: int
    method: str
    pvalue: float | None = None
    bias: float | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def confidence_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Normal-approximation interval ``value ± z * stderr`` at confidence `level`."""
        if not 0 < level < 1:
            from .errors import InputError
            raise InputError(f"The `level` parameter of confidence_interval must be in (0, 1). "
                             f"Got {level}.")
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return (self.value - z * self.stderr, self.value + z * self.stderr)

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        s = f"{self.value:.6g} ± {self.stderr:.2g} {self.units} ({self.method}, n={self.n}"
        if self.pvalue is not None:
            s += f", p={self.pvalue:.3g}"
        return s + ")"


@dataclass(frozen=True)
class Interval(Result):
    """A certified enclosure ``lower <= true value <= upper`` in `units`."""

    lower: float
    upper: float
    units: str
    method: str = ""
    notes: str = ""

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def midpoint(self) -> float:
        return 0.5 * (self.lower + self.upper)

    def __contains__(self, v: float) -> bool:
        return self.lower <= v <= self.upper

    def __str__(self) -> str:
        return f"[{self.lower:.9g}, {self.upper:.9g}] {self.units} (width {self.width:.2g})"


def mean_estimate(samples: np.ndarray, units: str, method: str, **kw: Any) -> Estimate:
    """Estimate built from iid per-sample contributions: their mean and standard error of the mean."""
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.size
    se = float(samples.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Estimate(value=float(samples.mean()), stderr=se, units=units, n=n, method=method, **kw)
