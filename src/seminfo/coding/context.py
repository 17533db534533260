"""The model side of the coder: one sequence of model calls shared by encoder and decoder.

Scope
-----
:class:`ContextDriver` owns a batch of incremental contexts (``TokenModel.begin`` / ``feed``) and is
the *only* way the encoder and the decoder obtain probabilities. Both sides run the same code with
the same batch size, so the model sees the same calls with the same shapes in the same order and
returns bit-identical numbers (the contract of :mod:`seminfo.models.base`). The encoder never uses
the parallel ``next_log_probs`` path: its numbers may differ in the last bits from ``feed``.

Contexts longer than the window
-------------------------------
A model can see at most ``window`` tokens (prefix included; ``TokenModel.max_context`` by default).
When the next token would not fit, the driver restarts every row: it opens fresh contexts and feeds
the last ``keep`` tokens in one call, then goes on token by token. The cost in bits is that the
tokens after a restart are predicted from ``keep`` tokens of history instead of ``window``; the
compute cost is one ``keep``-token forward pass per ``window - len(prefix) - keep`` tokens coded.

Leaves out: KV-cache eviction schemes (StreamingLLM-style sinks); a restart is exact and simple.
"""

from __future__ import annotations

from collections import deque

import numpy as np


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
    """

    def __init__(self, model, batch: int, window: int | None, keep: int) -> None:
        self.model = model
        self.batch = batch
        self.window = window
        self.keep = keep
        self.restarts = 0
        self._steps: deque = deque(maxlen=keep)       # the last `keep` (B,) arrays fed
        self.state = model.begin(batch)

    @property
    def log_probs(self) -> np.ndarray:
        """Next-token log-probabilities (nats) of every row, shape (B, K)."""
        return self.state.log_probs

    def advance(self, tokens: np.ndarray) -> None:
        """Append one token to every row (``tokens`` shape (B,)), restarting if the window is full."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if self.window is not None:
            self._steps.append(tokens)
        if self.window is None or self.state.length + 1 <= self.window:
            self.state, _ = self.model.feed(self.state, tokens[:, None])        # (B, 1)
            return
        history = np.stack(list(self._steps), axis=1)                            # (B, keep)
        self.state = self.model.begin(self.batch)
        self.state, _ = self.model.feed(self.state, history)
        self.restarts += 1
