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
(:mod:`seminfo.models.portable.fast`), the mixer's state lives in C (``si_mixer_*``: counts in hash
maps, the same integers as this module's numpy code, tested against it) and :meth:`ContextMixer.rows`
mixes a whole run of rows in one call; otherwise numpy and Python dictionaries do it.

Leaves out: higher orders, learned mixing weights per context (logistic mixing as in PAQ/cmix), SSE.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

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
        self._state = None
        if self._lib is not None:
            self._state = self._lib.si_mixer_new(self.K, _W0)
            if not self._state:
                raise MemoryError("The context mixer could not allocate its counts.")
            self._lib_free = self._lib.si_mixer_free         # kept: the module may be gone at exit
            self._last = None
            return
        self.c0 = np.zeros(self.K, dtype=np.int64)
        self.n0 = 0
        self.c1: dict = {}
        self.c2: dict = {}
        self.prev = (-1, -1)
        self._w = _W0
        self._last = None

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib_free(self._state)
            self._state = None

    @property
    def w(self) -> int:
        """The model's weight in Q16 (the context model has 2^16 - w)."""
        return int(self._lib.si_mixer_weight(self._state)) if self._state else self._w

    def _token(self, x) -> int:
        x = int(x)
        if not 0 <= x < self.K:
            raise InputError(f"The token {x} fed to the context mixer is outside its vocabulary of {self.K}.")
        return x

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

    def _row(self, F) -> np.ndarray:
        F = np.ascontiguousarray(F, dtype=np.int64)
        if F.shape != (self.K,):
            raise InputError(f"The context mixer takes rows of {self.K} frequencies; got shape {F.shape}.")
        return F

    def mix(self, F: np.ndarray) -> np.ndarray:
        """The mixed row (K,) int64 (every entry >= 1) for the model's row F (K,) (integers >= 1, below
        2^31)."""
        F = self._row(F)
        if self._state:
            out = np.empty(self.K, dtype=np.int64)
            self._lib.si_mixer_mix(self._state, F.ctypes.data, out.ctypes.data)
            self._last = F                                   # the kernel reads F[x] in update()
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
        if self._last is None:
            raise InputError("ContextMixer.update needs a row from mix() first.")
        x = self._token(x)
        if self._state:
            if self._lib.si_mixer_update(self._state, x) != 0:
                raise MemoryError("The context mixer could not allocate its counts.")
            self._last = None
            return
        F, p2 = self._last
        self._last = None
        a, b = self._w * int(F[x]), (_W_ONE - self._w) * int(p2[x])
        w = (a << _W) // (a + b) if a + b else self._w
        w = w - (w >> _SHARE) + (_W_ONE >> (_SHARE + 1))
        self._w = min(max(w, 1), _W_ONE - 1)
        self.c0[x] += 1
        self.n0 += 1
        for table, key in ((self.c1, self.prev[1]), (self.c2, self.prev)):
            ctx = table.setdefault(key, {})
            ctx[x] = ctx.get(x, 0) + 1
        self.prev = (self.prev[1], int(x))

    def rows(self, F: np.ndarray, feeds: np.ndarray, *, sums: bool = False, dtype=np.int64):
        """Mixed rows (T, K) of model rows F (T, K) whose tokens (fed ids) are `feeds` (T,), in order,
        as int64 or (`dtype` float64, exact: the entries are below 2^31) as the coder takes them.

        With `sums`, also (T, 2) int64: each row's sum before its token and its whole sum (the
        cumulative frequencies a coder needs, exact)."""
        F = np.ascontiguousarray(F, dtype=np.int64)
        feeds = np.ascontiguousarray(feeds, dtype=np.int64)
        if F.ndim != 2 or F.shape[1] != self.K or feeds.shape != (F.shape[0],):
            raise InputError(f"The context mixer takes rows (T, {self.K}) and T tokens; got shapes {F.shape} "
                             f"and {feeds.shape}.")
        if feeds.size and (feeds.min() < 0 or feeds.max() >= self.K):
            raise InputError(f"A token fed to the context mixer is outside its vocabulary of {self.K}.")
        dtype = np.dtype(dtype)
        if dtype not in (np.int64, np.float64):
            raise InputError(f"The `dtype` parameter of ContextMixer.rows must be int64 or float64. Got {dtype}.")
        out = np.empty((len(F), self.K), dtype=dtype)
        S = np.empty((len(F), 2), dtype=np.int64)
        if self._state:
            if self._lib.si_mixer_rows(self._state, F.ctypes.data, feeds.ctypes.data, len(F), out.ctypes.data,
                                       S.ctypes.data, int(dtype == np.float64)) != 0:
                raise MemoryError("The context mixer could not allocate its counts.")
            self._last = None
        else:
            rows = np.empty((len(F), self.K), dtype=np.int64)
            for t in range(len(F)):
                rows[t] = self.mix(F[t])
                self.update(int(feeds[t]))
            S[:, 0] = np.where(np.arange(self.K) < feeds[:, None], rows, 0).sum(1)
            S[:, 1] = rows.sum(1)
            out[...] = rows
        return (out, S) if sums else out
