"""Linear Granger causality: vector autoregressions, the F test and Gaussian transfer entropy.

For continuous trajectories (PCA projections of hidden states, embeddings) the Granger question is
asked of two least-squares vector autoregressions of order p with an intercept:

* restricted: ``y_t = c + sum_{i<=p} B_i y_{t-i} + e_t``,
* full:       ``y_t = c + sum_{i<=p} B_i y_{t-i} + sum_{i<=p} C_i x_{t-i} + e_t``.

With the maximum-likelihood residual covariances ``Sigma = E'E / N`` the Gaussian transfer entropy is
``TE = (1/2) ln(det Sigma_r / det Sigma_f)`` (Barnett, Barrett & Seth 2009), which for Gaussian
processes is the Granger statistic itself. For a scalar target the significance is Granger's F test
(identical to statsmodels' ``grangercausalitytests`` "ssr_ftest"); for a vector target it is the
likelihood-ratio test ``N ln(det Sigma_r / det Sigma_f) ~ chi2(p * dx * dy)`` (Geweke 1982).

Sources
-------
1. C. W. J. Granger, "Investigating causal relations by econometric models and cross-spectral
   methods", Econometrica 37 (1969).
2. L. Barnett, A. B. Barrett, A. K. Seth, "Granger causality and transfer entropy are equivalent for
   Gaussian variables", Phys. Rev. Lett. 103, 238701 (2009).
3. J. Geweke, "Measurement of linear dependence and feedback between multiple time series",
   JASA 77 (1982).

Left out: conditional (three-variable) Granger, spectral decompositions, model-order selection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._validate import as_columns, as_finite, as_int, check_size
from ..errors import InputError, ShapeError
from ..results import Estimate
from ..units import log_base, unit_name

__all__ = ["GrangerEstimate", "linear_granger", "lagged_design", "pca_trajectory"]

_FUNC = "linear_granger"


@dataclass(frozen=True, kw_only=True)
class GrangerEstimate(Estimate):
    """A Granger statistic (``value`` in `units`, e.g. bits/step) with its significance test.

    Attributes (beyond :class:`seminfo.results.Estimate`)
    -----------------------------------------------------
    statistic : float
        The test statistic (F for a scalar target, the likelihood ratio for a vector target, the
        held-out log-loss improvement in bits for token streams).
    test : str
        ``"F"``, ``"LR-chi2"`` or ``"surrogate"``.
    df : tuple of int
        Degrees of freedom of the reference distribution (empty for surrogates).
    """

    statistic: float = math.nan
    test: str = ""
    df: tuple = ()


def lagged_design(series: np.ndarray, order: int) -> np.ndarray:
    """Stack ``[s_{t-1}, ..., s_{t-order}]`` for t = order..T-1: shape (T - order, order * d).

    `series` is (T,) or (T, d), one row per time step; 1 <= order < T.

    >>> lagged_design(np.arange(4.0), 2)
    array([[1., 0.],
           [2., 1.]])
    """
    func = "lagged_design"
    series = as_columns(series, "series", func)
    T = series.shape[0]
    order = as_int(order, "order", func, minimum=1, maximum=max(1, T - 1))
    if order >= T:
        raise ShapeError(f"The `series` parameter of {func} must have more than order = {order} rows. "
                         f"Got {T}.")
    check_size((T - order) * order * series.shape[1], "order", func)
    return np.concatenate([series[order - i:T - i] for i in range(1, order + 1)], axis=1)


def _residuals(target: np.ndarray, design: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return target - design @ coef


def linear_granger(x, y, order: int = 1, *, base: float = 2.0) -> GrangerEstimate:
    """Gaussian transfer entropy TE_{X->Y} = (1/2) log(det Sigma_restricted / det Sigma_full), with its test.

    Parameters
    ----------
    x : array_like, shape (T,) or (T, dx)
        Source trajectory.
    y : array_like, shape (T,) or (T, dy)
        Target trajectory.
    order : int
        Number of lags p of both autoregressions.
    base : float
        Logarithm base of the reported value (2: bits).

    Returns
    -------
    GrangerEstimate
        ``value``: TE in bits per time step (unit of `base`); ``stderr``: standard error of the mean of
        the per-step Gaussian log-likelihood ratios (whose mean equals ``value`` exactly); ``pvalue``
        and ``statistic`` from the F test (scalar target) or the likelihood-ratio chi-square test.

    Notes
    -----
    ``value`` is the maximum-likelihood plug-in; it is biased upwards by about
    ``p * dx * dy / (2 N)`` nats under the null (reported in ``extra["null_bias"]``, not subtracted).

    References
    ----------
    1. Granger (1969). 2. Barnett, Barrett & Seth (2009). 3. Geweke (1982).
    """
    order = as_int(order, "order", _FUNC, minimum=1)
    ln_b = log_base(base, _FUNC)
    X = as_columns(x, "x", _FUNC)
    Y = as_columns(y, "y", _FUNC)
    if X.shape[0] != Y.shape[0]:
        raise ShapeError(f"The `x` and `y` parameters of {_FUNC} must have the same length. "
                         f"Got {X.shape[0]} and {Y.shape[0]}.")
    T, dx = X.shape
    dy = Y.shape[1]
    n = T - order
    k_full = 1 + order * (dx + dy)
    if n <= k_full + dy and order >= T:
        raise InputError(f"The `order` parameter of {_FUNC} must be smaller than the number of time "
                         f"steps ({T}). Got {order}.")
    if n <= k_full + dy:
        raise InputError(f"The `order` parameter of {_FUNC} is too large for the data: {T} time steps "
                         f"leave {n} equations for {k_full} coefficients per target. Use a smaller "
                         "order or a longer series.")
    check_size(n * k_full, "order", _FUNC, hint="Use a smaller order (the full design matrix has "
               "(T - order) x (1 + order (dx + dy)) entries).")
    target = Y[order:]
    ones = np.ones((n, 1))
    d_r = np.concatenate([ones, lagged_design(Y, order)], axis=1)
    d_f = np.concatenate([d_r, lagged_design(X, order)], axis=1)
    e_r = _residuals(target, d_r)                                     # (n, dy)
    e_f = _residuals(target, d_f)
    s_r = e_r.T @ e_r / n                                             # (dy, dy)
    s_f = e_f.T @ e_f / n
    sign_r, logdet_r = np.linalg.slogdet(s_r)
    sign_f, logdet_f = np.linalg.slogdet(s_f)
    scale = float(target.var(axis=0).max())
    if scale <= 0 or sign_r <= 0 or sign_f <= 0 or np.linalg.eigvalsh(s_f).min() <= 1e-12 * scale:
        raise InputError(f"The `y` parameter of {_FUNC} gives a singular residual covariance (a "
                         "constant or perfectly predictable component). Remove redundant components.")
    te_nats = 0.5 * (logdet_r - logdet_f)
    # per-step log-likelihood ratio; its mean is te_nats exactly (the quadratic terms average to dy)
    q_r = np.einsum("ti,ij,tj->t", e_r, np.linalg.inv(s_r), e_r)
    q_f = np.einsum("ti,ij,tj->t", e_f, np.linalg.inv(s_f), e_f)
    llr = 0.5 * (logdet_r + q_r - logdet_f - q_f)
    stderr = float(llr.std(ddof=1) / math.sqrt(n)) / ln_b
    q = order * dx * dy
    if dy == 1:
        rss_r, rss_f = float(s_r[0, 0] * n), float(s_f[0, 0] * n)
        df_den = n - k_full
        stat = (rss_r - rss_f) / rss_f * df_den / (order * dx)
        pvalue = float(stats.f.sf(stat, order * dx, df_den))
        test, df = "F", (order * dx, df_den)
    else:
        stat = 2.0 * n * te_nats
        pvalue = float(stats.chi2.sf(stat, q))
        test, df = "LR-chi2", (q,)
    return GrangerEstimate(
        value=te_nats / ln_b, stderr=stderr, units=f"{unit_name(base)}/step", n=n,
        method=f"linear VAR({order}) Gaussian transfer entropy", pvalue=pvalue,
        statistic=float(stat), test=test, df=df,
        extra={"logdet_restricted": float(logdet_r), "logdet_full": float(logdet_f),
               "null_bias": q / (2.0 * n) / ln_b, "dx": dx, "dy": dy})


def pca_trajectory(h, n_components: int = 2) -> np.ndarray:
    """Project a trajectory ``h`` of shape (T, d) on its first principal components: (T, n_components).

    Centred, via the SVD; the sign of each component is fixed so that its largest loading is positive.
    Useful to turn hidden states into a low-dimensional series for :func:`linear_granger`.
    """
    func = "pca_trajectory"
    H = as_finite(h, "h", func, ndim=2)
    n_components = as_int(n_components, "n_components", func, minimum=1, maximum=min(H.shape))
    Hc = H - H.mean(axis=0)
    _, _, vt = np.linalg.svd(Hc, full_matrices=False)
    comps = vt[:n_components]
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    return Hc @ (comps * signs[:, None]).T

