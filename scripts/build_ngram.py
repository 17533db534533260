"""Choose the order of ``builtin:ngram``: fit modified Kneser-Ney of several orders, score the validation split.

    .venv/bin/python scripts/build_ngram.py                 # orders 1..8, prints a Markdown table
    .venv/bin/python scripts/build_ngram.py --orders 4 6

Trains on the embedded training split and scores the validation split, both tokenised with the
builtin GPT's tokenizer and preceded by the prefix token 0 (``<|endoftext|>``), exactly as
:func:`seminfo.models.ngram.builtin_ngram` does. The chosen order is
:data:`seminfo.models.ngram.BUILTIN_ORDER`; the table is in docs/ngram.md. Nothing is written:
``builtin_ngram()`` builds and caches its model on first use.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from seminfo.models.builtin import corpus_path
from seminfo.models.ngram import KneserNeyModel, _builtin_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, nargs="+", default=list(range(1, 9)))
    args = ap.parse_args()
    tok = _builtin_tokenizer()
    t0 = time.perf_counter()
    train = np.asarray(tok.encode(corpus_path("train").read_bytes()), dtype=np.int64)
    valid_bytes = corpus_path("valid").read_bytes()
    valid = np.asarray(tok.encode(valid_bytes), dtype=np.int64)
    print(f"tokenised {train.size:,} training and {valid.size:,} validation tokens in "
          f"{time.perf_counter() - t0:.1f} s\n")
    print("| order | fit (s) | score (s) | bits/token | bits/byte | mean entropy (bits/token) | n-grams |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for order in args.orders:
        t0 = time.perf_counter()
        model = KneserNeyModel.fit([train], order=order, vocab_size=tok.vocab_size, tokenizer=tok, prefix=(0,))
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        s, h = model.token_stats(valid[None])
        t_score = time.perf_counter() - t0
        bits = float(s.sum()) / math.log(2)
        n_grams = sum(model._levels[k].keys.size for k in range(1, order + 1))
        print(f"| {order} | {t_fit:.1f} | {t_score:.1f} | {bits / valid.size:.4f} | {bits / len(valid_bytes):.4f} "
              f"| {float(h.mean()) / math.log(2):.3f} | {n_grams:,} |")


if __name__ == "__main__":
    main()
