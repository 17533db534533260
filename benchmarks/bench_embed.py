"""PMI + truncated SVD benchmark: seminfo.embed against the baselines a user would write, in one run.

Corpus: the embedded training corpus (3.4 MB), tokenized once by builtin:gpt's 4,096-token BPE (the
tokenizer of builtin:ngram, which loads without torch); the token ids are shared by every pipeline, so the
timings cover counting (window --window, both directions), the PPMI matrix and the rank-d SVD. Pipelines:

* seminfo: ``cooccurrence`` (sparse) + ``pmi_embedding`` (sparse PPMI, PROPACK truncated SVD);
* numpy dense + sklearn: counts in a dense (K, K) array with ``np.add.at``, dense PPMI with numpy, then
  ``sklearn.decomposition.TruncatedSVD(d)`` (randomized, its default 5 power iterations), the recipe of
  most tutorials;
* scipy sparse + sklearn: the same counts and PPMI kept sparse, then ``TruncatedSVD(d)``;
* numpy dense + scipy ARPACK: dense PPMI and ``scipy.sparse.linalg.svds(k=d)`` (ARPACK);
* numpy dense + LAPACK (with --lapack): ``np.linalg.svd`` of the dense matrix, then the top d.

Accuracy: the share of ||PPMI||_F^2 captured by the d singular values each pipeline returns (sum s_i^2 /
||M||_F^2), against the exact value from seminfo (PROPACK, checked against LAPACK in tests/test_embed.py);
a randomized SVD returns slightly smaller singular values, hence a smaller share. Memory: peak of
Python-tracked allocations (tracemalloc: numpy and scipy arrays included) during the pipeline. Time: best of
--repeat.

    .venv/bin/python benchmarks/bench_embed.py --dims 64 192 --repeat 1
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy import sparse


def measure(f, repeat: int):
    """(result, best seconds, peak MiB of the first run)."""
    tracemalloc.start()
    out = f()
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return out, best, peak


def dense_counts(ids: np.ndarray, K: int, w: int) -> np.ndarray:
    C = np.zeros((K, K))
    for d in range(1, w + 1):
        np.add.at(C, (ids[:-d], ids[d:]), 1.0)
    return C + C.T


def dense_ppmi(C: np.ndarray) -> np.ndarray:
    D = C.sum()
    r, c = C.sum(1, keepdims=True), C.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        M = np.log2(C * D / (r * c))
    M[~np.isfinite(M)] = 0.0
    return np.maximum(M, 0.0)


def sparse_ppmi(ids: np.ndarray, K: int, w: int) -> sparse.csr_matrix:
    rows = np.concatenate([ids[:-d] for d in range(1, w + 1)])
    cols = np.concatenate([ids[d:] for d in range(1, w + 1)])
    C = sparse.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(K, K)).tocsr()
    C = (C + C.T).tocsr()
    D = C.sum()
    r, c = np.asarray(C.sum(1)).ravel(), np.asarray(C.sum(0)).ravel()
    coo = C.tocoo()
    v = np.maximum(np.log2(coo.data * D / (r[coo.row] * c[coo.col])), 0.0)
    M = sparse.csr_matrix((v, (coo.row, coo.col)), shape=(K, K))
    M.eliminate_zeros()
    return M


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 192])
    ap.add_argument("--window", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--lapack", action="store_true", help="also time a full dense LAPACK SVD (slow)")
    ap.add_argument("--no-sklearn", action="store_true")
    args = ap.parse_args()
    from seminfo.embed.pmi import cooccurrence, pmi_embedding, pmi_matrix
    from seminfo.models.builtin import corpus_path
    from seminfo.models.capability import as_model
    tok = as_model("builtin:ngram", func="bench").tokenizer
    t = time.perf_counter()
    ids = np.asarray(tok.encode(corpus_path("train").read_bytes()), dtype=np.int64)
    print(f"tokenized {ids.size:,} tokens in {time.perf_counter() - t:.1f} s; K = {tok.vocab_size}, "
          f"window {args.window}")
    K, w = tok.vocab_size, args.window
    M = pmi_matrix(cooccurrence(ids, window=w, vocab_size=K))
    total = float(np.sum(M.data ** 2))
    print(f"PPMI: {M.nnz:,} non-zero cells of {K * K:,}; ||M||_F^2 = {total:.6g} bits^2\n")
    head = (f"{'pipeline':34s} {'d':>4s} {'time s':>8s} {'peak MiB':>9s} {'captured':>10s} "
            f"{'error':>9s} {'time ratio':>10s} {'mem ratio':>9s}")
    print(head)
    for d in args.dims:
        runs = []

        def seminfo_run():
            return pmi_embedding(cooccurrence(ids, window=w, vocab_size=K), dim=d).singular_values
        runs.append(("seminfo (sparse, PROPACK)", seminfo_run))
        if not args.no_sklearn:
            from sklearn.decomposition import TruncatedSVD

            def sk_dense():
                X = dense_ppmi(dense_counts(ids, K, w))
                return TruncatedSVD(n_components=d, random_state=0).fit(X).singular_values_

            def sk_sparse():
                return TruncatedSVD(n_components=d, random_state=0).fit(sparse_ppmi(ids, K, w)).singular_values_
            runs.append(("numpy dense + sklearn TruncatedSVD", sk_dense))
            runs.append(("scipy sparse + sklearn TruncatedSVD", sk_sparse))

        def arpack_dense():
            from scipy.sparse.linalg import svds
            X = dense_ppmi(dense_counts(ids, K, w))
            return svds(X, k=d, solver="arpack", random_state=0)[1]
        runs.append(("numpy dense + scipy ARPACK", arpack_dense))
        if args.lapack:
            def lapack():
                X = dense_ppmi(dense_counts(ids, K, w))
                return np.linalg.svd(X, compute_uv=False)[:d]
            runs.append(("numpy dense + LAPACK svd", lapack))
        base_t = base_m = exact = None
        for name, f in runs:
            s, secs, peak = measure(f, args.repeat)
            captured = float(np.sum(np.sort(s)[::-1][:d] ** 2) / total)
            if base_t is None:
                base_t, base_m, exact = secs, peak, captured
            print(f"{name:34s} {d:4d} {secs:8.2f} {peak:9.1f} {captured:10.6f} {captured - exact:9.2e} "
                  f"{secs / base_t:10.2f} {peak / base_m:9.2f}", flush=True)
        print()


if __name__ == "__main__":
    main()
