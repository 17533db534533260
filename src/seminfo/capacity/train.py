"""Train GPT-2-style models on a fact corpus for a chosen number of exposures; save and load them.

One exposure is every person's biography seen once, freshly rendered (random templates and sentence
order, :meth:`FactCorpus.render_ids`); a run of E exposures is E epochs of n_people biographies. Each
biography is one training row, ``<s>`` + its tokens, right-padded (padding is not scored and, the
attention being causal, never seen by a scored position). The loss is the mean next-token cross-entropy
over every token of the biographies (names and template words included), as in Allen-Zhu & Li [1].
Optimiser: AdamW (betas 0.9, 0.98, weight decay 0.01 on matrices only), linear warm-up over the first
5% of steps then cosine decay to 10% of the peak rate; one fixed seed for the initialisation, the data
order and the renderings.

A trained model is saved as a folder: ``model.safetensors`` (the weights, safetensors only), ``config.json``
(the GPT2Config), ``tokenizer.json`` (the corpus vocabulary) and ``capacity.json`` (the corpus description
and the training record). :func:`load_capacity_model` returns a :class:`seminfo.models.hf.HFModel` over
the corpus tokenizer, usable by stored_bits, score_text and generalization_bound.

References
----------
[1] Z. Allen-Zhu, Y. Li, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
    arXiv:2404.05405, 2024.
[2] A. Radford et al., "Language Models are Unsupervised Multitask Learners", 2019 (GPT-2).

Leaves out: mixed precision, gradient accumulation, multi-device training, the paper's learning-rate grids.
"""

from __future__ import annotations

import json
import math
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, ModelNotAvailableError
from .._validate import as_float, as_int, as_path, as_seed, check_device, check_output_path
from ..results import Result
from .facts import FactCorpus, FactTokenizer

__all__ = ["TrainRecord", "train_capacity_model", "save_capacity_model", "load_capacity_model",
           "count_parameters"]

#: Largest total of training rows (exposures x people) one call accepts.
MAX_ROWS = 2 * 10 ** 9


@dataclass(frozen=True)
class TrainRecord(Result):
    """What a training run did (the model itself is `model`, not part of ``as_dict``)."""

    n_layer: int
    n_embd: int
    n_head: int
    n_params: int
    n_params_non_embedding: int
    exposures: int
    steps: int
    batch_size: int
    lr: float
    final_train_loss: float
    seconds: float
    device: str
    threads: int
    seed: int
    units: str = "nats/token"
    field_units: dict = field(default_factory=lambda: {"final_train_loss": "nats/token", "seconds": "s"})


@dataclass
class TrainedModel:
    """A trained model (an HFModel over the corpus tokenizer), its corpus and its record."""

    model: Any
    corpus: FactCorpus
    record: TrainRecord


def count_parameters(hf_model: Any) -> tuple[int, int]:
    """(all parameters, tied embeddings counted once; non-embedding: without token and position tables)."""
    total = int(sum(p.numel() for p in hf_model.parameters()))
    emb = hf_model.transformer.wte.weight.numel() + hf_model.transformer.wpe.weight.numel()
    return total, total - int(emb)


def _config(corpus: FactCorpus, n_layer: int, n_embd: int, n_head: int, n_positions: int):
    from transformers import GPT2Config
    return GPT2Config(vocab_size=corpus.tokenizer.vocab_size, n_positions=n_positions, n_embd=n_embd,
                      n_layer=n_layer, n_head=n_head, n_inner=4 * n_embd, resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, bos_token_id=corpus.bos_id, eos_token_id=corpus.bos_id,
                      tie_word_embeddings=True, loss_type="ForCausalLM")


def _bio_length(corpus: FactCorpus) -> int:
    """Longest biography + the start token: every sentence in the longest template."""
    from .facts import TEMPLATES
    longest = max(len(t) for t in TEMPLATES) + 2                         # NAME is 3 tokens, VALUE >= 1
    return 1 + sum(longest + L - 1 for L in corpus.code_lengths)


def train_capacity_model(corpus: FactCorpus, *, n_layer: int = 2, n_embd: int = 32, n_head: int | None = None,
                         exposures: int = 100, batch_size: int = 128, lr: float = 1e-2,
                         weight_decay: float = 0.01, seed: int = 0, device: str = "cpu",
                         threads: int | None = None, progress: bool = True) -> TrainedModel:
    """Train a GPT-2 model on `corpus` for `exposures` passes over every biography.

    Parameters
    ----------
    corpus : FactCorpus
    n_layer, n_embd, n_head : int
        Depth, width and heads (default: n_embd // 16, at least 1; n_embd must be a multiple).
    exposures : int
        Times each person's biography is seen (each time freshly rendered).
    batch_size : int
        Biographies per optimiser step.
    lr : float
        Peak learning rate (warm-up 5% of steps, cosine decay to lr/10).
    weight_decay : float
        AdamW decoupled weight decay on matrices (not on biases, norms, position or token tables).
    seed : int
        Seed of the initialisation, the renderings and the order.
    device : str
        'cpu' (default), 'cuda', 'cuda:N', 'mps' or 'auto'.
    threads : int or None
        torch.set_num_threads for the run (None: leave as it is).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    TrainedModel
        ``.model`` (an HFModel over the corpus tokenizer, on `device`), ``.corpus``, ``.record``.
    """
    func = "train_capacity_model"
    if not isinstance(corpus, FactCorpus):
        raise InputError(f"The `corpus` parameter of {func} must be a FactCorpus (from fact_corpus). Got "
                         f"{type(corpus).__name__}.")
    n_layer = as_int(n_layer, "n_layer", func, minimum=1, maximum=64)
    n_embd = as_int(n_embd, "n_embd", func, minimum=1, maximum=8192)
    n_head = max(1, n_embd // 16) if n_head is None else as_int(n_head, "n_head", func, minimum=1)
    if n_embd % n_head:
        raise InputError(f"The `n_head` parameter of {func} must divide n_embd ({n_embd}). Got {n_head}.")
    exposures = as_int(exposures, "exposures", func, minimum=1)
    batch_size = as_int(batch_size, "batch_size", func, minimum=1, maximum=1 << 20)
    if exposures * corpus.n_people > MAX_ROWS:
        raise InputError(f"The `exposures` parameter of {func} gives {exposures * corpus.n_people:,} training "
                         f"rows, more than the limit of {MAX_ROWS:,}.")
    lr = as_float(lr, "lr", func, minimum=0.0, strict_min=True)
    weight_decay = as_float(weight_decay, "weight_decay", func, minimum=0.0)
    seed = as_seed(seed, func)
    if not isinstance(seed, int):
        raise InputError(f"The `seed` parameter of {func} must be a non-negative integer. Got {seed!r}.")
    if threads is not None:
        threads = as_int(threads, "threads", func, minimum=1)
    from ..models.hf import HFModel, resolve_device
    device = resolve_device(check_device(device, f"The `device` parameter of {func}"), func)

    import torch
    from transformers import GPT2LMHeadModel
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    cfg = _config(corpus, n_layer, n_embd, n_head, _bio_length(corpus))
    hf = GPT2LMHeadModel(cfg).to(device)
    n_params, n_nonemb = count_parameters(hf)
    decay = [p for n, p in hf.named_parameters() if p.ndim >= 2 and "wte" not in n and "wpe" not in n]
    rest = [p for n, p in hf.named_parameters() if not (p.ndim >= 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-8)
    per_epoch = math.ceil(corpus.n_people / batch_size)
    steps = per_epoch * exposures
    warm = max(1, int(0.05 * steps))

    def rate(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, steps - warm)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)

    rng = np.random.default_rng([seed, 1])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=f"capacity L{n_layer} d{n_embd} x{exposures}", unit="step",
                   mininterval=2.0, leave=False)
    hf.train()
    t0 = time.perf_counter()
    ema = None
    step = 0
    for _ in range(exposures):
        order = rng.permutation(corpus.n_people)
        for s in range(0, corpus.n_people, batch_size):
            rows = corpus.render_ids(order[s:s + batch_size], rng)                   # (B, T), -1 pads
            x = np.concatenate([np.full((rows.shape[0], 1), corpus.bos_id), rows], axis=1)
            labels = torch.as_tensor(x, device=device)                               # (B, T + 1)
            inp = labels.clamp(min=0)
            loss = hf(input_ids=inp, labels=labels.masked_fill(labels < 0, -100)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            value = float(loss.detach())
            ema = value if ema is None else 0.98 * ema + 0.02 * value
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(loss=f"{ema:.4f}")
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    hf.eval()
    record = TrainRecord(n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_params=n_params,
                         n_params_non_embedding=n_nonemb, exposures=exposures, steps=steps,
                         batch_size=batch_size, lr=lr, final_train_loss=float(ema), seconds=seconds,
                         device=device, threads=torch.get_num_threads(), seed=seed)
    model = HFModel(hf, corpus.tokenizer, name=f"capacity-L{n_layer}-d{n_embd}-x{exposures}", device=device,
                    prefix=(corpus.bos_id,))
    return TrainedModel(model=model, corpus=corpus, record=record)


def save_capacity_model(trained: TrainedModel, path: str | pathlib.Path) -> pathlib.Path:
    """Write a trained model folder: model.safetensors, config.json, tokenizer.json, capacity.json."""
    from safetensors.torch import save_file
    folder = check_output_path(path, "The `path` parameter of save_capacity_model", folder=True)
    folder.mkdir(exist_ok=True)
    hf = trained.model.hf_model
    state = {k: v.detach().cpu().contiguous() for k, v in hf.state_dict().items()
             if k != "lm_head.weight"}                                   # tied to transformer.wte.weight
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    hf.config.to_json_file(str(folder / "config.json"))
    trained.corpus.tokenizer.save(folder / "tokenizer.json")
    (folder / "capacity.json").write_text(json.dumps({"corpus": trained.corpus.describe(),
                                                      "train": trained.record.as_dict()}, indent=2),
                                          encoding="utf-8")
    return folder


def load_capacity_model(path: str | pathlib.Path, *, device: str = "cpu") -> Any:
    """Load a folder written by :func:`save_capacity_model` as an HFModel over the corpus tokenizer.

    The model carries ``.capacity`` (the saved corpus description and training record); rebuild the corpus
    with ``FactCorpus.from_description(model.capacity["corpus"])``.

    Raises
    ------
    ModelNotAvailableError
        The folder lacks a file, or the weights do not match the config.
    """
    func = "load_capacity_model"
    folder = as_path(path, f"The `path` parameter of {func}")
    for name in ("model.safetensors", "config.json", "tokenizer.json", "capacity.json"):
        if not (folder / name).is_file():
            raise ModelNotAvailableError(f"The `path` parameter of {func} names {str(folder)!r}, which has no "
                                         f"{name}: pass a folder written by save_capacity_model.")
    from ..models.hf import HFModel, resolve_device
    device = resolve_device(check_device(device, f"The `device` parameter of {func}"), func)
    import torch
    from safetensors.torch import load_file
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config.from_json_file(str(folder / "config.json"))
    hf = GPT2LMHeadModel(cfg)
    try:
        state = load_file(str(folder / "model.safetensors"))
    except Exception as exc:                   # SafetensorError on truncated/corrupted files
        raise ModelNotAvailableError(f"The weights in {str(folder)!r} cannot be read ({type(exc).__name__}). "
                                     "Save the model again.") from None
    try:
        missing, unexpected = hf.load_state_dict(state, strict=False)
    except RuntimeError:                         # a tensor of another shape than config.json says
        raise ModelNotAvailableError(f"The weights in {str(folder)!r} do not match its config.json (a tensor "
                                     "of another shape). Save the model again.") from None
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")
               and not k.endswith(".attn.masked_bias")]
    if missing or unexpected:
        raise ModelNotAvailableError(f"The weights in {str(folder)!r} do not match its config.json "
                                     f"({len(missing)} missing, {len(unexpected)} unexpected).")
    hf.tie_weights()
    tok = FactTokenizer.load(folder / "tokenizer.json")
    info = json.loads((folder / "capacity.json").read_text(encoding="utf-8"))
    model = HFModel(hf.to(torch.float32), tok, name=str(folder), device=device, prefix=(int(cfg.bos_token_id),))
    model.capacity = info
    return model
