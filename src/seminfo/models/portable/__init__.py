"""Portable, bit-exact inference for the built-in models: the same integer probabilities on every machine.

Scope
-----
Floating-point inference is not reproducible across thread counts, instruction sets (AVX2 against
AVX-512) or devices: reductions run in different orders, and batched and incremental passes differ
too. An archive coded with float probabilities may therefore not decode elsewhere (theory §12).
This package gives ``builtin:gpt``, ``builtin:smollm2`` and ``builtin:ngram[:N]`` a second inference
path whose next-token distributions are integer frequency rows computed exactly:

>>> import numpy as np
>>> from seminfo.models.portable import portable_model, has_portable_path
>>> m = portable_model("builtin:gpt")
>>> ids = np.array([m.tokenizer.encode("Tokens carry information.")])
>>> st, F = m.feed_freqs(m.begin(1), ids)     # F: int64 (B, T, K), every entry >= 1
>>> F.shape == (1, ids.shape[1], m.vocab_size), F.dtype == np.int64, bool(F.min() >= 1)
(True, True, True)

Interface (what the coder uses)
-------------------------------
``has_portable_path(spec_or_model)``, ``portable_model(spec_or_model, device="cpu")`` ->
:class:`~.model.PortableModel` with ``name`` (the float model's spec), ``portable = True``,
``portable_id()`` == ``fingerprint()`` (sha256 of the integer weights, the tables, the tokenizer and
:data:`~.fixed.ARITHMETIC_VERSION`), ``vocab_size``, ``prefix``, ``max_context``, ``tokenizer``,
``max_total`` (largest row total, 2^30 + K), the TokenModel methods (log-probabilities derived from
the rows), ``begin(B).freqs`` (B, K), ``feed_freqs(state, ids)`` -> (state, (B, T, K)),
``freq_table(ids)`` -> (B, T + 1, K) (prefix prepended; row 0 predicts the first token) and
``freq_rows(ids, targets)`` -> (cum_low, freq, total) of each target under the rows of
``freq_table(ids)`` (targets (B, T + 1) or (B, T)), computed in chunks without holding (T, K).

Why it is exact (transformers)
------------------------------
* **Matrix products with weights** (:func:`.fixed.int_linear`): weights are int8 with one scale per
  output channel (symmetric absmax, computed with elementwise IEEE operations, so every machine
  derives the same integers). Each activation row (one token) is scaled by its own power of two to 15
  bits, split as ``a = 128 hi + lo`` (hi in -128..127, lo in 0..127) and both halves go through ONE
  ``torch._int_mm`` call (int8 x int8 -> int32, the weights read once). Integer accumulation is
  exact (|sum| < K 127 2^14 < 2^31 for K < 1,000; products are recombined in int64), so the order
  of the additions -- threads, SIMD width, GPU -- cannot change the result. The per-channel scale
  is applied as ``(acc * m_c) >> (shift - e)`` with rounding, m_c < 2^20.
* **Between the products** everything is int64 fixed point with 16 fractional bits: the residual
  stream, LayerNorm/RMSNorm (integer sums, an integer square root: a float64 sqrt as first guess,
  then corrected with integer comparisons, so the result is exactly floor(sqrt(v))), GELU-new and
  SiLU (tables on a 2^-8 grid, linear interpolation in integers, identity/zero outside the table),
  rotary embeddings (cos/sin tables at Q28), SwiGLU products.
* **Attention**: queries are scaled per row (token, head) to 17 bits, keys are fixed point with 12
  fractional bits (|k| <= 2^24); ``q.k`` is a float64 matrix product of integers with |partial
  sums| < hs 2^41 < 2^53, hence exact in any order, and the query's scale is applied afterwards.
  Scores (in units of 2^-12 nats) go through exp(s - max) from a table (Q30), the probabilities are
  ``floor(w 2^24 / sum w)`` and ``sum_j p_j v_j`` is again an exact float64 product (sum p_j <=
  2^24, |v| clamped to 2^27, so every partial sum < 2^51). Between the two products only single
  elementwise IEEE-754 operations (+, -, *, /, floor), each correctly rounded and so the same on
  every machine, and order-free reductions (max; sums of integers below 2^53). Each row depends
  only on its own tokens: results do not depend on the batch, on how a sequence is split into
  calls (one pass == token by token with the KV cache), or on the machine.
* **Output**: logits are formed exactly in float64 (an integer below 2^52 times a power of two)
  -> ``f_v = floor(exp(z_v - max) 2^30 / sum) + 1`` with the same table: every token keeps mass,
  and a row adds up to at most 2^30 + K < 2^31.

Speed
-----
Decoding one token at a time is bound by the cost per operation, not by arithmetic (the int8
products are cheap). On the CPU the fused C kernels of :mod:`.fast` (``kernels.c``, compiled on first
use with the system's C compiler and cached under ``$SEMINFO_CACHE/kernels``) run each layer as a
handful of calls: split and scale rows for an int8 product, finish a product into the residual
stream, a norm with its gain, the activation tables, rotary embedding with the key/value cache and
attention, the head. Each kernel is the operation-for-operation translation of the numpy code (integers;
doubles only where the numpy code uses them, one IEEE operation at a time; fused multiply-adds only on
integers whose products and sums stay below 2^53, exact either way), so
the rows are the same integers: the tests compare the two on random inputs and whole models, and an
archive made with the kernels decodes without them. Without a compiler (or with
``SEMINFO_KERNELS=0``) small calls run on numpy arrays and large ones on torch tensors, with the
products through ``torch._int_mm`` either way; other devices run the torch path. The kernels also
fold constants (``2 m_c``, ``2 b_c + 1``, ``b 2^G + 2^(G-1)``, the table differences) so that each
rounding is one shift. Where the compiler targets AVX-512 VNNI, every call also does its int8
products in C (VNNI, or AMX tiles for calls of 16 rows or more where the CPU has them; exact integer
sums: ``torch._int_mm``'s accumulators bit for bit), all the transformer blocks of a call are one
kernel call, the key/value cache is int32, and a small pool of threads splits the rows of a batch, or,
when decoding, every product by columns and the attention by heads. The encoder feeds its restart
segments side by side. builtin:gpt then encodes in about 1.8x the float model's scoring time and
decodes one block at about 3,100-4,500 tokens/s (5-7x the float path); docs/compression.md has the
table. ``benchmarks/bench_portable.py`` and ``benchmarks/bench_compress.py --portable`` measure the
speed.

Tables
------
exp(-x) on a grid of 2^-12 nats up to 22 nats (90,113 entries, Q30, built exactly in integers from
two decimal tables), GELU-new (4,097 entries) and SiLU (10,241 entries) on a 2^-8 grid at Q16, and
RoPE cos/sin (positions x head_dim/2 at Q28) are computed at first use with Python's ``decimal``
(correctly rounded ``exp``/``ln``, Taylor series) and Python integers (RoPE angles by exact complex
multiplication in 2^-120 fixed point), never with the platform's libm, and each is checked against
a sha256 recorded in :mod:`.fixed` (``TABLE_SHA256``); a mismatch raises ModelMismatchError. Norm
gains have 24 fractional bits (SmolLM2 has RMSNorm weights of 2e-4).

Quantisation
------------
Weights are int8 per output channel; the tied embedding/head matrix too (the input embedding is
the dequantised int8 row). What this costs in bits is measured by ``benchmarks/bench_portable.py``
(see its table).

n-gram (builtin:ngram[:N])
--------------------------
:class:`.ngram.PortableNgram` recomputes the Kneser-Ney terms from the integer count tables with
exact integer reductions (count sums below 2^53 are exact in float64 in any order) and then only
elementwise IEEE operations (+, -, *, /) in a fixed order -- no reduction whose order can vary, no
exp or log -- so the float64 probability of each token is the same on every IEEE-754 machine; it is
then quantised to ``floor(p 2^30) + 1``.

Leaves out: other architectures (``has_portable_path`` is False for them), CUDA testing (the code
is device-agnostic and pads ``_int_mm`` rows for CUDA's M > 16 rule, but it was not run on a GPU).
"""

from __future__ import annotations

from typing import Any

from ...errors import ModelNotAvailableError

__all__ = ["portable_model", "has_portable_path", "PORTABLE_SPECS"]

#: Specs with a portable path ("builtin:ngram:N" for any order too).
PORTABLE_SPECS = ("builtin:gpt", "builtin:smollm2", "builtin:ngram")


def _spec_of(spec_or_model: Any) -> str | None:
    if isinstance(spec_or_model, str):
        return spec_or_model
    return getattr(spec_or_model, "name", None) if not isinstance(spec_or_model, type) else None


def has_portable_path(spec_or_model: Any) -> bool:
    """True for builtin:gpt, builtin:smollm2 and builtin:ngram[:N] (a spec or a loaded model)."""
    if getattr(spec_or_model, "portable", False) is True:
        return True
    spec = _spec_of(spec_or_model)
    if not isinstance(spec, str):
        return False
    if spec in ("builtin:gpt", "builtin:smollm2", "builtin:ngram"):
        return True
    return spec.startswith("builtin:ngram:") and spec.rsplit(":", 1)[1].isdigit()


def portable_model(spec_or_model: Any, device: str = "cpu"):
    """The portable (integer) twin of a built-in model.

    Parameters
    ----------
    spec_or_model : str or TokenModel
        "builtin:gpt", "builtin:smollm2", "builtin:ngram", "builtin:ngram:N", or a model loaded from
        one of them (its weights, counts and tokenizer are reused). A portable model is returned as is.
    device : str
        'cpu' (default), 'cuda', 'cuda:N'; the numbers are the same on every device.

    Returns
    -------
    PortableModel

    Raises
    ------
    ModelNotAvailableError
        The model has no portable path (only the built-in models above have one).
    """
    if getattr(spec_or_model, "portable", False) is True:
        return spec_or_model
    if not has_portable_path(spec_or_model):
        raise ModelNotAvailableError(
            f"The model {_spec_of(spec_or_model)!r} has no portable (integer) inference path; portable "
            "paths exist for builtin:gpt, builtin:smollm2 and builtin:ngram[:N].")
    from ..hf import resolve_device
    device = resolve_device(device, "portable_model")
    spec = _spec_of(spec_or_model)
    model = None if isinstance(spec_or_model, str) else spec_or_model
    if spec.startswith("builtin:ngram"):
        from .ngram import portable_ngram
        return portable_ngram(spec, model)
    if spec == "builtin:gpt":
        from .loaders import portable_gpt
        return portable_gpt(model, device)
    from .loaders import portable_smollm2
    return portable_smollm2(model, device)
