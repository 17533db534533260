"""Result objects shared across seminfo.

Estimators return an :class:`Estimate` (a value with its standard error and units); solvers
return their own frozen dataclasses built on :class:`Result`. Every result can be turned into a
plain dict (``as_dict``) for JSON output.

One name for one idea: an estimate is ``.value``/``.stderr``; a certified enclosure is
``.lower``/``.upper`` (with ``.width``), always of the result's headline quantity and in the
result's ``units``. A solver result that carries one derives from :class:`CertifiedResult`, which
adds ``.width`` and ``.interval`` (the enclosure as an :class:`Interval`). Renamed attributes stay
readable for one release through :func:`deprecated_alias`, which warns with a DeprecationWarning.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
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


@dataclass(frozen=True)
class CertifiedResult(Result):
    """Base class of solver results with a certified enclosure ``lower <= headline <= upper``.

    Subclasses declare the fields ``lower``, ``upper``, ``units`` and ``method``; ``lower`` and
    ``upper`` enclose the result's headline quantity (``rate``, ``capacity``, ``distortion``...)
    in `units`.
    """

    @property
    def width(self) -> Any:
        """``upper - lower``, in `units` (an array for curves)."""
        return self.upper - self.lower                         # type: ignore[attr-defined]

    @property
    def interval(self) -> Interval:
        """The enclosure as an :class:`Interval` (scalar results only)."""
        return Interval(lower=float(self.lower), upper=float(self.upper),  # type: ignore[attr-defined]
                        units=self.units, method=self.method)  # type: ignore[attr-defined]


def deprecated_alias(new: str, old: str) -> property:
    """A read-only property `old` that returns attribute `new` with a DeprecationWarning.

    Used to keep a renamed result attribute working for one release::

        rate_lower = deprecated_alias("lower", "rate_lower")
    """
    def get(self: Any) -> Any:
        warnings.warn(f"`{type(self).__name__}.{old}` is deprecated and will be removed in the next "
                      f"release; use `.{new}` instead.", DeprecationWarning, stacklevel=2)
        return getattr(self, new)
    return property(get, doc=f"Deprecated alias of `{new}`.")


def mean_estimate(samples: np.ndarray, units: str, method: str, **kw: Any) -> Estimate:
    """Estimate built from iid per-sample contributions: their mean and standard error of the mean."""
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.size
    se = float(samples.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Estimate(value=float(samples.mean()), stderr=se, units=units, n=n, method=method, **kw)


class UnitsStr(str):
    """A result's ``units`` (a str) that still answers ``units[field]`` for one release.

    ``units`` used to be a dict of per-field units; it is now the general unit (a str) and the map
    is ``field_units``. Indexing with a field name looks the field up in that map and warns.

    >>> u = UnitsStr("bits", {"bits_per_byte": "bits/byte"})
    >>> u == "bits", str(u).upper()
    (True, 'BITS')
    """

    def __new__(cls, value: str = "", field_units: dict | None = None):
        obj = super().__new__(cls, value)
        obj._field_units = dict(field_units or {})
        return obj

    def _warn(self) -> None:
        warnings.warn("`units` is now a str (the general unit of the result); the per-field map is "
                      "`field_units`. Indexing `units` by field name will stop working in the next "
                      "release: use `result.field_units[name]`.", DeprecationWarning, stacklevel=3)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            self._warn()
            return self._field_units[key]
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: ``field_units.get(key, default)``."""
        self._warn()
        return self._field_units.get(key, default)

    def keys(self):
        """Deprecated: ``field_units.keys()``."""
        self._warn()
        return self._field_units.keys()

    def items(self):
        """Deprecated: ``field_units.items()``."""
        self._warn()
        return self._field_units.items()

    def __reduce__(self):
        return (UnitsStr, (str(self), self._field_units))


def attach_units(result: Any) -> None:
    """__post_init__ of a frozen result with ``units: str`` and ``field_units: dict``: accept the old
    dict form of ``units`` (with a DeprecationWarning) and make ``units`` a :class:`UnitsStr`."""
    units = result.units
    if isinstance(units, dict):
        warnings.warn(f"Passing a dict as `units` to {type(result).__name__} is deprecated: pass it as "
                      "`field_units` (`units` is now a str).", DeprecationWarning, stacklevel=4)
        object.__setattr__(result, "field_units", {**result.field_units, **units})
        units = "bits"
    if not isinstance(units, str):
        from .errors import InputError
        raise InputError(f"The `units` parameter of {type(result).__name__} must be a str. Got "
                         f"{type(units).__name__}.")
    object.__setattr__(result, "units", UnitsStr(units, result.field_units))


class FieldUnits:
    """Mixin for frozen result dataclasses whose figures carry several units: ``units`` is a str (the
    general unit) and ``field_units`` maps each field to its unit. Accepts the old dict form of
    ``units`` for one release (see :func:`attach_units`); ``as_dict`` writes ``units`` as a plain str."""

    def __post_init__(self) -> None:
        attach_units(self)

    def as_dict(self) -> dict[str, Any]:
        """All fields as plain python types; ``units`` is a str and ``field_units`` a dict."""
        out = super().as_dict()  # type: ignore[misc]
        out["units"] = str(self.units)  # type: ignore[attr-defined]
        return out
