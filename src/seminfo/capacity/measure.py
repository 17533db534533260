"""Stored bits of a token model on a fact corpus, and bits per parameter.

For every fact (person i, attribute a with domain size d_a) the model reads the canonical probe
"<first> <middle> <last> <attr> is" (template 0 of :data:`~seminfo.capacity.facts.TEMPLATES`, after the
model's start token) and is scored on the value's code tokens::

    loss_ia  = - sum_j log2 p(code_j | <s> probe, code_<j)            bits (all the value's tokens)
    stored   = sum_{i, a} max(0, log2 d_a - loss_ia)                  bits
    capacity = stored / n_parameters                                  bits/parameter

The oracle model gives loss 0 and stored = the corpus entropy; the uniform model gives loss log2 d_a and
stored 0. This is our accounting, not Allen-Zhu & Li's [1]: their bit-complexity lower bound (their
Section 3) turns the population-average losses on the name tokens and on the attribute values into bits,
with terms for names and for value diversity. Ours credits each value separately, after a fixed probe, and
clips a fact predicted worse than chance at zero; it is exact on the oracle, on the uniform model and on
any mixture of known and unknown people, and it counts nothing for names.

References
----------
[1] Z. Allen-Zhu, Y. Li, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
    arXiv:2404.05405, 2024.

Leaves out: quantised models (their int8/int4 ratios), knowledge extraction from other templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ModelMismatchError
from .._validate import as_int
from ..models.base import TokenModel
from ..results import Result
from .facts import PROBE_TEMPLATE, FactCorpus

__all__ = ["StoredBits", "stored_bits"]


@dataclass(frozen=True)
class StoredBits(Result):
    """Bits of a fact corpus a model stores (``float(result)`` is `bits`).

    Attributes
    ----------
    bits : float
        Stored bits, sum over facts of max(0, log2 d - loss bits of the value).
    net_bits : float
        The same sum without the clipping, sum over facts of (log2 d - loss bits); it may be negative.
        ``bits - net_bits`` is what the clipping adds: a model that predicts values near-uniformly but
        not exactly so gains some bits on facts where it is luckily better than chance, and `bits`
        counts them while `net_bits` nets them against the facts where it is worse.
    entropy_bits : float
        The corpus's entropy (the most that can be stored), bits.
    per_attribute : dict {str: float}
        Stored bits of each attribute.
    loss_bits : dict {str: float}
        Mean log-loss of one value of each attribute, bits (log2 d when nothing is known).
    n_facts : int
    n_exact : int
        Facts whose value costs less than 1 bit (predicted with probability above 1/2).
    n_parameters : int or None
        Parameters of the model (all of them, embeddings included), None when it has none.
    bits_per_parameter : float or None
        ``bits / n_parameters``, bits/parameter.
    probe : str
        The probe template the values were scored after.
    units : str
        "bits" (``bits_per_parameter`` is in bits/parameter).
    """

    bits: float
    net_bits: float
    entropy_bits: float
    per_attribute: dict
    loss_bits: dict
    n_facts: int
    n_exact: int
    n_parameters: int | None
    bits_per_parameter: float | None
    probe: str = PROBE_TEMPLATE
    units: str = "bits"
    field_units: dict = field(default_factory=lambda: {
        "bits": "bits", "net_bits": "bits", "entropy_bits": "bits", "per_attribute": "bits",
        "loss_bits": "bits/fact",
        "bits_per_parameter": "bits/parameter"})

    @property
    def fraction(self) -> float:
        """Share of the corpus entropy stored (0..1)."""
        return self.bits / self.entropy_bits

    def __float__(self) -> float:
        return float(self.bits)

    def __str__(self) -> str:
        s = f"{self.bits:.6g} of {self.entropy_bits:.6g} bits stored ({self.n_exact}/{self.n_facts} facts exact"
        if self.bits_per_parameter is not None:
            s += f"; {self.bits_per_parameter:.4g} bits/parameter"
        return s + ")"


def stored_bits(model: TokenModel, corpus: FactCorpus, *, batch_size: int = 1024) -> StoredBits:
    """Stored bits = sum over facts of max(0, log2 |domain| - loss bits of the value given the probe).

    Parameters
    ----------
    model : TokenModel
        A model over the corpus's tokenizer (the oracle, the uniform model, or one trained by
        :func:`seminfo.capacity.train_capacity_model` / loaded by :func:`load_capacity_model`).
    corpus : FactCorpus
    batch_size : int
        Probes per forward pass.

    Returns
    -------
    StoredBits
        Float-like (``float(r) == r.bits``), in bits; ``bits_per_parameter`` in bits/parameter when the
        model counts its parameters.

    Raises
    ------
    ModelMismatchError
        The model's tokenizer is not the corpus's.
    """
    func = "stored_bits"
    if not isinstance(model, TokenModel):
        raise InputError(f"The `model` parameter of {func} must be a seminfo TokenModel. Got "
                         f"{type(model).__name__}.")
    if not isinstance(corpus, FactCorpus):
        raise InputError(f"The `corpus` parameter of {func} must be a FactCorpus (from fact_corpus). Got "
                         f"{type(corpus).__name__}.")
    batch_size = as_int(batch_size, "batch_size", func, minimum=1)
    if model.tokenizer.fingerprint() != corpus.tokenizer.fingerprint():
        raise ModelMismatchError(f"The `model` parameter of {func} ({model.name!r}) does not use the corpus's "
                                 "tokenizer: it was trained on another fact corpus. Rebuild the corpus from "
                                 "the model's saved description.")
    per_attr, loss_mean = {}, {}
    n_exact = 0
    total = net = 0.0
    for a, name in enumerate(corpus.attribute_names):
        probe, code = corpus.probes(a)                                      # (N, P), (N, L)
        ids = np.concatenate([probe, code], axis=1)                         # (N, P + L)
        loss = np.empty(corpus.n_people)
        for s in range(0, corpus.n_people, batch_size):
            sur, _ = model.token_stats(ids[s:s + batch_size], n_context=probe.shape[1], entropy=False)
            loss[s:s + batch_size] = sur.sum(axis=1) / math.log(2)          # bits per value
        h = math.log2(int(corpus.domain_sizes[a]))
        bits = float(np.maximum(0.0, h - loss).sum())
        per_attr[name], loss_mean[name] = bits, float(loss.mean())
        n_exact += int((loss < 1.0).sum())
        total += bits
        net += float((h - loss).sum())
    n_par = model.n_parameters()
    return StoredBits(bits=total, net_bits=net, entropy_bits=corpus.entropy_bits, per_attribute=per_attr,
                      loss_bits=loss_mean, n_facts=corpus.n_facts, n_exact=n_exact,
                      n_parameters=None if n_par is None else int(n_par),
                      bits_per_parameter=None if not n_par else total / int(n_par))
