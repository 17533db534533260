"""Rate-distortion benchmark: seminfo.rd against dit 2.3 on the same problems, in one run.

Problems: Zipf sources over K symbols (K in --sizes), Hamming and squared-index distortion
(d = (i - j)^2 / K^2 * 16, so slopes of order 1 are interesting), at Lagrange slopes --betas (bits per
unit distortion; dit's ``blahut_arimoto(p, beta)`` uses 2^(-beta d), so slope = -beta). For each
problem both packages return a point (D, R). Accuracy: |R - R_ref(D)|, where R_ref is seminfo's
certified interval at the returned distortion with tol 1e-12 (its midpoint; width printed). Wall
time: best of --repeat for seminfo, one call for dit (default call: 100 restarts x 100 iterations,
unless --dit-restarts says otherwise). The IB rows compare dit's ``blahut_arimoto_ib`` with
seminfo.information_bottleneck at one beta on a 16 x 4 joint.

    .venv/bin/python benchmarks/bench_rd.py --sizes 64 256 --betas 2 5 --repeat 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seminfo.rd import information_bottleneck, rate_distortion


def zipf(K: int) -> np.ndarray:
    p = 1.0 / np.arange(1, K + 1)
    return p / p.sum()


def distortion(kind: str, K: int) -> np.ndarray:
    if kind == "hamming":
        return 1.0 - np.eye(K)
    i = np.arange(K, dtype=float)
    return (i[:, None] - i[None, :]) ** 2 / K ** 2 * 16


def best_time(f, repeat: int):
    out, best = None, np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--betas", type=float, nargs="+", default=[2.0, 5.0])
    ap.add_argument("--kinds", nargs="+", default=["hamming", "squared"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dit-restarts", type=int, default=100)
    ap.add_argument("--no-dit", action="store_true")
    args = ap.parse_args()
    if not args.no_dit:
        from dit.rate_distortion.blahut_arimoto import blahut_arimoto, blahut_arimoto_ib
    head = (f"{'problem':34s} {'pkg':8s} {'D':>10s} {'R (bits)':>13s} {'|R-R_ref|':>9s} "
            f"{'width':>8s} {'time s':>9s} {'speed-up':>8s}")
    print(head)
    for kind in args.kinds:
        for K in args.sizes:
            p, d = zipf(K), distortion(kind, K)
            for beta in args.betas:
                name = f"zipf K={K} {kind} slope=-{beta:g}"
                ours, t_ours = best_time(lambda: rate_distortion(p, d, slope=-beta), args.repeat)
                ref = rate_distortion(p, d, D=ours.distortion, tol=1e-12)
                err = abs(ours.rate - ref.rate)
                print(f"{name:34s} {'seminfo':8s} {ours.distortion:10.6f} {ours.rate:13.9f} "
                      f"{err:9.1e} {ours.width:8.1e} {t_ours:9.4f} "
                      f"{'':>8s}{'' if ours.converged else '  (not converged)'}")
                if args.no_dit:
                    continue
                t = time.perf_counter()
                res, _ = blahut_arimoto(p, beta, distortion=lambda px, q, d=d: d,
                                        restarts=args.dit_restarts)
                t_dit = time.perf_counter() - t
                rr = rate_distortion(p, d, D=max(float(res.distortion), ref.distortion * 0 +
                                                 float(res.distortion)), tol=1e-12)
                print(f"{'':34s} {'dit':8s} {float(res.distortion):10.6f} {float(res.rate):13.9f} "
                      f"{abs(float(res.rate) - rr.rate):9.1e} {'-':>8s} {t_dit:9.4f} "
                      f"{t_dit / t_ours:8.1f}")
    # information bottleneck at one beta on a 16 x 4 joint
    rng = np.random.default_rng(0)
    pxy = rng.dirichlet(np.ones(64) * 0.5).reshape(16, 4)
    for beta in (2.0, 10.0):
        ours, t_ours = best_time(lambda: information_bottleneck(pxy, betas=np.geomspace(0.5, beta, 30)),
                                 args.repeat)
        i_xt, i_ty = ours.i_xt[-1], ours.i_ty[-1]
        lag = i_xt - beta * i_ty
        print(f"{'IB 16x4 beta=' + format(beta, 'g'):34s} {'seminfo':8s} {i_xt:10.6f} {i_ty:13.9f} "
              f"{'':>9s} {'':>8s} {t_ours:9.4f}   L={lag:.6f}")
        if args.no_dit:
            continue
        t = time.perf_counter()
        res, _ = blahut_arimoto_ib(pxy, beta, restarts=min(args.dit_restarts, 10))
        t_dit = time.perf_counter() - t
        # dit reports (rate, distortion) = (I(X;T), E D(p(y|x)||q(y|t))); I(T;Y) = I(X;Y) - distortion
        i_ty_dit = ours.i_xy - float(res.distortion)
        lag_dit = float(res.rate) - beta * i_ty_dit
        print(f"{'':34s} {'dit':8s} {float(res.rate):10.6f} {i_ty_dit:13.9f} {'':>9s} {'':>8s} "
              f"{t_dit:9.4f}   L={lag_dit:.6f} ({min(args.dit_restarts, 10)} restarts)")


if __name__ == "__main__":
    main()
