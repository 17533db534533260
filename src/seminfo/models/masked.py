"""Masked-diffusion language models: predict masked tokens from the visible ones, in any order.

A masked-diffusion LM (MDLM, Sahoo et al. 2024; LLaDA, Nie et al. 2025) is a bidirectional network
f that, given a sequence in which some positions hold the mask id, returns a distribution over the
vocabulary at every masked position. It defines no left-to-right factorisation, so it has the
``masked`` capability and not ``score`` or ``incremental`` (see :mod:`seminfo.models.capability`).
Its likelihood is bounded by the ELBO (:func:`seminfo.models.elbo.elbo`), and it generates by
iterative unmasking (:func:`sample_masked`).

Three implementations share :class:`MaskedModel`:

* :class:`HFMaskedModel` wraps a Hugging Face masked LM: a BERT-style masked LM, a LLaDA-style
  checkpoint (the mask id comes from ``config.mask_token_id``; custom code runs only with
  ``trust_remote_code=True``), or a causal architecture adapted to masked diffusion and run with a
  full attention mask (``builtin:diffusion``: builtin:gpt's GPT-2 made bidirectional and trained with
  the MDLM objective by ``scripts/train_arch.py``, the prediction for position i read at i - 1 as in
  DiffuLLaMA, Gong et al. 2024);
* :class:`ExactMaskedModel` (made by :func:`exact_masked_model`) answers with the exact
  conditionals of a finite-state source's law on sequences of a given length, the ground truth
  against which the ELBO estimator is checked: its ELBO equals -log2 p(x).

Conventions: log-probabilities are natural logs over the `vocab_size` predictable ids (the mask id
never gets probability); `prefix` ids open every text as visible context, as a BOS does.

References
----------
[1] S. S. Sahoo et al., "Simple and Effective Masked Diffusion Language Models", NeurIPS 2024.
[2] S. Nie et al., "Large Language Diffusion Models" (LLaDA), 2025.
[3] J. Shi et al., "Simplified and Generalized Masked Diffusion for Discrete Data", NeurIPS 2024.
[4] S. Gong et al., "Scaling Diffusion Language Models via Adaptation from Autoregressive Models"
    (DiffuLLaMA), ICLR 2025.

Leaves out: semi-autoregressive block decoding, confidence-based remasking schedules, KV caching.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._validate import as_float, as_int
from ..errors import InputError, ModelMismatchError
from ..results import Result
from .base import LanguageModel
from .hf import HFWrapped

__all__ = ["MaskedModel", "HFMaskedModel", "ExactMaskedModel", "exact_masked_model", "sample_masked",
           "MaskedSample"]


class MaskedModel(LanguageModel):
    """Base class of masked-diffusion models. Subclasses implement :meth:`masked_log_probs`."""

    #: Input id that marks a masked position.
    mask_token_id: int

    @abstractmethod
    def masked_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """Log-probabilities (nats) of every position given the visible ones.

        Parameters
        ----------
        ids : ndarray of int, shape (B, T)
            Token ids, `mask_token_id` at masked positions; `prefix` is NOT added (callers add it).

        Returns
        -------
        ndarray, shape (B, T, vocab_size)
            Rows at masked positions are the model's predictions; rows at visible positions are
            unspecified (callers read masked positions only).
        """

    def target_log_probs(self, ids: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log f(targets[b, t] | visible ids[b]) at every position, shape (B, T), nats (float64).

        What the ELBO needs; subclasses may compute it without materialising (B, T, K).
        """
        lp = np.asarray(self.masked_log_probs(ids), dtype=np.float64)
        return np.take_along_axis(lp, np.asarray(targets, dtype=np.int64)[..., None], -1)[..., 0]

    # ------------------------------------------------------------------ helpers used by elbo/flow
    def check_ids(self, ids: Any, func: str, param: str = "ids") -> np.ndarray:
        """A 1-D int64 array of predictable ids (no mask ids)."""
        from .._validate import as_symbols
        return as_symbols(ids, param, func, alphabet_size=self.vocab_size, min_length=0)

    def left_to_right_log_probs(self, context: Sequence[int], ys: np.ndarray) -> np.ndarray:
        """Log-probabilities (nats) of the left-to-right order: p(y_t | prefix, context, y_<t).

        The positions after t stay masked, so the sequence length n is known to the model: this
        is one order of the any-order mixture, a proper distribution over responses of length n.
        Returns (S, n, vocab_size) for `ys` of shape (S, n); it costs S * n forward rows.
        """
        ys = np.asarray(ys, dtype=np.int64)
        S, n = ys.shape
        head = np.asarray(list(self.prefix) + list(context), dtype=np.int64)
        P = head.size
        rows = np.full((S * n, P + n), self.mask_token_id, dtype=np.int64)
        rows[:, :P] = head
        for t in range(n):
            rows[t::n, P:P + t] = ys[:, :t]
        out = np.empty((S, n, self.vocab_size))
        batch = 64
        for a in range(0, S * n, batch):
            lp = self.masked_log_probs(rows[a:a + batch])                # (b, P + n, K)
            for r in range(lp.shape[0]):
                s, t = divmod(a + r, n)
                out[s, t] = lp[r, P + t]
        return out


class HFMaskedModel(HFWrapped, MaskedModel):
    """A Hugging Face masked LM (BERT-style or LLaDA-style) as a masked-diffusion model.

    Parameters
    ----------
    hf_model : transformers model
        Bidirectional; ``hf_model(input_ids=x).logits`` is (B, T, V).
    tokenizer : transformers fast tokenizer or seminfo Tokenizer
    name : str
    device : str
    mask_token_id : int or None
        Default: ``config.mask_token_id``, else the tokenizer's mask token.
    """

    def __init__(self, hf_model: Any, tokenizer: Any, *, name: str = "", device: str = "auto",
                 mask_token_id: int | None = None):
        from .hf import _first_id
        cfg = self._wrap(hf_model, tokenizer, name, device)
        mask = _first_id(mask_token_id, getattr(cfg, "mask_token_id", None),
                         getattr(self.hf_tokenizer, "mask_token_id", None))
        if mask is None:
            raise ModelMismatchError(f"The model {self.name!r} names no mask token (config.mask_token_id "
                                     "or the tokenizer's mask token); pass mask_token_id=.")
        self.mask_token_id = int(mask)
        self._out = int(getattr(cfg, "vocab_size"))
        # predictable ids: the tokenizer's vocabulary (the mask id never gets probability)
        self.vocab_size = max(self.tokenizer.vocab_size, min(self._out, self.mask_token_id))
        if self.tokenizer.vocab_size > self._out:
            raise ModelMismatchError(f"The tokenizer has {self.tokenizer.vocab_size} ids but the model "
                                     f"{self.name!r} predicts only {self._out}.")
        first = _first_id(getattr(cfg, "bos_token_id", None), getattr(self.hf_tokenizer, "bos_token_id", None))
        self.prefix = (first,) if first is not None else ()
        self.eos_token_id = _first_id(getattr(cfg, "eos_token_id", None))
        n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "max_sequence_length", None)
        self.max_context = int(n) if n else None
        # a causal architecture adapted to masked diffusion (builtin:diffusion: DiffuLLaMA-style) declares
        # {"bidirectional": true, "shift": 1}: it is run with a full attention mask, and the prediction
        # for position i is read at position i - shift
        adapted = getattr(cfg, "seminfo_masked", None) or {}
        self.shift = int(adapted.get("shift", 0))
        self._full_mask = bool(adapted.get("bidirectional", False))

    def forward_kwargs(self, x: Any) -> dict:
        """Extra arguments of the module's forward: a full (bidirectional) mask for adapted causal models."""
        if not self._full_mask:
            return {}
        B, T = x.shape
        return {"attention_mask": self._torch.ones(B, 1, T, T, dtype=self._torch.bool, device=x.device)}

    def _logits(self, x: Any) -> Any:
        """(B, T, V) logits aligned so that row i predicts position i (row 0 of a shifted model: zeros)."""
        torch = self._torch
        logits = self.hf_model(input_ids=x, **self.forward_kwargs(x)).logits.float()
        if self.shift:
            pad = torch.zeros_like(logits[:, : self.shift])
            logits = torch.cat([pad, logits[:, : -self.shift]], dim=1)
        if self.mask_token_id < logits.shape[-1]:
            logits[..., self.mask_token_id] = -float("inf")
        return logits[..., : self.vocab_size]

    def masked_log_probs(self, ids: np.ndarray) -> np.ndarray:
        torch = self._torch
        arr = np.asarray(ids, dtype=np.int64)
        if arr.ndim != 2:
            raise InputError(f"The `ids` parameter of HFMaskedModel.masked_log_probs must be 2-D. Got "
                             f"shape {arr.shape}.")
        if self.max_context is not None and arr.shape[1] > self.max_context:
            raise InputError(f"The `ids` parameter of HFMaskedModel.masked_log_probs holds {arr.shape[1]} "
                             f"tokens, more than the model's context of {self.max_context}.")
        x = torch.as_tensor(arr, device=self.device)
        with torch.inference_mode():
            lp = torch.log_softmax(self._logits(x), dim=-1)                       # (B, T, K)
        return lp.cpu().numpy()

    def target_log_probs(self, ids: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log f(target | visible) per position, (B, T) float64 nats, reduced on the device."""
        torch = self._torch
        arr = np.asarray(ids, dtype=np.int64)
        if self.max_context is not None and arr.shape[1] > self.max_context:
            raise InputError(f"The `ids` parameter of HFMaskedModel.target_log_probs holds {arr.shape[1]} "
                             f"tokens, more than the model's context of {self.max_context}.")
        x = torch.as_tensor(arr, device=self.device)
        tgt = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=self.device)
        with torch.inference_mode():
            logits = self._logits(x)                                              # (B, T, K)
            out = logits.gather(-1, tgt[..., None])[..., 0] - torch.logsumexp(logits, dim=-1)
        return out.double().cpu().numpy()

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            from .hf import _tensor_digest
            self._fingerprint = hashlib.sha256(
                f"{_tensor_digest(self.hf_model)}|{self.tokenizer.fingerprint()}|{self.mask_token_id}"
                .encode()).hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return (f"HFMaskedModel(name={self.name!r}, type={self.model_type!r}, vocab_size={self.vocab_size}, "
                f"mask_token_id={self.mask_token_id}, max_context={self.max_context})")


class ExactMaskedModel(MaskedModel):
    """Exact conditionals of a finite-state source's law on sequences of at most `length` symbols.

    Sequences of T <= `length` symbols are read under the law of (X_1, ..., X_T), the block pmf of
    the source. Masked positions get ``p(x_i | x_visible)`` with the other masked positions summed
    out. Visible configurations of probability zero raise InputError (the conditional is undefined).
    """

    prefix: tuple[int, ...] = ()

    def __init__(self, source: Any, length: int):
        from .source_model import SymbolTokenizer
        self.source = source
        self.vocab_size = int(source.alphabet_size)
        self.mask_token_id = self.vocab_size
        self.tokenizer = SymbolTokenizer(self.vocab_size)
        self.max_context = int(length)
        self.name = f"exact-masked:{source!r}:{length}"
        self._pmf: dict[int, np.ndarray] = {}

    def _block(self, T: int) -> np.ndarray:
        if T not in self._pmf:
            self._pmf[T] = np.asarray(self.source.block_pmf(T), dtype=np.float64)
        return self._pmf[T]

    def masked_log_probs(self, ids: np.ndarray) -> np.ndarray:
        arr = np.asarray(ids, dtype=np.int64)
        if arr.ndim != 2:
            raise InputError(f"The `ids` parameter of ExactMaskedModel.masked_log_probs must be 2-D. Got "
                             f"shape {arr.shape}.")
        B, T = arr.shape
        if T > self.max_context or T < 1:
            raise InputError(f"The `ids` parameter of ExactMaskedModel.masked_log_probs must hold 1.."
                             f"{self.max_context} symbols. Got {T}.")
        if arr.min() < 0 or arr.max() > self.mask_token_id:
            raise InputError(f"The `ids` parameter of ExactMaskedModel.masked_log_probs must hold ids in "
                             f"0..{self.mask_token_id} (the mask). Got {int(arr.min())}..{int(arr.max())}.")
        pmf, K = self._block(T), self.vocab_size
        out = np.full((B, T, K), -np.inf)
        for b in range(B):
            row = arr[b]
            masked = np.flatnonzero(row == self.mask_token_id)
            idx = tuple(slice(None) if v == self.mask_token_id else int(v) for v in row)
            joint = pmf[idx]                                                      # (K,) * |masked|
            total = joint.sum()
            if total <= 0:
                raise InputError("The visible symbols given to ExactMaskedModel have probability zero "
                                 "under the source, so their conditionals are undefined.")
            for j, pos in enumerate(masked):
                axes = tuple(a for a in range(masked.size) if a != j)
                marg = joint.sum(axis=axes) / total if axes else joint / total
                with np.errstate(divide="ignore"):
                    out[b, pos] = np.log(marg)
            for pos in np.flatnonzero(row != self.mask_token_id):
                out[b, pos, row[pos]] = 0.0
        return out

    def log_prob(self, x: Any) -> float:
        """Exact log2 p(x) under the source (bits; -inf for impossible sequences)."""
        x = self.check_ids(x, "ExactMaskedModel.log_prob", "x")
        p = float(self._block(x.size)[tuple(int(v) for v in x)])
        return float(np.log2(p)) if p > 0 else -np.inf

    def fingerprint(self) -> str:
        from .source_model import SourceModel
        return hashlib.sha256(f"{SourceModel(self.source).fingerprint()}|{self.max_context}".encode()).hexdigest()


def exact_masked_model(source: Any, length: int) -> ExactMaskedModel:
    """A masked model whose predictions are the exact conditionals of `source` on `length` symbols.

    Parameters
    ----------
    source : TokenSource
        Any finite-state source of :mod:`seminfo.sources` (iid, Markov-k, hidden Markov).
    length : int
        Longest sequence; its block pmf (K**length entries) must fit the enumeration limit.

    Returns
    -------
    ExactMaskedModel
        ``seminfo.elbo(model, ids)`` on it is an unbiased Monte-Carlo estimate of the exact -log2 p(ids).

    Examples
    --------
    >>> from seminfo.sources import MarkovSource
    >>> import numpy as np
    >>> m = exact_masked_model(MarkovSource(np.array([[0.9, 0.1], [0.2, 0.8]])), 4)
    >>> round(float(np.exp(m.masked_log_probs(np.array([[0, 2, 0, 1]]))[0, 1, 0])), 6)   # p(x2=0 | x1=0, x3=0)
    0.975904
    """
    from ..sources.base import TokenSource, check_block
    if not isinstance(source, TokenSource):
        raise InputError(f"The `source` parameter of exact_masked_model must be a seminfo token source "
                         f"(IIDSource, MarkovSource, HiddenMarkovSource). Got {type(source).__name__}.")
    n = check_block(length, int(source.alphabet_size), "exact_masked_model", "length")
    return ExactMaskedModel(source, n)


# ------------------------------------------------------------------------------------ sampling
@dataclass(frozen=True)
class MaskedSample(Result):
    """Responses drawn by iterative unmasking.

    Attributes
    ----------
    tokens : ndarray of int64, shape (S, n)
    log_probs : ndarray (S, n)
        log p(y_i | visible at the step it was revealed) of each drawn token (nats, temperature 1).
    order : ndarray of int64, shape (S, n)
        Step at which each position was revealed.
    steps : int
    """

    tokens: np.ndarray
    log_probs: np.ndarray
    order: np.ndarray
    steps: int
    units: str = "nats (log_probs, per token)"


def sample_masked(model: MaskedModel, prompt: Sequence[int] = (), n_tokens: int = 16, *, n_samples: int = 1,
                  steps: int | None = None, seed: Any = None, temperature: float = 1.0) -> MaskedSample:
    """Generate `n_tokens` after `prompt` by iterative unmasking (the reverse masked-diffusion process).

    Start from ``prefix + prompt + [MASK] * n``; at each of `steps` steps reveal a uniformly random
    subset of the still-masked positions (``n / steps`` of them, rounded so that all are revealed)
    and draw each from the model's conditional at temperature T. With ``steps = n`` (the default) one
    token is revealed per step, which samples exactly from the any-order mixture whose likelihood the
    ELBO bounds; fewer steps are faster and approximate it (tokens revealed together are drawn
    independently).
    """
    from .._validate import as_rng
    from .capability import as_model
    from .sampling import check_sample_size
    func = "sample_masked"
    n = as_int(n_tokens, "n_tokens", func, minimum=1)
    S = as_int(n_samples, "n_samples", func, minimum=1)
    check_sample_size(n, S, func)                           # before a spec is loaded
    model = as_model(model, "masked", func=func)
    k = n if steps is None else as_int(steps, "steps", func, minimum=1, maximum=n)
    T = as_float(temperature, "temperature", func, minimum=0.0)
    ctx = model.check_ids(np.asarray(list(prompt), dtype=np.int64), func, "prompt")
    rng = as_rng(seed, func)
    head = np.asarray(list(model.prefix) + ctx.tolist(), dtype=np.int64)
    P = head.size
    if model.max_context is not None and P + n > model.max_context:
        raise InputError(f"The `n_tokens` parameter of {func} asks for {n} tokens after {P} of prefix and "
                         f"prompt, more than the model's context of {model.max_context}.")
    check_sample_size(n, S, func, int(model.vocab_size), positions=P + n)
    rows = np.full((S, P + n), model.mask_token_id, dtype=np.int64)
    rows[:, :P] = head
    order = np.argsort(rng.random((S, n)), axis=1)                          # reveal order per row
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    log_probs = np.zeros((S, n))
    step_of = np.zeros((S, n), dtype=np.int64)
    for s in range(k):
        lp = np.asarray(model.masked_log_probs(rows), dtype=np.float64)    # (S, P + n, K)
        for r in range(S):
            for pos in order[r, bounds[s]:bounds[s + 1]]:
                dist = lp[r, P + pos]
                if T == 0:
                    tok = int(np.argmax(dist))
                else:
                    z = dist / T
                    p = np.exp(z - z.max())
                    cdf = np.cumsum(p)
                    tok = int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), dist.size - 1))
                rows[r, P + pos] = tok
                log_probs[r, pos] = dist[tok]
                step_of[r, pos] = s
    return MaskedSample(tokens=rows[:, P:].copy(), log_probs=log_probs, order=step_of, steps=k)
