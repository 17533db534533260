"""Compute the generalisation bounds of the built-in models on their training split and save them.

Run from the repository root (about 10 minutes on 2 CPU cores; nothing is downloaded):

    python scripts/bounds_builtin.py                 # all rows
    python scripts/bounds_builtin.py --only ngram    # the n-gram rows only

For each model it computes the token-level bound (Lotfi et al. 2024) on the embedded training split
as one sequence of tokens, and the document-level bound (Lotfi et al. 2023) on its 91 documents
(the ``.. source:`` blocks), beside the loss on the embedded validation split, which the model never
saw: the float model's bits/token (as ``seminfo score`` reports it) and the smoothed loss of the
bounded model (quantised, with the chosen alpha), the quantity the bound is about. Output:
src/seminfo/data/bounds/results.json, read by the report and by docs/bounds.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "seminfo" / "data" / "bounds" / "results.json"

#: (spec, kind, max_samples, levels grid) of every row; None: evaluate every unit.
ROWS = [
    ("builtin:ngram:1", "token", 20000, None),
    ("builtin:ngram:2", "token", 20000, None),
    ("builtin:ngram:3", "token", 20000, None),
    ("builtin:ngram", "token", 20000, None),
    ("builtin:ngram:1", "document", None, None),
    ("builtin:ngram", "document", None, None),
    ("builtin:gpt", "token", 2000, (3, 5, 9, 17, 33, 65)),
    ("builtin:gpt", "document", 12, (5, 17, 65)),
]


def split_documents(text: str) -> list[str]:
    """The documents of the embedded corpus: blocks that start with a ``.. source:`` line."""
    marks = [0] + [i + 1 for i in range(len(text)) if text.startswith("\n.. source: ", i)]
    return [text[a:b] for a, b in zip(marks, marks[1:] + [len(text)]) if text[a:b].strip()]


def validation_losses(model, result, valid_text: str) -> dict:
    """Validation bits/token of the float model and smoothed bits/token of the bounded model."""
    from seminfo import score_text
    from seminfo.bounds import quantize_hf, smoothed_bits
    plain = score_text(model, valid_text, per_token=False)
    bounded = model
    if result.levels is not None:
        bounded, _ = quantize_hf(model, result.levels)
    sur = score_text(bounded, valid_text, per_token=True).surprisal_bits
    smooth = float(np.mean(smoothed_bits(sur, result.alpha, model.vocab_size)))
    return {"valid_bits_per_token": plain.bits_per_token, "valid_smoothed_bits_per_token": smooth,
            "valid_tokens": plain.n_tokens}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only the rows whose model spec contains this text")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from seminfo.bounds import generalization_bound
    from seminfo.models import load_model
    from seminfo.models.builtin import corpus_path
    train = corpus_path("train").read_text(encoding="utf-8")
    valid = corpus_path("valid").read_text(encoding="utf-8")
    documents = split_documents(train)
    old = json.loads(OUT.read_text()) if OUT.exists() else {"rows": []}
    keep = [r for r in old.get("rows", []) if args.only and args.only not in r["model"]]
    rows = []
    for spec, kind, samples, grid in ROWS:
        if args.only and args.only not in spec:
            continue
        model = load_model(spec, device="cpu")
        t0 = time.perf_counter()
        kw = {} if grid is None else {"levels": grid}
        data = [train] if kind == "token" else documents
        res = generalization_bound(model, data, 0.05, kind=kind, max_samples=samples, seed=args.seed,
                                   progress=True, **kw)
        seconds = time.perf_counter() - t0
        val = validation_losses(model, res, valid)
        row = {**res.summary(), **val, "seconds": round(seconds, 1),
               "holds_on_validation": bool(res.bound >= val["valid_smoothed_bits_per_token"]
                                           and res.bound >= val["valid_bits_per_token"]),
               "call": (f"generalization_bound({spec!r}, {'[train]' if kind == 'token' else 'documents'}, "
                        f"0.05, kind={kind!r}, max_samples={samples}, seed={args.seed}"
                        + (f", levels={grid}" if grid else "") + ")")}
        rows.append(row)
        print(f"{spec:18s} {kind:8s} bound {res.bound:8.4f}  empirical {res.empirical:7.4f}  "
              f"complexity {res.complexity_term:8.4f}  sampling {res.sampling_term:6.4f}  "
              f"valid {val['valid_bits_per_token']:.4f} / smoothed {val['valid_smoothed_bits_per_token']:.4f}  "
              f"vacuous {res.vacuous}  ({seconds:.0f} s)", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out = {"generated": datetime.date.today().isoformat(),
           "command": "python scripts/bounds_builtin.py" + (f" --only {args.only}" if args.only else ""),
           "train_documents": len(documents), "delta": 0.05,
           "notes": ("timings on 2 shared CPU cores, one torch thread; token rows treat the training split "
                     "as one sequence, document rows its .. source: blocks"),
           "rows": keep + rows}
    OUT.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
