"""Geometry of embedding spaces: Gromov-Wasserstein, Johnson-Lindenstrauss and TwoNN intrinsic dimension.

Three tools that look at a cloud of vectors (a model's token embeddings, or the hidden states of a text
at one layer) without reference to any particular coordinates:

* :func:`gromov_wasserstein`: how far two clouds are from being the same metric-measure space, up to
  isometry (Memoli 2011 [1]). Two models' embedding spaces live in different coordinates and even
  different dimensions; GW compares only their internal distances. Solved with the POT library [2]
  (``ot.gromov.gromov_wasserstein2``), not with a solver of our own.
* :func:`jl_distortion`: project a cloud to k dimensions with a random Gaussian (or orthogonal) map and
  measure how much pairwise squared distances move, against the Johnson-Lindenstrauss bound in the form
  of Dasgupta & Gupta [3].
* :func:`intrinsic_dimension`: the TwoNN estimator of Facco et al. [4], from the ratio of each point's
  second to first nearest-neighbour distance; :func:`layer_intrinsic_dimension` applies it to a real
  model's hidden states at every layer.
* :func:`embedding_matrices`: a model's input embedding and output (unembedding) matrices as float64.

Conventions: distances are Euclidean. GW distances are divided by their mean over distinct pairs, so
the GW figures are dimensionless (units of the squared mean distance). JL distortion is the relative
change ``|ratio - 1|`` of a squared distance. Dimensions are in "dimensions".

What is a theorem and what is not: the JL bound and the TwoNN likelihood are theorems under their
assumptions (a Gaussian/orthogonal map; locally uniform density with Poisson-like neighbours); GW as
computed here is an **upper bound** on the true GW discrepancy, because the GW problem is a nonconvex
quadratic program and POT's conditional-gradient solver finds a local minimum (any coupling's cost is
an upper bound on the minimum). See docs/geometry.md.

References
----------
1. F. Memoli, "Gromov-Wasserstein distances and the metric approach to object matching", Foundations
   of Computational Mathematics 11 (2011) 417-487.
2. R. Flamary et al., "POT: Python Optimal Transport", JMLR 22 (2021) 1-8; G. Peyre, M. Cuturi,
   J. Solomon, "Gromov-Wasserstein averaging of kernel and distance matrices", ICML 2016.
3. S. Dasgupta, A. Gupta, "An elementary proof of a theorem of Johnson and Lindenstrauss", Random
   Structures & Algorithms 22 (2003) 60-65.
4. E. Facco, M. d'Errico, A. Rodriguez, A. Laio, "Estimating the intrinsic dimension of datasets by a
   minimal neighborhood information", Scientific Reports 7 (2017) 12140.

Left out: entropic or fused GW, unbalanced transport, other intrinsic-dimension estimators (MLE of
Levina-Bickel, GRIDE), sparse or fast JL transforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import as_finite, as_int, as_rng, check_size, one_of, utf8_bytes
from ..errors import CapabilityError, DependencyError, InputError, ShapeError
from ..results import Estimate, Result

__all__ = ["GWResult", "JLResult", "LayerDimensions", "embedding_matrices", "gromov_wasserstein",
           "jl_distortion", "intrinsic_dimension", "layer_intrinsic_dimension", "jl_epsilon"]

#: Most points per space in one GW call: POT holds several (n, n) float64 arrays.
MAX_GW_POINTS = 5000


# ---------------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True)
class GWResult(Result):
    """Gromov-Wasserstein discrepancy between two metric-measure spaces (squared loss, uniform weights).

    Attributes
    ----------
    distance : float
        min over couplings T of sum_{ijkl} (C1_ik - C2_jl)^2 T_ij T_kl, where C1, C2 are the Euclidean
        distance matrices of the (subsampled) clouds, each divided by its mean over distinct pairs.
        Dimensionless (units of the squared mean distance); 0 for isometric clouds. An upper bound on the
        true minimum (local solver). May be a rounding residue below zero (order 1e-15) for isometric clouds.
    metric : float
        Memoli's GW distance of order 2, ``0.5 * sqrt(distance)`` (a negative rounding residue reads as 0):
        a metric on isometry classes, in units of the mean distance.
    n_points : tuple of int
        Points used from each space (after subsampling to `max_points`).
    paired : bool
        Whether the same rows were drawn from both spaces (row i of X paired with row i of Y).
    n_iter : int
        Conditional-gradient iterations of the run that gave `distance`.
    converged : bool
        False if that run stopped at POT's iteration cap.
    coupling : ndarray (n_x, n_y) or None
        The optimal coupling found (rows sum to 1/n_x), only with ``return_coupling=True``.
    """

    distance: float
    metric: float
    n_points: tuple
    paired: bool
    n_iter: int
    converged: bool
    units: str = "squared mean distance (dimensionless)"
    method: str = "POT gromov_wasserstein2, square loss, uniform weights, mean-normalised Euclidean distances"
    extra: dict = field(default_factory=dict)
    coupling: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class JLResult(Result):
    """Distortion of pairwise squared distances under a random projection to `k` dimensions.

    Attributes
    ----------
    k, d, n_points, n_pairs : int
        Target and source dimension, rows of X (the n of the JL bound), pairs measured.
    max_distortion, median_distortion, q90_distortion, q99_distortion : float
        Max and quantiles over the pairs of ``|ratio - 1|``, ratio = ||f(x_i) - f(x_j)||^2 / ||x_i - x_j||^2.
    epsilon_bound : float
        The JL epsilon for n points and k dimensions in the Dasgupta-Gupta form:
        the root in (0, 1) of eps^2/2 - eps^3/3 = 4 ln(n) / k; ``inf`` when k <= 24 ln n (no eps < 1).
    fraction_within_bound : float
        Share of measured pairs with ``|ratio - 1| <= epsilon_bound``.
    promised_fraction : float
        What the proof promises per pair at `epsilon_bound`: 1 - 2/n^2 (each pair fails with
        probability at most 2/n^2), 1 when the bound is vacuous.
    exact_fraction : float
        The exact probability that one pair lies within `epsilon_bound`: ratio ~ chi2_k / k for the
        Gaussian map, (d/k) Beta(k/2, (d-k)/2) for the orthogonal one (1 when k >= d).
    method : str
        "gaussian" or "orthogonal".
    n_zero_pairs : int
        Sampled pairs of identical rows (ratio undefined), left out of the figures above.
    """

    k: int
    d: int
    n_points: int
    n_pairs: int
    max_distortion: float
    median_distortion: float
    q90_distortion: float
    q99_distortion: float
    epsilon_bound: float
    fraction_within_bound: float
    promised_fraction: float
    exact_fraction: float
    method: str
    n_zero_pairs: int = 0
    units: str = "relative change of squared distance, |ratio - 1| (dimensionless)"


@dataclass(frozen=True)
class LayerDimensions(Result):
    """TwoNN intrinsic dimension of a text's hidden states at every layer of a model.

    Attributes
    ----------
    layers : list of int
        0 = embeddings, L = the final (normalised) state, as in :func:`seminfo.flow.residual_streams`.
    dimension, stderr : ndarray (L + 1,)
        TwoNN maximum-likelihood dimension and its standard error per layer, in dimensions.
    n_tokens : int
        Text tokens whose states are the points (prefix tokens left out).
    n_unique : ndarray (L + 1,) of int
        Distinct states per layer (duplicates are collapsed before the estimate).
    model : str
        Name of the model.
    width : int
        Hidden size d (the ambient dimension).
    """

    layers: list
    dimension: np.ndarray
    stderr: np.ndarray
    n_tokens: int
    n_unique: np.ndarray
    model: str
    width: int
    units: str = "dimensions"
    method: str = "twonn-mle per layer"


# ---------------------------------------------------------------------------------------------------
# model matrices

def embedding_matrices(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """A model's input embedding matrix and output (unembedding) matrix, each (K, d) float64.

    Parameters
    ----------
    model : model spec (e.g. "builtin:gpt"), seminfo Hugging Face model, or transformers PreTrainedModel
        Needs the ``internals`` capability (a transformers module inside).

    Returns
    -------
    (input, output) : tuple of ndarray, each (K, d) float64
        Row i belongs to token id i. K is the model's vocabulary (``model.vocab_size``): extra rows
        beyond it (the mask token of a masked-diffusion model, padding rows) are dropped. With tied
        weights the same array is returned twice (``input is output``).

    Raises
    ------
    CapabilityError
        The model has no transformers module, or no input or output embedding matrix.

    Examples
    --------
    >>> E, U = embedding_matrices("builtin:gpt")
    >>> E.shape, E.dtype, E is U          # GPT-2 ties its input and output embeddings
    ((4096, 192), dtype('float64'), True)
    """
    from ..models.capability import as_model
    func = "embedding_matrices"
    m = as_model(model, "internals", func=func)
    hf = getattr(m, "hf_model", None)
    hf = m if hf is None else hf
    name = getattr(m, "name", type(hf).__name__)
    inp = hf.get_input_embeddings() if hasattr(hf, "get_input_embeddings") else None
    out = hf.get_output_embeddings() if hasattr(hf, "get_output_embeddings") else None
    w_in, w_out = getattr(inp, "weight", None), getattr(out, "weight", None)
    for w, what in ((w_in, "an input embedding"), (w_out, "an output (unembedding)")):
        if w is None or getattr(w, "ndim", 0) != 2:
            raise CapabilityError(f"{func} needs {what} matrix, which the model {name!r} "
                                  f"({type(hf).__name__}) does not have.")
    rows = min(int(w_in.shape[0]), int(w_out.shape[0]))
    K = int(getattr(m, "vocab_size", None) or rows)
    K = min(K, rows)
    check_size(K * (int(w_in.shape[1]) + int(w_out.shape[1])), "The model's embedding matrices",
               hint="Use a model with a smaller vocabulary or width.")
    tied = w_in is w_out or (w_in.shape == w_out.shape and w_in.data_ptr() == w_out.data_ptr())
    E = w_in.detach()[:K].double().cpu().numpy()
    if tied:
        return E, E
    return E, w_out.detach()[:K].double().cpu().numpy()


# ---------------------------------------------------------------------------------------------------
# Gromov-Wasserstein

def _cloud(X: Any, param: str, func: str) -> np.ndarray:
    arr = as_finite(X, param, func)
    if arr.ndim != 2:
        raise ShapeError(f"The `{param}` parameter of {func} must be a 2-D array (n, d), one point per row. "
                         f"Got shape {arr.shape}.")
    if arr.shape[0] < 2:
        raise ShapeError(f"The `{param}` parameter of {func} must hold at least 2 points (rows). "
                         f"Got {arr.shape[0]}.")
    return arr


def _rescaled(X: np.ndarray) -> np.ndarray:
    """X divided by a power of two near its largest |entry| (exact in floating point): every quantity
    here is scale-free, and this keeps squared distances of 1e200 or 1e-200 from overflowing or
    underflowing."""
    top = float(np.max(np.abs(X)))
    if top == 0.0:
        return X
    return X / 2.0 ** math.floor(math.log2(top))


def _normalised_distances(P: np.ndarray, param: str, func: str) -> np.ndarray:
    """Euclidean distance matrix of the rows of P divided by its mean over distinct pairs."""
    from scipy.spatial.distance import pdist, squareform
    d = pdist(P)                                                  # (n (n - 1) / 2,)
    mean = float(d.mean())
    if not mean > 0:
        raise InputError(f"The `{param}` parameter of {func} must hold at least two distinct points. "
                         "Got all rows (of the subsample) equal.")
    return squareform(d / mean)                                   # (n, n)


def gromov_wasserstein(X: Any, Y: Any, *, max_points: int = 1000, seed: Any = 0, paired: bool | None = None,
                       return_coupling: bool = False) -> GWResult:
    """GW discrepancy min_T sum (C1_ik - C2_jl)^2 T_ij T_kl between two point clouds, up to isometry.

    Parameters
    ----------
    X, Y : array_like, shapes (n, d1) and (m, d2)
        Point clouds, one point per row; the dimensions may differ.
    max_points : int
        At most this many rows are drawn (uniformly, without replacement) from each cloud; 2..5000.
    seed : None, int or numpy Generator
        For the subsample.
    paired : bool or None
        Whether row i of X and row i of Y are the same object (the same token id in two models with
        one vocabulary). Then the same rows are drawn from both, so a token meets itself, and the solver
        is also started from the identity coupling (the better of the two starts is kept; both are upper
        bounds on the minimum). None (default): paired when n == m.
    return_coupling : bool
        Also return the (n_x, n_y) coupling.

    Returns
    -------
    GWResult
        ``distance`` (dimensionless: distances are divided by their mean over distinct pairs, so spaces
        of different scale compare), ``metric`` = 0.5 sqrt(distance), ``n_points``, ``converged``.

    Raises
    ------
    DependencyError
        POT is not installed (``pip install 'seminfo[embed]'``).

    Notes
    -----
    Squared loss and uniform weights 1/n, 1/m. GW is invariant under isometries of either cloud
    (rotations, reflections, translations) and, after the mean normalisation, under scaling. The value
    is that of a local minimum of a nonconvex problem, hence an upper bound on the true discrepancy.

    References
    ----------
    1. Memoli (2011).  2. Flamary et al. (2021); Peyre, Cuturi & Solomon (2016).

    Examples
    --------
    Two points against an equilateral triangle: the minimum is 5/18 (docs/geometry.md).

    >>> r = gromov_wasserstein([[0.0], [1.0]], [[0, 0], [1, 0], [0.5, 3 ** 0.5 / 2]])
    >>> round(r.distance, 6), round(5 / 18, 6)
    (0.277778, 0.277778)
    """
    func = "gromov_wasserstein"
    X = _cloud(X, "X", func)
    Y = _cloud(Y, "Y", func)
    max_points = as_int(max_points, "max_points", func, minimum=2, maximum=MAX_GW_POINTS)
    rng = as_rng(seed, func)
    if paired is not None and not isinstance(paired, (bool, np.bool_)):
        raise InputError(f"The `paired` parameter of {func} must be True, False or None. Got {paired!r}.")
    if paired is None:
        paired = X.shape[0] == Y.shape[0]
    elif paired and X.shape[0] != Y.shape[0]:
        raise ShapeError(f"The `paired` parameter of {func} is True, which needs X and Y with the same "
                         f"number of rows. Got {X.shape[0]} and {Y.shape[0]}.")
    if not isinstance(return_coupling, (bool, np.bool_)):
        raise InputError(f"The `return_coupling` parameter of {func} must be True or False. "
                         f"Got {return_coupling!r}.")
    nx, ny = min(X.shape[0], max_points), min(Y.shape[0], max_points)
    check_size(nx * nx + ny * ny + 4 * nx * ny, "max_points", func)
    try:
        import ot
    except ImportError:
        raise DependencyError(f"{func} needs the POT library (Python Optimal Transport), which is not "
                              "installed: pip install 'seminfo[embed]' (or pip install POT).") from None

    if paired:
        rows = np.sort(rng.choice(X.shape[0], size=nx, replace=False)) if nx < X.shape[0] \
            else np.arange(nx)
        rx = ry = rows
    else:
        rx = np.sort(rng.choice(X.shape[0], size=nx, replace=False)) if nx < X.shape[0] else np.arange(nx)
        ry = np.sort(rng.choice(Y.shape[0], size=ny, replace=False)) if ny < Y.shape[0] else np.arange(ny)
    C1 = _normalised_distances(_rescaled(X[rx]), "X", func)       # (nx, nx)
    C2 = _normalised_distances(_rescaled(Y[ry]), "Y", func)       # (ny, ny)
    p, q = np.full(nx, 1.0 / nx), np.full(ny, 1.0 / ny)
    max_iter = 10_000                                             # POT's default, stated
    starts = {"product": None}
    if paired:
        starts["identity"] = np.eye(nx) / nx
    runs = {}
    for name, G0 in starts.items():
        value, log = ot.gromov.gromov_wasserstein2(C1, C2, p, q, loss_fun="square_loss", log=True,
                                                   G0=G0, max_iter=max_iter)
        runs[name] = (float(value), log)
    best = min(runs, key=lambda s: runs[s][0])
    value, log = runs[best]
    n_iter = max(len(log.get("loss", [])) - 1, 0)
    T = np.asarray(log["T"], dtype=np.float64) if return_coupling else None
    return GWResult(distance=value, metric=0.5 * math.sqrt(max(value, 0.0)), n_points=(nx, ny),
                    paired=bool(paired), n_iter=n_iter, converged=n_iter < max_iter,
                    extra={"start": best, "by_start": {s: v for s, (v, _) in runs.items()}},
                    coupling=T)


# ---------------------------------------------------------------------------------------------------
# Johnson-Lindenstrauss

def jl_epsilon(n: int, k: int) -> float:
    """The JL epsilon for n points in k dimensions (Dasgupta & Gupta 2003): eps^2/2 - eps^3/3 = 4 ln(n)/k.

    Returns the root in (0, 1), or ``inf`` when k <= 24 ln n (the left side never exceeds 1/6 on (0, 1),
    so the bound promises nothing below eps = 1).

    >>> eps = jl_epsilon(1000, 2000)
    >>> round(eps, 4), abs(eps ** 2 / 2 - eps ** 3 / 3 - 4 * math.log(1000) / 2000) < 1e-12
    (0.177, True)
    >>> jl_epsilon(1000, 100)
    inf
    """
    n = as_int(n, "n", "jl_epsilon", minimum=2)
    k = as_int(k, "k", "jl_epsilon", minimum=1)
    target = 4.0 * math.log(n) / k
    if target >= 1.0 / 6.0:
        return math.inf
    lo, hi = 0.0, 1.0                                  # g(eps) = eps^2/2 - eps^3/3 increases on (0, 1)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid * mid / 2 - mid ** 3 / 3 < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _projection(d: int, k: int, method: str, rng: np.random.Generator) -> np.ndarray:
    """(d, k) map: Gaussian N(0, 1/k) entries, or orthonormal columns scaled sqrt(d/k) (k < d) /
    orthonormal rows (k >= d, an isometry)."""
    if method == "gaussian":
        return rng.standard_normal((d, k)) / math.sqrt(k)
    G = rng.standard_normal((max(d, k), min(d, k)))
    Q, R = np.linalg.qr(G)                                        # Q: (max, min), orthonormal columns
    Q = Q * np.sign(np.diag(R))                                   # Haar-distributed
    if k < d:
        return Q * math.sqrt(d / k)                               # (d, k)
    return Q.T                                                    # (d, k), Q.T @ Q = I_d: an isometry


def jl_distortion(X: Any, k: int, *, n_pairs: int = 2000, seed: Any = 0, method: str = "gaussian") -> JLResult:
    """Distortion |ratio - 1| of squared distances under a random map to k dims, against the JL bound.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Points, one per row (n >= 2). The n of the bound is the number of rows.
    k : int
        Target dimension.
    n_pairs : int
        Pairs i != j measured: all pairs when there are at most this many, else this many drawn uniformly
        (with replacement).
    seed : None, int or numpy Generator
        For the map and the pairs.
    method : {"gaussian", "orthogonal"}
        "gaussian": f(x) = x R with R_ij ~ N(0, 1/k) (E ratio = 1). "orthogonal": a Haar-random map with
        orthonormal columns scaled sqrt(d/k) when k < d, an isometry (exact) when k >= d.

    Returns
    -------
    JLResult
        Max and quantiles of |ratio - 1|, the Dasgupta-Gupta epsilon, the share of pairs within it,
        the fraction the proof promises (1 - 2/n^2) and the exact per-pair probability.

    Notes
    -----
    Dasgupta & Gupta (2003): if k >= 4 ln(n) / (eps^2/2 - eps^3/3), a random map keeps each pair's
    squared distance within a factor 1 +- eps except with probability at most 2/n^2, so all pairs at
    once with probability at least 1/n. For one pair the ratio is exactly chi2_k / k (Gaussian) or
    (d/k) Beta(k/2, (d - k)/2) (orthogonal), whence `exact_fraction`.

    References
    ----------
    3. Dasgupta & Gupta (2003).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(100, 500))
    >>> r = jl_distortion(X, 400)
    >>> round(r.epsilon_bound, 3), r.fraction_within_bound, r.promised_fraction
    (0.346, 1.0, 0.9998)
    >>> jl_distortion(X, 500, method="orthogonal").max_distortion < 1e-12       # k = d: a rotation
    True
    """
    func = "jl_distortion"
    X = _rescaled(_cloud(X, "X", func))
    n, d = X.shape
    k = as_int(k, "k", func, minimum=1)
    n_pairs = as_int(n_pairs, "n_pairs", func, minimum=1)
    method = one_of(method, ("gaussian", "orthogonal"), "method", func)
    rng = as_rng(seed, func)
    total = n * (n - 1) // 2
    m = min(total, n_pairs)
    check_size(d * k, "k", func)
    check_size(m * (d + k), "n_pairs", func)
    if total <= n_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        i = rng.integers(0, n, size=m)
        j = rng.integers(0, n - 1, size=m)
        j = j + (j >= i)                                          # uniform over j != i
    R = _projection(d, k, method, rng)                            # (d, k)
    diff = X[i] - X[j]                                            # (m, d)
    before = np.einsum("ij,ij->i", diff, diff)
    keep = before > 0
    n_zero = int(np.sum(~keep))
    if not keep.any():
        raise InputError(f"The `X` parameter of {func} must hold distinct points: every measured pair "
                         "was two equal rows.")
    diff, before = diff[keep], before[keep]
    proj = diff @ R                                               # (m, k)
    ratio = np.einsum("ij,ij->i", proj, proj) / before
    dev = np.abs(ratio - 1.0)
    eps = jl_epsilon(n, k)
    if math.isinf(eps):
        promised, exact = 1.0, 1.0
    else:
        promised = 1.0 - 2.0 / n ** 2
        exact = _exact_within(eps, d, k, method)
    q50, q90, q99 = np.quantile(dev, [0.5, 0.9, 0.99])
    return JLResult(k=k, d=d, n_points=n, n_pairs=int(dev.size), max_distortion=float(dev.max()),
                    median_distortion=float(q50), q90_distortion=float(q90), q99_distortion=float(q99),
                    epsilon_bound=eps, fraction_within_bound=float(np.mean(dev <= eps)),
                    promised_fraction=promised, exact_fraction=exact, method=method, n_zero_pairs=n_zero)


def _exact_within(eps: float, d: int, k: int, method: str) -> float:
    """P(|ratio - 1| <= eps) for one pair: ratio ~ chi2_k / k, or (d/k) Beta(k/2, (d-k)/2)."""
    from scipy import stats
    if method == "gaussian":
        return float(stats.chi2.cdf(k * (1 + eps), k) - stats.chi2.cdf(max(k * (1 - eps), 0.0), k))
    if k >= d:
        return 1.0
    b = stats.beta(k / 2, (d - k) / 2)                          # squared length of a projected unit vector
    return float(b.cdf(min(k * (1 + eps) / d, 1.0)) - b.cdf(max(k * (1 - eps) / d, 0.0)))


# ---------------------------------------------------------------------------------------------------
# TwoNN intrinsic dimension

def _two_nn(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second nearest-neighbour distances of each row among the others (rows distinct).

    The cloud is centred first (distances do not change). Candidates come from the BLAS form
    |x|^2 + |y|^2 - 2 x.y in row blocks; the distances of the four best candidates are then recomputed
    from differences, so cancellation cannot spoil the small distances that TwoNN divides.
    """
    n = X.shape[0]
    X = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", X, X)
    r1, r2 = np.empty(n), np.empty(n)
    c = min(4, n - 1)
    block = max(1, 2 ** 22 // n)
    for a in range(0, n, block):
        b = min(n, a + block)
        D2 = sq[a:b, None] + sq[None, :] - 2.0 * (X[a:b] @ X.T)  # (b - a, n)
        D2[np.arange(b - a), np.arange(a, b)] = np.inf          # not one's own neighbour
        cand = np.argpartition(D2, c - 1, axis=1)[:, :c]         # (b - a, c)
        diff = X[a:b, None, :] - X[cand]                          # (b - a, c, d)
        dist = np.sort(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), axis=1)
        r1[a:b], r2[a:b] = dist[:, 0], dist[:, 1]
    return r1, r2


def intrinsic_dimension(X: Any) -> Estimate:
    """TwoNN intrinsic dimension (Facco et al. 2017), maximum likelihood: d = (N - 1) / sum_i ln(r2_i / r1_i).

    Parameters
    ----------
    X : array_like, shape (n, D)
        Points, one per row.

    Returns
    -------
    Estimate
        ``value`` in dimensions, ``stderr = value / sqrt(N - 2)``, ``n`` = N distinct points used;
        ``extra`` holds ``n_input`` and ``n_duplicates``.

    Notes
    -----
    If the density is locally uniform around each point on a d-dimensional manifold, mu = r2/r1 (second
    over first nearest-neighbour distance) is Pareto: P(mu > x) = x^{-d}, so ln mu is exponential with
    rate d and S = sum ln mu ~ Gamma(N, d). (N - 1)/S is the unbiased form of the MLE N/S, and its
    exact standard deviation is d / sqrt(N - 2), reported with the estimate in place of d. Facco et al.
    fit a line to the empirical CDF instead (discarding the largest 10 % of mu); we use the MLE.

    Duplicate rule: exact duplicate rows are collapsed to one point first (r1 = 0 would make mu
    infinite); their number is in ``extra["n_duplicates"]``. Ties r1 = r2 give ln mu = 0 and are kept.
    If every mu is 1 (a perfect lattice) the estimate is ``inf``, with ``stderr`` nan and a note.

    References
    ----------
    4. Facco, d'Errico, Rodriguez & Laio (2017).

    Examples
    --------
    A flat torus (two angles) drawn in R^4: two dimensions.

    >>> a = np.random.default_rng(1).uniform(0, 2 * np.pi, size=(2000, 2))
    >>> X = np.c_[np.cos(a[:, 0]), np.sin(a[:, 0]), np.cos(a[:, 1]), np.sin(a[:, 1])]
    >>> r = intrinsic_dimension(X)
    >>> abs(r.value - 2) < 3 * r.stderr, r.units
    (True, 'dimensions')
    """
    func = "intrinsic_dimension"
    X = _cloud(X, "X", func)
    n_input = X.shape[0]
    U = np.unique(_rescaled(X), axis=0)
    N = U.shape[0]
    if N < 3:
        raise InputError(f"The `X` parameter of {func} must hold at least 3 distinct points (TwoNN needs "
                         f"two neighbours per point and N - 2 > 0 for its standard error). Got {N}.")
    r1, r2 = _two_nn(U)
    S = float(np.sum(np.log(r2 / r1)))
    extra = {"n_input": n_input, "n_duplicates": n_input - N}
    if S <= 0:
        return Estimate(value=math.inf, stderr=math.nan, units="dimensions", n=N, method="twonn-mle",
                        notes="every point's two nearest neighbours are equidistant (mu = 1): TwoNN "
                              "sees no scale and gives an infinite dimension", extra=extra)
    dim = (N - 1) / S
    return Estimate(value=dim, stderr=dim / math.sqrt(N - 2), units="dimensions", n=N, method="twonn-mle",
                    extra=extra)


def layer_intrinsic_dimension(model: Any, text: str, *, max_tokens: int = 512) -> LayerDimensions:
    """TwoNN intrinsic dimension of a text's hidden states at every layer of a model.

    Parameters
    ----------
    model : model spec (e.g. "builtin:gpt") or seminfo Hugging Face model (with its tokenizer)
        Needs the ``internals`` capability.
    text : str
        The points are the hidden states of its tokens (the first `max_tokens`). A text longer than
        the model's context is read in consecutive windows, each after the model's prefix token; the
        prefix positions themselves are left out.
    max_tokens : int
        At most this many text tokens (3..100000).

    Returns
    -------
    LayerDimensions
        ``dimension`` and ``stderr`` per layer (0 = embeddings .. L = final normalised state), in
        dimensions; ``n_tokens``; ``n_unique`` (repeated tokens give identical layer-0 states in models
        without position embeddings; duplicates are collapsed, see :func:`intrinsic_dimension`). A
        layer with fewer than 3 distinct states has nan dimension and stderr.

    Examples
    --------
    >>> r = layer_intrinsic_dimension("builtin:gpt", "Once upon a time there was a little girl. " * 4)
    >>> r.layers, r.n_tokens, r.units
    ([0, 1, 2, 3, 4], 65, 'dimensions')
    """
    from ..flow.lens import residual_streams
    from ..models.capability import as_model
    func = "layer_intrinsic_dimension"
    if not isinstance(text, str) or not text:
        raise InputError(f"The `text` parameter of {func} must be a non-empty str. Got "
                         f"{text!r:.60}.")
    utf8_bytes(text, "text", func)                                # a lone surrogate: one-line InputError
    max_tokens = as_int(max_tokens, "max_tokens", func, minimum=3, maximum=100_000)
    m = as_model(model, "internals", func=func)
    tok = getattr(m, "tokenizer", None)
    hf = getattr(m, "hf_model", None)
    if tok is None or hf is None:
        raise InputError(f"The `model` parameter of {func} must be a seminfo model with a tokenizer (a spec "
                         "such as 'builtin:gpt', or seminfo.models.hf.HFModel(hf_model, tokenizer)). Got "
                         f"{type(m).__name__}.")
    ids = list(tok.encode(text))[:max_tokens]
    if len(ids) < 3:
        raise InputError(f"The `text` parameter of {func} must give at least 3 tokens. Got {len(ids)}.")
    prefix = len(getattr(m, "prefix", ()) or ())
    ctx = getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", None)
    window = (int(ctx) - prefix) if ctx else len(ids)
    if window < 1:
        raise InputError(f"The model given to {func} has a context of {ctx} tokens, no longer than its "
                         "prefix: it cannot read text.")
    width = int(getattr(hf.config, "hidden_size", 0) or getattr(hf.config, "n_embd", 0) or 1)
    depth = int(getattr(hf.config, "num_hidden_layers", 0) or 1) + 1
    check_size(len(ids) * width * depth, "max_tokens", func)     # the (L + 1, T, d) states
    parts = []
    for a in range(0, len(ids), window):
        H = residual_streams(m, ids[a:a + window])                # (L + 1, prefix + w, d)
        parts.append(H[:, prefix:])
    H = np.concatenate(parts, axis=1)                             # (L + 1, T, d)
    L1 = H.shape[0]
    dims, errs, uniq = [], [], []
    for layer in range(L1):
        distinct = int(np.unique(H[layer], axis=0).shape[0])
        if distinct < 3:                                          # TwoNN needs 3 distinct points
            dims.append(math.nan)
            errs.append(math.nan)
            uniq.append(distinct)
            continue
        e = intrinsic_dimension(H[layer])
        dims.append(e.value)
        errs.append(e.stderr)
        uniq.append(e.n)
    return LayerDimensions(layers=list(range(L1)), dimension=np.asarray(dims), stderr=np.asarray(errs),
                           n_tokens=int(H.shape[1]), n_unique=np.asarray(uniq, dtype=np.int64),
                           model=str(getattr(m, "name", type(m).__name__)), width=int(H.shape[2]))
