"""Granger causality between token streams: the held-out log-loss improvement from X's past.

X Granger-causes Y when p(y_t | y^{t-1}, x^{t-1}) != p(y_t | y^{t-1}) (Granger 1969). The
information-theoretic statistic (theory §8) is the log-loss improvement

    G_{X->Y} = E[ log q(y_t | y_{t-k}^{t-1}, x_{t-l}^{t-1}) - log q(y_t | y_{t-k}^{t-1}) ],

which for the true conditionals is the transfer entropy TE_{X->Y} (Schreiber 2000). Here ``q`` are
predictors **fitted on one split and evaluated on another** (the first `train_fraction` of the time
steps trains, the rest is scored), so an overfitted conditional predictor is penalised rather than
rewarded. Predictors:

* ``"ngram"``: counts on the training split with additive (Krichevsky-Trofimov, beta = 1/2) smoothing
  ``q(y | c) = (n(c, y) + beta) / (n(c) + beta K)``;
* ``"ctw"``: sequential context-tree weighting (:class:`seminfo.estimators.CTWPredictor`), the full
  assignment fed x delayed by one step so that it sees x^{t-1}; prequential, so only the evaluation
  split is averaged;
* ``predictors=(restricted, full)``: any two callables (e.g. wrapping a token model) returning the
  natural-log probability of each realised target symbol; scored on the evaluation split only.

Significance comes from surrogates (:func:`seminfo.estimators.surrogate_test`): X is shuffled (or
block-permuted, keeping its short-range dynamics), the predictors are refitted, and the p-value is
``(1 + #{G_s >= G}) / (1 + S)``. The standard error is that of the mean of the per-step improvements
by batch means (:func:`seminfo.estimators.counting.batch_means_stderr`), which allows for serial
dependence within batches of about sqrt(N) steps. Counting reuses the estimators' sparse codes.

Sources
-------
1. C. W. J. Granger, Econometrica 37 (1969).  2. T. Schreiber, "Measuring information transfer",
   PRL 85 (2000).  3. J. Jiao, H. Permuter, L. Zhao, Y.-H. Kim, T. Weissman, "Universal estimation of
   directed information", IEEE Trans. IT 59 (2013).

Left out: conditional Granger on a third stream; instantaneous (x_t) coupling, which is directed
information rather than Granger causality.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .._validate import (MAX_CELLS, MAX_SURROGATES, as_float, as_int, as_real, as_seed, as_symbols,
                         check_size, one_of, same_length)
from ..estimators import CTWPredictor, surrogate_test
from ..estimators.counting import batch_means_stderr, encode, lagged
from ..errors import InputError, ShapeError
from ..units import log_base, unit_name
from .var import GrangerEstimate

__all__ = ["granger", "granger_terms"]

_FUNC = "granger"


def _ngram_log_probs(target: np.ndarray, context: list[np.ndarray], sizes: list[int], n_train: int,
                     K: int, beta: float) -> np.ndarray:
    """ln q(target_t | context_t) on steps n_train.. from smoothed counts of steps ..n_train.

    Contexts and (context, target) cells are coded with :func:`seminfo.estimators.counting.encode`
    (sparse: no K^k table); unseen cells get count 0 and the smoothing alone.
    """
    ctx_id, n_ctx = encode(context, sizes, n_rows=target.size)
    joint, _ = encode([ctx_id, target], [n_ctx, K])
    n_c = np.bincount(ctx_id[:n_train], minlength=n_ctx)[ctx_id[n_train:]]
    keys, counts = np.unique(joint[:n_train], return_counts=True)
    pos = np.clip(np.searchsorted(keys, joint[n_train:]), 0, keys.size - 1)
    n_cy = np.where(keys[pos] == joint[n_train:], counts[pos], 0)
    return np.log(n_cy + beta) - np.log(n_c + beta * K)


def _log_probs(out: object, T: int, which: str) -> np.ndarray:
    """Check what a user predictor returned: (T,) finite natural-log probabilities (<= 0)."""
    arr = as_real(out, "predictors", _FUNC, what=f"a pair of callables whose {which} predictor returns "
                  f"{T} log-probabilities")
    if arr.shape != (T,):
        raise ShapeError(f"The `predictors` parameter of {_FUNC}: the {which} predictor must return "
                         f"one log-probability per target symbol, shape ({T},). Got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr > 1e-9):
        bad = int(np.sum(~np.isfinite(arr) | (arr > 1e-9)))
        raise InputError(f"The `predictors` parameter of {_FUNC}: the {which} predictor must return "
                         f"finite natural-log probabilities (<= 0). Got {bad} NaN, infinite or "
                         "positive values.")
    return arr


def granger_terms(x: np.ndarray, y: np.ndarray, k: int, l: int, *, method: str, n_train_steps: int,
                  K: int, Kx: int, beta: float,
                  predictors: tuple[Callable, Callable] | None) -> np.ndarray:
    """Per-step improvements ln q_full(y_t|...) - ln q_restricted(y_t|...) (nats) on the test steps."""
    start = max(k, l)
    if predictors is None and method == "ctw":
        # CTW of depth k; the side stream is x delayed by one step, so it enters as x^{t-1}
        x_delayed = np.concatenate([[0], x[:-1]])
        ctw = CTWPredictor(depth=k, alphabet_size=K)
        predictors = (lambda yy, _: ctw.log_probs_sequence(yy),
                      lambda yy, xx: ctw.log_probs_sequence(yy, [x_delayed]))
    if predictors is not None:
        restricted, full = predictors
        lr = _log_probs(restricted(y, None), y.size, "restricted")[start:]
        lf = _log_probs(full(y, x), y.size, "full")[start:]
        return (lf - lr)[n_train_steps:]
    target = y[start:]
    y_ctx = lagged(y, range(1, k + 1), start)
    x_ctx = lagged(x, range(1, l + 1), start)
    lr = _ngram_log_probs(target, y_ctx, [K] * k, n_train_steps, K, beta)
    lf = _ngram_log_probs(target, y_ctx + x_ctx, [K] * k + [Kx] * l, n_train_steps, K, beta)
    return lf - lr


def granger(x, y, order: int = 1, *, source_order: int | None = None, method: str = "ngram",
            train_fraction: float = 0.5, surrogates: int = 99, surrogate_method: str = "shuffle",
            alphabet_size: int | None = None, smoothing: float = 0.5,
            predictors: tuple[Callable, Callable] | None = None, base: float = 2.0,
            seed: Any = None) -> GrangerEstimate:
    """Held-out Granger statistic G_{X->Y} = mean_t [log q(y_t | y_-, x_-) - log q(y_t | y_-)], bits/symbol.

    Parameters
    ----------
    x, y : array_like of int, shape (T,)
        Source and target token streams (symbols 0..K-1); y_- = y_{t-k}^{t-1}, x_- = x_{t-l}^{t-1}.
    order : int
        Target history k (and source history l unless `source_order` is given).
    source_order : int, optional
        Source history l.
    method : {"ngram", "ctw"}
        Predictor family (ignored when `predictors` is given). "ctw": context-tree weighting of
        depth `order` (sequential; `source_order` is not used).
    train_fraction : float in (0, 1)
        Share of the time steps used to fit ("ngram"); the rest is evaluated. For "ctw" and
        `predictors` the first share is not averaged (a burn-in for sequential predictors).
    surrogates : int
        Number of surrogate refits for the p-value, at most 10**6 (0: no test, ``pvalue`` is None).
    surrogate_method : {"shuffle", "block"}
        Permute x, or permute blocks of sqrt(T) steps of x (keeps x's short-range dynamics), by
        :func:`seminfo.estimators.surrogate_test`.
    alphabet_size : int, optional
        K, the target alphabet size of the smoothing; inferred as ``max(y) + 1`` when omitted.
    smoothing : float
        Additive smoothing beta of the n-gram predictor (1/2: Krichevsky-Trofimov).
    predictors : (callable, callable), optional
        ``restricted(y, None)`` and ``full(y, x)`` returning arrays (T,) of ln q(y_t | past).
    base : float
        Logarithm base (2: bits).
    seed : int or numpy Generator, optional
        Seed of the surrogates.

    Returns
    -------
    GrangerEstimate
        ``value`` in bits/symbol (unit of `base`) per evaluated target symbol, ``stderr`` by batch
        means, ``pvalue`` from surrogates, ``statistic`` = ``value``, ``n`` evaluated steps.

    Notes
    -----
    With held-out evaluation the estimate is biased *downwards* under the null (the larger full model
    generalises worse), never clipped at zero; the surrogate distribution accounts for that bias
    (its mean is in ``extra["surrogate_mean"]``).

    References
    ----------
    1. Granger (1969).  2. Schreiber (2000).  3. Jiao et al. (2013).
    """
    k = as_int(order, "order", _FUNC, minimum=1)
    l = k if source_order is None else as_int(source_order, "source_order", _FUNC, minimum=1)
    method = one_of(method, ("ngram", "ctw"), "method", _FUNC)
    surrogate_method = one_of(surrogate_method, ("shuffle", "block"), "surrogate_method", _FUNC)
    frac = as_float(train_fraction, "train_fraction", _FUNC, minimum=0.0, maximum=1.0, strict_min=True)
    if frac >= 1.0:
        raise InputError(f"The `train_fraction` parameter of {_FUNC} must be in (0, 1): some steps "
                         f"must be left for evaluation. Got {frac}.")
    n_surr = as_int(surrogates, "surrogates", _FUNC, minimum=0, maximum=MAX_SURROGATES)
    beta = as_float(smoothing, "smoothing", _FUNC, minimum=0.0, strict_min=True)
    ln_b = log_base(base, _FUNC)
    seed = as_seed(seed, _FUNC)
    if alphabet_size is not None:
        alphabet_size = as_int(alphabet_size, "alphabet_size", _FUNC, minimum=1, maximum=MAX_CELLS)
    xs = as_symbols(x, "x", _FUNC, alphabet_size=alphabet_size, min_length=1)
    ys = as_symbols(y, "y", _FUNC, alphabet_size=alphabet_size, min_length=1)
    same_length(xs, ys, ("x", "y"), _FUNC)
    K = int(alphabet_size) if alphabet_size is not None else int(ys.max()) + 1    # target alphabet
    Kx = int(alphabet_size) if alphabet_size is not None else int(xs.max()) + 1
    if max(k, l) >= xs.size:
        raise ShapeError(f"The `order` parameter of {_FUNC} (and `source_order`) must be smaller than "
                         f"the length of `x` and `y` ({xs.size}). Got k={k}, l={l}.")
    n_steps = xs.size - max(k, l)
    n_train = int(round(frac * n_steps))
    # n-gram: k + l context columns of the series; ctw: context paths of depth k over two streams
    check_size(xs.size * (k + l + 4), "order", _FUNC, hint="Use a shorter history.")
    check_size(max(n_surr, 1) * xs.size, "surrogates", _FUNC,
               hint="Use fewer surrogates or a shorter series.")
    if n_steps - n_train < 10 or n_train < 1:
        raise ShapeError(f"The `x` and `y` parameters of {_FUNC} are too short for order {max(k, l)} "
                         f"and train_fraction {frac}: {xs.size} symbols leave {n_train} training and "
                         f"{n_steps - n_train} evaluation steps (at least 1 and 10 are needed).")
    if predictors is not None and (not isinstance(predictors, (tuple, list)) or len(predictors) != 2
                                   or not all(callable(p) for p in predictors)):
        raise InputError(f"The `predictors` parameter of {_FUNC} must be a pair of callables "
                         "(restricted, full). Got " + repr(predictors)[:60] + ".")

    def stat_terms(xx: np.ndarray) -> np.ndarray:
        return granger_terms(xx, ys, k, l, method=method, n_train_steps=n_train, K=K, Kx=Kx,
                             beta=beta, predictors=predictors)

    terms = stat_terms(xs)
    value = float(terms.mean()) / ln_b
    pvalue, extra = None, {"k": k, "l": l, "n_train": n_train, "alphabet_size": K}
    if n_surr:
        sur = surrogate_test(lambda xx, yy: float(stat_terms(xx).mean()) / ln_b, xs, ys,
                             n_surrogates=n_surr, method=surrogate_method, seed=seed)
        pvalue = sur.pvalue
        null = sur.surrogates
        extra.update(surrogate_mean=float(null.mean()), surrogate_std=float(null.std(ddof=1))
                     if n_surr > 1 else math.nan, surrogate_method=surrogate_method)
    name = "predictors" if predictors is not None else method
    return GrangerEstimate(
        value=value, stderr=batch_means_stderr(terms) / ln_b, units=f"{unit_name(base)}/symbol",
        n=int(terms.size), method=f"held-out Granger ({name}, k={k}, l={l})", pvalue=pvalue,
        statistic=value, test="surrogate" if n_surr else "", extra=extra)
