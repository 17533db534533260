"""Plug-in (empirical) estimators with the Miller-Madow correction (theory §3).

Scope: entropy rate under a Markov-order assumption, mutual information of paired samples, transfer
entropy, all from integer sequences. Every measure is written from one kernel, the plug-in
conditional mutual information I(A; B | C) on per-sample codes (:mod:`.counting`), as a mean of
per-sample log-ratios, so the value and its standard error come from the same terms.

Conventions
-----------
* Sample t uses symbols up to time t; the first ``max(history)`` times are dropped (no padding).
  For transfer entropy this is exactly infomeasure's discrete TE (``te_observations``: targets
  y_t for t = max(k, l) .. n-1, destination history y_{t-k}^{t-1}, source history x_{t-l}^{t-1}),
  so the plug-in values agree to rounding.
* Miller-Madow: each plug-in entropy over m occupied cells from N samples is low by about
  (m - 1) / (2 N) nats [1]; the bias of a combination is the same combination of these terms. It
  is reported in ``Estimate.bias`` (in the output units) and ``value = plug-in - bias``.
* Standard error: batch means of the per-sample terms (:func:`.counting.batch_means_stderr`). It
  measures sampling fluctuation only, not the plug-in bias, and assumes the data mix fast.

Leaves out: Bayesian / NSB / coverage-adjusted estimators, continuous data.

References
----------
1. G. A. Miller, "Note on the bias of information estimates", 1955.
2. L. Paninski, "Estimation of entropy and mutual information", Neural Computation 15, 2003.
3. T. Schreiber, "Measuring information transfer", Phys. Rev. Lett. 85, 2000.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import (MAX_CELLS, MAX_SURROGATES, as_int, as_seed, as_symbols, int_power, one_of,
                         same_length)
from ..errors import InputError
from ..results import Estimate
from ..units import log_base, unit_name
from .counting import batch_means_stderr, cell_log_counts, encode, lagged

__all__ = ["estimate_entropy_rate", "estimate_mutual_information", "transfer_entropy",
           "plugin_cmi_terms"]

METHODS = ("miller-madow", "plugin")


def plugin_cmi_terms(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int] | None,
                     c: tuple[np.ndarray, int]) -> tuple[np.ndarray, float]:
    """Per-sample terms of the plug-in I(A; B | C), or of H(A | C) when `b` is None, in nats.

    Each argument is ``(codes, size)`` from :func:`.counting.encode`. For the CMI the terms are
    ``ln[n(abc) n(c) / (n(ac) n(bc))]``; for the conditional entropy ``-ln[n(ac) / n(c)]``. Their
    mean is the plug-in estimate exactly.

    Returns
    -------
    terms : (N,) float64, nats
    bias : float
        Miller-Madow estimate of the plug-in bias, nats (estimate minus truth, to first order).
    """
    n = len(c[0])
    nb = 1 if b is None else b[1]
    if a[1] * nb * c[1] <= max(4 * n, 2 ** 16):
        return _dense_cmi_terms(a, b, c)
    ac = encode([a[0], c[0]], [a[1], c[1]])
    ln_c, m_c = cell_log_counts(*c)
    ln_ac, m_ac = cell_log_counts(*ac)
    if b is None:
        terms = ln_c - ln_ac
        return terms, -(m_ac - m_c) / (2.0 * n)
    bc = encode([b[0], c[0]], [b[1], c[1]])
    abc = encode([ac[0], b[0]], [ac[1], b[1]])
    ln_bc, m_bc = cell_log_counts(*bc)
    ln_abc, m_abc = cell_log_counts(*abc)
    terms = ln_abc + ln_c - ln_ac - ln_bc
    return terms, (m_abc + m_c - m_ac - m_bc) / (2.0 * n)


def _dense_cmi_terms(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int] | None,
                     c: tuple[np.ndarray, int]) -> tuple[np.ndarray, float]:
    """Same as :func:`plugin_cmi_terms` when the (C, A, B) count table fits densely in memory:
    one bincount, the marginal counts by summing axes, one gather per sample."""
    n = len(c[0])
    ka, kc = a[1], c[1]
    kb = 1 if b is None else b[1]
    code = c[0] * ka + a[0]
    if b is not None:
        code = code * kb + b[0]
    cab = np.bincount(code, minlength=kc * ka * kb).reshape(kc, ka, kb).astype(np.float64)
    ca = cab.sum(axis=2, keepdims=True)                                     # (C, A, 1)
    cc = ca.sum(axis=1, keepdims=True)                                      # (C, 1, 1)
    m_ca, m_c = int(np.count_nonzero(ca)), int(np.count_nonzero(cc))
    with np.errstate(divide="ignore", invalid="ignore"):
        if b is None:
            cell = np.log(cc) - np.log(ca)
            bias = -(m_ca - m_c) / (2.0 * n)
        else:
            cb = cab.sum(axis=1, keepdims=True)                             # (C, 1, B)
            cell = np.log(cab) + np.log(cc) - np.log(ca) - np.log(cb)
            m_cab, m_cb = int(np.count_nonzero(cab)), int(np.count_nonzero(cb))
            bias = (m_cab + m_c - m_ca - m_cb) / (2.0 * n)
    cell = np.broadcast_to(cell, (kc, ka, kb)).ravel()                      # only occupied cells read
    return cell[code], bias


def _finish(terms: np.ndarray, bias_nats: float, method: str, base: float, func: str,
            **extra: Any) -> Estimate:
    ln_b = log_base(base, func)
    plug = float(terms.mean()) / ln_b
    bias = bias_nats / ln_b
    units = f"{unit_name(base)}/symbol"
    se = batch_means_stderr(terms) / ln_b
    notes = "stderr: batch means of per-sample terms (sampling error only)"
    if not np.isfinite(se):
        notes += "; undefined (nan) with fewer than 4 samples"
    if method == "plugin":
        return Estimate(plug, se, units, len(terms), "plugin", notes=notes,
                        extra={"miller_madow_bias": bias, **extra})
    return Estimate(plug - bias, se, units, len(terms), "miller-madow", bias=bias, notes=notes,
                    extra={"plugin": plug, **extra})


def _size(x: np.ndarray, alphabet_size: int | None) -> int:
    return int(alphabet_size) if alphabet_size is not None else int(x.max()) + 1


#: Fewest samples per occupied context for a plug-in estimate over a history whose possible contexts
#: outnumber the samples (only the occupied ones are counted, sparsely).
MIN_PER_CONTEXT = 4


def check_contexts(n_contexts: int, n_samples: int, what: str, func: str,
                   codes: np.ndarray | None = None) -> None:
    """Refuse a history too long for the data (the plug-in estimate would mean nothing).

    A history whose possible contexts number at most the samples is always accepted. Beyond that
    (large alphabets, long histories) the contexts actually occupied are counted from `codes`, the
    per-sample context codes of :func:`.counting.encode`: the history is accepted when the samples
    average at least :data:`MIN_PER_CONTEXT` per occupied context. Without `codes` it is refused.
    """
    if n_contexts <= n_samples:
        return
    occupied = None
    if codes is not None and len(codes):
        occupied = int(np.count_nonzero(np.bincount(codes)))
        if occupied * MIN_PER_CONTEXT <= n_samples:
            return
    seen = "" if occupied is None else f" and they occupy {occupied} distinct contexts"
    count = "more than 2**200" if n_contexts == float("inf") else str(n_contexts)
    raise InputError(
        f"The {what} of {func} allows {count} possible contexts but only {n_samples} "
        f"samples remain{seen} (fewer than {MIN_PER_CONTEXT} samples per occupied context), so the "
        "plug-in estimate is meaningless. Use a shorter history or more data.")


def estimate_entropy_rate(x: Any, *, order: int = 0, method: str = "miller-madow", base: float = 2,
                          alphabet_size: int | None = None) -> Estimate:
    """Entropy rate H(X_t | X_{t-order}^{t-1}) by the plug-in rule with Miller-Madow correction.

    ``H_hat = -(1/N) sum_t ln[n(x_{t-order}^t) / n(x_{t-order}^{t-1})] + (m_joint - m_ctx) / (2N)``.

    Parameters
    ----------
    x : (n,) int sequence
        Symbols in ``0..K-1``.
    order : int
        Markov order of the conditioning history (0 gives the per-symbol entropy).
    method : {"miller-madow", "plugin"}
    base : float
        Logarithm base of the result (2: bits).
    alphabet_size : int, optional
        Declared K (at most 2**28); symbols outside ``0..K-1`` raise AlphabetError. Default:
        ``max(x) + 1``.

    Returns
    -------
    Estimate
        ``value`` in bits/symbol (for base 2) over ``N = n - order`` samples, ``stderr`` by batch
        means, ``bias`` the Miller-Madow term that was subtracted (negative: plug-in is low).

    References
    ----------
    1. G. A. Miller, 1955. 2. L. Paninski, Neural Computation 15, 2003.
    """
    func = "estimate_entropy_rate"
    method = one_of(method, METHODS, "method", func)
    log_base(base, func)
    if alphabet_size is not None:
        alphabet_size = as_int(alphabet_size, "alphabet_size", func, minimum=1, maximum=MAX_CELLS)
    x = as_symbols(x, "x", func, alphabet_size=alphabet_size)
    order = as_int(order, "order", func, minimum=0)
    if order >= len(x) - 1:
        raise InputError(f"The `order` parameter of {func} must be smaller than the sequence "
                         f"length minus 1 ({len(x) - 1}). Got {order}.")
    k = _size(x, alphabet_size)
    n = len(x) - order
    cols = lagged(x, range(1, order + 1), order)
    ctx = encode(cols, [k] * order, n_rows=n)
    check_contexts(int_power(k, order), n, f"order-{order} history", func, ctx[0])
    terms, bias = plugin_cmi_terms((x[order:], k), None, ctx)
    return _finish(terms, bias, method, base, func, order=order)


def estimate_mutual_information(x: Any, y: Any, *, method: str = "miller-madow",
                                base: float = 2) -> Estimate:
    """Mutual information I(X; Y) of paired samples, plug-in with Miller-Madow correction.

    ``I_hat = (1/N) sum_i ln[N n(x_i, y_i) / (n(x_i) n(y_i))] - (m_xy - m_x - m_y + 1) / (2N)``.

    Parameters
    ----------
    x, y : (N,) int sequences
        Paired samples (treated as exchangeable pairs).
    method : {"miller-madow", "plugin"}
    base : float

    Returns
    -------
    Estimate
        bits/symbol (per pair), with ``bias`` the Miller-Madow term that was subtracted.
    """
    func = "estimate_mutual_information"
    method = one_of(method, METHODS, "method", func)
    log_base(base, func)
    x = as_symbols(x, "x", func, min_length=2)
    y = as_symbols(y, "y", func, min_length=2)
    same_length(x, y, ("x", "y"), func)
    n = len(x)
    c = encode([], [], n_rows=n)
    terms, bias = plugin_cmi_terms((x, _size(x, None)), (y, _size(y, None)), c)
    return _finish(terms, bias, method, base, func)


def transfer_entropy(x: Any, y: Any, k: int = 1, l: int = 1, *, base: float = 2,
                     method: str = "plugin", surrogates: int = 0, seed: Any = None) -> Estimate:
    """Transfer entropy TE_{X->Y} = I(Y_t; X_{t-l}^{t-1} | Y_{t-k}^{t-1}), plug-in from samples.

    ``TE_hat = (1/N) sum_t ln[n(y_t, y_past, x_past) n(y_past) / (n(y_past, x_past) n(y_t, y_past))]``
    over ``t = max(k, l) .. n-1`` (N = n - max(k, l) samples), as in Schreiber [1] and infomeasure.

    Parameters
    ----------
    x : (n,) int sequence
        Source.
    y : (n,) int sequence
        Target.
    k : int
        Target history length.
    l : int
        Source history length.
    base : float
    method : {"plugin", "miller-madow"}
    surrogates : int
        If > 0, that many surrogates (at most 10**6) with the source shuffled give ``pvalue`` (see
        :func:`seminfo.estimators.surrogate_test`; the statistic is the same estimate).
    seed : int or Generator, optional
        Seed of the surrogate shuffles.

    Returns
    -------
    Estimate
        bits/symbol (base 2), ``stderr`` by batch means, ``pvalue`` when surrogates were drawn.

    References
    ----------
    1. T. Schreiber, Phys. Rev. Lett. 85, 461, 2000.
    """
    func = "transfer_entropy"
    k = as_int(k, "k", func, minimum=1)
    l = as_int(l, "l", func, minimum=1)
    method = one_of(method, METHODS, "method", func)
    surrogates = as_int(surrogates, "surrogates", func, minimum=0, maximum=MAX_SURROGATES)
    seed = as_seed(seed, func)
    log_base(base, func)
    x = as_symbols(x, "x", func)
    y = as_symbols(y, "y", func)
    same_length(x, y, ("x", "y"), func)
    h = max(k, l)
    if h >= len(y) - 1:
        raise InputError(f"The histories of {func} (k={k}, l={l}) must be shorter than the sequence "
                         f"length minus 1 ({len(y) - 1}).")
    kx, ky = _size(x, None), _size(y, None)
    n = len(y) - h
    n_contexts = int_power(ky, k) * int_power(kx, l)
    if n_contexts > n:
        y_past, x_past = _te_pasts(x, y, k, l, kx, ky)
        check_contexts(n_contexts, n, f"history (k={k}, l={l})", func,
                       encode([y_past[0], x_past[0]], [y_past[1], x_past[1]])[0])
    terms, bias = _te_kernel(x, y, k, l, kx, ky)
    est = _finish(terms, bias, method, base, func, k=k, l=l)
    if surrogates == 0:
        return est
    from dataclasses import replace

    from .surrogate import surrogate_test

    ln_b = log_base(base, func)

    def te(xs: np.ndarray, ys: np.ndarray) -> float:
        t, b = _te_kernel(xs, ys, k, l, kx, ky)
        return (float(t.mean()) - (b if method == "miller-madow" else 0.0)) / ln_b

    res = surrogate_test(te, x, y, n_surrogates=surrogates, method="shuffle", seed=seed)
    return replace(est, pvalue=res.pvalue, extra={**est.extra, "surrogate_method": "shuffle",
                                                  "n_surrogates": surrogates})


def _te_pasts(x: np.ndarray, y: np.ndarray, k: int, l: int, kx: int, ky: int
              ) -> tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]]:
    """Codes of the target history y_{t-k}^{t-1} and source history x_{t-l}^{t-1}, t >= max(k, l)."""
    h = max(k, l)
    n = len(y) - h
    y_past = encode(lagged(y, range(1, k + 1), h), [ky] * k, n_rows=n)
    x_past = encode(lagged(x, range(1, l + 1), h), [kx] * l, n_rows=n)
    return y_past, x_past


def _te_kernel(x: np.ndarray, y: np.ndarray, k: int, l: int, kx: int, ky: int
               ) -> tuple[np.ndarray, float]:
    h = max(k, l)
    y_past, x_past = _te_pasts(x, y, k, l, kx, ky)
    return plugin_cmi_terms((y[h:], ky), x_past, y_past)
