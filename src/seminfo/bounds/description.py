"""Description length of a token model: the bits that name it among all models of its architecture.

Scope
-----
A compression (Occam) bound needs a prefix-free code for the model; its length L in bits is the
complexity of the model. We write one down and count its bits exactly, with the project's entropy
coder (constriction's queue range coder [1], as :mod:`seminfo.coding.rangecoder` uses it):

* **integer symbols** (:func:`coded_symbol_bits`): a static model, the symbols' own histogram, whose
  cost is paid in a header: the offset and the alphabet size (Elias gamma), then one count per
  symbol value, each in ``ceil(log2(n + 1))`` bits; the symbols themselves are range-coded with
  ``Categorical(counts / n, perfect=False)`` and the length is the number of 32-bit words the
  encoder emits, times 32. The decoder reads the header, rebuilds the same float64 probabilities
  and decodes; so the count is the length of a real code, not an entropy estimate.
* **unbounded non-negative integers** (:func:`coded_integer_bits`): each value v is split into its
  bit length e = bit_length(v) and its e - 1 bits below the leading one (an Elias-gamma layout);
  the e's are range-coded as symbols above and the low bits are stored raw.
* **Hugging Face models** (:func:`quantize_hf`): every parameter tensor (tied tensors once) is put
  on a uniform symmetric grid of `levels` points (odd) spanning [-max|w|, +max|w|] of that tensor:
  step = 2 max|w| / (levels - 1), symbol = round(w / step), weight = symbol * step. Per tensor the
  code holds max|w| as float32 (32 bits) and the symbols (integer code above). Buffers (masks,
  position ids) and the shapes belong to the architecture, which the code does not name. The bound
  is for the quantised model, so the caller scores that model (a deep copy with the grid weights).
* **Kneser-Ney n-grams** (:func:`ngram_description`): the parameters are the integer count tables
  that determine the model exactly (``KneserNeyModel.save`` writes the same arrays): for every
  order k the sorted k-gram keys and their counts (raw counts at the top order, continuation counts
  below), and for every context length j the sorted context keys. Sorted keys are coded as their
  first value and their gaps, counts as they are, all with the integer code above. Nothing is
  quantised, so the model is unchanged. The order, K, prefix and tokenizer are the architecture.

The bound charges ``L + 2 log2 L`` bits (a prefix-free code for L itself, Lotfi et al. [2]).

References
----------
[1] R. Bamler, "Understanding Entropy Coding With Asymmetric Numeral Systems (ANS): a
    Statistician's Perspective", arXiv:2201.01741 (2022); the `constriction` library.
[2] S. Lotfi, M. Finzi, Y. Kuang, T. G. J. Rudner, M. Goldblum, A. G. Wilson, "Non-Vacuous
    Generalization Bounds for Large Language Models", arXiv:2312.17173 (2023), section 4.

Leaves out: k-means or learned codebooks, quantisation-aware fine-tuning, subspace (intrinsic
dimension) or LoRA compression, pruning of n-gram tables.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import as_int
from ..errors import InputError
from ..results import Result

__all__ = ["DescriptionLength", "coded_symbol_bits", "coded_integer_bits", "elias_gamma_bits",
           "quantize_hf", "ngram_description", "LEVEL_GRID"]

#: Grid of quantisation levels searched for Hugging Face models (paid for: log2 of its size bits).
LEVEL_GRID = (9, 17, 33, 65)


@dataclass(frozen=True)
class DescriptionLength(Result):
    """Coded size of a model's parameters.

    Attributes
    ----------
    bits : float
        L, the length of the code (headers included), in bits.
    n_parameters : int
        Number of numbers coded (weights, or n-gram keys and counts).
    quantisation : str
        What was quantised and how ("none" when the parameters are coded exactly).
    levels : int or None
        Grid points per tensor (None when nothing is quantised).
    parts : dict
        Bits of each coded part (tensor name or n-gram table), headers included.
    units : str
        ``"bits"``.
    """

    bits: float
    n_parameters: int
    quantisation: str
    levels: int | None = None
    parts: dict = field(default_factory=dict, repr=False)
    units: str = "bits"

    @property
    def bits_per_parameter(self) -> float:
        """``bits / n_parameters`` (bits/parameter)."""
        return self.bits / self.n_parameters if self.n_parameters else math.nan


def elias_gamma_bits(n: int) -> int:
    """Length of the Elias gamma code of a positive integer: ``2 floor(log2 n) + 1`` bits.

    >>> [elias_gamma_bits(n) for n in (1, 2, 3, 4, 1000)]
    [1, 3, 3, 5, 19]
    """
    n = as_int(n, "n", "elias_gamma_bits", minimum=1)
    return 2 * (n.bit_length() - 1) + 1


def _zigzag(v: int) -> int:
    """A signed integer as a positive one (0 -> 1, -1 -> 2, 1 -> 3, ...), for Elias gamma."""
    return 2 * v + 1 if v >= 0 else -2 * v


def coded_symbol_bits(symbols: Any) -> int:
    """Bits of a self-describing range code of integer `symbols` under their own histogram.

    Header: Elias gamma of the number of symbols + 1, of the offset min(symbols) (zigzag) and of
    the alphabet size A = max - min + 1, then A counts of ``ceil(log2(n + 1))`` bits each. Payload:
    the 32-bit words of constriction's RangeEncoder with ``Categorical(counts / n, perfect=False)``.

    Parameters
    ----------
    symbols : array_like of int, 1-D

    Returns
    -------
    int
        Total length in bits (header and payload).

    Examples
    --------
    >>> x = np.repeat([0, 1, 2, 3], 2500)            # 2 bits of entropy per symbol
    >>> 20000 <= coded_symbol_bits(x) <= 20000 + 64 + 80
    True
    """
    x = np.asarray(symbols)
    if x.ndim != 1 or (x.size and x.dtype.kind not in "iu"):
        raise InputError(f"The `symbols` parameter of coded_symbol_bits must be a 1-D array of integers. "
                         f"Got shape {x.shape}, dtype {x.dtype}.")
    n = int(x.size)
    header = elias_gamma_bits(n + 1)
    if n == 0:
        return header
    lo, hi = int(x.min()), int(x.max())
    A = hi - lo + 1
    header += elias_gamma_bits(_zigzag(lo)) + elias_gamma_bits(A) + A * math.ceil(math.log2(n + 1))
    if A == 1:
        return header                                   # every symbol is the offset: nothing to code
    counts = np.bincount((x - lo).astype(np.int64), minlength=A)
    import constriction
    model = constriction.stream.model.Categorical(counts / n, perfect=False)
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode((x - lo).astype(np.int32), model)
    return header + 32 * int(enc.get_compressed().size)


def coded_integer_bits(values: Any) -> int:
    """Bits of a code for non-negative integers: range-coded bit lengths plus raw low bits.

    Each v >= 0 is sent as e = bit_length(v) (coded by :func:`coded_symbol_bits`) followed by the
    e - 1 bits of v below its leading one (none for v = 0 or 1).

    >>> coded_integer_bits([1] * 100) == coded_symbol_bits(np.ones(100, dtype=np.int64))
    True
    """
    v = np.asarray(values)
    if v.ndim != 1 or (v.size and (v.dtype.kind not in "iu" or v.min() < 0)):
        raise InputError("The `values` parameter of coded_integer_bits must be a 1-D array of "
                         "non-negative integers.")
    v = v.astype(np.int64)
    e = np.zeros(v.size, dtype=np.int64)
    nz = v > 0
    e[nz] = np.floor(np.log2(v[nz])).astype(np.int64) + 1
    # float log2 can be off by one just below a power of two: fix against exact integer tests
    e[nz] += (v[nz] >= (np.int64(1) << e[nz])).astype(np.int64)
    e[nz] -= (v[nz] < (np.int64(1) << (e[nz] - 1))).astype(np.int64)
    return coded_symbol_bits(e) + int(np.maximum(e - 1, 0).sum())


# ------------------------------------------------------------------------------ Hugging Face weights
def _quantize_tensor(w: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(symbols in -c..c, reconstructed float32 weights) of one tensor on its symmetric grid."""
    c = (levels - 1) // 2
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return np.zeros(w.size, dtype=np.int64), np.zeros_like(w, dtype=np.float32)
    step = np.float32(scale / c)
    q = np.clip(np.rint(w / step), -c, c).astype(np.int64)
    return q.reshape(-1), (q.astype(np.float32) * step).reshape(w.shape)


def quantize_hf(model: Any, levels: int) -> tuple[Any, DescriptionLength]:
    """A copy of a Hugging Face token model with every weight on a `levels`-point grid, and its L.

    Parameters
    ----------
    model : seminfo.models.hf.HFModel
    levels : int
        Odd number >= 3 of grid points per tensor (symmetric about 0, so 0 is a point).

    Returns
    -------
    (HFModel, DescriptionLength)
        The quantised model (same tokenizer, prefix and device; the original is untouched) and
        the coded size of its weights: per tensor 32 bits for max|w| plus the symbol code.
    """
    import torch

    from ..models.hf import HFModel
    levels = as_int(levels, "levels", "quantize_hf", minimum=3)
    if levels % 2 == 0:
        raise InputError(f"The `levels` parameter of quantize_hf must be odd (a symmetric grid with 0 "
                         f"on it). Got {levels}.")
    hf = copy.deepcopy(model.hf_model)
    parts, total, n = {}, 0, 0
    with torch.no_grad():
        for name, p in hf.named_parameters():             # tied tensors are listed once
            w = p.detach().to("cpu", torch.float32).numpy()
            sym, wq = _quantize_tensor(w, levels)
            bits = 32 + coded_symbol_bits(sym)
            parts[name] = bits
            total += bits
            n += int(w.size)
            p.copy_(torch.from_numpy(wq).to(p.device, p.dtype))
    qmodel = HFModel(hf, model.tokenizer, name=f"{model.name} (quantised, {levels} levels)",
                     device=model.device, prefix=model.prefix)
    desc = DescriptionLength(
        bits=float(total), n_parameters=n, levels=levels, parts=parts,
        quantisation=(f"uniform symmetric grid of {levels} points per tensor over [-max|w|, max|w|] "
                      "(max|w| stored as float32), symbols range-coded under their own histogram"))
    return qmodel, desc


# ------------------------------------------------------------------------------ n-gram count tables
def ngram_description(model: Any) -> DescriptionLength:
    """Coded size of a :class:`~seminfo.models.ngram.KneserNeyModel`'s count tables (exact, no
    quantisation): sorted keys as first value + gaps, counts as they are, integer code."""
    arrays = model._arrays()            # the tables save() writes and fingerprint() hashes
    parts, total, n = {}, 0, 0
    for name, arr in arrays.items():
        a = np.asarray(arr, dtype=np.int64)
        vals = np.diff(a, prepend=0) if name.startswith(("keys_", "ctx_keys_")) else a
        if vals.size and vals.min() < 0:               # keys are sorted: a negative gap is a bug
            raise InputError(f"The n-gram table {name!r} is not sorted; the model is damaged.")
        bits = elias_gamma_bits(a.size + 1) + coded_integer_bits(vals)
        parts[name] = bits
        total += bits
        n += int(a.size)
    return DescriptionLength(
        bits=float(total), n_parameters=n, levels=None, parts=parts,
        quantisation=("none: the integer count tables (k-gram keys and counts per order, context keys "
                      "per length) are coded exactly"))
