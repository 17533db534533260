"""Estimators for continuous data: Gaussian (closed form) and KSG nearest neighbours (theory §3).

Scope: for real-valued samples (embeddings, hidden states, activations)

* :func:`gaussian_mutual_information`: I(X; Y | Z) of the jointly Gaussian law fitted by the sample
  covariance, ``1/2 ln[det S_xz det S_yz / (det S_z det S_xyz)]`` [1];
* :func:`gaussian_transfer_entropy`: the same with X = x_{t-l}^{t-1}, Y = y_t, Z = y_{t-k}^{t-1}; for
  Gaussian processes it equals half the log-ratio of the residual variances of the two linear
  regressions, i.e. half the Granger statistic [2];
* :func:`ksg_mutual_information`: Kraskov-Stoegbauer-Grassberger estimator 1 [3],
  ``psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)>`` with max-norm neighbourhoods.

Each is the mean of per-sample (local) terms whose mean is the estimate exactly, so ``stderr`` is
their batch-means standard error (:func:`.counting.batch_means_stderr`); sampling error only. For
non-Gaussian data the Gaussian value is an approximation, not in general a bound on the true one.

Leaves out: KSG estimator 2, conditional KSG, bias corrections of the Gaussian log-determinants.

References
----------
1. T. M. Cover, J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley 2006, Sec. 8.5.
2. L. Barnett, A. B. Barrett, A. K. Seth, "Granger causality and transfer entropy are equivalent
   for Gaussian variables", Phys. Rev. Lett. 103, 2009.
3. A. Kraskov, H. Stoegbauer, P. Grassberger, "Estimating mutual information", Phys. Rev. E 69, 2004.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_columns, as_finite, as_int, check_size, same_length
from ..errors import InputError, ShapeError
from ..results import Estimate
from ..units import log_base, unit_name
from .counting import batch_means_stderr

__all__ = ["gaussian_mutual_information", "gaussian_transfer_entropy", "ksg_mutual_information"]


def _local_gaussian(data: np.ndarray, func: str) -> np.ndarray:
    """ln N(row; mean, S) for every row, S the ddof=0 sample covariance; (n,) nats."""
    c = data - data.mean(axis=0)
    s = c.T @ c / len(c)
    sign, logdet = np.linalg.slogdet(s)
    if sign <= 0 or not np.isfinite(logdet) or np.linalg.cond(s) > 1e12:
        raise InputError(f"The data of {func} have a singular sample covariance (constant or "
                         "collinear columns, or fewer samples than dimensions). Drop redundant "
                         "columns or add samples.")
    q = np.einsum("ij,ij->i", c @ np.linalg.inv(s), c)
    return -0.5 * (q + logdet + data.shape[1] * np.log(2 * np.pi))


def _check_dims(n: int, d: int, func: str) -> None:
    """Refuse data whose covariance cannot be estimated (n <= d) or would not fit in memory."""
    if n <= d:
        raise ShapeError(f"The data of {func} have {n} samples for {d} dimensions; a sample "
                         "covariance needs more samples than dimensions. Add samples or drop columns.")
    check_size(d * d, f"The data of {func} ({d} dimensions, a {d} x {d} covariance)",
               hint="Reduce the dimension first (e.g. with seminfo.flow.pca_trajectory).")


def _gaussian_cmi_terms(x: np.ndarray, y: np.ndarray, z: np.ndarray | None, func: str) -> np.ndarray:
    _check_dims(len(x), x.shape[1] + y.shape[1] + (0 if z is None else z.shape[1]), func)
    if z is None:
        return (_local_gaussian(np.hstack([x, y]), func) - _local_gaussian(x, func)
                - _local_gaussian(y, func))
    return (_local_gaussian(np.hstack([x, y, z]), func) + _local_gaussian(z, func)
            - _local_gaussian(np.hstack([x, z]), func) - _local_gaussian(np.hstack([y, z]), func))


def _estimate(terms: np.ndarray, base: float, method: str, func: str, **extra: Any) -> Estimate:
    ln_b = log_base(base, func)
    return Estimate(float(terms.mean()) / ln_b, batch_means_stderr(terms) / ln_b,
                    f"{unit_name(base)}/sample", len(terms), method,
                    notes="stderr: batch means of local terms (sampling error only)", extra=extra)


def gaussian_mutual_information(x: Any, y: Any, z: Any = None, *, base: float = 2) -> Estimate:
    """Gaussian I(X; Y | Z) = 1/2 ln[det S_xz det S_yz / (det S_z det S_xyz)] from sample covariances.

    Parameters
    ----------
    x, y : (n,) or (n, d) arrays
        Paired samples.
    z : (n,) or (n, d) array, optional
        Conditioning variables.
    base : float

    Returns
    -------
    Estimate
        ``bits/sample`` (base 2), stderr by batch means of the local terms.
    """
    func = "gaussian_mutual_information"
    log_base(base, func)
    x, y = as_columns(x, "x", func), as_columns(y, "y", func)
    same_length(x, y, ("x", "y"), func)
    zz = None
    if z is not None:
        zz = as_columns(z, "z", func)
        same_length(x, zz, ("x", "z"), func)
    return _estimate(_gaussian_cmi_terms(x, y, zz, func), base, "gaussian", func)


def gaussian_transfer_entropy(x: Any, y: Any, k: int = 1, l: int = 1, *,
                              base: float = 2) -> Estimate:
    """Gaussian TE_{X->Y} = I(Y_t; X_{t-l}^{t-1} | Y_{t-k}^{t-1}), half the Granger log-variance ratio.

    Parameters
    ----------
    x, y : (n,) real arrays
        Source and target time series.
    k, l : int
        Target and source history lengths.
    base : float

    Returns
    -------
    Estimate
        ``bits/sample`` over t = max(k, l) .. n-1 (the same samples as :func:`transfer_entropy`).
    """
    func = "gaussian_transfer_entropy"
    k = as_int(k, "k", func, minimum=1)
    l = as_int(l, "l", func, minimum=1)
    log_base(base, func)
    x, y = as_finite(x, "x", func, ndim=1), as_finite(y, "y", func, ndim=1)
    same_length(x, y, ("x", "y"), func)
    h = max(k, l)
    n = len(y)
    if n - h < 2 * (k + l + 1):
        raise InputError(f"The series of {func} are too short for histories k={k}, l={l}: "
                         f"{max(n - h, 0)} samples for {k + l + 1} dimensions (at least twice as "
                         "many samples as dimensions are needed). Use shorter histories.")
    check_size((n - h) * (k + l + 1), f"The histories of {func} (k={k}, l={l}: {n - h} samples x "
               f"{k + l + 1} dimensions)", hint="Use shorter histories.")
    ypast = np.stack([y[h - j: n - j] for j in range(1, k + 1)], axis=1)
    xpast = np.stack([x[h - j: n - j] for j in range(1, l + 1)], axis=1)
    terms = _gaussian_cmi_terms(y[h:, None], xpast, ypast, func)
    return _estimate(terms, base, "gaussian", func, k=k, l=l)


def ksg_mutual_information(x: Any, y: Any, *, k: int = 3, base: float = 2) -> Estimate:
    """KSG estimator 1: I(X; Y) = psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)> (max norm).

    n_x(i) counts the points j != i with ||x_j - x_i||_inf < eps_i, eps_i the distance to the k-th
    neighbour of i in the joint space (max norm over both).

    Parameters
    ----------
    x, y : (n,) or (n, d) arrays
        Paired continuous samples (ties, e.g. from discrete data, bias the estimate; add tiny noise).
    k : int
        Number of neighbours (3-10 is usual).
    base : float

    Returns
    -------
    Estimate
        ``bits/sample`` (base 2), stderr from the per-sample terms (batch means).
    """
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    func = "ksg_mutual_information"
    log_base(base, func)
    x, y = as_columns(x, "x", func), as_columns(y, "y", func)
    same_length(x, y, ("x", "y"), func)
    n = len(x)
    if n < 2:
        raise ShapeError(f"The `x` and `y` parameters of {func} must hold at least 2 samples. Got {n}.")
    k = as_int(k, "k", func, minimum=1, maximum=n - 1)
    check_size(n * (k + 1), "k", func, hint="Use fewer neighbours.")   # the neighbour query
    joint = np.hstack([x, y])
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    if np.any(eps == 0):
        raise InputError(f"The samples of {func} contain more than k={k} identical points; KSG "
                         "needs continuous data. Add tiny noise or use the discrete estimators.")
    r = np.nextafter(eps, 0)                                     # strictly closer than eps
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True) - 1
    terms = digamma(k) + digamma(n) - digamma(nx + 1) - digamma(ny + 1)
    return _estimate(terms, base, "ksg", func, k=k)
