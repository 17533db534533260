"""Foundation benchmarks: seminfo beside reference packages on the same inputs, in one run.

Rows:
1. dit 2.3 vs seminfo.entropy / seminfo.mutual_information on the same random pmfs (values equal,
   times per call, ratio).
2. infomeasure 0.6 vs seminfo.transfer_entropy (plug-in discrete TE) on the same 10^6 samples
   (values to 1e-9 bits, times, ratio).
3. CTW directed information on 10^6 binary symbols, I_hat_1 and I_hat_2 (time; target < 10 s).
4. Sparse counting: order-1 entropy rate of a random walk on Z_10^4 (rate 2 bits), 10^6 symbols.

Run: ``.venv/bin/python benchmarks/bench_foundation.py [--n 1000000] [--repeat 3]``.
Install the anchors first: ``.venv/bin/pip install -r benchmarks/requirements.txt``.
Times are the minimum over `--repeat` runs (wall clock, one process).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import seminfo


def best_time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def delay_channel(n, eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    y = np.empty(n, dtype=np.int64)
    y[0] = 0
    y[1:] = x[:-1] ^ (rng.random(n - 1) < eps)
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import dit
    import infomeasure as im

    rows = []
    rng = np.random.default_rng(0)
    # 1. dit on explicit pmfs
    p = rng.dirichlet(np.ones(64)).reshape(8, 8)
    d = dit.Distribution.from_ndarray(p)
    t_dit, v_dit = best_time(lambda: dit.shannon.entropy(d), args.repeat * 10)
    t_ours, v_ours = best_time(lambda: seminfo.entropy(p), args.repeat * 10)
    rows.append(("entropy 8x8 pmf", "dit", v_dit, t_dit, v_ours, t_ours))
    t_dit, v_dit = best_time(lambda: dit.shannon.mutual_information(d, [0], [1]), args.repeat * 10)
    t_ours, v_ours = best_time(lambda: seminfo.mutual_information(p), args.repeat * 10)
    rows.append(("MI 8x8 pmf", "dit", v_dit, t_dit, v_ours, t_ours))
    # 2. infomeasure discrete TE
    x, y = delay_channel(args.n, 0.1, seed=1)
    for k, l in [(1, 1), (2, 2)]:
        t_im, v_im = best_time(lambda: im.transfer_entropy(
            x, y, approach="discrete", src_hist_len=l, dest_hist_len=k, base=2), 1)
        t_ours, est = best_time(lambda: seminfo.transfer_entropy(x, y, k=k, l=l), args.repeat)
        rows.append((f"TE k={k} l={l}, n={args.n}", "infomeasure", v_im, t_im, est.value, t_ours))
    # 3. CTW DI
    t_di, di = best_time(lambda: seminfo.estimate_directed_information(x, y), 1)
    rows.append((f"CTW DI depth 5, n={args.n} (truth {1 - 0.4689956:.6f})", "-", float("nan"),
                 float("nan"), di.value, t_di))
    t_di, di = best_time(lambda: seminfo.estimate_directed_information(x, y, variant=2), 1)
    rows.append((f"CTW DI I_hat_2 depth 5, n={args.n}", "-", float("nan"), float("nan"),
                 di.value, t_di))
    # 4. sparse counting
    z = np.cumsum(rng.integers(0, 4, args.n)) % 10_000      # random walk on Z_10^4: rate 2 bits
    t_sp, h = best_time(lambda: seminfo.estimate_entropy_rate(z, order=1, alphabet_size=10_000), 1)
    rows.append((f"H rate order 1, K=10^4, n={args.n} (truth 2)", "-", float("nan"), float("nan"),
                 h.value, t_sp))

    print(f"{'benchmark':44s} {'anchor':12s} {'anchor value':>14s} {'anchor s':>10s} "
          f"{'seminfo value':>14s} {'seminfo s':>10s} {'|diff|':>9s} {'speed-up':>9s}")
    for name, anchor, va, ta, vo, to in rows:
        diff = abs(va - vo) if np.isfinite(va) else float("nan")
        ratio = ta / to if np.isfinite(ta) else float("nan")
        print(f"{name:44s} {anchor:12s} {va:14.9f} {ta:10.4g} {vo:14.9f} {to:10.4g} {diff:9.1e} "
              f"{ratio:9.1f}")


if __name__ == "__main__":
    main()
