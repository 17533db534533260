"""Finite-state token sources with exact ground truth (theory §2).

iid (:mod:`.iid`), Markov of order k (:mod:`.markov`), hidden Markov (:mod:`.hmm`) sources, all
:class:`~seminfo.sources.base.TokenSource` objects with a predictive interface, and a finite-state
channel used with feedback (:mod:`.channel`) whose directed informations are exact. See docs/sources.md.
"""

from .base import TokenSource
from .channel import FeedbackChannel, FeedbackRates
from .hmm import HiddenMarkovSource
from .iid import IIDSource
from .markov import MarkovSource

__all__ = ["TokenSource", "IIDSource", "MarkovSource", "HiddenMarkovSource", "FeedbackChannel",
           "FeedbackRates"]
