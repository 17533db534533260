"""Train ``builtin:mamba`` (Mamba2) or ``builtin:diffusion`` (a masked-diffusion LM) on the embedded corpus.

    python scripts/train_arch.py --arch mamba --device cpu       # the shipped builtin:mamba (seed 0)
    python scripts/train_arch.py --arch diffusion --compile --device cpu   # the shipped builtin:diffusion

Both use the builtin GPT's tokenizer (``data/builtin_gpt/tokenizer.json``, 4,096 byte-level BPE tokens,
``<|endoftext|>`` = id 0) and the same training split, so the three built-ins are compared on the same
tokens. Each writes a Hugging Face directory (config.json, model.safetensors, tokenizer files) and
training.json with the settings, the loss curve and the training time (validation figures: see
docs/architectures.md).

* ``mamba``: ``Mamba2ForCausalLM`` built from a config (6 layers, width 192, 6 heads of 64, state 32,
  tied embeddings). Next-token cross-entropy on windows of 256 tokens, half of them opened by
  ``<|endoftext|>`` as in ``scripts/train_builtin.py``.
* ``diffusion``: builtin:gpt's GPT-2 adapted to masked diffusion, as DiffuLLaMA (Gong et al. 2024) and
  Dream adapt autoregressive models: the same weights, one new input row for the mask id 4096
  (recorded as ``mask_token_id``; initialised at the mean embedding), attention made bidirectional
  (the model is run with a full attention mask) and the prediction for position i read at position
  i - 1, which keeps the pretrained head's alignment. The config records
  ``seminfo_masked = {"bidirectional": true, "shift": 1}`` so that seminfo runs it that way. Objective
  of MDLM / LLaDA (Sahoo et al. 2024, Nie et al. 2025): draw t ~ U(0, 1) per row, mask each token
  with probability t, minimise the cross-entropy on masked tokens weighted 1/t, normalised by the row
  length (t floored at 1e-3 as MDLM does). The first token of a row (``<|endoftext|>`` or a text token)
  stays visible, and half the rows keep a random prefix of up to half the window visible and score
  only the rest, as in LLaDA's supervised stage, so that the model also learns the conditional form
  used to score long texts in windows and to answer prompts.
  Why adapt rather than train from scratch: a bidirectional network trained from scratch (BERT-style,
  and ModernBERT with rotary positions) stayed in the context-free "unigram plateau" for the whole
  budget of 30 CPU minutes: its masked positions hold no token of their own, so nothing is learned
  until attention learns locality. The adapted model uses context from the first steps.
* Recipe: AdamW (betas 0.9/0.95, weight decay 0.1, peak learning rate 3e-3 for mamba and 1e-3 for the
  diffusion fine-tune, linear warm-up over the first 1/30 of the steps, cosine decay), 1,200 steps of
  16 windows of 256 tokens, seeds 0 (numpy, torch).
* ``--compile`` fuses forward and loss with torch.compile (faster on CPU when a C++ compiler is present).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "seminfo" / "data"


def build(arch: str, vocab: int, eot: int, ctx: int):
    if arch == "mamba":
        from transformers import Mamba2Config, Mamba2ForCausalLM
        cfg = Mamba2Config(vocab_size=vocab, hidden_size=192, state_size=32, num_heads=6, head_dim=64,
                           expand=2, n_groups=1, num_hidden_layers=6, conv_kernel=4, chunk_size=64,
                           tie_word_embeddings=True, bos_token_id=eot, eos_token_id=eot,
                           pad_token_id=eot)
        return Mamba2ForCausalLM(cfg)
    # masked diffusion adapted from the autoregressive builtin:gpt (DiffuLLaMA / Dream): the same GPT-2
    # weights, one new input row for the mask id, attention made bidirectional (a full mask), and the
    # prediction for position i read at position i - 1 (the shift keeps the AR head's alignment)
    from transformers import GPT2LMHeadModel
    model = GPT2LMHeadModel.from_pretrained(DATA / "builtin_gpt")
    model.resize_token_embeddings(vocab + 1, mean_resizing=True)
    model.config.mask_token_id = vocab
    model.config.seminfo_masked = {"bidirectional": True, "shift": 1}
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["mamba", "diffusion"], required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="default: 1,200")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--lr", type=float, default=None, help="default: 3e-3 (mamba), 1e-3 (diffusion, a fine-tune)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()
    steps = args.steps or 1200
    out = args.out or DATA / f"builtin_{args.arch}"
    lr = args.lr or (3e-3 if args.arch == "mamba" else 1e-3)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_file=str(DATA / "builtin_gpt" / "tokenizer.json"),
                                  bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token=None)
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    vocab = len(tok)
    train_text = (DATA / "corpus" / "train.txt").read_text(encoding="utf-8")
    train_ids = np.array(tok.backend_tokenizer.encode(train_text).ids, dtype=np.int64)
    print(f"train tokens: {train_ids.size:,}")

    model = build(args.arch, vocab, eot, args.ctx).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.arch}: {n_params:,} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    mask_id = vocab

    def causal_loss(x, y):
        logits = model(input_ids=x).logits                                          # (B, T, V)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))

    def masked_loss(x, masked, weight):
        # x (B, T) clean ids; masked (B, T) bool (column 0 never); weight (B,) = 1/t per row
        inp = torch.where(masked, torch.full_like(x, mask_id), x)
        full = torch.ones(x.shape[0], 1, x.shape[1], x.shape[1], dtype=torch.bool, device=x.device)
        logits = model(input_ids=inp, attention_mask=full).logits[:, :-1, :vocab]   # predicts x[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1),
                                               reduction="none").view(x.shape[0], -1)  # (B, T - 1)
        return (ce * masked[:, 1:] * weight[:, None]).sum() / x[:, 1:].numel()

    loss_fn = causal_loss if args.arch == "mamba" else masked_loss
    if args.compile:
        loss_fn = torch.compile(loss_fn)

    B, T = args.batch, args.ctx
    curve, t0 = [], time.time()
    model.train()
    for step in range(steps):
        starts = rng.integers(0, train_ids.size - T - 1, size=B)
        rows = np.stack([train_ids[s:s + T + 1] for s in starts])                   # (B, T + 1)
        opened = rng.random(B) < 0.5
        if args.arch == "mamba":
            x = np.where(opened[:, None], np.concatenate([np.full((B, 1), eot), rows[:, :-2]], 1), rows[:, :-1])
            y = np.where(opened[:, None], rows[:, :-1], rows[:, 1:])
            loss = loss_fn(torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device))
        else:
            x = np.where(opened[:, None], np.concatenate([np.full((B, 1), eot), rows[:, :-2]], 1), rows[:, :-1])
            t = np.maximum(rng.random(B), 1e-3)
            masked = rng.random((B, T)) < t[:, None]
            keep = np.where(rng.random(B) < 0.5, rng.integers(0, T // 2 + 1, size=B), 0)
            masked &= np.arange(T)[None, :] >= keep[:, None]
            masked[:, 0] = False                          # the opener (EOT or a text token) is context
            loss = loss_fn(torch.from_numpy(x).to(args.device), torch.from_numpy(masked).to(args.device),
                           torch.from_numpy(1.0 / t).float().to(args.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            curve.append((step, loss.item() / math.log(2)))
            print(f"step {step:5d}  loss {curve[-1][1]:.3f} bits/token  {time.time() - t0:6.0f} s", flush=True)
    train_seconds = time.time() - t0

    out.mkdir(parents=True, exist_ok=True)
    model.eval().to("cpu").save_pretrained(out, safe_serialization=True)
    tok.model_max_length = args.ctx
    tok.save_pretrained(out)
    meta = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()}
    meta["steps"] = steps
    meta["lr"] = lr
    record = {"arch": args.arch, "settings": meta, "parameters": n_params, "train_tokens": int(train_ids.size),
              "train_seconds": train_seconds, "loss_curve_bits_per_token": curve,
              "torch": torch.__version__, "machine": platform.machine(), "cpu_count": os.cpu_count(),
              "torch_threads": torch.get_num_threads()}
    (out / "training.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {out} ({train_seconds:.0f} s of training)")


if __name__ == "__main__":
    main()
