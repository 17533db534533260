"""Models side by side on the same bytes: code length, size, state, speed and the Granger statistic.

For each model, on the same text:

* **bits per byte**: total code length / UTF-8 bytes. Exact for left-to-right models (stderr 0);
  for masked-diffusion models the negative ELBO, an upper bound in expectation, with its Monte-Carlo
  standard error (:func:`seminfo.models.elbo.elbo`).
* **parameters**.
* **state bytes per token of context**, measured, not computed from formulas: the bytes of every
  tensor a left-to-right model carries after n and after 2n tokens give a fixed part f and a
  per-token part g; at the model's context length N (or `reference_context` for models without a
  limit) the figure is (f + g N) / N. A Transformer's KV cache grows with N (g > 0); a Mamba
  state is fixed (g = 0), so its figure falls as 1/N; an n-gram keeps its last n - 1 tokens. A
  masked-diffusion model carries no summary at all: it re-reads the whole sequence at every
  denoising step, so its state is the sequence itself (8 bytes per token id).
* **tokens per second** of the scoring call (for masked models: with `samples` Monte-Carlo samples).
* **Granger statistic** G, bits per token: how much the past beyond the previous token lowers the
  code length, ``G = mean_t [-log2 p(x_t | x_{t-1})] - mean_t [-log2 p(x_t | x_<t)]`` (next-token
  prediction as Granger-causal inference: the far past Granger-causes x_t by G bits/token). For
  masked models the second term is the ELBO per token (an upper bound), so G is a lower bound in
  expectation. Its standard error treats the per-token terms as independent (they are not quite),
  so read it as indicative.

Leaves out: GPU memory (not measured here), generation quality.
"""

from __future__ import annotations

import math
import os
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._validate import as_int, as_seed
from ..errors import InputError
from ..results import Result
from ..units import LN2
from .._validate import utf8_bytes
from ..results import FieldUnits

__all__ = ["ModelComparison", "CompareResult", "compare_models", "state_bytes"]


@dataclass(frozen=True)
class ModelComparison(Result):
    """One model's row of a comparison (the unit of each column in :attr:`CompareResult.field_units`)."""

    name: str
    family: str
    bits_per_byte: float
    stderr: float
    exact: bool
    bits_per_token: float
    n_tokens: int
    n_bytes: int
    parameters: int | None
    state_bytes_per_token: float | None
    state_kind: str
    context_length: int | None
    tokens_per_second: float
    granger_bits_per_token: float | None
    granger_stderr: float | None
    seconds: float


@dataclass(frozen=True)
class CompareResult(FieldUnits, Result):
    """Models compared on the same bytes.

    Attributes
    ----------
    models : tuple of ModelComparison
    n_bytes : int
    samples : int
        Monte-Carlo samples per window for masked models.
    units : str
        ``"bits"``, the unit of the code lengths (per byte or per token, as each column says).
        Indexing it by a column name (the dict of earlier releases) still works for one release,
        with a DeprecationWarning.
    field_units : dict
        Unit of each column of :class:`ModelComparison`.
    """

    models: tuple
    n_bytes: int
    samples: int
    units: str = "bits"
    field_units: dict = field(default_factory=lambda: {
        "bits_per_byte": "bits/byte", "stderr": "bits/byte (standard error; 0 when exact)",
        "bits_per_token": "bits/token (each model's own tokens)", "state_bytes_per_token": "bytes/token",
        "tokens_per_second": "tokens/s", "granger_bits_per_token": "bits/token",
        "granger_stderr": "bits/token", "seconds": "s"})


    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"models": [...], "n_bytes", "samples", "units", "field_units"}``."""
        return {"models": [m.as_dict() for m in self.models], "n_bytes": self.n_bytes,
                "samples": self.samples, "units": str(self.units), "field_units": dict(self.field_units)}


def _nbytes(obj: Any, seen: set[int]) -> int:
    """Bytes of every tensor / array reachable from a cache object (each storage counted once)."""
    if id(obj) in seen or obj is None:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if type(obj).__module__.startswith("torch") and hasattr(obj, "element_size") and hasattr(obj, "numel"):
        return int(obj.element_size() * obj.numel())
    if isinstance(obj, (bool, int, np.integer)):
        return 8
    if isinstance(obj, float):
        return 8
    if isinstance(obj, (str, bytes)):
        return 0
    if isinstance(obj, dict):
        return sum(_nbytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(_nbytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return sum(_nbytes(v, seen) for k, v in vars(obj).items() if not k.startswith("_config"))
    return 0


def state_bytes(model: Any, context_length: int, *, probe: int = 16) -> tuple[float, str]:
    """(bytes of state per token of context at `context_length` tokens, what the state is)."""
    from .base import TokenModel
    from .masked import MaskedModel
    if isinstance(model, MaskedModel):
        return 8.0, "whole sequence (re-read every step)"
    if not isinstance(model, TokenModel):
        return math.nan, "unknown"
    n = max(1, min(probe, (context_length - len(model.prefix)) // 2))
    ids = np.zeros((1, 2 * n), dtype=np.int64) + (model.prefix[0] if model.prefix else 0)
    sizes = []
    for k in (n, 2 * n):
        state = model.begin(1)
        state, _ = model.feed(state, ids[:, :k])
        sizes.append(_nbytes(state.cache, set()))
    g = (sizes[1] - sizes[0]) / n
    f = sizes[0] - g * (n + len(model.prefix))
    total = f + g * context_length
    from .arch import family_of
    if getattr(model, "hf_model", None) is not None:
        fam = family_of(model)
        kind = "fixed SSM state" if fam.recurrent else "KV cache"
    else:
        kind = "fixed state" if abs(g) < 1e-9 else "growing state"
    return float(total / context_length), kind


def _short_context_bits(model: Any, ids: np.ndarray) -> np.ndarray:
    """-log2 p(x_t | x_{t-1}) for t = 1..len(ids)-1 (no prefix, one token of context), bits."""
    from .masked import MaskedModel
    pairs = np.stack([ids[:-1], ids[1:]], axis=1)                              # (m, 2)
    out = np.empty(pairs.shape[0])
    for a in range(0, pairs.shape[0], 256):
        p = pairs[a:a + 256]
        if isinstance(model, MaskedModel):
            rows = p.copy()
            rows[:, 1] = model.mask_token_id
            lp = np.asarray(model.masked_log_probs(rows), dtype=np.float64)[:, 1]      # (b, K)
            out[a:a + p.shape[0]] = -lp[np.arange(p.shape[0]), p[:, 1]] / LN2
        else:
            sur, _ = model.token_stats(p, n_context=1, prefix=False, entropy=False)
            out[a:a + p.shape[0]] = sur[:, 0] / LN2
    return out


def _family(model: Any) -> str:
    from .masked import ExactMaskedModel, HFMaskedModel
    from .arch import family_of
    if getattr(model, "hf_model", None) is not None:
        fam = family_of(model).name
        return "masked diffusion" if isinstance(model, HFMaskedModel) else fam
    if isinstance(model, ExactMaskedModel):
        return "masked (exact source)"
    return type(model).__name__


def compare_models(models: Sequence[Any], text: Any, *, samples: int = 32, seed: Any = 0,
                   reference_context: int = 256, granger_tokens: int = 512, progress: bool = False,
                   load_options: dict | None = None) -> CompareResult:
    """Compare models on the same bytes (see the module notes for every column).

    Parameters
    ----------
    models : sequence of model specs or seminfo models
    text : str, bytes or pathlib.Path (a file)
    samples : int, keyword-only
        Monte-Carlo samples per window for masked-diffusion models (even).
    seed : int, keyword-only
    reference_context : int, keyword-only
        Context length at which state bytes are given for models without a limit (Mamba, n-grams).
    granger_tokens : int, keyword-only
        Tokens (from the start of the text) used for the Granger statistic.
    progress : bool, keyword-only
    load_options : dict, keyword-only
        ``device``, ``trust_remote_code``, ``allow_unsafe_weights`` for specs.

    Returns
    -------
    CompareResult
    """
    from .capability import as_model
    from .elbo import elbo
    func = "compare_models"
    if isinstance(models, (str, os.PathLike)) or not len(models):
        raise InputError(f"The `models` parameter of {func} must be a non-empty list of models. Got {models!r}.")
    if isinstance(text, os.PathLike):
        path = pathlib.Path(text)
        if not path.is_file():
            raise InputError(f"The `text` parameter of {func} names no readable file: {str(path)!r}.")
        data = path.read_bytes()
    elif isinstance(text, str):
        data = utf8_bytes(text, "text", func)
    elif isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        raise InputError(f"The `text` parameter of {func} must be str, bytes or a pathlib.Path. Got "
                         f"{type(text).__name__}.")
    if not data:
        raise InputError(f"The `text` parameter of {func} is empty: there is nothing to compare on.")
    seed = as_seed(seed, func)
    reference_context = as_int(reference_context, "reference_context", func, minimum=2)
    granger_tokens = as_int(granger_tokens, "granger_tokens", func, minimum=2)
    loaded = [as_model(m, "likelihood", func=func, **(load_options or {})) for m in models]
    rows = []
    for model in loaded:
        t0 = time.perf_counter()
        r = elbo(model, data, samples=samples, seed=seed, progress=progress)
        seconds = time.perf_counter() - t0
        ids = np.asarray(model.tokenizer.encode(data), dtype=np.int64)
        N = model.max_context or reference_context
        sb, kind = state_bytes(model, N)
        g = gse = None
        head = ids[:granger_tokens]
        if head.size >= 2:
            short = _short_context_bits(model, head)
            if r.exact:
                from .elbo import exact_token_bits
                diff = short - exact_token_bits(model, np.zeros(0, dtype=np.int64), head)[1:]
                g = float(diff.mean())
                gse = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else 0.0
            else:
                g = float(short.mean() - r.bits_per_token)
                gse = float(math.hypot(short.std(ddof=1) / math.sqrt(short.size) if short.size > 1 else 0.0,
                                       r.stderr / max(r.n_tokens, 1)))
        n_params = model.n_parameters() if hasattr(model, "n_parameters") else None
        rows.append(ModelComparison(
            name=model.name, family=_family(model), bits_per_byte=r.value / len(data),
            stderr=r.stderr / len(data), exact=bool(r.exact), bits_per_token=r.bits_per_token,
            n_tokens=int(r.n_tokens), n_bytes=len(data), parameters=n_params,
            state_bytes_per_token=sb, state_kind=kind, context_length=int(N),
            tokens_per_second=r.n_tokens / seconds if seconds > 0 else math.inf,
            granger_bits_per_token=g, granger_stderr=gse, seconds=seconds))
    return CompareResult(models=tuple(rows), n_bytes=len(data), samples=int(samples))
