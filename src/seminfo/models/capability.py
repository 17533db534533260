"""The one door to models: turn a spec or an object into a model and check what the caller needs.

Every public function that takes a model calls :func:`as_model` with the capabilities it needs. A
model's capabilities are read from what it is, never guessed from attribute names:

==============  ==========================================================  ============================
capability      what it means                                               who has it
==============  ==========================================================  ============================
``score``       exact left-to-right log-likelihoods of token spans          every TokenModel
                (``token_stats`` / ``next_log_probs``, one batching path)
``incremental`` run left to right with a carried state (``begin``/``feed``)  every TokenModel
``masked``      conditionals of masked positions given the visible ones     masked-diffusion models
``likelihood``  -log2 p(x): exact, or an upper bound (the negative ELBO)    both families
``sample``      generate a continuation of a prompt                         both families
``internals``   a transformers module with a declared architecture family   Hugging Face models
                (layers, final norm, attention or state-space mixer)
==============  ==========================================================  ============================

A missing capability raises :class:`~seminfo.errors.CapabilityError`, whose message names it and
what has it (e.g. compressing with ``builtin:diffusion``, which cannot run left to right).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import CapabilityError, InputError
from .base import LanguageModel, TokenModel

__all__ = ["CAPABILITIES", "capabilities", "as_model", "require"]

#: Capability -> (what it is, who has it), used in error messages.
CAPABILITIES = {
    "score": ("exact left-to-right log-likelihoods of token spans",
              "left-to-right models: builtin:gpt, builtin:mamba, builtin:smollm2, builtin:ngram, causal "
              "Hugging Face models, finite-state sources"),
    "incremental": ("running left to right, one token at a time, with a carried state",
                    "left-to-right models: builtin:gpt, builtin:mamba, builtin:smollm2, builtin:ngram, "
                    "causal Hugging Face models, finite-state sources"),
    "masked": ("predicting masked tokens from the visible ones (masked diffusion)",
               "masked-diffusion models: builtin:diffusion, LLaDA-style checkpoints, "
               "seminfo.models.exact_masked_model"),
    "likelihood": ("-log2 p(x), exact or as an upper bound", "every seminfo model"),
    "sample": ("generating a continuation", "every seminfo model"),
    "internals": ("access to layers, final norm and token mixer",
                  "Hugging Face models (GPT-2, Llama-like, Mamba, Mamba2, BERT-style masked models)"),
}


def capabilities(model: Any) -> frozenset[str]:
    """The capabilities of `model` (an empty set for objects that are not seminfo models)."""
    from .masked import MaskedModel
    caps: set[str] = set()
    if isinstance(model, TokenModel):
        caps |= {"score", "incremental", "likelihood", "sample"}
    elif isinstance(model, MaskedModel):
        caps |= {"masked", "likelihood", "sample"}
    if getattr(model, "hf_model", None) is not None:
        caps.add("internals")
    return frozenset(caps)


def require(model: Any, needs: tuple[str, ...], func: str) -> None:
    """Raise CapabilityError naming the first capability of `needs` that `model` lacks."""
    have = capabilities(model)
    for need in needs:
        if need not in CAPABILITIES:
            raise InputError(f"Unknown capability {need!r}; known: {', '.join(CAPABILITIES)}.")
        if need not in have:
            what, who = CAPABILITIES[need]
            name = getattr(model, "name", type(model).__name__)
            raise CapabilityError(
                f"{func} needs the `{need}` capability ({what}), which the model {name!r} "
                f"({type(model).__name__}) lacks. Models that have it: {who}.")


def as_model(model: Any, *needs: str, func: str, device: str = "auto", trust_remote_code: bool = False,
             allow_unsafe_weights: bool = False, dtype: str = "auto", compile: bool = False) -> Any:
    """A seminfo model from a spec or an instance, checked for the capabilities `needs`.

    Parameters
    ----------
    model : str, path, seminfo model, or (for ``internals`` only) a transformers PreTrainedModel
        A spec ("builtin:gpt", a directory, an offline hub name) is loaded with the options below.
    *needs : str
        Capabilities the caller uses (see :data:`CAPABILITIES`).
    func : str, keyword-only
        Name of the calling public function, for messages.
    device, trust_remote_code, allow_unsafe_weights, dtype, compile
        As in :func:`seminfo.models.load_model`; used only when `model` is a spec.

    Returns
    -------
    The model (loaded when a spec was given).

    Raises
    ------
    InputError
        `model` is neither a spec nor a model.
    CapabilityError
        The model lacks one of `needs`.
    ModelNotAvailableError
        The spec names no model on this machine.
    """
    if model is None or isinstance(model, (bool, int, float, type)):
        shown = "None" if model is None else (f"the class {model.__name__}" if isinstance(model, type)
                                              else repr(model))
        raise InputError(f"The `model` parameter of {func} must be a model spec such as 'builtin:gpt' "
                         f"or a seminfo model (see seminfo.load_model). Got {shown}.")
    if isinstance(model, (str, os.PathLike)):
        from .. import models as _models           # the package's load_model: one loader for all
        model = _models.load_model(model, device=device, trust_remote_code=trust_remote_code,
                           allow_unsafe_weights=allow_unsafe_weights, dtype=dtype, compile=compile)
    elif not isinstance(model, LanguageModel):
        is_hf = hasattr(model, "config") and hasattr(model, "get_output_embeddings")
        if is_hf and set(needs) <= {"internals"}:
            return model                              # a raw transformers model, for internals only
        from ..sources.base import TokenSource
        if isinstance(model, TokenSource):
            from .source_model import SourceModel
            model = SourceModel(model)
        elif is_hf:
            raise InputError(
                f"The `model` parameter of {func} is a bare transformers model, which {func} cannot "
                "use: wrap it with its tokenizer (seminfo.models.hf.HFModel(hf_model, tokenizer), or "
                "seminfo.models.masked.HFMaskedModel for a masked LM) or pass a model spec.")
        else:
            also = " or a Hugging Face PreTrainedModel" if "internals" in needs else ""
            raise InputError(
                f"The `model` parameter of {func} must be a model spec such as 'builtin:gpt' or a "
                f"seminfo model (see seminfo.load_model){also}. Got {type(model).__name__}.")
    require(model, needs, func)
    return model


def load_for_pool(model: Any, needs: tuple, load_options: dict, func: str) -> Any:
    """Loader of :mod:`seminfo.scale` pools: :func:`as_model` with the load options."""
    return as_model(model, *needs, func=func, **load_options)
