"""The portable (integer) inference path against the float path: bits and speed, side by side.

    .venv/bin/python benchmarks/bench_portable.py --bytes 20000               # builtin:gpt, builtin:ngram
    .venv/bin/python benchmarks/bench_portable.py --models builtin:smollm2 --bytes 3000 --steps 20

For each model: bits/token and bits/byte of the first `--bytes` bytes of the validation split
(windows of the model's context, each opened by its prefix) with the float model and with its
portable twin; then tokens per second of one scoring pass (float ``token_stats`` against integer
``token_stats``, which computes every frequency row), and of feeding token by token (float ``feed``
against integer ``feed_freqs``) with batch 1 and 8. Speeds are wall-clock and CPU-time figures:
on a shared machine the CPU-time column is the steadier one. ``--threads`` sets torch's threads.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def _windows(ids: np.ndarray, model) -> np.ndarray:
    n = (model.max_context or 1024) - len(model.prefix)
    n = min(n, ids.size)
    return ids[: (ids.size // n) * n].reshape(-1, n)


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _feed_speed(model, B: int, steps: int, integer: bool, rng) -> tuple[float, float]:
    ids = rng.integers(0, min(model.vocab_size, 4000), (B, steps + 1))
    feed = model.feed_freqs if integer else model.feed
    st = model.begin(B)
    st, _ = feed(st, ids[:, :1])

    def run():
        s = st
        for t in range(1, steps + 1):
            s, _ = feed(s, ids[:, t:t + 1])
    _, w, c = _timed(run)
    return B * steps / w, B * steps / max(c, 1e-9)


def bench(spec: str, data: bytes, steps: int) -> list[tuple]:
    from seminfo.models import load_model
    from seminfo.models.portable import portable_model
    fm = load_model(spec, device="cpu")
    pm, lw, _ = _timed(lambda: portable_model(fm))
    ids = np.asarray(fm.tokenizer.encode(data), dtype=np.int64)
    W = _windows(ids, fm)
    n_bytes = len(fm.tokenizer.decode(W.reshape(-1).tolist()))
    (sf, _), fw, fc = _timed(lambda: fm.token_stats(W, entropy=False))
    (sp, _), pw, pc = _timed(lambda: pm.token_stats(W, entropy=False))
    bf, bp = sf.sum() / math.log(2), sp.sum() / math.log(2)
    rows = [(spec, "bits/token", bf / W.size, bp / W.size, bp / bf),
            (spec, "bits/byte", bf / n_bytes, bp / n_bytes, bp / bf),
            (spec, "score tok/s (wall)", W.size / fw, W.size / pw, fw / pw),
            (spec, "score tok/s (cpu)", W.size / fc, W.size / pc, fc / pc)]
    rng = np.random.default_rng(0)
    for B in (1, 8):
        fw_, fc_ = _feed_speed(fm, B, steps, False, rng)
        pw_, pc_ = _feed_speed(pm, B, steps, True, rng)
        rows.append((spec, f"feed B={B} tok/s (wall)", fw_, pw_, pw_ / fw_))
        rows.append((spec, f"feed B={B} tok/s (cpu)", fc_, pc_, pc_ / fc_))
    rows.append((spec, "portable load s", float("nan"), lw, float("nan")))
    print(f"# {spec}: {W.size:,} tokens, {n_bytes:,} bytes; portable id {pm.portable_id()[:16]}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["builtin:gpt", "builtin:ngram"])
    ap.add_argument("--bytes", type=int, default=20000, help="bytes of the validation split")
    ap.add_argument("--steps", type=int, default=100, help="tokens fed one by one per speed run")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from seminfo.models.builtin import corpus_path
    data = corpus_path("valid").read_bytes()[: args.bytes]
    rows = []
    for spec in args.models:
        rows += bench(spec, data, args.steps)
    print(f"\n{'model':<17} {'measure':<24} {'float':>12} {'integer':>12} {'int/float':>10}")
    for spec, what, f, p, r in rows:
        print(f"{spec:<17} {what:<24} {f:>12.4f} {p:>12.4f} {r:>10.4f}")


if __name__ == "__main__":
    main()
