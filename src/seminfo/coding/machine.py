"""The machine signature of a machine-tied archive: what must match for the float path to decode.

Scope
-----
A model without a deterministic (integer) path computes its probabilities in floating point, and
the last bits depend on the library versions, the device, the CPU's vector instructions and the
number of threads (how a sum is split). An archive made with such a model records
:func:`signature` of the machine that made it; decoding compares it with the decoding machine's
*before* any model call and warns, up front, naming what differs (docs/compression.md,
"Portability"). The sha256 check still guarantees that a failed decode never gives wrong bytes.

Leaves out: BLAS library builds and CPU microcode (not visible from torch); a matching signature
makes a successful decode likely, not certain.
"""

from __future__ import annotations

import os
import platform


def signature(model=None) -> str:
    """``key=value;...`` describing this machine's arithmetic for `model` (its torch device).

    Keys: ``numpy``, ``numpy_simd`` (the widest vector extension numpy uses), ``machine`` (``platform.machine()``), and when torch is loaded ``torch`` (its
    version), ``device`` (cpu, or cuda and the GPU's name), ``cpu`` (``torch.backends.cpu.
    get_cpu_capability()``, which honours ``ATEN_CPU_CAPABILITY``) and ``threads``
    (``torch.get_num_threads()``).
    """
    import numpy as np
    items = {"numpy": np.__version__, "numpy_simd": _numpy_simd(), "machine": platform.machine()}
    device = str(getattr(model, "device", "") or "")
    if getattr(model, "hf_model", None) is not None or device:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            items["torch"] = torch.__version__.split("+")[0]
            kind = device.split(":")[0] if device else "cpu"
            if kind == "cuda" and torch.cuda.is_available():
                kind = f"cuda/{torch.cuda.get_device_name(torch.device(device))}"
            items["device"] = kind
            try:
                items["cpu"] = torch.backends.cpu.get_cpu_capability()
            except AttributeError:                         # torch < 2.0
                items["cpu"] = os.environ.get("ATEN_CPU_CAPABILITY", "?")
            items["threads"] = str(torch.get_num_threads())
    return ";".join(f"{k}={v.replace(';', ',')}" for k, v in items.items())


def _numpy_simd() -> str:
    """The widest vector extension numpy dispatches to here (its exp and log differ between them)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as feats
        except ImportError:
            return "?"
    for name in ("AVX512_SKX", "AVX512F", "AVX2", "SSE42", "ASIMD", "NEON"):
        if feats.get(name):
            return name.lower()
    return "baseline"


def parse(sig: str) -> dict[str, str]:
    """The ``key=value`` pairs of a signature (unparseable parts are kept under their text)."""
    out = {}
    for part in sig.split(";"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out


def differences(recorded: str, here: str) -> list[str]:
    """What differs between two signatures, as ``key A (archive) vs B (here)`` phrases."""
    a, b = parse(recorded), parse(here)
    return [f"{k} {a.get(k, '?')} (archive) vs {b.get(k, '?')} (here)"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
