"""Fixed-point kernels of the portable models: every result an exact integer, the same on any machine.

Scope
-----
The integer building blocks of :mod:`seminfo.models.portable` (design notes in its ``__init__``):

* :func:`int_linear` -- a linear layer ``x W + b`` with int8 weights (one scale per output channel)
  and 15-bit activations (one power-of-two scale per row), through ``torch._int_mm`` (int8 x int8
  -> int32, exact integer accumulation);
* :func:`norm_rows` -- LayerNorm / RMSNorm with integer sums and an exact integer square root;
* :func:`exp_table`, :func:`lookup` -- exp(-x), GELU and SiLU from fixed tables (linear
  interpolation in integers);
* :func:`attention` -- causal attention: table softmax, probabilities by one division; the two
  products run as float64 matrix products of integers small enough that every partial sum is
  exact, so their order (threads, SIMD width, GPU) cannot change them;
* :func:`head_freqs` -- the integer frequency rows a range coder needs.

Activations are int64 arrays in fixed point with :data:`F` fractional bits (value = int / 2^F):
numpy arrays on the CPU, torch tensors on other devices (see "two backends" below; the results are
the same integers either way).
Floating point appears only where its result is the same on every IEEE-754 machine: float64 matrix
products of bounded integers (exact), reductions that are exact (max; sums of integers below 2^53),
and single elementwise operations (+, -, *, /, sqrt, floor, conversions), each correctly rounded by
the standard -- never exp/log/pow from libm, never a fused or reordered reduction of inexact values.
The integer square root takes a float sqrt as first guess and corrects it exactly.

The tables are computed with Python's ``decimal`` module (correctly rounded ``exp``, fully specified
arithmetic) and integers, never with the platform's libm, and each is checked against a sha256
recorded here (:data:`TABLE_SHA256`): a machine that computes a different table raises
:class:`~seminfo.errors.ModelMismatchError` instead of producing archives that other machines
cannot read.

References: theory §12 (tokens as the unit of information: compression); F. Bellard, ts_zip
(deterministic integer evaluation of a language model); B. Jacob et al., "Quantization and Training
of Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018.

Leaves out: sub-8-bit weights, per-group weight scales, fused (compiled) kernels.
"""

from __future__ import annotations

import functools
import hashlib
from decimal import Decimal, localcontext, ROUND_HALF_EVEN
from fractions import Fraction

import numpy as np

from ...errors import ModelMismatchError

__all__ = ["F", "G", "FREQ_BITS", "ARITHMETIC_VERSION", "TABLE_SHA256", "exp_table", "act_table",
           "rope_table", "table_digest", "bitlen", "isqrt", "pow2", "rshift_round", "quantize_rows", "QLinear",
           "int_linear", "norm_eps_table", "norm_rows", "lookup", "prepare_kv", "attention", "head_freqs"]

#: Fractional bits of every activation (value = int / 2^F).
F = 16
#: Names the arithmetic below; part of every portable model's id (bump when any rule changes).
ARITHMETIC_VERSION = "seminfo-fixed-1"
#: Fractional bits of norm gains (LayerNorm/RMSNorm weights can be as small as 2e-4).
G = 24
#: Frequencies of a row add up to at most 2^FREQ_BITS + K (each token also gets +1).
FREQ_BITS = 30

# exp(-x) for x >= 0 at F bits: one Q30 table on a grid of 2^-12 (x rounded to it)
_EXP_Q = 30
_EXP_STEP = 12
_EXP_CUTOFF = 22                        # exp(-22) * 2^30 < 0.5: beyond it the weight is 0
# activation tables: x on a grid of 2^-8 over [-R, R], values at F bits, linear interpolation between
_ACT_STEP = 8
_ACT_RANGE = {"gelu_new": 8, "silu": 20}
# attention: query rows scaled to < 2^17, keys fixed point (products exact in float64); probabilities Q24
_QK_BITS = 17
_K_BITS = 12                            # keys at 12 fractional bits, |k| <= 2^24 (4096)
_K_CLAMP = 1 << 24
_P_Q = 24
_QK_CLAMP = (1 << 35) - 1               # query shifts eq <= 18
_V_CLAMP = 2 ** 27                      # |v| <= 2^27 (2048 at F = 16): sum_j p_j |v_j| < 2^51, exact

#: sha256 of each fixed table (see table_digest); a machine computing other tables refuses to run.
TABLE_SHA256 = {
    "exp": "3bfc7516e22096b75a441b266fa51c465d96de472795ce2762dbf97188a8777e",
    "gelu_new": "d59645fdf9dad215561355a57ced7551d9e37d676ac3b629188d2aefb6ad4e37",
    "silu": "acb791401d198fffc9b08e636f1b0bb52304dbf064c39c22c5eafb9e54afc976",
    "rope-100000.0-64-8192": "3a184489179dad82cfca844ab6e2d8bcc294af14a410a2b4329d00f666161264",
}


# ---------------------------------------------------------------------- tables
def _round_int(x: Decimal) -> int:
    """Nearest integer of a Decimal, ties to even."""
    return int(x.to_integral_value(rounding=ROUND_HALF_EVEN))


def table_digest(arr: np.ndarray) -> str:
    """sha256 of a table's int64 little-endian bytes."""
    return hashlib.sha256(np.ascontiguousarray(arr, dtype="<i8").tobytes()).hexdigest()


def _checked(name: str, arr: np.ndarray) -> np.ndarray:
    want = TABLE_SHA256.get(name)
    if want:
        got = table_digest(arr)
        if got != want:
            raise ModelMismatchError(
                f"The fixed table {name!r} computed on this machine has sha256 {got[:16]}..., not the "
                f"recorded {want[:16]}...: portable inference would not match other machines here. "
                "Report this with your Python version and platform.")
    arr.setflags(write=False)
    return arr


@functools.lru_cache(maxsize=None)
def _exp_levels() -> tuple[np.ndarray, np.ndarray]:
    """``hi[h] = round(exp(-h/64) 2^30)`` (h < 64 * 22) and ``lo[l] = round(exp(-l/4096) 2^30)`` (l < 64)."""
    with localcontext() as ctx:
        ctx.prec = 50
        scale = Decimal(2) ** _EXP_Q
        hi = [_round_int((Decimal(-h) / 64).exp() * scale) for h in range(64 * _EXP_CUTOFF)]
        lo = [_round_int((Decimal(-l) / (1 << _EXP_STEP)).exp() * scale) for l in range(64)]
    return np.array(hi, dtype=np.int64), np.array(lo, dtype=np.int64)


@functools.lru_cache(maxsize=None)
def exp_table() -> np.ndarray:
    """``t[i] ~ exp(-i / 4096) 2^30`` for i < 22 * 4096, then one 0 (the weight of anything further).

    Built exactly from two decimal tables: ``t[i] = round(hi[i >> 6] lo[i & 63] / 2^30)`` (int64).
    """
    hi, lo = _exp_levels()
    i = np.arange(_EXP_CUTOFF << _EXP_STEP, dtype=np.int64)
    t = (hi[i >> 6] * lo[i & 63] + (1 << (_EXP_Q - 1))) >> _EXP_Q
    return _checked("exp", np.concatenate([t, np.zeros(1, dtype=np.int64)]))


def _act_value(name: str, x: Decimal) -> Decimal:
    if name == "silu":
        return x / (1 + (-x).exp())
    # gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tanh(z) = 1 - 2 / (exp(2z) + 1)
    pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
    z = (2 / pi).sqrt() * (x + Decimal("0.044715") * x * x * x)
    return Decimal("0.5") * x * (2 - 2 / ((2 * z).exp() + 1))


@functools.lru_cache(maxsize=None)
def act_table(name: str) -> np.ndarray:
    """``t[i] = round(act(i / 2^8 - R) 2^F)`` for i = 0..2R 2^8 (R = 8 for gelu_new, 20 for silu)."""
    R = _ACT_RANGE[name]
    with localcontext() as ctx:
        ctx.prec = 50
        scale = Decimal(2) ** F
        vals = [_round_int(_act_value(name, Decimal(i) / (1 << _ACT_STEP) - R) * scale)
                for i in range(2 * R * (1 << _ACT_STEP) + 1)]
    return _checked(name, np.array(vals, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def rope_table(theta: float, head_dim: int, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin), each (n_pos, head_dim // 2) int64 at Q28: angle ``p theta^(-2i/head_dim)``.

    The base angles come from decimal ``ln``/``exp`` (correctly rounded); the angle of position p is
    reached by exact complex multiplication in 2^-120 fixed point (integers), so no libm is used.
    """
    half, Q = head_dim // 2, 120
    with localcontext() as ctx:
        ctx.prec = 60
        ln_theta = Decimal(Fraction(theta).numerator).ln() - Decimal(Fraction(theta).denominator).ln()
        one = 1 << Q
        base = []
        for i in range(half):
            a = (-ln_theta * 2 * i / head_dim).exp()            # theta^(-2i/d), radians per position
            # cos a, sin a by Taylor series in Decimal (|a| <= 1)
            c, s, term, k = Decimal(0), Decimal(0), Decimal(1), 0
            while True:
                if k % 4 == 0:
                    c += term
                elif k % 4 == 1:
                    s += term
                elif k % 4 == 2:
                    c -= term
                else:
                    s -= term
                k += 1
                term = term * a / k
                if abs(term) < Decimal(10) ** -55:
                    break
            base.append((_round_int(c * one), _round_int(s * one)))
    cos = np.empty((n_pos, half), dtype=np.int64)
    sin = np.empty((n_pos, half), dtype=np.int64)
    shift = Q - 28
    for i, (bc, bs) in enumerate(base):
        zc, zs = one, 0
        for p in range(n_pos):
            cos[p, i] = (zc + (1 << (shift - 1))) >> shift
            sin[p, i] = (zs + (1 << (shift - 1))) >> shift
            zc, zs = (zc * bc - zs * bs + (1 << (Q - 1))) >> Q, (zc * bs + zs * bc + (1 << (Q - 1))) >> Q
    key = f"rope-{float(theta)}-{head_dim}-{n_pos}"
    both = _checked(key, np.stack([cos, sin]))
    return both[0], both[1]


# ---------------------------------------------------------------------- two backends, one code
# Every kernel below takes numpy arrays (the CPU path: numpy's per-call cost on small arrays is a
# third of torch's, which is what decoding one token at a time pays for) or torch tensors (any other
# device) and returns the same kind; the int8 products go through torch._int_mm either way (numpy
# arrays are shared with torch without a copy). The operations are the same ones in both libraries
# (integer +, -, *, >>, <<, &, floor division; IEEE-754 +, -, *, /, sqrt, floor and conversions), so
# both give the same integers.
def _isnp(x) -> bool:
    return isinstance(x, np.ndarray)


def _amax(x):
    return np.maximum.reduce(x, -1, keepdims=True) if _isnp(x) else x.amax(-1, keepdim=True)


def _rsum(x):
    return np.add.reduce(x, -1, keepdims=True) if _isnp(x) else x.sum(-1, keepdim=True)


def _f64(x):
    return x.astype(np.float64) if _isnp(x) else x.double()


def _i64(x):
    return x.astype(np.int64) if _isnp(x) else x.long()


def _exponent(x):
    """frexp exponent of float64 `x` (exact): int32 (numpy) or int64 (torch, for indexing)."""
    import torch
    return np.frexp(x)[1] if _isnp(x) else torch.frexp(x).exponent.long()


def _sqrt(x):
    import torch
    return np.sqrt(x) if _isnp(x) else torch.sqrt(x)


def _floor_(x):
    return np.floor(x, out=x) if _isnp(x) else x.floor_()


def _clip(x, lo, hi):
    """A clipped copy."""
    return np.minimum(np.maximum(x, lo), hi) if _isnp(x) else x.clamp(lo, hi)


def _clip_(x, lo=None, hi=None):
    """Clip in place (either bound may be None)."""
    if _isnp(x):
        if lo is not None:
            np.maximum(x, lo, out=x)
        if hi is not None:
            np.minimum(x, hi, out=x)
        return x
    return x.clamp_(lo, hi)


def _take(t, i):
    """t.flat[i]; large index arrays go through torch.take (sharing memory; numpy's is slower)."""
    import torch
    if not _isnp(t):
        return torch.take(t, i)
    if i.size < 1 << 14:
        return t.take(i)
    return torch.take(torch.from_numpy(t), torch.from_numpy(i.astype(np.int64, copy=False))).numpy()


def _cat(parts, axis=0):
    import torch
    return np.concatenate(parts, axis) if _isnp(parts[0]) else torch.cat(parts, axis)


def _matmul(a, b):
    """float64 batched product; numpy arrays go through torch's (sharing memory: numpy's own loop over
    a 4-D stack is many times slower). Exact for the bounded integers of :func:`attention`."""
    import torch
    if _isnp(a):
        return torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    return torch.matmul(a, b)


def _fill_(x, mask, value):
    """x[mask] = value (mask broadcast to x), in place."""
    if _isnp(x):
        np.copyto(x, value, where=mask)
        return x
    return x.masked_fill_(mask, value)


def permute(x, *axes):
    """numpy ``transpose(axes)`` / torch ``permute(axes)``."""
    return x.transpose(axes) if _isnp(x) else x.permute(*axes)


def arange(like, a: int, b: int):
    """Integers a..b-1 (int64) of the kind (and device) of `like`."""
    import torch
    return np.arange(a, b, dtype=np.int64) if _isnp(like) else torch.arange(a, b, device=like.device)


class Pair:
    """A constant held twice: a numpy array (the CPU path) and a torch tensor on the model's device.

    ``pair.of(x)`` is the one of the kind of `x`. Built from a torch tensor or a numpy array; on the
    CPU the two share memory.
    """

    __slots__ = ("np", "t")

    def __init__(self, value, device="cpu"):
        import torch
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.array(value))                # writable, owned copy
        cpu = value.detach().cpu().contiguous()
        self.np = cpu.numpy()
        self.t = cpu if str(device) == "cpu" else cpu.to(device)

    def of(self, x):
        return self.np if _isnp(x) else self.t

    def to(self, device) -> "Pair":
        return Pair(self.t, device)


def _of(c, x):
    """Constant `c` (a Pair, or an array/tensor already of the right kind) for operand `x`."""
    return c.of(x) if isinstance(c, Pair) else c


# ---------------------------------------------------------------------- integer helpers
def bitlen(x):
    """Bit length of non-negative int64 values (0 for 0), via frexp's exact exponent (int32 for numpy
    input, int64 for torch)."""
    return _exponent(_f64(x))


def isqrt(v):
    """floor(sqrt(v)) of non-negative int64 values < 2^62, exactly (float guess, integer correction)."""
    r = _i64(_sqrt(_f64(v)))                                     # truncation == floor (r >= 0)
    r -= _i64(r * r > v)
    r += _i64((r + 1) * (r + 1) <= v)
    return r


def pow2(k):
    """2.0 ** k as float64 for integer k in -1022..1023, built from its bits (exact, no libm)."""
    import torch
    b = (_i64(k) + 1023) << 52
    return b.view(np.float64) if _isnp(b) else b.view(torch.float64)


def rshift_round(x, s):
    """Round(x / 2^s) (ties up) for int64 `x` and non-negative integer shift(s) `s`.

    With per-row shifts (an array) `x` must satisfy |x| < 2^62: the result is computed as
    ``((2x >> s) + 1) >> 1`` (= floor(x / 2^s + 1/2), one pass fewer than adding 2^(s-1)).
    """
    if isinstance(s, int):
        return (x + ((1 << s) >> 1)) >> s if s > 0 else x
    y = (x << 1) >> s
    y += 1
    y >>= 1
    return y


def quantize_rows(x, bits: int):
    """Per-row power-of-two scaling of int64 `x` (..., K), |x| < 2^62, to ``-2^bits <= a < 2^bits``:
    returns (a, e) with x ~ a 2^e, a = round(x / 2^e) (ties up), e = max(bitlen(max |x|) - bits, 0)."""
    e = bitlen(_amax(abs(x)))
    e -= bits
    _clip_(e, 0)
    a = rshift_round(x, e)
    # |x| < 2^(e + bits) (bitlen of the float64 maximum is never below the true one), so only a
    # round-up to exactly 2^bits leaves the range
    return _clip_(a, None, (1 << bits) - 1), e


class QLinear:
    """int8 weights (K, N) with one scale per output channel, an optional bias, at F bits.

    ``y = x W + b``; the scale of channel c is ``m_c / 2^shift`` (m_c < 2^20).

    Parameters
    ----------
    weight : torch.Tensor, float, shape (K, N)
        Input dimension first (as GPT-2's Conv1D stores it; pass ``linear.weight.T`` for nn.Linear).
    bias : torch.Tensor, float, shape (N,), or None
    """

    def __init__(self, q, mult, shift: int, bias=None):
        import torch
        self.q = q                      # (N, K) int8, row = output channel; used as q.t()
        self.mult = mult                # (N,) int64
        self.shift = int(shift)
        self.bias = bias                # (N,) int64 at F bits, or None
        dev = q.device
        # derived constants of int_linear / head_freqs: 2 m_c, 2 b_c + 1 and m_c as float64
        self.m2 = Pair(2 * mult.cpu(), dev)
        b1 = torch.ones(1, dtype=torch.int64) if bias is None else 2 * bias.cpu() + 1
        self.b1 = Pair(b1, dev)
        self.md = Pair(mult.cpu().double(), dev)
        self.qn = Pair(q, dev)          # the rows, for embedding look-ups
        self.qt = q.t()                 # (K, N) view for _int_mm

    @classmethod
    def from_float(cls, weight, bias=None) -> "QLinear":
        """Symmetric absmax quantisation per output channel, with elementwise IEEE ops only."""
        import torch
        w = weight.detach().to("cpu", torch.float64).t().contiguous()         # (N, K)
        amax = w.abs().amax(1)
        scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))    # (N,)
        q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)
        smax = float(scale.max())
        shift = 19 - int(np.frexp(smax)[1]) + 1                                # max m < 2^20
        mult = torch.round(scale * 2.0 ** shift).long()
        b = None if bias is None else torch.round(bias.detach().to("cpu", torch.float64) * 2.0 ** F).long()
        return cls(q, mult, shift, b)

    def tensors(self, prefix: str) -> dict:
        import torch
        out = {f"{prefix}.q": self.q, f"{prefix}.mult": self.mult,
               f"{prefix}.shift": torch.tensor([self.shift], dtype=torch.int64)}
        if self.bias is not None:
            out[f"{prefix}.bias"] = self.bias
        return out

    @classmethod
    def from_tensors(cls, t: dict, prefix: str) -> "QLinear":
        return cls(t[f"{prefix}.q"], t[f"{prefix}.mult"], int(t[f"{prefix}.shift"][0]),
                   t.get(f"{prefix}.bias"))

    def to(self, device) -> "QLinear":
        return QLinear(self.q.to(device), self.mult.to(device), self.shift,
                       None if self.bias is None else self.bias.to(device))

    def __call__(self, x):
        return int_linear(x, self)


def _int_mm(a, lin: QLinear):
    """int8 (M, K) @ the weights (K, N) -> int32 (M, N), exact; numpy in, numpy out (shared memory).
    Pads rows for CUDA's M > 16 rule."""
    import torch
    if _isnp(a):
        return torch._int_mm(torch.from_numpy(a), lin.qt).numpy()
    if a.device.type == "cuda" and a.shape[0] <= 16:
        pad = torch.zeros((17 - a.shape[0], a.shape[1]), dtype=a.dtype, device=a.device)
        return torch._int_mm(torch.cat([a, pad]), lin.qt)[: a.shape[0]]
    return torch._int_mm(a, lin.qt)


def _split_product(x2, lin: QLinear):
    """(acc, e): x2 (M, K) scaled per row to 15 bits (x2 ~ a 2^e), split as ``a = 128 hi + lo`` (hi in
    -128..127, lo in 0..127), both halves through ONE int8 product: acc (2M, N) int32, exact."""
    import torch
    lim = (1 << min(14 + lin.shift, 62)) - 1                     # so that the row shift e <= lin.shift
    a, e = quantize_rows(_clip(x2, -lim, lim), 14)               # -2^14 <= a < 2^14, e (M, 1)
    hi = a >> 7                                                  # in -128..127
    a &= 127                                                     # lo = a - 128 hi, in 0..127
    ab = _cat([hi, a])
    ab = ab.astype(np.int8) if _isnp(ab) else ab.to(torch.int8)
    return _int_mm(ab, lin), e


def int_linear(x, lin: QLinear):
    """``x W + b`` for int64 `x` (..., K) at F bits -> int64 (..., N) at F bits, exactly reproducible.

    Each row is scaled by its own power of two to 15 bits and split as ``a = 128 hi + lo`` (hi int8,
    lo in 0..127); both halves go through one int8 product, recombined in int64:
    ``acc = 128 acc_hi + acc_lo`` (|acc| < 2^21 K), then ``y = round(acc m_c 2^(e - shift)) + b_c``
    computed as ``((acc 2 m_c >> (shift - e)) + 2 b_c + 1) >> 1`` (|2 acc m_c| < 2^42 K).
    """
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    acc, e = _split_product(x2, lin)
    y = _finish(acc, x2.shape[0], e, lin)
    return y.reshape(*shape[:-1], y.shape[-1])


def _finish(acc, M: int, e, lin: QLinear, cols: slice = slice(None)):
    """int64 outputs at F bits from the int32 products `acc` (2M, N) of :func:`_split_product`
    (columns `cols` of them: one layer of a :class:`QStack`)."""
    y = _i64(acc[:M, cols])
    y <<= 7
    y += acc[M:, cols]
    y *= lin.m2.of(y)
    y >>= lin.shift - e
    y += lin.b1.of(y)
    y >>= 1
    return y


class QStack:
    """Several :class:`QLinear` applied to the same input with ONE int8 product (their weights side by
    side), giving exactly the integers of applying each one alone.

    Each layer alone clips its input to its own limit before scaling it (see :func:`_split_product`);
    when no input value reaches the smallest of those limits the clips change nothing, the scaled
    input is the same for all, and the columns of the one product are each layer's product. Inputs
    that reach a limit (never seen in practice) take the layers one by one. Used where a decoder
    runs q, k, v (and gate, up) on the same normalised row, one token at a time.
    """

    def __init__(self, lins: list):
        import torch
        self.lins = list(lins)
        self.qt = torch.cat([lin.qt for lin in self.lins], 1).contiguous()      # (K, sum N)
        self.shift = min(lin.shift for lin in self.lins)                        # the smallest limit
        bounds = np.cumsum([0] + [int(lin.q.shape[0]) for lin in self.lins])
        self.cols = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def __call__(self, x) -> list:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        lim = (1 << min(14 + self.shift, 62)) - 1
        if int(_amax(abs(x2)).max()) > lim:
            return [int_linear(x, lin) for lin in self.lins]
        acc, e = _split_product(x2, self)
        out = []
        for lin, cols in zip(self.lins, self.cols):
            y = _finish(acc, x2.shape[0], e, lin, cols)
            out.append(y.reshape(*shape[:-1], y.shape[-1]))
        return out


def norm_eps_table(eps: float, d: int, *, center: bool):
    """int64 tensor (64,): ``floor(eps u^2 2^(2F + 8 - 2e))`` for e = 0..63, u = d if `center` else 1
    (a norm's epsilon in the units of V of :func:`norm_rows`), from the exact binary value of `eps`."""
    import torch
    u = d if center else 1
    fe = Fraction(eps) * u * u
    vals = [min(int(fe * Fraction(2) ** (2 * F + 8 - 2 * e)), 1 << 62) for e in range(64)]
    return torch.tensor(vals, dtype=torch.int64)


def norm_rows(x, eps_tab, *, center: bool):
    """Normalised rows of int64 `x` (..., d) at F bits: LayerNorm (``center``) or RMSNorm, no affine.

    With c = d x - sum(x) (or x), shifted right by e so that |c| < 2^20:
    ``n = c / sqrt(sum(c^2)/d + eps u^2 2^(2F-2e))``, u = d (or 1), with the square root an exact
    integer square root of ``V = 2^8 (...)``. `eps_tab` is :func:`norm_eps_table` (or a Pair of it).
    """
    d = x.shape[-1]
    if center:
        c = x * d
        c -= _rsum(x)
    else:
        c = x
    e = bitlen(_amax(abs(c)))
    e -= 20
    _clip_(e, 0)
    cs = c >> e
    V = _rsum(cs * cs)
    V <<= 8
    V //= d                                                      # floor division
    V += _take(_of(eps_tab, x), e)
    D = _clip_(isqrt(V), 1)
    n = cs << (F + 5)
    n += D
    n //= D << 1
    return n


def lookup(x, name: str, table, diff=None):
    """act(x) at F bits from the table of :func:`act_table` (linear interpolation, exact integers);
    act(x) = x above the table's range and 0 below it. `diff` (optional) is the table of
    ``t[i + 1] - t[i]``; `table` and `diff` may be Pairs."""
    R = _ACT_RANGE[name]
    s = F - _ACT_STEP
    t = _of(table, x)
    dt = t[1:] - t[:-1] if diff is None else _of(diff, x)
    u = x + (R << F)
    _clip_(u, 0, ((2 * R) << F) - 1)                             # inside the table
    i = u >> s
    u &= (1 << s) - 1                                            # the fraction
    y = _take(dt, i)
    y *= u
    y += 1 << (s - 1)
    y >>= s
    y += _take(t, i)
    above = x >= (R << F)
    y = np.where(above, x, y) if _isnp(y) else y.where(~above, x)
    if int(t[0]) != 0:                                           # else below the range y = t[0] = 0 already
        _fill_(y, x < -(R << F), 0)
    return y


def _exp_weights_(u, tab):
    """exp(u - max u) in Q30 (float64 holding integers) for rows of float64 `u` in units of 2^-12 nats.

    ``i = trunc(max + 1/2 - u)`` (the distance rounded to the table's grid) indexes the table; 0
    beyond exp(-22). `u` is overwritten.
    """
    mx = _amax(u)
    mx += 0.5
    if _isnp(u):
        np.subtract(mx, u, out=u)                                # == -(u - (max + 1/2)), exactly
    else:
        u.sub_(mx).neg_()
    _clip_(u, None, tab.shape[0] - 1)
    return _take(tab, _i64(u))


@functools.lru_cache(maxsize=None)
def _score_mult(head_dim: int) -> tuple[int, int]:
    """(c, R): c = round(2^R / sqrt(head_dim)) < 2^15 with R as large as that allows (exact integers)."""
    from math import isqrt as _isq
    R = 40
    while True:
        v = Fraction(1 << (2 * R), head_dim)
        r = _isq(int(v))                              # floor(sqrt(v)) = isqrt(floor(v))
        c = r + 1 if Fraction(2 * r + 1, 2) ** 2 <= v else r
        if c < (1 << 15):
            return c, R
        R -= 1


def prepare_kv(k, v):
    """Key side of :func:`attention` from int64 k, v (B, H, T, hs) at F bits: keys at 12 fractional
    bits, |k| <= 2^24, and values with |v| <= 2^27, both as float64 (exact); cache these."""
    ka = _clip_(rshift_round(k, F - _K_BITS), -_K_CLAMP, _K_CLAMP)
    return _f64(ka), _f64(_clip(v, -_V_CLAMP, _V_CLAMP))


def attention(q, kv, q_pos, k_pos, tab):
    """Causal attention for int64 q (B, H, Tq, hs) at F bits and keys/values `kv` from
    :func:`prepare_kv` (B, H, Tk, hs); -> int64 (B, H, Tq, hs) at F bits.

    Query i sees key j iff ``k_pos[j] <= q_pos[i]``. Queries are scaled per row to 17 bits. The
    products ``q.k`` and ``sum_j p_j v_j`` are float64 matrix products of integers whose partial sums
    stay below 2^53 (|q.k| < hs 2^41; p_j <= 2^24 with sum_j p_j <= 2^24 and |v_j| <= 2^27), hence
    exact in any order. In between, only elementwise IEEE-754 operations (each correctly rounded,
    so the same everywhere) and order-free reductions (max; sums of integers below 2^53): scores in
    units of 2^-12 nats, weights from the exp table (Q30), ``p = floor(w 2^24 / sum w)``.
    `tab` is the exp table as float64 (or a Pair of it).
    """
    ka, vd = kv
    tab = _of(tab, q)
    qa, eq = quantize_rows(_clip(q, -_QK_CLAMP, _QK_CLAMP), _QK_BITS)     # eq (B, H, Tq, 1) <= 18
    u = _matmul(_f64(qa), ka.swapaxes(-1, -2))                              # exact, |.| < hs 2^41
    c, R = _score_mult(q.shape[-1])
    # score (nats) = raw 2^eq 2^-(F + 12) c 2^-R; in table units (2^-12 nats): raw c 2^(eq - F - R)
    s = pow2(eq - (F + R))
    s *= c
    u *= s
    if int(k_pos[-1]) > int(q_pos[0]):                                     # some keys are hidden
        _fill_(u, k_pos[None, :] > q_pos[:, None], -2.0 ** 62)
    w = _exp_weights_(u, tab)                                               # Q30 integers
    total = _rsum(w)                                                        # exact: < 2^43
    w *= 2.0 ** _P_Q
    w /= total
    p = _floor_(w)
    o = _matmul(p, vd)                                                      # exact: < 2^51
    o *= 2.0 ** -_P_Q
    o += 0.5
    return _i64(_floor_(o))


def head_freqs(h, lin: QLinear, tab):
    """Integer frequencies (float64 holding integers) of the logits ``h W`` (..., K) at F bits:
    ``floor(exp(z - max) 2^30 / sum) + 1``, every entry >= 1, a row adding up to <= 2^30 + K.

    The logits are formed exactly in float64 (``acc m_c 2^(e - shift)``: an integer below 2^52
    times a power of two) in units of 2^-12 nats; then the table weights (Q30) and one correctly
    rounded division per entry. `tab` may be a Pair.
    """
    shape = h.shape
    x2 = h.reshape(-1, shape[-1])
    M, K = x2.shape
    acc, e = _split_product(x2, lin)                                        # (2M, N) int32
    if K < 1024:                                                            # |hi w| 2^7 < 2^31
        z = acc[:M] * 128
        z += acc[M:]
        z = _f64(z)
    else:
        z = _f64(acc[:M])
        z *= 128
        z += acc[M:]
    z *= lin.md.of(z)
    z *= pow2(e + (_EXP_STEP - F - lin.shift))
    w = _exp_weights_(z, _of(tab, z))
    total = _rsum(w)                                                        # exact: < 2^47
    w *= 2.0 ** FREQ_BITS
    w /= total
    f = _floor_(w)
    f += 1
    return f.reshape(*shape[:-1], f.shape[-1])
