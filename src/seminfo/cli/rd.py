"""`seminfo rd`: the rate-distortion curve of a distribution stored in a file."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._common import add_output_options, print_csv, print_table, to_json

_CMD = "seminfo rd"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rd", help="rate-distortion curve R(D) of a distribution (certified intervals, bits/symbol)",
        description=(
            "Compute R(D) = min I(X; Xhat) s.t. E d(X, Xhat) <= D for the source pmf in FILE (JSON "
            "list, {\"p\": [...]} or .npy), by Blahut-Arimoto with Blahut's dual bound: every point "
            "is an interval [rate_lower, rate_upper] in bits per symbol of width <= --tol. Without "
            "--D the whole curve is sampled adaptively (denser where it bends).\n\n"
            "Example: seminfo rd p.json --distortion hamming --plot rd.png --csv"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=pathlib.Path, help="source pmf: JSON or .npy")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..rd import rate_distortion, rate_distortion_curve
    from ..rd.io import read_array
    p_x = read_array(args.file, "file", _CMD, "p")
    d = args.distortion
    if d not in ("hamming", "squared"):
        d = read_array(d, "--distortion", _CMD, "d")
    rows = []
    if args.targets:
        for D in args.targets:
            r = rate_distortion(p_x, d, D=D, tol=args.tol)
            rows.append({"distortion": r.distortion, "rate_bits": r.rate, "rate_lower_bits":
                         r.rate_lower, "rate_upper_bits": r.rate_upper, "slope_bits_per_unit": r.slope,
                         "converged": r.converged})
        curve = None
    else:
        curve = rate_distortion_curve(p_x, d, tol=args.tol, max_points=args.max_points)
        for i in range(curve.distortion.size):
            rows.append({"distortion": float(curve.distortion[i]), "rate_bits": float(curve.rate[i]),
                         "rate_lower_bits": float(curve.rate_lower[i]),
                         "rate_upper_bits": float(curve.rate_upper[i]),
                         "slope_bits_per_unit": float(curve.slope[i]), "converged": curve.converged})
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r["distortion"] for r in rows], [r["rate_bits"] for r in rows], "o-", ms=3)
        ax.set_xlabel("distortion D (per symbol)")
        ax.set_ylabel("R(D) (bits/symbol)")
        ax.set_title("rate-distortion function")
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
        plt.close(fig)
    if args.json:
        out = {"units": "bits/symbol", "points": rows}
        if curve is not None:
            out.update(d_min=curve.d_min, d_max=curve.d_max, max_chord_error_bits=curve.max_chord_error)
        print(to_json(out), file=sys.stdout)
    elif args.csv:
        print_csv(rows, file=sys.stdout)
    else:
        print_table(rows, file=sys.stdout)
    return 0
