"""Log-loss rate-distortion and the loss-memory frontier of next-token prediction (theory §5).

* Single letter: under logarithmic loss (the reconstruction is a distribution q and
  d(x, q) = -log q(x)), R(D) = max(H(X) - D, 0) (Courtade & Weissman 2014).
* Loss-memory frontier: on a stationary Markov-k token source let X be the past window of k tokens
  and Y the next token. A predictor whose state T (a function of the past) keeps m bits about the
  window has next-token log-loss >= H(Y | T) = H(Y) - I(T; Y); the least loss at memory m is
  L(m) = H(Y) - max {I(T;Y) : I(X;T) <= m}, the information bottleneck of (X, Y) read in
  loss units. It falls from H(Y) at m = 0 to the entropy rate at m = I(X; Y) + H(X|Y)-part needed.
* Model points: a model that sees the last c tokens has a state T that is a function of them, so
  its memory about the window is at most H(X_{t-c..t-1}) (c <= k: exactly the block entropy of
  c tokens); its measured cross-entropy on fresh samples (with standard error) sits on or above
  the frontier. :func:`ngram_point` fits a Kneser-Ney n-gram (context c = order - 1);
  :func:`transformer_point` trains a tiny GPT-2 (transformers, imported lazily) with context c.

Conventions: bits per token for losses, bits for memory.

References
----------
1. T. A. Courtade and T. Weissman, "Multiterminal source coding under logarithmic loss", IEEE
   Trans. IT 60(1), 2014.
2. N. Tishby, F. Pereira, W. Bialek, "The information bottleneck method", 1999; W. Bialek,
   I. Nemenman, N. Tishby, "Predictability, complexity and learning", Neural Comp. 13, 2001.
3. theory §5 (pre-training reading of the frontier).

Leaves out: hidden-Markov sources (the window is then not a sufficient statistic).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .._validate import as_finite, as_float, as_int, as_pmf, as_seed
from ..errors import InputError
from ..results import CertifiedResult, Estimate, Result, mean_estimate
from ..units import LN2
from .bottleneck import _upper_envelope, check_ib_size, information_bottleneck

__all__ = ["LossMemoryFrontier", "ModelPoint", "LogLossRateDistortionResult", "logloss_rate_distortion",
           "loss_memory_frontier", "ngram_point", "transformer_point"]


@dataclass(frozen=True)
class LossMemoryFrontier(Result):
    """Least next-token log-loss at each memory, for a Markov-k source.

    Attributes
    ----------
    memory : ndarray (N,)
        I(window; T) in bits, increasing.
    loss : ndarray (N,)
        H(Y | T) in bits per token, decreasing from `unigram_entropy` to `entropy_rate`.
    window : int
        k, the number of past tokens in X.
    entropy_rate, unigram_entropy : float
        H(Y | window) and H(Y), bits per token.
    context_points : list of (c, memory bits, loss bits/token)
        The exact points of "keep the last c tokens", c = 0..k (achievable, on or above the frontier).
    """

    memory: np.ndarray
    loss: np.ndarray
    window: int
    entropy_rate: float
    unigram_entropy: float
    context_points: list
    converged: bool
    units: str = "bits/token (loss), bits (memory)"


@dataclass(frozen=True)
class ModelPoint(Result):
    """A trained model placed beside the frontier: memory bound (bits) and measured loss."""

    name: str
    context: int
    memory: float
    loss: Estimate
    units: str = "bits/token (loss), bits (memory)"


_EPS = float(np.finfo(float).eps)


def _as_number(r: "LogLossRateDistortionResult") -> float:
    warnings.warn("logloss_rate_distortion now returns a LogLossRateDistortionResult; using it as a "
                  "number is deprecated and will stop working in the next release: read `.rate`.",
                  DeprecationWarning, stacklevel=3)
    return r.rate


def _numeric(op: str) -> Any:
    def method(self: "LogLossRateDistortionResult", *args: Any) -> Any:
        return getattr(_as_number(self), op)(*args)
    method.__name__ = op
    return method


@dataclass(frozen=True)
class LogLossRateDistortionResult(CertifiedResult):
    """R(D) under log-loss: ``lower <= max(H(X) - distortion, 0) <= upper`` (bits per symbol).

    Attributes
    ----------
    rate, lower, upper : float
        max(H(X) - D, 0) and a rounding enclosure of it, bits per symbol.
    distortion : float
        D, the expected log-loss allowed, bits per symbol.
    entropy : float
        H(X), bits per symbol (R(0)).
    slope : float
        dR/dD: -1 below D = H(X), 0 beyond it (bits per bit).

    Until the next release the result also works as the number `rate` (``float(r)``, ``r ==
    0.75``, arithmetic, ``round``), with a DeprecationWarning: it used to be a plain float.
    """

    rate: float
    distortion: float
    lower: float
    upper: float
    entropy: float
    slope: float
    units: str = "bits/symbol"
    distortion_units: str = "bits/symbol"
    method: str = "closed form max(H(X) - D, 0) (Courtade & Weissman 2014)"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (int, float, np.integer, np.floating)):
            return _as_number(self) == other
        if isinstance(other, LogLossRateDistortionResult):
            return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    def __format__(self, spec: str) -> str:
        return format(_as_number(self), spec) if spec else str(self)

    # deprecated: the result used as the float it replaces
    __float__, __round__ = _numeric("__float__"), _numeric("__round__")
    __lt__, __le__, __gt__, __ge__ = (_numeric("__lt__"), _numeric("__le__"), _numeric("__gt__"),
                                      _numeric("__ge__"))
    __add__, __radd__, __sub__, __rsub__ = (_numeric("__add__"), _numeric("__radd__"),
                                            _numeric("__sub__"), _numeric("__rsub__"))
    __mul__, __rmul__, __truediv__, __rtruediv__ = (_numeric("__mul__"), _numeric("__rmul__"),
                                                    _numeric("__truediv__"), _numeric("__rtruediv__"))
    __neg__, __abs__ = _numeric("__neg__"), _numeric("__abs__")


def logloss_rate_distortion(p_x: Any, D: Any) -> LogLossRateDistortionResult:
    """R(D) = max(H(X) - D, 0) bits per symbol under log-loss distortion (D in bits per symbol).

    Parameters
    ----------
    p_x : array_like, shape (K,)
        Source pmf.
    D : float
        Expected log-loss allowed, bits per symbol (finite, >= 0).

    Returns
    -------
    LogLossRateDistortionResult
        rate with its rounding enclosure [lower, upper], entropy and slope, bits per symbol.

    Examples
    --------
    >>> r = logloss_rate_distortion([0.5, 0.5], 0.25)
    >>> r.rate, r.entropy, r.slope, r.lower <= 0.75 <= r.upper
    (0.75, 1.0, -1.0, True)
    """
    func = "logloss_rate_distortion"
    p = as_pmf(p_x, "p_x", func, ndim=1)
    d = as_float(D, "D", func, minimum=0.0)
    nz = p[p > 0]
    H = float(-np.sum(nz * np.log2(nz)))
    rate = max(H - d, 0.0)
    # each term -p log2 p is within a few ulps; their sum within K ulps of H; one more for H - D
    pad = (nz.size + 4) * _EPS * (H + d)
    return LogLossRateDistortionResult(rate=rate, distortion=d, lower=max(rate - pad, 0.0),
                                       upper=rate + pad if H + pad > d else 0.0, entropy=H,
                                       slope=-1.0 if d < H else 0.0)


#: Limits of the model points: tokens sampled, n-gram order, GPT-2 context and training steps.
MAX_SAMPLE = 10 ** 7
MAX_ORDER = 64
MAX_CONTEXT = 1024
MAX_STEPS = 100_000


def _check_source(source: Any, func: str) -> tuple[int, int]:
    K = getattr(source, "alphabet_size", None)
    k = getattr(source, "order", None)
    if K is None or k is None or not hasattr(source, "transition"):
        raise InputError(f"The `source` parameter of {func} must be a MarkovSource (or IIDSource "
                         f"with order). Got {type(source).__name__}.")
    return int(K), int(k)


def _block_entropy(source: Any, c: int) -> float:
    if c == 0:
        return 0.0
    return float(source.block_entropy(c)) if hasattr(source, "block_entropy") else float(
        -np.sum((b := source.block_pmf(c))[b > 0] * np.log2(b[b > 0])))


def loss_memory_frontier(source: Any, *, betas: Any = None, seed: int = 0) -> LossMemoryFrontier:
    """L(m) = H(Y) - max{I(T;Y) : I(X;T) <= m}, X = past k tokens, Y = next token (bits).

    Parameters
    ----------
    source : MarkovSource
        Stationary order-k source (started in its stationary law); its K^k windows are the IB's X
        and T, within the limits of :func:`information_bottleneck`.
    betas : array_like, keyword-only, optional
        Trade-off values for :func:`information_bottleneck`.
    seed : int or numpy Generator, keyword-only
        Seed of the IB's perturbations.

    Returns
    -------
    LossMemoryFrontier
        Upper concave envelope of the IB points and the exact "last c tokens" points, read as
        (memory bits, loss bits/token).
    """
    func = "loss_memory_frontier"
    K, k = _check_source(source, func)
    seed = as_seed(seed, func)
    n_betas = 80 if betas is None else as_finite(betas, "betas", func, ndim=1).size
    check_ib_size(K ** k, K ** k, K, n_betas, func, "source")            # X = T = K^k windows
    pj = source.stationary[:, None] * source.transition                 # (K^k, K): p(window, next)
    ib = information_bottleneck(pj, betas=betas, seed=seed)
    py = pj.sum(axis=0)
    h_y = float(-np.sum(py[py > 0] * np.log2(py[py > 0])))
    rate = float(source.entropy_rate())
    ctx = []
    for c in range(0, k + 1):                                          # keep the last c tokens
        mem = _block_entropy(source, c)
        loss = _block_entropy(source, c + 1) - mem if c < k else rate
        ctx.append((c, mem, loss))
    mx = np.concatenate([ib.i_xt, [m for _, m, _ in ctx]])
    rel = np.concatenate([ib.i_ty, [h_y - l for _, _, l in ctx]])
    idx = _upper_envelope(mx, rel)
    return LossMemoryFrontier(memory=mx[idx], loss=h_y - rel[idx], window=k, entropy_rate=rate,
                              unigram_entropy=h_y, context_points=ctx, converged=ib.converged)




def ngram_point(source: Any, order: int, *, n_train: int = 20_000, n_test: int = 5_000,
                seed: int = 0) -> ModelPoint:
    """Fit a Kneser-Ney n-gram of `order` (context order - 1) on a sample, score a fresh one.

    Memory: H of the last min(order - 1, k) tokens (bits). Loss: mean surprisal in bits per token
    on the test sample (tokens after the first order - 1), with the standard error of the mean
    (the per-token surprisals of a Markov source are weakly dependent; the error is indicative).
    `order` is at most 64 and the samples at most 10^7 tokens; `seed` (an int >= 0) draws the
    training sample and seed + 1 the test sample.
    """
    from ..models.ngram import KneserNeyModel
    func = "ngram_point"
    K, k = _check_source(source, func)
    order = as_int(order, "order", func, minimum=1, maximum=MAX_ORDER)
    n_train = as_int(n_train, "n_train", func, minimum=10, maximum=MAX_SAMPLE)
    n_test = as_int(n_test, "n_test", func, minimum=10, maximum=MAX_SAMPLE)
    seed = as_int(seed, "seed", func, minimum=0)
    train = source.sample(n_train, seed=seed)
    test = source.sample(n_test, seed=seed + 1)
    model = KneserNeyModel.fit([train], order=order, vocab_size=K)
    c = order - 1
    surprisal, _ = model.token_stats(test[None, :], n_context=max(c, 0))
    loss = mean_estimate(surprisal.ravel() / LN2, "bits/token", f"kneser-ney order {order}")
    return ModelPoint(name=f"{order}-gram", context=c, memory=_block_entropy(source, min(c, k)),
                      loss=loss)


def transformer_point(source: Any, context: int, *, n_train: int = 20_000, n_test: int = 4_000,
                      steps: int = 300, seed: int = 0) -> ModelPoint:
    """Train a tiny GPT-2 that sees only the last `context` tokens; score it on a fresh sample.

    The model (2 layers, 2 heads, width 32, from a config; transformers and torch imported here)
    is trained with Adam for `steps` steps of 64 random windows of context + 1 tokens, the loss on
    every position. Scoring predicts each test token from exactly the `context` tokens before it.
    Memory: H of the last min(context, k) tokens (bits); loss in bits per token with standard error.
    `context` is at most 1024 (GPT-2's own), `steps` at most 10^5, the samples at most 10^7 tokens.
    """
    func = "transformer_point"
    K, k = _check_source(source, func)
    c = as_int(context, "context", func, minimum=1, maximum=MAX_CONTEXT)
    steps = as_int(steps, "steps", func, minimum=1, maximum=MAX_STEPS)
    n_train = as_int(n_train, "n_train", func, minimum=c + 2, maximum=MAX_SAMPLE)
    n_test = as_int(n_test, "n_test", func, minimum=c + 2, maximum=MAX_SAMPLE)
    seed = as_int(seed, "seed", func, minimum=0)
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    train = torch.as_tensor(source.sample(n_train, seed=seed))
    test = torch.as_tensor(source.sample(n_test, seed=seed + 1))
    cfg = GPT2Config(vocab_size=K, n_positions=c + 1, n_embd=32, n_layer=2, n_head=2,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    L = c + 1
    model.train()
    for _ in range(steps):
        start = torch.randint(0, train.numel() - L, (64,), generator=g)
        batch = torch.stack([train[s:s + L] for s in start.tolist()])          # (64, c+1)
        out = model(input_ids=batch, labels=batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        win = test.unfold(0, L, 1)                                             # (n - c, c+1)
        logits = model(input_ids=win[:, :-1]).logits[:, -1, :]                 # (n - c, K)
        lp = torch.log_softmax(logits.double(), dim=-1)
        s = -lp.gather(1, win[:, -1:]).squeeze(1).numpy() / LN2
    loss = mean_estimate(s, "bits/token", f"gpt2 context {c}")
    return ModelPoint(name=f"GPT-2 (context {c})", context=c, memory=_block_entropy(source, min(c, k)),
                      loss=loss)
