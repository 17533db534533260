"""Attention as a time-varying vector autoregression: per-head coefficient matrices read off a model.

In a transformer layer, head h's contribution to the attention output at position i is (theory §8)

    o_i^h = sum_{j<=i} alpha_ij^h W_O^h (W_V^h x_j + b_V^h) = sum_j A_ij^h x_j + W_O^h b_V^h,
    A_ij^h = alpha_ij^h W_O^h W_V^h        (a d x d matrix; sum_j alpha_ij = 1 absorbs the bias),

where x_j is the layer's (normalised) attention input and alpha the softmax attention weights; the
module output is ``sum_h o_i^h + b_O``. So a head is a VAR whose coefficients change with the
position and the input: the "lag" is i - j. We read alpha (eager attention), x_j (a forward hook on
the attention module), and W_O^h W_V^h from the weights, and **verify** the decomposition by
reconstructing the module's actual output (``max_reconstruction_error``).

The full coefficient tensor has L H T^2 d^2 entries, so it is kept factorised (alpha and the OV
matrices); :meth:`AttentionVAR.coefficient` forms one A_ij^h. :attr:`AttentionVAR.influence` gives
``||A_ij^h x_j||`` (the norm-based attribution of Kobayashi et al. 2020).

Supported: GPT-2 (fused ``c_attn`` Conv1D) and Llama-like decoders (``q/k/v/o_proj``, grouped-query
heads). Rotary embeddings act on queries and keys only, so they enter through alpha.

Sources
-------
1. A. Vaswani et al., "Attention is all you need", NeurIPS (2017).
2. N. Elhage et al., "A mathematical framework for transformer circuits", Anthropic (2021) (OV circuit).
3. G. Kobayashi et al., "Attention is not only a weight", EMNLP (2020).

Left out: MLP blocks, cross-layer composition (the product of VARs across layers). Mamba2's selective
state-space mixer is read the same way by :mod:`seminfo.flow.ssm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import as_int
from ..errors import InputError
from ..results import Result
from ._hf import eager_attention_pass, hf_parts, input_ids

__all__ = ["AttentionVAR", "attention_var"]

_FUNC = "attention_var"


@dataclass(frozen=True)
class AttentionVAR(Result):
    """Factorised per-layer, per-head VAR coefficients of the attention blocks.

    Attributes
    ----------
    alpha : ndarray (L, H, T, T)
        Attention weights alpha_ij (row i sums to 1; 0 for j > i).
    ov : ndarray (L, H, d, d)
        W_O^h W_V^h, acting on column vectors x_j.
    ov_bias : ndarray (L, H, d)
        W_O^h b_V^h (zero without value bias).
    out_bias : ndarray (L, d)
        b_O (zero without output bias).
    inputs, outputs : ndarray (L, T, d)
        The attention module's input x (after the layer norm) and its actual output.
    tokens : list of str
    """

    alpha: np.ndarray = field(repr=False)
    ov: np.ndarray = field(repr=False)
    ov_bias: np.ndarray = field(repr=False)
    out_bias: np.ndarray = field(repr=False)
    inputs: np.ndarray = field(repr=False)
    outputs: np.ndarray = field(repr=False)
    tokens: list = field(default_factory=list)
    architecture: str = ""

    def coefficient(self, layer: int, head: int, i: int, j: int) -> np.ndarray:
        """A_ij^h = alpha_ij^h W_O^h W_V^h, shape (d, d)."""
        L, H, T, _ = self.alpha.shape
        layer = as_int(layer, "layer", "AttentionVAR.coefficient", minimum=0, maximum=L - 1)
        head = as_int(head, "head", "AttentionVAR.coefficient", minimum=0, maximum=H - 1)
        i = as_int(i, "i", "AttentionVAR.coefficient", minimum=0, maximum=T - 1)
        j = as_int(j, "j", "AttentionVAR.coefficient", minimum=0, maximum=T - 1)
        return self.alpha[layer, head, i, j] * self.ov[layer, head]

    def head_outputs(self, layer: int) -> np.ndarray:
        """o_i^h = sum_j A_ij^h x_j + W_O^h b_V^h for every head and position: (H, T, d)."""
        v = np.einsum("hde,te->htd", self.ov[layer], self.inputs[layer])       # (H, T, d)
        return np.einsum("hij,hjd->hid", self.alpha[layer], v) + self.ov_bias[layer][:, None, :]

    def reconstruct(self, layer: int) -> np.ndarray:
        """sum_h o^h + b_O: the attention module's output rebuilt from the VAR form, (T, d)."""
        return self.head_outputs(layer).sum(axis=0) + self.out_bias[layer]

    @property
    def max_reconstruction_error(self) -> float:
        """max |reconstruct(l) - actual output| over layers, positions and coordinates."""
        return float(max(np.abs(self.reconstruct(l) - self.outputs[l]).max()
                         for l in range(self.alpha.shape[0])))

    @property
    def influence(self) -> np.ndarray:
        """||A_ij^h x_j||_2 for every (layer, head, i, j): (L, H, T, T)."""
        vnorm = np.linalg.norm(np.einsum("lhde,lte->lhtd", self.ov, self.inputs), axis=-1)  # (L,H,T)
        return self.alpha * vnorm[:, :, None, :]


def _head_weights(hf: Any, layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """(ov (H, d, d), ov_bias (H, d), out_bias (d,), attention module) for one layer."""
    cfg = hf.config
    if cfg.model_type == "gpt2":
        attn = layer.attn
        d, H = cfg.n_embd, cfg.n_head
        hd = d // H
        w = attn.c_attn.weight.detach().double().cpu().numpy()              # (d, 3d): x @ w
        b = attn.c_attn.bias.detach().double().cpu().numpy()
        wo = attn.c_proj.weight.detach().double().cpu().numpy()             # (d, d): a @ wo
        bo = attn.c_proj.bias.detach().double().cpu().numpy()
        wv = [w[:, 2 * d + h * hd: 2 * d + (h + 1) * hd] for h in range(H)]  # (d, hd)
        bv = [b[2 * d + h * hd: 2 * d + (h + 1) * hd] for h in range(H)]
        wo_h = [wo[h * hd:(h + 1) * hd, :] for h in range(H)]                 # (hd, d)
        ov = np.stack([(wv[h] @ wo_h[h]).T for h in range(H)])
        ov_b = np.stack([bv[h] @ wo_h[h] for h in range(H)])
        return ov, ov_b, bo, attn
    attn = getattr(layer, "self_attn", None)
    if attn is None or not all(hasattr(attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")):
        raise InputError(f"The `model` parameter of {_FUNC} must be GPT-2 or a Llama-like decoder "
                         f"(q/k/v/o_proj). Got model type {cfg.model_type!r}.")
    H = cfg.num_attention_heads
    H_kv = getattr(cfg, "num_key_value_heads", None) or H
    d = cfg.hidden_size
    hd = getattr(cfg, "head_dim", None) or d // H
    wv = attn.v_proj.weight.detach().double().cpu().numpy()                  # (H_kv hd, d)
    bv = (attn.v_proj.bias.detach().double().cpu().numpy() if attn.v_proj.bias is not None
          else np.zeros(wv.shape[0]))
    wo = attn.o_proj.weight.detach().double().cpu().numpy()                  # (d, H hd)
    bo = (attn.o_proj.bias.detach().double().cpu().numpy() if attn.o_proj.bias is not None
          else np.zeros(d))
    group = H // H_kv
    ov, ov_b = [], []
    for h in range(H):
        kv = h // group
        wo_h = wo[:, h * hd:(h + 1) * hd]                                    # (d, hd)
        ov.append(wo_h @ wv[kv * hd:(kv + 1) * hd])
        ov_b.append(wo_h @ bv[kv * hd:(kv + 1) * hd])
    return np.stack(ov), np.stack(ov_b), bo, attn


def attention_var(model: Any, inputs: Any) -> AttentionVAR:
    """Per-layer, per-head VAR coefficients A_ij^h = alpha_ij^h W_O^h W_V^h of a real model's attention.

    Parameters
    ----------
    model : seminfo HFModel or transformers PreTrainedModel (GPT-2 or Llama-like)
    inputs : str, bytes or array_like of int, shape (T,)
        Text (with a seminfo token model; its prefix is prepended) or token ids.

    Returns
    -------
    AttentionVAR
        Factorised coefficients (float64) with the captured module inputs and outputs;
        ``max_reconstruction_error`` checks the decomposition (about 1e-6 in float32 models).

    References
    ----------
    1. Vaswani et al. (2017).  2. Elhage et al. (2021).  3. Kobayashi et al. (2020).
    """

    hf, tm = hf_parts(model, _FUNC)
    ids, strs = input_ids(hf, tm, inputs, _FUNC)
    from ..models.arch import family_of, layer_modules
    fam = family_of(hf)
    masked = fam.bidirectional or getattr(tm, "mask_token_id", None) is not None
    if fam.mixer != "attention" or masked:
        from ..errors import CapabilityError
        what = ("a masked-diffusion model (bidirectional attention), whose heads are not a causal VAR" if masked
                else f"of the {fam.name!r} family (mixer {fam.mixer!r}); for Mamba2 use seminfo.flow.ssm_var, "
                     "which reads its state-space mixer as the same kind of time-varying VAR")
        raise CapabilityError(f"{_FUNC} reads causal attention heads; the model is {what}.")
    layers = layer_modules(hf, _FUNC)
    parts = [_head_weights(hf, layer) for layer in layers]
    out, captured = eager_attention_pass(hf, ids, [p[3] for p in parts])
    if out.attentions is None or any(a is None for a in out.attentions):
        raise InputError(f"The model given to {_FUNC} did not return attention weights.")
    alpha = np.stack([a[0].double().cpu().numpy() for a in out.attentions])   # (L, H, T, T)
    return AttentionVAR(
        alpha=alpha, ov=np.stack([p[0] for p in parts]), ov_bias=np.stack([p[1] for p in parts]),
        out_bias=np.stack([p[2] for p in parts]),
        inputs=np.stack([captured[i]["x"][0].double().cpu().numpy() for i in range(len(layers))]),
        outputs=np.stack([captured[i]["y"][0].double().cpu().numpy() for i in range(len(layers))]),
        tokens=strs, architecture=hf.config.model_type)
