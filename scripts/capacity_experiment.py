"""The knowledge-capacity experiment (docs/capacity.md): GPT-2 sizes x exposures on one fact corpus.

Writes src/seminfo/data/capacity/results.json (the shipped results, read by `seminfo capacity` and the
report) after every run. The default sizes run on CPU; the GPU sizes run with --device cuda and are
recorded as not run when the machine has no GPU.

    python scripts/capacity_experiment.py                    # the shipped CPU experiment
    python scripts/capacity_experiment.py --device cuda --gpu-sizes --people 20000 --out gpu.json
"""

from __future__ import annotations

import argparse
import sys

from seminfo.capacity.experiment import (DEFAULT_BASE, DEFAULT_EXPOSURES, DEFAULT_PEOPLE, DEFAULT_SIZES,
                                         GPU_SIZES, RESULTS_PATH, run_experiment)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'1x8,2x16' -> [(1, 8), (2, 16)] (n_layer x n_embd)."""
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",") if s]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                   help="n_layer x n_embd pairs, e.g. 1x8,2x16 (default: the CPU sizes)")
    p.add_argument("--gpu-sizes", action="store_true", help="run the GPU sizes instead")
    p.add_argument("--exposures", type=int, nargs="+", default=list(DEFAULT_EXPOSURES))
    p.add_argument("--people", type=int, default=DEFAULT_PEOPLE)
    p.add_argument("--base", type=int, default=DEFAULT_BASE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--out", default=str(RESULTS_PATH))
    p.add_argument("--save-models", default=None, help="folder for the trained models (optional)")
    args = p.parse_args(argv)
    sizes = list(GPU_SIZES) if args.gpu_sizes else args.sizes
    not_run = []
    if not args.gpu_sizes:
        import torch
        reason = ("not run: no GPU on this machine" if not torch.cuda.is_available()
                  else "not run in this invocation (use --gpu-sizes --device cuda)")
        not_run = [{"n_layer": L, "n_embd": d, "device": "cuda", "reason": reason} for L, d in GPU_SIZES]
    command = " ".join(["python scripts/capacity_experiment.py", *(sys.argv[1:] if argv is None else argv)])
    res = run_experiment(sizes=sizes, exposures=args.exposures, n_people=args.people, base=args.base,
                         seed=args.seed, device=args.device, threads=args.threads, batch_size=args.batch_size,
                         lr=args.lr, out=args.out, save_models=args.save_models, not_run=not_run,
                         command=command)
    for row in res.rows():
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
