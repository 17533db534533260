"""Generalisation bounds for token models: compression (Occam) bounds at document and token level.

* :mod:`.generalization`: :func:`generalization_bound` (Lotfi et al. 2023, document level; Lotfi et
  al. 2024, token level, a martingale bound), the formula :func:`compression_bound`, prediction
  smoothing and its loss range.
* :mod:`.description`: the description length of a model, in bits: its parameters quantised (neural
  models) or exact (n-gram counts), coded with the project's range coder.

See docs/bounds.md and theory §11. torch is imported only when a neural model is quantised.
"""

from .description import (LEVEL_GRID, DescriptionLength, coded_integer_bits, coded_symbol_bits,
                          elias_gamma_bits, ngram_description, quantize_hf)
from .generalization import (ALPHA_GRID, KINDS, GeneralizationBound, compression_bound, generalization_bound,
                             loss_range, smoothed_bits)

__all__ = ["ALPHA_GRID", "KINDS", "LEVEL_GRID", "DescriptionLength", "GeneralizationBound", "coded_integer_bits",
           "coded_symbol_bits", "compression_bound", "elias_gamma_bits", "generalization_bound", "loss_range",
           "ngram_description", "quantize_hf", "smoothed_bits"]
