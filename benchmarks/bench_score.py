"""Scoring throughput: seminfo's score_bytes vs a naive per-window loop vs lm-evaluation-harness.

    .venv/bin/python benchmarks/bench_score.py                         # builtin:gpt, validation split
    .venv/bin/python benchmarks/bench_score.py --smollm2-bytes 100000   # and SmolLM2 on 100,000 bytes
    .venv/bin/python benchmarks/bench_score.py --compile                # and seminfo with torch.compile
    .venv/bin/python benchmarks/bench_score.py --ray 1,2 --skip-lm-eval # Ray: 1 and 2 workers vs 1 process
    python3 benchmarks/bench_score.py --gpu                             # on a CUDA machine: ~1B Llama, bf16

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


def bench(spec: str, data: bytes, rows: list[dict], *, compile: bool = False, lm_eval: bool = True,
          naive: bool = True) -> None:
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
    if compile:
        fast = load_model(spec, device="cpu", compile=True)
        t0 = time.perf_counter()
        score_bytes(fast, data, window=window, stride=window, progress=False, per_token=False)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = score_bytes(fast, data, window=window, stride=window, progress=False, per_token=False)
        rows.append(dict(model=spec, method="seminfo, torch.compile (2nd run)", tokens=int(r.n_tokens),
                         bytes=len(data), seconds=time.perf_counter() - t0, bits=float(r.total_bits),
                         note=f"1st run {first:.1f} s, of which compiling {fast.compile_seconds:.1f} s"))
    if not (lm_eval or naive):
        return
    ids = model.tokenizer.encode(data)
    hf_model, hf_tok = model.hf_model, model.hf_tokenizer
    hf_ids = hf_tok(data.decode("utf-8"), add_special_tokens=False)["input_ids"]
    if hf_ids != ids:
        print(f"warning: {spec}: HF tokenizer ids differ from seminfo's ({len(hf_ids)} vs {len(ids)})",
              file=sys.stderr)
    if naive:
        t0 = time.perf_counter()
        bits = naive_bits(hf_model, ids, prefix_id, window)
        rows.append(dict(model=spec, method="naive HF loop (batch 1)", tokens=len(ids), bytes=len(data),
                         seconds=time.perf_counter() - t0, bits=bits))
    if lm_eval:
        t0 = time.perf_counter()
        bits = lm_eval_bits(hf_model, hf_tok, data.decode("utf-8"), prefix_id, window)
        rows.append(dict(model=spec, method="lm-eval loglikelihood_rolling", tokens=len(hf_ids),
                         bytes=len(data), seconds=time.perf_counter() - t0, bits=bits))


def bench_ray(spec: str, workers: list[int], rows: list[dict]) -> None:
    """The embedded validation split in one process, then on a local Ray with each worker count.

    Ray is started once, before any timing; each timed run includes starting its actors and loading
    the model in each (what a user waits for), and the line says how long that took.
    """
    import ray

    from seminfo.models.builtin import corpus_path
    from seminfo.models import load_model, score_text
    path = corpus_path("valid")
    n = path.stat().st_size
    model = load_model(spec, device="cpu")
    score_text(model, "warm-up text", per_token=False)
    t0 = time.perf_counter()
    r = score_text(model, path, per_token=False)
    rows.append(dict(model=spec, method="one process", tokens=r.n_tokens, bytes=n,
                     seconds=time.perf_counter() - t0, bits=r.total_bits))
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for w in workers:
        from seminfo.scale import RayPool
        t0 = time.perf_counter()
        RayPool(spec, workers=w, needs=("score",), load_options={"device": "cpu"}).close()
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = score_text(spec, path, per_token=False, ray="local", workers=w, load_options={"device": "cpu"})
        rows.append(dict(model=spec, method=f"Ray, {w} worker{'s' if w > 1 else ''}", tokens=r.n_tokens,
                         bytes=n, seconds=time.perf_counter() - t0, bits=r.total_bits,
                         note=f"of which ~{start:.1f} s start actors + load model"))
    ray.shutdown()


def bench_gpu(rows: list[dict], *, n_layer: int = 16, window: int = 2048, batch: int = 8) -> None:
    """A ~1B-parameter Llama from a config (random weights, bf16) on the GPU: seminfo against a plain
    bf16 Hugging Face loop on the same windows, tokens/s and model FLOP utilisation (2 x parameters x
    tokens / time / the chip's bf16 matrix-product rate, measured here on 8192^3 products)."""
    import tempfile

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers

    from seminfo.models import load_model, score_bytes
    from seminfo.models.builtin import corpus_path
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
    peak = 20 * 2 * 8192 ** 3 / (time.perf_counter() - t0)
    del a
    text = corpus_path("valid").read_bytes()
    with tempfile.TemporaryDirectory() as d:
        tok = Tokenizer(models.BPE(byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        from tokenizers import trainers
        tok.train_from_iterator([text.decode("utf-8", "ignore")],
                                trainers.BpeTrainer(vocab_size=4096, special_tokens=["<s>"],
                                                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        from tokenizers import decoders
        tok.decoder = decoders.ByteLevel()
        hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<s>")
        cfg = LlamaConfig(vocab_size=4096, hidden_size=2048, intermediate_size=8192, num_hidden_layers=n_layer,
                          num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=window,
                          bos_token_id=0, eos_token_id=0, tie_word_embeddings=False)
        torch.manual_seed(0)
        LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(d)
        hf_tok.save_pretrained(d)
        model = load_model(d, device="cuda", dtype="auto")
        params = model.n_parameters()
        score_bytes(model, text[:20000], per_token=False, batch_size=batch)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = score_bytes(model, text, per_token=False, batch_size=batch)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        rows.append(dict(model=f"llama {params / 1e9:.2f}B", method="seminfo bf16", tokens=r.n_tokens,
                         bytes=len(text), seconds=dt, bits=r.total_bits,
                         note=f"MFU {2 * params * r.n_tokens / dt / peak:.1%} of {peak / 1e12:.0f} TFLOP/s"))
        hf = model.hf_model
        ids = model.tokenizer.encode(text)
        full = [int(model.prefix[0])] + list(ids)
        wins = [full[max(0, e - window):e] for e in range(len(ids), 0, -window)][::-1]
        total = 0.0
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for k in range(0, len(wins), batch):
                group = wins[k:k + batch]
                width = max(map(len, group))
                x = torch.zeros((len(group), width), dtype=torch.long)
                for i, w in enumerate(group):
                    x[i, :len(w)] = torch.tensor(w)
                x = x.cuda()
                lp = torch.log_softmax(hf(input_ids=x).logits.float(), -1)
                total -= float(lp[:, :-1].gather(-1, x[:, 1:, None]).sum())
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        rows.append(dict(model=f"llama {params / 1e9:.2f}B", method="plain HF bf16 loop", tokens=r.n_tokens,
                         bytes=len(text), seconds=dt, bits=float("nan"),
                         note=f"MFU {2 * params * r.n_tokens / dt / peak:.1%} (window sums, not comparable bits)"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-bytes", type=int, default=None, help="bytes of the validation split for builtin:gpt")
    ap.add_argument("--smollm2-bytes", type=int, default=0, help="also SmolLM2 on this many bytes (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also seminfo with torch.compile")
    ap.add_argument("--skip-lm-eval", action="store_true", help="no naive loop, no lm-eval")
    ap.add_argument("--ray", default=None, metavar="N,M", help="Ray rows with these worker counts")
    ap.add_argument("--gpu", action="store_true", help="the GPU benchmark only (CUDA machine)")
    args = ap.parse_args()
    import torch
    rows: list[dict] = []
    if args.gpu:
        bench_gpu(rows)
        _print(rows)
        return
    torch.set_num_threads(args.threads)
    from seminfo.models.builtin import corpus_path
    text = corpus_path("valid").read_bytes()
    if args.ray:
        bench_ray("builtin:gpt", [int(w) for w in args.ray.split(",")], rows)
        _print(rows)
        return
    other = not args.skip_lm_eval
    bench("builtin:gpt", text[: args.max_bytes] if args.max_bytes else text, rows, compile=args.compile,
          lm_eval=other, naive=other)
    if args.smollm2_bytes:
        cut = text[: args.smollm2_bytes].decode("utf-8", errors="ignore").encode("utf-8")
        bench("builtin:smollm2", cut, rows, compile=args.compile, lm_eval=other, naive=other)
    _print(rows)


def _print(rows: list[dict]) -> None:
    head = f"{'model':16} {'method':32} {'tokens':>7} {'bytes':>7} {'seconds':>8} {'tok/s':>8} " \
           f"{'bits/token':>10} {'bits/byte':>9} {'rel. diff':>9} {'x first':>7}  note"
    print(head)
    ref, first = {}, {}
    for r in rows:
        ref.setdefault(r["model"], r["bits"])
        first.setdefault(r["model"], r["seconds"])
        rel = abs(r["bits"] - ref[r["model"]]) / abs(ref[r["model"]])
        print(f"{r['model']:16} {r['method']:32} {r['tokens']:7d} {r['bytes']:7d} {r['seconds']:8.2f} "
              f"{r['tokens'] / r['seconds']:8.0f} {r['bits'] / r['tokens']:10.5f} {r['bits'] / r['bytes']:9.5f} "
              f"{rel:9.2g} {r['seconds'] / first[r['model']]:7.2f}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
