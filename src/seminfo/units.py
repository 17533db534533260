"""Logarithm bases and unit names.

seminfo computes internally in nats or bits as convenient and reports in bits unless a `base`
argument says otherwise. ``base=2`` gives bits, ``base=math.e`` nats, ``base=10`` hartleys (dits).
Every base must be a finite number > 1.
"""

from __future__ import annotations

import math

from ._validate import as_float

LN2 = math.log(2.0)


def log_base(base: float, func: str = "") -> float:
    """Return ln(base) after checking that `base` is a valid logarithm base: a finite number > 1.

    A base in (0, 1) is refused: it would flip the sign of every entropy and information.
    """
    b = as_float(base, "base", func, minimum=1, strict_min=True)
    return math.log(b)


def unit_name(base: float) -> str:
    """Name of the information unit for a logarithm base: 'bits', 'nats', 'hartleys' or 'log<b>'."""
    if base == 2:
        return "bits"
    if abs(base - math.e) < 1e-12:
        return "nats"
    if base == 10:
        return "hartleys"
    return f"log{base:g}-units"


def nats_to(value: float, base: float = 2.0) -> float:
    """Convert a quantity in nats to the unit of `base` (a finite number > 1)."""
    return value / log_base(base, "nats_to")
