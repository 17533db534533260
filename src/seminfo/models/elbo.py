"""The code length of a text under any model: exact for left-to-right models, the ELBO for masked diffusion.

For a left-to-right model the code length is exact, ``-log2 p(x) = sum_t -log2 p(x_t | x_<t)``,
computed by the same windows as :func:`seminfo.models.score_text` (so the totals agree exactly).

For a masked-diffusion model f the negative ELBO is an upper bound on ``-log2 p(x)`` (see
docs/architectures.md for the derivation). For a sequence y of L tokens, after a visible context c:

    -log2 p(y | c)  <=  E_l E_M [ (L / l) * sum_{i in M} -log2 f(y_i | c, y_{not M}) ],

with l uniform on {1, ..., L} and M a uniformly random set of l positions (LLaDA's form [2]; the
continuous form of MDLM [1] with t ~ U(0, 1), Bernoulli(t) masks and weight 1/t has the same mean).
When f holds the exact conditionals of a law p, the right side equals -log2 p(y | c) exactly: it is
the average over random orders of the chain rule (the any-order identity).

Estimators of the expectation (`method`), each with S = `samples` forward passes per window:

* ``"plain"``: l drawn iid; standard error from the sample spread.
* ``"antithetic"``: times in pairs (u, 1 - u), l = ceil(uL) and ceil((1 - u)L) (MDLM's antithetic
  idea [1]: the summand grows with l, so the pair's errors cancel); standard error from pair means.
* ``"stratified"`` (default): u stratified into S/2 equal strata with two draws in each (LLaDA's
  stratified mask counts [2]); standard error from the within-stratum differences, which is
  unbiased for the stratified estimator's variance.

The Bernoulli(t)/t form is not offered: its variance is infinite (the weight 1/t diverges as t -> 0
while a mask still occurs with probability about Lt), so no standard error could be calibrated.

Long texts are scored in windows of the model's context: each window scores its new tokens given
up to half a window of the text before it as visible context (the first given the prefix only),
so the sum of the windows' bounds bounds the code length of a proper model of the whole text.

References
----------
[1] S. S. Sahoo et al., "Simple and Effective Masked Diffusion Language Models", NeurIPS 2024.
[2] S. Nie et al., "Large Language Diffusion Models" (LLaDA), 2025, Algorithm 3 and Appendix B.
[3] J. Ou et al., "Your Absorbing Discrete Diffusion Secretly Models the Conditional Distributions
    of Clean Data", 2024 (the any-order autoregressive view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_int, as_rng, as_seed, as_symbols, one_of
from ..errors import InputError
from ..results import Estimate
from ..units import LN2

__all__ = ["ElboResult", "elbo", "METHODS"]

METHODS = ("stratified", "antithetic", "plain")


@dataclass(frozen=True)
class ElboResult(Estimate):
    """An upper bound (or exact value) on -log2 p(x) in bits, with its Monte-Carlo standard error.

    Attributes
    ----------
    value : float
        Bits (total over the scored tokens): exact for left-to-right models, the negative ELBO
        (an upper bound, in expectation) for masked-diffusion models.
    stderr : float
        Standard error of `value` (bits); 0 when exact.
    n_tokens : int
        Tokens scored (the prompt's tokens are context, not scored).
    n_bytes : int or None
        UTF-8 bytes of the scored text, when it was given as text.
    bits_per_token, bits_per_byte : float
        ``value / n_tokens`` and ``value / n_bytes`` (None without bytes).
    exact : bool
        True for left-to-right models.
    samples : int
        Monte-Carlo samples per window (0 when exact).
    """

    n_tokens: int = 0
    n_bytes: int | None = None
    bits_per_token: float = math.nan
    bits_per_byte: float | None = None
    exact: bool = False
    samples: int = 0

    @property
    def stderr_bits_per_byte(self) -> float | None:
        return None if not self.n_bytes else self.stderr / self.n_bytes


def _ids_and_bytes(model: Any, data: Any, param: str, func: str) -> tuple[np.ndarray, int | None]:
    if isinstance(data, (str, bytes, bytearray)):
        from .._validate import utf8_bytes
        raw = utf8_bytes(data, param, func) if isinstance(data, str) else bytes(data)
        return np.asarray(model.tokenizer.encode(raw), dtype=np.int64), len(raw)
    return as_symbols(data, param, func, alphabet_size=model.vocab_size, min_length=0), None


def elbo(model: Any, text_or_ids: Any, *, prompt: Any = None, samples: int = 128, seed: Any = 0,
         method: str = "stratified", batch_size: int = 32, progress: bool = False) -> ElboResult:
    """-log2 p(x) in bits: exact for left-to-right models, the negative ELBO for masked diffusion.

    Parameters
    ----------
    model : model spec or seminfo model
        Anything with the ``likelihood`` capability.
    text_or_ids : str, bytes or 1-D sequence of int
        What to score (token ids are taken as they are).
    prompt : str, bytes, sequence of int or None, keyword-only
        Visible context: the result is then the conditional -log2 p(x | prompt).
    samples : int, keyword-only
        Monte-Carlo samples per window (masked models; even, >= 2 for the paired methods).
    seed : int, keyword-only
    method : {"stratified", "antithetic", "plain"}, keyword-only
    batch_size : int, keyword-only
        Rows per forward pass.
    progress : bool, keyword-only
        A progress bar over windows (masked models).

    Returns
    -------
    ElboResult
        ``.value`` bits (total), ``.stderr``, ``.n_tokens``, ``.bits_per_byte`` when bytes are known.

    Examples
    --------
    >>> import numpy as np, seminfo
    >>> from seminfo.sources import MarkovSource
    >>> from seminfo.models import exact_masked_model
    >>> src = MarkovSource(np.array([[0.9, 0.1], [0.3, 0.7]]))
    >>> x = [0, 0, 1, 1, 0, 0]
    >>> r = seminfo.elbo(exact_masked_model(src, 6), x, samples=256, seed=0)
    >>> truth = -exact_masked_model(src, 6).log_prob(x)
    >>> abs(r.value - truth) < 4 * r.stderr
    True
    """
    from .capability import as_model
    func = "elbo"
    model = as_model(model, "likelihood", func=func)
    S = as_int(samples, "samples", func, minimum=1, maximum=1_000_000)
    method = one_of(method, METHODS, "method", func)
    if method != "plain" and S % 2:
        raise InputError(f"The `samples` parameter of {func} must be even for method={method!r} (draws come "
                         f"in pairs). Got {S}.")
    seed = as_seed(seed, func)
    batch_size = as_int(batch_size, "batch_size", func, minimum=1)
    ids, n_bytes = _ids_and_bytes(model, text_or_ids, "text_or_ids", func)
    if ids.size == 0:
        raise InputError(f"The text given to {func} is empty: there is nothing to score.")
    ctx = np.zeros(0, dtype=np.int64) if prompt is None else _ids_and_bytes(model, prompt, "prompt", func)[0]
    from .masked import MaskedModel
    if isinstance(model, MaskedModel):
        bits, var = _masked_elbo(model, ctx, ids, S, method, as_rng(seed, func), batch_size, progress)
        return ElboResult(value=bits, stderr=math.sqrt(var), units="bits (total)", n=int(ids.size),
                          method=f"elbo-{method}", n_tokens=int(ids.size), n_bytes=n_bytes,
                          bits_per_token=bits / ids.size, bits_per_byte=bits / n_bytes if n_bytes else None,
                          exact=False, samples=S,
                          notes="upper bound on -log2 p(x) in expectation (negative ELBO)")
    bits = _exact_bits(model, ctx, ids, batch_size)
    return ElboResult(value=bits, stderr=0.0, units="bits (total)", n=int(ids.size), method="exact",
                      n_tokens=int(ids.size), n_bytes=n_bytes, bits_per_token=bits / ids.size,
                      bits_per_byte=bits / n_bytes if n_bytes else None, exact=True, samples=0,
                      notes="exact: sum of -log2 p(x_t | x_<t)")


def _exact_bits(model: Any, ctx: np.ndarray, ids: np.ndarray, batch_size: int) -> float:
    """sum -log2 p(x_t | prefix, ctx, x_<t) over the tokens of `ids`, in score_text's windows."""
    return float(exact_token_bits(model, ctx, ids, batch_size).sum())


def exact_token_bits(model: Any, ctx: np.ndarray, ids: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """-log2 p(x_t | prefix, ctx, x_<t) for each token of `ids` (bits), in score_text's windows."""
    from .scoring import _checked_window, _score_windows, plan_windows
    window, _ = _checked_window(model, None, None, "elbo")
    doc = np.concatenate([ctx, ids])
    plan = plan_windows(doc.size, window, None, len(model.prefix))
    jobs = [(doc[a:b], n_ctx, with_prefix) for a, b, n_ctx, with_prefix in plan]
    per_token = np.empty(doc.size)
    for j, sur, _ in _score_windows(model, jobs, batch_size, entropy=False):
        a, b, n_ctx, _ = plan[j]
        per_token[a + n_ctx:b] = sur
    return per_token[ctx.size:] / LN2


def _windows(model: Any, ctx: np.ndarray, ids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(visible context, target tokens) pairs covering `ids`, each fitting the model's context."""
    room = None if model.max_context is None else model.max_context - len(model.prefix)
    if room is not None and room < 2:
        raise InputError(f"The model {model.name!r} has a context of {model.max_context} tokens: too short to "
                         "score anything after its prefix.")
    if room is None:
        return [(ctx, ids)]
    keep = room // 2                      # visible tokens carried into each window, at most
    out, done = [], 0
    while done < ids.size:
        before = np.concatenate([ctx, ids[:done]])
        c = before[-keep:]
        n = min(ids.size - done, room - c.size)
        out.append((c, ids[done:done + n]))
        done += n
    return out


def _mask_counts(L: int, S: int, method: str, rng: np.random.Generator) -> np.ndarray:
    """Numbers of masked tokens, in 1..L, for the S samples of one window (see the module notes)."""
    if method == "plain":
        u = rng.random(S)
    elif method == "antithetic":
        h = rng.random(S // 2)
        u = np.stack([h, 1.0 - h], axis=1).reshape(-1)                     # pairs (u, 1 - u)
    else:
        H = S // 2
        u = (np.repeat(np.arange(H), 2) + rng.random(S)) / H               # two draws per stratum
    return np.clip(np.ceil(u * L).astype(np.int64), 1, L)


def _combine(terms: np.ndarray, method: str) -> tuple[float, float]:
    """(mean, variance of the mean) of one window's S terms under the sampling design."""
    S = terms.size
    if S == 1:
        return float(terms[0]), 0.0 if np.all(terms == terms[0]) else math.nan
    if method == "plain":
        return float(terms.mean()), float(terms.var(ddof=1) / S)
    pairs = terms.reshape(-1, 2)
    if method == "antithetic":
        means = pairs.mean(axis=1)
        return float(terms.mean()), float(means.var(ddof=1) / means.size) if means.size > 1 else 0.0
    H = pairs.shape[0]
    return float(terms.mean()), float(((pairs[:, 0] - pairs[:, 1]) ** 2).sum() / 4.0 / H ** 2)


def _masked_elbo(model: Any, ctx: np.ndarray, ids: np.ndarray, S: int, method: str,
                 rng: np.random.Generator, batch_size: int, progress: bool) -> tuple[float, float]:
    """Total bits and variance over the windows of a masked model."""
    windows = _windows(model, ctx, ids)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(windows), unit="window", desc=f"ELBO {model.name}", leave=False)
    total, var = 0.0, 0.0
    try:
        for c, y in windows:
            terms = _window_terms(model, c, y, S, method, rng, batch_size)
            m, v = _combine(terms, method)
            total += m
            var += v
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return total, var


def _window_terms(model: Any, c: np.ndarray, y: np.ndarray, S: int, method: str, rng: np.random.Generator,
                  batch_size: int) -> np.ndarray:
    """The S Monte-Carlo terms (L / l) sum_{i in M} -log2 f(y_i | c, y_not M), in bits."""
    L = y.size
    head = np.concatenate([np.asarray(model.prefix, dtype=np.int64), c])
    P = head.size
    counts = _mask_counts(L, S, method, rng)
    masks = np.zeros((S, L), dtype=bool)
    for s in range(S):
        masks[s, rng.permutation(L)[: counts[s]]] = True
    rows = np.tile(np.concatenate([head, y]), (S, 1))
    rows[:, P:][masks] = model.mask_token_id
    terms = np.empty(S)
    for a in range(0, S, batch_size):
        part = rows[a:a + batch_size]
        targets = np.concatenate([np.broadcast_to(head, (part.shape[0], P)),
                                  np.broadcast_to(y, (part.shape[0], L))], axis=1)
        picked = model.target_log_probs(part, targets)[:, P:]                    # (b, L) nats
        m = masks[a:a + batch_size]
        with np.errstate(invalid="ignore"):
            s = -np.where(m, picked, 0.0).sum(axis=1)
        terms[a:a + part.shape[0]] = s * (L / counts[a:a + batch_size]) / LN2
    if not np.all(np.isfinite(terms)):
        raise InputError(f"The model {model.name!r} gives probability zero to a token of the text, so its "
                         "ELBO is infinite.")
    return terms
