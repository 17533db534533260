"""Train the embedded tokenizer and GPT (``builtin:gpt``) on the bundled corpus.

    python scripts/train_builtin.py --device cpu   # the shipped checkpoint: seed 0, defaults below

Writes src/seminfo/data/builtin_gpt/: a Hugging Face GPT-2 directory (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json) plus training.json with the settings,
the loss curve, the training time and the validation bits per byte in two conventions.

* Tokenizer: a byte-level BPE trained with the `tokenizers` library (4,096 tokens including
  ``<|endoftext|>``, which is also the prefix token that opens every text). Training it is
  deterministic, so a re-run reproduces tokenizer.json byte for byte (and builtin:ngram with it).
* Model: GPT-2 built from a config (4 layers, width 192, 4 heads, 256-token context, tied
  embeddings; 2,615,424 parameters).
* Recipe: AdamW (betas 0.9/0.95, weight decay 0.1, peak learning rate 3e-3, linear warm-up then
  cosine decay), 2,000 steps of 16 windows of 256 tokens drawn uniformly from the training split
  (8.2M token positions, about 8 passes over its 1.02M tokens). Half the windows are opened by
  ``<|endoftext|>``, as every text is at inference; the other half start mid-text, as the later
  windows of a long text do when it is scored in windows. The forward pass and the loss go
  through ``torch.compile`` (about 1.5x faster on CPU than eager; ``--no-compile`` runs eagerly).
* Time: the shipped checkpoint was made by the command above on 2 CPU cores (torch 2.13.0 CPU,
  2026-12-03): 1,199 s of training, 20 min 23 s for the whole script including the tokenizer, the
  compilation (about 30 s) and both validations. Validation: 1.4002 bits/byte in
  lm-evaluation-harness's rolling windows (what ``seminfo score`` reports), 1.4071 with every
  255-token chunk opened by ``<|endoftext|>``.
* Reproducibility: runs are seeded (numpy and torch). Whether a re-run on the same machine is
  bit-identical was not checked; across CPU types, thread counts or devices (``--device cuda``)
  floating-point summation order differs, so a re-run there gives slightly different weights.
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
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "seminfo" / "data"
EOT = "<|endoftext|>"


def train_tokenizer(train_path: pathlib.Path, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(train_path)], trainer)
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eot-fraction", type=float, default=0.5,
                    help="share of training rows opened by <|endoftext|>; the rest start mid-text")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help="fuse the forward pass and loss with torch.compile (about 1.5x faster on CPU; "
                         "needs a C++ compiler; --no-compile runs eagerly)")
    ap.add_argument("--out", type=pathlib.Path, default=DATA / "builtin_gpt")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    train_path, valid_path = DATA / "corpus" / "train.txt", DATA / "corpus" / "valid.txt"

    tok = train_tokenizer(train_path, args.vocab)
    eot = tok.token_to_id(EOT)
    train_ids = np.array(tok.encode(train_path.read_text(encoding="utf-8")).ids, dtype=np.int64)
    valid_text = valid_path.read_text(encoding="utf-8")
    valid_ids = np.array(tok.encode(valid_text).ids, dtype=np.int64)
    print(f"tokens: train {train_ids.size:,}, valid {valid_ids.size:,}; "
          f"{len(train_path.read_bytes()) / train_ids.size:.2f} bytes/token")

    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=args.ctx, n_embd=args.width,
                     n_layer=args.layers, n_head=args.heads, bos_token_id=eot, eos_token_id=eot,
                     tie_word_embeddings=True, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(cfg).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, args.steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))

    def batch_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids=x).logits                                        # (B, ctx, V)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))

    loss_fn = torch.compile(batch_loss) if args.compile else batch_loss

    # A row opened by EOT is how every text starts at inference (the prefix token); a row that starts
    # mid-text is how every later window starts when long texts are scored in windows (lm-evaluation-
    # harness's rolling windows open with the previous text token). --eot-fraction of rows are the first.
    curve, t0 = [], time.time()
    model.train()
    for step in range(args.steps):
        starts = rng.integers(0, train_ids.size - args.ctx - 1, size=args.batch)
        rows = np.stack([train_ids[s:s + args.ctx + 1] for s in starts])         # (B, ctx + 1)
        opened = rng.random(args.batch) < args.eot_fraction
        x = np.where(opened[:, None], np.concatenate([np.full((args.batch, 1), eot), rows[:, :-2]], 1),
                     rows[:, :-1])
        y = np.where(opened[:, None], rows[:, :-1], rows[:, 1:])
        x, y = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
        loss = loss_fn(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps - 1:
            curve.append((step, loss.item() / math.log(2)))
            print(f"step {step:5d}  loss {curve[-1][1]:.3f} bits/token  "
                  f"{time.time() - t0:6.0f} s", flush=True)

    train_seconds = time.time() - t0

    # Validation 1: disjoint chunks of ctx-1 tokens, each opened by EOT, every token scored once.
    model.eval()
    width, total_nats = args.ctx - 1, 0.0
    with torch.no_grad():
        for s in range(0, valid_ids.size, width):
            chunk = valid_ids[s:s + width]
            x = torch.from_numpy(np.concatenate([[eot], chunk[:-1]]))[None].to(args.device)
            lp = torch.log_softmax(model(input_ids=x).logits[0].double(), -1).cpu()
            total_nats -= float(lp[torch.arange(chunk.size), torch.from_numpy(chunk)].sum())
    n_bytes = len(valid_text.encode("utf-8"))
    bpb, bpt = total_nats / math.log(2) / n_bytes, total_nats / math.log(2) / valid_ids.size
    print(f"validation, EOT-opened chunks: {bpt:.4f} bits/token, {bpb:.4f} bits/byte")

    args.out.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(args.out, safe_serialization=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=None)
    fast.model_max_length = args.ctx
    fast.save_pretrained(args.out)
    # Validation 2: what `seminfo score` and lm-evaluation-harness report (disjoint rolling windows of
    # ctx predicted tokens; only the first opened by EOT, later ones by the previous text token).
    from seminfo.models import load_model, score_text
    rolling = score_text(load_model(str(args.out), device="cpu"), valid_text, progress=False, per_token=False)
    print(f"validation, rolling windows (seminfo score): {rolling.bits_per_token:.4f} bits/token, "
          f"{rolling.bits_per_byte:.4f} bits/byte")

    meta = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()}
    (args.out / "training.json").write_text(json.dumps({
        "settings": meta, "parameters": n_params, "train_tokens": int(train_ids.size),
        "valid_tokens": int(valid_ids.size), "valid_bytes": n_bytes,
        "valid_bits_per_token": bpt, "valid_bits_per_byte": bpb,
        "valid_rolling_bits_per_token": rolling.bits_per_token,
        "valid_rolling_bits_per_byte": rolling.bits_per_byte,
        "train_seconds": train_seconds, "loss_curve_bits_per_token": curve,
        "torch": torch.__version__, "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads()}, indent=1))


if __name__ == "__main__":
    main()
