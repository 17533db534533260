"""Token models: one interface from finite-state sources and n-grams to Transformers and Mamba.

``load_model(spec)`` loads "builtin:gpt", "builtin:smollm2", "builtin:ngram", a model directory or an
offline hub name; ``score_bytes`` / ``score_text`` give bits per token and per byte as
lm-evaluation-harness defines them. torch is imported only when a neural model is loaded.
"""

from __future__ import annotations

from .registry import list_builtin, load_model
from .scoring import ScoreResult, score_bytes, score_text

__all__ = ["load_model", "list_builtin", "score_bytes", "score_text", "ScoreResult"]
