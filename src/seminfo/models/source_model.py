"""Finite-state sources as token models: exact next-symbol laws behind the TokenModel contract.

A :class:`SourceModel` wraps any source of :mod:`seminfo.sources` (iid, Markov-k, hidden Markov)
through its predictive interface (``start_state``, ``state_log_probs``, ``advance``,
``predictive_log_probs``), so that every model-based measure can be run on a model whose answers
are known exactly: on the source's own samples the mean surprisal converges to the entropy rate
(Shannon-McMillan-Breiman; Cover & Thomas 2006, Thm 16.8.1).

Symbols are tokens. :class:`SymbolTokenizer` maps symbol i to the single byte i when the alphabet
has at most 256 symbols; larger alphabets work with token ids only (bytes input raises
:class:`~seminfo.errors.AlphabetError`). Symbols of probability zero have log-probability -inf.

This module also holds :func:`check_ids`, the validation of (B, T) token-id batches shared by the
models of this package that are not Hugging Face models (n-grams, sources).

Leaves out: the feedback channel (two interleaved processes, not one token stream).

References
----------
1. T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from .._validate import as_int, as_token_ids
from ..errors import AlphabetError, InputError, ShapeError
from .base import ModelState, TokenModel, Tokenizer

__all__ = ["SourceModel", "SymbolTokenizer", "check_ids"]


def check_ids(ids: Any, vocab_size: int, func: str, param: str = "ids") -> np.ndarray:
    """Return a batch of token ids as a (B, T) int64 array with entries in 0..vocab_size-1.

    Raises ShapeError unless `ids` has two axes, InputError for non-integer entries and
    AlphabetError for ids outside the vocabulary.
    """
    return as_token_ids(ids, vocab_size, func, param=param, range_error=AlphabetError, integral_floats=True)


class SymbolTokenizer(Tokenizer):
    """Tokenizer of a K-symbol alphabet: symbol i is token i and, when K <= 256, the byte i.

    Parameters
    ----------
    vocab_size : int
        Number of symbols K >= 1.

    Examples
    --------
    >>> tok = SymbolTokenizer(3)
    >>> tok.encode(bytes([2, 0, 1]))
    [2, 0, 1]
    >>> tok.decode([1, 2])
    b'\\x01\\x02'
    """

    def __init__(self, vocab_size: int):
        self.vocab_size = as_int(vocab_size, "vocab_size", "SymbolTokenizer", minimum=1)

    def _bytes_ok(self, func: str) -> None:
        if self.vocab_size > 256:
            raise AlphabetError(f"{func} maps symbols to single bytes, which needs an alphabet of at "
                                f"most 256 symbols. Got {self.vocab_size} symbols; pass token ids "
                                "to the model instead of bytes.")

    def encode(self, data: bytes | str) -> list[int]:
        """Symbol ids of `data`: byte b is symbol b (str is encoded as UTF-8 first)."""
        func = "SymbolTokenizer.encode"
        self._bytes_ok(func)
        from .._validate import as_bytes
        raw = as_bytes(data, "data", func)
        ids = list(raw)
        if ids and max(ids) >= self.vocab_size:
            raise AlphabetError(f"The `data` parameter of {func} must hold bytes below "
                                f"{self.vocab_size} (the alphabet size). Got byte {max(ids)}.")
        return ids

    def decode(self, ids: Sequence[int]) -> bytes:
        """Bytes of a symbol sequence (symbol i is byte i)."""
        func = "SymbolTokenizer.decode"
        self._bytes_ok(func)
        arr = check_ids(np.asarray(list(ids), dtype=np.int64)[None], self.vocab_size, func)
        return bytes(arr[0].astype(np.uint8).tolist())

    def token_str(self, token_id: int) -> str:
        """Printable form: the byte (escaped if not printable UTF-8) when K <= 256, else the number."""
        if self.vocab_size > 256:
            return str(int(token_id))
        return super().token_str(token_id)

    def fingerprint(self) -> str:
        return hashlib.sha256(f"symbol-tokenizer:{self.vocab_size}".encode()).hexdigest()

    def __repr__(self) -> str:
        return f"SymbolTokenizer(vocab_size={self.vocab_size})"


class SourceModel(TokenModel):
    """A finite-state source used as a token model: p_M(x_t | x^{t-1}) = p_source(x_t | x^{t-1}).

    Parameters
    ----------
    source : TokenSource
        Any source with the predictive interface of :class:`seminfo.sources.base.TokenSource`.
    name : str, keyword-only
        Label shown in tables (a source cannot be reloaded from a spec string).

    Notes
    -----
    The model has a natural start state, so `prefix` is empty and ``begin(1).log_probs[0]`` is the
    law of the first symbol. Log-probabilities are natural logs, -inf for impossible symbols.

    Examples
    --------
    >>> from seminfo.sources import IIDSource
    >>> m = SourceModel(IIDSource([0.5, 0.25, 0.25]))
    >>> s, h = m.token_stats(np.array([[0, 1, 2]]))
    >>> np.round(s / np.log(2), 6).tolist()
    [[1.0, 2.0, 2.0]]
    """

    prefix: tuple[int, ...] = ()
    max_context = None

    def __init__(self, source: Any, *, name: str = ""):
        needed = ("start_state", "state_log_probs", "advance", "predictive_log_probs", "alphabet_size")
        missing = [m for m in needed if not hasattr(source, m)]
        if missing:
            raise InputError(f"The `source` parameter of SourceModel must be a token source with the "
                             f"predictive interface ({', '.join(needed)}). Got {type(source).__name__}, "
                             f"which lacks {', '.join(missing)}.")
        self.source = source
        self.vocab_size = int(source.alphabet_size)
        self.tokenizer = SymbolTokenizer(self.vocab_size)
        self.name = name or f"source:{source!r}"

    # ------------------------------------------------------------------ teacher forcing
    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        """Exact next-symbol log-probabilities, shape (B, T + 1, K) (or (B, T, K) if not `prefix`)."""
        ids = check_ids(ids, self.vocab_size, "SourceModel.next_log_probs")
        B, T = ids.shape
        out = np.empty((B, T + 1, self.vocab_size))
        for b in range(B):
            out[b] = self.source.predictive_log_probs(ids[b])
        return out if prefix else out[:, 1:]

    # ------------------------------------------------------------------ incremental
    def begin(self, batch_size: int = 1) -> ModelState:
        """`batch_size` copies of the source's start state."""
        B = as_int(batch_size, "batch_size", "SourceModel.begin", minimum=1)
        states = [self.source.start_state() for _ in range(B)]
        lp = np.stack([np.asarray(self.source.state_log_probs(s), dtype=np.float64) for s in states])
        return ModelState(log_probs=lp, length=0, cache=states)

    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        """Advance every row's source state through `ids` (B, T); return the (B, T, K) laws after each."""
        ids = check_ids(ids, self.vocab_size, "SourceModel.feed")
        B, T = ids.shape
        if B != len(state.cache):
            raise ShapeError(f"The `ids` parameter of SourceModel.feed must have one row per context "
                             f"of the state ({len(state.cache)}). Got {B} rows.")
        out = np.empty((B, T, self.vocab_size))
        new = []
        for b in range(B):
            s = state.cache[b]
            for t in range(T):
                s = self.source.advance(s, int(ids[b, t]))
                out[b, t] = self.source.state_log_probs(s)
            new.append(s)
        lp = out[:, -1].copy() if T else state.log_probs.copy()
        return ModelState(log_probs=lp, length=state.length + T, cache=new), out

    def token_stats(self, ids: np.ndarray, *, n_context: int = 0, prefix: bool = True,
                    entropy: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Surprisal and entropy (nats) as in the base class; impossible symbols (-inf) add 0 to the entropy."""
        with np.errstate(invalid="ignore"):       # 0 * -inf inside the masked entropy sum
            return super().token_stats(ids, n_context=n_context, prefix=prefix, entropy=entropy)

    def fingerprint(self) -> str:
        """Digest of the source's parameters (its numpy arrays) and type."""
        h = hashlib.sha256(type(self.source).__name__.encode())
        for key in sorted(vars(self.source)):
            v = vars(self.source)[key]
            if isinstance(v, np.ndarray):
                h.update(key.encode())
                h.update(np.ascontiguousarray(v, dtype=np.float64).tobytes())
            elif isinstance(v, (int, float, str)):
                h.update(f"{key}={v!r}".encode())
        return h.hexdigest()
