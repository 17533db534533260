"""Interpolated modified Kneser-Ney n-gram token models, sparse and vectorised.

:class:`KneserNeyModel` is a :class:`~seminfo.models.base.TokenModel` of any order N over any
vocabulary of K tokens. With h a context of k-1 tokens and h' the context without its first token,

    p_k(w | h) = max(c_k(hw) - D_k(c_k(hw)), 0) / c_k(h.) + gamma_k(h) p_{k-1}(w | h'),
    gamma_k(h) = (D_k1 N_1(h.) + D_k2 N_2(h.) + D_k3+ N_3+(h.)) / c_k(h.),
    p_0(w) = 1 / K,

where c_k(h.) = sum_w c_k(hw) and N_i(h.) counts the words that follow h exactly i times (N_3+: three
or more). The top order uses raw counts; lower orders use continuation counts, the number of distinct
tokens seen just before the k-gram (Kneser & Ney 1995), plus its raw count at the start of a
sequence, where no token precedes it (the rule of KenLM, Heafield 2011). A context that was never
seen is skipped (gamma = 1). The three discounts of each order come from its count-of-counts n_1..n_4
(Chen & Goodman 1998, eq. 26): Y = n_1/(n_1 + 2 n_2), D_1 = 1 - 2Y n_2/n_1, D_2 = 2 - 3Y n_3/n_2,
D_3+ = 3 - 4Y n_4/n_3; an estimate that is undefined or outside (0, i] (tiny corpora) is replaced by
Y, or 0.5 when Y itself is undefined, and the replacement is listed in ``discounts``. Every
distribution sums to 1 for every context, seen or not, and every token has positive probability.

Storage is sparse: contexts of length j get integer ids through sorted keys
``id(a_1..a_j) = rank of id(a_2..a_j) * K + a_1`` (so the suffixes of a context are found by j binary
searches), and the k-grams of order k are the sorted keys ``id(h) * K + w``, which groups them by
context like a CSR matrix. Training is a handful of ``np.unique`` calls per order (1M tokens at order
4 in a few seconds). Models are saved as an ``.npz`` (``allow_pickle=False``) with JSON metadata;
nothing is pickled.

:func:`builtin_ngram` returns ``builtin:ngram``: the model of order :data:`BUILTIN_ORDER` trained on
the embedded corpus's training split with the builtin GPT's tokenizer, built on first use (about
10 s) and cached under ``$SEMINFO_CACHE`` or ``~/.cache/seminfo``. See docs/ngram.md.

Leaves out: pruning, count cut-offs, and the "modified" lower-order discount re-estimation of
some toolkits (each order's discounts come from its own counts).

References
----------
1. R. Kneser and H. Ney, "Improved backing-off for m-gram language modeling", ICASSP 1995.
2. S. F. Chen and J. Goodman, "An empirical study of smoothing techniques for language modeling",
   Harvard TR-10-98, 1998.
3. K. Heafield, "KenLM: faster and smaller language model queries", WMT 2011.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import warnings
import zipfile
from typing import Any, Sequence

import numpy as np

from .._validate import as_int
from ..errors import InputError, ModelMismatchError, ShapeError
from .base import ModelState, TokenModel, Tokenizer
from .source_model import SymbolTokenizer, check_ids

__all__ = ["KneserNeyModel", "builtin_ngram", "BUILTIN_ORDER"]

#: Order of ``builtin:ngram``: the best of orders 2..6 on the validation split (docs/ngram.md).
BUILTIN_ORDER = 6
#: Version of the saved format (bump when the arrays change meaning).
FORMAT_VERSION = 1
#: Positions whose full distributions are held in memory at once (rows of K float64).
_CHUNK = 1024
_MAX_KEY = 2 ** 62


def _as_sequences(sequences: Any, vocab_size: int, func: str) -> list[np.ndarray]:
    """Training data as a list of int64 arrays of ids in 0..vocab_size-1."""
    if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
        sequences = [sequences]
    elif isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        sequences = list(sequences)
    elif isinstance(sequences, (bytes, str)) or not hasattr(sequences, "__iter__"):
        raise InputError(f"The `sequences` parameter of {func} must be a list of token-id sequences "
                         f"(or one 1-D array). Got {type(sequences).__name__}.")
    out = []
    for i, s in enumerate(sequences):
        arr = np.asarray(s)
        if arr.ndim != 1:
            raise ShapeError(f"The `sequences` parameter of {func} must hold 1-D sequences. Sequence "
                             f"{i} has shape {arr.shape}.")
        out.append(check_ids(arr[None], vocab_size, func, "sequences")[0])
    return out


def _discounts(counts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Chen & Goodman's three discounts from the count-of-counts, with documented fallbacks."""
    n = [int(np.sum(counts == i)) for i in (1, 2, 3, 4)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] > 0 else float("nan")
    fallback = y if 0 < y <= 1 else 0.5
    d, notes = np.empty(3), []
    for i in range(3):
        num, den = n[i + 1], n[i]
        est = (i + 1) - (i + 2) * y * num / den if den > 0 and np.isfinite(y) else float("nan")
        if np.isfinite(est) and 0 < est <= i + 1:
            d[i] = est
        else:
            d[i] = fallback
            notes.append(f"D{i + 1}")
    return d, notes


class _Level:
    """The k-grams of one order k: CSR rows over contexts of length k-1, precomputed terms."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, n_ctx: int, K: int):
        self.keys, self.counts = keys, counts                      # (E,) sorted keys, adjusted counts
        self.ctx = keys // K                                        # (E,) context id
        self.w = keys % K                                           # (E,) predicted token
        self.indptr = np.searchsorted(self.ctx, np.arange(n_ctx + 1))
        total = np.bincount(self.ctx, weights=counts, minlength=n_ctx)       # c(h.)
        self.discounts, self.fallbacks = _discounts(counts)
        d = self.discounts[np.minimum(counts, 3) - 1]
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        self.val = (counts - d) / safe[self.ctx]                    # (E,) discounted mass
        mass = np.bincount(self.ctx, weights=d, minlength=n_ctx)    # D1 N1 + D2 N2 + D3 N3+
        self.gamma = np.where(seen, mass / safe, 1.0)               # (n_ctx,) back-off weight


def interpolate(p1: np.ndarray, levels: Sequence[Any], cids: list[np.ndarray] | None, order: int,
                n_rows: int) -> np.ndarray:
    """(M, K) float64 interpolated Kneser-Ney probabilities from the unigram row `p1` and, for each order
    k >= 2, ``levels[k]`` (arrays ``gamma``, ``indptr``, ``w``, ``val``) at the context ids ``cids[k - 1]``
    (-1: unseen). Only elementwise products and sums of one term into each (row, token) cell: the
    result does not depend on the order of any reduction (the portable n-gram relies on it)."""
    p = np.empty((n_rows, p1.size))
    p[:] = p1
    if order == 1 or n_rows == 0:
        return p
    for k in range(2, order + 1):
        lvl, cid = levels[k], cids[k - 1]
        rows = np.flatnonzero(cid >= 0)
        if rows.size == 0:
            break                                   # longer contexts are unseen as well
        c = cid[rows]
        p[rows] *= lvl.gamma[c][:, None]
        starts = lvl.indptr[c]
        lens = lvl.indptr[c + 1] - starts
        total = int(lens.sum())
        if total == 0:
            continue
        ends = np.cumsum(lens)
        ent = np.arange(total) - np.repeat(ends - lens, lens) + np.repeat(starts, lens)
        p[np.repeat(rows, lens), lvl.w[ent]] += lvl.val[ent]   # (row, w) pairs are unique
    return p


class KneserNeyModel(TokenModel):
    """Interpolated modified Kneser-Ney model p(w | last N-1 tokens) (module docstring for the formula).

    Build one with :meth:`fit` or :meth:`load`; the constructor is internal.

    Attributes
    ----------
    order : int
        N; the state holds the last N-1 tokens.
    vocab_size : int
        K; distributions have K entries, all positive.
    prefix : tuple of int
        Ids consumed before every sequence (in training and scoring).
    discounts : dict
        ``{k: (D1, D2, D3+)}`` per order k, and ``"fallbacks"``: the discounts that were replaced.
    n_train_tokens : int
        Number of predicted tokens seen in training.
    """

    max_context = None

    def __init__(self, *, order: int, vocab_size: int, prefix: tuple[int, ...], ctx_keys: list,
                 levels: list, tokenizer: Tokenizer | None, name: str, n_train_tokens: int):
        self.order, self.vocab_size, self.prefix = order, vocab_size, tuple(int(i) for i in prefix)
        self.tokenizer = tokenizer if tokenizer is not None else SymbolTokenizer(vocab_size)
        self.name = name or f"ngram:{order}"
        self.n_train_tokens = int(n_train_tokens)
        self._ctx_keys = ctx_keys                                   # [None, keys_1, ..., keys_{N-1}]
        self._levels = levels                                       # [None, level_1, ..., level_N]
        lvl1 = levels[1]                                            # order 1 is dense: (K,)
        p1 = np.full(vocab_size, lvl1.gamma[0] / vocab_size)
        p1[lvl1.w] += lvl1.val
        self._p1 = p1
        self.discounts = {k: tuple(float(v) for v in levels[k].discounts) for k in range(1, order + 1)}
        self.discounts["fallbacks"] = {k: levels[k].fallbacks for k in range(1, order + 1)
                                       if levels[k].fallbacks}
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(cls, sequences: Any, *, order: int, vocab_size: int, tokenizer: Tokenizer | None = None,
            prefix: Sequence[int] = (), name: str = "") -> "KneserNeyModel":
        """Count the n-grams of `sequences` and return the interpolated modified KN model.

        Parameters
        ----------
        sequences : list of array_like of int, or one 1-D array
            Token-id sequences (documents), each in 0..vocab_size-1; n-grams do not cross them.
        order : int, keyword-only
            N >= 1 (1 is a smoothed unigram).
        vocab_size : int, keyword-only
            K >= 1, the size of every distribution.
        tokenizer : Tokenizer, keyword-only, optional
            Tokenizer that produced the ids (its vocab_size must not exceed K); default a
            :class:`SymbolTokenizer` (token i is byte i when K <= 256).
        prefix : sequence of int, keyword-only
            Ids placed before every sequence, in training and when scoring (e.g. an end-of-text id).
        name : str, keyword-only
            Spec or label of the model.

        Returns
        -------
        KneserNeyModel

        Examples
        --------
        >>> m = KneserNeyModel.fit([[0, 1, 0, 1, 0, 1]], order=2, vocab_size=3)
        >>> p = np.exp(m.begin(1).log_probs[0])
        >>> bool(abs(p.sum() - 1) < 1e-12 and p.min() > 0)
        True
        """
        func = "KneserNeyModel.fit"
        N = as_int(order, "order", func, minimum=1)
        K = as_int(vocab_size, "vocab_size", func, minimum=1)
        if tokenizer is not None and getattr(tokenizer, "vocab_size", K) > K:
            raise ModelMismatchError(f"The `tokenizer` parameter of {func} produces ids up to "
                                     f"{tokenizer.vocab_size - 1}, beyond `vocab_size` = {K}. Pass "
                                     f"vocab_size >= {tokenizer.vocab_size}.")
        pre = check_ids(np.asarray(list(prefix), dtype=np.int64)[None], K, func, "prefix")[0]
        seqs = _as_sequences(sequences, K, func)
        ctx_keys, levels, n_pred = _train(seqs, pre, N, K)
        return cls(order=N, vocab_size=K, prefix=tuple(pre.tolist()), ctx_keys=ctx_keys, levels=levels,
                   tokenizer=tokenizer, name=name, n_train_tokens=n_pred)

    # ------------------------------------------------------------------ core
    def _context_ids(self, ctx: np.ndarray) -> list[np.ndarray]:
        """Ids of the suffixes of each context row: list over j = 0..N-1 of (M,) ids, -1 if unseen.

        `ctx` is (M, N-1), oldest token first, left-padded with -1 where the history is shorter.
        """
        M, L, K = ctx.shape[0], self.order - 1, self.vocab_size
        cur = np.zeros(M, dtype=np.int64)
        out = [cur]
        for j in range(1, L + 1):
            tok = ctx[:, L - j]
            keys = self._ctx_keys[j]
            ok = (cur >= 0) & (tok >= 0)
            key = np.where(ok, cur * K + tok, 0)
            pos = np.searchsorted(keys, key)
            pos_c = np.minimum(pos, max(keys.size - 1, 0))
            found = ok & (pos < keys.size) & (keys[pos_c] == key) if keys.size else np.zeros(M, bool)
            cur = np.where(found, pos_c, -1)
            out.append(cur)
        return out

    def _probs(self, ctx: np.ndarray) -> np.ndarray:
        """(M, K) float64 next-token probabilities for (M, N-1) contexts (see _context_ids)."""
        cids = self._context_ids(ctx) if self.order > 1 and ctx.shape[0] else None
        return interpolate(self._p1, self._levels, cids, self.order, ctx.shape[0])

    def _log_probs(self, ctx: np.ndarray) -> np.ndarray:
        out = np.empty((ctx.shape[0], self.vocab_size))
        for a in range(0, ctx.shape[0], _CHUNK):
            out[a:a + _CHUNK] = np.log(self._probs(ctx[a:a + _CHUNK]))
        return out

    def _windows(self, seq: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Contexts after ``seq[:, :e]`` for each e in `ends`: (B, len(ends), N-1), -1 padded."""
        B, L = seq.shape[0], self.order - 1
        padded = np.concatenate([np.full((B, L), -1, dtype=np.int64), seq], axis=1)
        idx = ends[:, None] + np.arange(L)[None, :]                # padded[e : e + L]
        return padded[:, idx]

    def _prefixed(self, ids: np.ndarray) -> np.ndarray:
        pre = np.broadcast_to(np.asarray(self.prefix, dtype=np.int64), (ids.shape[0], len(self.prefix)))
        return np.concatenate([pre, ids], axis=1)

    # ------------------------------------------------------------------ TokenModel
    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        """Log p(. | last N-1 tokens) after every position: (B, T + 1, K), or (B, T, K) without prefix."""
        ids = check_ids(ids, self.vocab_size, "KneserNeyModel.next_log_probs")
        B, T = ids.shape
        if prefix:
            seq, ends = self._prefixed(ids), len(self.prefix) + np.arange(T + 1)
        else:
            seq, ends = ids, np.arange(1, T + 1)
        ctx = self._windows(seq, ends)                                   # (B, T', N-1)
        flat = ctx.reshape(B * ends.size, self.order - 1)
        return self._log_probs(flat).reshape(B, ends.size, self.vocab_size)

    def token_stats(self, ids: np.ndarray, *, n_context: int = 0, prefix: bool = True,
                    entropy: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Surprisal and entropy (nats) of ``ids[:, n_context:]``, in chunks of positions (low memory)."""
        func = "KneserNeyModel.token_stats"
        ids = check_ids(ids, self.vocab_size, func)
        n_context = as_int(n_context, "n_context", func, minimum=0)
        if not prefix and n_context < 1:
            raise InputError("The `n_context` parameter of token_stats must be >= 1 when "
                             "`prefix` is False: the first token has no context to be scored from.")
        B, T = ids.shape
        t_idx = np.arange(n_context, T)
        if prefix:
            seq, ends = self._prefixed(ids), len(self.prefix) + t_idx
        else:
            seq, ends = ids, t_idx
        ctx = self._windows(seq, ends).reshape(B * t_idx.size, self.order - 1)   # (B * T', N-1)
        target = ids[:, t_idx].reshape(-1)
        surprisal = np.empty(target.size)
        ent = np.empty(target.size) if entropy else None
        for a in range(0, target.size, _CHUNK):
            p = self._probs(ctx[a:a + _CHUNK])
            lp = np.log(p)
            surprisal[a:a + _CHUNK] = -lp[np.arange(p.shape[0]), target[a:a + _CHUNK]]
            if ent is not None:
                ent[a:a + _CHUNK] = -np.sum(p * lp, axis=1)
        return surprisal.reshape(B, t_idx.size), (None if ent is None else ent.reshape(B, t_idx.size))

    def begin(self, batch_size: int = 1) -> ModelState:
        """`batch_size` contexts holding the prefix; the cache is the (B, N-1) last tokens (-1 padded)."""
        B = as_int(batch_size, "batch_size", "KneserNeyModel.begin", minimum=1)
        seq = self._prefixed(np.zeros((B, 0), dtype=np.int64))
        ctx = self._windows(seq, np.array([seq.shape[1]]))[:, 0]        # (B, N-1)
        return ModelState(log_probs=self._log_probs(ctx), length=len(self.prefix), cache=ctx)

    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        """Append ids (B, T); return the new state and the (B, T, K) log-probabilities after each."""
        func = "KneserNeyModel.feed"
        ids = check_ids(ids, self.vocab_size, func)
        B, T = ids.shape
        cache = np.asarray(state.cache)
        if cache.ndim != 2 or cache.shape[0] != B or cache.shape[1] != self.order - 1:
            raise ShapeError(f"The `ids` parameter of {func} must have one row per context of the state "
                             f"({cache.shape[0] if cache.ndim == 2 else '?'}). Got {B} rows.")
        L = self.order - 1
        seq = np.concatenate([cache, ids], axis=1)                       # (B, L + T), -1 = no token
        idx = np.arange(1, T + 1)[:, None] + np.arange(L)[None, :]       # contexts after each new id
        ctx = seq[:, idx]                                                # (B, T, L)
        out = self._log_probs(ctx.reshape(B * T, L)).reshape(B, T, self.vocab_size)
        new_cache = seq[:, seq.shape[1] - L:] if L else seq[:, :0]
        lp = out[:, -1].copy() if T else state.log_probs.copy()
        return ModelState(log_probs=lp, length=state.length + T, cache=new_cache), out

    def fingerprint(self) -> str:
        """SHA-256 of the order, vocabulary, prefix, all count arrays and the tokenizer's fingerprint."""
        if self._fingerprint is None:
            h = hashlib.sha256(json.dumps({"order": self.order, "vocab_size": self.vocab_size,
                                           "prefix": list(self.prefix)}).encode())
            for arr in self._arrays().values():
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update(self.tokenizer.fingerprint().encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return (f"KneserNeyModel(name={self.name!r}, order={self.order}, vocab_size={self.vocab_size}, "
                f"n_train_tokens={self.n_train_tokens})")

    # ------------------------------------------------------------------ persistence
    def _arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for j in range(1, self.order):
            out[f"ctx_keys_{j}"] = self._ctx_keys[j]
        for k in range(1, self.order + 1):
            out[f"keys_{k}"] = self._levels[k].keys
            out[f"counts_{k}"] = self._levels[k].counts
        return out

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write ``ngram.npz`` (the counts) and ``ngram.json`` (metadata) into directory `path`."""
        d = pathlib.Path(path)
        d.mkdir(parents=True, exist_ok=True)
        np.savez(d / "ngram.npz", **self._arrays())
        tok = self.tokenizer
        meta = {"format": "seminfo-kneser-ney", "version": FORMAT_VERSION, "order": self.order,
                "vocab_size": self.vocab_size, "prefix": list(self.prefix), "name": self.name,
                "n_train_tokens": self.n_train_tokens,
                "discounts": {str(k): v for k, v in self.discounts.items() if k != "fallbacks"},
                "tokenizer": {"kind": "symbol" if isinstance(tok, SymbolTokenizer) else "external",
                              "vocab_size": int(tok.vocab_size), "fingerprint": tok.fingerprint()},
                "fingerprint": self.fingerprint()}
        (d / "ngram.json").write_text(json.dumps(meta, indent=1))
        return d

    @classmethod
    def load(cls, path: str | os.PathLike, *, tokenizer: Tokenizer | None = None) -> "KneserNeyModel":
        """Read a model written by :meth:`save` (no pickle). An external tokenizer must be passed
        and must have the fingerprint recorded at save time."""
        func = "KneserNeyModel.load"
        d = pathlib.Path(path)
        try:
            meta = json.loads((d / "ngram.json").read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"The `path` parameter of {func} must be a directory written by "
                             f"KneserNeyModel.save. Could not read {d / 'ngram.json'} ({exc}).") from None
        if not isinstance(meta, dict) or meta.get("format") != "seminfo-kneser-ney" \
                or meta.get("version") != FORMAT_VERSION:
            got = meta if not isinstance(meta, dict) else meta.get("format")
            raise InputError(f"The `path` parameter of {func} holds format {got!r} version "
                             f"{meta.get('version') if isinstance(meta, dict) else None!r}; expected "
                             f"'seminfo-kneser-ney' version {FORMAT_VERSION}. Rebuild the model.")
        try:
            N, K = int(meta["order"]), int(meta["vocab_size"])
            tmeta = meta["tokenizer"]
            str(tmeta["kind"]), str(tmeta["fingerprint"]), int(tmeta["vocab_size"])
            tuple(int(i) for i in meta["prefix"]), int(meta["n_train_tokens"]), str(meta["fingerprint"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"The `path` parameter of {func} holds a damaged {d / 'ngram.json'} (field "
                             f"{exc} is missing or invalid). Rebuild the model.") from None
        if tmeta["kind"] == "symbol" and tokenizer is None:
            tokenizer = SymbolTokenizer(int(tmeta["vocab_size"]))
        elif tokenizer is None:
            raise InputError(f"The `tokenizer` parameter of {func} is required: the model at {d} was "
                             f"trained with an external tokenizer (fingerprint {tmeta['fingerprint'][:12]}).")
        if tokenizer.fingerprint() != tmeta["fingerprint"]:
            raise ModelMismatchError(f"The `tokenizer` parameter of {func} does not belong to the model at "
                                     f"{d}: fingerprint {tokenizer.fingerprint()[:12]}, expected "
                                     f"{tmeta['fingerprint'][:12]}.")
        try:
            with np.load(d / "ngram.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"The `path` parameter of {func} holds a damaged {d / 'ngram.npz'} "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                             "Rebuild the model.") from None
        try:
            ctx_keys = [None] + [arrays[f"ctx_keys_{j}"].astype(np.int64) for j in range(1, N)]
            levels = [None]
            for k in range(1, N + 1):
                n_ctx = 1 if k == 1 else ctx_keys[k - 1].size
                levels.append(_Level(arrays[f"keys_{k}"].astype(np.int64),
                                     arrays[f"counts_{k}"].astype(np.int64), n_ctx, K))
        except KeyError as exc:
            raise InputError(f"The `path` parameter of {func} holds an incomplete model: array {exc} is "
                             "missing. Rebuild the model.") from None
        model = cls(order=N, vocab_size=K, prefix=tuple(meta["prefix"]), ctx_keys=ctx_keys, levels=levels,
                    tokenizer=tokenizer, name=meta.get("name", ""), n_train_tokens=meta["n_train_tokens"])
        if model.fingerprint() != meta["fingerprint"]:
            raise ModelMismatchError(f"The model at {d} does not match its recorded fingerprint; the files "
                                     "are damaged. Rebuild the model.")
        return model


def _train(seqs: list[np.ndarray], prefix: np.ndarray, N: int, K: int):
    """Context tables and per-order (keys, adjusted counts) of the concatenated, prefixed sequences."""
    P = prefix.size
    parts = [np.concatenate([prefix, s]) for s in seqs]
    lens = np.array([p.size for p in parts], dtype=np.int64)
    x = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)          # (n,)
    n = x.size
    pos = np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)               # position in its sequence
    # context ids: ctx[j][t] = id of x[t-j+1..t], -1 where the sequence is shorter than j
    ctx = [np.zeros(n, dtype=np.int64)]
    ctx_keys: list = [None]
    for j in range(1, N):
        t = np.flatnonzero(pos >= j - 1)
        n_prev = 1 if j == 1 else ctx_keys[j - 1].size
        if n_prev * K >= _MAX_KEY:
            raise InputError(f"The `order` parameter of KneserNeyModel.fit is too large for this corpus "
                             f"and vocabulary: context keys would overflow 64 bits ({n_prev} x {K}).")
        keys = ctx[j - 1][t] * K + x[t - j + 1]
        uniq = np.unique(keys)
        c = np.full(n, -1, dtype=np.int64)
        c[t] = np.searchsorted(uniq, keys)
        ctx.append(c)
        ctx_keys.append(uniq)
    levels: list = [None]
    predicted = pos >= P
    n_pred = int(predicted.sum())
    for k in range(1, N + 1):
        t = np.flatnonzero(predicted & (pos >= k - 1))
        keys = x[t] if k == 1 else ctx[k - 1][t - 1] * K + x[t]
        if k == N:
            uniq, counts = np.unique(keys, return_counts=True)
        else:
            uniq, gidx = np.unique(keys, return_inverse=True)
            has_left = pos[t] >= k
            left = x[t[has_left] - k]
            pairs = np.unique(gidx[has_left] * K + left)
            counts = np.bincount(pairs // K, minlength=uniq.size)               # distinct left tokens
            counts += np.bincount(gidx[~has_left], minlength=uniq.size)        # raw count at a start
        n_ctx = 1 if k == 1 else ctx_keys[k - 1].size
        levels.append(_Level(uniq.astype(np.int64), counts.astype(np.int64), n_ctx, K))
    return ctx_keys, levels, n_pred


# ---------------------------------------------------------------------- the built-in model
def _builtin_tokenizer() -> Tokenizer:
    """The builtin GPT's byte-exact tokenizer (the tokenizer.json shipped with ``builtin:gpt``)."""
    from .builtin import builtin_gpt_path
    from .tokenizer import load_tokenizer
    return load_tokenizer(builtin_gpt_path())


def builtin_ngram(*, order: int = BUILTIN_ORDER) -> KneserNeyModel:
    """The built-in n-gram model ``builtin:ngram``: modified KN of order `order` on the training split.

    Trained on ``corpus_path("train")`` tokenised with the builtin GPT's tokenizer (4,096 tokens),
    as one sequence after the prefix ``(0,)`` (``<|endoftext|>``, as for ``builtin:gpt``). The model
    is built on first use and cached under ``$SEMINFO_CACHE`` (default ``~/.cache/seminfo``) in a
    folder named after a digest of the corpus, the tokenizer, the order and the format version.

    Parameters
    ----------
    order : int, keyword-only
        N; default :data:`BUILTIN_ORDER`, the best order on the validation split.

    Returns
    -------
    KneserNeyModel
    """
    N = as_int(order, "order", "builtin_ngram", minimum=1, maximum=8)
    from .builtin import cache_dir, corpus_path
    tok = _builtin_tokenizer()
    train = corpus_path("train").read_bytes()
    digest = hashlib.sha256(train + tok.fingerprint().encode()
                            + f"|{N}|{FORMAT_VERSION}".encode()).hexdigest()[:16]
    name = "builtin:ngram" if N == BUILTIN_ORDER else f"builtin:ngram:{N}"
    folder = cache_dir() / f"ngram-{digest}"
    from .cache import clean_stale
    clean_stale(folder.parent, ".ngram-")           # temporary folders of killed builds
    if folder.is_dir():
        model, why = _load_cached(folder, tok)
        if model is not None:
            model.name = name
            return model
        warnings.warn(f"The cached n-gram model {str(folder)!r} is damaged ({why}); it is rebuilt.",
                      RuntimeWarning, stacklevel=2)
    ids = np.asarray(tok.encode(train), dtype=np.int64)
    model = KneserNeyModel.fit([ids], order=N, vocab_size=tok.vocab_size, tokenizer=tok, prefix=(0,),
                               name=name)
    from .cache import install, new_temp_dir, write_manifest
    tmp = None
    try:                                           # write atomically; a read-only home is not an error
        tmp = new_temp_dir(folder.parent, ".ngram-")
        model.save(tmp)
        write_manifest(tmp, kind="ngram", order=N)
        install(tmp, folder, ".ngram-")
    except OSError:
        pass
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return model


def _load_cached(folder: pathlib.Path, tok: Tokenizer) -> tuple[KneserNeyModel | None, str]:
    """The cached model of `folder` when its files match their manifest (or, for a folder written
    before manifests, when it loads and matches its fingerprint); else (None, why)."""
    from .cache import verify, write_manifest
    why = verify(folder)
    if why is not None and why != "no manifest":
        return None, why
    try:
        model = KneserNeyModel.load(folder, tokenizer=tok)
    except (InputError, OSError) as exc:
        return None, str(exc)
    if why == "no manifest":                       # written by an older seminfo, and it loads: adopt it
        try:
            write_manifest(folder, kind="ngram", order=model.order)
        except OSError:
            pass
    return model, ""
