"""The logit lens: read every layer's residual stream through the final norm and the unembedding.

For a causal LM with residual stream h_l (l = 0 embeddings, ..., L last layer), the lens distribution
of layer l at position t is ``p_l(. | x^t) = softmax(W_U norm_f(h_l[t]))`` (nostalgebraist 2020).
Per layer and position we report its entropy H(p_l), the relative entropy D(p_L || p_l) from the
model's final distribution (the convention of the tuned-lens paper) and the rank of the eventually
chosen token (the final distribution's argmax) under p_l; when the next input token is known, also
its rank and surprisal under p_l.

Hidden-state conventions (transformers 5.x), handled explicitly:

* GPT-2, Llama and most decoders return L + 1 states: the embeddings, the outputs of layers 1..L-1,
  and as the last entry the final output **already normalised** (``last_hidden_state``).
* Mamba / Mamba2 return the outputs of layers 1..L (un-normalised) followed by the normalised last
  output, and no embedding entry; we take layer 0 from the input embeddings ourselves.

Whether the last entry is normalised is also *checked* on every call: its lens must reproduce the
model's own logits (to 1e-4), otherwise the final norm is applied and re-checked, and an
architecture for which neither holds (logit soft-capping, scaled heads) raises InputError rather than
giving a wrong lens.

Sources
-------
1. nostalgebraist, "interpreting GPT: the logit lens", LessWrong (2020).
2. N. Belrose et al., "Eliciting latent predictions from transformers with the tuned lens",
   arXiv 2303.08112 (2023).

Left out: the tuned lens (learned per-layer affine probes), attention-only or MLP-only lenses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..results import Result
from ._hf import hf_parts, input_ids, is_recurrent, n_layers

__all__ = ["LensResult", "logit_lens", "residual_streams"]

_FUNC = "logit_lens"


@dataclass(frozen=True)
class LensResult(Result):
    """Per-layer next-token statistics of the logit lens (rows: layers 0..L, columns: positions).

    Attributes
    ----------
    layers : list of int
        Layer index of each row (0 = embeddings, L = the model's output).
    token_ids, tokens : list
        The input ids (prefix included) and their printable strings; column t predicts token t + 1.
    entropy_bits : ndarray (L + 1, T)
        H(p_l) in bits per token.
    kl_to_final_bits : ndarray (L + 1, T)
        D(p_L || p_l) in bits per token (0 on the last row).
    final_token_rank : ndarray (L + 1, T) of int
        Rank (0 = top) under p_l of the final distribution's argmax.
    next_token_rank, next_token_surprisal_bits : ndarray (L + 1, T - 1)
        Rank and -log2 p_l of the actual next input token.
    log_probs : ndarray (L + 1, T, K) or None
        Natural-log lens distributions, only with ``return_log_probs=True``.
    """

    layers: list
    token_ids: list
    tokens: list
    entropy_bits: np.ndarray
    kl_to_final_bits: np.ndarray
    final_token_rank: np.ndarray
    next_token_rank: np.ndarray
    next_token_surprisal_bits: np.ndarray
    last_entry_normalised: bool
    units: str = "bits/token"
    log_probs: np.ndarray | None = field(default=None, repr=False)


def _final_norm(hf: Any) -> Any:
    from ..models.arch import final_norm
    return final_norm(hf, _FUNC)


def _masked_forward(hf: Any, tm: Any, ids: np.ndarray, device: Any, func: str) -> tuple[Any, list]:
    """Left-to-right queries of a masked model: column t reads position t + 1 of ``x_<=t [MASK]...``.

    Row t of the batch holds ``ids[:t + 1]`` followed by masks up to length T + 1, so column t is the
    model's prediction of the next token given the past, with the rest of the sequence masked (the
    left-to-right order of the any-order mixture, as in seminfo.flow for masked models). Returns
    (logits (T, K), hidden states [(1, T, d)] per layer).
    """
    import torch
    mask = getattr(tm, "mask_token_id", None) if tm is not None else getattr(hf.config, "mask_token_id", None)
    if mask is None:
        raise InputError(f"The masked model given to {func} names no mask token.")
    T = ids.size
    limit = getattr(hf.config, "max_position_embeddings", None)
    if limit is not None and T + 1 > limit:
        raise InputError(f"The `inputs` parameter of {func} holds {T} tokens; a masked model reads them with "
                         f"one masked slot after, and its context is {limit}. Shorten the input.")
    rows = np.full((T, T + 1), int(mask), dtype=np.int64)
    for t in range(T):
        rows[t, : t + 1] = ids[: t + 1]
    x = torch.as_tensor(rows, device=device)
    kwargs = tm.forward_kwargs(x) if hasattr(tm, "forward_kwargs") else {}
    out = hf(input_ids=x, output_hidden_states=True, **kwargs)
    pick = torch.arange(T, device=device)
    query = pick + 1 - int(getattr(tm, "shift", 0))          # where the prediction of position t + 1 is read
    logits = out.logits[pick, query].float()                                 # (T, K)
    hs = [h[pick, query][None] for h in out.hidden_states]                  # [(1, T, d)]
    return logits, hs


def _restrict(logits: Any, tm: Any) -> Any:
    """Masked models never predict their mask id: -inf for it, and only the predictable ids
    (a no-op for causal models)."""
    mask = getattr(tm, "mask_token_id", None)
    if mask is None:
        return logits
    if mask < logits.shape[-1]:
        logits = logits.clone()
        logits[..., mask] = -float("inf")
    return logits[..., : tm.vocab_size]


def _residual_streams(hf: Any, out: Any, ids_t: Any) -> list:
    """Hidden states as [h_0 (embeddings), h_1, ..., h_L], the last one as the model returns it."""
    hs = list(out.hidden_states)
    L = n_layers(hf)
    if is_recurrent(hf):
        if len(hs) != L + 1:
            raise InputError(f"Unexpected hidden-state tuple of length {len(hs)} from a "
                             f"{hf.config.model_type} model with {L} layers (expected {L + 1}).")
        emb = hf.get_input_embeddings()(ids_t)
        return [emb] + hs[:L - 1] + [hs[L]]           # drop the raw last layer; keep the normed one
    if len(hs) != L + 1:
        raise InputError(f"Unexpected hidden-state tuple of length {len(hs)} from a "
                         f"{hf.config.model_type} model with {L} layers (expected {L + 1}).")
    return hs


def logit_lens(model: Any, inputs: Any, *, return_log_probs: bool = False) -> LensResult:
    """Per-layer lens p_l = softmax(W_U norm_f(h_l)): entropy, D(p_L || p_l) and ranks, in bits.

    Parameters
    ----------
    model : model spec, seminfo HFModel / HFMaskedModel, or transformers PreTrainedModel
        GPT-2, Llama-like decoders, Mamba, Mamba2 and BERT-style masked-diffusion models are
        tested. A masked model is read left to right: column t predicts token t + 1 from
        ``x_<=t`` with the rest of the sequence masked.
    inputs : str, bytes or array_like of int, shape (T,)
        Text (needs a seminfo token model; its prefix token is prepended) or token ids.
    return_log_probs : bool
        Also return the (L + 1, T, K) natural-log lens distributions (memory: 4 (L+1) T K bytes).

    Returns
    -------
    LensResult
        Per layer and position: entropy (bits/token), KL to the final distribution (bits/token),
        ranks. The last row equals the model's own output distribution.

    References
    ----------
    1. nostalgebraist (2020).  2. Belrose et al. (2023).
    """
    import torch

    hf, tm = hf_parts(model, _FUNC)
    ids, strs = input_ids(hf, tm, inputs, _FUNC)
    norm = _final_norm(hf)
    head = hf.get_output_embeddings()
    device = next(hf.parameters()).device
    ids_t = torch.as_tensor(ids[None], device=device)
    from ..models.arch import family_of
    with torch.no_grad():
        if family_of(hf).bidirectional or getattr(tm, "mask_token_id", None) is not None:
            raw, hs = _masked_forward(hf, tm, ids, device, _FUNC)
        else:
            out = hf(input_ids=ids_t, output_hidden_states=True, use_cache=False)
            raw = out.logits[0].float()                                      # (T, K)
            hs = _residual_streams(hf, out, ids_t)
        scale = float(raw.abs().max()) + 1.0
        logits = _restrict(raw, tm)
        last_normed = True
        last = head(hs[-1])[0].float()
        if float((last - raw).abs().max()) > 1e-4 * scale:
            last = head(norm(hs[-1]))[0].float()
            last_normed = False
            if float((last - raw).abs().max()) > 1e-4 * scale:
                raise InputError(f"The logit lens of this {hf.config.model_type} model does not "
                                 "reproduce its output at the last layer (the model transforms its "
                                 "logits further, e.g. soft-capping); the lens is not supported.")
        final_lp = torch.log_softmax(logits.double(), dim=-1)                # (T, K)
        final_p = final_lp.exp()
        chosen = final_lp.argmax(dim=-1)                                     # (T,)
        nxt = torch.as_tensor(ids[1:], device=device)
        rows = {k: [] for k in ("H", "KL", "rank", "nrank", "nsurp")}
        all_lp = []
        for i, h in enumerate(hs):
            lg = logits if i == len(hs) - 1 else _restrict(head(norm(h))[0].float(), tm)
            lp = torch.log_softmax(lg.double(), dim=-1)                      # (T, K)
            p = lp.exp()
            rows["H"].append(-(torch.where(p > 0, p * lp, 0.0)).sum(-1))
            rows["KL"].append((torch.where(final_p > 0, final_p * (final_lp - lp), 0.0)).sum(-1))
            chosen_lp = lp.gather(-1, chosen[:, None])
            rows["rank"].append((lp > chosen_lp).sum(-1))
            if nxt.numel():
                nlp = lp[:-1].gather(-1, nxt[:, None])
                rows["nrank"].append((lp[:-1] > nlp).sum(-1))
                rows["nsurp"].append(-nlp[:, 0])
            else:
                rows["nrank"].append(torch.zeros(0, dtype=torch.long, device=device))
                rows["nsurp"].append(torch.zeros(0, dtype=torch.float64, device=device))
            if return_log_probs:
                all_lp.append(lp.float().cpu().numpy())
    to = lambda k, dt: torch.stack(rows[k]).cpu().numpy().astype(dt)  # noqa: E731
    ln2 = math.log(2.0)
    kl = to("KL", np.float64) / ln2
    kl[-1] = 0.0
    return LensResult(
        layers=list(range(len(hs))), token_ids=ids.tolist(), tokens=strs,
        entropy_bits=to("H", np.float64) / ln2, kl_to_final_bits=kl,
        final_token_rank=to("rank", np.int64), next_token_rank=to("nrank", np.int64),
        next_token_surprisal_bits=to("nsurp", np.float64) / ln2, last_entry_normalised=last_normed,
        log_probs=np.stack(all_lp) if return_log_probs else None)


def residual_streams(model: Any, inputs: Any) -> np.ndarray:
    """Residual stream h_l of every layer, shape (L + 1, T, d) float64 (row 0: embeddings).

    Same conventions as :func:`logit_lens` (the last row is the model's final, normalised, state).
    A trajectory over positions for :func:`seminfo.flow.linear_granger` after
    :func:`seminfo.flow.pca_trajectory`.
    """
    import torch

    hf, tm = hf_parts(model, "residual_streams")
    ids, _ = input_ids(hf, tm, inputs, "residual_streams")
    device = next(hf.parameters()).device
    ids_t = torch.as_tensor(ids[None], device=device)
    with torch.no_grad():
        out = hf(input_ids=ids_t, output_hidden_states=True, use_cache=False)
        hs = _residual_streams(hf, out, ids_t)
        return np.stack([h[0].double().cpu().numpy() for h in hs])

