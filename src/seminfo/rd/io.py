"""Reading distributions and distortion matrices from files (JSON or .npy), safely.

JSON files hold a list of numbers (a pmf), a list of lists (a matrix) or an object with the key
"p" (pmf) or "d" (matrix). .npy files are read with ``allow_pickle=False``. Nothing is normalised:
a pmf that does not sum to 1 is reported by the solver's own validation.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from .._validate import as_real
from ..errors import InputError


def read_array(path: Any, what: str, func: str, key: str) -> np.ndarray:
    """Array stored in `path` (.npy or JSON); `key` is the JSON object key to look for."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(f"The `{what}` parameter of {func} must name a readable file. Got {str(p)!r}.")
    if p.suffix.lower() == ".npy":
        try:
            return np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"The `{what}` parameter of {func}: {str(p)!r} is not a plain numeric "
                             f".npy file ({exc}).") from None
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"The `{what}` parameter of {func}: {str(p)!r} is neither .npy nor valid "
                         f"JSON ({exc}).") from None
    if isinstance(obj, dict):
        if key not in obj:
            raise InputError(f"The `{what}` parameter of {func}: the JSON object in {str(p)!r} needs "
                             f"a {key!r} key. Got keys {sorted(obj)}.")
        obj = obj[key]
    try:
        return as_real(obj, what, func)
    except InputError:
        raise InputError(f"The `{what}` parameter of {func}: {str(p)!r} must hold real numbers.") from None
