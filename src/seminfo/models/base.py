"""The token-model contract: one interface for everything that assigns next-token probabilities.

A :class:`TokenModel` pairs a byte-exact :class:`Tokenizer` with a next-token distribution. It is used
in two ways:

* **parallel** (teacher forcing): :meth:`TokenModel.next_log_probs` scores whole sequences at once;
* **incremental**: :meth:`TokenModel.begin` opens a batch of empty contexts (the model's `prefix`
  already consumed) and :meth:`TokenModel.feed` appends tokens, returning the distributions after
  each one. KV caches and recurrent states live in the opaque :class:`ModelState`.

Conventions
-----------
* Log-probabilities are natural logarithms (nats) in numpy arrays of shape (..., K), K = `vocab_size`
  (which may exceed the tokenizer's vocabulary when an embedding matrix is padded).
* `prefix` is the tuple of token ids a model sees before the text (a BOS or end-of-text token);
  it is empty for models with a natural start state (finite-state sources, n-grams).
* The distribution of the first text token is ``begin(1).log_probs[0]``; the distribution after the
  tokens ``ids[:t+1]`` is ``next_log_probs(ids[None])[0, t + 1]``.
* Implementations must return identical numbers for identical call shapes: the entropy coder relies
  on the encoder and decoder seeing bit-identical probabilities when they make the same calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


class Tokenizer(ABC):
    """Byte-exact tokenizer: ``decode(encode(b)) == b`` for every byte string `b`."""

    #: Number of token ids the tokenizer can produce (ids are 0..vocab_size-1).
    vocab_size: int

    @abstractmethod
    def encode(self, data: bytes | str) -> list[int]:
        """Token ids of `data` (str is encoded as UTF-8 first). Any bytes, valid UTF-8 or not."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> bytes:
        """Bytes of a token-id sequence (exact inverse of :meth:`encode`)."""

    def token_bytes(self, token_id: int) -> bytes:
        """Bytes of one token (special tokens give their literal text)."""
        return self.decode([token_id])

    def token_str(self, token_id: int) -> str:
        """Printable form of one token, for tables and plots (invalid UTF-8 shown with escapes)."""
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    @abstractmethod
    def fingerprint(self) -> str:
        """Hex digest identifying the tokenizer's vocabulary and rules."""


@dataclass
class ModelState:
    """Incremental state of a batch of contexts.

    Attributes
    ----------
    log_probs : ndarray, shape (B, K)
        Next-token log-probabilities (nats) for each row, given everything fed so far.
    length : int
        Number of tokens each row holds, the prefix included.
    cache : Any
        Model-specific (KV cache, recurrent state, n-gram context); opaque to callers.
    """

    log_probs: np.ndarray
    length: int
    cache: Any = None


class LanguageModel(ABC):
    """What every model seminfo loads shares: a name, a byte-exact tokenizer and a fingerprint.

    Two families derive from it: :class:`TokenModel` (left to right: Transformers, Mamba, n-grams,
    finite-state sources) and :class:`seminfo.models.masked.MaskedModel` (masked diffusion). What
    a model can do beyond this is read by :func:`seminfo.models.capability.capabilities`.
    """

    #: Spec string that reloads the model through ``seminfo.models.load_model`` ("builtin:gpt", a path...).
    name: str
    tokenizer: Tokenizer
    #: Size of the distributions the model returns.
    vocab_size: int
    #: Token ids consumed before the text (BOS / end-of-text); () when the model has a start state.
    prefix: tuple[int, ...] = ()
    #: Longest sequence (prefix included) one forward pass may see; None when unbounded.
    max_context: int | None = None

    @abstractmethod
    def fingerprint(self) -> str:
        """Hex digest of the weights (or parameters) and the tokenizer."""

    def n_parameters(self) -> int | None:
        """Number of trained parameters (None when the notion does not apply)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, vocab_size={self.vocab_size})"


class TokenModel(LanguageModel):
    """Base class of every left-to-right token model. Subclasses implement the abstract methods."""

    @abstractmethod
    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        """Next-token log-probabilities for a batch of sequences (teacher forcing).

        Parameters
        ----------
        ids : ndarray of int, shape (B, T)
        prefix : bool
            If True, `prefix` is prepended and the result has T + 1 positions: position 0 is the
            distribution of the first token, position t that after ``ids[:, :t]``. If False the
            sequences are taken as they are and the result has T positions (after each token).

        Returns
        -------
        ndarray, shape (B, T + 1, K) or (B, T, K), natural-log probabilities.
        """

    @abstractmethod
    def begin(self, batch_size: int = 1) -> ModelState:
        """Open `batch_size` contexts holding only the prefix."""

    @abstractmethod
    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        """Append ``ids`` (shape (B, T)) to every row; return the new state and the (B, T, K)
        log-probabilities after each appended token. ``new_state.log_probs == out[:, -1]``."""

    def token_stats(self, ids: np.ndarray, *, n_context: int = 0, prefix: bool = True,
                    entropy: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Surprisal and predictive entropy (nats) of each scored token.

        Scores tokens ``ids[:, n_context:]``, each given everything before it in its row (and the
        prefix when `prefix` is True). Returns two float64 arrays of shape (B, T - n_context):
        ``-log p(x_t | x_<t)`` and ``H(p(. | x_<t))``. The last token is only a target, never an
        input, so one call feeds ``len(prefix) + T - 1`` tokens (``prefix=True``) or ``T - 1``
        (``prefix=False``) to the model: that is what must fit in `max_context`, as in
        lm-evaluation-harness's rolling windows. With ``entropy=False`` the second array is not
        computed and None is returned in its place (scoring bits per byte needs only surprisal).
        Subclasses may override with a faster on-device reduction; results must match this reference.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if not prefix and n_context < 1:
            from ..errors import InputError
            raise InputError("The `n_context` parameter of token_stats must be >= 1 when "
                             "`prefix` is False: the first token has no context to be scored from.")
        B, T = ids.shape
        if T <= n_context:
            return np.zeros((B, 0)), (np.zeros((B, 0)) if entropy else None)
        lp = np.asarray(self.next_log_probs(ids[:, :-1], prefix=prefix), dtype=np.float64)
        offset = 0 if prefix else -1     # index of the distribution that predicts ids[:, t]
        t_idx = np.arange(n_context, T)
        dist = lp[:, t_idx + offset, :]                                  # (B, T', K)
        surprisal = -np.take_along_axis(dist, ids[:, t_idx][..., None], -1)[..., 0]
        if not entropy:
            return surprisal, None
        p = np.exp(dist)
        return surprisal, -np.sum(np.where(p > 0, p * dist, 0.0), axis=-1)
