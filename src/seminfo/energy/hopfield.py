"""Attention as a modern Hopfield network: the energy, its update, real heads, and memory capacity.

The modern (continuous) Hopfield network of Ramsauer et al. [1] stores patterns x_1..x_N (columns of
X, each in R^d) and gives a state xi the energy

    E(xi) = -(1/beta) ln sum_j exp(beta x_j . xi) + (1/2) xi . xi          (constant dropped)

whose update  xi <- X softmax(beta X^T xi)  never increases E: E is a convex term (1/2 |xi|^2) plus a
concave one (-lse), and the update is exactly one step of the concave-convex procedure (CCCP, Yuille
and Rangarajan [2]), which is a theorem [1, Thm 1]. Ramsauer et al. add the constant
beta^{-1} ln N + M^2/2 (M the largest pattern norm) so that E >= 0; differences do not depend on it.

**A head as a Hopfield step**. In one attention head with query q_i = W_Q h_i,
keys k_j = W_K h_j and values v_j = W_V h_j (biases and rotary embeddings included, exactly as the
model computes them), the attention weights are softmax_j(beta k_j . q_i) over j <= i (causal mask)
with beta the head's score scale (1/sqrt(d_head) for GPT-2 and Llama). So, at position i, the stored
patterns are the keys k_1..k_i, the state is the query q_i, and beta is the scale. We report two
updates per head and position:

* the **pure** Hopfield update  q_i+ = sum_j alpha_ij k_j  (the keys as their own values): the theorem
  covers it, so E(q_i+) <= E(q_i) must hold up to rounding;
* the **real** head output  o_i = sum_j alpha_ij v_j  (separate value projection, same dimension
  d_head): no theorem covers it; we measure how often E(o_i) < E(q_i), i.e. how far a real head,
  read in its own query space, still descends the energy of its keys.

**Memory capacity.** N random patterns stored, one update from each (or from a noisy copy), counted
as retrieved when the result lies within `tolerance` (relative distance) of the pattern. The
capacity at failure rate p is the largest N with a retrieved share >= 1 - p. The modern network's
patterns are uniform on the sphere of radius sqrt(d - 1) (K = 1 in [1, Thm 3]); the classical
network [3, 4] stores binary +-1 patterns with the Hebbian rule W = X X^T / d (zero diagonal) and
updates xi <- sign(W xi). Theorem 3 of [1] gives a lower bound on the modern capacity, exponential
in d; the classical network stores about 0.138 d patterns [4] (a statement about fixed points with
~1.6% wrong bits, not about one step).

References
----------
1. H. Ramsauer, B. Schäfl, J. Lehner, et al., "Hopfield networks is all you need", ICLR 2021
   (arXiv 2008.02217), Theorems 1 and 3.
2. A. L. Yuille, A. Rangarajan, "The concave-convex procedure", Neural Computation 15 (2003).
3. J. J. Hopfield, "Neural networks and physical systems with emergent collective computational
   abilities", PNAS 79 (1982).
4. D. J. Amit, H. Gutfreund, H. Sompolinsky, "Storing infinite numbers of patterns in a spin-glass
   model of neural networks", Phys. Rev. Lett. 55 (1985).
5. D. Krotov, J. J. Hopfield, "Dense associative memory for pattern recognition", NeurIPS 2016.

Leaves out: iterating the update to a fixed point (one step only), metastable states, the bound on
retrieval error of [1, Thm 4], cross-attention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import as_finite, as_float, as_int, as_rng, check_size, one_of
from ..errors import CapabilityError, InputError, ShapeError
from ..results import Result

__all__ = ["hopfield_energy", "hopfield_update", "HopfieldDescent", "hopfield_descent",
           "RetrievalShare", "hopfield_retrieval", "ramsauer_capacity_bound", "CapacityCurve",
           "hopfield_capacity", "CLASSICAL_CAPACITY"]

#: The classical Hopfield network's capacity per neuron, Amit, Gutfreund & Sompolinsky (1985).
CLASSICAL_CAPACITY = 0.138


# ------------------------------------------------------------------------------------------ energy
def _lse(a: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m).squeeze(axis)


def _patterns_state(patterns: Any, xi: Any, beta: Any, func: str) -> tuple[np.ndarray, np.ndarray, float]:
    X = as_finite(patterns, "patterns", func, ndim=2)                   # (N, d): one pattern a row
    x = as_finite(xi, "xi", func)
    if x.ndim not in (1, 2) or x.shape[-1] != X.shape[1]:
        raise ShapeError(f"The `xi` parameter of {func} must have shape (d,) or (n, d) with d = "
                         f"{X.shape[1]} (the patterns' dimension). Got shape {x.shape}.")
    if X.shape[0] < 1:
        raise ShapeError(f"The `patterns` parameter of {func} must hold at least one pattern (a row).")
    b = as_float(beta, "beta", func, minimum=0.0, strict_min=True)
    return X, x, b


def hopfield_energy(xi: Any, patterns: Any, beta: float) -> np.ndarray | float:
    """E(xi) = -(1/beta) ln sum_j exp(beta x_j . xi) + (1/2) xi . xi (Ramsauer et al. 2020, constant dropped).

    Parameters
    ----------
    xi : array_like, shape (d,) or (n, d)
        State(s).
    patterns : array_like, shape (N, d)
        Stored patterns, one per row.
    beta : float
        Inverse temperature, > 0.

    Returns
    -------
    float, or ndarray (n,): energy in the units of x . xi.

    Examples
    --------
    One pattern x: E(xi) = -x.xi + |xi|^2 / 2, smallest (= -|x|^2/2) at xi = x.

    >>> float(hopfield_energy([1.0, 0.0], [[1.0, 0.0]], beta=2.0))
    -0.5
    """
    X, x, b = _patterns_state(patterns, xi, beta, "hopfield_energy")
    e = -_lse(b * (x @ X.T)) / b + 0.5 * np.sum(x * x, axis=-1)
    return float(e) if x.ndim == 1 else e


def hopfield_update(xi: Any, patterns: Any, beta: float) -> np.ndarray:
    """One modern Hopfield update xi+ = X softmax(beta X^T xi); never increases :func:`hopfield_energy`.

    Parameters
    ----------
    xi : array_like, shape (d,) or (n, d)
    patterns : array_like, shape (N, d)
    beta : float

    Returns
    -------
    ndarray, same shape as `xi`.

    Examples
    --------
    >>> X = [[1.0, 0.0], [0.0, 1.0]]
    >>> hopfield_update([0.9, 0.1], X, beta=50.0).round(6).tolist()     # sharp: retrieves x_1
    [1.0, 0.0]
    """
    X, x, b = _patterns_state(patterns, xi, beta, "hopfield_update")
    s = b * (x @ X.T)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return p @ X


# ------------------------------------------------------------------------------- real attention heads
@dataclass(frozen=True)
class HopfieldDescent(Result):
    """Hopfield energy of each head's query before and after one attention update.

    Attributes
    ----------
    energy_query : ndarray (L, H, T)
        E_i(q_i) with patterns k_1..k_i (causal) and the head's beta.
    delta_pure : ndarray (L, H, T)
        E_i(sum_j alpha_ij k_j) - E_i(q_i): the Hopfield update; <= 0 by Ramsauer et al.'s Theorem 1.
    delta_real : ndarray (L, H, T)
        E_i(o_i) - E_i(q_i) with o_i = sum_j alpha_ij v_j, the head's actual output (before W_O).
    beta : ndarray (L,)
        Score scale of each layer's heads.
    max_alpha_error : float
        max |softmax(beta k . q) - the model's own attention weights|: checks that the q, k and beta
        read here are the ones the model uses (about 1e-6 in float32 models).
    tokens : list of str
    architecture : str
    tolerance : float
        A pure step counts as non-increasing when delta_pure <= tolerance * (1 + |E(q_i)|).
    units : str
    """

    energy_query: np.ndarray = field(repr=False)
    delta_pure: np.ndarray = field(repr=False)
    delta_real: np.ndarray = field(repr=False)
    beta: np.ndarray = field(repr=False)
    max_alpha_error: float = math.nan
    tokens: list = field(default_factory=list, repr=False)
    architecture: str = ""
    tolerance: float = 1e-9
    units: str = "energy in the units of q . k (score / beta), per head and position"

    @property
    def share_pure_nonincreasing(self) -> np.ndarray:
        """(L, H): share of positions where the pure update did not raise E (1.0 up to rounding)."""
        ok = self.delta_pure <= self.tolerance * (1 + np.abs(self.energy_query))
        return ok.mean(axis=-1)

    @property
    def share_real_decreased(self) -> np.ndarray:
        """(L, H): share of positions where the head's output has lower energy than its query."""
        return (self.delta_real < 0).mean(axis=-1)

    @property
    def energy_origin(self) -> np.ndarray:
        """(L, T): E_i(0) = -ln(i + 1) / beta, the energy of the zero state (the same for every head)."""
        T = self.delta_pure.shape[-1]
        return -np.log(np.arange(1, T + 1))[None, :] / self.beta[:, None]

    @property
    def share_real_below_origin(self) -> np.ndarray:
        """(L, H): share of positions where E(o_i) < E(0): the output beats the zero state.

        A stricter reading than :attr:`share_real_decreased`: the head output o_i is an average of
        values, usually much shorter than q_i, so the |xi|^2 / 2 term alone makes E(o_i) < E(q_i)
        likely; E(0) is the energy such a short vector gets without aligning with any key.
        """
        e_real = self.energy_query + self.delta_real
        return (e_real < self.energy_origin[:, None, :]).mean(axis=-1)

    @property
    def descent_ratio(self) -> np.ndarray:
        """(L, H): median over positions of delta_real / delta_pure (1: the head descends as far as
        the Hopfield step; positions where delta_pure = 0 are left out)."""
        ok = self.delta_pure < 0
        ratio = np.where(ok, self.delta_real / np.where(ok, self.delta_pure, 1.0), np.nan)
        return np.nanmedian(ratio, axis=-1)

    @property
    def max_relative_increase_pure(self) -> float:
        """max over heads and positions of delta_pure / (1 + |E(q_i)|) (<= ~1e-12 in float64)."""
        return float(np.max(self.delta_pure / (1 + np.abs(self.energy_query))))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per head: layer, head, beta, shares and mean energy changes."""
        L, H, _ = self.delta_pure.shape
        sp, sr = self.share_pure_nonincreasing, self.share_real_decreased
        so, dr = self.share_real_below_origin, self.descent_ratio
        return [{"layer": l, "head": h, "beta": float(self.beta[l]),
                 "share_pure_nonincreasing": float(sp[l, h]), "share_real_decreased": float(sr[l, h]),
                 "share_real_below_origin": float(so[l, h]), "descent_ratio": float(dr[l, h]),
                 "mean_delta_pure": float(self.delta_pure[l, h].mean()),
                 "mean_delta_real": float(self.delta_real[l, h].mean())}
                for l in range(L) for h in range(H)]

    def summary(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "n_positions": int(self.delta_pure.shape[-1]),
                "n_layers": int(self.delta_pure.shape[0]), "n_heads": int(self.delta_pure.shape[1]),
                "share_pure_nonincreasing": float(self.share_pure_nonincreasing.mean()),
                "share_real_decreased": float(self.share_real_decreased.mean()),
                "share_real_below_origin": float(self.share_real_below_origin.mean()),
                "median_descent_ratio": float(np.median(self.descent_ratio)),
                "max_relative_increase_pure": self.max_relative_increase_pure,
                "max_alpha_error": self.max_alpha_error, "units": self.units}


def _causal_energy(states: np.ndarray, keys: np.ndarray, beta: float) -> np.ndarray:
    """E_i(states_i) over keys_{<=i} for every head: states, keys (H, T, e) -> (H, T)."""
    T = keys.shape[1]
    s = beta * np.einsum("hie,hje->hij", states, keys)                   # (H, T, T)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    return -_lse(s) / beta + 0.5 * np.sum(states * states, axis=-1)


def _qkv(hf: Any, attn: Any, x: Any, pos_emb: Any, layer_index: int
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per-head q (H, T, e), k and v (H, T, e; grouped-query keys repeated) and beta, as the model computes them."""
    import sys

    import torch
    cfg = hf.config
    with torch.no_grad():
        if cfg.model_type == "gpt2":
            H = cfg.n_head
            q, k, v = attn.c_attn(x).split(cfg.n_embd, dim=2)              # (1, T, d) each
            q, k, v = (t[0].reshape(t.shape[1], H, -1).transpose(0, 1) for t in (q, k, v))
            hd = q.shape[-1]
            beta = 1.0 / math.sqrt(hd) if getattr(cfg, "scale_attn_weights", True) else 1.0
            if getattr(cfg, "scale_attn_by_inverse_layer_idx", False):
                beta /= float(layer_index + 1)
        else:
            if not all(hasattr(attn, n) for n in ("q_proj", "k_proj", "v_proj")):
                raise CapabilityError(
                    f"hopfield_descent reads GPT-2 (c_attn) and Llama-like (q/k/v_proj) attention; the "
                    f"model type {cfg.model_type!r} has neither.")
            hd = getattr(attn, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
            T = x.shape[1]
            q = attn.q_proj(x).view(1, T, -1, hd).transpose(1, 2)           # (1, H, T, hd)
            k = attn.k_proj(x).view(1, T, -1, hd).transpose(1, 2)           # (1, H_kv, T, hd)
            v = attn.v_proj(x).view(1, T, -1, hd).transpose(1, 2)
            if hasattr(attn, "q_norm"):                                     # Qwen3-style q/k norms
                q, k = attn.q_norm(q), attn.k_norm(k)
            if pos_emb is not None:                                         # rotary, as the module does
                rope = getattr(sys.modules[type(attn).__module__], "apply_rotary_pos_emb")
                q, k = rope(q, k, *pos_emb)
            group = q.shape[1] // k.shape[1]
            k, v = (t.repeat_interleave(group, dim=1) for t in (k, v))
            q, k, v = q[0], k[0], v[0]
            beta = float(getattr(attn, "scaling", hd ** -0.5))
    return tuple(t.double().cpu().numpy() for t in (q, k, v)) + (beta,)


def hopfield_descent(model: Any, inputs: Any, *, tolerance: float = 1e-9) -> HopfieldDescent:
    """Energy change of every head's query under the pure Hopfield update and under the real head.

    For head h of layer l at position i (keys k_j, j <= i, as the stored patterns, beta the head's
    score scale): ``delta_pure = E(sum_j alpha_ij k_j) - E(q_i)`` (<= 0 by Ramsauer et al.'s Theorem 1)
    and ``delta_real = E(o_i) - E(q_i)`` with ``o_i = sum_j alpha_ij v_j`` the head's output.

    Parameters
    ----------
    model : spec, seminfo HFModel or transformers PreTrainedModel
        GPT-2 (builtin:gpt) or a Llama-like decoder (builtin:smollm2).
    inputs : str, bytes or array_like of int (T,)
        Text (the model's prefix is prepended) or token ids; must fit in the model's context.
    tolerance : float
        Relative rounding allowance for counting a pure step as non-increasing.

    Returns
    -------
    HopfieldDescent
        Arrays (L, H, T) in float64; ``rows()`` and ``summary()`` give per-head shares.

    Notes
    -----
    q, k and v are computed from the attention module's input with the module's own projections
    (rotary embeddings applied to q and k as the model applies them; grouped-query keys and values
    shared within their group), then cast to float64. ``max_alpha_error`` compares
    softmax(beta k . q) with the model's eager attention weights.
    """
    import torch

    from ..flow._hf import eager_attention_pass, hf_parts, input_ids
    from ..models.arch import family_of, layer_modules
    func = "hopfield_descent"
    tol = as_float(tolerance, "tolerance", func, minimum=0.0)
    hf, tm = hf_parts(model, func)
    ids, strs = input_ids(hf, tm, inputs, func)
    fam = family_of(hf)
    if fam.mixer != "attention" or fam.bidirectional:
        raise CapabilityError(f"{func} reads causal attention heads; the model is of the {fam.name!r} "
                              f"family (mixer {fam.mixer!r}{', bidirectional' if fam.bidirectional else ''}).")
    layers = layer_modules(hf, func)
    attns = [getattr(layer, "attn", None) or getattr(layer, "self_attn", None) for layer in layers]
    if any(a is None for a in attns):
        raise CapabilityError(f"{func}: the layers of model type {hf.config.model_type!r} have no "
                              "`attn` or `self_attn` module.")
    with torch.no_grad():
        out, captured = eager_attention_pass(hf, ids, attns)
        qkv = [_qkv(hf, attns[i], captured[i]["x"], captured[i]["pos"], i) for i in range(len(layers))]
    T = ids.size
    causal = np.tril(np.ones((T, T), dtype=bool))
    E0, dP, dR, betas, err = [], [], [], [], 0.0
    for li, (q, k, v, beta) in enumerate(qkv):
        s = beta * np.einsum("hie,hje->hij", q, k)
        s = np.where(causal, s, -np.inf)
        alpha = np.exp(s - s.max(axis=-1, keepdims=True))
        alpha /= alpha.sum(axis=-1, keepdims=True)                          # (H, T, T)
        if out.attentions is not None and out.attentions[li] is not None:
            err = max(err, float(np.abs(alpha - out.attentions[li][0].double().cpu().numpy()).max()))
        else:
            err = math.nan
        e0 = _causal_energy(q, k, beta)
        pure = np.einsum("hij,hje->hie", alpha, k)
        real = np.einsum("hij,hje->hie", alpha, v)
        E0.append(e0)
        dP.append(_causal_energy(pure, k, beta) - e0)
        dR.append(_causal_energy(real, k, beta) - e0)
        betas.append(beta)
    return HopfieldDescent(energy_query=np.stack(E0), delta_pure=np.stack(dP), delta_real=np.stack(dR),
                           beta=np.asarray(betas), max_alpha_error=err, tokens=strs,
                           architecture=str(hf.config.model_type), tolerance=tol)


# ---------------------------------------------------------------------------------- memory capacity
class RetrievalShare(float):
    """The share of probed patterns retrieved after one update: a float, with the run's details.

    It is a ``float`` (compare, add, format it as one) that also carries ``n_retrieved``,
    ``n_probes``, ``d``, ``n_patterns``, ``beta``, ``network``, ``noise`` and ``tolerance``
    (read-only), and ``as_dict()``.
    """

    _FIELDS = ("n_retrieved", "n_probes", "d", "n_patterns", "beta", "network", "noise", "tolerance")

    def __new__(cls, share: float, **details: Any) -> "RetrievalShare":
        obj = super().__new__(cls, share)
        for k in cls._FIELDS:
            object.__setattr__(obj, k, details[k])
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RetrievalShare is read-only; cannot set {name!r}.")

    @property
    def share(self) -> float:
        return float(self)

    @property
    def units(self) -> str:
        return "share of probed patterns (0..1)"

    def as_dict(self) -> dict[str, Any]:
        return {"share": float(self), **{k: getattr(self, k) for k in self._FIELDS}, "units": self.units}

    def __repr__(self) -> str:
        return (f"RetrievalShare({float(self)!r}, {self.n_retrieved}/{self.n_probes} retrieved, "
                f"network={self.network!r}, d={self.d}, n_patterns={self.n_patterns}, beta={self.beta})")


def _sphere(rng: np.random.Generator, n: int, d: int, radius: float) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return radius * x / np.linalg.norm(x, axis=1, keepdims=True)


def _retrieve(d: int, n: int, beta: float, network: str, noise: float, tolerance: float,
              n_probes: int, rng: np.random.Generator) -> int:
    """Number of the first `n_probes` stored patterns retrieved after one update."""
    if network == "modern":
        X = _sphere(rng, n, d, math.sqrt(d - 1))                          # (N, d)
        P = X[:n_probes]
        start = P + noise * math.sqrt(d - 1) * _sphere(rng, n_probes, d, 1.0) if noise > 0 else P
        s = beta * (start @ X.T)                                           # (n_probes, N)
        s -= s.max(axis=1, keepdims=True)
        w = np.exp(s)
        w /= w.sum(axis=1, keepdims=True)
        new = w @ X
        err = np.linalg.norm(new - P, axis=1) / math.sqrt(d - 1)
    else:
        X = np.where(rng.random((n, d)) < 0.5, -1.0, 1.0)                  # (N, d) binary patterns
        P = X[:n_probes]
        start = P.copy()
        flips = int(round(noise ** 2 * d / 4))                             # |start - x| = noise |x|
        if flips:
            for r in range(n_probes):
                idx = rng.choice(d, size=flips, replace=False)
                start[r, idx] *= -1
        h = (start @ X.T) @ X / d - (n / d) * start                        # W xi, W = X^T X / d, W_ii = 0
        new = np.where(h >= 0, 1.0, -1.0)
        err = np.linalg.norm(new - P, axis=1) / math.sqrt(d)
    return int(np.sum(err <= tolerance))


def _retrieval_args(d: Any, n_patterns: Any, beta: Any, network: Any, noise: Any, tolerance: Any,
                    n_probes: Any, func: str) -> tuple:
    network = one_of(network, ("modern", "classical"), "network", func)
    d = as_int(d, "d", func, minimum=2)
    n = as_int(n_patterns, "n_patterns", func, minimum=1)
    b = as_float(beta, "beta", func, minimum=0.0, strict_min=True)
    noise = as_float(noise, "noise", func, minimum=0.0, maximum=2.0)
    tolerance = as_float(tolerance, "tolerance", func, minimum=0.0, strict_min=True)
    n_probes = as_int(n_probes, "n_probes", func, minimum=1)
    return network, d, n, b, noise, tolerance, n_probes


def hopfield_retrieval(d: int, n_patterns: int, beta: float = 1.0, *, seed: Any = None,
                       network: str = "modern", noise: float = 0.0, tolerance: float = 0.25,
                       n_probes: int = 256) -> RetrievalShare:
    """Share of stored patterns retrieved after one Hopfield update.

    Stores `n_patterns` random patterns in dimension `d`, starts from each of the first
    ``min(n_probes, n_patterns)`` of them (plus noise), applies one update, and counts a pattern as
    retrieved when ``|xi+ - x| <= tolerance * |x|``.

    Parameters
    ----------
    d : int
        Dimension (>= 2).
    n_patterns : int
        Number of stored patterns N.
    beta : float
        Inverse temperature of the modern network (ignored by the classical one).
    seed : None, int or numpy Generator
    network : {"modern", "classical"}
        ``"modern"``: patterns uniform on the sphere of radius sqrt(d - 1), update
        xi+ = X softmax(beta X^T xi) (Ramsauer et al. 2020). ``"classical"``: binary +-1 patterns,
        Hebbian weights X^T X / d with zero diagonal, update xi+ = sign(W xi) (Hopfield 1982).
    noise : float
        Relative distance of the start from the pattern: 0 starts at the stored pattern itself; for
        the classical network round(noise^2 d / 4) bits are flipped (same relative distance).
    tolerance : float
        Relative radius of retrieval (0.25: for binary patterns, at most 1/64 of the bits wrong).
    n_probes : int
        Most patterns probed (the share is estimated on them; all N when N <= n_probes).

    Returns
    -------
    RetrievalShare
        A float in [0, 1] carrying the counts and settings (see :class:`RetrievalShare`).

    Examples
    --------
    >>> float(hopfield_retrieval(d=32, n_patterns=10, beta=1.0, seed=0))      # far below capacity
    1.0
    >>> float(hopfield_retrieval(d=32, n_patterns=64, network="classical", seed=0))  # 2 d >> 0.138 d
    0.0
    """
    func = "hopfield_retrieval"
    network, d, n, b, noise, tolerance, n_probes = _retrieval_args(
        d, n_patterns, beta, network, noise, tolerance, n_probes, func)
    rng = as_rng(seed, func)
    m = min(n_probes, n)
    check_size(n * d + m * n, "n_patterns", func)                         # patterns + probe scores
    k = _retrieve(d, n, b, network, noise, tolerance, m, rng)
    return RetrievalShare(k / m, n_retrieved=k, n_probes=m, d=d, n_patterns=n, beta=b, network=network,
                          noise=noise, tolerance=tolerance)


def ramsauer_capacity_bound(d: int, beta: float, *, p: float = 0.01, K: float = 1.0) -> float:
    """Theorem 3 of Ramsauer et al. (2020): N >= sqrt(p) c^((d-1)/4) patterns stored with probability 1 - p.

    With patterns on the sphere of radius M = K sqrt(d - 1): a = 2/(d-1) (1 + ln(2 beta K^2 p (d-1))),
    b = 2 K^2 beta / 5, c = b / W0(exp(a + ln b)) (W0: upper branch of Lambert W, computed as Wright's
    omega of a + ln b, which cannot overflow). The theorem requires c >= (2 / sqrt(p))^(4/(d-1)); where
    that fails it guarantees nothing, and 0 is returned (the trivial bound N >= 0), never NaN.

    Returns
    -------
    float: the lower bound on the number of patterns (not rounded); 0 where the theorem's condition
    fails; ``inf`` only if the bound itself exceeds the float range.

    Examples
    --------
    >>> round(ramsauer_capacity_bound(64, beta=1.0, p=0.01), 2)
    6.72
    >>> ramsauer_capacity_bound(16, beta=1.0, p=0.01)      # condition fails at small d: no guarantee
    0.0
    """
    from scipy.special import wrightomega
    func = "ramsauer_capacity_bound"
    d = as_int(d, "d", func, minimum=2)
    beta = as_float(beta, "beta", func, minimum=0.0, strict_min=True)
    p = as_float(p, "p", func, minimum=0.0, maximum=1.0, strict_min=True)
    K = as_float(K, "K", func, minimum=0.0, strict_min=True)
    log_arg = math.log(2.0) + math.log(beta) + 2 * math.log(K) + math.log(p) + math.log(d - 1)
    a = 2.0 / (d - 1) * (1 + log_arg)
    log_b = math.log(2.0) + 2 * math.log(K) + math.log(beta) - math.log(5.0)
    log_c = log_b - math.log(float(wrightomega(a + log_b).real))       # c = b / W0(exp(a + ln b))
    if log_c < 4 / (d - 1) * (math.log(2.0) - 0.5 * math.log(p)):
        return 0.0
    log_n = 0.5 * math.log(p) + (d - 1) / 4 * log_c
    return math.exp(log_n) if log_n < 709.0 else math.inf


@dataclass(frozen=True)
class CapacityCurve(Result):
    """Measured one-step capacity against dimension, beside the theory.

    Attributes
    ----------
    dims : ndarray of int (D,)
    betas : ndarray (B,)
    modern : ndarray (B, D)
        Largest N found with retrieved share >= 1 - p (modern network, each beta).
    modern_censored : ndarray of bool (B, D)
        True where even `n_max` patterns were retrieved: the capacity is at least `n_max`.
    classical : ndarray (D,)
        The same for the classical Hebbian network.
    theorem3 : ndarray (B, D)
        Ramsauer et al.'s Theorem 3 lower bound (0 where its condition fails: no guarantee).
    classical_0138 : ndarray (D,)
        0.138 d (Amit, Gutfreund & Sompolinsky 1985).
    p, tolerance, noise, n_probes, n_max, seed
        Settings.
    units : str
    """

    dims: np.ndarray
    betas: np.ndarray
    modern: np.ndarray
    modern_censored: np.ndarray
    classical: np.ndarray
    theorem3: np.ndarray
    classical_0138: np.ndarray
    p: float
    tolerance: float
    noise: float
    n_probes: int
    n_max: int
    seed: Any = None
    units: str = "patterns"

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (network, beta, d)."""
        out = []
        for j, d in enumerate(self.dims):
            out.append({"network": "classical", "beta": None, "d": int(d),
                        "capacity": int(self.classical[j]), "at_least": False,
                        "theory": float(self.classical_0138[j]), "theory_name": "0.138 d"})
            for i, b in enumerate(self.betas):
                out.append({"network": "modern", "beta": float(b), "d": int(d),
                            "capacity": int(self.modern[i, j]), "at_least": bool(self.modern_censored[i, j]),
                            "theory": float(self.theorem3[i, j]), "theory_name": "Theorem 3 lower bound"})
        return out


def _capacity(d: int, beta: float, network: str, p: float, noise: float, tolerance: float,
              n_probes: int, n_max: int, seed: int) -> tuple[int, bool]:
    """Largest N <= n_max with share >= 1 - p: doubling, then bisection. (capacity, censored)."""
    cache: dict[int, bool] = {}

    def ok(n: int) -> bool:
        if n not in cache:
            rng = np.random.default_rng([seed, d, n, int(network == "modern")])
            m = min(n_probes, n)
            cache[n] = _retrieve(d, n, beta, network, noise, tolerance, m, rng) >= (1 - p) * m - 1e-9
        return cache[n]

    if not ok(1):
        return 0, False
    lo, hi = 1, 2
    while hi <= n_max and ok(hi):
        lo, hi = hi, hi * 2
    if hi > n_max:
        if ok(n_max):
            return n_max, True
        hi = n_max
    while hi - lo > 1:                             # ok(lo), not ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo, False


def hopfield_capacity(dims: Any = (8, 16, 24, 32, 48, 64, 96, 128), *, betas: Any = (0.25, 0.5, 1.0),
                      p: float = 0.05, noise: float = 0.0, tolerance: float = 0.25, n_probes: int = 128,
                      n_max: int = 2 ** 16, seed: int = 0) -> CapacityCurve:
    """One-step retrieval capacity against dimension: modern (each beta) and classical networks.

    For each d, the largest N with a retrieved share >= 1 - p (see :func:`hopfield_retrieval`),
    found by doubling N and then bisecting (it assumes the share falls as N grows; each N uses its
    own patterns). Beside it: Theorem 3's lower bound (:func:`ramsauer_capacity_bound`, same p) and
    0.138 d.

    Parameters
    ----------
    dims : sequence of int
    betas : sequence of float
    p : float
        Allowed failure share (0 < p < 1).
    noise, tolerance, n_probes
        As in :func:`hopfield_retrieval`.
    n_max : int
        Largest N tried; capacities at n_max are flagged in ``modern_censored``. A beta censored at
        one d is not rerun at larger d (capacity grows with d) and is reported censored there too.
    seed : int

    Returns
    -------
    CapacityCurve

    Examples
    --------
    >>> c = hopfield_capacity([8, 16], betas=[1.0], n_probes=32, n_max=256)
    >>> bool(c.modern[0, 1] > c.modern[0, 0]), bool(c.classical[1] <= 0.5 * 16)
    (True, True)
    """
    func = "hopfield_capacity"
    try:
        dims_a = [as_int(x, "dims", func, minimum=2) for x in np.atleast_1d(np.asarray(dims, dtype=object))]
        betas_a = [as_float(x, "betas", func, minimum=0.0, strict_min=True)
                   for x in np.atleast_1d(np.asarray(betas, dtype=object))]
    except TypeError:
        raise InputError(f"The `dims` and `betas` parameters of {func} must be lists of numbers.") from None
    if not dims_a or not betas_a:
        raise InputError(f"The `dims` and `betas` parameters of {func} must not be empty.")
    p = as_float(p, "p", func, minimum=0.0, maximum=1.0, strict_min=True)
    if p >= 1:
        raise InputError(f"The `p` parameter of {func} must be < 1. Got {p}.")
    noise = as_float(noise, "noise", func, minimum=0.0, maximum=2.0)
    tolerance = as_float(tolerance, "tolerance", func, minimum=0.0, strict_min=True)
    n_probes = as_int(n_probes, "n_probes", func, minimum=1)
    n_max = as_int(n_max, "n_max", func, minimum=1)
    seed = as_int(seed, "seed", func, minimum=0)
    check_size(max(dims_a) * n_max + n_probes * n_max, "n_max", func)     # patterns + probe scores
    modern = np.zeros((len(betas_a), len(dims_a)), dtype=np.int64)
    cens = np.zeros_like(modern, dtype=bool)
    classical = np.zeros(len(dims_a), dtype=np.int64)
    th3 = np.full((len(betas_a), len(dims_a)), np.nan)
    for j, d in enumerate(dims_a):
        classical[j], _ = _capacity(d, 1.0, "classical", p, noise, tolerance, n_probes, n_max, seed)
        for i, b in enumerate(betas_a):
            th3[i, j] = ramsauer_capacity_bound(d, b, p=p)
            if j > 0 and cens[i, j - 1] and d > dims_a[j - 1]:
                modern[i, j], cens[i, j] = n_max, True        # censored at a smaller d: not rerun
                continue
            modern[i, j], cens[i, j] = _capacity(d, b, "modern", p, noise, tolerance, n_probes, n_max, seed)
    return CapacityCurve(dims=np.asarray(dims_a), betas=np.asarray(betas_a), modern=modern,
                         modern_censored=cens, classical=classical, theorem3=th3,
                         classical_0138=CLASSICAL_CAPACITY * np.asarray(dims_a, dtype=float), p=p,
                         tolerance=tolerance, noise=noise, n_probes=n_probes, n_max=n_max, seed=seed)
