"""Scoring throughput: seminfo's score_bytes vs a naive per-window loop vs lm-evaluation-harness.

    .venv/bin/python benchmarks/bench_score.py                       # builtin:gpt, validation split
    .venv/bin/python benchmarks/bench_score.py --smollm2-bytes 8000   # and SmolLM2 on 8,000 bytes

All three score the same token ids with lm-evaluation-harness's rolling windows
(``get_rolling_token_windows(context_len=1)``): the targets come in disjoint blocks of W tokens
(W = the model's context length), each scored in one forward over the W tokens of
``[prefix] + ids`` that end just before its last target (the first block sees the prefix token, a
short last block gets a full window of left context), so the total bits must agree to float32
rounding:

* **seminfo**: ``seminfo.models.score_bytes(model, text, window=W, stride=W)`` (its defaults);
* **naive**: a plain Hugging Face forward per window, batch size 1, log-softmax and gather;
* **lm-eval**: ``HFLM(pretrained=<the same torch model>, batch_size=1).loglikelihood_rolling``.

The naive loop and lm-eval get the torch model and HF tokenizer that seminfo loaded
(``model.hf_model``, ``model.hf_tokenizer``), so all three use identical weights.

Prints one row per (model, method): tokens, bytes, seconds, tokens per second, bits per token and
bits per byte, and the largest |difference| in total bits from seminfo. Needs ``lm-eval`` (pinned in
benchmarks/requirements.txt). Results are recorded in docs/benchmarks.md ("Scoring").
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def naive_bits(hf_model, ids: list[int], prefix_id: int, window: int) -> float:
    """Total surprisal (bits) of `ids` by one HF forward per window, batch size 1.

    Targets come in disjoint blocks of `window` tokens; each forward sees the `window` tokens of
    ``[prefix] + ids`` that end just before the block's last target (lm-eval's rolling windows).
    """
    import torch
    full = [prefix_id] + list(ids)
    total = 0.0
    for start in range(0, len(ids), window):
        end = min(start + window, len(ids))                      # targets ids[start:end]
        inp = full[max(0, end - window):end]                     # ends at full[end - 1] = ids[end - 2]
        with torch.no_grad():
            logits = hf_model(input_ids=torch.tensor([inp])).logits[0].float()   # (len(inp), K)
        lp = torch.log_softmax(logits[len(inp) - (end - start):], dim=-1)       # rows predicting targets
        total -= float(lp.gather(1, torch.tensor(ids[start:end])[:, None]).sum())
    return total / math.log(2)


def lm_eval_bits(hf_model, hf_tokenizer, text: str, prefix_id: int, window: int) -> float:
    """Total surprisal (bits) from lm-evaluation-harness's HF loglikelihood_rolling."""
    import logging
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    lm = HFLM(pretrained=hf_model, tokenizer=hf_tokenizer, batch_size=1, max_length=window, device="cpu",
              prefix_token_id=prefix_id)
    req = Instance(request_type="loglikelihood_rolling", doc={}, arguments=(text,), idx=0)
    (ll,) = lm.loglikelihood_rolling([req], disable_tqdm=True)
    return -ll / math.log(2)


def bench(spec: str, data: bytes, rows: list[dict]) -> None:
    """Score `data` with `spec` three ways; the naive loop and lm-eval share seminfo's torch model."""
    from seminfo.models import load_model, score_bytes
    model = load_model(spec, device="cpu")
    window, prefix_id = int(model.max_context), int(model.prefix[0])
    # warm-up (thread pools, allocator, oneDNN kernels) so that no method pays it inside its timing
    score_bytes(model, data[:2000], progress=False, per_token=False)
    t0 = time.perf_counter()
    r = score_bytes(model, data, window=window, stride=window, progress=False, per_token=False)
    rows.append(dict(model=spec, method="seminfo score_bytes", tokens=int(r.n_tokens), bytes=len(data),
                     seconds=time.perf_counter() - t0, bits=float(r.total_bits)))
    ids = model.tokenizer.encode(data)
    hf_model, hf_tok = model.hf_model, model.hf_tokenizer
    hf_ids = hf_tok(data.decode("utf-8"), add_special_tokens=False)["input_ids"]
    if hf_ids != ids:
        print(f"warning: {spec}: HF tokenizer ids differ from seminfo's ({len(hf_ids)} vs {len(ids)})",
              file=sys.stderr)
    t0 = time.perf_counter()
    bits = naive_bits(hf_model, ids, prefix_id, window)
    rows.append(dict(model=spec, method="naive HF loop (batch 1)", tokens=len(ids), bytes=len(data),
                     seconds=time.perf_counter() - t0, bits=bits))
    t0 = time.perf_counter()
    bits = lm_eval_bits(hf_model, hf_tok, data.decode("utf-8"), prefix_id, window)
    rows.append(dict(model=spec, method="lm-eval loglikelihood_rolling", tokens=len(hf_ids), bytes=len(data),
                     seconds=time.perf_counter() - t0, bits=bits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-bytes", type=int, default=None, help="bytes of the validation split for builtin:gpt")
    ap.add_argument("--smollm2-bytes", type=int, default=0, help="also SmolLM2 on this many bytes (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from seminfo.models.builtin import corpus_path
    text = corpus_path("valid").read_bytes()
    rows: list[dict] = []
    bench("builtin:gpt", text[: args.max_bytes] if args.max_bytes else text, rows)
    if args.smollm2_bytes:
        cut = text[: args.smollm2_bytes].decode("utf-8", errors="ignore").encode("utf-8")
        bench("builtin:smollm2", cut, rows)
    head = f"{'model':16} {'method':32} {'tokens':>7} {'bytes':>7} {'seconds':>8} {'tok/s':>8} " \
           f"{'bits/token':>10} {'bits/byte':>9} {'|dbits| vs seminfo':>18}"
    print(head)
    ref = {}
    for r in rows:
        ref.setdefault(r["model"], r["bits"])
        print(f"{r['model']:16} {r['method']:32} {r['tokens']:7d} {r['bytes']:7d} {r['seconds']:8.2f} "
              f"{r['tokens'] / r['seconds']:8.0f} {r['bits'] / r['tokens']:10.5f} {r['bits'] / r['bytes']:9.5f} "
              f"{abs(r['bits'] - ref[r['model']]):18.3g}")


if __name__ == "__main__":
    main()
