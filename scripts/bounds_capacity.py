"""Generalisation bounds of the shipped capacity models, on the exact stream of biographies they were trained on.

Run from the repository root (a few minutes on 2 CPU cores; nothing is downloaded):

    python scripts/bounds_capacity.py

The capacity models (src/seminfo/data/capacity/models/, made by scripts/capacity_experiment.py) were
trained on `exposures` renderings of every person's biography, drawn on the fly by the trainer. This
script replays the trainer's random stream (seminfo.capacity.train: ``default_rng([seed, 1])``, one
permutation of the people per exposure, one ``render_ids`` call per batch) to rebuild exactly those
training documents, computes the token-level bound (Lotfi et al. 2024) on them with a subsample, and
measures the bounded (quantised, smoothed) model on fresh renderings of the same people, which it never
saw as such: the bound must sit above that loss. The rows are appended to (or replaced in)
src/seminfo/data/bounds/results.json, which the report and docs/bounds.md read.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "seminfo" / "data" / "capacity" / "models"
OUT = ROOT / "src" / "seminfo" / "data" / "bounds" / "results.json"


def training_documents(corpus, record: dict) -> list[str]:
    """The biographies the trainer drew, in order (replaying its random stream)."""
    rng = np.random.default_rng([int(record["seed"]), 1])
    bs = int(record["batch_size"])
    docs = []
    for _ in range(int(record["exposures"])):
        order = rng.permutation(corpus.n_people)
        for s in range(0, corpus.n_people, bs):
            rows = corpus.render_ids(order[s:s + bs], rng)
            docs.extend(corpus.tokenizer.decode(r[r >= 0]).decode() for r in rows)
    return docs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20_000, help="training tokens evaluated (default 20,000)")
    ap.add_argument("--fresh", type=int, default=2, help="fresh renderings of every person for the "
                                                         "held-out check (default 2)")
    args = ap.parse_args(argv)
    from seminfo import score_text
    from seminfo.bounds import generalization_bound, quantize_hf, smoothed_bits
    from seminfo.capacity import load_capacity_model
    from seminfo.capacity.facts import FactCorpus
    rows = []
    for folder in sorted(p for p in MODELS.iterdir() if p.is_dir()):
        model = load_capacity_model(folder)
        corpus = FactCorpus.from_description(model.capacity["corpus"])
        record = model.capacity["train"]
        t0 = time.perf_counter()
        docs = training_documents(corpus, record)
        b = generalization_bound(model, docs, kind="token", max_samples=args.samples, seed=0,
                                 levels=(5, 9, 17, 33))
        fresh = corpus.documents(exposures=args.fresh, seed=12345)
        bounded, _ = quantize_hf(model, b.levels)
        sur = score_text(bounded, fresh, per_token=True).surprisal_bits
        held = float(np.mean(smoothed_bits(sur, b.alpha, model.vocab_size)))
        plain = score_text(model, fresh, per_token=False).bits_per_token
        row = {**b.summary(), "model": f"capacity {folder.name}",
               "valid_bits_per_token": plain, "valid_smoothed_bits_per_token": held,
               "valid_tokens": int(len(sur)), "holds_on_validation": bool(b.bound >= held),
               "seconds": time.perf_counter() - t0,
               "call": f"generalization_bound(load_capacity_model({folder.name!r}), <the {len(docs):,} "
                       f"training biographies>, kind='token', max_samples={args.samples}, levels=(5, 9, 17, 33))"}
        print(f"{row['model']}: bound {b.bound:.4f} bits/token (empirical {b.empirical:.4f}, complexity "
              f"{b.complexity_term:.4f}, sampling {b.sampling_term:.4f}, C = {b.complexity_bits:,.0f} bits, "
              f"m = {b.m:,}), log2 K = {b.log2_vocab:.3f}, fresh biographies {held:.4f} "
              f"({'holds' if row['holds_on_validation'] else 'FAILS'})", file=sys.stderr)
        rows.append(row)
    obj = json.loads(OUT.read_text(encoding="utf-8"))
    names = {r["model"] for r in rows}
    obj["rows"] = [r for r in obj["rows"] if r["model"] not in names] + rows
    obj["capacity_command"] = "python scripts/bounds_capacity.py"
    OUT.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
