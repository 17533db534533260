"""Mamba2's state-space mixer read as a time-varying VAR: the attention-like matrix of state-space duality.

A Mamba2 layer (Dao & Gu 2024) runs, for every head h, the selective recurrence

    s_t = exp(dt_t A_h) s_{t-1} + dt_t B_t x_t^T,      y_t = C_t^T s_t + D_h x_t,

with input-dependent step dt_t > 0, scalar A_h < 0 and vectors B_t, C_t of the state size.
Unrolled, it is a causal linear map of its inputs, exactly like an attention head:

    y_t^h = sum_{s<=t} M^h[t, s] x_s^h + D_h x_t^h,
    M^h[t, s] = (C_t . B_s) exp(A_h sum_{r=s+1}^{t} dt_r) dt_s,

("state-space duality": M is a semiseparable matrix, the SSM's attention matrix). Each M^h[t, s] is
a VAR coefficient (times the identity on the head's channels) that changes with position and input,
the same reading seminfo.flow.attention gives a Transformer head (A_ts = alpha_ts W_O W_V). Unlike
softmax attention, rows of M need not sum to one, and the exponential decay makes the lag structure
explicit.

:func:`ssm_var` computes dt, B, C and x from the layer's own weights and captured input, forms M,
and **verifies** it: y rebuilt from M goes through the layer's gated norm and output projection and
must reproduce the module's actual output (``max_reconstruction_error``).

Sources: [1] T. Dao, A. Gu, "Transformers are SSMs: Generalized Models and Efficient Algorithms
Through Structured State Space Duality" (Mamba-2), ICML 2024. [2] A. Ali, I. Zimerman, L. Wolf,
"The Hidden Attention of Mamba Models", 2024.

Leaves out: Mamba (v1), whose per-channel diagonal A gives one matrix per channel and state; the
convolution's own short lags (it is folded into the inputs x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CapabilityError
from ..results import Result
from ._hf import hf_parts, input_ids

__all__ = ["SSMVAR", "ssm_var"]

_FUNC = "ssm_var"


@dataclass(frozen=True)
class SSMVAR(Result):
    """Per-layer, per-head state-space coefficients M^h[t, s] of a Mamba2 model.

    Attributes
    ----------
    alpha : ndarray (L, H, T, T)
        M^h[t, s] (zero above the diagonal): the attention-like matrix of each head.
    skip : ndarray (L, H)
        D_h, the direct term of each head.
    dt : ndarray (L, T, H)
        Step sizes dt_t (positive).
    tokens : list of str
    architecture : str
    max_reconstruction_error : float
        max |layer output rebuilt from M - actual layer output| over layers, positions, coordinates.
    """

    alpha: np.ndarray
    skip: np.ndarray
    dt: np.ndarray
    tokens: list
    architecture: str
    max_reconstruction_error: float

    @property
    def decay(self) -> np.ndarray:
        """Mean |M^h[t, t - lag]| per layer, head and lag: how far back each head reads, (L, H, T)."""
        L, H, T, _ = self.alpha.shape
        out = np.zeros((L, H, T))
        for lag in range(T):
            out[:, :, lag] = np.abs(np.diagonal(self.alpha, offset=-lag, axis1=2, axis2=3)).mean(axis=-1)
        return out


def ssm_var(model: Any, inputs: Any) -> SSMVAR:
    """The attention-like matrices M^h[t, s] of every Mamba2 layer and head, verified against the model.

    Parameters
    ----------
    model : model spec, seminfo HFModel or transformers Mamba2ForCausalLM
    inputs : str, bytes or array_like of int
        Text (with a seminfo model; its prefix is prepended) or token ids.

    Returns
    -------
    SSMVAR
        ``alpha`` (L, H, T, T) float64, ``max_reconstruction_error`` (about 1e-5 in float32 models).
    """
    import torch
    from ..models.arch import family_of, layer_modules

    hf, tm = hf_parts(model, _FUNC)
    fam = family_of(hf)
    if fam.name != "mamba2":
        raise CapabilityError(f"{_FUNC} reads Mamba2 state-space mixers; the model is of the {fam.name!r} family. "
                              "For Transformers use seminfo.flow.attention_var.")
    ids, strs = input_ids(hf, tm, inputs, _FUNC)
    layers = layer_modules(hf, _FUNC)
    captured: dict[int, dict[str, Any]] = {i: {} for i in range(len(layers))}
    hooks = []
    for i, layer in enumerate(layers):
        def pre(mod, args, kwargs, i=i):
            captured[i]["x"] = (args[0] if args else kwargs["hidden_states"]).detach()

        def post(mod, args, kwargs, out, i=i):
            captured[i]["y"] = (out[0] if isinstance(out, tuple) else out).detach()
        hooks.append(layer.mixer.register_forward_pre_hook(pre, with_kwargs=True))
        hooks.append(layer.mixer.register_forward_hook(post, with_kwargs=True))
    device = next(hf.parameters()).device
    try:
        with torch.no_grad():
            hf(input_ids=torch.as_tensor(ids[None], device=device), use_cache=False)
    finally:
        for hk in hooks:
            hk.remove()
    alphas, skips, dts, err = [], [], [], 0.0
    with torch.no_grad():
        for i, layer in enumerate(layers):
            M, D, dt, rebuilt = _layer_matrix(layer.mixer, captured[i]["x"])
            err = max(err, float((rebuilt - captured[i]["y"]).abs().max()))
            alphas.append(M)
            skips.append(D)
            dts.append(dt)
    return SSMVAR(alpha=np.stack(alphas), skip=np.stack(skips), dt=np.stack(dts), tokens=strs,
                  architecture=str(hf.config.model_type), max_reconstruction_error=err)


def _layer_matrix(mixer: Any, h: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """(M (H, T, T), D (H,), dt (T, H), the layer output rebuilt from M) for one mixer and input h (1, T, d)."""
    import torch
    T = h.shape[1]
    H, P, N, G = mixer.num_heads, mixer.head_dim, mixer.ssm_state_size, mixer.n_groups
    proj = mixer.in_proj(h)                                                   # (1, T, proj)
    gate, xbc, dt = proj.split([mixer.intermediate_size, mixer.conv_dim, H], dim=-1)
    xbc = mixer.act(mixer.conv1d(xbc.transpose(1, 2))[..., :T].transpose(1, 2))       # (1, T, conv_dim)
    x, B, C = torch.split(xbc, [mixer.intermediate_size, G * N, G * N], dim=-1)
    x = x[0].double().view(T, H, P)                                           # (T, H, P)
    B = B[0].double().view(T, G, N)
    C = C[0].double().view(T, G, N)
    dt = torch.nn.functional.softplus(dt[0].double() + mixer.dt_bias.double())           # (T, H)
    lo, hi = mixer.time_step_limit
    dt = dt.clamp(min=float(lo), max=float(hi))
    A = -torch.exp(mixer.A_log.double())                                      # (H,)
    group = torch.arange(H, device=h.device) // (H // G)                     # head -> group
    cb = torch.einsum("tgn,sgn->gts", C, B)[group]                            # (H, T, T)
    cum = torch.cumsum(dt * A[None, :], dim=0)                                 # (T, H): sum_{r<=t} A dt_r
    decay = torch.exp(cum.T[:, :, None] - cum.T[:, None, :])                   # (H, T, T): sum_{r=s+1}^{t}
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=h.device))
    M = torch.where(causal, cb * decay * dt.T[:, None, :], torch.zeros((), dtype=torch.float64,
                                                                       device=h.device))
    D = mixer.D.double()
    y = torch.einsum("hts,shp->thp", M, x) + D[None, :, None] * x            # (T, H, P)
    y = y.reshape(1, T, H * P).to(h.dtype)
    rebuilt = mixer.out_proj(mixer.norm(y, gate))
    return M.cpu().numpy(), D.cpu().numpy(), dt.cpu().numpy(), rebuilt
