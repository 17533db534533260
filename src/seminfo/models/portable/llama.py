"""Llama in exact integer arithmetic (``builtin:smollm2``): the portable twin of LlamaForCausalLM.

Scope
-----
:class:`IntLlama` runs a Llama decoder (RMSNorm, rotary position embeddings, grouped-query
attention, SiLU-gated MLP, tied or untied output layer, no biases) with the kernels of
:mod:`.fixed`. Rotary embeddings rotate the int64 queries and keys with cos/sin tables at Q28 (the
``rotate_half`` convention of transformers). Weights are quantised from a float state dict
(:meth:`IntLlama.__init__`) or read back from the int8 safetensors written by
:meth:`IntLlama.save_quantised` (:mod:`.loaders` caches them for SmolLM2).

References: H. Touvron et al., "LLaMA", 2023; J. Su et al., "RoFormer" (rotary embeddings), 2021;
L. B. Allal et al., "SmolLM2", 2025; transformers' ``modeling_llama.py`` (the float reference).

Leaves out: rope scaling variants (only ``rope_type = "default"``), attention/MLP biases, sliding
windows.
"""

from __future__ import annotations

import numpy as np

from ...errors import ModelMismatchError
from . import fast
from .fixed import _ACT_RANGE, F, G, Pair, QLinear, QStack, _cat, _clip, _clip_, _i64, _score_mult, act_table, \
    arange, attention, lookup, norm_eps_table, norm_rows, prepare_kv, rope_table, rshift_round, table_digest
from .model import PortableTransformer

__all__ = ["IntLlama"]

_ROPE_Q = 28
_ROPE_CLAMP = (1 << 33) - 1            # |q| 2^28 * 2 < 2^63
_MUL_CLAMP = (1 << 31) - 1             # silu(gate) * up at F bits: 2 * 31 < 63


def _rope_theta(config: dict) -> float:
    rp = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = rp.get("rope_type", rp.get("type", "default")) if isinstance(rp, dict) else "default"
    if kind not in (None, "default"):
        raise ModelMismatchError(f"The Llama config uses rope_type {kind!r}; the integer Llama implements "
                                 "only the default rotary embedding.")
    return float(rp.get("rope_theta", config.get("rope_theta", 10000.0)) if isinstance(rp, dict)
                 else config.get("rope_theta", 10000.0))


class IntLlama(PortableTransformer):
    """Integer Llama with the :class:`~seminfo.models.portable.model.PortableModel` interface.

    Parameters
    ----------
    state : dict of str -> torch.Tensor, or None
        A LlamaForCausalLM state dict (float); None when `quantised` is given.
    config : dict
        Its config.json.
    tokenizer : Tokenizer
    name : str
        Spec of the float model ("builtin:smollm2").
    prefix : tuple of int
    device : str
    quantised : dict of str -> torch.Tensor, optional
        Tensors written by :meth:`save_quantised`.
    """

    _LIN = ("q", "k", "v", "o", "gate", "up", "down")

    def __init__(self, state: dict | None, config: dict, tokenizer, *, name: str, prefix: tuple[int, ...],
                 device: str = "cpu", quantised: dict | None = None):
        import torch
        if config.get("attention_bias") or config.get("mlp_bias"):
            raise ModelMismatchError("The Llama config has biases, which the integer Llama does not implement.")
        if config.get("hidden_act", "silu") != "silu":
            raise ModelMismatchError(f"The integer Llama implements SiLU; the config has "
                                     f"{config.get('hidden_act')!r}.")
        self.name, self.tokenizer, self.prefix = name, tokenizer, tuple(int(i) for i in prefix)
        self.device = "cpu"
        self.d = int(config["hidden_size"])
        self.n_head = int(config["num_attention_heads"])
        self.n_kv = int(config.get("num_key_value_heads") or self.n_head)
        self.head_dim = int(config.get("head_dim") or self.d // self.n_head)
        self.n_layers = int(config["num_hidden_layers"])
        self.max_context = int(config["max_position_embeddings"])
        self.theta = _rope_theta(config)
        eps = float(config.get("rms_norm_eps", 1e-6))
        self._eps_tab = norm_eps_table(eps, self.d, center=False)
        if quantised is None:
            quantised = self._quantise(state, config)
        t = quantised
        self.head = QLinear.from_tensors(t, "head")
        self.vocab_size = int(self.head.q.shape[0])
        self.embed = QLinear.from_tensors(t, "embed") if "embed.q" in t else self.head
        self.layers = [{**{k: QLinear.from_tensors(t, f"layers.{i}.{k}") for k in self._LIN},
                        "ln_1": t[f"layers.{i}.ln_1"], "ln_2": t[f"layers.{i}.ln_2"]}
                       for i in range(self.n_layers)]
        self.norm = t["norm"]
        self._quantised = t
        self.silu = torch.tensor(act_table("silu"))
        cos, sin = rope_table(self.theta, self.head_dim, self.max_context)
        self.cos, self.sin = torch.tensor(cos), torch.tensor(sin)
        self._consts()
        if device != "cpu":
            self._to(device)

    @staticmethod
    def _quantise(state: dict, config: dict) -> dict:
        """int8 weights and F/G-bit norm gains from a float state dict (elementwise IEEE ops only)."""
        import torch
        sd = {k.removeprefix("model."): v for k, v in state.items()}
        out: dict = {}
        emb = sd.get("embed_tokens.weight", state.get("lm_head.weight"))
        head = state.get("lm_head.weight", emb)
        out.update(QLinear.from_float(head.t()).tensors("head"))
        if head is not emb and not torch.equal(head, emb):
            out.update(QLinear.from_float(emb.t()).tensors("embed"))
        names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
                 "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}
        gain = lambda w: torch.round(w.detach().to(torch.float64) * 2.0 ** G).long()     # noqa: E731
        for i in range(int(config["num_hidden_layers"])):
            p = f"layers.{i}."
            for key, hf in names.items():
                out.update(QLinear.from_float(sd[p + hf + ".weight"].t()).tensors(f"layers.{i}.{key}"))
            out[f"layers.{i}.ln_1"] = gain(sd[p + "input_layernorm.weight"])
            out[f"layers.{i}.ln_2"] = gain(sd[p + "post_attention_layernorm.weight"])
        out["norm"] = gain(sd["norm.weight"])
        return out

    @classmethod
    def from_quantised(cls, path, config: dict, tokenizer, *, name: str, prefix, device: str = "cpu"):
        """Load the int8 safetensors written by :meth:`save_quantised`."""
        from safetensors.torch import load_file
        return cls(None, config, tokenizer, name=name, prefix=prefix, device=device,
                   quantised=load_file(str(path)))

    def save_quantised(self, path) -> None:
        """Write the integer weights as safetensors (no pickle)."""
        from safetensors.torch import save_file
        save_file({k: v.contiguous().cpu() for k, v in self._quantised.items()}, str(path),
                  metadata={"format": "seminfo-portable-llama"})

    def _to(self, device):
        tied = self.embed is self.head
        self.device = device
        self.head = self.head.to(device)
        self.embed = self.head if tied else self.embed.to(device)
        for lay in self.layers:
            for k in self._LIN:
                lay[k] = lay[k].to(device)
            lay["ln_1"], lay["ln_2"] = lay["ln_1"].to(device), lay["ln_2"].to(device)
        self.norm, self.silu = self.norm.to(device), self.silu.to(device)
        self.cos, self.sin, self._eps_tab = self.cos.to(device), self.sin.to(device), self._eps_tab.to(device)
        self._tabs = None
        self._consts()

    def _consts(self):
        """The constants of :meth:`_hidden` as Pairs (numpy for the CPU path, torch on the device)."""
        dev = self.device
        t = act_table("silu")
        self._silu, self._silu_d = Pair(t, dev), Pair(t[1:] - t[:-1], dev)
        self._cos, self._sin, self._eps = Pair(self.cos, dev), Pair(self.sin, dev), Pair(self._eps_tab, dev)
        self._gains = [(Pair(lay["ln_1"], dev), Pair(lay["ln_2"], dev)) for lay in self.layers]
        # q, k, v and gate, up read the same rows: one int8 product each (same integers)
        self._stacks = [(QStack([lay["q"], lay["k"], lay["v"]]), QStack([lay["gate"], lay["up"]]))
                        for lay in self.layers]
        self._norm = Pair(self.norm, dev)

    def n_parameters(self) -> int:
        return int(sum(lay[k].q.numel() for lay in self.layers for k in self._LIN) + self.head.q.numel())

    def _rms(self, x, g):
        """RMSNorm with gain g (a Pair, G fractional bits): round(n g 2^-G)."""
        n = norm_rows(x, self._eps, center=False)
        n *= g.of(n)
        n += 1 << (G - 1)
        n >>= G
        return n

    def _rope(self, x, pos0: int):
        """Rotate int64 x (B, H, T, hs) at F bits by its positions (rotate_half convention)."""
        T, half = x.shape[2], self.head_dim // 2
        cos, sin = self._cos.of(x)[pos0: pos0 + T], self._sin.of(x)[pos0: pos0 + T]  # (T, hs/2)
        x = _clip(x, -_ROPE_CLAMP, _ROPE_CLAMP)
        x1, x2 = x[..., :half], x[..., half:]
        r1 = x1 * cos
        r1 -= x2 * sin
        r2 = x2 * cos
        r2 += x1 * sin
        return _cat([rshift_round(r1, _ROPE_Q), rshift_round(r2, _ROPE_Q)], -1)

    def _hidden(self, ids, pos0, cache):
        B, T = ids.shape
        H, Hk, hs = self.n_head, self.n_kv, self.head_dim
        rep = H // Hk
        e = self.embed
        x = _i64(e.qn.of(ids)[ids])
        x *= (e.m2.of(ids)[ids] >> 1)[..., None]                                     # m2 = 2 mult
        x = rshift_round(x, e.shift - F)                                            # (B, T, d)
        q_pos = _cat([arange(ids, pos0, pos0 + T)] * rep)                           # rows of a group
        k_pos = arange(ids, 0, pos0 + T)
        tabs = self._tables()
        for lay, kv, (g1, g2), (qkv, gate_up) in zip(self.layers, cache, self._gains, self._stacks):
            h = self._rms(x, g1)
            q, k, v = qkv(h)
            q = self._rope(q.reshape(B, T, H, hs).swapaxes(1, 2), pos0)             # (B, H, T, hs)
            k = self._rope(k.reshape(B, T, Hk, hs).swapaxes(1, 2), pos0)            # (B, Hk, T, hs)
            v = v.reshape(B, T, Hk, hs).swapaxes(1, 2)
            keys = kv.append(prepare_kv(k, v))
            o = attention(q.reshape(B, Hk, rep * T, hs), keys, q_pos, k_pos, tabs)  # (B, Hk, rep T, hs)
            x += lay["o"](o.reshape(B, H, T, hs).swapaxes(1, 2).reshape(B, T, H * hs))
            h = self._rms(x, g2)
            gate, up = gate_up(h)
            gate = _clip_(lookup(gate, "silu", self._silu, self._silu_d), -_MUL_CLAMP, _MUL_CLAMP)
            gate *= _clip_(up, -_MUL_CLAMP, _MUL_CLAMP)
            x += lay["down"](rshift_round(gate, F))
        return self._rms(x, self._norm)

    def _fast_consts(self):
        """The kernels' constants of :meth:`_hidden_fast` (built on first use, CPU only)."""
        if getattr(self, "_fc", None) is None:
            rms = lambda g: fast.Norm(self._eps.np, False, g.np, 1 << (G - 1), G)              # noqa: E731
            attn = fast.Attention(self.n_head, self.n_kv, self.head_dim, self._tables().np,
                                  *_score_mult(self.head_dim), rope=(self._cos.np, self._sin.np),
                                  rope_clamp=_ROPE_CLAMP)
            silu = fast.Table(self._silu.np, self._silu_d.np, _ACT_RANGE["silu"], _MUL_CLAMP)
            layers = [(rms(g1), fast.Lin([lay["q"], lay["k"], lay["v"]]), fast.Lin([lay["o"]]), rms(g2),
                       fast.Lin([lay["gate"], lay["up"]]), fast.Lin([lay["down"]]))
                      for lay, (g1, g2) in zip(self.layers, self._gains)]
            self._fc = self._fast_pack(layers, rms(self._norm), attn, silu, swiglu=True,
                                       embed=fast.Embedding(self.embed, self.embed.shift - F))
        return self._fc

        for (ln_1, qkv, o_proj, ln_2, gate_up, down), kv in zip(c["layers"], cache):
            o = c["attn"](qkv(ln_1(x, M), M), B, T, kv, pos0)
            o_proj(o, M, add_to=x)
            down(c["silu"].swiglu(gate_up(ln_2(x, M), M), M), M, add_to=x)
        return c["norm"](x, M)

    def _id_parts(self) -> list[bytes]:
        parts = self._table_parts() + [table_digest(act_table("silu")).encode()]
        cos, sin = rope_table(self.theta, self.head_dim, self.max_context)
        parts.append(table_digest(np.stack([cos, sin])).encode())
        for k in sorted(self._quantised):
            parts.append(k.encode())
            parts.append(np.ascontiguousarray(self._quantised[k].cpu().numpy()).tobytes())
        return parts

    def __repr__(self) -> str:
        return (f"IntLlama(name={self.name!r}, layers={self.n_layers}, d={self.d}, heads={self.n_head}/"
                f"{self.n_kv}, vocab_size={self.vocab_size}, device={self.device!r})")
