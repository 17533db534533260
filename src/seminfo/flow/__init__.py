"""Semantic information flow at inference and Granger causality (theory §7 and §8).

* :mod:`.analysis`: :func:`analyze_flow`, everything `seminfo flow` shows in one call.
* :mod:`.density`: prompt -> response information density iota_t, S_t, the sub-martingale test and
  I(X; Y^n) over a prompt set; the directed form for multi-turn input.
* :mod:`.answer`: information about an answer along reasoning paths, martingale diagnostic.
* :mod:`.lens`: the logit lens through the layers (GPT-2, Llama, Mamba, Mamba2, masked diffusion).
* :mod:`.granger`: Granger causality between token streams (held-out log-loss improvement).
* :mod:`.var`: linear Granger (VAR, F test, Gaussian transfer entropy) for continuous trajectories.
* :mod:`.attention`: attention heads as a time-varying VAR.
* :mod:`.ssm`: Mamba2's state-space mixer as the same kind of VAR (state-space duality).
* :mod:`.pearl`: a confounded structural causal model (Granger is not intervention).

None of these modules imports torch at import time. See docs/flow.md.
"""

from .analysis import FlowAnalysis, analyze_flow
from .answer import AnswerResult, answer_information
from .attention import AttentionVAR, attention_var
from .density import (FlowResult, SubmartingaleResult, density_terms, flow_elbo, information_flow,
                      multi_turn_flow, prompt_information, submartingale_test)
from .granger import granger
from .lens import LensResult, logit_lens, residual_streams
from .pearl import ConfoundedSCM, LadderResult
from .ssm import SSMVAR, ssm_var
from .var import GrangerEstimate, linear_granger, pca_trajectory

__all__ = ["analyze_flow", "FlowAnalysis", "information_flow", "flow_elbo", "multi_turn_flow", "submartingale_test", "prompt_information",
           "density_terms", "FlowResult", "SubmartingaleResult", "answer_information", "AnswerResult",
           "logit_lens", "LensResult", "residual_streams", "granger", "linear_granger", "pca_trajectory", "GrangerEstimate",
           "attention_var", "AttentionVAR", "ssm_var", "SSMVAR", "ConfoundedSCM", "LadderResult"]
