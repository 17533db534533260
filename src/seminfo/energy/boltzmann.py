"""The next-token distribution as a Boltzmann law: free energy, mean energy, entropy, heat capacity.

An autoregressive model's next-token distribution can be written p(v | x^t) = exp(-E(v)) / Z with the
energy E(v) = -logit(v). Heating or cooling it gives the Boltzmann family

    p_T(v) = exp(-E(v) / T) / Z_T,      Z_T = sum_v exp(-E(v) / T),

and, per token position (k_B = 1, energies and T in nats),

    F = -T ln Z_T                   (free energy)
    U = <E>_T                       (mean energy)
    S = (U - F) / T = -<ln p_T>_T   (entropy; reported in bits, S / ln 2)
    C = Var_T(E) / T^2 = dU/dT = T dS/dT   (heat capacity, natural units).

The gauge. seminfo models return log-probabilities, which are the logits up to one constant per
position, c = ln sum_v exp(logit_v). We take E(v) = -ln p(v | x^t) = -logit(v) + c, so Z_1 = 1 and
F(T=1) = 0 at every position. Using raw logits instead shifts E by -c: F and U shift by -c at every
temperature, while S and C (differences and variances of E) do not change. At T = 1 the entropy is
the predictive entropy H(p(. | x^t)) that :func:`seminfo.score_text` reports per token.

All sums run in float64 through a log-sum-exp, so T from 1e-3 to 1e3 is safe. Tokens the model
gives probability 0 (E = +inf) carry weight 0 at every T.

References
----------
1. E. T. Jaynes, "Information theory and statistical mechanics", Phys. Rev. 106 (1957).
2. Y. LeCun, S. Chopra, R. Hadsell, M. Ranzato, F. J. Huang, "A tutorial on energy-based learning"
   (2006): a normalised model as a Gibbs distribution of an energy.
3. G. Hinton, O. Vinyals, J. Dean, "Distilling the knowledge in a neural network" (2015):
   temperature-scaled softmax.

Leaves out: energies of whole sequences (the sum over positions of these per-token quantities is the
energy of teacher-forced text, not of the sequence-level Gibbs law), top-k/top-p truncation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import MAX_CELLS, as_bytes, as_int, as_real, check_size
from ..errors import InputError
from ..results import Result
from ..units import LN2

__all__ = ["BoltzmannResult", "boltzmann", "boltzmann_stats", "DEFAULT_TEMPERATURES"]

_FUNC = "boltzmann"

#: The default sweep: 41 temperatures from 0.1 to 10, evenly spaced in log T (T = 1 included).
DEFAULT_TEMPERATURES = tuple(float(t) for t in np.geomspace(0.1, 10.0, 41))


@dataclass(frozen=True)
class BoltzmannResult(Result):
    """Boltzmann statistics of every next-token distribution of a text, at every temperature.

    Attributes
    ----------
    temperatures : ndarray (n_T,)
    free_energy, mean_energy : ndarray (n_T, n_tokens)
        F = -T ln Z_T and U = <E>_T in nats per token, in the gauge E = -ln p (F = 0 at T = 1).
    entropy : ndarray (n_T, n_tokens)
        S = (U - F) / T, in bits per token.
    heat_capacity : ndarray (n_T, n_tokens)
        C = Var_T(E) / T^2 (natural units, k_B = 1; C / ln 2 is T dS/dT in bits).
    surprisal_bits : ndarray (n_tokens,)
        -log2 p(x_t | x_<t) of the text's own tokens at T = 1 (as scoring reports it).
    token_ids : ndarray of int64 (n_tokens,)
    model : str
    units : str
    field_units : dict
        Unit of each array field.
    """

    temperatures: np.ndarray
    free_energy: np.ndarray = field(repr=False)
    mean_energy: np.ndarray = field(repr=False)
    entropy: np.ndarray = field(repr=False)
    heat_capacity: np.ndarray = field(repr=False)
    surprisal_bits: np.ndarray = field(repr=False)
    token_ids: np.ndarray = field(repr=False)
    model: str = ""
    units: str = "mixed: see field_units"
    field_units: dict = field(default_factory=lambda: {
        "temperatures": "nats (k_B = 1; T = 1 is the model)", "free_energy": "nats/token",
        "mean_energy": "nats/token", "entropy": "bits/token", "heat_capacity": "natural units (k_B = 1)",
        "surprisal_bits": "bits/token"})

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.size)

    def peak(self) -> tuple[np.ndarray, np.ndarray]:
        """Heat-capacity peak per position over the sweep: (T at the maximum, C there), each (n_tokens,).

        The maximum is over the swept temperatures only; a peak at an end of the sweep means the
        true maximum may lie outside it.
        """
        k = np.argmax(self.heat_capacity, axis=0)
        return self.temperatures[k], self.heat_capacity[k, np.arange(self.heat_capacity.shape[1])]

    def summary(self) -> dict[str, Any]:
        """Mean over tokens of each quantity at every temperature, and the peak statistics."""
        t_peak, c_peak = self.peak()
        return {
            "model": self.model, "n_tokens": self.n_tokens, "units": self.units,
            "field_units": {"temperatures": self.field_units["temperatures"],
                            "mean_free_energy_nats": "nats/token", "mean_mean_energy_nats": "nats/token",
                            "mean_entropy_bits": "bits/token", "mean_heat_capacity": "natural units (k_B = 1)",
                            "median_peak_temperature": "nats (k_B = 1)",
                            "mean_peak_heat_capacity": "natural units (k_B = 1)"},
            "temperatures": self.temperatures.tolist(),
            "mean_free_energy_nats": self.free_energy.mean(axis=1).tolist(),
            "mean_mean_energy_nats": self.mean_energy.mean(axis=1).tolist(),
            "mean_entropy_bits": self.entropy.mean(axis=1).tolist(),
            "mean_heat_capacity": self.heat_capacity.mean(axis=1).tolist(),
            "median_peak_temperature": float(np.median(t_peak)) if t_peak.size else math.nan,
            "mean_peak_heat_capacity": float(np.mean(c_peak)) if c_peak.size else math.nan,
        }


def boltzmann_stats(log_probs: Any, temperatures: Any = (1.0,), *, func: str = "boltzmann_stats"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """F, U, S (bits) and C of the Boltzmann family of distributions given by their log-probabilities.

    Parameters
    ----------
    log_probs : array_like, shape (..., K)
        Natural-log probabilities (or any logits: see the gauge note in the module docstring); the
        energy is E = -log_probs. -inf entries are states of infinite energy.
    temperatures : array_like (n_T,)
        Positive, finite.

    Returns
    -------
    free_energy, mean_energy, entropy_bits, heat_capacity : ndarrays, shape (n_T, ...)

    Examples
    --------
    A fair coin has E = ln 2 on both faces, so F = (1 - T) ln 2, S = 1 bit and C = 0 at every T:

    >>> F, U, S, C = boltzmann_stats(np.log([0.5, 0.5]), [1.0, 2.0])
    >>> (np.round(F, 12) + 0.0).tolist(), np.round(S, 12).tolist(), np.round(C, 12).tolist()
    ([0.0, -0.69314718056], [1.0, 1.0], [0.0, 0.0])
    """
    temps = _temperatures(temperatures, func)
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim < 1 or lp.shape[-1] < 1:
        raise InputError(f"The `log_probs` parameter of {func} must have a last axis of at least one "
                         f"state. Got shape {lp.shape}.")
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise InputError(f"The `log_probs` parameter of {func} must hold finite numbers or -inf. "
                         "Got NaN or +inf.")
    if np.isneginf(lp).all(axis=-1).any():
        raise InputError(f"The `log_probs` parameter of {func} has a position where every state has "
                         "probability 0 (all -inf).")
    check_size(lp.size * 4, f"The `log_probs` parameter of {func}", func)
    shape = (temps.size,) + lp.shape[:-1]
    F, U, S, C = (np.empty(shape) for _ in range(4))
    E = -lp                                                              # (..., K), +inf allowed
    finite = np.isfinite(E)
    Ez = np.where(finite, E, 0.0)
    for k, T in enumerate(temps):
        a = np.where(finite, -E / T, -np.inf)                           # (..., K) log weights
        m = a.max(axis=-1, keepdims=True)
        w = np.exp(a - m)                                                # 0 where E = +inf
        z = w.sum(axis=-1, keepdims=True)
        lnZ = (np.log(z) + m)[..., 0]
        p = w / z
        u = np.sum(p * Ez, axis=-1)
        var = np.sum(p * (Ez - u[..., None]) ** 2, axis=-1)
        F[k] = -T * lnZ
        U[k] = u
        S[k] = (u - F[k]) / T / LN2
        C[k] = var / T ** 2
    return F, U, S, C


#: Temperatures are kept within [1e-100, 1e100] so that T ** 2 and the Gibbs weights stay finite.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-100, 1e100


def _temperatures(temperatures: Any, func: str) -> np.ndarray:
    t = as_real(temperatures, "temperatures", func, what="a list of positive numbers").reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < MIN_TEMPERATURE) or np.any(t > MAX_TEMPERATURE):
        raise InputError(f"The `temperatures` parameter of {func} must be a non-empty list of finite numbers "
                         f"in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}]. Got "
                         f"{np.asarray(temperatures).tolist()!r}.")
    return t


def _next_token_log_probs(model: Any, ids: np.ndarray) -> np.ndarray:
    """(n, K) float64 log-probabilities: row t is the distribution that predicts ids[t].

    Long texts go through the same rolling windows as scoring (lm-evaluation-harness), so every
    row sees as much context as :func:`seminfo.score_text` gives it.
    """
    from ..models.scoring import plan_windows
    window = getattr(model, "max_context", None)
    rows = []
    for start, end, n_ctx, with_prefix in plan_windows(ids.size, window, None, len(model.prefix)):
        seg = ids[start:end]
        lp = np.asarray(model.next_log_probs(seg[None, :-1], prefix=with_prefix), dtype=np.float64)[0]
        offset = 0 if with_prefix else -1
        rows.append(lp[np.arange(n_ctx, seg.size) + offset])
    return np.concatenate(rows, axis=0)


def boltzmann(model: Any, text: Any, temperatures: Any = DEFAULT_TEMPERATURES, *,
              max_tokens: int | None = None) -> BoltzmannResult:
    """Free energy, mean energy, entropy and heat capacity of each next-token distribution of `text`.

    For every token x_t of the text and every temperature T, with E(v) = -ln p(v | x_<t):
    F = -T ln sum_v exp(-E(v)/T), U = <E>_T, S = (U - F)/T (bits), C = Var_T(E)/T^2.

    Parameters
    ----------
    model : model spec or seminfo token model
        Anything with the ``score`` capability: builtin:ngram, builtin:gpt, builtin:smollm2, a Hugging
        Face causal LM, a finite-state source.
    text : str or bytes
        Tokenised by the model's tokenizer; every token is scored given the model's prefix and the
        tokens before it (rolling windows beyond the model's context, as in scoring).
    temperatures : array_like (n_T,)
        Positive temperatures (default: 41 values from 0.1 to 10, T = 1 included).
    max_tokens : int, optional
        Keep only the first `max_tokens` tokens.

    Returns
    -------
    BoltzmannResult
        Arrays of shape (n_T, n_tokens): ``free_energy`` and ``mean_energy`` in nats, ``entropy`` in
        bits, ``heat_capacity`` = Var(E)/T^2.

    Examples
    --------
    >>> from seminfo.sources import IIDSource
    >>> r = boltzmann(IIDSource([0.5, 0.25, 0.25]), bytes([0, 1, 2]), temperatures=[1.0])
    >>> r.entropy.round(6).tolist()          # H(1/2, 1/4, 1/4) = 1.5 bits at every position
    [[1.5, 1.5, 1.5]]
    """
    from ..models.capability import as_model
    temps = _temperatures(temperatures, _FUNC)
    if max_tokens is not None:
        max_tokens = as_int(max_tokens, "max_tokens", _FUNC, minimum=1)
    data = as_bytes(text, "text", _FUNC)
    model = as_model(model, "score", func=_FUNC)
    ids = np.asarray(model.tokenizer.encode(data), dtype=np.int64)
    if max_tokens is not None:
        ids = ids[:max_tokens]
    if ids.size == 0:
        raise InputError(f"The `text` parameter of {_FUNC} must hold at least one token. Got {text!r}.")
    check_size(ids.size * int(model.vocab_size) * 4, f"The `text` parameter of {_FUNC}", _FUNC,
               limit=MAX_CELLS, hint="Use a shorter text or `max_tokens`.")
    lp = _next_token_log_probs(model, ids)                               # (n, K)
    surprisal = -lp[np.arange(ids.size), ids] / LN2
    F, U, S, C = boltzmann_stats(lp, temps, func=_FUNC)
    return BoltzmannResult(temperatures=temps, free_energy=F, mean_energy=U, entropy=S,
                           heat_capacity=C, surprisal_bits=surprisal, token_ids=ids,
                           model=str(getattr(model, "name", type(model).__name__)))
