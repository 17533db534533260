"""Semantic embedding and optimal vectorisation (theory §9).

* :mod:`~seminfo.embed.pmi`: co-occurrence counts, (shifted positive) PMI, its truncated SVD and the
  share captured against the rank (Levy & Goldberg 2014; Eckart-Young), and how much of it a model's
  embedding inner products explain.
* :mod:`~seminfo.embed.vectorize`: the rank-d log-bilinear model on the sphere fitted to an exact joint
  law (the curve I_d against d) and the InfoNCE/CPC bound log N - L_NCE against the exact I.
* :mod:`~seminfo.embed.geometry`: Gromov-Wasserstein distance, Johnson-Lindenstrauss distortion and
  intrinsic dimension (TwoNN) of embedding spaces.

Names are loaded on first use, so importing this package imports neither scipy.optimize, torch nor POT.
"""

from __future__ import annotations

from .._lazy import lazy_names

_LAZY = {
    **{name: "pmi" for name in ("Cooccurrence", "PMIEmbedding", "EmbeddingPMIFit", "cooccurrence",
                                "pmi_matrix", "pmi_embedding", "embedding_pmi_fit", "model_pmi_fit")},
    **{name: "vectorize" for name in ("LogBilinearFit", "VectorizationCurve", "InfoNCECurve",
                                      "context_joint", "loglinear_fit", "vectorization_curve",
                                      "infonce_bound", "infonce_curve")},
    **{name: "geometry" for name in ("gromov_wasserstein", "jl_distortion", "intrinsic_dimension",
                                     "layer_intrinsic_dimension", "embedding_matrices")},
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
