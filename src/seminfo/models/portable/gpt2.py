"""GPT-2 in exact integer arithmetic (``builtin:gpt``): the portable twin of transformers' GPT2LMHeadModel.

Scope
-----
:class:`IntGPT2` runs GPT-2 (learned positions, pre-LayerNorm blocks, GELU-new MLP, tied output
embeddings) with the kernels of :mod:`.fixed`: int8 weights per output channel, 15-bit activations,
integer LayerNorm, table GELU and softmax, integer attention. Weights come from a GPT-2 state dict
(safetensors of ``builtin:gpt``) and are quantised on load (a fraction of a second for 2.6M
parameters), with elementwise IEEE operations only, so every machine gets the same integers.

References: A. Radford et al., "Language Models are Unsupervised Multitask Learners", 2019;
transformers' ``modeling_gpt2.py`` (the float reference); theory §12.

Leaves out: cross-attention, ``scale_attn_by_inverse_layer_idx`` and ``reorder_and_upcast_attn``
(refused), dropout (inference only).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from ...errors import ModelMismatchError
from . import fast
from .fixed import _ACT_RANGE, F, G, Pair, QLinear, _i64, _score_mult, act_table, arange, attention, lookup, \
    norm_eps_table, norm_rows, permute, prepare_kv, rshift_round, table_digest
from .model import PortableTransformer

__all__ = ["IntGPT2"]


def _fixed(t, bits: int = F):
    """A float tensor as int64 at `bits` fractional bits (round half even, elementwise)."""
    import torch
    return torch.round(t.detach().to("cpu", torch.float64) * 2.0 ** bits).long()


class _LN:
    """LayerNorm with integer statistics and an affine map at F bits:
    ``round(n g 2^-G) + b`` computed as ``(n g + (b 2^G + 2^(G-1))) >> G``."""

    def __init__(self, weight, bias, eps: float, d: int):
        self.g, self.b = _fixed(weight, G), _fixed(bias)
        self.eps_tab = norm_eps_table(eps, d, center=True)
        self.to("cpu")

    def to(self, device) -> "_LN":
        self.g, self.b, self.eps_tab = self.g.to(device), self.b.to(device), self.eps_tab.to(device)
        self._g, self._eps = Pair(self.g, device), Pair(self.eps_tab, device)
        self._c0 = Pair((self.b.cpu() << G) + (1 << (G - 1)), device)
        return self

    def __call__(self, x):
        n = norm_rows(x, self._eps, center=True)
        n *= self._g.of(n)
        n += self._c0.of(n)
        n >>= G
        return n

    def tensors(self):
        return [self.g, self.b, self.eps_tab]


class IntGPT2(PortableTransformer):
    """Integer GPT-2 with the :class:`~seminfo.models.portable.model.PortableModel` interface.

    Parameters
    ----------
    state : dict of str -> torch.Tensor
        A GPT2LMHeadModel state dict (float).
    config : dict
        Its config.json.
    tokenizer : Tokenizer
    name : str
        Spec of the float model ("builtin:gpt"), kept so that archives name the model.
    prefix : tuple of int
    device : str
    """

    def __init__(self, state: dict, config: dict, tokenizer, *, name: str, prefix: tuple[int, ...],
                 device: str = "cpu"):
        for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
            if config.get(flag):
                raise ModelMismatchError(f"The GPT-2 config sets {flag}, which the integer GPT-2 does not "
                                         "implement.")
        act = config.get("activation_function", "gelu_new")
        if act != "gelu_new" or not config.get("scale_attn_weights", True):
            raise ModelMismatchError(f"The integer GPT-2 implements gelu_new with scaled attention; the "
                                     f"config has activation {act!r}.")
        self.name, self.tokenizer, self.prefix = name, tokenizer, tuple(int(i) for i in prefix)
        self.device = device
        d, nh = int(config["n_embd"]), int(config["n_head"])
        self.d, self.n_head, self.n_layers = d, nh, int(config["n_layer"])
        self.max_context = int(config["n_positions"])
        eps = float(config.get("layer_norm_epsilon", 1e-5))
        sd = {k.removeprefix("transformer."): v for k, v in state.items()}
        wte = sd["wte.weight"]
        self.vocab_size = int(wte.shape[0])
        self.head = QLinear.from_float(wte.t())                  # tied: rows of q are the embeddings
        self.wpe = _fixed(sd["wpe.weight"])
        self.layers = []
        for i in range(self.n_layers):
            p = f"h.{i}."
            self.layers.append({
                "ln_1": _LN(sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], eps, d),
                "attn": QLinear.from_float(sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"]),
                "proj": QLinear.from_float(sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"]),
                "ln_2": _LN(sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], eps, d),
                "fc": QLinear.from_float(sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"]),
                "out": QLinear.from_float(sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"]),
            })
        self.ln_f = _LN(sd["ln_f.weight"], sd["ln_f.bias"], eps, d)
        self.device = "cpu"
        self._consts()
        if device != "cpu":
            self._to(device)

    @classmethod
    def from_directory(cls, folder, tokenizer, *, name: str, prefix: tuple[int, ...], device: str = "cpu"):
        """Read config.json and model.safetensors of a GPT-2 folder."""
        from safetensors.torch import load_file
        folder = pathlib.Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return cls(load_file(str(folder / "model.safetensors")), config, tokenizer, name=name,
                   prefix=prefix, device=device)

    def _to(self, device):
        self.device = device
        self.head = self.head.to(device)
        self.wpe = self.wpe.to(device)
        for lay in self.layers:
            for key in ("attn", "proj", "fc", "out"):
                lay[key] = lay[key].to(device)
            for key in ("ln_1", "ln_2"):
                lay[key].to(device)
        self.ln_f.to(device)
        self._tabs = None
        self._consts()

    def _consts(self):
        t = act_table("gelu_new")
        self._gelu, self._gelu_d = Pair(t, self.device), Pair(t[1:] - t[:-1], self.device)
        self._wpe = Pair(self.wpe, self.device)

    def n_parameters(self) -> int:
        return int(sum(lin.q.numel() for lay in self.layers for lin in
                       (lay["attn"], lay["proj"], lay["fc"], lay["out"])) + self.head.q.numel())

    def _embed(self, ids, pos0: int):
        h = self.head
        q, m = h.qn.of(ids), h.m2.of(ids)                                           # m2 = 2 mult
        x = _i64(q[ids])
        x *= (m[ids] >> 1)[..., None]
        x = rshift_round(x, h.shift - F)                                            # (B, T, d)
        x += self._wpe.of(ids)[pos0: pos0 + ids.shape[1]]
        return x

    def _hidden(self, ids, pos0, cache):
        B, T = ids.shape
        nh, hs = self.n_head, self.d // self.n_head
        x = self._embed(ids, pos0)                                                  # (B, T, d)
        q_pos, k_pos = arange(ids, pos0, pos0 + T), arange(ids, 0, pos0 + T)
        tabs = self._tables()
        for lay, kv in zip(self.layers, cache):
            qkv = lay["attn"](lay["ln_1"](x))                                       # (B, T, 3d)
            q, k, v = permute(qkv.reshape(B, T, 3, nh, hs), 2, 0, 3, 1, 4)          # (B, nh, T, hs)
            keys = kv.append(prepare_kv(k, v))
            o = attention(q, keys, q_pos, k_pos, tabs)                              # (B, nh, T, hs)
            x += lay["proj"](o.swapaxes(1, 2).reshape(B, T, self.d))
            hmid = lookup(lay["fc"](lay["ln_2"](x)), "gelu_new", self._gelu, self._gelu_d)   # (B, T, 4d)
            x += lay["out"](hmid)
        return self.ln_f(x)

    def _fast_consts(self):
        """The kernels' constants of :meth:`_hidden_fast` (built on first use, CPU only)."""
        if getattr(self, "_fc", None) is None:
            ln = lambda n: fast.Norm(n.eps_tab.numpy(), True, n.g.numpy(), n._c0.np, G)        # noqa: E731
            nh, hs = self.n_head, self.d // self.n_head
            attn = fast.Attention(nh, nh, hs, self._tables().np, *_score_mult(hs))
            gelu = fast.Table(self._gelu.np, self._gelu_d.np, _ACT_RANGE["gelu_new"])
            layers = [(ln(lay["ln_1"]), fast.Lin([lay["attn"]]), fast.Lin([lay["proj"]]), ln(lay["ln_2"]),
                       fast.Lin([lay["fc"]]), fast.Lin([lay["out"]])) for lay in self.layers]
            self._fc = self._fast_pack(layers, ln(self.ln_f), attn, gelu, swiglu=False,
                                       embed=fast.Embedding(self.head, self.head.shift - F, self._wpe.np))
        return self._fc

    def _id_parts(self) -> list[bytes]:
        parts = self._table_parts() + [table_digest(act_table("gelu_new")).encode()]
        lins = [self.head] + [lay[k] for lay in self.layers for k in ("attn", "proj", "fc", "out")]
        for lin in lins:
            for t in lin.tensors("w").values():
                parts.append(np.ascontiguousarray(t.cpu().numpy()).tobytes())
        lns = [lay[k] for lay in self.layers for k in ("ln_1", "ln_2")] + [self.ln_f]
        for ln in lns:
            parts += [t.cpu().numpy().tobytes() for t in ln.tensors()]
        parts.append(self.wpe.cpu().numpy().tobytes())
        return parts

    def __repr__(self) -> str:
        return (f"IntGPT2(name={self.name!r}, layers={self.n_layers}, d={self.d}, "
                f"vocab_size={self.vocab_size}, device={self.device!r})")
