"""Helpers shared by the CLI commands: the one-line argument parser, up-front checks of every flag
(input files, output paths, seeds, sizes, devices), the one-line error message, output
formats and JSON encoding.

Every check here runs before a command starts its work and raises
:class:`~seminfo.errors.InputError` with a message in the user's terms: the flag, the rule, what was
given and what to do, e.g. ``The `--out` option of seminfo demo names a folder, 'out'; give a file
path.``. :func:`user_message` turns any SeminfoError into the single line printed on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
import sys
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import InputError

#: Largest seed the commands accept (numpy's legacy and torch's seeding both take 32-bit seeds).
MAX_SEED = 2**32 - 1


# ---------------------------------------------------------------------------------------------------
# the parser: argument errors in one line

class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2.

    >>> p = OneLineParser(prog="seminfo x")
    >>> _ = p.add_argument("--n", type=int, required=True)
    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     try:
    ...         p.parse_args([])
    ...     except SystemExit as exc:
    ...         code = exc.code
    >>> code, err.getvalue()
    (2, 'seminfo x: error: the following arguments are required: --n (see seminfo x --help)\\n')
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def examples(*lines: str) -> str:
    """The Examples block that ends every command's --help (each line is run by tests/test_cli.py)."""
    return "Examples:\n" + "".join(f"  {ln}\n" for ln in lines)


# ---------------------------------------------------------------------------------------------------
# messages

def where(flag: str, cmd: str) -> str:
    """``The `--flag` option of seminfo cmd`` (``argument`` for positional names such as FILE)."""
    from .._validate import _where
    return _where(flag, cmd)


_PARAM = re.compile(r"The `([^`]+)` parameters? of (seminfo \w+|[\w.:]+)")


def user_message(exc: BaseException, cmd: str, flags: Mapping[str, str] | None = None) -> str:
    """The one-line message for `exc` raised by command `cmd`, in the user's terms.

    Library messages name Python parameters ("The `source` parameter of score_text"); each command
    declares which flag feeds which parameter (``flags``) and those phrases become "The `--text`
    option of seminfo score". The result is always a single line.

    >>> user_message(ValueError("The `source` parameter of score_text names a folder."),
    ...              "seminfo score", {"source": "--text"})
    'The `--text` option of seminfo score names a folder.'
    >>> user_message(ValueError("The `stride` parameter of score_text needs a `window`."),
    ...              "seminfo score", {"stride": "--stride", "window": "--window"})
    'The `--stride` option of seminfo score needs a `--window`.'
    >>> user_message(ValueError("The `--seed` parameter of seminfo demo must be\\n>= 0."), "seminfo demo")
    'The `--seed` option of seminfo demo must be >= 0.'
    """
    flags = dict(flags or {})

    def swap(m: re.Match) -> str:
        name = m.group(1)
        if name in flags:
            return where(flags[name], cmd)
        if name.startswith("-"):
            return where(name, cmd)
        return m.group(0)

    text = _PARAM.sub(swap, str(exc))
    # other parameters named in the message, e.g. "needs a `window`"
    text = re.sub(r"`(\w+)`", lambda m: f"`{flags[m.group(1)]}`" if m.group(1) in flags else m.group(0),
                  text)
    return " ".join(text.split()) or type(exc).__name__


# ---------------------------------------------------------------------------------------------------
# up-front checks of flags

def check_int(value: Any, flag: str, cmd: str, *, minimum: int | None = None,
              maximum: int | None = None, why: str = "") -> int:
    """`value` as an int in [minimum, maximum]; `why` says what the maximum protects.

    >>> check_int(5, "-n", "seminfo demo", minimum=100)
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `-n` option of seminfo demo must be an integer >= 100. Got 5.
    """
    from .._validate import as_int
    value = as_int(value, flag, cmd, minimum=minimum)
    if maximum is not None and value > maximum:
        raise InputError(f"{where(flag, cmd)} must be at most {maximum:,}{why}. Got {value:,}.")
    return value


def check_float(value: Any, flag: str, cmd: str, *, minimum: float | None = None,
                strict_min: bool = False) -> float:
    """`value` as a finite float (> or >= `minimum`)."""
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        raise InputError(f"{where(flag, cmd)} must be a number. Got {value!r}.")
    f = float(value)
    if not math.isfinite(f):
        raise InputError(f"{where(flag, cmd)} must be a finite number. Got {value!r}.")
    if minimum is not None and (f < minimum or (strict_min and f == minimum)):
        raise InputError(f"{where(flag, cmd)} must be {'>' if strict_min else '>='} {minimum:g}. "
                         f"Got {f:g}.")
    return f


def check_seed(value: Any, cmd: str, flag: str = "--seed") -> int:
    """A seed the command can pass on: an integer in 0..MAX_SEED (checked by seminfo._validate.as_seed).

    >>> check_seed(-1, "seminfo flow")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `--seed` option of seminfo flow must be an integer from 0 to 4,294,967,295. Got -1.
    """
    from .._validate import as_seed
    rule = f"{where(flag, cmd)} must be an integer from 0 to {MAX_SEED:,}. Got {value!r}."
    if value is None:
        raise InputError(rule)
    try:
        seed = as_seed(value, cmd, flag)
    except InputError:
        raise InputError(rule) from None
    if seed > MAX_SEED:
        raise InputError(rule)
    return seed


def check_device(value: Any, cmd: str, flag: str = "--device") -> str:
    """The --device flag: its form, then (for cuda and mps) that the device is present.

    >>> check_device("meta", "seminfo score")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `--device` option of seminfo score must be one of auto, cpu, cuda, cuda:N (N a GPU index) or mps. Got 'meta'.
    """
    from .._validate import check_device as device_check
    return device_check(value, where(flag, cmd))


def _path(path: Any, flag: str, cmd: str) -> pathlib.Path:
    from .._validate import as_path
    return as_path(path, where(flag, cmd))


def check_text_source(path: Any, flag: str, cmd: str) -> pathlib.Path:
    """What score_text reads: a folder, or an existing, readable, non-empty file (text or .jsonl)."""
    p = _path(path, flag, cmd)
    if not p.exists():
        raise InputError(f"{where(flag, cmd)} must name a file, a folder or a .jsonl file. Got "
                         f"{str(p)!r}, which does not exist.")
    if not p.is_dir():
        check_input_file(p, flag, cmd, nonempty=True)
    return p


def check_input_file(path: Any, flag: str, cmd: str, *, text: bool = False,
                     nonempty: bool = False) -> pathlib.Path:
    """An existing, readable file (not a folder); with `text`, valid UTF-8; with `nonempty`, not empty.

    Returns the path. Reads the file only when `text` is set.
    """
    p = _path(path, flag, cmd)
    rule = f"{where(flag, cmd)} must name a readable file. Got {str(p)!r}"
    if p.is_dir():
        raise InputError(f"{rule}, which is a folder.")
    if not p.exists():
        raise InputError(f"{rule}, which does not exist.")
    if not p.is_file() or not os.access(p, os.R_OK):
        raise InputError(f"{rule}, which cannot be read.")
    if nonempty and p.stat().st_size == 0:
        raise InputError(f"{where(flag, cmd)} must name a non-empty file. Got {str(p)!r}, which is "
                         "empty.")
    if text:
        try:
            p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where(flag, cmd)} must name a UTF-8 text file. Got {str(p)!r}, whose "
                             f"byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}.") from None
        except OSError as exc:
            raise InputError(f"{rule}, which cannot be read ({exc.strerror or exc}).") from None
    return p


def check_output(path: Any, flag: str, cmd: str, *, folder: bool = False) -> pathlib.Path:
    """Check before any work that `path` can be written: the one check for every output flag.

    The folder that will hold it must exist and be writable; a file target must not be a folder (an
    existing file is replaced); a folder target (`folder=True`) must not be a file (it is created
    when missing, in an existing parent). Returns the path.

    >>> check_output("no/such/folder/out.json", "--out", "seminfo demo")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `--out` option of seminfo demo names a file in 'no/such/folder', which does not exist. Create the folder first.
    """
    from .._validate import check_output_path
    return check_output_path(path, where(flag, cmd), folder=folder)


# ---------------------------------------------------------------------------------------------------
# output formats

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


def print_table(rows: Iterable[dict], file=None) -> None:
    """Print dict rows as an aligned text table (floats to 6 significant digits; strings as given)."""
    file = sys.stdout if file is None else file
    rows = list(rows)
    if not rows:
        return
    cols = list(rows[0])
    fmt = [[(f"{r.get(c):.6g}" if isinstance(r.get(c), float) else str(r.get(c, ""))) for c in cols]
           for r in rows]
    widths = [max(len(c), *(len(f[i]) for f in fmt)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip(), file=file)
    for f in fmt:
        print("  ".join(v.ljust(w) for v, w in zip(f, widths)).rstrip(), file=file)


def print_csv(rows: Iterable[dict], file=None) -> None:
    """Print dict rows as CSV with a header (full float precision)."""
    import csv
    file = sys.stdout if file is None else file
    rows = list(rows)
    if not rows:
        return
    w = csv.DictWriter(file, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)


# ---------------------------------------------------------------------------------------------------
# model loading

def add_load_options(p: argparse.ArgumentParser) -> None:
    """The options every command that loads a model takes: --device, --dtype, --trust-remote-code,
    --allow-unsafe-weights."""
    from ..models.hf import DTYPES
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when present, else cpu), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="precision of a neural model's weights: auto (the checkpoint's on a GPU, float32 "
                        "on a CPU), float32, bfloat16 or float16; log-softmax stays float32 and sums "
                        "float64; n-grams and portable models ignore it")
    p.add_argument("--compile", action="store_true",
                   help="score through torch.compile (inductor): the first calls pay the compilation, "
                        "long runs gain (docs/scale.md); rounding changes at about 1e-9 relative")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow code shipped with a hub model to run (off by default)")
    p.add_argument("--allow-unsafe-weights", action="store_true",
                   help="allow pickled (.bin) weights, which can run code when loaded (off by default)")


def add_ray_options(p: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]`` and ``--workers N``: run the model on Ray actors (the ``ray`` extra)."""
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the model on Ray actors that each hold it: no ADDRESS (or 'local') starts "
                        "Ray on this machine; 'auto' or ray://HOST:10001 joins a cluster. Numbers are "
                        "the same as without --ray (needs pip install 'seminfo[ray]')")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="Ray actors (with --ray; default: one per GPU of the cluster, else per CPU)")


def check_ray_options(args: argparse.Namespace, command: str) -> None:
    """--workers needs --ray and is a positive count (checked before any model loads)."""
    if args.workers is None:
        return
    if not args.ray:
        raise InputError(f"--workers of {command} needs --ray (Ray actors); without it everything runs "
                         "in this process.")
    check_int(args.workers, "--workers", command, minimum=1)


def load_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of seminfo.load_model from the options of :func:`add_load_options`
    (``dtype`` only when it is not the default 'auto')."""
    opts = {"device": args.device, "trust_remote_code": bool(args.trust_remote_code),
            "allow_unsafe_weights": bool(args.allow_unsafe_weights)}
    dtype = getattr(args, "dtype", "auto")
    if dtype != "auto":
        opts["dtype"] = dtype
    if getattr(args, "compile", False):
        opts["compile"] = True
    return opts


def open_model(spec: str, args: argparse.Namespace, *needs: str, command: str):
    """Load `spec` with the command's load options and check the capabilities the command needs."""
    from ..models.capability import as_model
    check_device(args.device, command)
    return as_model(spec, *needs, func=command, **load_options(args))


def add_progress_options(p: argparse.ArgumentParser) -> None:
    """``--quiet`` (alias ``--no-progress``): no progress bar (tokens/s and ETA) on stderr."""
    p.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true",
                   help="no progress bar on stderr (the bar shows tokens/s and an ETA; alias "
                        "--no-progress)")
