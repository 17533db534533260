"""Fused C kernels for the portable models on the CPU: the same integers, fewer calls, faster.

Scope
-----
Decoding feeds one token (or a few) per call, so the numpy path of :mod:`.fixed` spends most of its
time in the cost of each of ~50 array operations per layer, not in arithmetic. ``kernels.c`` fuses
each run of them (split and scale a row for an int8 product; finish a product, adding it to the
residual stream; a norm with its gain; the activation tables; the embedding; rotary embedding, the
key/value cache and attention; the output head; the context mixer of :mod:`seminfo.coding.mixing`)
into one C function. Every kernel is the operation-for-operation translation of the numpy code, in
integers, and doubles only where :mod:`.fixed` uses them (compiled with ``-ffp-contract=off`` and no
``-ffast-math``; sums of doubles are sums of integers below 2^53, exact in any order, and fused
multiply-adds appear only on such integers), so the frequency rows are bit-identical to the numpy and
torch paths: the tests compare them on random inputs and on whole models, and archives do not record
which path ran.

Where the compiler targets AVX-512 VNNI, the kernels also do the int8 products (``vpdpbusd`` on
weights packed once per layer; on CPUs with AMX and calls of at least 16 rows, ``tdpbusd`` tiles on the
same packed weights: exact integer sums either way, so ``torch._int_mm``'s accumulators bit for bit),
all the transformer blocks of a call are one call (:func:`run_blocks`), and the key/value cache is
int32. A small pool of threads (as many as ``torch.get_num_threads()``) splits the rows of a batch
(the windows an encoder feeds at once, the blocks a decoder advances together) and the columns of
large products, and, for decoding calls, every product by columns and the attention by heads; the
split changes no number. Machines without VNNI use ``torch._int_mm``.

The source is compiled on first use with the system's C compiler (``$CC``, else ``cc``/``gcc``)
into ``$SEMINFO_CACHE/kernels/<hash>/`` and loaded with ctypes. Without a compiler, or with
``SEMINFO_KERNELS=0``, :func:`library` is None and the numpy path runs (slower, same numbers).

Leaves out: AVX2-only and ARM versions of the int8 product (those machines use torch's), GPU kernels
(other devices run the torch path).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings

import numpy as np

__all__ = ["library", "available", "disabled", "torch_products", "status", "whole_blocks", "Lin", "Norm",
           "Table", "Attention", "Block", "Blocks", "Embedding", "rows", "head", "no_tiles"]

_SRC = pathlib.Path(__file__).with_name("kernels.c")
_FLAGS = ["-O3", "-std=c11", "-fPIC", "-shared", "-pthread", "-ffp-contract=off", "-fno-fast-math", "-fwrapv"]
#: Tuned for the CPU that compiles (the numbers do not depend on it: integer results are exact and the
#: double operations are single IEEE operations in a fixed order); the cache key includes the CPU flags.
_TUNE = ["-march=native"]
_LOCK = threading.Lock()
_STATE: dict = {"lib": None, "tried": False, "why": "not loaded yet", "off": False, "qmm": False, "qmm_off": False,
                "amx": False, "threads": 1}

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SIGS = {
    "si_split": (ctypes.c_int, [_P, _I, _I, _I, _P, _P]),
    "si_finish": (None, [_P, _I, _I, _I, _I, _P, _P, _P, _P, _P, ctypes.c_int]),
    "si_norm": (None, [_P, _I, _I, _P, ctypes.c_int, _P, _P, _I, _P, _P]),
    "si_act": (None, [_P, _I, _P, _P, _I]),
    "si_swiglu": (None, [_P, _I, _I, _P, _P, _I, _I, _P]),
    "si_attend": (ctypes.c_int, [_P, _I, _I, _I, _P, _P, _I, _I, _I, _I, _I, _I, _I, _I, _P, _P, _I, _I,
                                 _P, _P, _I, _I, _I, _P, _I, _P]),
    "si_head": (ctypes.c_int, [_P, _I, _I, _P, _P, _I, _P, _I, _P]),
    "si_qmm_kind": (ctypes.c_int, []),
    "si_set_threads": (ctypes.c_int, [ctypes.c_int]),
    "si_set_amx": (ctypes.c_int, [ctypes.c_int]),
    "si_linear": (ctypes.c_int, [_P, _P, _I, _P, ctypes.c_int]),
    "si_linear_head": (ctypes.c_int, [_P, _P, _I, _P, _I, _P, _I, _P]),
    "si_blocks": (ctypes.c_int, [_P, _I, _P, _I, _I, _P, _P, _P, _I, _I]),
    "si_embed": (None, [_P, _I, _I, _I, _P, _P, _I, _P, _I, _P]),
    "si_mixer_new": (_P, [_I, _I]),
    "si_mixer_free": (None, [_P]),
    "si_mixer_weight": (_I, [_P]),
    "si_mixer_mix": (None, [_P, _P, _P]),
    "si_mixer_update": (ctypes.c_int, [_P, _I]),
    "si_mixer_rows": (ctypes.c_int, [_P, _P, _P, _I, _P, _P, ctypes.c_int]),
}


class _LinSpec(ctypes.Structure):
    """kernels.c's si_lin: one linear layer (or stack) with packed weights."""

    _fields_ = [("K", _I), ("N", _I), ("Kp", _I), ("lim", _I), ("W", _P), ("cs", _P), ("m2", _P), ("b1", _P),
                ("sh", _P), ("nsub", _I), ("sub_lim", _P), ("sub_end", _P)]


class _BlockSpec(ctypes.Structure):
    """kernels.c's si_block_spec: one transformer block."""

    _fields_ = [("d", _I), ("center", _I), ("G", _I), ("eps", _P), ("g1", _P), ("c1", _P), ("g2", _P),
                ("c2", _P), ("qkv", _P), ("o", _P), ("up", _P), ("down", _P), ("swiglu", _I), ("act_R", _I),
                ("act_clamp", _I), ("act_t", _P), ("act_dt", _P), ("H", _I), ("Hk", _I), ("hs", _I),
                ("cmul", _I), ("R", _I), ("exp_len", _I), ("rope_clamp", _I), ("exp_tab", _P), ("cos", _P),
                ("sin", _P)]


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return cc
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), so that a cache shared by machines keeps one build per CPU kind."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor()


def _build() -> tuple[ctypes.CDLL | None, str]:
    from ..builtin import cache_dir
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (set CC)"
    src = _SRC.read_bytes()
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"the C compiler {cc!r} does not run ({exc})"
    key = hashlib.sha256(src + " ".join(_FLAGS + _TUNE).encode() + version.encode() + platform.machine().encode()
                         + platform.system().encode() + _cpu_flags().encode()).hexdigest()[:20]
    folder = cache_dir() / "kernels" / key
    lib = folder / "libseminfo_fixed.so"
    if not lib.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                out = pathlib.Path(tmp) / lib.name
                run = subprocess.run([cc, *_FLAGS, *_TUNE, "-o", str(out), str(_SRC), "-lm"],
                                     capture_output=True, text=True, timeout=120)
                if run.returncode != 0:                  # a compiler without -march=native
                    run = subprocess.run([cc, *_FLAGS, "-o", str(out), str(_SRC), "-lm"], capture_output=True,
                                         text=True, timeout=120)
                if run.returncode != 0:
                    return None, f"compiling kernels.c failed: {run.stderr.strip()[:300]}"
                os.replace(out, lib)                     # atomic: concurrent builders agree
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"could not build the kernels in {folder} ({exc})"
    try:
        dll = ctypes.CDLL(str(lib))
    except OSError as exc:
        return None, f"could not load {lib} ({exc})"
    for name, (res, args) in _SIGS.items():
        fn = getattr(dll, name)
        fn.restype, fn.argtypes = res, args
    return dll, f"compiled with {cc} into {lib}"


_torch = None


def library():
    """The loaded kernels (ctypes), or None (no compiler, ``SEMINFO_KERNELS=0`` when first asked, or
    :func:`disabled`)."""
    if _STATE["off"]:
        return None
    if not _STATE["tried"]:
        with _LOCK:
            if not _STATE["tried"]:
                global _torch
                import torch as _t
                _torch = _t
                if os.environ.get("SEMINFO_KERNELS", "1") == "0":
                    _STATE["tried"], _STATE["why"] = True, "disabled (SEMINFO_KERNELS=0)"
                    return None
                _STATE["lib"], _STATE["why"] = _build()
                if _STATE["lib"] is not None:
                    kind = _STATE["lib"].si_qmm_kind()
                    _STATE["qmm"], _STATE["amx"] = kind >= 1, kind == 2
                    _STATE["threads"] = int(_STATE["lib"].si_set_threads(min(max(_t.get_num_threads(), 1), 16)))
                _STATE["tried"] = True
                if _STATE["lib"] is None:
                    warnings.warn(f"seminfo: portable decoding runs the numpy kernels (same numbers, slower): "
                                  f"{_STATE['why']}.", RuntimeWarning, stacklevel=2)
    return _STATE["lib"]


def available() -> bool:
    """Whether the fused kernels are in use."""
    return library() is not None


def status() -> str:
    """One line: how the kernels were obtained, or why they are not used."""
    library()
    if _STATE["off"]:
        return "disabled (fast.disabled())"
    if _STATE["lib"] is None:
        return _STATE["why"]
    tiles = ", AMX tiles for calls of 16 rows or more" if _STATE["amx"] else ""
    prod = (f"int8 products in the kernels (AVX-512 VNNI{tiles}; up to {_STATE['threads']} threads)" if _qmm()
            else "int8 products with torch._int_mm")
    return f"{_STATE['why']}; {prod}"


def _qmm() -> bool:
    """Whether small int8 products run in the kernels (built with AVX-512 VNNI, not switched off)."""
    return _STATE["qmm"] and not _STATE["qmm_off"]


@contextlib.contextmanager
def _switched(key: str):
    old = _STATE[key]
    _STATE[key] = True
    try:
        yield
    finally:
        _STATE[key] = old


def disabled():
    """Run the numpy path inside the block (tests compare the two)."""
    return _switched("off")


def torch_products():
    """Inside the block every int8 product goes to torch._int_mm (tests compare the two)."""
    return _switched("qmm_off")


@contextlib.contextmanager
def no_tiles():
    """Inside the block the kernels' products use AVX-512 VNNI only, not AMX tiles (tests compare the two)."""
    lib = library()
    if lib is None or not _STATE["amx"]:
        yield
        return
    lib.si_set_amx(0)
    try:
        yield
    finally:
        lib.si_set_amx(1)


def _c64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


class _Buf:
    """A CPU torch tensor (or a numpy array: `dtype` a numpy type), its numpy view and its address
    (kept: looking an address up costs more than most kernels)."""

    __slots__ = ("t", "a", "p")

    def __init__(self, shape, dtype) -> None:
        if isinstance(dtype, type) and issubclass(dtype, np.generic):
            self.t, self.a = None, np.empty(shape, dtype=dtype)
            self.p = self.a.ctypes.data
            return
        import torch
        self.t = torch.empty(shape, dtype=dtype)
        self.a = self.t.numpy()
        self.p = self.t.data_ptr()


#: Scratch buffers are kept for calls of at most this many rows (decoding); larger calls allocate.
_KEEP_ROWS = 64


def _scratch(cache: dict, M: int, make):
    """The buffers for M rows: from `cache`, else ``make()`` (remembered when M is small)."""
    got = cache.get(M)
    if got is None:
        got = make()
        if M <= _KEEP_ROWS:
            cache[M] = got
    return got


def _const(a) -> tuple[np.ndarray, int]:
    a = np.ascontiguousarray(a)
    return a, a.ctypes.data


class Lin:
    """The constants of one :class:`~.fixed.QLinear`, or of a :class:`~.fixed.QStack` (several layers
    side by side sharing one product), as the kernels take them: per column ``2 m_c``, ``2 b_c + 1``
    and the layer's shift; the input clip limit; scratch buffers per number of rows.

    ``lin(x, M)`` maps the rows of buffer `x` (M, K) int64 to its output buffer (M, N) int64 (or adds
    them to the rows of buffer `add_to`) and returns that buffer. (Buffers, not addresses, are passed
    so that the caller's references keep the memory alive while the kernels use it.) For a stack, each layer's columns
    side by side (exactly each layer alone); an input that reaches the stack's clip limit takes the
    numpy layers one by one (never seen in practice).
    """

    def __init__(self, lins: list) -> None:
        import torch
        self.lins = list(lins)
        self.qt = self.lins[0].qt if len(self.lins) == 1 else torch.cat([l.qt for l in self.lins], 1).contiguous()
        n = [int(l.q.shape[0]) for l in self.lins]
        self.K, self.N = int(self.qt.shape[0]), int(sum(n))
        self.m2, self.pm2 = _const(np.concatenate([np.broadcast_to(l.m2.np, (k,)) for l, k in zip(self.lins, n)]))
        self.b1, self.pb1 = _const(np.concatenate([np.broadcast_to(l.b1.np, (k,)) for l, k in zip(self.lins, n)]))
        self.sh, self.psh = _const(np.concatenate([np.full(k, l.shift, dtype=np.int64) for l, k in zip(self.lins, n)]))
        self.md, self.pmd = _const(self.lins[0].md.np.astype(np.float64))
        self.lim = (1 << min(14 + min(l.shift for l in self.lins), 62)) - 1
        self._scratch: dict = {}
        self._cscratch: dict = {}
        self._packed = None

    def _spec(self) -> int:
        """Address of the layer's si_lin, with the weights packed as the kernels' product takes them
        (Wp (Np/16, Kp/4, 16, 4) int8 and column sums (Np,) int32; K padded to a multiple of 64 (an AMX
        tile's inputs) and N to one of 16 with zero weights). Built on first use."""
        if self._packed is None:
            K, N = self.K, self.N
            Kp, Np = -(-K // 64) * 64, -(-N // 16) * 16
            w = np.zeros((Kp, Np), dtype=np.int8)
            w[:K, :N] = self.qt.numpy()
            wp = np.ascontiguousarray(w.reshape(Kp // 4, 4, Np // 16, 16).transpose(2, 0, 3, 1))
            cs = np.ascontiguousarray(w.sum(0, dtype=np.int32))
            lims = np.array([(1 << min(14 + l.shift, 62)) - 1 for l in self.lins], dtype=np.int64)
            ends = np.cumsum([int(l.q.shape[0]) for l in self.lins]).astype(np.int64)
            spec = _LinSpec(K, N, Kp, self.lim, wp.ctypes.data, cs.ctypes.data, self.pm2, self.pb1, self.psh,
                            len(self.lins), lims.ctypes.data, ends.ctypes.data)
            self._packed = (wp, cs, lims, ends, spec, ctypes.addressof(spec))
        return self._packed[-1]

    def scratch(self, M: int):
        """(ab, e, out) buffers for M rows (out alone when the kernels do the product)."""
        if _qmm():
            return _scratch(self._cscratch, M, lambda: _Buf((M, self.N), np.int64))
        return _scratch(self._scratch, M, lambda: (_Buf((2 * M, self.K), _torch.int8), _Buf((M,), _torch.int64),
                                                   _Buf((M, self.N), _torch.int64)))

    def product(self, x: int, M: int, bufs):
        """(acc tensor (2M, N) int32 [hi rows; lo rows], its address, e buffer, over) of the rows at
        address x, with torch._int_mm."""
        ab, e, _ = bufs
        over = _STATE["lib"].si_split(x, M, self.K, self.lim, ab.p, e.p)
        acc = _torch._int_mm(ab.t, self.qt)
        return acc, acc.data_ptr(), e, over

    def __call__(self, x: _Buf, M: int, add_to: _Buf | None = None) -> _Buf:
        from .fixed import int_linear
        if _qmm():                                       # split, product and finish in one call
            dst = self.scratch(M) if add_to is None else add_to
            if _STATE["lib"].si_linear(self._spec(), x.p, M, dst.p, int(add_to is not None)) < 0:
                raise MemoryError("The linear kernel could not allocate its scratch memory.")
            return dst                                   # (a stack beyond a limit is handled there)
        bufs = self.scratch(M)
        acc, pacc, e, over = self.product(x.p, M, bufs)
        dst = bufs[2] if add_to is None else add_to
        if over and len(self.lins) > 1:                  # beyond a layer's clip limit: one by one
            ys = np.concatenate([int_linear(x.a.reshape(M, self.K).copy(), lin) for lin in self.lins], 1)
            if add_to is None:
                dst.a[...] = ys
            else:
                dst.a.reshape(M, self.N)[...] += ys
            return dst
        _STATE["lib"].si_finish(pacc, M, self.N, 0, self.N, e.p, self.pm2, self.pb1, self.psh, dst.p,
                                int(add_to is not None))
        return dst


class Norm:
    """A LayerNorm (``center``) or RMSNorm with its affine map ``(n g + c0) >> G`` (per-column g, c0)."""

    def __init__(self, eps_tab, center: bool, g, c0, G: int) -> None:
        self.eps, self.peps = _const(_c64(eps_tab))
        self.g, self.pg = _const(_c64(g))
        self.c0, self.pc0 = _const(_c64(np.broadcast_to(c0, self.g.shape)))
        self.center, self.G, self.d = int(center), int(G), int(self.g.shape[0])
        self._scratch: dict = {}

    def __call__(self, x: _Buf, M: int, out: _Buf | None = None) -> _Buf:
        got = _scratch(self._scratch, M, lambda: (_Buf((M, self.d), _torch.int64), _Buf((self.d,), _torch.int64)))
        o = got[0] if out is None else out
        _STATE["lib"].si_norm(x.p, M, self.d, self.peps, self.center, self.pg, self.pc0, self.G, o.p, got[1].p)
        return o


class Table:
    """An activation table (:func:`.fixed.act_table`) with its differences, for :meth:`act` and :meth:`swiglu`."""

    def __init__(self, t, dt, R: int, clamp: int = 0) -> None:
        self.t, self.pt = _const(_c64(t))
        self.dt, self.pdt = _const(_c64(dt))
        self.R, self.clamp = int(R), int(clamp)
        self._scratch: dict = {}

    def act(self, buf: _Buf) -> _Buf:
        """In place on the buffer."""
        _STATE["lib"].si_act(buf.p, buf.a.size, self.pt, self.pdt, self.R)
        return buf

    def swiglu(self, gu: _Buf, M: int) -> _Buf:
        """Rows (M, 2I) = [gate | up] -> round(clip(act(gate)) clip(up) / 2^16) (M, I)."""
        I = gu.a.shape[1] // 2
        out = _scratch(self._scratch, M, lambda: _Buf((M, I), _torch.int64))
        _STATE["lib"].si_swiglu(gu.p, M, I, self.pt, self.pdt, self.R, self.clamp, out.p)
        return out


class Attention:
    """Rotary embedding (optional), the key/value cache and causal attention of one model's layers."""

    def __init__(self, H: int, Hk: int, hs: int, tab, cmul: int, R: int, rope=None, rope_clamp: int = 0):
        self.H, self.Hk, self.hs, self.cmul, self.R = H, Hk, hs, int(cmul), int(R)
        self.tab, self.ptab = _const(np.asarray(tab, dtype=np.float64))
        if rope is None:
            self.pcos = self.psin = None
        else:
            self.cos, self.pcos = _const(_c64(rope[0]))
            self.sin, self.psin = _const(_c64(rope[1]))
        self.rope_clamp = int(rope_clamp)
        self._scratch: dict = {}

    def __call__(self, qkv: _Buf, B: int, T: int, kv, pos0: int) -> _Buf:
        """Rows qkv (B T, N) = [q (H hs) | k (Hk hs) | v (Hk hs)] after `pos0` cached positions; writes
        the new keys/values into `kv` (a model's _KV) and returns (B T, H hs) int64."""
        H, Hk, hs = self.H, self.Hk, self.hs
        ck, cv = kv.reserve(B, Hk, T, hs)
        if kv.n != pos0:
            raise RuntimeError(f"The key/value cache holds {kv.n} positions but the call starts at {pos0}.")
        out = _scratch(self._scratch, B * T, lambda: _Buf((B * T, H * hs), _torch.int64))
        N = qkv.a.shape[1]
        base = qkv.p
        rc = _STATE["lib"].si_attend(base, T * N, hs, N, base + 8 * H * hs, base + 8 * (H + Hk) * hs, T * N, hs,
                                     N, B, H, Hk, T, hs, kv.ptrs[0], kv.ptrs[1], ck.shape[2], pos0,
                                     self.pcos, self.psin, self.rope_clamp, self.cmul, self.R, self.ptab,
                                     self.tab.shape[0], out.p)
        if rc != 0:
            raise MemoryError("The attention kernel could not allocate its scratch memory.")
        kv.n += T
        return out


def whole_blocks() -> bool:
    """Whether calls run all the transformer blocks in one kernel call (:class:`Blocks`): where the
    kernels do the int8 products (AVX-512 VNNI) and :func:`torch_products` is not in force."""
    return _qmm()


class Block:
    """The constants of one pre-norm transformer block (GPT-2 or Llama) as the kernels take them:
    ``x += o(attention(qkv(norm1(x))))`` then ``x += down(mlp(up(norm2(x))))``, the MLP being `act`
    in place (GELU) or, with `swiglu`, SwiGLU of [gate | up]. The same integers as the calls of the
    parts one by one."""

    def __init__(self, norm1: Norm, qkv: Lin, attn: "Attention", o: Lin, norm2: Norm, up: Lin, act: Table,
                 down: Lin, swiglu: bool) -> None:
        if norm1.center != norm2.center or norm1.G != norm2.G or not np.array_equal(norm1.eps, norm2.eps):
            raise ValueError("The two norms of a block must share their kind and epsilon table.")
        self.parts = (norm1, qkv, attn, o, norm2, up, act, down)
        a = attn
        self.spec = _BlockSpec(norm1.d, norm1.center, norm1.G, norm1.peps, norm1.pg, norm1.pc0, norm2.pg,
                               norm2.pc0, qkv._spec(), o._spec(), up._spec(), down._spec(), int(swiglu), act.R,
                               act.clamp, act.pt, act.pdt, a.H, a.Hk, a.hs, a.cmul, a.R, a.tab.shape[0],
                               a.rope_clamp, a.ptab, a.pcos, a.psin)
        self.p = ctypes.addressof(self.spec)


class Blocks:
    """A model's blocks, run in one kernel call per model call (``si_blocks``: the rows of a batch split
    over the kernels' threads, at most 256 rows at a time through all the blocks)."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = list(blocks)
        self.specs, self.pspecs = _const(np.array([b.p for b in self.blocks], dtype=np.uint64))
        self.ptrs = np.zeros((3, len(self.blocks)), dtype=np.int64)      # key caches, value caches, capacities
        base, step = self.ptrs.ctypes.data, self.ptrs.strides[0]
        self.pck, self.pcv, self.pcap = base, base + step, base + 2 * step

    def __call__(self, x: _Buf, B: int, T: int, cache, pos0: int, skip: int = 0) -> _Buf:
        """The rows of buffer x (B T, d), in place, after `pos0` cached positions in `cache` (_KV per block).
        The rows of each sequence before `skip` are wanted for the cache only (left unfinished in x)."""
        for i, (block, kv) in enumerate(zip(self.blocks, cache)):
            a = block.parts[2]
            ck, _ = kv.reserve(B, a.Hk, T, a.hs)
            if kv.n != pos0:
                raise RuntimeError(f"The key/value cache holds {kv.n} positions but the call starts at {pos0}.")
            self.ptrs[0, i], self.ptrs[1, i], self.ptrs[2, i] = kv.ptrs[0], kv.ptrs[1], ck.shape[2]
        rc = _STATE["lib"].si_blocks(self.pspecs, len(self.blocks), x.p, B, T, self.pck, self.pcv, self.pcap, pos0,
                                     skip)
        if rc != 0:
            raise MemoryError("The block kernel could not allocate its scratch memory.")
        for kv in cache:
            kv.n += T
        return x


def run_blocks(blocks: Blocks | None, x: _Buf, B: int, T: int, cache, pos0: int, skip: int = 0) -> bool:
    """Run `blocks` (None where not built) on the residual rows x in place when the kernels do the
    products (:func:`whole_blocks`); False when they do not (run the parts)."""
    if blocks is None or not whole_blocks():
        return False
    blocks(x, B, T, cache, pos0, skip)
    return True


class Embedding:
    """A model's token embedding as the kernels take it: int8 rows (V, d), their scales m_c, the
    rounding shift, and learned position rows (GPT-2) or none."""

    def __init__(self, lin, shift: int, pos=None) -> None:
        self.q, self.pq = _const(lin.qn.np)
        self.hm, self.phm = _const(_c64(lin.m2.np >> 1))
        self.pos, self.ppos = _const(_c64(pos)) if pos is not None else (None, None)
        self.s, self.d = int(shift), int(self.q.shape[1])
        self._scratch: dict = {}

    def __call__(self, ids: np.ndarray, pos0: int) -> _Buf:
        """The residual rows (B T, d) of ids (B, T) int64 after `pos0` positions, in a buffer kept for
        calls of as many rows (valid until the next such call)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        out = _scratch(self._scratch, ids.size, lambda: _Buf((ids.size, self.d), np.int64))
        _STATE["lib"].si_embed(ids.ctypes.data, ids.shape[0], ids.shape[1], self.d, self.pq, self.phm, self.s,
                               self.ppos, pos0, out.p)
        return out


def rows(x: np.ndarray) -> _Buf:
    """A buffer holding a copy of the int64 rows x (M, d)."""
    b = _Buf(x.shape, np.int64)
    b.a[...] = x
    return b


def head(h: _Buf, L: Lin, tab: np.ndarray) -> np.ndarray:
    """Frequency rows (..., N) int64 of :func:`.fixed.head_freqs` for the rows of buffer h (..., K) with the
    exp table `tab` (float64), a new array."""
    M = h.a.size // L.K
    out = np.empty((M, L.N), dtype=np.int64)
    lib = _STATE["lib"]
    if whole_blocks():
        rc = lib.si_linear_head(L._spec(), h.p, M, L.pmd, L.lins[0].shift, tab.ctypes.data, tab.shape[0],
                                out.ctypes.data)
    else:
        acc, pacc, e, _ = L.product(h.p, M, L.scratch(M))
        rc = lib.si_head(pacc, M, L.N, e.p, L.pmd, L.lins[0].shift, tab.ctypes.data, tab.shape[0], out.ctypes.data)
    if rc != 0:
        raise MemoryError("The head kernel could not allocate its scratch memory.")
    return out.reshape(*h.a.shape[:-1], L.N)
