"""Knowledge capacity of token models in bits per parameter (Allen-Zhu & Li 2024; theory §11).

* :mod:`.facts` — synthetic fact corpora of exact entropy (:func:`fact_corpus`), their word-level
  tokenizer, and the oracle and uniform reference models;
* :mod:`.measure` — :func:`stored_bits`: sum over facts of max(0, log2 |domain| - loss bits of the value);
* :mod:`.train` — GPT-2-style models trained for a number of exposures per fact, saved as safetensors;
* :mod:`.experiment` — the sizes x exposures experiment, its shipped results and their plot.

References: Z. Allen-Zhu, Y. Li, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
arXiv:2404.05405, 2024. See docs/capacity.md.

Leaves out: quantisation (int8/int4 capacity), mixtures with junk data, architectures other than GPT-2.
"""

from __future__ import annotations

from .._lazy import lazy_names

_LAZY = {
    **{n: "facts" for n in ("fact_corpus", "FactCorpus", "FactTokenizer", "FactModel", "TEMPLATES",
                            "PROBE_TEMPLATE")},
    **{n: "measure" for n in ("stored_bits", "StoredBits")},
    **{n: "train" for n in ("train_capacity_model", "save_capacity_model", "load_capacity_model",
                            "TrainRecord", "count_parameters")},
    **{n: "experiment" for n in ("run_experiment", "load_results", "plot_capacity", "CapacityResults",
                                 "DEFAULT_SIZES", "GPU_SIZES", "RESULTS_PATH")},
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
