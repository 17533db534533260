"""Compression bounds on the generalisation of token models: document level and token level.

Scope
-----
For a model h that a prefix-free code names in C bits, with next-token predictions smoothed as
p'(v) = (1 - a) p(v) + a / K (K = the model's vocabulary), every token loss -log2 p'(x) lies in
[ -log2((1 - a) + a/K), log2(K / a) ], an interval of width

    Delta = log2(1 + (1 - a) K / a)   bits (theory §11).

**Document level** (Lotfi et al. 2023 [1], ``compute_bounds.py::llm_subsampling_bound``): the m
training documents are independent draws from the document distribution; the loss of a document
is its mean smoothed bits per token. With probability >= 1 - delta, simultaneously for every
model of the code (Occam / finite-hypothesis bound, Hoeffding's inequality),

    E_doc[loss] <= mean_docs[loss] + Delta sqrt((C ln 2 + ln(1/delta)) / (2m)).

**Token level** (Lotfi et al. 2024 [2], Theorem 1): the m training tokens X_1..X_m, documents in
the order given, concatenated; ``Z_i = E[l(X_i) | X_<i] - l(X_i)`` is a martingale difference
sequence bounded in an interval of width Delta, so Azuma's inequality (with the same union bound)
gives, with probability >= 1 - delta,

    (1/m) sum_i E[l(X_i) | X_<i]  <=  (1/m) sum_i l(X_i) + Delta sqrt((C ln 2 + ln(1/delta)) / (2m)).

The left side is the risk it bounds: the expected next-token loss (smoothed, bits) at each
training position under the data distribution given everything before it, averaged over the
positions: not the loss on a fresh document. l(X_i) is the model's loss with the context it is
scored with (:func:`seminfo.score_text`'s windows: lm-evaluation-harness's disjoint windows for a
model with a context limit, the whole document otherwise).

**Subsampling** [1]: when only s of the m units (documents or tokens, drawn uniformly without
replacement) are evaluated, the mean over the sample replaces the training mean, and with
r = s / (s + m) the failure probability is split r delta / (1 - r) delta:

    bound = mean_s + Delta [ sqrt((C ln 2 - ln(r delta)) / (2m)) + sqrt(-ln((1 - r) delta) / (2s)) ].

**Complexity.** C = L + 2 log2 L + log2|alpha grid| + log2|levels grid| bits: L is the range-coded
size of the model's parameters (:mod:`.description`), 2 log2 L makes the code prefix-free, and the
smoothing a and (for neural models) the number of quantisation levels, both chosen from fixed
grids to minimise the bound, are paid for by a union bound over the grids. The bound is about the
quantised model, so its empirical loss is measured on that model; the float model's loss is
reported beside it.

The bound is **vacuous** when it is >= log2 K bits per token, what the uniform distribution over
the vocabulary achieves without training. The seed paper ties generalisation to the l1 norm of
the logit vector; :func:`generalization_bound` reports its mean over scored positions beside the
bound.

References
----------
[1] S. Lotfi, M. Finzi, Y. Kuang, T. G. J. Rudner, M. Goldblum, A. G. Wilson, "Non-Vacuous
    Generalization Bounds for Large Language Models", ICML 2024, arXiv:2312.17173.
[2] S. Lotfi, Y. Kuang, B. Amos, M. Goldblum, M. Finzi, A. G. Wilson, "Unlocking Tokens as Data
    Points for Generalization Bounds on Larger Language Models", NeurIPS 2024, arXiv:2407.18158.
[3] K. Azuma, "Weighted sums of certain dependent random variables", Tohoku Math. J. 19 (1967);
    W. Hoeffding, "Probability inequalities for sums of bounded random variables", JASA 58 (1963).

Leaves out: PAC-Bayes bounds with a posterior of positive width, learned smoothing per token,
quantisation-aware training, the cost of choosing the architecture or fitting the tokenizer (both
are taken as fixed in advance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._validate import as_float, as_int, as_rng, one_of
from ..errors import InputError
from ..results import Result
from ..units import LN2
from .description import LEVEL_GRID, DescriptionLength, ngram_description, quantize_hf

__all__ = ["GeneralizationBound", "generalization_bound", "compression_bound", "loss_range",
           "smoothed_bits", "ALPHA_GRID", "KINDS"]

_FUNC = "generalization_bound"

#: Smoothing parameters searched (as in Lotfi et al.'s code); choosing one costs log2(8) = 3 bits.
ALPHA_GRID = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5)
#: The two bounds: "token" (martingale, m = tokens; the default) and "document" (m = documents).
KINDS = ("token", "document")
#: Scored positions over which the mean l1 norm of the logits is taken.
L1_POSITIONS = 1024


# ------------------------------------------------------------------------------------ the formula
def loss_range(alpha: float, vocab_size: int) -> float:
    """Delta = log2(1 + (1 - a) K / a): width of the range of -log2 p' after smoothing (bits/token).

    >>> round(loss_range(0.5, 3), 12)      # log2(1 + 0.5 * 3 / 0.5) = log2(4)
    2.0
    """
    a = as_float(alpha, "alpha", "loss_range", minimum=0.0, maximum=1.0, strict_min=True)
    K = as_int(vocab_size, "vocab_size", "loss_range", minimum=1)
    return math.log2(1.0 + (1.0 - a) * K / a)


def smoothed_bits(surprisal_bits: Any, alpha: float, vocab_size: int) -> np.ndarray:
    """-log2((1 - a) p + a / K) for each token, from its surprisal -log2 p in bits."""
    s = np.asarray(surprisal_bits, dtype=np.float64)
    return -np.log2((1.0 - alpha) * np.exp2(-s) + alpha / vocab_size)


def compression_bound(empirical: float, *, complexity_bits: float, m: int, loss_range: float,
                      delta: float = 0.05, n_evaluated: int | None = None) -> tuple[float, float, float]:
    """The Occam bound with subsampling: (bound, complexity term, sampling term), bits per token.

    ``bound = empirical + complexity_term + sampling_term`` with, for s = `n_evaluated` < m and
    r = s / (s + m),

        complexity_term = Delta sqrt((C ln 2 - ln(r delta)) / (2m)),
        sampling_term   = Delta sqrt(-ln((1 - r) delta) / (2s)),

    and for s = m (or None) ``complexity_term = Delta sqrt((C ln 2 + ln(1/delta)) / (2m))``,
    ``sampling_term = 0``.

    Parameters
    ----------
    empirical : float
        Mean smoothed loss over the evaluated units (bits per token).
    complexity_bits : float, keyword-only
        C in bits (>= 0).
    m : int, keyword-only
        Training units (documents or tokens), >= 1.
    loss_range : float, keyword-only
        Delta (bits per token), > 0.
    delta : float, keyword-only
        Failure probability, in (0, 1).
    n_evaluated : int or None, keyword-only
        s, units evaluated, 1..m; None means m.

    Examples
    --------
    >>> b, c, s = compression_bound(3.0, complexity_bits=100.0, m=10_000, loss_range=10.0)
    >>> round(b, 6), s
    (3.601292, 0.0)
    """
    func = "compression_bound"
    emp = as_float(empirical, "empirical", func)
    C = as_float(complexity_bits, "complexity_bits", func, minimum=0.0)
    m = as_int(m, "m", func, minimum=1)
    D = as_float(loss_range, "loss_range", func, minimum=0.0, strict_min=True)
    delta = _check_delta(delta, func)
    s = m if n_evaluated is None else as_int(n_evaluated, "n_evaluated", func, minimum=1, maximum=m)
    if s == m:
        comp = D * math.sqrt((C * LN2 + math.log(1.0 / delta)) / (2.0 * m))
        return emp + comp, comp, 0.0
    r = s / (s + m)
    comp = D * math.sqrt((C * LN2 - math.log(r * delta)) / (2.0 * m))
    samp = D * math.sqrt(-math.log((1.0 - r) * delta) / (2.0 * s))
    return emp + comp + samp, comp, samp


def _check_delta(delta: Any, func: str) -> float:
    d = as_float(delta, "delta", func)
    if not 0.0 < d < 1.0:
        raise InputError(f"The `delta` parameter of {func} must be a probability in (0, 1) (the bound "
                         f"fails with probability at most delta). Got {d:g}.")
    return d


# ------------------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class GeneralizationBound(Result):
    """A compression bound on a token model's risk, with each of its terms.

    ``bound = empirical + complexity_term + sampling_term`` (bits per token).

    Attributes
    ----------
    model : str
    kind : str
        ``"token"`` (Lotfi et al. 2024, m = tokens) or ``"document"`` (Lotfi et al. 2023, m = documents).
    bound : float
        Upper bound on the risk, with probability >= 1 - delta (bits/token).
    empirical : float
        Mean smoothed loss of the quantised model over the evaluated units (bits/token).
    complexity_term, sampling_term : float
        The two square-root terms (bits/token); sampling_term is 0 without subsampling.
    complexity_bits : float
        C = L + 2 log2 L + alpha_bits + levels_bits (bits).
    description_bits : float
        L, the coded size of the (quantised) parameters (bits).
    alpha_bits, levels_bits : float
        Bits paid for choosing the smoothing and the quantisation levels from their grids.
    vacuous : bool
        ``bound >= log2_vocab``.
    log2_vocab : float
        log2 K (bits/token): the loss of the uniform distribution.
    alpha : float
        Smoothing chosen from `alpha_grid`.
    loss_range : float
        Delta = log2(1 + (1 - alpha) K / alpha) (bits/token).
    m : int
        Training units: tokens (kind "token") or documents (kind "document").
    n_evaluated : int
        s, units evaluated (= m unless subsampled).
    subsampled : bool
    delta : float
    quantisation : str
    levels : int or None
        Grid points per tensor of the chosen quantisation (None: nothing quantised).
    loss_float, loss_quantised : float
        Unsmoothed empirical loss of the float and of the quantised model over the same units
        (bits/token; for kind "document" the mean over documents of their bits/token).
    logit_l1 : float
        Mean over scored positions of sum_v |logit_v| of the quantised model (nats).
    logit_l1_source : str
        ``"logits"`` or ``"log-probs"`` (models that only return log-probabilities).
    logit_l1_positions : int
    n_tokens, n_documents : int
        Tokens and (non-empty) documents in the training data.
    seed : int or None
        Seed of the subsample.
    alpha_grid : tuple of float
    candidates : tuple of dict
        One row per quantisation tried (levels, description_bits, alpha, loss_quantised, empirical,
        complexity_term, bound), each with its best alpha: what coarser or finer grids would give.
    """

    model: str
    kind: str
    bound: float
    empirical: float
    complexity_term: float
    sampling_term: float
    complexity_bits: float
    description_bits: float
    alpha_bits: float
    levels_bits: float
    vacuous: bool
    log2_vocab: float
    alpha: float
    loss_range: float
    m: int
    n_evaluated: int
    subsampled: bool
    delta: float
    quantisation: str
    levels: int | None
    loss_float: float
    loss_quantised: float
    logit_l1: float
    logit_l1_source: str
    logit_l1_positions: int
    n_tokens: int
    n_documents: int
    seed: int | None = None
    alpha_grid: tuple = ALPHA_GRID
    candidates: tuple = ()
    units: str = "bits/token"
    field_units: dict = field(default_factory=lambda: {
        "bound": "bits/token", "empirical": "bits/token", "complexity_term": "bits/token",
        "sampling_term": "bits/token", "complexity_bits": "bits", "description_bits": "bits",
        "alpha_bits": "bits", "levels_bits": "bits", "log2_vocab": "bits/token", "loss_range": "bits/token",
        "loss_float": "bits/token", "loss_quantised": "bits/token", "logit_l1": "nats",
        "m": "tokens or documents (see kind)", "n_evaluated": "tokens or documents (see kind)"})

    @property
    def dominant(self) -> str:
        """The largest of the three terms of the bound: "empirical", "complexity" or "sampling"."""
        terms = {"empirical": self.empirical, "complexity": self.complexity_term,
                 "sampling": self.sampling_term}
        return max(terms, key=terms.get)

    @property
    def quantisation_cost(self) -> float:
        """loss_quantised - loss_float (bits/token): what quantising did to the empirical loss."""
        return self.loss_quantised - self.loss_float

    def terms(self) -> list[dict[str, Any]]:
        """The bound term by term, as rows (term, value, units) for a table."""
        unit = "tokens" if self.kind == "token" else "documents"
        rows = [("empirical loss (smoothed, quantised model)", self.empirical, "bits/token"),
                ("complexity term", self.complexity_term, "bits/token"),
                ("sampling term", self.sampling_term, "bits/token"),
                ("bound", self.bound, "bits/token"),
                ("log2 K (vacuous at or above)", self.log2_vocab, "bits/token"),
                ("C = L + 2 log2 L + grid bits", self.complexity_bits, "bits"),
                ("L (coded parameters)", self.description_bits, "bits"),
                ("bits naming alpha", self.alpha_bits, "bits"),
                ("bits naming the levels", self.levels_bits, "bits"),
                ("alpha (smoothing)", self.alpha, ""),
                ("Delta (loss range)", self.loss_range, "bits/token"),
                ("m (training units)", self.m, unit),
                ("s (units evaluated)", self.n_evaluated, unit),
                ("loss of the float model", self.loss_float, "bits/token"),
                ("loss of the quantised model", self.loss_quantised, "bits/token"),
                ("mean l1 norm of the " + self.logit_l1_source, self.logit_l1, "nats")]
        return [{"term": t, "value": float(v) if isinstance(v, float) else v, "units": u} for t, v, u in rows]

    def summary(self) -> dict[str, Any]:
        """All fields as plain types, with ``dominant`` and ``quantisation_cost`` added."""
        out = self.as_dict()
        out["dominant"] = self.dominant
        out["quantisation_cost"] = self.quantisation_cost
        out["field_units"] = {**self.field_units, "quantisation_cost": "bits/token"}
        return out


# ------------------------------------------------------------------------------------ scoring
def _position_job(model: Any, ids: np.ndarray, i: int, plan: list) -> tuple[np.ndarray, int, bool]:
    """A window whose last token is ids[i], scored with the context full scoring gives it.

    Returned as (window ids, n_context, with_prefix) with n_context 0 (prefix) or 1 (no prefix),
    so that all such jobs batch together; the caller keeps the last surprisal of the window.
    """
    from ..models.ngram import KneserNeyModel
    if isinstance(model, KneserNeyModel):               # its context is the last order - 1 tokens
        need = model.order - 1
        if need == 0:
            return ids[i:i + 1], 0, True
        if i >= need:
            return ids[i - need:i + 1], 1, False
        return ids[:i + 1], 0, True
    for start, end, n_ctx, with_prefix in plan:
        if start + n_ctx <= i < end:
            return ids[start:i + 1], (0 if with_prefix else 1), with_prefix
    raise AssertionError("every token lies in one window of the plan")     # plan_windows covers all


def _surprisal_bits(model: Any, encoded: list[np.ndarray], units: list, kind: str, window: int | None,
                    batch_size: int, progress: bool, label: str) -> list[np.ndarray]:
    """Surprisal (bits) of the selected units: per document (kind "document") or one array of the
    selected tokens in order (kind "token"; `units` None means every token)."""
    from ..models.scoring import _score_windows, plan_windows
    P = len(model.prefix)
    jobs, owner, last_only = [], [], []
    if kind == "document" or units is None:
        docs = units if kind == "document" else range(len(encoded))
        for d in docs:
            for start, end, n_ctx, wp in plan_windows(encoded[d].size, window, None, P):
                jobs.append((encoded[d][start:end], n_ctx, wp))
                owner.append(d)
                last_only.append(False)
    else:
        plans: dict[int, list] = {}
        for d, i in units:
            if d not in plans:
                plans[d] = plan_windows(encoded[d].size, window, None, P)
            jobs.append(_position_job(model, encoded[d], i, plans[d]))
            owner.append(d)
            last_only.append(True)
    parts: list = [None] * len(jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(jobs), unit="window", desc=f"scoring {label}", leave=False)
    try:
        for j, sur, _ in _score_windows(model, jobs, batch_size, entropy=False):
            parts[j] = sur[-1:] if last_only[j] else sur
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if kind == "document":
        out: dict[int, list] = {}
        for d, p in zip(owner, parts):
            out.setdefault(d, []).append(p)
        return [np.concatenate(out[d]) / LN2 for d in units]
    return [np.concatenate(parts) / LN2]


def _logit_l1(model: Any, encoded: list[np.ndarray], docs: Sequence[int]) -> tuple[float, str, int]:
    """Mean over the first L1_POSITIONS positions of the given documents of sum_v |logit_v| (nats).

    Each document is cut into chunks of the model's context (256 tokens for models without a
    limit), each scored after the prefix; log-probabilities stand in for models without logits.
    """
    limit = (model.max_context or 257) - len(model.prefix)
    hf = getattr(model, "hf_model", None)
    chunks = (encoded[d][a:a + limit] for d in docs for a in range(0, encoded[d].size, limit))
    norms, left = [], L1_POSITIONS
    for ids in chunks:
        if left <= 0:
            break
        ids = ids[:left]
        if hf is not None:
            import torch
            x = torch.as_tensor(np.concatenate([np.asarray(model.prefix, dtype=np.int64), ids])[None],
                                device=model.device)
            P = len(model.prefix)
            with torch.inference_mode():
                logits = hf(input_ids=x, use_cache=False).logits[0, P - 1:P - 1 + ids.size, :model.vocab_size]
                norms.append(logits.float().abs().sum(-1).double().cpu().numpy())
        else:
            lp = np.asarray(model.next_log_probs(ids[None], prefix=True), dtype=np.float64)[0, :ids.size]
            norms.append(np.abs(lp).sum(-1))
        left -= ids.size
    vals = np.concatenate(norms) if norms else np.zeros(0)
    return (float(vals.mean()) if vals.size else math.nan, "logits" if hf is not None else "log-probs",
            int(vals.size))


def _unit_losses(surprisal: list[np.ndarray], kind: str, alpha: float | None, K: int) -> np.ndarray:
    """Per-unit losses: tokens (kind "token") or per-document means, smoothed when alpha is given."""
    f = (lambda s: s) if alpha is None else (lambda s: smoothed_bits(s, alpha, K))
    if kind == "token":
        return f(surprisal[0])
    return np.array([float(np.mean(f(s))) for s in surprisal])


# ------------------------------------------------------------------------------------ public API
def _check_grid(values: Any, name: str, *, odd_int: bool = False) -> tuple:
    seq = (values,) if np.isscalar(values) else tuple(values) if isinstance(values, (list, tuple)) else None
    if not seq:
        raise InputError(f"The `{name}` parameter of {_FUNC} must be a number or a non-empty list of "
                         f"numbers. Got {values!r}.")
    if odd_int:
        out = tuple(as_int(v, name, _FUNC, minimum=3) for v in seq)
        if any(v % 2 == 0 for v in out):
            raise InputError(f"The `{name}` parameter of {_FUNC} must hold odd numbers of levels (a "
                             f"symmetric grid with 0 on it). Got {list(out)}.")
    else:
        out = tuple(as_float(v, name, _FUNC, minimum=0.0, maximum=1.0, strict_min=True) for v in seq)
        if any(v >= 1.0 for v in out):
            raise InputError(f"The `{name}` parameter of {_FUNC} must hold smoothing weights in (0, 1). "
                             f"Got {list(out)}.")
    if len(set(out)) != len(out):
        raise InputError(f"The `{name}` parameter of {_FUNC} lists a value twice: {list(out)}.")
    return out


def generalization_bound(model: Any, documents: Any, delta: float = 0.05, *, kind: str = "token",
                         max_samples: int | None = None, seed: int | None = 0,
                         alpha_grid: Sequence[float] = ALPHA_GRID, levels: int | Sequence[int] = LEVEL_GRID,
                         description_bits: float | None = None, batch_size: int = 8,
                         progress: bool = False, device: str = "auto") -> GeneralizationBound:
    """Compression bound on the risk of `model` trained on `documents` (bits per token).

    ``bound = empirical + Delta sqrt((C ln 2 + ln(1/delta)) / (2m))`` (plus a sampling term when
    only `max_samples` units are evaluated); see the module docstring for the two kinds, the risk
    each bounds and the subsampling form.

    Parameters
    ----------
    model : str or TokenModel
        A spec (``"builtin:ngram:1"``, ``"builtin:gpt"``, a directory) or a loaded left-to-right model.
        Its description length comes from its parameters: Hugging Face models are quantised per
        tensor (`levels`), Kneser-Ney n-grams are coded exactly; any other model needs
        `description_bits`.
    documents : str, pathlib.Path or list
        The training data, read as :func:`seminfo.score_text` reads it (a text, a file, a
        directory, a ``.jsonl`` corpus, a list of texts). Documents that give no token are skipped.
    delta : float
        Failure probability of the bound, in (0, 1).
    kind : {"token", "document"}, keyword-only
        ``"token"`` (default): the martingale bound of Lotfi et al. 2024, m = training tokens; it
        needs no independence between tokens and is the tighter one on a few long texts.
        ``"document"``: Lotfi et al. 2023, m = documents, assumed independent draws.
    max_samples : int or None, keyword-only
        Evaluate only this many units (tokens or documents), drawn uniformly without replacement
        with `seed`, and pay the sampling term; None (default) evaluates all of them.
    seed : int or None, keyword-only
        Seed of the subsample.
    alpha_grid : sequence of float, keyword-only
        Smoothing weights in (0, 1) searched; the best is kept and log2(len) bits are paid.
    levels : int or sequence of int, keyword-only
        Quantisation grid points per tensor (odd) for Hugging Face models; a sequence is searched
        and log2(len) bits are paid. Ignored (and not paid) for other models.
    description_bits : float or None, keyword-only
        L supplied by the caller (bits); the model is then used as it is, unquantised.
    batch_size : int, keyword-only
        Windows per model call.
    progress : bool, keyword-only
        Show tqdm bars on stderr.
    device : str, keyword-only
        Where a model given by spec is loaded.

    Returns
    -------
    GeneralizationBound
        ``.bound``, ``.empirical`` (bits/token), ``.complexity_bits`` (bits), ``.vacuous``,
        ``.kind``, each term, the chosen alpha and levels, the float and quantised losses and the
        mean l1 norm of the logits.

    Raises
    ------
    InputError
        delta outside (0, 1), an unknown kind, empty documents, a bad grid or sample size, a model
        whose description length is unknown without `description_bits`.
    """
    delta = _check_delta(delta, _FUNC)
    kind = one_of(kind, KINDS, "kind", _FUNC)
    alphas = _check_grid(alpha_grid, "alpha_grid")
    if description_bits is not None:
        description_bits = as_float(description_bits, "description_bits", _FUNC, minimum=0.0)
    batch_size = as_int(batch_size, "batch_size", _FUNC, minimum=1)
    rng = as_rng(seed, _FUNC)
    from ..models.capability import as_model
    from ..models.hf import HFModel
    from ..models.ngram import KneserNeyModel
    from ..models.scoring import _checked_window, read_documents
    docs = read_documents(documents, func=_FUNC)
    model = as_model(model, "score", func=_FUNC, device=device)
    if description_bits is None and not isinstance(model, (HFModel, KneserNeyModel)):
        raise InputError(f"The `description_bits` parameter of {_FUNC} is needed for the model "
                         f"{model.name!r} ({type(model).__name__}): its description length is computed "
                         "only for Hugging Face models (quantised weights) and Kneser-Ney n-grams (counts).")
    grid = _check_grid(levels, "levels", odd_int=True) if isinstance(model, HFModel) else ()
    encoded = [np.asarray(model.tokenizer.encode(data), dtype=np.int64) for _, data in docs]
    encoded = [e for e in encoded if e.size]
    if not encoded:
        raise InputError(f"The `documents` given to {_FUNC} are empty: there is no token to bound the "
                         "loss of.")
    window, _ = _checked_window(model, None, None, _FUNC)
    sizes = np.array([e.size for e in encoded], dtype=np.int64)
    m = int(sizes.sum()) if kind == "token" else len(encoded)
    s = m if max_samples is None else as_int(max_samples, "max_samples", _FUNC, minimum=1)
    s = min(s, m)
    if s == m:
        units = None if kind == "token" else list(range(m))
    elif kind == "token":
        flat = np.sort(rng.choice(m, size=s, replace=False))
        d = np.searchsorted(np.cumsum(sizes), flat, side="right")
        units = [(int(a), int(b)) for a, b in zip(d, flat - (np.cumsum(sizes) - sizes)[d])]
    else:
        units = sorted(int(d) for d in rng.choice(m, size=s, replace=False))
    K = int(model.vocab_size)

    def score(mdl, label):
        return _surprisal_bits(mdl, encoded, units, kind, window, batch_size, progress, label)

    float_sur = score(model, model.name)
    variants: list[tuple[Any, DescriptionLength, list]] = []
    if description_bits is not None:
        variants.append((model, DescriptionLength(bits=description_bits, n_parameters=0, quantisation=(
            "given by the caller (description_bits); the model is used unquantised")), float_sur))
    elif isinstance(model, KneserNeyModel):
        variants.append((model, ngram_description(model), float_sur))
    else:
        for lv in grid:
            qmodel, desc = quantize_hf(model, lv)
            variants.append((qmodel, desc, score(qmodel, qmodel.name)))
    alpha_bits = math.log2(len(alphas))
    levels_bits = math.log2(len(grid)) if len(variants) > 1 or grid else 0.0
    best, candidates = None, []
    for qmodel, desc, sur in variants:
        L = desc.bits
        C = L + (2.0 * math.log2(L) if L > 1 else 0.0) + alpha_bits + levels_bits
        mine = None
        for a in alphas:
            emp = float(np.mean(_unit_losses(sur, kind, a, K)))
            D = loss_range(a, K)
            b, comp, samp = compression_bound(emp, complexity_bits=C, m=m, loss_range=D, delta=delta,
                                              n_evaluated=s)
            if mine is None or b < mine[0]:
                mine = (b, comp, samp, emp, a, D, C, qmodel, desc, sur)
        candidates.append({"levels": desc.levels, "description_bits": float(L), "alpha": mine[4],
                           "loss_quantised": float(np.mean(_unit_losses(sur, kind, None, K))),
                           "empirical": mine[3], "complexity_term": mine[1], "bound": mine[0]})
        if best is None or mine[0] < best[0]:
            best = mine
    b, comp, samp, emp, a, D, C, qmodel, desc, sur = best
    if kind == "document":
        l1_docs = units
    else:
        l1_docs = sorted({d for d, _ in units}) if units is not None else range(len(encoded))
    l1, l1_source, l1_n = _logit_l1(qmodel, encoded, list(l1_docs))
    log2K = math.log2(K)
    return GeneralizationBound(
        model=model.name, kind=kind, bound=float(b), empirical=emp, complexity_term=float(comp),
        sampling_term=float(samp), complexity_bits=float(C), description_bits=float(desc.bits),
        alpha_bits=alpha_bits, levels_bits=levels_bits, vacuous=bool(b >= log2K), log2_vocab=log2K,
        alpha=float(a), loss_range=float(D), m=m, n_evaluated=s, subsampled=s < m, delta=delta,
        quantisation=desc.quantisation, levels=desc.levels,
        loss_float=float(np.mean(_unit_losses(float_sur, kind, None, K))),
        loss_quantised=float(np.mean(_unit_losses(sur, kind, None, K))),
        logit_l1=l1, logit_l1_source=l1_source, logit_l1_positions=l1_n,
        n_tokens=int(sizes.sum()), n_documents=len(encoded),
        seed=seed if isinstance(seed, int) or seed is None else None, alpha_grid=alphas,
        candidates=tuple(candidates))
