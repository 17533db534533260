"""What seminfo knows about each neural architecture family, declared once.

Every place that needs to know how a Hugging Face model is built (is it recurrent? are its logits a
plain linear head? where are its layers and its final norm? does it mix tokens by attention or by a
state-space recurrence? does it see the future?) asks :func:`family_of`. Adding an architecture
means adding one :class:`Family` row to :data:`FAMILIES`.

=============  =====================================  =========  =========  ==============
family         model types                            mixer      recurrent  bidirectional
=============  =====================================  =========  =========  ==============
gpt2           gpt2                                   attention  no         no
llama          llama, mistral, qwen2/3, phi3, ...     attention  no         no
mamba          mamba, falcon_mamba                    ssm        yes        no
mamba2         mamba2                                 ssm        yes        no
masked         bert, roberta, llada, modernbert, ...  attention  no         yes
causal         other causal decoders (gpt_neox, ...)  attention  no         no
=============  =====================================  =========  =========  ==============

References: [1] A. Radford et al. 2019 (GPT-2). [2] H. Touvron et al. 2023 (Llama). [3] A. Gu, T.
Dao 2023 (Mamba). [4] T. Dao, A. Gu 2024 (Mamba-2, state-space duality). [5] S. Nie et al. 2025
(LLaDA, masked diffusion). [6] J. Devlin et al. 2019 (BERT).

Leaves out: encoder-decoder models, mixture-of-experts routing details, vision towers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError

__all__ = ["Family", "FAMILIES", "family_of", "n_layers", "layer_modules", "final_norm"]


@dataclass(frozen=True)
class Family:
    """One architecture family.

    Attributes
    ----------
    name : str
    model_types : tuple of str
        ``config.model_type`` values that belong to the family.
    mixer : str
        How tokens exchange information: ``"attention"`` or ``"ssm"`` (selective state space).
    recurrent : bool
        Fixed-size state, fed one token per step incrementally; no context limit.
    bidirectional : bool
        Every position sees every other (masked-diffusion models): no left-to-right scoring.
    plain_head : bool
        Logits are exactly ``lm_head(last_hidden_state)`` (no scaling or soft-capping), so the head
        may be applied in chunks of positions.
    layer_names, norm_names : tuple of str
        Attribute names, on ``model.base_model``, of the list of blocks and of the final norm.
    embedding_in_hidden_states : bool
        ``output_hidden_states`` starts with the embeddings (Transformers) or not (Mamba, Mamba2).
    """

    name: str
    model_types: tuple[str, ...]
    mixer: str = "attention"
    recurrent: bool = False
    bidirectional: bool = False
    plain_head: bool = True
    layer_names: tuple[str, ...] = ("h", "layers")
    norm_names: tuple[str, ...] = ("ln_f", "norm_f", "norm", "final_layernorm", "final_layer_norm")
    embedding_in_hidden_states: bool = True


#: The declared families, in lookup order; the last one catches other causal decoders.
FAMILIES: tuple[Family, ...] = (
    Family("gpt2", ("gpt2",), layer_names=("h",), norm_names=("ln_f",)),
    Family("llama", ("llama", "mistral", "qwen2", "qwen3", "phi3", "smollm3", "olmo", "olmo2"),
           layer_names=("layers",), norm_names=("norm",)),
    Family("mamba", ("mamba", "falcon_mamba"), mixer="ssm", recurrent=True, layer_names=("layers",),
           norm_names=("norm_f",), embedding_in_hidden_states=False),
    Family("mamba2", ("mamba2",), mixer="ssm", recurrent=True, layer_names=("layers",),
           norm_names=("norm_f",), embedding_in_hidden_states=False),
    Family("masked", ("bert", "roberta", "distilbert", "modernbert", "llada", "llada_moe", "dream"),
           bidirectional=True, plain_head=False, layer_names=("layer", "layers", "blocks"),
           # BERT-style MLM heads normalise inside the head: the lens reads h_l through all of it
           norm_names=("cls.predictions.transform", "final_norm", "norm", "ln_f")),
    Family("causal", ("gpt_neox", "gptj", "opt", "bloom", "falcon", "phi", "gemma", "gemma2", "gemma3"),
           plain_head=False),
)
_BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}
_CAUSAL = FAMILIES[-1]


def family_of(model: Any) -> Family:
    """The :class:`Family` of a transformers model, a config, or a seminfo model wrapping one.

    Unknown model types are treated as generic causal decoders (no chunked head, no internals).
    """
    hf = getattr(model, "hf_model", model)
    cfg = getattr(hf, "config", hf)
    model_type = str(getattr(cfg, "model_type", ""))
    fam = _BY_TYPE.get(model_type)
    if fam is not None:
        if fam.bidirectional and getattr(cfg, "is_decoder", False):
            return _CAUSAL                       # e.g. BertLMHeadModel: a causal decoder
        return fam
    if getattr(cfg, "mask_token_id", None) is not None and not getattr(cfg, "is_decoder", False) \
            and any(str(a).endswith("ForMaskedLM") for a in (getattr(cfg, "architectures", None) or ())):
        return FAMILIES[4]
    return _CAUSAL


def n_layers(hf: Any) -> int:
    """Number of blocks from the config (num_hidden_layers, n_layer or num_layers)."""
    cfg = hf.config
    for name in ("num_hidden_layers", "n_layer", "num_layers", "n_layers"):
        v = getattr(cfg, name, None)
        if isinstance(v, int):
            return v
    raise InputError(f"Cannot read the number of layers of a {type(hf).__name__} from its config.")


def _find(hf: Any, names: tuple[str, ...]) -> Any:
    import operator
    for name in names:
        if "." in name:                       # a dotted path from the top-level model
            try:
                return operator.attrgetter(name)(hf)
            except AttributeError:
                continue
    roots = [hf.base_model]
    for sub in ("encoder", "transformer", "model"):
        if getattr(hf.base_model, sub, None) is not None:
            roots.append(getattr(hf.base_model, sub))
    for root in roots:
        for name in names:
            mod = getattr(root, name, None)
            if mod is not None:
                return mod
    return None


def layer_modules(hf: Any, func: str) -> Any:
    """The model's list of blocks (an ``nn.ModuleList``), checked against the config."""
    fam = family_of(hf)
    mods = _find(hf, fam.layer_names)
    if mods is None:
        raise InputError(f"The `model` parameter of {func} has no list of layers under any of the names "
                         f"{', '.join(fam.layer_names)} (model type {hf.config.model_type!r}).")
    if len(mods) != n_layers(hf):
        raise InputError(f"The `model` parameter of {func} has {len(mods)} layer modules but its config "
                         f"says {n_layers(hf)}.")
    return mods


def final_norm(hf: Any, func: str) -> Any:
    """The norm applied after the last block (before the unembedding)."""
    fam = family_of(hf)
    mod = _find(hf, fam.norm_names)
    if mod is None:
        raise InputError(f"The `model` parameter of {func} has no final norm under any of the names "
                         f"{', '.join(fam.norm_names)} ({type(hf).__name__}); the logit lens is not "
                         "supported for it.")
    return mod
