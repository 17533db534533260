"""Input validation shared by every public function.

Each checker takes the value, the parameter's name and the public function's name, and either returns
a normalised value (a float64 array, an int64 array, a python int) or raises a subclass of
:class:`seminfo.errors.InputError` whose message names the parameter, the rule, what was received
and how to fix it. Nothing is normalised, clipped or repaired silently.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import AlphabetError, DistributionError, InputError, ShapeError

#: Tolerance on the total mass of a probability distribution.
PMF_ATOL = 1e-9


def _where(param: str, func: str) -> str:
    return f"The `{param}` parameter of {func}" if func else f"The `{param}` parameter"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _real_array(a: Any, param: str, func: str, error: type[InputError], what: str, *,
                copy: bool = False) -> np.ndarray:
    """Convert to float64, refusing what numpy would convert lossily or by parsing: complex numbers
    (numpy drops the imaginary part with only a warning), strings and bytes. A float64 array comes
    back as itself unless `copy`."""
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise error(f"{_where(param, func)} must be {what}. Got {_describe(a)} ({exc}).") from None
    if raw.dtype.kind == "O" and raw.size:
        kinds = {np.asarray(v).dtype.kind for v in raw.flat}
        kind = next((k for k in "cUS" if k in kinds), "O")
    else:
        kind = raw.dtype.kind
    if kind in "cUSV":
        name = {"c": "complex", "U": "text", "S": "bytes", "V": "structured"}[kind]
        raise error(f"{_where(param, func)} must be {what} (real numbers). Got {name} values: "
                    f"{_describe(a)}.")
    try:
        return raw.astype(np.float64, copy=copy)
    except (TypeError, ValueError) as exc:
        raise error(f"{_where(param, func)} must be {what}. Got {_describe(a)} ({exc}).") from None


def as_pmf(p: Any, param: str = "p", func: str = "", *, ndim: int | None = None,
           atol: float = PMF_ATOL) -> np.ndarray:
    """Return `p` as a float64 array after checking it is a normalised pmf.

    Raises DistributionError for NaN/inf, negative entries or a total mass farther than `atol`
    from 1, and ShapeError for an empty array or the wrong number of axes.
    """
    arr = _real_array(p, param, func, DistributionError, "an array of probabilities")
    if arr.ndim == 0 or arr.size == 0:
        raise ShapeError(f"{_where(param, func)} must be a non-empty array of probabilities. "
                         f"Got shape {arr.shape}.")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{_where(param, func)} must have {ndim} axes. Got {arr.ndim} axes "
                         f"(shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise DistributionError(f"{_where(param, func)} must contain only finite numbers. "
                                f"Got {int(np.sum(~np.isfinite(arr)))} NaN or infinite entries.")
    if np.any(arr < 0):
        raise DistributionError(f"{_where(param, func)} must be non-negative. Got a minimum "
                                f"entry of {arr.min():.6g}.")
    total = float(arr.sum())
    if abs(total - 1.0) > atol:
        raise DistributionError(
            f"{_where(param, func)} must sum to 1 (tolerance {atol:g}). Got a sum of {total:.12g}; "
            "divide by the sum if the array holds unnormalised weights.")
    return arr


def as_stochastic(w: Any, param: str = "W", func: str = "", *, atol: float = PMF_ATOL) -> np.ndarray:
    """Return a row-stochastic matrix (each row a pmf over the last axis) as float64."""
    arr = _real_array(w, param, func, DistributionError, "a row-stochastic matrix", copy=True)
    if arr.ndim != 2 or arr.size == 0:
        raise ShapeError(f"{_where(param, func)} must be a non-empty 2-D array with rows summing "
                         f"to 1. Got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise DistributionError(f"{_where(param, func)} must contain only finite numbers.")
    if np.any(arr < 0):
        raise DistributionError(f"{_where(param, func)} must be non-negative. Got a minimum "
                                f"entry of {arr.min():.6g}.")
    sums = arr.sum(axis=-1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        raise DistributionError(f"{_where(param, func)} must have rows that sum to 1 (tolerance "
                                f"{atol:g}). Row {bad[0]} sums to {sums[bad[0]]:.12g}.")
    return arr


def as_finite(a: Any, param: str, func: str = "", *, ndim: int | None = None) -> np.ndarray:
    """Return `a` as a finite float64 array (optionally with exactly `ndim` axes)."""
    arr = _real_array(a, param, func, InputError, "numeric")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{_where(param, func)} must have {ndim} axes. Got shape {arr.shape}.")
    if arr.size == 0:
        raise ShapeError(f"{_where(param, func)} must not be empty.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{_where(param, func)} must contain only finite numbers. Got "
                         f"{int(np.sum(~np.isfinite(arr)))} NaN or infinite entries.")
    return arr


def as_columns(a: Any, param: str, func: str = "") -> np.ndarray:
    """Return samples as a finite float64 (n, d) array: one row per sample (1-D input gives d = 1)."""
    arr = as_finite(a, param, func)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(f"{_where(param, func)} must be 1-D (n,) or 2-D (n, d), one row per sample. "
                         f"Got shape {arr.shape}.")
    return arr


def as_symbols(x: Any, param: str = "x", func: str = "", *, alphabet_size: int | None = None,
               min_length: int = 1) -> np.ndarray:
    """Return an integer sequence as a 1-D int64 array of symbols in ``range(alphabet_size)``.

    Raises ShapeError if it is not 1-D or shorter than `min_length`, InputError for non-integers,
    and AlphabetError for negative symbols or symbols >= `alphabet_size`.
    """
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ShapeError(f"{_where(param, func)} must be a 1-D sequence of integer symbols. Got "
                         f"shape {arr.shape}.")
    if arr.size < min_length:
        raise ShapeError(f"{_where(param, func)} must hold at least {min_length} symbols. Got "
                         f"{arr.size}." + (" The sequence is empty." if arr.size == 0 else ""))
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError(f"{_where(param, func)} must hold integer symbols. Got non-integer "
                             "values; map your data to integers 0..K-1 first.")
    elif arr.dtype.kind not in "iub":
        raise InputError(f"{_where(param, func)} must hold integer symbols. Got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise AlphabetError(f"{_where(param, func)} must hold symbols >= 0. Got {arr.min()}.")
    if alphabet_size is not None and arr.size and arr.max() >= alphabet_size:
        raise AlphabetError(f"{_where(param, func)} must hold symbols in 0..{alphabet_size - 1} (the "
                            f"declared alphabet size is {alphabet_size}). Got {arr.max()}.")
    return arr


def same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str], func: str = "") -> None:
    """Raise ShapeError unless two sequences have equal length."""
    if len(a) != len(b):
        raise ShapeError(f"The `{names[0]}` and `{names[1]}` parameters of {func} must have the same "
                         f"length. Got {len(a)} and {len(b)}.")


def as_int(v: Any, param: str, func: str = "", *, minimum: int | None = None,
           maximum: int | None = None) -> int:
    """Return `v` as a python int within [minimum, maximum]."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise InputError(f"{_where(param, func)} must be an integer. Got {_describe(v)}.")
    v = int(v)
    if minimum is not None and v < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"{_where(param, func)} must be {rule}. Got {v}.")
    if maximum is not None and v > maximum:
        raise InputError(f"{_where(param, func)} must be an integer <= {maximum}. Got {v}.")
    return v


def as_float(v: Any, param: str, func: str = "", *, minimum: float | None = None,
             maximum: float | None = None, strict_min: bool = False) -> float:
    """Return `v` as a finite python float within the given bounds."""
    if isinstance(v, (str, bytes, bool, complex, np.bool_, np.complexfloating)):
        raise InputError(f"{_where(param, func)} must be a real number. Got {_describe(v)}.")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{_where(param, func)} must be a number. Got {_describe(v)}.") from None
    if not math.isfinite(f):
        raise InputError(f"{_where(param, func)} must be finite. Got {f}.")
    if minimum is not None and (f < minimum or (strict_min and f == minimum)):
        op = ">" if strict_min else ">="
        raise InputError(f"{_where(param, func)} must be {op} {minimum}. Got {f}.")
    if maximum is not None and f > maximum:
        raise InputError(f"{_where(param, func)} must be <= {maximum}. Got {f}.")
    return f


def one_of(v: Any, allowed: tuple, param: str, func: str = "") -> Any:
    """Return `v` if it is one of `allowed`, else raise InputError listing the choices."""
    if v not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise InputError(f"{_where(param, func)} must be one of {choices}. Got {_describe(v)}.")
    return v


def as_seed(seed: Any, func: str = "", param: str = "seed") -> Any:
    """A seed numpy accepts: None, a non-negative int (returned as int) or a numpy Generator.

    The one place seeds are checked, so that ``seed=-1`` gives an InputError, not numpy's ValueError.
    """
    import numpy as np
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise InputError(f"The `{param}` parameter of {func} must be None, a non-negative integer or a numpy "
                     f"Generator. Got {seed!r}.")
