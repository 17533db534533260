"""Models: one frame for left-to-right models (finite-state sources, n-grams, Transformers, Mamba) and
masked-diffusion models.

``load_model(spec)`` loads a built-in ("builtin:gpt", "builtin:mamba", "builtin:diffusion",
"builtin:smollm2", "builtin:ngram"), a model directory or an offline hub name; every public function
that takes a model goes through :func:`seminfo.models.capability.as_model`, which checks the
capabilities it needs. ``score_bytes`` / ``score_text`` give bits per token and per byte as
lm-evaluation-harness defines them; ``elbo`` gives -log2 p(x) for any model (exact, or the negative
ELBO for masked diffusion); ``compare_models`` puts models side by side. torch is imported only when
a neural model is loaded.
"""

from __future__ import annotations

from .capability import as_model, capabilities
from .compare import CompareResult, compare_models
from .elbo import ElboResult, elbo
from .masked import exact_masked_model, sample_masked
from .registry import list_builtin, load_model
from .scoring import ScoreResult, score_bytes, score_text

__all__ = ["load_model", "list_builtin", "score_bytes", "score_text", "ScoreResult", "elbo", "ElboResult",
           "exact_masked_model", "sample_masked", "as_model", "capabilities", "compare_models",
           "CompareResult"]
