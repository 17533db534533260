"""Private helpers shared by the layer-wise analyses: reach the transformers model and the input ids.

Accepts a spec, a seminfo model that wraps Hugging Face (``HFModel`` or ``HFMaskedModel``, exposing
``.hf_model``, ``.tokenizer`` and ``.prefix``) or a transformers ``PreTrainedModel`` directly; the
``internals`` capability is checked by :func:`seminfo.models.capability.as_model`. torch is
imported only inside functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_symbols
from ..errors import InputError


def hf_parts(model: Any, func: str) -> tuple[Any, Any]:
    """Return (transformers model, seminfo model or None), through the capability layer."""
    from ..models.capability import as_model
    model = as_model(model, "internals", func=func)
    hf = getattr(model, "hf_model", None)
    return (hf, model) if hf is not None else (model, None)


def input_ids(hf: Any, token_model: Any, inputs: Any, func: str, *, add_prefix: bool = True
              ) -> tuple[np.ndarray, list[str]]:
    """Token ids (prefix included for token models when `add_prefix`) and their printable strings."""
    if isinstance(inputs, (str, bytes)):
        if token_model is None:
            raise InputError(f"The `inputs` parameter of {func} is text, which needs a seminfo token "
                             "model (with a tokenizer); with a raw transformers model pass token ids.")
        ids = list(token_model.tokenizer.encode(inputs))
        if not ids:
            raise InputError(f"The `inputs` parameter of {func} must not be empty. Got {inputs!r}.")
    else:
        ids = as_symbols(inputs, "inputs", func, alphabet_size=int(hf.config.vocab_size)).tolist()
    if token_model is not None and add_prefix:
        ids = list(token_model.prefix) + ids
    max_len = getattr(hf.config, "n_positions", None) or getattr(hf.config, "max_position_embeddings", None)
    if max_len is not None and len(ids) > max_len:
        raise InputError(f"The `inputs` parameter of {func} holds {len(ids)} tokens (prefix included), "
                         f"more than the model's context of {max_len}. Shorten the input.")
    if token_model is not None:
        strs = [token_model.tokenizer.token_str(i) for i in ids]
    else:
        strs = [str(i) for i in ids]
    return np.asarray(ids, dtype=np.int64), strs


def n_layers(hf: Any) -> int:
    from ..models.arch import n_layers as _n
    return _n(hf)


def is_recurrent(hf: Any) -> bool:
    """Mamba-style models: their hidden-state tuple has no embedding entry (see lens.py)."""
    from ..models.arch import family_of
    return not family_of(hf).embedding_in_hidden_states


def eager_attention_pass(hf: Any, ids: np.ndarray, attns: list) -> tuple[Any, list[dict[str, Any]]]:
    """One forward pass with eager attention and ``output_attentions=True`` that records, for each
    attention module in `attns`, its input hidden states (``"x"``), its position embeddings (``"pos"``,
    rotary models) and its output (``"y"``), all detached. The model's attention implementation is
    restored afterwards. Returns (model output, one dict per module)."""
    import torch
    captured: list[dict[str, Any]] = [{} for _ in attns]
    hooks = []
    for i, attn in enumerate(attns):
        def pre(mod, args, kwargs, i=i):
            captured[i]["x"] = (args[0] if args else kwargs["hidden_states"]).detach()
            captured[i]["pos"] = kwargs.get("position_embeddings")

        def post(mod, args, kwargs, out, i=i):
            captured[i]["y"] = (out[0] if isinstance(out, tuple) else out).detach()
        hooks.append(attn.register_forward_pre_hook(pre, with_kwargs=True))
        hooks.append(attn.register_forward_hook(post, with_kwargs=True))
    previous = getattr(hf.config, "_attn_implementation", None)
    device = next(hf.parameters()).device
    try:
        hf.set_attn_implementation("eager")
        with torch.no_grad():
            out = hf(input_ids=torch.as_tensor(ids[None], device=device), output_attentions=True,
                     use_cache=False)
    finally:
        for hk in hooks:
            hk.remove()
        if previous and previous != "eager":
            hf.set_attn_implementation(previous)
    return out, captured
