"""seminfo: the semantic information theory of LLMs, made measurable.

The unit of semantic information in an LLM is the token. seminfo computes the quantities of that
theory (entropy, directed information, transfer entropy, rate-distortion and rate-reward functions,
information flow, code lengths) exactly on sources whose truth is known, and with stated
uncertainty on real token models. Bits by default; every result states its units.

Importing seminfo is cheap and never imports torch: public names are loaded on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    # exact measures on explicit pmfs (seminfo.exact)
    **{name: "exact" for name in (
        "entropy", "conditional_entropy", "mutual_information", "conditional_mutual_information",
        "relative_entropy", "cross_entropy", "directed_information", "causally_conditioned_entropy",
        "reverse_directed_information", "stationary_transfer_entropy")},
    # finite-state token sources with exact ground truth (seminfo.sources)
    **{name: "sources" for name in (
        "IIDSource", "MarkovSource", "HiddenMarkovSource", "FeedbackChannel")},
    # estimators from samples (seminfo.estimators)
    **{name: "estimators" for name in (
        "estimate_entropy_rate", "estimate_mutual_information", "transfer_entropy",
        "estimate_directed_information", "surrogate_test")},
    # token models (seminfo.models)
    **{name: "models" for name in ("load_model", "score_text", "score_bytes", "elbo", "compare_models")},
    # rate-distortion family (seminfo.rd)
    **{name: "rd" for name in (
        "rate_distortion", "rate_distortion_curve", "channel_capacity", "information_bottleneck",
        "directed_rate_distortion", "rate_reward", "loss_memory_frontier")},
    # inference-time information flow and Granger causality (seminfo.flow)
    **{name: "flow" for name in ("granger", "information_flow", "logit_lens")},
    # semantic embedding, optimal vectorisation and geometry (seminfo.embed)
    **{name: "embed" for name in (
        "cooccurrence", "pmi_matrix", "pmi_embedding", "embedding_pmi_fit", "model_pmi_fit", "context_joint",
        "loglinear_fit", "vectorization_curve", "infonce_bound", "infonce_curve", "gromov_wasserstein",
        "jl_distortion", "intrinsic_dimension", "layer_intrinsic_dimension", "embedding_matrices")},
    # the energy-based view (seminfo.energy)
    **{name: "energy" for name in (
        "boltzmann", "hopfield_retrieval", "hopfield_descent", "hopfield_capacity",
        "hopfield_energy", "hopfield_update", "ramsauer_capacity_bound")},
    # knowledge capacity of token models (seminfo.capacity; the module itself is public too)
    **{name: "capacity" for name in ("capacity", "stored_bits")},
    # generalisation bounds (seminfo.bounds)
    "generalization_bound": "bounds",
    # lossless compression (seminfo.coding)
    **{name: "coding" for name in ("compress", "decompress")},
}

from .errors import (  # noqa: E402  (light, always loaded)
    AlphabetError, ArchiveError, CapabilityError, ConvergenceError, DependencyError, DistributionError, InputError,
    ModelMismatchError, ModelNotAvailableError, SeminfoError, ShapeError)
from ._lazy import lazy_names  # noqa: E402
from .results import Estimate, Interval  # noqa: E402

__all__ = sorted([*_LAZY, "SeminfoError", "InputError", "DistributionError", "ShapeError",
                  "AlphabetError", "ModelNotAvailableError", "ModelMismatchError", "ArchiveError",
                  "ConvergenceError", "DependencyError", "CapabilityError", "Estimate", "Interval", "__version__"])


__getattr__, __dir__ = lazy_names(__name__, _LAZY, [n for n in __all__ if n not in _LAZY])
