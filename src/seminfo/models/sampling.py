"""Ancestral sampling from a token model, with the model's own log-probabilities of each draw.

:func:`sample` opens `n_samples` contexts with ``begin``, feeds the prompt, then draws one token per
step from ``p(. | x_<t)^(1/T)`` (renormalised; T = `temperature`, T = 0 is greedy) and feeds it back.
It returns the tokens and ``log p(x_t | x_<t)`` at temperature 1 (natural logs), which importance
sampling and information-density estimates need whatever temperature produced the draw.

Draws use numpy's PCG64 generator seeded by `seed` on float64 probabilities (inverse CDF), so a seed
gives the same tokens for the same model numerics.

Leaves out: top-k / nucleus truncation, beam search, speculative decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from .._validate import as_float, as_int, as_rng
from ..errors import InputError
from ..results import Result
from .base import TokenModel

__all__ = ["SampleResult", "sample", "MAX_STEPS", "MAX_TOKENS", "MAX_STEP_BYTES"]

#: Most tokens per row: one model step each, run one after the other (a million steps of a small
#: model already take minutes to hours).
MAX_STEPS = 1_000_000
#: Most tokens in all (``n_samples * n_tokens``): the result holds 16 bytes per token.
MAX_TOKENS = 10_000_000
#: Most bytes of the float64 work arrays of one step (about four arrays of n_samples x vocab_size).
MAX_STEP_BYTES = 2 * 1024 ** 3


def check_sample_size(n: int, S: int, func: str, K: int | None = None, *, positions: int = 1) -> None:
    """Refuse, before any work, draws that would take hours or exhaust memory (one line, with the limit).

    `n` tokens per row, `S` rows; with `K` (vocabulary), also the per-step work arrays of
    ``4 * S * positions * K`` float64 values.
    """
    if n > MAX_STEPS:
        raise InputError(f"The `n_tokens` parameter of {func} asks for {n:,} tokens per row: one model "
                         f"step each, more than the limit of {MAX_STEPS:,} steps (hours of work). Draw "
                         "at most that many per call.")
    if n * S > MAX_TOKENS:
        raise InputError(f"The `n_samples` and `n_tokens` parameters of {func} ask for {S:,} x {n:,} = "
                         f"{n * S:,} tokens, more than the limit of {MAX_TOKENS:,} per call "
                         f"({16 * n * S / 1e9:.3g} GB of results). Draw fewer rows or tokens per call.")
    if K is not None and 4 * 8 * S * positions * K > MAX_STEP_BYTES:
        need = 4 * 8 * S * positions * K
        raise InputError(f"The `n_samples` parameter of {func} asks for {S:,} rows, whose step arrays over "
                         f"{K:,} tokens{'' if positions == 1 else f' at {positions:,} positions'} would "
                         f"need {need / 1e9:.3g} GB, more than the limit of {MAX_STEP_BYTES / 1e9:.3g} GB. "
                         f"Use at most {max(1, MAX_STEP_BYTES // (32 * positions * K)):,} rows per call.")


@dataclass(frozen=True)
class SampleResult(Result):
    """Sampled continuations.

    Attributes
    ----------
    tokens : ndarray of int64, shape (S, n)
        Sampled token ids (after EOS, when `stop_at_eos`, the EOS id repeated).
    log_probs : ndarray of float64, shape (S, n)
        ``log p(x_t | prompt, x_<t)`` of each sampled token under the model at temperature 1
        (nats per token); 0 after an EOS that stopped the row.
    lengths : ndarray of int64, shape (S,)
        Tokens per row up to and including the stopping EOS (n when no EOS stopped it).
    prompt : tuple of int
        Token ids of the prompt (after the model's prefix).
    temperature : float
    units : str
    """

    tokens: np.ndarray
    log_probs: np.ndarray
    lengths: np.ndarray
    prompt: tuple = ()
    temperature: float = 1.0
    units: str = "nats (log_probs, per token)"

    def __iter__(self) -> Iterator[np.ndarray]:
        """Unpack as ``tokens, log_probs = sample(...)``."""
        yield self.tokens
        yield self.log_probs


def _eos_id(model: TokenModel) -> int | None:
    for name in ("eos_token_id",):
        v = getattr(model, name, None)
        if v is not None:
            return int(v)
    return int(model.prefix[0]) if model.prefix else None


def _prompt_ids(model: TokenModel, prompt: Any) -> list[int]:
    if prompt is None:
        return []
    if isinstance(prompt, (str, bytes, bytearray)):
        data = prompt if isinstance(prompt, str) else bytes(prompt)
        return [int(i) for i in model.tokenizer.encode(data)]
    arr = np.asarray(prompt)
    if arr.size == 0:
        return []
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise InputError("The `prompt` parameter of sample must be None, str, bytes or a 1-D list of "
                         f"token ids. Got {type(prompt).__name__} of shape {arr.shape}.")
    if arr.min() < 0 or arr.max() >= model.vocab_size:
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise InputError(f"The `prompt` parameter of sample must hold ids in 0..{model.vocab_size - 1}. "
                         f"Got {int(bad)}.")
    return [int(i) for i in arr]


def sample(model: TokenModel, prompt: Any = None, n_tokens: int = 16, *, n_samples: int = 1,
           seed: Any = None, temperature: float = 1.0, stop_at_eos: bool = False) -> SampleResult:
    """Draw x_t ~ p(. | prompt, x_<t)^(1/T) / Z for t = 1..n_tokens, in `n_samples` independent rows.

    Parameters
    ----------
    model : TokenModel
    prompt : None, str, bytes or sequence of int
        Context after the model's prefix (text is tokenised with the model's tokenizer).
    n_tokens : int
        Tokens to draw per row, 1..:data:`MAX_STEPS`.
    n_samples : int, keyword-only
        Rows S; ``S * n_tokens`` at most :data:`MAX_TOKENS`, and the per-step arrays (about
        ``32 * S * vocab_size`` bytes) at most :data:`MAX_STEP_BYTES`.
    seed : int, numpy Generator or None, keyword-only
    temperature : float, keyword-only
        T >= 0; 1 samples the model, 0 takes the most likely token (ties: the lowest id).
    stop_at_eos : bool, keyword-only
        Stop a row after it draws the end-of-text token (the row is padded with it).

    Returns
    -------
    SampleResult
        ``tokens`` (S, n) int64 and ``log_probs`` (S, n) in nats at temperature 1; unpacks as
        ``tokens, log_probs``.

    Raises
    ------
    InputError
        Invalid sizes, seed or temperature; sizes above the limits (checked before any work); more
        tokens than the model's context.
    CapabilityError
        The model cannot run left to right (a masked-diffusion model: use ``sample_masked``).

    Examples
    --------
    >>> from seminfo.sources import IIDSource
    >>> from seminfo.models.source_model import SourceModel
    >>> r = sample(SourceModel(IIDSource([0.5, 0.5])), n_tokens=4, n_samples=2, seed=0)
    >>> r.tokens.shape, bool(np.allclose(r.log_probs, np.log(0.5)))
    ((2, 4), True)
    """
    from .._validate import as_seed
    from .capability import as_model
    func = "sample"
    seed = as_seed(seed, func)
    n = as_int(n_tokens, "n_tokens", func, minimum=1)
    S = as_int(n_samples, "n_samples", func, minimum=1)
    T = as_float(temperature, "temperature", func, minimum=0.0)
    check_sample_size(n, S, func)                           # before a spec is loaded
    model = as_model(model, "incremental", func=func)
    check_sample_size(n, S, func, int(model.vocab_size))
    ids = _prompt_ids(model, prompt)
    limit = getattr(model, "max_context", None)
    if limit is not None and len(model.prefix) + len(ids) + n - 1 > limit:
        raise InputError(f"The `n_tokens` parameter of {func} asks for {n} tokens after a prompt of "
                         f"{len(ids)} (and a prefix of {len(model.prefix)}), more than the model's context "
                         f"of {limit}. Use at most {limit - len(model.prefix) - len(ids) + 1} tokens.")
    eos = _eos_id(model) if stop_at_eos else None
    if stop_at_eos and eos is None:
        raise InputError(f"The `stop_at_eos` parameter of {func} needs an end-of-text token, and the "
                         f"model {model.name!r} has none.")
    rng = as_rng(seed, func)
    state = model.begin(S)
    if ids:
        state, _ = model.feed(state, np.tile(np.asarray(ids, dtype=np.int64), (S, 1)))
    tokens = np.zeros((S, n), dtype=np.int64)
    log_probs = np.zeros((S, n))
    lengths = np.full(S, n, dtype=np.int64)
    alive = np.ones(S, dtype=bool)
    for t in range(n):
        lp = np.asarray(state.log_probs, dtype=np.float64)                 # (S, K)
        if T == 0:
            draw = np.argmax(lp, axis=1)
        else:
            z = lp / T
            p = np.exp(z - z.max(axis=1, keepdims=True))
            cdf = np.cumsum(p, axis=1)
            u = rng.random(S) * cdf[:, -1]
            draw = np.minimum((cdf < u[:, None]).sum(axis=1), lp.shape[1] - 1)
        if eos is not None:
            draw = np.where(alive, draw, eos)
        tokens[:, t] = draw
        log_probs[:, t] = np.where(alive, lp[np.arange(S), draw], 0.0)
        if eos is not None:
            stopped = alive & (draw == eos)
            lengths[stopped] = t + 1
            alive &= ~stopped
            if not alive.any():
                tokens[:, t + 1:] = eos
                break
        if t + 1 < n:
            state, _ = model.feed(state, draw[:, None])
    return SampleResult(tokens=tokens, log_probs=log_probs, lengths=lengths, prompt=tuple(ids),
                        temperature=T)
