"""Context mixing: the model's rows mixed with an adaptive token context model, in exact integers.

Scope
-----
A language model predicts text like what it was trained on; inside one file, what repeats (a log's
timestamps and package names, a licence's defined terms) is better predicted by counting what came
before. :class:`ContextMixer` keeps, per block, an order-2 token context model (counts of the tokens
that followed the last two tokens, backed off to the last token and to the block's unigram counts)
and mixes its distribution with the model's row by a Bayesian two-expert mixture with fixed share
(Herbster & Warmuth 1998): each expert's weight is multiplied by the probability it gave the coded
token, renormalised, and a share of 2^-6 is spread evenly so the mixture can switch back. The
mixture's code is never longer than the better expert's by more than about
``log2(1 / w_0) + n 2^-6 / ln 2`` bits (n tokens), and on inputs the model does not know it is much
shorter (docs/compression.md has the numbers).

Everything is integer arithmetic (numpy int64 and Python integers), so encoder and decoder, on any
machine, compute the same rows: with ``Q = 2^30``,

* ``P0[v] = floor(Q (2 c0[v] + 1) / (2 n0 + K))`` (add-half unigram),
* ``P1[v] = floor((Q c1[v] + P0[v]) / (n1 + 1))`` and ``P2[v] = floor((Q c2[v] + P1[v]) / (n2 + 1))``
  (counts after the last token and the last two, each backed off with weight one),
* the mixed row ``floor(w F[v] / 2^17) + floor((2^16 - w) P2[v] / 2^17) + 1`` with the model weight
  w in Q16 (F adds up to about 2^30, as do the P's),
* after coding token x: ``w <- floor(2^16 w F[x] / (w F[x] + (2^16 - w) P2[x]))``, then
  ``w <- w - floor(w / 64) + 512``, kept in 1 .. 2^16 - 1.

Used on the portable path only (its rows are the same integers everywhere); the archive's header
says whether a block's rows were mixed (flag 16). Where the portable models' C kernels are built
(:mod:`seminfo.models.portable.fast`), a row is one kernel call (``si_mix_row``: the same integers,
tested against this module's numpy code); otherwise numpy computes it.

Leaves out: higher orders, learned mixing weights per context (logistic mixing as in PAQ/cmix), SSE.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ContextMixer", "MIX_VERSION"]

#: Names the arithmetic above (an archive's flag means this version).
MIX_VERSION = 1
_Q = 30
_W = 16
_W_ONE = 1 << _W
_W0 = 58982                      # 0.9 of the weight on the model at the start of a block
_SHARE = 6                       # share 2^-6, spread evenly: w <- w - w / 64 + 2^16 / 128


def _kernels():
    """The portable models' C kernels (ctypes), or None (not built, or torch absent)."""
    try:
        from ..models.portable import fast
        return fast.library()
    except ImportError:
        return None


class ContextMixer:
    """Mix one block's model rows with its adaptive order-2 token context model.

    Parameters
    ----------
    K : int
        Vocabulary size (the rows' length).
    kernels : bool
        Use the C kernels when they are built (False: numpy; the same rows).
    """

    def __init__(self, K: int, *, kernels: bool = True) -> None:
        self.K = int(K)
        self._lib = _kernels() if kernels else None
        if self._lib is not None:                        # buffers and their addresses (slow to look up)
            self._p2, self._tmp = np.empty(self.K, dtype=np.int64), np.empty(self.K, dtype=np.int64)
            self._ptrs = (self._p2.ctypes.data, self._tmp.ctypes.data)
        self.c0 = np.zeros(self.K, dtype=np.int64)
        self._pc0 = self.c0.ctypes.data
        self.n0 = 0
        self.c1: dict = {}
        self.c2: dict = {}
        self.prev = (-1, -1)
        self.w = _W0
        self._last = None

    @staticmethod
    def _back_off(base: np.ndarray, ctx: dict | None) -> np.ndarray:
        """floor((Q c[v] + base[v]) / (n + 1)) with the sparse counts c of one context (n their sum)."""
        if not ctx:
            return base
        n = sum(ctx.values())
        out = base // (n + 1)
        idx = np.fromiter(ctx.keys(), dtype=np.int64, count=len(ctx))
        cnt = np.fromiter(ctx.values(), dtype=np.int64, count=len(ctx))
        out[idx] = ((cnt << _Q) + base[idx]) // (n + 1)
        return out

    @staticmethod
    def _sparse(ctx: dict | None) -> tuple[int, int, int, int, tuple]:
        """(address of the ids, of the counts, how many, their sum, the arrays kept alive)."""
        if not ctx:
            return 0, 0, 0, 0, ()
        idx = np.fromiter(ctx.keys(), dtype=np.int64, count=len(ctx))
        cnt = np.fromiter(ctx.values(), dtype=np.int64, count=len(ctx))
        return idx.ctypes.data, cnt.ctypes.data, len(ctx), sum(ctx.values()), (idx, cnt)

    def mix(self, F: np.ndarray) -> np.ndarray:
        """The mixed row (K,) int64 (every entry >= 1) for the model's row F (K,) (integers >= 1)."""
        F = np.ascontiguousarray(F, dtype=np.int64)
        if self._lib is not None:
            i1, k1, m1, n1, keep1 = self._sparse(self.c1.get(self.prev[1]))
            i2, k2, m2, n2, keep2 = self._sparse(self.c2.get(self.prev))
            out = np.empty(self.K, dtype=np.int64)
            self._lib.si_mix_row(F.ctypes.data, self.K, self._pc0, self.n0, i1, k1, m1, n1, i2, k2, m2, n2, self.w,
                                 *self._ptrs, out.ctypes.data)
            self._last = (F, self._p2)
            return out
        p0 = ((2 * self.c0 + 1) << _Q) // (2 * self.n0 + self.K)
        p2 = self._back_off(self._back_off(p0, self.c1.get(self.prev[1])), self.c2.get(self.prev))
        self._last = (F, p2)
        out = (F * self.w) >> (_W + 1)
        out += (p2 * (_W_ONE - self.w)) >> (_W + 1)
        out += 1
        return out

    def update(self, x: int) -> None:
        """Account for the coded token `x` (the id fed to the model) after :meth:`mix`."""
        F, p2 = self._last
        a, b = self.w * int(F[x]), (_W_ONE - self.w) * int(p2[x])
        w = (a << _W) // (a + b) if a + b else self.w
        w = w - (w >> _SHARE) + (_W_ONE >> (_SHARE + 1))
        self.w = min(max(w, 1), _W_ONE - 1)
        self.c0[x] += 1
        self.n0 += 1
        for table, key in ((self.c1, self.prev[1]), (self.c2, self.prev)):
            ctx = table.setdefault(key, {})
            ctx[x] = ctx.get(x, 0) + 1
        self.prev = (self.prev[1], int(x))

    def rows(self, F: np.ndarray, feeds: np.ndarray) -> np.ndarray:
        """Mixed rows (T, K) of model rows F (T, K) whose tokens (fed ids) are `feeds` (T,), in order."""
        out = np.empty((len(F), self.K), dtype=np.int64)
        for t in range(len(F)):
            out[t] = self.mix(F[t])
            self.update(int(feeds[t]))
        return out
