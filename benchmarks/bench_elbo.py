"""ELBO standard error against the number of samples: plain, antithetic and stratified, on builtin:diffusion.

    .venv/bin/python benchmarks/bench_elbo.py --bytes 1500 --samples 16 32 64 128 --repeats 8

For each method and sample count S the ELBO of the first `--bytes` bytes of the validation split is
estimated with `--repeats` seeds. Two spreads are printed, in bits per byte: the mean reported
standard error, and the empirical standard deviation of the estimates across seeds (what the
standard error should match). The last table gives the variance ratio of plain / method at the
largest S (both from the seeds' spread and from the reported errors). Also checked on the exact
masked model of a Markov source, where the truth is known: bias and z-score spread per method.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import seminfo
from seminfo.models import exact_masked_model, load_model
from seminfo.models.builtin import corpus_path
from seminfo.sources import MarkovSource


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=int, default=1500)
    ap.add_argument("--samples", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    model = load_model("builtin:diffusion", device=args.device)
    text = corpus_path("valid").read_bytes()[: args.bytes]
    methods = ("plain", "antithetic", "stratified")
    table = {}
    print(f"builtin:diffusion on {len(text)} bytes of valid.txt; {args.repeats} seeds per cell")
    print(f"{'method':<11} {'S':>4} {'mean bits/byte':>15} {'reported se':>12} {'seed spread':>12} {'s':>6}")
    for method in methods:
        for S in args.samples:
            t0 = time.perf_counter()
            rs = [seminfo.elbo(model, text, samples=S, seed=k, method=method) for k in range(args.repeats)]
            sec = (time.perf_counter() - t0) / args.repeats
            v = np.array([r.value for r in rs]) / len(text)
            se = np.mean([r.stderr for r in rs]) / len(text)
            table[method, S] = (v.mean(), se, v.std(ddof=1))
            print(f"{method:<11} {S:>4} {v.mean():>15.4f} {se:>12.4f} {v.std(ddof=1):>12.4f} {sec:>6.1f}")
    S = max(args.samples)
    print(f"\nvariance ratio plain / method at S = {S} (> 1: the method needs fewer samples)")
    for method in methods[1:]:
        by_seeds = (table["plain", S][2] / table[method, S][2]) ** 2
        by_se = (table["plain", S][1] / table[method, S][1]) ** 2
        print(f"  {method:<11} from reported errors {by_se:6.2f}   from the seeds' spread {by_seeds:6.2f}")

    src = MarkovSource(np.array([[0.8, 0.15, 0.05], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]]))
    exact = exact_masked_model(src, 8)
    x = [int(v) for v in src.sample(8, seed=0)]
    truth = -exact.log_prob(x)
    print(f"\nexact masked model of a 3-state Markov source, x of length 8, -log2 p(x) = {truth:.4f} bits; "
          "128 samples, 400 seeds")
    for method in methods:
        rs = [seminfo.elbo(exact, x, samples=128, seed=k, method=method) for k in range(400)]
        v = np.array([r.value for r in rs])
        z = (v - truth) / np.array([r.stderr for r in rs])
        print(f"  {method:<11} bias {v.mean() - truth:+.4f} ± {v.std(ddof=1) / math.sqrt(v.size):.4f} bits, "
              f"z mean {z.mean():+.3f}, z sd {z.std(ddof=1):.3f}")


if __name__ == "__main__":
    main()
