"""The energy-based view on real models, and the wall time of the memory-capacity sweep.

    .venv/bin/python benchmarks/bench_energy.py --models builtin:gpt builtin:smollm2 --tokens 200

For each model: Boltzmann statistics of its next-token distributions on the first `--tokens` tokens
of the embedded validation split (mean entropy at T = 1, heat-capacity peak), and every attention
head read as a modern Hopfield step (share of positions where the pure update and the real head
lower the energy). Then the default capacity sweep (seminfo.energy.hopfield_capacity()) with its
wall time. Numbers recorded in docs/energy.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seminfo.energy import boltzmann, hopfield_capacity, hopfield_descent
from seminfo.models import load_model
from seminfo.models.builtin import corpus_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=["builtin:gpt"])
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-capacity", action="store_true")
    args = ap.parse_args()
    text = corpus_path("valid").read_text(encoding="utf-8")[:20_000]
    for spec in args.models:
        t0 = time.perf_counter()
        model = load_model(spec, device=args.device)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = boltzmann(model, text, np.geomspace(0.1, 10, 41), max_tokens=args.tokens)
        t_b = time.perf_counter() - t0
        k1 = int(np.argmin(np.abs(b.temperatures - 1)))
        t_peak, c_peak = b.peak()
        print(f"\n{spec}: loaded in {t_load:.1f} s; Boltzmann on {b.n_tokens} tokens in {t_b:.1f} s")
        print(f"  T = 1: mean S = {b.entropy[k1].mean():.4f} bits/token, mean C = {b.heat_capacity[k1].mean():.4f}, "
              f"max |F| = {np.abs(b.free_energy[k1]).max():.1e} nats")
        for T in (0.5, 2.0):
            k = int(np.argmin(np.abs(b.temperatures - T)))
            print(f"  T = {b.temperatures[k]:.3g}: mean S = {b.entropy[k].mean():.4f} bits/token, "
                  f"mean F = {b.free_energy[k].mean():.4f} nats, mean U = {b.mean_energy[k].mean():.4f} nats")
        print(f"  heat-capacity peak: median T = {np.median(t_peak):.3g} (quartiles "
              f"{np.quantile(t_peak, 0.25):.3g}-{np.quantile(t_peak, 0.75):.3g}), mean C_peak = {c_peak.mean():.3f}")
        ids = model.tokenizer.encode(text)[: args.tokens]
        t0 = time.perf_counter()
        h = hopfield_descent(model, ids)
        s = h.summary()
        print(f"  Hopfield ({s['n_layers']} layers x {s['n_heads']} heads, {s['n_positions']} positions, "
              f"{time.perf_counter() - t0:.1f} s): pure non-increasing {s['share_pure_nonincreasing']:.4f} "
              f"(max relative change {s['max_relative_increase_pure']:.2e}); real E(o) < E(q) "
              f"{s['share_real_decreased']:.4f}; E(o) < E(0) {s['share_real_below_origin']:.4f}; median "
              f"descent ratio {s['median_descent_ratio']:.3f}; attention weights reproduced to "
              f"{s['max_alpha_error']:.1e}")
        sr = h.share_real_decreased
        print(f"  per-head E(o) < E(q): min {sr.min():.3f}, heads below 0.9: {int((sr < 0.9).sum())} of {sr.size}")
    if not args.no_capacity:
        t0 = time.perf_counter()
        c = hopfield_capacity()
        wall = time.perf_counter() - t0
        print(f"\ncapacity sweep (defaults: dims {c.dims.tolist()}, betas {c.betas.tolist()}, p = {c.p}, "
              f"{c.n_probes} probes, n_max = {c.n_max}): {wall:.1f} s wall")
        print(f"{'d':>4} {'classical':>9} {'0.138d':>7} " + " ".join(f"{'b=' + format(b, 'g'):>9} {'Thm3':>7}"
                                                                  for b in c.betas))
        for j, d in enumerate(c.dims):
            cells = " ".join(f"{('>=' if c.modern_censored[i, j] else '') + str(c.modern[i, j]):>9} "
                             f"{c.theorem3[i, j]:>7.3g}" for i in range(c.betas.size))
            print(f"{d:>4} {c.classical[j]:>9} {c.classical_0138[j]:>7.2f} {cells}")


if __name__ == "__main__":
    main()
