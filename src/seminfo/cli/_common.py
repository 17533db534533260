"""Helpers shared by the CLI commands: output formats and JSON encoding."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Iterable

import numpy as np


def _default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if hasattr(o, "as_dict"):
        return o.as_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite(o: Any) -> Any:
    """Replace NaN/inf with None so the output is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of results (dataclasses via as_dict, numpy types, NaN -> null)."""
    return json.dumps(_finite(json.loads(json.dumps(obj, default=_default))), indent=indent)


def add_output_options(p: argparse.ArgumentParser) -> None:
    """The shared --json / --csv switches (a table is the default)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.add_argument("--csv", action="store_true", help="print CSV rows")


def print_table(rows: Iterable[dict], file=sys.stdout) -> None:
    """Print dict rows as an aligned text table (floats to 6 significant digits)."""
    rows = list(rows)
    if not rows:
        return
    cols = list(rows[0])
    fmt = [[(f"{r.get(c):.6g}" if isinstance(r.get(c), float) else str(r.get(c, ""))) for c in cols]
           for r in rows]
    widths = [max(len(c), *(len(f[i]) for f in fmt)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)), file=file)
    for f in fmt:
        print("  ".join(v.ljust(w) for v, w in zip(f, widths)), file=file)


def print_csv(rows: Iterable[dict], file=sys.stdout) -> None:
    import csv
    rows = list(rows)
    if not rows:
        return
    w = csv.DictWriter(file, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)


def add_load_options(p: argparse.ArgumentParser) -> None:
    """The options every command that loads a model takes: --device, --trust-remote-code,
    --allow-unsafe-weights."""
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:N")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow code shipped with a hub model to run (off by default)")
    p.add_argument("--allow-unsafe-weights", action="store_true",
                   help="allow pickled (.bin) weights, which can run code when loaded (off by default)")


def load_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of seminfo.load_model from the options of :func:`add_load_options`."""
    return {"device": args.device, "trust_remote_code": bool(args.trust_remote_code),
            "allow_unsafe_weights": bool(args.allow_unsafe_weights)}


def open_model(spec: str, args: argparse.Namespace, *needs: str, command: str):
    """Load `spec` with the command's load options and check the capabilities the command needs."""
    from ..models.capability import as_model
    return as_model(spec, *needs, func=command, **load_options(args))
