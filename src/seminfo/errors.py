"""The one exception hierarchy of seminfo.

Every error seminfo raises on purpose derives from :class:`SeminfoError`. Errors caused by the
caller's input also derive from :class:`ValueError`, so ``except ValueError`` keeps working.
Messages follow one wording: the parameter in backticks, the rule, what was received and, where
it helps, how to fix it::

    The `p` parameter of entropy must sum to 1 (tolerance 1e-09). Got a sum of 0.9.
"""

from __future__ import annotations

__all__ = [
    "SeminfoError",
    "InputError",
    "DistributionError",
    "ShapeError",
    "AlphabetError",
    "ModelNotAvailableError",
    "ModelMismatchError",
    "ArchiveError",
    "ConvergenceError",
    "DependencyError",
    "CapabilityError",
]


class SeminfoError(Exception):
    """Root of every error raised by seminfo. Its message is always one line: line breaks (say from the
    repr of an array quoted in the message) are folded into spaces when the error is made."""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (" ".join(args[0].split()), *args[1:])
        super().__init__(*args)


class InputError(SeminfoError, ValueError):
    """An argument is invalid (wrong value, type, size or combination)."""


class DistributionError(InputError):
    """A probability distribution is negative, not finite or not normalised."""


class ShapeError(InputError):
    """Arrays have the wrong number of axes or mismatched lengths."""


class AlphabetError(InputError):
    """A symbol lies outside the declared alphabet, or alphabets disagree."""


class ModelNotAvailableError(InputError, LookupError):
    """A token model is unknown or not available offline."""


class ModelMismatchError(InputError):
    """A model and a tokenizer, archive or state do not belong together."""


class CapabilityError(InputError):
    """A model lacks a capability the call needs (e.g. compressing with a masked-diffusion model,
    which cannot run left to right). The message names the capability and what has it."""


class ArchiveError(SeminfoError, ValueError):
    """A compressed archive is truncated, corrupted, of an unknown version or for another model."""


class ConvergenceError(SeminfoError, RuntimeError):
    """An iterative solver stopped before reaching its requested accuracy (only when asked to raise)."""


class DependencyError(SeminfoError, ImportError):
    """An optional dependency (an extra) is needed for this feature and is not installed."""
