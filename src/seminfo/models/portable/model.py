"""The portable-model contract: integer frequency rows behind the TokenModel interface.

Scope
-----
:class:`PortableModel` is a :class:`~seminfo.models.base.TokenModel` whose next-token distributions
are integer frequency rows (every entry >= 1, a row adding up to less than 2^31), computed with
exact integer arithmetic so that they are bit-identical on every machine. Log-probabilities are
derived from them (``log f - log total``); the frequencies are what a range coder should use.
:class:`PortableTransformer` adds what the integer GPT-2 and Llama share: the prefix, the context
limit, a growing KV cache and the chunked head. :class:`PortableState` carries ``freqs``.

Leaves out: sampling helpers (use the log-probabilities), padding masks (rows of one call have one
length).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import numpy as np

from ..._validate import as_int, as_token_ids
from ...errors import InputError, ModelMismatchError, ShapeError
from ..base import ModelState, TokenModel
from . import fast
from .fixed import ARITHMETIC_VERSION, FREQ_BITS, Pair, exp_table, head_freqs, table_digest

__all__ = ["PortableModel", "PortableState", "PortableTransformer", "log_probs_of"]

#: Positions whose (K,) frequency rows are computed at once by the transformer head.
_HEAD_CHUNK = 128
#: Calls of at most this many tokens (batch x length) run on numpy arrays on the CPU, larger on torch.
_NUMPY_TOKENS = 64


def log_probs_of(freqs: np.ndarray) -> np.ndarray:
    """Natural-log probabilities ``log f - log sum f`` of integer frequency rows (..., K), float64."""
    f = np.asarray(freqs, dtype=np.float64)
    return np.log(f) - np.log(f.sum(-1, keepdims=True))


class PortableState(ModelState):
    """:class:`ModelState` with the integer rows: ``freqs`` int64 (B, K), every entry >= 1.

    ``log_probs`` is derived from ``freqs`` on first access.
    """

    def __init__(self, freqs: np.ndarray, length: int, cache: Any = None):
        self.freqs = freqs
        self.length = length
        self.cache = cache
        self._log_probs = None

    @property
    def log_probs(self) -> np.ndarray:                      # type: ignore[override]
        if self._log_probs is None:
            self._log_probs = log_probs_of(self.freqs)
        return self._log_probs

    @log_probs.setter
    def log_probs(self, value) -> None:
        self._log_probs = value

    def __repr__(self) -> str:
        return f"PortableState(batch={self.freqs.shape[0]}, length={self.length})"


class PortableModel(TokenModel):
    """A token model whose distributions are exactly reproducible integer frequency rows.

    Subclasses implement :meth:`_begin_cache`, :meth:`_advance` and :meth:`_id_parts`.
    """

    portable = True
    #: Largest possible row total (2^30 + K); a range coder with 31-bit totals can take every row.
    max_total: int

    # ------------------------------------------------------------------ subclass hooks
    def _begin_cache(self, batch: int) -> Any:
        """Empty cache of `batch` rows (nothing fed)."""
        raise NotImplementedError

    def _advance(self, cache: Any, ids: np.ndarray, length: int, want: np.ndarray | None) -> tuple[Any, np.ndarray]:
        """Feed ids (B, T) after `length` tokens; return the cache and the int64 frequency rows after the
        positions `want` (indices into 0..T-1; None: all T)."""
        raise NotImplementedError

    def _id_parts(self) -> list[bytes]:
        """Byte strings that identify the numbers (integer weights, tables)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ identity
    def portable_id(self) -> str:
        """sha256 over the integer weights, the fixed tables, the tokenizer and the arithmetic version."""
        if getattr(self, "_portable_id", None) is None:
            h = hashlib.sha256(f"{ARITHMETIC_VERSION}|{type(self).__name__}|{self.vocab_size}|"
                               f"{self.prefix}|{self.max_context}|".encode())
            for part in self._id_parts():
                h.update(hashlib.sha256(part).digest())
            h.update(self.tokenizer.fingerprint().encode())
            self._portable_id = h.hexdigest()
        return self._portable_id

    def fingerprint(self) -> str:
        """Same as :meth:`portable_id` (an archive records it; the decoder must compute the same)."""
        return self.portable_id()

    # ------------------------------------------------------------------ checks
    def _ids(self, ids: Any, func: str, *, already: int) -> np.ndarray:
        arr = as_token_ids(ids, self.vocab_size, func)
        total = already + arr.shape[1]
        if self.max_context is not None and total > self.max_context:
            raise InputError(f"The `ids` parameter of {func} would make {total} tokens (prefix included), "
                             f"more than the model's context of {self.max_context}. Split the text into "
                             "windows.")
        return arr

    def _state(self, state: Any, func: str) -> PortableState:
        if not isinstance(state, PortableState):
            raise InputError(f"The `state` parameter of {func} must be a PortableState from begin(). "
                             f"Got {type(state).__name__}.")
        return state

    # ------------------------------------------------------------------ integer interface
    def begin(self, batch_size: int = 1) -> PortableState:
        """`batch_size` contexts holding the prefix; ``state.freqs`` is the first token's row."""
        B = as_int(batch_size, "batch_size", f"{type(self).__name__}.begin", minimum=1)
        cache = self._begin_cache(B)
        pre = np.broadcast_to(np.asarray(self.prefix, dtype=np.int64), (B, len(self.prefix)))
        cache, F = self._advance(cache, np.ascontiguousarray(pre), 0,
                                 np.array([len(self.prefix) - 1]) if self.prefix else None)
        return PortableState(freqs=F[:, -1], length=len(self.prefix), cache=cache)

    def feed_freqs(self, state: PortableState, ids: np.ndarray, *, skip: int = 0
                   ) -> tuple[PortableState, np.ndarray]:
        """Append ids (B, T); return the new state and the int64 rows (B, T - skip, K) after each token
        but the first `skip` (0 <= skip < T; a restart needs only the last row: skip = T - 1).

        ``new_state.freqs == F[:, -1]``. The cache is updated in place: feed the new state only.
        """
        func = f"{type(self).__name__}.feed_freqs"
        state = self._state(state, func)
        arr = self._ids(ids, func, already=state.length)
        B, T = arr.shape
        if B != state.freqs.shape[0]:
            raise ModelMismatchError(f"The `ids` parameter of {func} has {B} rows but the state holds "
                                     f"{state.freqs.shape[0]}.")
        skip = as_int(skip, "skip", func, minimum=0, maximum=max(T - 1, 0))
        if T == 0:
            return state, np.zeros((B, 0, self.vocab_size), dtype=np.int64)
        cache, F = self._advance(state.cache, arr, state.length, np.arange(skip, T) if skip else None)
        return PortableState(freqs=F[:, -1], length=state.length + T, cache=cache), F

    def freq_table(self, ids: np.ndarray) -> np.ndarray:
        """Rows (B, T + 1, K) int64 of prefix + ids in one pass: position 0 is the first token's row.

        Bit-identical to ``begin`` followed by ``feed_freqs`` token by token.
        """
        func = f"{type(self).__name__}.freq_table"
        arr = self._ids(ids, func, already=len(self.prefix))
        B, T = arr.shape
        seq = np.concatenate([np.broadcast_to(np.asarray(self.prefix, dtype=np.int64),
                                              (B, len(self.prefix))), arr], axis=1)
        P = len(self.prefix)
        if P == 0:                                   # a model with a start state (n-gram)
            first = self.begin(B).freqs[:, None]
            if T == 0:
                return first
            _, F = self._advance(self._begin_cache(B), arr, 0, None)
            return np.concatenate([first, F], axis=1)
        _, F = self._advance(self._begin_cache(B), seq, 0, np.arange(P - 1, P + T))
        return F

    def freq_rows(self, ids: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cum_low, freq, total) of ``targets[:, t]`` under row t of ``freq_table(ids)``, in chunks.

        `targets` is (B, T + 1) or (B, T); the results have its shape (int64). ``cum_low`` is the sum
        of the frequencies of the ids below the target. This is what an encoder needs.
        """
        func = f"{type(self).__name__}.freq_rows"
        arr = self._ids(ids, func, already=len(self.prefix))
        tg = np.asarray(targets)
        B, T = arr.shape
        if tg.ndim != 2 or tg.shape[0] != B or tg.shape[1] not in (T, T + 1):
            raise ShapeError(f"The `targets` parameter of {func} must have shape ({B}, {T + 1}) or "
                             f"({B}, {T}). Got {tg.shape}.")
        if tg.size and (tg.dtype.kind not in "iu" or tg.min() < 0 or tg.max() >= self.vocab_size):
            raise InputError(f"The `targets` parameter of {func} must hold ids in "
                             f"0..{self.vocab_size - 1}.")
        tg = tg.astype(np.int64)
        n = tg.shape[1]
        F = self._rows_for(arr, n)                                  # iterator of (a, b, rows)
        cum = np.empty((B, n), dtype=np.int64)
        fr = np.empty((B, n), dtype=np.int64)
        tot = np.empty((B, n), dtype=np.int64)
        for a, b, rows in F:                                         # rows: exact integers
            t = tg[:, a:b, None]
            f = np.take_along_axis(rows, t, -1)[..., 0]
            below = np.where(np.arange(rows.shape[-1]) < t, rows, 0).sum(-1)
            fr[:, a:b] = f
            cum[:, a:b] = below
            tot[:, a:b] = rows.sum(-1)
        return cum, fr, tot

    def _rows_for(self, arr: np.ndarray, n: int):
        """Yield (a, b, rows (B, b - a, K)) covering the first n rows of ``freq_table(arr)``."""
        F = self.freq_table(arr)
        yield 0, n, F[:, :n]

    # ------------------------------------------------------------------ TokenModel
    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        """Append ids (B, T); return the new state and (B, T, K) log-probabilities (from the rows)."""
        state, F = self.feed_freqs(state, ids)
        return state, log_probs_of(F)

    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        """Log-probabilities (nats, float64) of the integer rows: (B, T + 1, K), or (B, T, K) without
        prefix (the rows after each token of `ids` fed from an empty context)."""
        if prefix:
            return log_probs_of(self.freq_table(ids))
        func = f"{type(self).__name__}.next_log_probs"
        arr = self._ids(ids, func, already=0)
        if arr.shape[1] == 0:
            raise InputError(f"The `ids` parameter of {func} must hold at least one token when "
                             "`prefix` is False.")
        _, F = self._advance(self._begin_cache(arr.shape[0]), arr, 0, None)
        return log_probs_of(F)

    def token_stats(self, ids: np.ndarray, *, n_context: int = 0, prefix: bool = True,
                    entropy: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Surprisal and entropy (nats) from the integer rows (see TokenModel.token_stats)."""
        func = f"{type(self).__name__}.token_stats"
        n_context = as_int(n_context, "n_context", func, minimum=0)
        if not prefix:
            return super().token_stats(ids, n_context=n_context, prefix=False, entropy=entropy)
        arr = self._ids(ids, func, already=len(self.prefix) - 1)
        B, T = arr.shape
        if T <= n_context:
            return np.zeros((B, 0)), (np.zeros((B, 0)) if entropy else None)
        sur = np.empty((B, T))
        ent = np.empty((B, T)) if entropy else None
        for a, b, rows in self._rows_for(arr[:, :-1], T):
            f = rows.astype(np.float64)
            tot = f.sum(-1)
            sur[:, a:b] = np.log(tot) - np.log(np.take_along_axis(f, arr[:, a:b, None], -1)[..., 0])
            if ent is not None:
                p = f / tot[..., None]
                ent[:, a:b] = -np.sum(p * np.log(p), axis=-1)
        return sur[:, n_context:], (None if ent is None else ent[:, n_context:])


class _KV:
    """Growing per-layer key/value buffers of B rows: float64 numpy arrays (the numpy path) or torch
    tensors (other devices) for :func:`.fixed.attention`, int32 numpy arrays for the fused kernels
    (the same integers in half the bytes: keys are clipped to 2^24, values to 2^27). A cache passes
    from one kind to the other (converted exactly). Capacity doubles, so appending one token is a
    slice copy."""

    def __init__(self):
        self.n = 0
        self.bufs = None
        self._of, self._room, self._ptr_of = None, -1, None      # the int32 buffers reserve() last made room in

    def append(self, parts):
        import torch
        T = parts[0].shape[2]
        if self.bufs is not None and isinstance(self.bufs[0], np.ndarray) and self.bufs[0].dtype == np.int32:
            self.bufs = [b.astype(np.float64) for b in self.bufs]                   # from the kernels (exact)
        if self.bufs is not None and isinstance(parts[0], np.ndarray) != isinstance(self.bufs[0], np.ndarray):
            # the CPU path switched between numpy and torch (small and large calls): shared memory
            self.bufs = [b.numpy() if isinstance(parts[0], np.ndarray) else torch.from_numpy(b) for b in self.bufs]
        if self.bufs is None or self.n + T > self.bufs[0].shape[2]:
            cap = max(2 * (self.n + T), 64)
            new = [np.empty((*p.shape[:2], cap, p.shape[3]), dtype=p.dtype) if isinstance(p, np.ndarray)
                   else torch.empty((*p.shape[:2], cap, p.shape[3]), dtype=p.dtype, device=p.device)
                   for p in parts]
            if self.bufs is not None:
                for nb, ob in zip(new, self.bufs):
                    nb[:, :, : self.n] = ob[:, :, : self.n]
            self.bufs = new
        for b, p in zip(self.bufs, parts):
            b[:, :, self.n: self.n + T] = p
        self.n += T
        return [b[:, :, : self.n] for b in self.bufs]

    def reserve(self, B: int, H: int, T: int, hs: int) -> list:
        """Room for T more positions as int32 numpy buffers (B, H, capacity, hs) (the fused kernels
        write positions n .. n + T - 1 and the caller advances ``n``)."""
        if self.bufs is self._of and self.n + T <= self._room:                    # decoding: room already made
            return self.bufs
        if self.bufs is not None and not (isinstance(self.bufs[0], np.ndarray) and self.bufs[0].dtype == np.int32):
            old, self.bufs = self.bufs, []
            for b in old:                                    # exact: integers in range (the filled part)
                b = b if isinstance(b, np.ndarray) else b.cpu().numpy()
                nb = np.empty(b.shape, dtype=np.int32)
                nb[:, :, : self.n] = b[:, :, : self.n]
                self.bufs.append(nb)
        if self.bufs is None or self.n + T > self.bufs[0].shape[2]:
            cap = max(2 * (self.n + T), 64)
            new = [np.empty((B, H, cap, hs), dtype=np.int32) for _ in range(2)]
            if self.bufs is not None:
                for nb, ob in zip(new, self.bufs):
                    nb[:, :, : self.n] = ob[:, :, : self.n]
            self.bufs = new
        if self._ptr_of is not self.bufs[0]:
            self._ptr_of, self.ptrs = self.bufs[0], (self.bufs[0].ctypes.data, self.bufs[1].ctypes.data)
        self._room, self._of = self.bufs[0].shape[2], self.bufs
        return self.bufs

    def truncate(self, n: int) -> None:
        """Forget every position from `n` on (speculative decoding rolls back rejected guesses)."""
        self.n = min(self.n, int(n))


class PortableTransformer(PortableModel):
    """What the integer GPT-2 and Llama share. Subclasses implement :meth:`_hidden` and set
    ``self.head`` (a QLinear giving logits at F bits), ``self.n_layers`` and ``self.device``.

    On the CPU every call runs :meth:`_hidden_fast` (the fused C kernels of :mod:`.fast`) when they are
    built; without them, calls of at most ``_NUMPY_TOKENS`` tokens run on numpy arrays (numpy's cost per
    operation on small arrays is about a third of torch's) and larger calls on torch tensors, as do
    other devices. The kernels of :mod:`.fixed` take numpy arrays or torch tensors; all three paths
    compute the same integers.
    """

    def _tables(self):
        if getattr(self, "_tabs", None) is None:
            self._tabs = Pair(exp_table().astype(np.float64), self.device)
        return self._tabs

    def _begin_cache(self, batch: int):
        return [_KV() for _ in range(self.n_layers)]

    def _hidden(self, ids, pos0: int, cache):
        """Final normalised hidden states (B, T, d) int64 at F bits of ids (B, T) after pos0 (numpy
        on the CPU, else torch on the model's device)."""
        raise NotImplementedError

    def _input(self, ids):
        """ids as the kind of array the kernels run on: numpy on the CPU for the fused kernels (any
        size: they are faster than torch here too) or, without them, for small calls (decoding); else
        torch on the model's device (numpy is slower on large arrays)."""
        import torch
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if str(self.device) == "cpu" and (ids.size <= _NUMPY_TOKENS or fast.library() is not None):
            return ids
        return torch.as_tensor(ids, device=self.device)

    def _freqs(self, h):
        """Rows (..., K) int64 numpy of hidden states h (..., d), every entry >= 1."""
        f = head_freqs(h, self.head, self._tables())
        return f.astype(np.int64) if isinstance(f, np.ndarray) else f.long().cpu().numpy()

    def _fast_consts(self) -> dict:
        """The kernels' constants of :meth:`_hidden_fast` (built on first use by :meth:`_fast_pack`)."""
        raise NotImplementedError

    @staticmethod
    def _fast_pack(layers: list, norm, attn, act, *, swiglu: bool, embed) -> dict:
        """The constants of :meth:`_hidden_fast`: per layer (norm1, qkv, o, norm2, up, down), the final
        norm, the attention, the activation table (in place, or SwiGLU of [gate | up]), the embedding,
        and the whole blocks where the kernels do the products (:func:`.fast.whole_blocks`)."""
        blocks = (fast.Blocks([fast.Block(n1, qkv, attn, o, n2, up, act, down, swiglu=swiglu)
                               for n1, qkv, o, n2, up, down in layers]) if fast.whole_blocks() else None)
        return {"layers": layers, "norm": norm, "attn": attn, "act": act, "swiglu": swiglu, "embed": embed,
                "blocks": blocks}

    def _hidden_fast(self, ids: np.ndarray, pos0: int, cache, skip: int = 0):
        """:meth:`_hidden` through the fused C kernels (:mod:`.fast`) for numpy ids: the same integers,
        as a buffer (B T, d) (valid until the next call). The rows of each sequence before `skip` are
        wanted for the cache only: they may be left unfinished."""
        B, T = ids.shape
        M, c = B * T, self._fast_consts()
        x = c["embed"](ids, pos0)                                                   # the residual stream
        if not fast.run_blocks(c["blocks"], x, B, T, cache, pos0, skip):            # else the parts one by one
            act = c["act"]
            for (norm1, qkv, o, norm2, up, down), kv in zip(c["layers"], cache):
                o(c["attn"](qkv(norm1(x, M), M), B, T, kv, pos0), M, add_to=x)
                u = up(norm2(x, M), M)
                down(act.swiglu(u, M) if c["swiglu"] else act.act(u), M, add_to=x)
        return c["norm"](x, M)

    def _fast_head(self):
        if getattr(self, "_fhead", None) is None:
            self._fhead = fast.Lin([self.head])
        return self._fhead

    def _advance(self, cache, ids, length, want):
        import torch
        x = self._input(ids)
        if isinstance(x, np.ndarray) and fast.library() is not None:
            B, T = x.shape
            # with the kernels' own products no torch runs; else torch._int_mm does
            with contextlib.nullcontext() if fast.whole_blocks() else torch.inference_mode():
                # rows before the first wanted one feed the cache only (want: a range to the end)
                skip = int(want[0]) if want is not None and np.array_equal(want, np.arange(want[0], T)) else 0
                h = self._hidden_fast(x, length, cache, skip)               # buffer (B T, d)
                if want is not None:
                    h = fast.rows(h.a.reshape(B, T, -1)[:, np.asarray(want)])
                F = fast.head(h, self._fast_head(), self._tables().np)
            return cache, F.reshape(B, -1, F.shape[-1])
        with torch.inference_mode():
            h = self._hidden(x, length, cache)                             # (B, T, d)
            if want is not None:
                h = h[:, np.asarray(want) if isinstance(h, np.ndarray) else torch.as_tensor(want, device=h.device)]
            outs = [self._freqs(h[:, a: a + _HEAD_CHUNK]) for a in range(0, h.shape[1], _HEAD_CHUNK)]
        return cache, np.concatenate(outs, axis=1)

    def _rows_for(self, arr: np.ndarray, n: int):
        import torch
        B, T = arr.shape
        P = len(self.prefix)
        seq = np.concatenate([np.broadcast_to(np.asarray(self.prefix, dtype=np.int64), (B, P)), arr], 1)
        x = self._input(seq)
        if isinstance(x, np.ndarray) and fast.library() is not None:
            with torch.inference_mode():
                h = self._hidden_fast(x, 0, self._begin_cache(B)).a.reshape(B, seq.shape[1], -1)
                for a in range(0, n, _HEAD_CHUNK):
                    rows = fast.rows(h[:, P - 1 + a: P - 1 + min(a + _HEAD_CHUNK, n)])
                    yield a, min(a + _HEAD_CHUNK, n), fast.head(rows, self._fast_head(), self._tables().np)
            return
        with torch.inference_mode():
            h = self._hidden(x, 0, self._begin_cache(B))[:, P - 1: P - 1 + n]
            for a in range(0, n, _HEAD_CHUNK):
                yield a, min(a + _HEAD_CHUNK, n), self._freqs(h[:, a: a + _HEAD_CHUNK])

    @property
    def max_total(self) -> int:                              # type: ignore[override]
        return (1 << FREQ_BITS) + self.vocab_size

    def _table_parts(self) -> list[bytes]:
        return [table_digest(exp_table()).encode()]
