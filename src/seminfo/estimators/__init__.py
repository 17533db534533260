"""Estimators of information measures from integer sequences (theory §3).

* :mod:`.plugin`: entropy rate, mutual information and transfer entropy, plug-in with the
  Miller-Madow correction, sparse counting (:mod:`.counting`) so alphabets of 10^4+ symbols work.
* :mod:`.universal`: the universal directed-information estimator of Jiao et al. (2013) with a
  pluggable sequential predictor, by default context-tree weighting (:mod:`.ctw`).
* :mod:`.surrogate`: permutation p-values for a directed dependence.
* :mod:`.gaussian`: continuous data: Gaussian MI / TE in closed form and the KSG estimator.

Every estimator returns a :class:`seminfo.Estimate` with units (bits/symbol by default) and a
standard error. Nothing here imports torch.
"""

from .ctw import CTWPredictor
from .gaussian import gaussian_mutual_information, gaussian_transfer_entropy, ksg_mutual_information
from .plugin import estimate_entropy_rate, estimate_mutual_information, transfer_entropy
from .surrogate import SurrogateResult, surrogate_test
from .universal import estimate_directed_information

__all__ = ["estimate_entropy_rate", "estimate_mutual_information", "transfer_entropy",
           "estimate_directed_information", "surrogate_test", "SurrogateResult", "CTWPredictor",
           "gaussian_mutual_information", "gaussian_transfer_entropy", "ksg_mutual_information"]
