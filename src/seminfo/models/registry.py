"""`load_model`: turn a model spec into a token model, offline.

Specs, tried in this order:

* a built-in name of :data:`LOADERS` (``"builtin:gpt"``, ``"builtin:mamba"``, ``"builtin:diffusion"``,
  ``"builtin:smollm2"``, ``"builtin:ngram"``; see :mod:`seminfo.models.builtin`);
* a local directory saved with ``save_pretrained`` (config.json, ``*.safetensors``, tokenizer);
* a Hugging Face hub name (``"HuggingFaceTB/SmolLM2-135M"``) that is already in the local hub cache —
  nothing is downloaded.

Anything else raises :class:`~seminfo.errors.ModelNotAvailableError` with the way to make the model
available. Loaded models are not cached here (callers keep what they load).

Precision (``dtype``) is a choice for neural models: ``"auto"`` (the checkpoint's dtype on CUDA,
float32 on a CPU: today's numbers there), ``"float32"``, ``"bfloat16"`` or ``"float16"``. Log-softmax
runs in float32 and sums of surprisal in float64 whatever the weights (:mod:`seminfo.models.hf`).

Leaves out: downloads, remote inference, formats other than safetensors (pickled weights only on opt-in).
"""

from __future__ import annotations

import os
import pathlib

from ..errors import InputError, ModelNotAvailableError
from typing import Callable

from .base import LanguageModel
from .builtin import BUILTIN

__all__ = ["load_model", "list_builtin"]


def list_builtin() -> dict[str, str]:
    """The built-in model specs, each with a one-line description."""
    return dict(BUILTIN)


def load_model(spec: str | os.PathLike, *, device: str = "auto", trust_remote_code: bool = False,
               allow_unsafe_weights: bool = False, dtype: str = "auto",
               compile: bool = False) -> LanguageModel:
    """Load the token model named by `spec` ("builtin:gpt", a directory or an offline hub name).

    Parameters
    ----------
    spec : str or path
        ``builtin:gpt`` | ``builtin:smollm2`` | ``builtin:ngram`` | a model directory | a hub name
        present in the local Hugging Face cache.
    device : str, keyword-only
        'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N' or 'mps' (checked for every spec, used by
        neural models only). Anything else, or a device this machine lacks, is an InputError raised
        before any weights are read.
    trust_remote_code : bool, keyword-only
        Allow code shipped with a hub model to run. Off by default.
    allow_unsafe_weights : bool, keyword-only
        Allow pickled (``.bin``) weights, which can execute code when loaded. Off by default.
    dtype : {'auto', 'float32', 'bfloat16', 'float16'}, keyword-only
        Precision of a neural model's weights. 'auto': the checkpoint's dtype (config.json) on a CUDA
        device, float32 on CPU and MPS. bfloat16 and float16 also run on a CPU (float16 slowly).
        The logits are upcast to float32 before log-softmax and surprisal is summed in float64,
        so only the weights' arithmetic changes; a bfloat16 model's bits differ from the float32
        model's (a property of that model, not an error) and so does its fingerprint. Checked for
        every spec; ignored by ``builtin:ngram`` (counts, not weights).
    compile : bool, keyword-only
        Run the body of a neural model through ``torch.compile`` (inductor) when scoring. The first
        calls of each new shape pay the compilation (``model.compile_seconds`` adds it up); later
        calls are faster (docs/scale.md has the measurements). Float rounding changes slightly
        (about 1e-9 relative on the total bits of builtin:gpt). Off by default; ignored by
        ``builtin:ngram``.

    Returns
    -------
    LanguageModel
        ``HFModel`` for causal neural models (``.hf_model``, ``.hf_tokenizer``, ``.device``),
        ``HFMaskedModel`` for masked-diffusion models (builtin:diffusion, LLaDA-style folders),
        ``KneserNeyModel`` for ``builtin:ngram``.

    Raises
    ------
    InputError
        An invalid spec, flag, device or dtype.
    ModelNotAvailableError
        Unknown spec, a model that is not on this machine (the message says how to get it), or
        weights that cannot be read or do not match the architecture.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"The `spec` parameter of load_model must be a non-empty string (builtin:gpt, a "
                         f"directory or a hub name). Got {spec!r}.")
    for flag, value in (("trust_remote_code", trust_remote_code), ("allow_unsafe_weights", allow_unsafe_weights)):
        if not isinstance(value, bool):           # "false" or "no" must not open a door
            raise InputError(f"The `{flag}` parameter of load_model must be True or False. Got {value!r}.")
    from .._validate import check_device
    device = check_device(device, "The `device` parameter of load_model")   # form and presence, before loading
    from .._validate import one_of
    from .hf import DTYPES                        # torch is not imported by this
    dtype = one_of(dtype, DTYPES, "dtype", "load_model")
    if not isinstance(compile, bool):
        raise InputError(f"The `compile` parameter of load_model must be True or False. Got {compile!r}.")
    opts = dict(device=device, trust_remote_code=trust_remote_code,
                allow_unsafe_weights=allow_unsafe_weights, dtype=dtype)
    model = _load_spec(spec, opts)
    if compile and hasattr(model, "compile_inference"):
        model.compile_inference()
    return model


def _load_spec(spec: str, opts: dict) -> LanguageModel:
    if spec.startswith("builtin:"):
        return _load_builtin(spec, **opts)
    path = pathlib.Path(spec).expanduser()
    if path.is_dir():
        from .hf import load_hf_directory
        return load_hf_directory(path, name=spec, **opts)
    if path.exists():
        raise ModelNotAvailableError(f"The model spec {spec!r} is a file, not a model directory. Pass the "
                                     "directory that holds config.json, the weights and the tokenizer.")
    return _load_hub(spec, **opts)


def _shipped(name: str) -> Callable[..., LanguageModel]:
    def load(spec: str, **opts) -> LanguageModel:
        from .builtin import builtin_path
        from .hf import load_hf_directory
        return load_hf_directory(builtin_path(name), name=spec, **opts)
    return load


def _smollm2(spec: str, **opts) -> LanguageModel:
    from .builtin import smollm2_directory
    from .hf import load_hf_directory
    return load_hf_directory(smollm2_directory(), name=spec, **opts)


def _ngram(spec: str, **opts) -> LanguageModel:
    """The Kneser-Ney model: `opts` (device, dtype...) do not apply to counts and are ignored."""
    try:
        from .ngram import builtin_ngram
    except ImportError as exc:
        raise ModelNotAvailableError(f"The model 'builtin:ngram' is not available in this "
                                     f"installation ({exc}).") from None
    if spec == "builtin:ngram":
        return builtin_ngram()
    order = spec.rsplit(":", 1)[1]
    if not order.isdigit():
        raise ModelNotAvailableError(f"Unknown model {spec!r}: the n-gram order must be an integer, "
                                     "as in builtin:ngram:3.")
    return builtin_ngram(order=int(order))


#: The declared registry: built-in name -> loader (each built-in listed once; descriptions in BUILTIN).
#: ``builtin:ngram:N`` (an n-gram of order N) goes to the n-gram loader.
LOADERS: dict[str, Callable[..., LanguageModel]] = {
    "builtin:gpt": _shipped("gpt"),
    "builtin:mamba": _shipped("mamba"),
    "builtin:diffusion": _shipped("diffusion"),
    "builtin:smollm2": _smollm2,
    "builtin:ngram": _ngram,
}
assert set(LOADERS) == set(BUILTIN)


def _load_builtin(spec: str, **opts) -> LanguageModel:
    key = "builtin:ngram" if spec.startswith("builtin:ngram:") else spec
    loader = LOADERS.get(key)
    if loader is None:
        raise ModelNotAvailableError(f"Unknown built-in model {spec!r}. Built-in models: "
                                     f"{', '.join(BUILTIN)}.")
    return loader(spec, **opts)


def _load_hub(spec: str, **opts) -> LanguageModel:
    """A hub name from the local cache only (HF_HUB_OFFLINE semantics: no network)."""
    hint = (f"To use it, download it on a connected machine with `huggingface-cli download {spec}` "
            "(into the Hugging Face cache, then copy the cache here) or pass the path of a local model "
            "directory. Built-in models: " + ", ".join(BUILTIN) + ".")
    if spec.count("/") > 1 or spec.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"The model {spec!r} is neither a built-in model nor an existing "
                                     f"directory. {hint}")
    try:
        from huggingface_hub import snapshot_download
        folder = snapshot_download(spec, local_files_only=True)
    except Exception:                     # LocalEntryNotFoundError, HFValidationError (bad names)...
        raise ModelNotAvailableError(f"The model {spec!r} is not available offline: it is not a built-in "
                                     f"model, not a directory and not in the local Hugging Face cache. "
                                     f"{hint}") from None
    from .hf import load_hf_directory
    return load_hf_directory(folder, name=spec, **opts)
