"""Static token embeddings from co-occurrence: PMI, shifted positive PMI and their truncated SVD.

Scope: (1) window co-occurrence counts of a token sequence (a text through a tokenizer, or token
ids); (2) the pointwise mutual information matrix PMI(i, j) = log2 [ C_ij D / (C_i. C_.j) ] and its
shifted positive form SPPMI_k = max(PMI - log2 k, 0), kept sparse (unobserved pairs are 0, never
-inf); (3) its rank-d factorisation by truncated SVD, with the share of the matrix's squared Frobenius
norm captured at each rank, which by Eckart-Young no other rank-d matrix can beat; (4) how much of
the same matrix a model's embedding inner products explain, next to that optimum (theory §9).

Definitions (theory §9). With M the (S)PPMI matrix and s_1 >= s_2 >= ... its singular values,

    captured(d) = (s_1^2 + ... + s_d^2) / ||M||_F^2 = 1 - ||M - M_d||_F^2 / ||M||_F^2,

where M_d is the truncated SVD. For a model with input embeddings E (K, m) and output embeddings
W (K, m), the inner-product matrix G is E E^T ("input"), W W^T ("output") or E W^T
("input-output"); its share of M is

    share(G) = 1 - min_{a, b} ||M - a G - b 1 1^T||_F^2 / ||M||_F^2,

the best affine fit (least squares, closed form). a G + b 1 1^T has rank at most m + 1, so
share(G) <= captured(m + 1): this is a theorem (Eckart-Young-Mirsky), and the tests check it.

References
----------
1. K. W. Church, P. Hanks, "Word association norms, mutual information, and lexicography",
   Computational Linguistics 16(1), 1990 (PMI of word pairs).
2. O. Levy, Y. Goldberg, "Neural word embedding as implicit matrix factorization", NeurIPS 2014
   (skip-gram with k negatives factorises PMI - log k; SVD of SPPMI as an explicit alternative).
3. O. Levy, Y. Goldberg, I. Dagan, "Improving distributional similarity with lessons learned from
   word embeddings", TACL 3, 2015 (context-distribution smoothing alpha = 0.75, eigenvalue weighting).
4. C. Eckart, G. Young, "The approximation of one matrix by another of lower rank", Psychometrika 1,
   1936; L. Mirsky, "Symmetric gauge functions and unitarily invariant norms", 1960.

Leaves out: dynamic (distance-weighted) windows, subsampling of frequent tokens, and
learned (SGNS) embeddings; counts are uniform over the window.
"""

from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from .._validate import _describe, as_float, as_int, as_real, as_rng, check_size, one_of
from ..errors import InputError, ShapeError
from ..results import Result

__all__ = ["Cooccurrence", "PMIEmbedding", "EmbeddingPMIFit", "cooccurrence", "pmi_matrix",
           "pmi_embedding", "embedding_pmi_fit", "model_pmi_fit", "MAX_WINDOW"]

#: Largest co-occurrence window (tokens on each side).
MAX_WINDOW = 64

#: Largest vocabulary a co-occurrence matrix may have (sparse, so only its non-zeros cost memory).
MAX_VOCAB = 2 ** 22

#: Above this many rows (and for ranks below half of them) a truncated SVD is run with PROPACK on the
#: sparse matrix; below it a dense LAPACK SVD is both exact and fast.
DENSE_SVD_MAX = 1024


# ---------------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True)
class Cooccurrence(Result):
    """Symmetric window co-occurrence counts of a token sequence.

    Attributes
    ----------
    counts : scipy.sparse.csr_matrix, shape (K, K)
        ``counts[i, j]`` = number of position pairs (s, t) with 0 < |s - t| <= window, x_s = i and
        x_t = j; both orders are counted (a symmetric matrix summing to
        2 * sum_{delta=1..window} (n - delta)) unless `directed`, where only t > s is.
    window : int
        Tokens on each side.
    directed : bool
        Whether only forward pairs (t > s) were counted.
    n_tokens : int
        Length of the sequence counted.
    vocab_size : int
        K.
    units : str
        ``"pair counts"``.
    """

    counts: Any
    window: int
    n_tokens: int
    vocab_size: int
    directed: bool = False
    units: str = "pair counts"

    def as_dict(self) -> dict:
        """Summary fields (the matrix itself is not written out)."""
        return {"window": self.window, "directed": self.directed, "n_tokens": self.n_tokens,
                "vocab_size": self.vocab_size,
                "n_pairs": float(self.counts.sum()), "nonzero_cells": int(self.counts.nnz),
                "units": self.units}


@dataclass(frozen=True)
class PMIEmbedding(Result):
    """Rank-d truncated SVD of a (shifted positive) PMI matrix.

    Attributes
    ----------
    vectors : ndarray, shape (K, d)
        Token vectors U_d S_d^weight (Levy et al. 2015 use weight 0.5, the symmetric split).
    context_vectors : ndarray, shape (K, d)
        Context vectors V_d S_d^(1 - weight); ``vectors @ context_vectors.T`` is the rank-d optimum M_d.
    singular_values : ndarray, shape (d,)
        s_1 >= ... >= s_d, in bits (the units of the PMI entries).
    captured : float
        Share of ||M||_F^2 captured at rank d, in [0, 1] (1 when M is zero: nothing to capture).
    captured_by_rank : ndarray, shape (d,)
        captured(r) for r = 1..d, non-decreasing.
    frobenius_sq : float
        ||M||_F^2 in bits^2.
    dim, shift, positive, alpha : as passed
    method : str
        ``"dense-svd"`` (LAPACK) or ``"propack"`` (scipy.sparse.linalg.svds, Lanczos), on the block of
        rows and columns that hold a non-zero.
    units : str
        ``"bits"``: PMI entries and singular values are in bits; `captured` is a fraction.
    """

    vectors: np.ndarray
    context_vectors: np.ndarray
    singular_values: np.ndarray
    captured: float
    captured_by_rank: np.ndarray
    frobenius_sq: float
    dim: int
    shift: float
    positive: bool
    alpha: float
    method: str
    units: str = "bits"

    def as_dict(self) -> dict:
        """The spectrum and shares (not the vectors)."""
        return {"dim": self.dim, "shift": self.shift, "positive": self.positive, "alpha": self.alpha,
                "singular_values": self.singular_values.tolist(), "captured": self.captured,
                "captured_by_rank": self.captured_by_rank.tolist(), "frobenius_sq": self.frobenius_sq,
                "vocab_size": int(self.vectors.shape[0]), "method": self.method, "units": self.units}


@dataclass(frozen=True)
class EmbeddingPMIFit(Result):
    """How much of a PMI matrix a model's embedding inner products explain, beside the optimum.

    Attributes
    ----------
    rows : list of dict
        One per inner product (``"input"`` E E^T, ``"output"`` W W^T, ``"input-output"`` E W^T) with
        ``share`` (1 - min_{a,b} ||M - aG - b||_F^2 / ||M||_F^2), ``scale`` a and ``offset_bits`` b,
        ``r_observed`` (Pearson correlation of the plain PMI with <e_i, f_j> over the pairs that
        co-occur, a descriptive figure without the theorem; None when undefined) and ``rank_bound`` (m + 1).
    optimum : float
        captured(m + 1) of the PMI-SVD: no rank-(m+1) matrix, hence no row, can exceed it.
    optimum_same_rank : float
        captured(m), the optimum at the embedding's own width, for reference.
    embedding_dim : int
        m, the width of the embeddings.
    n_tokens : int
        Size of the token subset the matrices were restricted to (the most frequent tokens that occur).
    tokens : ndarray of int
        Those token ids, most frequent first.
    frobenius_sq : float
        ||M||_F^2 on that subset, in bits^2.
    tied : bool
        Whether input and output embeddings are the same matrix (then the three rows agree).
    units : str
        ``"bits"`` for the PMI entries and the offsets; shares are fractions.
    """

    rows: list
    optimum: float
    optimum_same_rank: float
    embedding_dim: int
    n_tokens: int
    tokens: np.ndarray
    frobenius_sq: float
    tied: bool
    shift: float
    positive: bool
    model: str = ""
    units: str = "bits"
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# counting

def _tokenizer_of(tokenizer: Any, func: str) -> Any:
    """A seminfo Tokenizer from a tokenizer, a model or a model spec."""
    from ..models.base import LanguageModel, Tokenizer
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    if isinstance(tokenizer, LanguageModel):
        return tokenizer.tokenizer
    if isinstance(tokenizer, (str, os.PathLike)):
        from ..models.capability import as_model
        return as_model(tokenizer, func=func).tokenizer
    raise InputError(f"The `tokenizer` parameter of {func} must be a seminfo Tokenizer, a model or a model "
                     f"spec such as 'builtin:gpt'. Got {_describe(tokenizer)}.")


def _token_ids(data: Any, tokenizer: Any, vocab_size: Any, max_tokens: Any, func: str
               ) -> tuple[np.ndarray, int]:
    """(ids, K) from text, bytes, a text file or a sequence of token ids."""
    if max_tokens is not None:
        max_tokens = as_int(max_tokens, "max_tokens", func, minimum=2)
    if isinstance(data, (str, bytes, pathlib.Path)):
        if tokenizer is None:
            raise InputError(f"The `tokenizer` parameter of {func} is needed to count text: pass a "
                             "tokenizer, a model or a spec such as 'builtin:gpt'.")
        tok = _tokenizer_of(tokenizer, func)
        if isinstance(data, pathlib.Path):
            if not data.is_file():
                raise InputError(f"The `data` parameter of {func} names {str(data)!r}, which is not a "
                                 "readable file.")
            data = data.read_bytes()
        if max_tokens is not None and len(data) > 16 * max_tokens:      # >= 1 byte per token, with margin
            data = data[: 16 * max_tokens]
        ids = np.asarray(tok.encode(data), dtype=np.int64)
        K = int(getattr(tok, "vocab_size", 0) or (ids.max() + 1 if ids.size else 0))
    else:
        from .._validate import as_symbols
        ids = as_symbols(data, "data", func, min_length=2)
        K = int(ids.max()) + 1
    if vocab_size is not None:
        K2 = as_int(vocab_size, "vocab_size", func, minimum=1, maximum=MAX_VOCAB)
        if ids.size and ids.max() >= K2:
            raise InputError(f"The `vocab_size` parameter of {func} must exceed every token id. Got "
                             f"{K2}, but the data hold id {int(ids.max())}.")
        K = K2
    if max_tokens is not None:
        ids = ids[:max_tokens]
    if ids.size < 2:
        raise ShapeError(f"The `data` parameter of {func} must hold at least 2 tokens. Got {ids.size}.")
    if K > MAX_VOCAB:
        raise InputError(f"The vocabulary of {func} has {K:,} tokens, more than the limit of "
                         f"{MAX_VOCAB:,}.")
    return ids, K


def cooccurrence(data: Any, *, tokenizer: Any = None, window: int = 2, directed: bool = False,
                 vocab_size: int | None = None, max_tokens: int | None = None) -> Cooccurrence:
    """Window co-occurrence counts C_ij = #{(s, t): 0 < |s - t| <= window, x_s = i, x_t = j}.

    Parameters
    ----------
    data : str, bytes, pathlib.Path or sequence of int
        A text (tokenized with `tokenizer`), a text file, or token ids.
    tokenizer : Tokenizer, model or spec, keyword-only
        Needed for text: a seminfo Tokenizer, a model (its tokenizer is used) or a spec such as
        ``"builtin:gpt"``.
    window : int, keyword-only
        Tokens on each side, 1..64 (default 2).
    directed : bool, keyword-only
        Count only pairs with t > s (row: the earlier token, column: the later one), the direction of
        next-token prediction; default False (both orders, a symmetric matrix).
    vocab_size : int, keyword-only, optional
        K; default the tokenizer's vocabulary, or the largest id + 1.
    max_tokens : int, keyword-only, optional
        Count only the first `max_tokens` tokens.

    Returns
    -------
    Cooccurrence
        ``counts`` is a sparse symmetric (K, K) matrix of pair counts.

    Examples
    --------
    >>> c = cooccurrence([0, 1, 0, 1], window=1)
    >>> c.counts.toarray().tolist()
    [[0.0, 3.0], [3.0, 0.0]]
    """
    func = "cooccurrence"
    w = as_int(window, "window", func, minimum=1, maximum=MAX_WINDOW)
    directed = one_of(directed, (True, False), "directed", func)
    ids, K = _token_ids(data, tokenizer, vocab_size, max_tokens, func)
    n = ids.size
    check_size(2 * n * min(w, n), "The `data` and `window` parameters of cooccurrence (pairs counted)",
               hint="Use fewer tokens (`max_tokens`) or a smaller `window`.")
    rows = np.concatenate([ids[:-d] for d in range(1, min(w, n - 1) + 1)])
    cols = np.concatenate([ids[d:] for d in range(1, min(w, n - 1) + 1)])
    one = sparse.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(K, K)).tocsr()
    counts = one if directed else (one + one.T).tocsr()
    counts.sum_duplicates()
    return Cooccurrence(counts=counts, window=w, n_tokens=int(n), vocab_size=K, directed=directed)


# ---------------------------------------------------------------------------------------------------
# PMI

def _as_counts(counts: Any, func: str) -> sparse.csr_matrix:
    """A square, finite, non-negative count matrix as float64 CSR."""
    if isinstance(counts, Cooccurrence):
        counts = counts.counts
    if sparse.issparse(counts):
        if counts.dtype.kind not in "iuf":
            raise InputError(f"The `counts` parameter of {func} must hold real numbers. Got dtype "
                             f"{counts.dtype}.")
        m = sparse.csr_matrix(counts, dtype=np.float64)
    else:
        arr = as_real(counts, "counts", func, what="a square matrix of co-occurrence counts")
        if arr.ndim != 2:
            raise ShapeError(f"The `counts` parameter of {func} must be a square 2-D matrix. Got shape "
                             f"{arr.shape}.")
        m = sparse.csr_matrix(arr)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ShapeError(f"The `counts` parameter of {func} must be a non-empty square matrix (K, K). Got "
                         f"shape {m.shape}.")
    m.eliminate_zeros()
    if not np.all(np.isfinite(m.data)):
        raise InputError(f"The `counts` parameter of {func} must contain only finite numbers. Got "
                         f"{int(np.sum(~np.isfinite(m.data)))} NaN or infinite entries.")
    if m.data.size and m.data.min() < 0:
        raise InputError(f"The `counts` parameter of {func} must be non-negative. Got a minimum entry of "
                         f"{m.data.min():.6g}.")
    if m.nnz == 0:
        raise InputError(f"The `counts` parameter of {func} must have at least one positive count. Got "
                         "an all-zero matrix.")
    return m


def _pmi_options(shift: Any, positive: Any, alpha: Any, func: str) -> tuple[float, bool, float]:
    k = as_float(shift, "shift", func, minimum=0.0, strict_min=True)
    pos = one_of(positive, (True, False), "positive", func)
    a = as_float(alpha, "alpha", func, minimum=0.0, maximum=1.0, strict_min=True)
    return k, pos, a


def _pmi(C: sparse.csr_matrix, k: float, positive: bool, alpha: float) -> sparse.csr_matrix:
    """PMI - log2 k on the observed cells (0 elsewhere); clipped at 0 when `positive`."""
    coo = C.tocoo()
    vals = _pmi_observed(C, coo, alpha) - math.log2(k)                       # bits
    if positive:
        vals = np.maximum(vals, 0.0)
    M = sparse.csr_matrix((vals, (coo.row, coo.col)), shape=C.shape)
    M.eliminate_zeros()
    return M


def _pmi_observed(C: sparse.csr_matrix, obs: sparse.coo_matrix, alpha: float) -> np.ndarray:
    """Plain PMI (bits) on the observed cells of C, in the order of `obs`.

    Written as one ratio, log2 [C_ij Z / (C_i. C_.j^alpha)] with Z = sum_j C_.j^alpha (= D when alpha = 1),
    so that integer counts of independent tokens give exactly 0.
    """
    row = np.asarray(C.sum(axis=1)).ravel()
    col = np.asarray(C.sum(axis=0)).ravel() ** alpha
    Z = col.sum()
    return np.log2(obs.data * Z / (row[obs.row] * col[obs.col]))


def pmi_matrix(counts: Any, *, shift: float = 1.0, positive: bool = True, alpha: float = 1.0
               ) -> sparse.csr_matrix:
    """Shifted (positive) PMI in bits: max(log2 [C_ij D / (C_i. C_.j^alpha / Z)] - log2 k, 0).

    Parameters
    ----------
    counts : array_like or scipy.sparse matrix, shape (K, K), or Cooccurrence
        Non-negative co-occurrence counts (rows: tokens, columns: contexts). D is their sum.
    shift : float, keyword-only
        k > 0: log2 k is subtracted (the number of negative samples of skip-gram, Levy & Goldberg
        2014). Default 1 (no shift).
    positive : bool, keyword-only
        Clip negative values to 0 (SPPMI, default). With False the matrix holds PMI - log2 k on the
        pairs that occur and 0 on the others (Levy & Goldberg's PMI_0).
    alpha : float, keyword-only
        Context-distribution smoothing exponent in (0, 1]: the column marginal is C_.j^alpha,
        renormalised (Levy, Goldberg & Dagan 2015 use 0.75). Default 1 (plain PMI).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (K, K)
        Entries in bits; pairs never seen are 0, never -inf.

    Examples
    --------
    Two tokens that only occur next to each other: PMI = log2 2 = 1 bit on the observed pairs.

    >>> pmi_matrix([[0, 5], [5, 0]]).toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    func = "pmi_matrix"
    C = _as_counts(counts, func)
    k, pos, a = _pmi_options(shift, positive, alpha, func)
    return _pmi(C, k, pos, a)


def _svd(M: sparse.csr_matrix, dim: int, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Top-`dim` singular triplets (U (K, dim), s (dim,), Vt (dim, K)), s descending.

    Only the rows and columns that hold a non-zero take part (tokens that never occur, or whose PMI is
    clipped to 0 everywhere, add nothing); singular values beyond the rank of that block are 0. Small
    blocks (<= 1024 rows or columns) or ranks close to their size: LAPACK on the dense block. Otherwise
    PROPACK's Lanczos bidiagonalisation with full reorthogonalisation on the sparse block (Larsen 1998,
    through scipy.sparse.linalg.svds), which agrees with ARPACK run to machine precision (tol=0) to
    ~1e-12 relative on the embedded corpus and is 5-10 times faster at d = 200; if PROPACK stops (it
    can meet an invariant subspace on a rank-deficient block) the dense route is taken.
    """
    K1, K2 = M.shape
    rows = np.flatnonzero(np.diff(M.indptr))
    cols = np.unique(M.indices)
    U = np.zeros((K1, dim))
    Vt = np.zeros((dim, K2))
    s = np.zeros(dim)
    if rows.size == 0:
        return U, s, Vt, "zero"
    B = M[rows][:, cols]
    r = min(dim, rows.size, cols.size)
    small = min(B.shape)
    method = "propack"
    if small > DENSE_SVD_MAX and r < small // 2:
        from scipy.sparse.linalg import svds
        try:
            u, sv, vt = svds(B.tocsr(), k=r, solver="propack", random_state=rng)
        except (np.linalg.LinAlgError, ArithmeticError, RuntimeError):
            method = "dense-svd"
    else:
        method = "dense-svd"
    if method == "dense-svd":
        check_size(3 * B.shape[0] * B.shape[1], "The `counts` parameter of pmi_embedding (a dense SVD of "
                   "the PMI matrix)", hint="Use a smaller `dim` (a sparse truncated SVD is used when dim < "
                   "K / 2).")
        u, sv, vt = np.linalg.svd(B.toarray(), full_matrices=False)
        u, sv, vt = u[:, :r], sv[:r], vt[:r]
    order = np.argsort(sv)[::-1]
    U[rows[:, None], np.arange(r)[None, :]] = u[:, order]
    Vt[np.arange(r)[:, None], cols[None, :]] = vt[order]
    s[:r] = sv[order]
    return U, s, Vt, method


def pmi_embedding(counts: Any, *, dim: int, shift: float = 1.0, positive: bool = True,
                  alpha: float = 1.0, weight: float = 0.5, seed: Any = 0) -> PMIEmbedding:
    """Rank-d truncated SVD of the (S)PPMI matrix, M_d = U_d S_d V_d^T, and its share of ||M||_F^2.

    Parameters
    ----------
    counts : array_like or scipy.sparse matrix, shape (K, K), or Cooccurrence
        Non-negative co-occurrence counts (see :func:`cooccurrence`).
    dim : int, keyword-only
        Rank d, 1 <= d <= K.
    shift, positive, alpha : keyword-only
        As in :func:`pmi_matrix` (default: PPMI, k = 1, no smoothing).
    weight : float, keyword-only
        Exponent p of the singular values in the token vectors U_d S_d^p, in [0, 1] (default 0.5).
    seed : int or Generator, keyword-only
        Start vector of the sparse solver (used only when more than 1024 tokens occur and d is below
        half of them).

    Returns
    -------
    PMIEmbedding
        ``.vectors`` (K, d), ``.singular_values`` (bits), ``.captured`` in [0, 1] and
        ``.captured_by_rank`` for every rank up to d.

    Notes
    -----
    By the Eckart-Young-Mirsky theorem [4], M_d minimises ||M - X||_F over every matrix X of rank at
    most d, so ``captured`` is the largest share of ||M||_F^2 any rank-d factorisation (skip-gram
    included, Levy & Goldberg [2]) can reach on this matrix. See theory §9.

    References
    ----------
    2. Levy & Goldberg, NeurIPS 2014. 3. Levy, Goldberg & Dagan, TACL 2015. 4. Eckart & Young 1936.

    Examples
    --------
    A block-diagonal co-occurrence law: two topics, so rank 2 captures everything.

    >>> C = [[4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 2, 2], [0, 0, 2, 2]]
    >>> e = pmi_embedding(C, dim=2)
    >>> e.vectors.shape, round(e.captured, 12), e.singular_values.round(6).tolist()
    ((4, 2), 1.0, [3.169925, 1.169925])
    """
    func = "pmi_embedding"
    C = _as_counts(counts, func)
    K = C.shape[0]
    d = as_int(dim, "dim", func, minimum=1, maximum=K)
    k, pos, a = _pmi_options(shift, positive, alpha, func)
    p = as_float(weight, "weight", func, minimum=0.0, maximum=1.0)
    rng = as_rng(seed, func)
    M = _pmi(C, k, pos, a)
    total = float(np.sum(M.data ** 2))
    if M.nnz == 0:                                     # independent tokens: nothing to capture
        return PMIEmbedding(vectors=np.zeros((K, d)), context_vectors=np.zeros((K, d)),
                            singular_values=np.zeros(d), captured=1.0, captured_by_rank=np.ones(d),
                            frobenius_sq=0.0, dim=d, shift=k, positive=pos, alpha=a, method="zero")
    U, s, Vt, method = _svd(M, d, rng)
    by_rank = np.minimum(np.cumsum(s ** 2) / total, 1.0)
    return PMIEmbedding(vectors=U * s ** p, context_vectors=Vt.T * s ** (1 - p), singular_values=s,
                        captured=float(by_rank[-1]), captured_by_rank=by_rank, frobenius_sq=total,
                        dim=d, shift=k, positive=pos, alpha=a, method=method)


# ---------------------------------------------------------------------------------------------------
# model embeddings against PMI

_KINDS = ("input", "output", "input-output")


def _subset(C: sparse.csr_matrix, max_vocab: int | None) -> np.ndarray:
    """Ids of the tokens that occur, most frequent first, at most `max_vocab` of them."""
    freq = np.asarray(C.sum(axis=1)).ravel()
    ids = np.flatnonzero(freq > 0)
    ids = ids[np.argsort(-freq[ids], kind="stable")]
    return ids if max_vocab is None else ids[:max_vocab]


def _affine_share(M: sparse.csr_matrix, E: np.ndarray, F: np.ndarray, total: float
                  ) -> tuple[float, float, float]:
    """(share, a, b) of the least-squares fit M ~ a E F^T + b 1 1^T, without forming E F^T."""
    n = M.shape[0]
    gg = float(np.sum((E.T @ E) * (F.T @ F)))                # ||E F^T||_F^2
    gj = float(E.sum(axis=0) @ F.sum(axis=0))                # <E F^T, 1 1^T>
    mg = float(np.sum(E * (M @ F)))                          # <M, E F^T>
    mj = float(M.sum())                                      # <M, 1 1^T>
    A = np.array([[gg, gj], [gj, float(n) * n]])
    rhs = np.array([mg, mj])
    coef, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    explained = float(coef @ rhs)                            # ||M||^2 - min residual
    share = min(max(explained / total, 0.0), 1.0) if total > 0 else 1.0
    return share, float(coef[0]), float(coef[1])


def _r_observed(C: sparse.csr_matrix, E: np.ndarray, F: np.ndarray, alpha: float) -> float | None:
    """Pearson correlation of plain PMI with <e_i, f_j> over the observed pairs (chunked)."""
    obs = C.tocoo()
    vals = _pmi_observed(C, obs, alpha)
    g = np.empty(obs.nnz)
    step = 1 << 15
    for s in range(0, obs.nnz, step):
        g[s:s + step] = np.einsum("ij,ij->i", E[obs.row[s:s + step]], F[obs.col[s:s + step]])
    if obs.nnz < 3 or np.std(g) == 0 or np.std(vals) == 0:
        return None                                          # undefined: fewer than 3 pairs, or no spread
    return float(np.corrcoef(vals, g)[0, 1])


def embedding_pmi_fit(counts: Any, input_embeddings: Any, output_embeddings: Any = None, *,
                      shift: float = 1.0, positive: bool = True, alpha: float = 1.0,
                      max_vocab: int | None = 4096, seed: Any = 0) -> EmbeddingPMIFit:
    """Share of the (S)PPMI matrix explained by a G + b, G = E E^T, W W^T or E W^T, beside captured(m+1).

    Parameters
    ----------
    counts : array_like or sparse, shape (K, K), or Cooccurrence
        Co-occurrence counts over the model's vocabulary.
    input_embeddings : array_like, shape (K, m)
        E, one row per token id.
    output_embeddings : array_like, shape (K, m), optional
        W (the unembedding); default E (tied weights).
    shift, positive, alpha : keyword-only
        As in :func:`pmi_matrix` (default PPMI).
    max_vocab : int or None, keyword-only
        Restrict both matrices to the `max_vocab` most frequent tokens that occur (default 4096; None:
        every token that occurs). Tokens that never occur are always left out.
    seed : keyword-only
        For the sparse SVD (see :func:`pmi_embedding`).

    Returns
    -------
    EmbeddingPMIFit
        ``rows`` (one per inner product, with ``share``), ``optimum`` = captured(m + 1).

    Notes
    -----
    a G + b 1 1^T has rank <= m + 1, so every ``share`` is at most ``optimum`` (Eckart-Young-Mirsky):
    a theorem, not an empirical finding. ``r_observed`` has no such bound. See theory §9.

    Examples
    --------
    Embeddings that are the PMI-SVD vectors themselves reach the optimum of their rank:

    >>> C = [[4, 4, 0, 0], [4, 4, 0, 0], [0, 0, 2, 2], [0, 0, 2, 2]]
    >>> E = pmi_embedding(C, dim=2).vectors
    >>> fit = embedding_pmi_fit(C, E)
    >>> round(fit.rows[0]["share"], 9), round(fit.optimum, 9)
    (1.0, 1.0)
    """
    func = "embedding_pmi_fit"
    C = _as_counts(counts, func)
    K = C.shape[0]
    E = as_real(input_embeddings, "input_embeddings", func, what="a (K, m) matrix of embeddings")
    tied = output_embeddings is None or output_embeddings is input_embeddings
    W = E if output_embeddings is None else as_real(output_embeddings, "output_embeddings", func,
                                                      what="a (K, m) matrix of embeddings")
    for name, X in (("input_embeddings", E), ("output_embeddings", W)):
        if X.ndim != 2 or X.shape[0] != K:
            raise ShapeError(f"The `{name}` parameter of {func} must have shape (K, m) with K = {K} rows "
                             f"(one per token of `counts`). Got shape {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise InputError(f"The `{name}` parameter of {func} must contain only finite numbers.")
    if E.shape[1] != W.shape[1]:
        raise ShapeError(f"The `input_embeddings` and `output_embeddings` parameters of {func} must have "
                         f"the same width. Got {E.shape[1]} and {W.shape[1]}.")
    if not tied:
        tied = bool(np.array_equal(E, W))
    k, pos, a = _pmi_options(shift, positive, alpha, func)
    if max_vocab is not None:
        max_vocab = as_int(max_vocab, "max_vocab", func, minimum=2)
    rng = as_rng(seed, func)
    ids = _subset(C, max_vocab)
    Cs = C[ids][:, ids].tocsr()
    # PMI marginals come from the whole matrix (the corpus law); the fit is on the subset
    M = _pmi(C, k, pos, a)[ids][:, ids].tocsr()
    n, m = ids.size, E.shape[1]
    total = float(np.sum(M.data ** 2))
    r = min(m + 1, n)
    if total == 0:
        optimum = same = 1.0
    else:
        _, s, _, _ = _svd(M, r, rng)
        optimum = float(min(np.sum(s ** 2) / total, 1.0))
        same = float(min(np.sum(s[: min(m, n)] ** 2) / total, 1.0))
    Es, Ws = E[ids], W[ids]
    pairs = {"input": (Es, Es), "output": (Ws, Ws), "input-output": (Es, Ws)}
    rows = []
    for kind in _KINDS:
        X, Y = pairs[kind]
        share, scale, offset = _affine_share(M, X, Y, total)
        rows.append({"inner_product": kind, "share": share, "scale": scale, "offset_bits": offset,
                     "r_observed": _r_observed(Cs, X, Y, a), "rank_bound": m + 1,
                     "optimum": optimum})
    return EmbeddingPMIFit(rows=rows, optimum=optimum, optimum_same_rank=same, embedding_dim=m,
                           n_tokens=int(n), tokens=ids, frobenius_sq=total, tied=tied, shift=k,
                           positive=pos)


def model_pmi_fit(model: Any, data: Any = None, *, window: int = 2, directed: bool = False,
                  shift: float = 1.0,
                  positive: bool = True, alpha: float = 1.0, max_vocab: int | None = 4096,
                  max_tokens: int | None = None, seed: Any = 0) -> EmbeddingPMIFit:
    """How well a model's input and output embedding inner products explain the corpus PMI.

    Counts the text with the model's own tokenizer (:func:`cooccurrence`), reads the model's embedding
    matrices (``seminfo.embed.geometry.embedding_matrices``) and calls :func:`embedding_pmi_fit`.

    Parameters
    ----------
    model : str or model
        ``"builtin:gpt"``, ``"builtin:smollm2"``, a Hugging Face model directory or hub name, or a loaded
        seminfo model with internals.
    data : str, bytes, pathlib.Path or None
        The corpus; default the embedded training corpus (``seminfo.models.builtin.corpus_path("train")``).
    window, directed, max_tokens : keyword-only
        As in :func:`cooccurrence`. With ``directed=True`` rows are earlier tokens and columns later
        ones, the orientation of the ``"input-output"`` product E W^T (next-token logits).
    shift, positive, alpha, max_vocab, seed : keyword-only
        As in :func:`embedding_pmi_fit`.

    Returns
    -------
    EmbeddingPMIFit
        With ``model`` set to the model's name and ``extra`` holding the counting figures.

    Examples
    --------
    >>> fit = model_pmi_fit("builtin:gpt", "The list type is a mutable sequence. " * 20,
    ...                     window=2)                                   # doctest: +SKIP
    >>> fit.rows[0]["share"] <= fit.optimum                            # doctest: +SKIP
    True
    """
    func = "model_pmi_fit"
    from ..models.capability import as_model
    w = as_int(window, "window", func, minimum=1, maximum=MAX_WINDOW)
    m = as_model(model, "internals", func=func)
    if data is None:
        from ..models.builtin import corpus_path
        data = corpus_path("train")
    from .geometry import embedding_matrices
    E, W = embedding_matrices(m)
    co = cooccurrence(data, tokenizer=m.tokenizer, window=w, directed=directed, vocab_size=E.shape[0],
                      max_tokens=max_tokens)
    fit = embedding_pmi_fit(co, E, None if W is E else W, shift=shift, positive=positive,
                            alpha=alpha, max_vocab=max_vocab, seed=seed)
    return EmbeddingPMIFit(**{**{f: getattr(fit, f) for f in fit.__dataclass_fields__},
                              "model": str(getattr(m, "name", type(m).__name__)),
                              "extra": {"window": w, "directed": co.directed, "n_corpus_tokens": co.n_tokens,
                                        "vocab_size": co.vocab_size}})
