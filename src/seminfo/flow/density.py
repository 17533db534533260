"""Prompt -> response information: per-token information density and directed information (theory §7a).

For a prompt x and a response y^n scored by a token model,

    iota_t = log p(y_t | y^{t-1}, x) - log p(y_t | y^{t-1}),      S_t = sum_{i<=t} iota_i,

the per-token information density and its running sum. The marginal p(y_t | y^{t-1}) is

* **prompt-set mixture** (exact): with prompts x_k and weights w_k,
  ``p(y^t) = sum_k w_k p(y^t | x_k)``, so ``p(. | y^{t-1}) = sum_k pi_k(t) p(. | y^{t-1}, x_k)`` with
  posterior weights ``pi_k(t) ∝ w_k p(y^{t-1} | x_k)``;
* **null prompt** (an approximation, used when only one prompt is given): the response scored after
  the model's prefix token alone (its BOS / end-of-text), i.e. the model's own unconditional
  distribution of text, ``p(y_t | y^{t-1}) ≈ p_M(y_t | prefix, y^{t-1})``. Then E S_n is the relative
  entropy D(p(Y^n | x) || p_M(Y^n)) rather than a mutual information.

Under the model's own sampling given x the expected increment is
``E[iota_t | y^{t-1}] = D(p(. | y^{t-1}, x) || p(. | y^{t-1})) >= 0`` (reported per token as
``expected_density_bits``), so S_t is a sub-martingale and, with x drawn from the prompt set,
``E S_n = I(X; Y^n)``. When inputs keep arriving while the model writes (dialogue turns, tool
results), x^t grows with t and the directed form is the right one: :func:`multi_turn_flow`
scores each output token given all text before it, against the outputs alone (null-input marginal),
``iota_t = log p(y_t | y^{t-1}, x^{t}) - log p(y_t | y^{t-1})``, whose expectation summed over t is
Massey's I(X^n -> Y^n) when the marginal is exact.

Tokens: the response is tokenised on its own and concatenated to the prompt's tokens (so every
marginal and conditional score refers to the same token sequence y^n).

Sources
-------
1. J. Massey, "Causality, feedback and directed information", ISITA 1990.
2. G. Kramer, "Directed information for channels with feedback", PhD thesis, ETH (1998).
3. T. M. Cover, J. A. Thomas, "Elements of Information Theory" (2006), ch. 2 and 4.

Masked-diffusion models have no left-to-right factorisation of their own; they are read in the
left-to-right order of their any-order mixture, ``p(y_t | x, y^{t-1})`` with the later positions of
the response masked (one forward pass per token), a proper distribution over responses of length n.
:func:`flow_elbo` gives the order-free view: the conditional and null-prompt ELBOs of the response
and their difference, an estimate of S_n with a standard error (not a bound: a difference of two
upper bounds).

Left out: prompt sets too large to enumerate (use a sample of prompts as the set).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
from scipy import stats

from .._validate import as_float, as_int, as_real, as_rng, as_seed, as_symbols
from ..errors import DistributionError, InputError, ShapeError
from ..results import Estimate, Result, mean_estimate

__all__ = ["FlowResult", "SubmartingaleResult", "information_flow", "multi_turn_flow", "flow_elbo",
           "submartingale_test", "prompt_information", "density_terms"]

LN2 = math.log(2.0)


@dataclass(frozen=True)
class FlowResult(Result):
    """Per-token information density of one response (arrays of length n, one per response token).

    Attributes
    ----------
    tokens, token_ids : list
        The response tokens (printable strings) and ids.
    conditional_log2p, marginal_log2p : ndarray (n,)
        log2 p(y_t | y^{t-1}, x) and log2 p(y_t | y^{t-1}) (bits; <= 0).
    surprisal_bits : ndarray (n,)
        -log2 p(y_t | y^{t-1}, x), bits per token.
    info_density_bits : ndarray (n,)
        iota_t in bits per token.
    cumulative_bits : ndarray (n,)
        S_t (bits, total up to t).
    expected_density_bits : ndarray (n,)
        D(p(. | y^{t-1}, x) || p(. | y^{t-1})), bits per token: E[iota_t | past] under the model.
    entropy_bits : ndarray (n,)
        H(p(. | y^{t-1}, x)), bits per token.
    total_bits : float
        S_n (bits, total over the response).
    marginal : str
        "null-prompt", "prompt-set mixture (k prompts)" or "null-input (directed)".
    """

    tokens: list
    token_ids: list
    conditional_log2p: np.ndarray
    marginal_log2p: np.ndarray
    surprisal_bits: np.ndarray
    info_density_bits: np.ndarray
    cumulative_bits: np.ndarray
    expected_density_bits: np.ndarray
    entropy_bits: np.ndarray
    total_bits: float
    marginal: str
    prompt_tokens: int = 0
    units: str = "bits/token (arrays); bits total (total_bits, cumulative_bits)"

    def rows(self) -> list[dict]:
        """One dict per response token, for tables and CSV."""
        return [{"t": t + 1, "token": tok, "surprisal_bits": float(self.surprisal_bits[t]),
                 "marginal_surprisal_bits": float(-self.marginal_log2p[t]),
                 "info_density_bits": float(self.info_density_bits[t]),
                 "cumulative_bits": float(self.cumulative_bits[t]),
                 "expected_density_bits": float(self.expected_density_bits[t])}
                for t, tok in enumerate(self.tokens)]


def density_terms(cond_log_probs: np.ndarray, marg_log_probs: np.ndarray, y: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """iota_t, D(p_t || q_t), H(p_t) and the realised log-probabilities from full distributions.

    Parameters
    ----------
    cond_log_probs, marg_log_probs : ndarray (n, K)
        Natural-log conditional p(. | y^{t-1}, x) and marginal p(. | y^{t-1}) for each step.
    y : ndarray (n,) of int
        The realised tokens.

    Returns
    -------
    dict of (n,) float64 arrays in bits: ``cond``, ``marg`` (log2 probabilities), ``iota``, ``kl``,
    ``entropy``.
    """
    lp = np.asarray(cond_log_probs, dtype=np.float64)
    lq = np.asarray(marg_log_probs, dtype=np.float64)
    if lp.shape != lq.shape or lp.ndim != 2 or lp.shape[0] != len(y):
        raise ShapeError(f"The conditional and marginal log-probabilities must both have shape (n, K) "
                         f"with n = {len(y)}. Got {lp.shape} and {lq.shape}.")
    idx = np.arange(len(y))
    cond = lp[idx, y]
    marg = lq[idx, y]
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        kl = np.sum(np.where(p > 0, p * (lp - lq), 0.0), axis=1)
        ent = -np.sum(np.where(p > 0, p * lp, 0.0), axis=1)
    return {"cond": cond / LN2, "marg": marg / LN2, "iota": (cond - marg) / LN2,
            "kl": kl / LN2, "entropy": ent / LN2}


# ---------------------------------------------------------------------------------------------------
# input handling

def _encode(model: Any, text: Any, param: str, func: str) -> list[int]:
    if isinstance(text, (str, bytes)):
        ids = list(model.tokenizer.encode(text))
    else:
        ids = as_symbols(text, param, func, alphabet_size=model.vocab_size, min_length=0).tolist()
    if not ids:
        raise InputError(f"The `{param}` parameter of {func} must not be empty (it tokenises to no "
                         f"tokens). Got {text!r}.")
    return ids


def _prompt_set(model: Any, prompts: Sequence | None, weights: Sequence | None, func: str
                ) -> tuple[list[list[int]], np.ndarray] | None:
    if prompts is None:
        if weights is not None:
            raise InputError(f"The `weights` parameter of {func} needs `prompts`. Got weights without "
                             "a prompt set.")
        return None
    if isinstance(prompts, (str, bytes)) or len(prompts) == 0:
        raise InputError(f"The `prompts` parameter of {func} must be a non-empty list of prompts. "
                         f"Got {prompts!r}.")
    ids = [_encode(model, p, "prompts", func) for p in prompts]
    if weights is None:
        w = np.full(len(ids), 1.0 / len(ids))
    else:
        try:
            w = as_real(weights, "weights", func, error=DistributionError, what="a sequence of numbers")
        except InputError:
            raise DistributionError(f"The `weights` parameter of {func} must be a sequence of "
                                    f"numbers, one per prompt. Got {weights!r}.") from None
        if w.shape != (len(ids),):
            raise ShapeError(f"The `weights` parameter of {func} must have one weight per prompt "
                             f"({len(ids)}). Got shape {w.shape}.")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise DistributionError(f"The `weights` parameter of {func} must be finite and "
                                    f"non-negative. Got {w.tolist()}.")
        if abs(w.sum() - 1.0) > 1e-9:
            raise DistributionError(f"The `weights` parameter of {func} must sum to 1 (tolerance "
                                    f"1e-09). Got a sum of {w.sum():.12g}; divide by the sum if "
                                    "they are unnormalised.")
    return ids, w


def _check_length(model: Any, n_total: int, func: str) -> None:
    limit = getattr(model, "max_context", None)
    if limit is not None and n_total + len(model.prefix) > limit:
        raise InputError(f"The prompt and response of {func} need {n_total + len(model.prefix)} "
                         f"positions (prefix included), more than the model's context of {limit}. "
                         "Shorten the prompt or generate fewer tokens.")


def _response_log_probs(model: Any, context: list[int], ys: np.ndarray) -> np.ndarray:
    """(S, n, K) natural-log p(y_t | context, y^{t-1}) for a batch of responses ys (S, n)."""
    from ..models.masked import MaskedModel
    if isinstance(model, MaskedModel):
        return model.left_to_right_log_probs(context, ys)
    S, n = ys.shape
    ids = np.concatenate([np.tile(np.asarray(context, dtype=np.int64), (S, 1)), ys], axis=1)
    lp = np.asarray(model.next_log_probs(ids, prefix=True), dtype=np.float64)
    c = len(context)
    return lp[:, c:c + n, :]


#: Prompts per shard of the mixture marginal. Fixed, so the shards (and the order in which their
#: partial sums are combined) are the same in one process and over any number of Ray workers.
PROMPT_SHARD = 8

#: Where the mixture runs (a seminfo.scale pool) and the progress bar it advances, when set by
#: :func:`mixture_context` (analyze_flow with ray= or progress=); otherwise this process, silently.
_MIXTURE: contextvars.ContextVar = contextvars.ContextVar("seminfo_flow_mixture", default=(None, None))


@contextlib.contextmanager
def mixture_context(pool: Any = None, bar: Any = None) -> Iterator[None]:
    """Run prompt-set mixtures inside the block on `pool` and advance `bar` by scored positions."""
    token = _MIXTURE.set((pool, bar))
    try:
        yield
    finally:
        _MIXTURE.reset(token)


def mixture_shard(model: Any, shard: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Work function of a model pool: the partial log-sums of the mixture over a few prompts.

    ``shard = (ys, [(prompt_ids, weight), ...])`` gives ``(acc, norm)``, natural logs:
    ``acc = log sum_k w_k p(y^{t-1}|x_k) p(.|y^{t-1},x_k)`` (S, n, K) and
    ``norm = log sum_k w_k p(y^{t-1}|x_k)`` (S, n).
    """
    ys, items = shard
    S = ys.shape[0]
    acc = norm = None
    for x, wk in items:
        lp = _response_log_probs(model, x, ys)                                  # (S, n, K)
        real = np.take_along_axis(lp, ys[..., None], -1)[..., 0]                # (S, n)
        prior = math.log(wk) + np.concatenate([np.zeros((S, 1)), np.cumsum(real, 1)[:, :-1]], 1)
        term = prior[..., None] + lp
        acc = term if acc is None else np.logaddexp(acc, term)
        norm = prior if norm is None else np.logaddexp(norm, prior)
    return acc, norm


def _marginal_log_probs(model: Any, ys: np.ndarray, pset) -> np.ndarray:
    """(S, n, K) marginal next-token log-probabilities: mixture over the prompt set, or null prompt.

    The prompt set is cut into shards of :data:`PROMPT_SHARD` prompts, whose partial sums are
    combined in prompt order, here or on the Ray workers of :func:`mixture_context`.
    """
    if pset is None:
        return _response_log_probs(model, [], ys)
    from ..scale import LocalPool
    ids, w = pset
    items = [(list(x), float(wk)) for x, wk in zip(ids, w) if wk != 0]
    shards = [(ys, items[a:a + PROMPT_SHARD]) for a in range(0, len(items), PROMPT_SHARD)]
    pool, bar = _MIXTURE.get()
    pool = pool or LocalPool(model)
    parts: list[Any] = [None] * len(shards)
    for k, part in pool.map("flow.mixture", shards):
        parts[k] = part
        if bar is not None:
            bar.update(ys.shape[0] * sum(len(x) + ys.shape[1] for x, _ in shards[k][1]))
    acc, norm = parts[0]
    for a, n in parts[1:]:
        acc, norm = np.logaddexp(acc, a), np.logaddexp(norm, n)
    return acc - norm[..., None]


def _sample(model: Any, context: list[int], n_tokens: int, n_samples: int, seed: Any,
            temperature: float = 1.0) -> np.ndarray:
    from ..models.masked import MaskedModel, sample_masked
    if isinstance(model, MaskedModel):
        return np.asarray(sample_masked(model, list(context), n_tokens, n_samples=n_samples, seed=seed,
                                        temperature=temperature).tokens, dtype=np.int64)
    from ..models.sampling import sample
    return np.asarray(sample(model, list(context), n_tokens, n_samples=n_samples, seed=seed,
                             temperature=temperature).tokens, dtype=np.int64)


def _marginal_name(pset) -> str:
    return "null-prompt" if pset is None else f"prompt-set mixture ({len(pset[0])} prompts)"


def _flow_result(model: Any, y: np.ndarray, cond: np.ndarray, marg: np.ndarray, marginal: str,
                 n_prompt: int) -> FlowResult:
    d = density_terms(cond, marg, y)
    return FlowResult(
        tokens=[model.tokenizer.token_str(int(i)) for i in y], token_ids=y.tolist(),
        conditional_log2p=d["cond"], marginal_log2p=d["marg"], surprisal_bits=-d["cond"],
        info_density_bits=d["iota"], cumulative_bits=np.cumsum(d["iota"]),
        expected_density_bits=d["kl"], entropy_bits=d["entropy"], total_bits=float(d["iota"].sum()),
        marginal=marginal, prompt_tokens=n_prompt)


# ---------------------------------------------------------------------------------------------------
# public functions

def information_flow(model: Any, prompt: Any, response: Any = None, *, n_tokens: int | None = None,
                     prompts: Sequence | None = None, weights: Sequence | None = None,
                     seed: int | None = None) -> FlowResult:
    """Per-token information density iota_t = log2 p(y_t|y^{t-1},x) - log2 p(y_t|y^{t-1}) of a response.

    Parameters
    ----------
    model : model spec or seminfo model
        A left-to-right model, or a masked-diffusion model read in left-to-right order.
    prompt : str, bytes or sequence of int
        The prompt x (must not tokenise to nothing).
    response : str, bytes or sequence of int, optional
        The response y^n; when omitted, `n_tokens` tokens are sampled from p(. | x) with `seed`.
    n_tokens : int, optional
        Number of tokens to generate (only without `response`).
    prompts, weights : sequences, optional
        A prompt set and its weights (summing to 1; uniform when omitted): the marginal is then the
        exact mixture. Without them the null-prompt approximation is used (module docstring).
    seed : int, optional

    Returns
    -------
    FlowResult
        Per-token arrays in bits per token, cumulative S_t and total S_n in bits.

    References
    ----------
    1. Massey (1990).  2. Kramer (1998).  3. Cover & Thomas (2006).
    """
    from ..models.capability import as_model
    func = "information_flow"
    model = as_model(model, "sample", func=func)
    seed = as_seed(seed, func)
    x = _encode(model, prompt, "prompt", func)
    pset = _prompt_set(model, prompts, weights, func)
    if response is None:
        if n_tokens is None:
            raise InputError(f"{func} needs a `response` or a number of tokens to generate "
                             "(`n_tokens`). Got neither.")
        n = as_int(n_tokens, "n_tokens", func, minimum=1)
        _check_length(model, len(x) + n, func)
        if pset is not None:
            _check_length(model, max(len(p) for p in pset[0]) + n, func)
        y = _sample(model, x, n, 1, seed)[0]
    else:
        if n_tokens is not None:
            raise InputError(f"The `n_tokens` parameter of {func} applies only when no `response` is "
                             f"given. Got both a response and n_tokens={n_tokens}.")
        y = np.asarray(_encode(model, response, "response", func), dtype=np.int64)
        _check_length(model, len(x) + len(y), func)
        if pset is not None:
            _check_length(model, max(len(p) for p in pset[0]) + len(y), func)
    cond = _response_log_probs(model, x, y[None])[0]
    marg = _marginal_log_probs(model, y[None], pset)[0]
    return _flow_result(model, y, cond, marg, _marginal_name(pset), len(x))


def multi_turn_flow(model: Any, turns: Sequence[tuple[str, Any]]) -> FlowResult:
    """Directed information density iota_t = log2 p(y_t | y^{t-1}, x^t) - log2 p(y_t | y^{t-1}) over turns.

    Parameters
    ----------
    model : seminfo TokenModel
    turns : sequence of (role, text)
        role ``"input"`` (user text, tool results: x, arriving while the model writes) or
        ``"output"`` (the model's text: y). Must contain at least one output turn.

    Returns
    -------
    FlowResult
        One entry per output token. The conditional sees every turn before the token; the marginal
        is the null-input approximation (the output turns alone, after the prefix token).
    """
    from ..models.capability import as_model
    func = "multi_turn_flow"
    model = as_model(model, "score", func=func)
    if not turns:
        raise InputError(f"The `turns` parameter of {func} must be a non-empty list of (role, text).")
    ctx: list[int] = []
    out_pos: list[int] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, (tuple, list)) or len(turn) != 2 or turn[0] not in ("input", "output"):
            raise InputError(f"The `turns` parameter of {func} must hold (role, text) pairs with role "
                             f"'input' or 'output'. Got {turn!r} at index {i}.")
        ids = _encode(model, turn[1], "turns", func)
        if turn[0] == "output":
            out_pos.extend(range(len(ctx), len(ctx) + len(ids)))
        ctx.extend(ids)
    if not out_pos:
        raise InputError(f"The `turns` parameter of {func} must contain at least one 'output' turn.")
    _check_length(model, len(ctx), func)
    ids = np.asarray(ctx, dtype=np.int64)
    pos = np.asarray(out_pos)
    y = ids[pos]
    cond = np.asarray(model.next_log_probs(ids[None], prefix=True), dtype=np.float64)[0, pos]
    marg = _response_log_probs(model, [], y[None])[0]
    return _flow_result(model, y, cond, marg, "null-input (directed)", int(len(ids) - len(y)))


@dataclass(frozen=True)
class SubmartingaleResult(Result):
    """Monte-Carlo check that S_t is a sub-martingale under the model's own sampling.

    Attributes
    ----------
    mean_increment_bits, stderr_bits, lower_bits, upper_bits : ndarray (n,)
        Mean of iota_t over the samples, its standard error and the two-sided confidence interval at
        `level` (Student t), bits per token.
    mean_expected_increment_bits : ndarray (n,)
        Mean of D(p(.|y^{t-1},x) || p(.|y^{t-1})) over the samples (>= 0 by construction).
    total : Estimate
        E S_n (bits, total) from the sampled sums of iota.
    total_rao_blackwell : Estimate
        E S_n from the sums of the per-step relative entropies (same mean, lower variance).
    min_z : float
        Smallest mean / stderr over t; pvalue: one-sided, Bonferroni over t, of "some mean < 0".
    verdict : str
    """

    mean_increment_bits: np.ndarray
    stderr_bits: np.ndarray
    lower_bits: np.ndarray
    upper_bits: np.ndarray
    mean_expected_increment_bits: np.ndarray
    total: Estimate
    total_rao_blackwell: Estimate
    min_z: float
    pvalue: float
    verdict: str
    level: float
    n_samples: int
    marginal: str
    units: str = "bits/token (increments); bits total (total)"


def _sampled_terms(model, x, n, n_samples, pset, seed, temperature=1.0, chunk=8):
    """iota and D terms (S, n) in bits for S continuations of x (scored `chunk` at a time: the full
    (chunk, n, K) distributions are needed for the relative entropies)."""
    ys = _sample(model, x, n, n_samples, seed, temperature)                     # (S, n)
    iota, kl = np.empty(ys.shape), np.empty(ys.shape)
    for a in range(0, ys.shape[0], chunk):
        part = ys[a:a + chunk]
        cond = _response_log_probs(model, x, part)
        marg = _marginal_log_probs(model, part, pset)
        for s in range(part.shape[0]):
            d = density_terms(cond[s], marg[s], part[s])
            iota[a + s], kl[a + s] = d["iota"], d["kl"]
    return iota, kl


def submartingale_test(model: Any, prompt: Any, n_tokens: int, *, n_samples: int = 32,
                       prompts: Sequence | None = None, weights: Sequence | None = None,
                       level: float = 0.95, temperature: float = 1.0,
                       seed: int | None = None) -> SubmartingaleResult:
    """Mean increments E[iota_t] >= 0 of S_t over `n_samples` continuations sampled from p(. | x).

    The verdict is "consistent with a sub-martingale" unless some mean increment is below zero with
    one-sided Bonferroni-corrected significance 1 - `level`; then "violated". Standard errors treat
    the samples as independent (they are). With ``temperature != 1`` the continuations are no longer
    drawn from the law that scores them (the densities are always at temperature 1), so the
    guarantee E[iota_t | past] >= 0 no longer holds and the test can, correctly, report a violation.
    """
    from ..models.capability import as_model
    func = "submartingale_test"
    model = as_model(model, "sample", func=func)
    seed = as_seed(seed, func)
    x = _encode(model, prompt, "prompt", func)
    n = as_int(n_tokens, "n_tokens", func, minimum=1)
    S = as_int(n_samples, "n_samples", func, minimum=2)
    level = as_float(level, "level", func, minimum=0.0, maximum=1.0, strict_min=True)
    temperature = as_float(temperature, "temperature", func, minimum=0.0, strict_min=True)
    if level >= 1:
        raise InputError(f"The `level` parameter of {func} must be in (0, 1). Got {level}.")
    pset = _prompt_set(model, prompts, weights, func)
    _check_length(model, len(x) + n, func)
    if pset is not None:
        _check_length(model, max(len(p) for p in pset[0]) + n, func)
    iota, kl = _sampled_terms(model, x, n, S, pset, seed, temperature)
    mean = iota.mean(axis=0)
    se = iota.std(axis=0, ddof=1) / math.sqrt(S)
    tq = float(stats.t.ppf(0.5 + level / 2, S - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, mean / se, np.where(mean >= 0, np.inf, -np.inf))
    p_one = stats.t.cdf(z, S - 1)                           # small when the mean is clearly negative
    pvalue = float(min(1.0, p_one.min() * n))
    verdict = ("violated: some mean increment is significantly negative" if pvalue < 1 - level
               else "consistent with a sub-martingale")
    return SubmartingaleResult(
        mean_increment_bits=mean, stderr_bits=se, lower_bits=mean - tq * se, upper_bits=mean + tq * se,
        mean_expected_increment_bits=kl.mean(axis=0),
        total=mean_estimate(iota.sum(axis=1), "bits", "Monte Carlo mean of S_n"),
        total_rao_blackwell=mean_estimate(kl.sum(axis=1), "bits", "Monte Carlo mean of sum_t D_t"),
        min_z=float(z.min()), pvalue=pvalue, verdict=verdict, level=level, n_samples=S,
        marginal=_marginal_name(pset))


def prompt_information(model: Any, prompts: Sequence, n_tokens: int, *,
                       weights: Sequence | None = None, n_samples: int = 16,
                       seed: int | None = None) -> Estimate:
    """I(X; Y^n) = sum_k w_k E_{Y^n ~ p(.|x_k)} S_n, estimated by stratified Monte Carlo (bits, total).

    Each prompt gets `n_samples` continuations; each continuation contributes the Rao-Blackwellised
    sum of the per-step relative entropies D(p(.|y^{t-1},x_k) || p(.|y^{t-1})) (same expectation as
    S_n). The marginal is the exact mixture over the prompt set. ``stderr`` combines the strata:
    sqrt(sum_k w_k^2 se_k^2).
    """
    from ..models.capability import as_model
    func = "prompt_information"
    model = as_model(model, "sample", func=func)
    seed = as_seed(seed, func)
    n = as_int(n_tokens, "n_tokens", func, minimum=1)
    S = as_int(n_samples, "n_samples", func, minimum=2)
    pset = _prompt_set(model, prompts, weights, func)
    if pset is None:
        raise InputError(f"The `prompts` parameter of {func} must be a non-empty list of prompts.")
    ids, w = pset
    _check_length(model, max(len(p) for p in ids) + n, func)
    rng = as_rng(seed, func)
    means, ses, plain = [], [], []
    for x in ids:
        iota, kl = _sampled_terms(model, x, n, S, pset, int(rng.integers(2**63 - 1)))
        rb = kl.sum(axis=1)
        means.append(rb.mean())
        ses.append(rb.std(ddof=1) / math.sqrt(S))
        plain.append(iota.sum(axis=1).mean())
    value = float(np.dot(w, means))
    stderr = float(math.sqrt(np.dot(w ** 2, np.square(ses))))
    return Estimate(value=value, stderr=stderr, units="bits", n=S * len(ids),
                    method="stratified Monte Carlo, Rao-Blackwellised sum of per-token KL",
                    extra={"per_prompt_bits": [float(m) for m in means],
                           "plain_mean_S_n_bits": float(np.dot(w, plain)), "n_tokens": n})



def flow_elbo(model: Any, prompt: Any, response: Any, *, samples: int = 128, seed: Any = 0) -> dict:
    """Order-free information of a response: ELBO(y) - ELBO(y | x), in bits, for any model.

    For left-to-right models both terms are exact, and the difference is exactly S_n of
    :func:`information_flow` with the null-prompt marginal. For masked-diffusion models both are
    negative ELBOs (upper bounds on -log2 p(y) and -log2 p(y | x)) estimated with independent
    samples; their difference estimates S_n with standard error sqrt(se_1^2 + se_2^2).

    Returns
    -------
    dict with ``conditional_bits`` and ``marginal_bits`` (ElboResult, bits total),
    ``information_bits`` (float), ``stderr_bits`` (float), ``exact`` (bool).
    """
    from ..models.capability import as_model
    from ..models.elbo import elbo
    func = "flow_elbo"
    model = as_model(model, "likelihood", func=func)
    seed = as_seed(seed, func)
    x = _encode(model, prompt, "prompt", func)
    y = np.asarray(_encode(model, response, "response", func), dtype=np.int64)
    cond = elbo(model, y, prompt=x, samples=samples, seed=seed)
    marg = elbo(model, y, samples=samples, seed=None if seed is None else seed + 1)
    return {"conditional_bits": cond, "marginal_bits": marg, "information_bits": marg.value - cond.value,
            "stderr_bits": math.hypot(cond.stderr, marg.stderr), "exact": bool(cond.exact)}
