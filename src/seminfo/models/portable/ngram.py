"""Kneser-Ney n-grams with integer frequency rows that are the same on every machine.

Scope
-----
:class:`PortableNgram` wraps a :class:`~seminfo.models.ngram.KneserNeyModel` (``builtin:ngram`` and
``builtin:ngram:N``) and recomputes its probabilities so that they are provably order-independent:

* the per-context terms are rebuilt from the integer count tables: totals ``c(h.)`` are sums of
  integers below 2^53 (exact in float64 whatever the order of the additions), ``N_1, N_2, N_3+`` are
  integer counts, and ``gamma = ((D1 N1 + D2 N2) + D3 N3) / c(h.)`` and ``(c - D) / c(h.)`` are
  elementwise IEEE-754 operations in a fixed order (each correctly rounded);
* a distribution is then assembled exactly as the float model does it (theory of docs/ngram.md):
  ``p = p_1``, then for each longer seen context ``p *= gamma`` and ``p[w] += val`` (each entry
  touched once per order) -- elementwise multiplications and additions only;
* no exp, no log, no reduction whose order can vary; the discounts come from integer
  count-of-counts through scalar IEEE divisions (:func:`seminfo.models.ngram._discounts`).

The float64 probability of each token is therefore identical on every IEEE-754 machine, and it is
quantised to ``f = floor(p 2^30) + 1`` (the product by 2^30 is exact): every entry >= 1 and a row
adds up to at most 2^30 (1 + K 2^-52) + K < 2^31.

Leaves out: models trained outside seminfo (any KneserNeyModel works, but only the built-in ones
are named by a spec).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .fixed import FREQ_BITS
from .model import PortableModel

__all__ = ["PortableNgram", "portable_ngram"]

#: Positions whose (K,) rows are assembled at once.
_CHUNK = 1024


class _Terms:
    """One order's CSR rows with back-off weights and discounted masses, rebuilt order-free."""

    def __init__(self, level, n_ctx: int, K: int):
        counts = np.asarray(level.counts, dtype=np.int64)
        self.ctx = np.asarray(level.keys, dtype=np.int64) // K
        self.w = np.asarray(level.keys, dtype=np.int64) % K
        self.indptr = np.searchsorted(self.ctx, np.arange(n_ctx + 1))
        # exact: sums of integers below 2^53 are exact in float64, in any order
        total = np.bincount(self.ctx, weights=counts.astype(np.float64), minlength=n_ctx)
        n = [np.bincount(self.ctx[sel], minlength=n_ctx).astype(np.float64)
             for sel in (counts == 1, counts == 2, counts >= 3)]
        D1, D2, D3 = (float(v) for v in level.discounts)
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        self.gamma = np.where(seen, ((D1 * n[0] + D2 * n[1]) + D3 * n[2]) / safe, 1.0)
        d = np.array([D1, D2, D3])[np.minimum(counts, 3) - 1]
        self.val = (counts.astype(np.float64) - d) / safe[self.ctx]


class PortableNgram(PortableModel):
    """Integer rows of a Kneser-Ney model (see the module docstring for why they are portable).

    Parameters
    ----------
    model : KneserNeyModel
    """

    max_context = None

    def __init__(self, model):
        self.float_model = model
        self.name, self.tokenizer = model.name, model.tokenizer
        self.vocab_size, self.prefix, self.order = model.vocab_size, tuple(model.prefix), model.order
        K = self.vocab_size
        levels = model._levels
        self._terms = [None] + [_Terms(levels[k], 1 if k == 1 else model._ctx_keys[k - 1].size, K)
                                for k in range(1, self.order + 1)]
        t1 = self._terms[1]
        p1 = np.full(K, t1.gamma[0] / K)
        p1[t1.w] += t1.val
        self._p1 = p1

    @property
    def max_total(self) -> int:                              # type: ignore[override]
        return (1 << FREQ_BITS) + 2 * self.vocab_size

    def _probs(self, ctx: np.ndarray) -> np.ndarray:
        """(M, K) float64 probabilities for (M, N-1) contexts, elementwise operations only: the float
        model's interpolation (models.ngram.interpolate) run on the terms rebuilt here."""
        from ..ngram import interpolate
        cids = self.float_model._context_ids(ctx) if self.order > 1 and ctx.shape[0] else None
        return interpolate(self._p1, self._terms, cids, self.order, ctx.shape[0])

    def _rows(self, ctx: np.ndarray) -> np.ndarray:
        """int64 rows ``floor(p 2^30) + 1`` for (M, N-1) contexts."""
        out = np.empty((ctx.shape[0], self.vocab_size), dtype=np.int64)
        for a in range(0, ctx.shape[0], _CHUNK):
            p = self._probs(ctx[a:a + _CHUNK])
            out[a:a + _CHUNK] = np.floor(p * float(1 << FREQ_BITS)).astype(np.int64) + 1
        return out

    def _begin_cache(self, batch: int) -> np.ndarray:
        return np.full((batch, self.order - 1), -1, dtype=np.int64)

    def _advance(self, cache, ids, length, want):
        L = self.order - 1
        B, T = ids.shape
        seq = np.concatenate([cache, ids], axis=1)                       # (B, L + T), -1 = no token
        pos = np.arange(T) if want is None else np.asarray(want)
        idx = (pos + 1)[:, None] + np.arange(L)[None, :]                 # context after ids[:, pos]
        ctx = seq[:, idx].reshape(B * pos.size, L)
        F = self._rows(ctx).reshape(B, pos.size, self.vocab_size)
        return (seq[:, seq.shape[1] - L:] if L else seq[:, :0]), F

    def _rows_for(self, arr: np.ndarray, n: int):
        B, T = arr.shape
        P, L = len(self.prefix), self.order - 1
        seq = np.concatenate([self._begin_cache(B),
                              np.broadcast_to(np.asarray(self.prefix, dtype=np.int64), (B, P)), arr], 1)
        for a in range(0, n, max(_CHUNK // B, 1)):
            b = min(a + max(_CHUNK // B, 1), n)
            # row t of freq_table follows prefix + arr[:, :t]: its context ends at seq index L + P + t
            idx = (np.arange(a, b) + P)[:, None] + np.arange(L)[None, :]
            ctx = seq[:, idx].reshape(B * (b - a), L)
            yield a, b, self._rows(ctx).reshape(B, b - a, self.vocab_size)

    def _id_parts(self) -> list[bytes]:
        parts = [self.float_model.fingerprint().encode(), repr(self.float_model.discounts).encode()]
        parts.append(hashlib.sha256(self._p1.tobytes()).digest())
        return parts

    def __repr__(self) -> str:
        return f"PortableNgram(name={self.name!r}, order={self.order}, vocab_size={self.vocab_size})"


def portable_ngram(spec: str, model=None) -> PortableNgram:
    """The portable twin of builtin:ngram[:N] (the float model is loaded unless given)."""
    if model is None:
        from ..registry import load_model
        model = load_model(spec)
    return PortableNgram(model)
