"""`seminfo rd`: the rate-distortion curve of a distribution stored in a file."""

from __future__ import annotations

import argparse
import math
import pathlib

from ._common import (add_output_options, check_float, check_input_file, check_int, check_output,
                      examples, print_csv, print_table, to_json, where)

_CMD = "seminfo rd"
FLAGS = {"file": "FILE", "p_x": "FILE", "p": "FILE", "d": "--distortion", "D": "--D", "tol": "--tol",
         "max_points": "--max-points"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rd", help="rate-distortion curve R(D) of a distribution (certified intervals, bits/symbol)",
        description=(
            "Compute R(D) = min I(X; Xhat) s.t. E d(X, Xhat) <= D for the source pmf in FILE (JSON "
            "list, {\"p\": [...]} or .npy), by Blahut-Arimoto with Blahut's dual bound: every point "
            "is an interval [lower, upper] in bits per symbol of width <= --tol. Without "
            "--D the whole curve is sampled adaptively (denser where it bends). The table prints "
            "each interval with enough digits that its two ends differ; --json and --csv give full "
            "precision."),
        epilog=examples("seminfo rd p.json --distortion hamming --D 0.1 --D 0.2",
                        "seminfo rd p.json --distortion hamming --plot rd.png --csv"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=pathlib.Path, metavar="FILE", help="source pmf: JSON or .npy")
    p.add_argument("--distortion", default="hamming", metavar="SPEC",
                   help="'hamming', 'squared' (on symbol indices) or a (K, M) matrix file "
                        "(JSON list of lists, {\"d\": ...} or .npy; +inf in a .npy file forbids a "
                        "pair). Default hamming")
    p.add_argument("--D", type=float, action="append", dest="targets", metavar="D",
                   help="compute R at this distortion (repeatable) instead of the whole curve")
    p.add_argument("--tol", type=float, default=1e-9, help="interval width in bits (default 1e-9)")
    p.add_argument("--max-points", type=int, default=200, help="cap on curve points (default 200)")
    p.add_argument("--plot", type=pathlib.Path, metavar="PATH", help="write the curve as a PNG")
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def interval_text(value: float, lower: float, upper: float) -> tuple[str, str, str]:
    """`value`, `lower` and `upper` printed with enough decimals that `lower` and `upper` differ.

    >>> interval_text(0.5310044, 0.5310043998, 0.5310044002)
    ('0.53100440000', '0.53100439980', '0.53100440020')
    >>> interval_text(1.0, 1.0, 1.0)
    ('1.000000', '1.000000', '1.000000')
    """
    width = upper - lower
    decimals = 6
    if width > 0 and math.isfinite(width):
        decimals = min(17, max(6, math.ceil(-math.log10(width)) + 1))
    return tuple(f"{v:.{decimals}f}" for v in (value, lower, upper))


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..rd import rate_distortion, rate_distortion_curve
    from ..rd.io import read_array
    check_input_file(args.file, "FILE", _CMD)
    d = args.distortion
    if d not in ("hamming", "squared"):
        check_input_file(d, "--distortion", _CMD)
    tol = check_float(args.tol, "--tol", _CMD, minimum=0.0, strict_min=True)
    from ..rd._iterate import MAX_DISTORTION_CELLS
    from ..rd.blahut import MAX_CURVE_POINTS
    max_points = check_int(args.max_points, "--max-points", _CMD, minimum=2, maximum=MAX_CURVE_POINTS)
    targets = [check_float(D, "--D", _CMD, minimum=0.0) for D in args.targets or []]
    plot = None if args.plot is None else check_output(args.plot, "--plot", _CMD)
    p_x = read_array(args.file, "file", _CMD, "p")
    if d not in ("hamming", "squared"):
        d = read_array(d, "d", _CMD, "d")
        cells = int(d.size)
    else:
        cells = int(p_x.size) ** 2
    if cells > MAX_DISTORTION_CELLS:
        raise InputError(f"{where('FILE', _CMD)} and `--distortion` need a distortion matrix of "
                         f"{cells:,} cells (K x M), more than the limit of {MAX_DISTORTION_CELLS:,}. Use a "
                         "smaller alphabet.")
    rows = []
    if targets:
        for D in targets:
            r = rate_distortion(p_x, d, D=D, tol=tol)
            rows.append({"distortion": r.distortion, "rate_bits": r.rate, "rate_lower_bits":
                         r.lower, "rate_upper_bits": r.upper, "slope_bits_per_unit": r.slope,
                         "converged": r.converged})
        curve = None
    else:
        curve = rate_distortion_curve(p_x, d, tol=tol, max_points=max_points)
        for i in range(curve.distortion.size):
            rows.append({"distortion": float(curve.distortion[i]), "rate_bits": float(curve.rate[i]),
                         "rate_lower_bits": float(curve.lower[i]),
                         "rate_upper_bits": float(curve.upper[i]),
                         "slope_bits_per_unit": float(curve.slope[i]), "converged": curve.converged})
    if plot is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r["distortion"] for r in rows], [r["rate_bits"] for r in rows], "o-", ms=3)
        ax.set_xlabel("distortion D (per symbol)")
        ax.set_ylabel("R(D) (bits/symbol)")
        ax.set_title("rate-distortion function")
        fig.savefig(plot, dpi=110, bbox_inches="tight")
        plt.close(fig)
    if args.json:
        out = {"units": "bits/symbol", "points": rows}
        if curve is not None:
            out.update(d_min=curve.d_min, d_max=curve.d_max, max_chord_error_bits=curve.max_chord_error)
        print(to_json(out))
    elif args.csv:
        print_csv(rows)
    else:
        table = []
        for r in rows:
            mid, lo, hi = interval_text(r["rate_bits"], r["rate_lower_bits"], r["rate_upper_bits"])
            table.append(dict(r, rate_bits=mid, rate_lower_bits=lo, rate_upper_bits=hi))
        print_table(table)
        print("\nunits: rates in bits/symbol, distortion per symbol; R(D) lies in [rate_lower_bits, "
              "rate_upper_bits] (certified)" + (f"; plot written to {plot}" if plot is not None else ""))
    return 0

