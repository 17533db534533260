"""Input validation shared by every public function.

Each checker takes the value, the parameter's name and the public function's name, and either returns
a normalised value (a float64 array, an int64 array, a python int) or raises a subclass of
:class:`seminfo.errors.InputError` whose message names the parameter, the rule, what was received
and how to fix it. Nothing is normalised, clipped or repaired silently.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
from typing import Any

import numpy as np

from .errors import AlphabetError, DistributionError, InputError, ShapeError

#: Tolerance on the total mass of a probability distribution.
PMF_ATOL = 1e-9

#: Largest number of cells (array entries) one call may allocate or enumerate: 2**28 float64
#: numbers are 2 GiB. Every size check (:func:`check_size`) refuses a call above it, before allocating.
MAX_CELLS = 2 ** 28

#: Largest number of surrogates (or other repetitions of a whole statistic) one call may run; a
#: p-value on a grid of 1e-6 is finer than any test needs.
MAX_SURROGATES = 10 ** 6

#: Most axes a numpy array can have (a pmf over more variables cannot be built).
MAX_AXES = 64


def _where(param: str, func: str) -> str:
    """The phrase that names an input: "The `p` parameter of entropy", or on the command line (a
    `func` such as "seminfo demo") "The `-n` option of seminfo demo" / "The `FILE` argument of ..."."""
    if func.startswith("seminfo "):
        return f"The `{param}` {'option' if param.startswith('-') else 'argument'} of {func}"
    return f"The `{param}` parameter of {func}" if func else f"The `{param}` parameter"


def _describe(value: Any) -> str:
    """A short one-line repr of `value` for messages (arrays' line breaks collapsed)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


_KIND_NAMES = {"b": "boolean", "c": "complex", "U": "text", "S": "bytes", "V": "structured",
               "O": "object", "M": "datetime", "m": "timedelta"}


def _real_array(a: Any, param: str, func: str, error: type[InputError], what: str, *,
                copy: bool = False) -> np.ndarray:
    """Convert to float64, accepting only real numbers (integer or floating dtypes).

    Refused with one rule for every array validator: booleans (True is not a probability),
    complex numbers (numpy would drop the imaginary part with only a warning), text and bytes
    (numpy would parse them), and object or structured arrays. A float64 array comes back as
    itself unless `copy`.
    """
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError):
        raise error(f"{_where(param, func)} must be {what}: a rectangular array of real numbers. Got "
                    f"{_describe(a)}, whose rows differ in length.") from None
    kind = raw.dtype.kind
    if kind not in "iuf":
        name = _KIND_NAMES.get(kind, str(raw.dtype))
        raise error(f"{_where(param, func)} must be {what} (real numbers). Got {name} values: "
                    f"{_describe(a)}.")
    return raw.astype(np.float64, copy=copy)


def as_real(a: Any, param: str, func: str = "", *, error: type[InputError] = InputError,
            what: str = "a numeric array") -> np.ndarray:
    """Return `a` as a float64 array of any shape, refusing booleans, complex numbers, text, bytes
    and object arrays (the rule every array validator here applies). Values are not checked."""
    return _real_array(a, param, func, error, what)


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
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"{_where(param, func)} must be a 1-D sequence of integer symbols. Got "
                         f"{_describe(x)} ({exc}).") from None
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
        if arr.size and np.abs(arr).max() >= 2.0 ** 62:
            raise AlphabetError(f"{_where(param, func)} must hold symbols below 2**62. Got "
                                f"{np.abs(arr).max():.6g}.")
    elif arr.dtype.kind == "u" and arr.size and arr.max() >= 2 ** 62:
        raise AlphabetError(f"{_where(param, func)} must hold symbols below 2**62. Got {arr.max()}.")
    elif arr.dtype.kind not in "iu":
        name = _KIND_NAMES.get(arr.dtype.kind, str(arr.dtype))
        hint = " (convert booleans with .astype(int))" if arr.dtype.kind == "b" else ""
        raise InputError(f"{_where(param, func)} must hold integer symbols{hint}. Got {name} values "
                         f"(dtype {arr.dtype}).")
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


def as_token_ids(ids: Any, vocab_size: int, func: str, *, param: str = "ids",
                 range_error: type[InputError] = InputError, integral_floats: bool = False) -> np.ndarray:
    """A 2-D (batch, tokens) int64 array of token ids in ``0..vocab_size-1`` (the one check every token
    model's entry points share). ShapeError for another number of axes, InputError for non-integer
    entries (floats holding whole numbers pass when `integral_floats`), `range_error` for ids outside
    the vocabulary."""
    from .errors import ShapeError
    arr = np.asarray(ids)
    if arr.ndim != 2:
        raise ShapeError(f"The `{param}` parameter of {func} must be a 2-D (batch, time) array of "
                         f"token ids. Got shape {arr.shape}; use ids[None] for one sequence.")
    if arr.size and arr.dtype.kind not in "iu":
        whole = (integral_floats and arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr)))
                 and not np.any(arr != np.round(arr)))
        if not whole:
            raise InputError(f"The `{param}` parameter of {func} must hold integer token ids. Got dtype "
                             f"{arr.dtype}.")
    arr = arr.astype(np.int64)
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise range_error(f"The `{param}` parameter of {func} must hold token ids in 0..{vocab_size - 1}. "
                          f"Got {bad}.")
    return arr


def as_bool(v: Any, param: str, func: str = "") -> bool:
    """`v` when it is True or False (numpy bools included); anything else is an InputError."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise InputError(f"The `{param}` parameter of {func} must be True or False. Got {v!r}.")


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
    """Return the entry of `allowed` equal to `v`, else raise InputError listing the choices.

    Types must agree: ``True`` does not pass for ``1`` nor ``1.0`` for ``1`` (numpy integers do
    pass for ints), and an array is refused rather than compared element by element.
    """
    def kind(a: Any) -> str:
        if isinstance(a, (bool, np.bool_)):
            return "bool"
        if isinstance(a, (int, np.integer)):
            return "int"
        if isinstance(a, str):
            return "str"
        return type(a).__name__

    for a in allowed:
        if kind(v) == kind(a) and not isinstance(v, np.ndarray):
            try:
                if bool(v == a):
                    return a
            except (TypeError, ValueError):
                break
    choices = ", ".join(repr(a) for a in allowed)
    raise InputError(f"{_where(param, func)} must be one of {choices}. Got {_describe(v)}.")


def int_power(base: int, exp: int) -> int | float:
    """``base ** exp`` for non-negative ints, or ``math.inf`` when it would exceed 2**200.

    Sizes such as K**n are checked with this before anything is built, so that ``n = 2**80``
    costs nothing (the exact power would be a number with 10**24 digits).
    """
    base, exp = int(base), int(exp)
    if base <= 1 or exp <= 0:
        return base ** exp if exp >= 0 else 0
    if exp * math.log2(base) > 200:
        return math.inf
    return base ** exp


def check_size(cells: int | float, what: str, func: str = "", *, limit: int = MAX_CELLS,
               unit: str = "cells", hint: str = "") -> None:
    """Refuse a call whose arrays (or enumeration) would hold more than `limit` cells.

    Call it with the size the call will need *before* allocating anything. `what` names the
    parameter (``"n"``) or, if it contains a space, is used as is (``"The window (k, l)"``).
    The message names the parameter, the size it would need, the limit and what to change:

    >>> check_size(2 * 10 ** 12, "n", "IIDSource.sample")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `n` parameter of IIDSource.sample would need 2000000000000 cells, \
more than the limit of 268435456 (2**28, 2 GiB of float64). Use a smaller `n`.
    """
    if cells <= limit:
        return
    who = what if " " in what else _where(what, func)
    need = "more than 2**200" if math.isinf(cells) else (
        f"{cells:.3g}" if isinstance(cells, float) or cells >= 10 ** 15 else str(int(cells)))
    limit_txt = str(limit)
    if unit == "cells" and limit == MAX_CELLS:
        limit_txt += f" (2**28, {_bytes(limit * 8)} of float64)"
    fix = hint or (f"Use a smaller `{what}`." if " " not in what else "Use smaller sizes.")
    raise InputError(f"{who} would need {need} {unit}, more than the limit of {limit_txt}. {fix}")


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} TiB"


def as_rng(seed: Any, func: str = "", param: str = "seed") -> np.random.Generator:
    """A numpy Generator from a seed checked by :func:`as_seed` (a Generator is used as is).

    The one way seminfo turns a `seed` argument into random numbers.
    """
    seed = as_seed(seed, func, param)
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def as_seed(seed: Any, func: str = "", param: str = "seed") -> Any:
    """A seed numpy accepts: None, a non-negative int (returned as int) or a numpy Generator.

    The one place seeds are checked, so that ``seed=-1`` gives an InputError, not numpy's ValueError.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise InputError(f"The `{param}` parameter of {func} must be None, a non-negative integer or a numpy "
                     f"Generator. Got {seed!r}.")


# ---------------------------------------------------------------------------------------------------
# text, output paths and devices: one implementation each, shared by the library and the CLI. Each takes
# `subject`, the phrase that names the input ("The `path` parameter of write_csv" in the library,
# "The `--out` option of seminfo demo" on the command line).

#: Devices a model may be put on, as listed in messages.
DEVICES = "auto, cpu, cuda, cuda:N (N a GPU index) or mps"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def utf8_bytes(text: str, param: str, func: str) -> bytes:
    """UTF-8 bytes of `text`; InputError (not UnicodeEncodeError) for a lone surrogate.

    >>> utf8_bytes("é", "text", "f")
    b'\\xc3\\xa9'
    >>> utf8_bytes("a\\ud800", "text", "f")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `text` parameter of f holds the lone surrogate U+D800 at character 1, ...
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{_where(param, func)} holds the lone surrogate U+{ord(text[exc.start]):04X} at "
                         f"character {exc.start}, which has no UTF-8 encoding. Pass valid text, or the "
                         "bytes themselves.") from None


def as_bytes(data: Any, param: str, func: str) -> bytes:
    """`data` as bytes: a str is encoded as UTF-8 (see :func:`utf8_bytes`), bytes-like objects are
    copied, anything else is an InputError.

    >>> as_bytes("é", "text", "f"), as_bytes(bytearray(b"ab"), "text", "f")
    (b'\\xc3\\xa9', b'ab')
    """
    if isinstance(data, str):
        return utf8_bytes(data, param, func)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise InputError(f"{_where(param, func)} must be bytes or str (encoded as UTF-8). Got "
                     f"{type(data).__name__}.")


def as_path(path: Any, subject: str) -> pathlib.Path:
    """`path` (str or os.PathLike, non-empty, no NUL byte) as a Path."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{subject} must be a path (str or pathlib.Path). Got {_describe(path)}.")
    text = os.fspath(path)
    if not text or "\x00" in str(text):
        raise InputError(f"{subject} must be a path. Got {text!r}.")
    return pathlib.Path(path)


def check_output_path(path: Any, subject: str, *, folder: bool = False) -> pathlib.Path:
    """Check, before any work, that `path` can be written; returns it as a Path.

    The folder that will hold it must exist and be writable; a file target must not be a folder (an
    existing file is replaced); a folder target (``folder=True``) must not be a file (it is created
    when missing, in an existing parent).

    >>> check_output_path("no/such/folder/out.json", "The `path` parameter of f")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `path` parameter of f names a file in 'no/such/folder', which does not exist. Create the folder first.
    """
    p = as_path(path, subject)
    if folder:
        if p.exists() and not p.is_dir():
            raise InputError(f"{subject} names {str(p)!r}, which is a file; give a folder (it is created "
                             "when missing).")
        if p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                raise InputError(f"{subject} names the folder {str(p)!r}, which is not writable.")
            return p
    elif p.is_dir():
        raise InputError(f"{subject} names a folder, {str(p)!r}; give a file path.")
    parent = p.parent
    what = "a folder" if folder else "a file"
    if not parent.exists():
        raise InputError(f"{subject} names {what} in {str(parent)!r}, which does not exist. "
                         "Create the folder first.")
    if not parent.is_dir():
        raise InputError(f"{subject} names {what} in {str(parent)!r}, which is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{subject} names {what} in {str(parent)!r}, which is not writable.")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{subject} names {str(p)!r}, which exists and is not writable.")
    return p


def check_device(device: Any, subject: str, *, available: bool = True) -> str:
    """A device string: its form (no torch import), then, with `available` and for cuda/mps only, that
    this machine has it (torch is imported for that). Returns the device (None means "auto").

    >>> check_device("cuda:1", "The `device` parameter of f", available=False)
    'cuda:1'
    >>> check_device("meta", "The `device` parameter of f")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `device` parameter of f must be one of auto, cpu, cuda, cuda:N (N a GPU index) or mps. Got 'meta'.
    """
    if device is None:
        return "auto"
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise InputError(f"{subject} must be one of {DEVICES}. Got {_describe(device)}.")
    if not available or device in ("auto", "cpu"):
        return device
    try:
        import torch                                  # only for an explicit GPU request
    except ImportError:
        raise InputError(f"{subject} asks for {device!r}, which needs torch (not installed here). "
                         "Use cpu.") from None
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError(f"{subject} asks for 'mps', which this machine does not have. Use cpu or auto.")
        return device
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= n:
        have = "no GPU" if n == 0 else f"{n} GPU(s), cuda:0 to cuda:{n - 1}"
        raise InputError(f"{subject} asks for {device!r}, but this machine has {have}. Use cpu or auto.")
    return device
