"""The three built-ins side by side: bits per byte on the validation split and on text none of them saw,
and the training time of each (from the training.json shipped with each checkpoint).

    .venv/bin/python benchmarks/bench_architectures.py --bytes 20000 --samples 32

Unseen text: the GNU GPL version 3 (/usr/share/common-licenses/GPL-3 on Debian), or `--unseen FILE`.
builtin:gpt and builtin:mamba give exact bits per byte; builtin:diffusion gives the negative ELBO (an
upper bound) with its standard error.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from seminfo.models.builtin import builtin_path, corpus_path
from seminfo.models.compare import compare_models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=int, default=20000, help="bytes of each text (0 = all)")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--unseen", type=pathlib.Path, default=pathlib.Path("/usr/share/common-licenses/GPL-3"))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    specs = ["builtin:gpt", "builtin:mamba", "builtin:diffusion"]
    texts = {"valid.txt": corpus_path("valid").read_bytes()}
    if args.unseen.is_file():
        texts[args.unseen.name] = args.unseen.read_bytes()
    for name, data in texts.items():
        data = data[: args.bytes] if args.bytes else data
        r = compare_models(specs, data, samples=args.samples, seed=0, progress=True,
                           load_options={"device": args.device})
        print(f"\n{name}: {len(data):,} bytes")
        print(f"{'model':<18} {'bits/byte':>10} {'± se':>8} {'bound':>7} {'params':>10} {'state B/tok':>12} "
              f"{'tok/s':>9} {'Granger':>8}")
        for m in r.models:
            print(f"{m.name:<18} {m.bits_per_byte:>10.4f} {m.stderr:>8.4f} {'exact' if m.exact else 'ELBO':>7} "
                  f"{m.parameters:>10,} {m.state_bytes_per_token:>12.1f} {m.tokens_per_second:>9.0f} "
                  f"{m.granger_bits_per_token:>8.3f}")
    print("\ntraining (from each checkpoint's training.json)")
    for name in ("gpt", "mamba", "diffusion"):
        meta = json.loads((builtin_path(name) / "training.json").read_text())
        steps = meta["settings"]["steps"]
        print(f"  builtin:{name:<10} {meta['train_seconds']:7.0f} s of training, {steps} steps, "
              f"{meta.get('torch_threads')} threads, {meta['settings'].get('device', 'cpu')}")


if __name__ == "__main__":
    main()
