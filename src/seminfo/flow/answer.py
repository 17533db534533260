"""Information about an answer along reasoning paths (theory §7b).

For a question x, candidate answers a in A and a reasoning path y^n sampled from the model, the
model's answer distribution after t reasoning tokens is obtained by *forcing* the answer:

    pi_t(a) = p(c a | x, y^t) / sum_{a'} p(c a' | x, y^t),

with c an answer cue (default ``"\\nAnswer:"``): the model's probability of writing the cue and then
candidate a, renormalised over the candidate set (the mass the set receives is reported as
``candidate_mass``). From it: the posterior entropy H_t = H(pi_t) (bits), the information gained
I_t = H_0 - H_t and per reasoning token H_{t-1} - H_t.

Martingale diagnostic. If the forced-answer posterior were the model's belief about a single answer
variable, pi_t would be a martingale under the model's own sampling: E[pi_t(a)] = pi_0(a) for every
t (and the expected information gain would be a sub-martingale, theory §7b). We estimate the drift
``E[pi_t(a)] - pi_0(a)`` over the sampled paths, with standard errors, and summarise it by the
largest |z| (Bonferroni p-value) and the mean total-variation distance between the path-averaged
posterior and pi_0. A real model departs from the martingale when forcing an answer early is not
what its later reasoning predicts.

Sources
-------
1. T. M. Cover, J. A. Thomas, "Elements of Information Theory" (2006), ch. 2 (conditioning reduces
   entropy on average).
2. J. L. Doob, "Stochastic Processes" (1953) (martingales of posteriors).

Left out: one-step branching checks of E[pi_{t+1} | y^t] = pi_t (cost: one forward pass per
candidate next token), free-form answers not listed in the candidate set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from .._validate import as_int, as_seed
from ..errors import InputError
from ..results import Result
from .density import _check_length, _encode, _sample

__all__ = ["AnswerResult", "answer_information"]

_FUNC = "answer_information"
LN2 = math.log(2.0)


@dataclass(frozen=True)
class AnswerResult(Result):
    """Answer posteriors after each reasoning token, for each sampled path.

    Attributes
    ----------
    answers : list of str
    paths : list of list of str
        The reasoning tokens of each path (S paths of n tokens).
    path_ids : ndarray (S, n) of int
        Their token ids.
    posterior : ndarray (S, n + 1, A)
        pi_t(a); row t is after t reasoning tokens (t = 0: the question alone).
    entropy_bits : ndarray (S, n + 1)
        H(pi_t) in bits.
    information_bits : ndarray (S, n + 1)
        I_t = H_0 - H_t in bits (total up to t).
    gain_per_token_bits : ndarray (S, n)
        H_{t-1} - H_t in bits per reasoning token.
    candidate_mass : ndarray (S, n + 1)
        sum_a p(c a | x, y^t): how much probability the model gives the candidate set.
    drift, drift_stderr : ndarray (n + 1, A)
        mean over paths of pi_t(a) - pi_0(a) and its standard error (martingale: 0).
    max_abs_z : float
        Largest |drift / stderr| over t >= 1 and a (0 where both are 0; entries with stderr 0 but
        drift != 0, e.g. identical paths, are skipped; nan with one path).
    martingale_pvalue : float
        Two-sided Student-t (S - 1 degrees of freedom) p-value of max_abs_z, Bonferroni-corrected
        over the n A tests.
    mean_tv_departure : float
        Mean over t >= 1 of the total variation between mean_paths pi_t and pi_0.
    """

    answers: list
    paths: list
    path_ids: np.ndarray
    posterior: np.ndarray
    entropy_bits: np.ndarray
    information_bits: np.ndarray
    gain_per_token_bits: np.ndarray
    candidate_mass: np.ndarray
    drift: np.ndarray
    drift_stderr: np.ndarray
    max_abs_z: float
    martingale_pvalue: float
    mean_tv_departure: float
    units: str = "bits (entropy, information); bits/token (gain); probability (posterior, drift)"


def _score_sequences(model: Any, seqs: list[list[int]], spans: list[tuple[int, int]],
                     batch_size: int = 16) -> np.ndarray:
    """sum of ln p(token) over ``seq[start:end]`` for each sequence, batching equal lengths."""
    out = np.empty(len(seqs))
    by_len: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_len.setdefault(len(s), []).append(i)
    for length, idx in by_len.items():
        for b in range(0, len(idx), batch_size):
            chunk = idx[b:b + batch_size]
            ids = np.asarray([seqs[i] for i in chunk], dtype=np.int64)
            lp = model.next_log_probs(ids, prefix=True)                        # (B, L+1, K)
            for r, i in enumerate(chunk):
                start, end = spans[i]
                pos = np.arange(start, end)
                out[i] = np.asarray(lp[r, pos, ids[r, pos]], dtype=np.float64).sum()
    return out


def answer_information(model: Any, question: Any, answers: Sequence, *, n_paths: int = 4,
                       n_tokens: int = 16, paths: Sequence | None = None,
                       answer_cue: Any = "\nAnswer:", seed: int | None = None) -> AnswerResult:
    """Forced-answer posteriors pi_t(a) ∝ p(cue a | x, y^t), their entropy H_t and gains H_{t-1} - H_t.

    Parameters
    ----------
    model : seminfo TokenModel
    question : str, bytes or sequence of int
    answers : sequence of str (at least 2), each tokenising to at least one token
    n_paths, n_tokens : int
        Number of reasoning paths to sample from p(. | x) and their length (ignored with `paths`).
    paths : sequence of str or of id sequences, optional
        Given reasoning paths (all truncated to the shortest one's token count).
    answer_cue : str
        Text written before the answer when forcing it ("" for none).
    seed : int, optional

    Returns
    -------
    AnswerResult
        Posteriors (probabilities), entropies and information in bits, the martingale diagnostic.
    """
    from ..models.capability import as_model
    model = as_model(model, "score", "incremental", func=_FUNC)
    seed = as_seed(seed, _FUNC)
    x = _encode(model, question, "question", _FUNC)
    if isinstance(answers, (str, bytes)) or len(answers) < 2:
        raise InputError(f"The `answers` parameter of {_FUNC} must be a list of at least 2 candidate "
                         f"answers. Got {answers!r}.")
    ans = [_encode(model, a, "answers", _FUNC) for a in answers]
    cue = list(model.tokenizer.encode(answer_cue)) if answer_cue else []
    if paths is None:
        S = as_int(n_paths, "n_paths", _FUNC, minimum=1)
        n = as_int(n_tokens, "n_tokens", _FUNC, minimum=1)
        _check_length(model, len(x) + n + len(cue) + max(map(len, ans)), _FUNC)
        ys = _sample(model, x, n, S, seed)
    else:
        if isinstance(paths, (str, bytes)) or len(paths) == 0:
            raise InputError(f"The `paths` parameter of {_FUNC} must be a non-empty list of reasoning "
                             f"paths. Got {paths!r}.")
        enc = [_encode(model, p, "paths", _FUNC) for p in paths]
        n = min(map(len, enc))
        ys = np.asarray([e[:n] for e in enc], dtype=np.int64)
        S = ys.shape[0]
        _check_length(model, len(x) + n + len(cue) + max(map(len, ans)), _FUNC)
    A = len(ans)
    seqs, spans = [], []
    for s in range(S):
        for t in range(n + 1):
            base = x + ys[s, :t].tolist() + cue
            for a in ans:
                seqs.append(base + a)
                spans.append((len(base), len(base) + len(a)))
    scores = _score_sequences(model, seqs, spans).reshape(S, n + 1, A)     # ln p(a | x, y^t, cue)
    cue_lp = 0.0
    if cue:
        cue_lp = _score_sequences(model, [x + ys[s, :t].tolist() + cue for s in range(S)
                                          for t in range(n + 1)],
                                  [(len(x) + t, len(x) + t + len(cue)) for s in range(S)
                                   for t in range(n + 1)]).reshape(S, n + 1)
    log_norm = logsumexp(scores, axis=-1)                                      # (S, n+1)
    post = np.exp(scores - log_norm[..., None])
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(post > 0, post * np.log2(post), 0.0), axis=-1)
    info = ent[:, :1] - ent
    drift = (post - post[:, :1]).mean(axis=0)                                   # (n+1, A)
    se = ((post - post[:, :1]).std(axis=0, ddof=1) / math.sqrt(S)) if S > 1 else np.full_like(drift, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se[1:] > 0, np.abs(drift[1:]) / se[1:], np.where(drift[1:] == 0, 0.0, np.nan))
    max_z = float(np.nanmax(z)) if S > 1 and not np.all(np.isnan(z)) else math.nan
    pval = float(min(1.0, 2 * stats.t.sf(max_z, S - 1) * n * A)) if S > 1 else math.nan
    tv = 0.5 * np.abs(post.mean(axis=0)[1:] - post[0, 0]).sum(axis=-1)
    return AnswerResult(
        answers=[a if isinstance(a, str) else repr(a) for a in answers],
        paths=[[model.tokenizer.token_str(int(i)) for i in row] for row in ys], path_ids=ys,
        posterior=post, entropy_bits=ent, information_bits=info,
        gain_per_token_bits=ent[:, :-1] - ent[:, 1:], candidate_mass=np.exp(log_norm + cue_lp),
        drift=drift, drift_stderr=se, max_abs_z=max_z, martingale_pvalue=pval,
        mean_tv_departure=float(tv.mean()))
