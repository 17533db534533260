"""Rate-distortion family (theory §5, §6): R(D) and D(R) with certified intervals, channel capacity,
information bottleneck, directed rate-distortion, log-loss and the loss-memory frontier, and the
directed rate-reward function.

All results are bits unless stated and say whether they are per symbol, per token or per response.
A result with a certified enclosure has ``lower <= headline <= upper`` in its ``units`` (``width``,
``interval``); see docs/rate_distortion.md.
"""

from .blahut import (DistortionRateResult, RateDistortionCurve, RateDistortionResult, distortion_rate,
                     rate_distortion, rate_distortion_curve)
from .bottleneck import InformationBottleneckCurve, information_bottleneck
from .capacity import CapacityResult, channel_capacity
from .directed import DirectedRateDistortionResult, block_rate_distortion, directed_rate_distortion
from .logloss import (LogLossRateDistortionResult, LossMemoryFrontier, ModelPoint,
                      logloss_rate_distortion, loss_memory_frontier, ngram_point, transformer_point)
from .reward import (BestOfNResult, RateRewardCurve, RateRewardResult, SampledRateReward, best_of_n,
                     per_token_divergence, rate_reward, rate_reward_curve, rate_reward_from_samples,
                     rate_reward_model)

__all__ = [
    "rate_distortion", "distortion_rate", "rate_distortion_curve", "channel_capacity",
    "information_bottleneck", "directed_rate_distortion", "block_rate_distortion",
    "logloss_rate_distortion", "loss_memory_frontier", "ngram_point", "transformer_point",
    "rate_reward", "rate_reward_curve", "best_of_n", "per_token_divergence",
    "rate_reward_from_samples", "rate_reward_model",
    "RateDistortionResult", "DistortionRateResult", "RateDistortionCurve", "CapacityResult",
    "InformationBottleneckCurve", "DirectedRateDistortionResult", "LogLossRateDistortionResult",
    "LossMemoryFrontier", "ModelPoint",
    "RateRewardResult", "RateRewardCurve", "BestOfNResult", "SampledRateReward"]
