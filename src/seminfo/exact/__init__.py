"""Exact information measures on explicit distributions (theory §1).

Entropy, conditional entropy, mutual information, conditional mutual information, relative entropy
and cross-entropy (:mod:`.shannon`); directed information, causally conditioned entropy and reverse
directed information (:mod:`.directed`); transfer entropy of a stationary law (:mod:`.transfer`).
Everything is float64, 0 log 0 = 0, bits unless `base` says otherwise. See docs/exact.md.
"""

from .directed import causally_conditioned_entropy, directed_information, reverse_directed_information
from .shannon import (conditional_entropy, conditional_mutual_information, cross_entropy, entropy,
                      mutual_information, relative_entropy)
from .transfer import stationary_transfer_entropy

__all__ = ["entropy", "conditional_entropy", "mutual_information", "conditional_mutual_information",
           "relative_entropy", "cross_entropy", "directed_information", "causally_conditioned_entropy",
           "reverse_directed_information", "stationary_transfer_entropy"]
