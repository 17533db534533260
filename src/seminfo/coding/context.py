"""The model side of the coder: one sequence of contexts shared by encoder and decoder.

Scope
-----
:class:`ContextDriver` owns a batch of incremental contexts (``TokenModel.begin`` / ``feed``, or
``feed_freqs`` for a portable model) and is how the decoder, and the encoder of the float path,
obtain distributions. On the float path both sides run the same code with the same batch size, so
the model sees the same calls with the same shapes in the same order and returns bit-identical
numbers (the contract of :mod:`seminfo.models.base`). The encoder of the float path never uses the
parallel ``next_log_probs`` path: its numbers may differ in the last bits from ``feed``.

A portable model (:mod:`seminfo.models.portable`) computes integer frequencies that do not depend
on how the calls are cut; the encoder then feeds whole chunks at once (:func:`segments` gives the
contexts the decoder will see) while the decoder goes token by token.

Contexts longer than the window
-------------------------------
A model can see at most ``window`` tokens (prefix included; ``TokenModel.max_context`` by default).
When the next token would not fit, the driver restarts every row: it opens fresh contexts and feeds
the last ``keep`` tokens in one call, then goes on token by token. The cost in bits is that the
tokens after a restart are predicted from ``keep`` tokens of history instead of ``window``; the
compute cost is one ``keep``-token forward pass per ``window - len(prefix) - keep`` tokens coded.
The schedule depends only on the step, never on the row, so every row of a batch restarts together.

Leaves out: KV-cache eviction schemes (StreamingLLM-style sinks); a restart is exact and simple.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """Tokens ``first..last`` (inclusive) predicted from one opened context.

    The context is opened, ``tokens[history:first]`` are fed in one call (none for the first
    segment), and token t in ``first..last`` is predicted after ``tokens[history:t]``.
    """

    history: int
    first: int
    last: int


def segments(n: int, n_prefix: int, window: int | None, keep: int) -> list[Segment]:
    """The contexts :class:`ContextDriver` uses for a row of `n` tokens (restarts included).

    Segment 0 predicts tokens ``0..window - n_prefix``; each restart feeds the last `keep` tokens
    and predicts ``window - n_prefix - keep + 1`` more. ``window`` None: one segment.
    """
    if n <= 0:
        return []
    if window is None:
        return [Segment(0, 0, n - 1)]
    out = [Segment(0, 0, min(n - 1, window - n_prefix))]
    while out[-1].last + 1 < n:
        first = out[-1].last + 1
        out.append(Segment(first - keep, first, min(n - 1, first + window - n_prefix - keep)))
    return out


def takes_skip(model) -> bool:
    """Whether ``model.feed_freqs`` can leave out the rows of the first tokens (``skip=``, as
    :class:`~seminfo.models.portable.PortableModel` does; other portable models give every row)."""
    import inspect
    try:
        return "skip" in inspect.signature(model.feed_freqs).parameters
    except (TypeError, ValueError):
        return False


def feed_rows(model, state, ids, skip: int, takes: bool | None = None):
    """``model.feed_freqs(state, ids)`` and its rows after the first `skip` tokens only (B, T - skip, K),
    computed only where the model can (`takes`: :func:`takes_skip`, found out when None)."""
    if takes is None:
        takes = takes_skip(model)
    if takes:
        return model.feed_freqs(state, ids, skip=skip)
    state, F = model.feed_freqs(state, ids)
    return state, F[:, skip:]


class ContextDriver:
    """Batch of `batch` contexts advanced in lockstep, one token per row per step.

    Parameters
    ----------
    model : TokenModel
    batch : int
        Number of rows (blocks coded together).
    window : int or None
        Longest context (prefix included) the model is given; None for unbounded.
    keep : int
        Tokens of history fed again after a restart (1 <= keep < window - len(prefix)).
    portable : bool
        Use the model's integer path (``feed_freqs``, ``state.freqs``) instead of ``feed``.
    """

    def __init__(self, model, batch: int, window: int | None, keep: int, portable: bool = False) -> None:
        self.model = model
        self.batch = batch
        self.window = window
        self.keep = keep
        self.portable = portable
        self.restarts = 0
        self._steps: deque = deque(maxlen=keep)       # the last `keep` (B,) arrays fed
        self._skips = portable and takes_skip(model)
        self.state = model.begin(batch)

    @property
    def log_probs(self) -> np.ndarray:
        """Next-token log-probabilities (nats) of every row, shape (B, K) (float path)."""
        return self.state.log_probs

    @property
    def freqs(self) -> np.ndarray:
        """Next-token integer frequencies of every row, shape (B, K) (portable path)."""
        return self.state.freqs

    def _feed(self, ids: np.ndarray) -> None:
        if self.portable:                                   # only the last row is used
            self.state, _ = feed_rows(self.model, self.state, ids, ids.shape[1] - 1, self._skips)
        else:
            self.state, _ = self.model.feed(self.state, ids)

    def advance(self, tokens: np.ndarray) -> None:
        """Append one token to every row (``tokens`` shape (B,)), restarting if the window is full."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if self.window is not None:
            self._steps.append(tokens)
        if self.window is None or self.state.length + 1 <= self.window:
            self._feed(tokens[:, None])                                           # (B, 1)
            return
        history = np.stack(list(self._steps), axis=1)                            # (B, keep)
        self.state = self.model.begin(self.batch)
        self._feed(history)
        self.restarts += 1
