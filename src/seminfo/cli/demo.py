"""`seminfo demo`: exact values beside estimates from samples for the built-in sources."""

from __future__ import annotations

import argparse
import pathlib

from ..demo import MAX_SAMPLES
from ._common import check_int, check_output, check_seed, examples, print_table, to_json

_CMD = "seminfo demo"

LEGEND = ("z = distance of the estimate from the exact value (or from the certified interval) in "
          "standard errors; below about 3 means the estimator recovers the truth")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="exact values beside estimates for the built-in sources",
        description="For each built-in finite-state source, print exact information quantities "
                    "(or certified intervals [lower, upper]) beside estimates from -n samples with "
                    "their standard errors, in bits/symbol.\n\n"
                    f"Columns: exact, estimate ± stderr, method, and {LEGEND}.",
        epilog=examples("seminfo demo -n 2000",
                        "seminfo demo -n 2000 --seed 1 --out demo.json --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--samples", type=int, default=100_000,
                   help=f"samples per source, 100 to {MAX_SAMPLES:,} (default 100,000)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=pathlib.Path, default=None, metavar="FILE",
                   help="also write the rows as JSON to FILE (nothing is written without it)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run, flags={"n": "-n", "seed": "--seed"})


def run(args: argparse.Namespace) -> int:
    from ..demo import foundation_table
    n = check_int(args.samples, "-n", _CMD, minimum=100, maximum=MAX_SAMPLES,
                  why=" (time and memory grow with it)")
    seed = check_seed(args.seed, _CMD)
    out = None if args.out is None else check_output(args.out, "--out", _CMD)
    rows = foundation_table(n, seed=seed)
    data = {"units": "bits/symbol", "samples": n, "seed": seed,
            "legend": {"z": LEGEND, "exact_lower, exact_upper": "certified interval around the exact "
                       "value (equal when it is known exactly)"},
            "rows": [dict(r.as_dict(), z=r.z) for r in rows]}
    if out is not None:
        out.write_text(to_json(data), encoding="utf-8")
    if args.json:
        print(to_json(data))
    else:
        print_table([{"source": r.source, "quantity": r.quantity,
                      "exact": (f"{r.exact:.5f}" if r.exact_lower == r.exact_upper
                                else f"[{r.exact_lower:.5f}, {r.exact_upper:.5f}]"),
                      "estimate": f"{r.estimate:.5f} ± {r.stderr:.5f}", "method": r.method,
                      "z": f"{r.z:.2f}"} for r in rows])
        print(f"\nunits: bits/symbol; n = {n:,} samples per source"
              + (f"; written to {out}" if out is not None else ""))
        print(f"{LEGEND}.")
    return 0
