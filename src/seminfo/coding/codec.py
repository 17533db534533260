"""Lossless compression of bytes with any token model: ``compress`` and ``decompress``.

Scope
-----
Shannon's source coding theorem at token level (theory §12): the bytes are tokenized, each token is
range-coded with the model's next-token distribution ``p_M(x_t | x^{t-1})``, and the archive holds
``sum_t -log2 q_M(x_t | x^{t-1}) + O(1)`` bits per block, q_M being p_M quantised to 24 bits [1]_ [2]_.
Decoding runs the same model contexts token by token and detokenizes (tokenizers are byte-exact).

Portability
-----------
For models with a deterministic integer path (:mod:`seminfo.models.portable`: builtin:gpt,
builtin:smollm2, builtin:ngram) the coder is driven by integer frequencies that every machine
computes identically, so the archive decodes anywhere; this is the default. The encoder then
computes all frequency rows in batched passes over the contexts the decoder will see
(:func:`~seminfo.coding.context.segments`) and codes them in bulk; the decoder goes token by token.
Any other model (a user's Hugging Face model, builtin:mamba, or ``portable=False``) runs the float
path: identical calls on both sides (:class:`~seminfo.coding.context.ContextDriver`), archives tied
to the kind of machine that made them, whose signature is recorded and compared before decoding.

Blocks
------
The input may be split into blocks of consecutive bytes, tokenized and coded independently;
``batch_size`` blocks at a time share one batch of the model. Each block is stored with the smallest
of the model's range code, zstd -19, xz -9e and raw storage (:mod:`.methods`); the choice is in
the block table. Bytes a tokenizer cannot represent are escaped (:func:`~seminfo.models.tokenizer.
encode_escaped`): in such a block every distribution gets one more symbol of probability 2**-10,
followed by the byte, uniform: 18 bits per escaped byte, 0.0014 bits more per token.

Accounting
----------
:class:`CompressionResult` reports the model's cross-entropy ``sum -log2 p`` of the coded symbols,
the coded cross-entropy ``sum -log2 q`` under the quantised distributions the coder used, and the
payloads. Bound (tested): the model's payload of a block lies in
``[coded - 32, coded + n/128 + 64]`` bits for n coded symbols. Leaves out: streaming input,
dictionaries/priming text, mixing several models.

References
----------
.. [1] C. E. Shannon, "A Mathematical Theory of Communication", Bell Syst. Tech. J. 27 (1948).
.. [2] G. Deletang et al., "Language Modeling Is Compression", ICLR 2024, arXiv:2309.10668.
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._validate import as_bool, as_bytes, as_int, one_of
from ..errors import ArchiveError, InputError, ModelMismatchError, ModelNotAvailableError
from ..results import Result
from . import container, machine
from . import methods as block_methods
from .context import ContextDriver, feed_rows, segments, takes_skip
from .mixing import ContextMixer
from .rangecoder import (UNIFORM_BYTE, BlockDecoder, BlockEncoder, coded_bits, coded_bits_from, probabilities,
                         with_escape)

LN2 = math.log(2.0)
#: Default number of blocks coded together in one batch of the model.
DEFAULT_BATCH = 32
#: Token id fed to rows whose block has ended while others in the batch go on (output ignored).
PAD_TOKEN = 0
#: Largest frequency table (bytes of int64 rows) the portable encoder asks for in one call: restart
#: segments are fed together, as many as fit.
SEGMENT_BUDGET = 32 * 2**20
#: Built-in specs an archive may name and that are loaded without being given (see _check_spec).
AUTO_SPECS = ("builtin:gpt", "builtin:mamba", "builtin:smollm2", "builtin:ngram")
#: Order in which block methods win a tie: the cheapest to decode first.
_TIE_ORDER = ("raw", "zstd", "xz", "model", "model+escape")


@dataclass(frozen=True)
class CompressionResult(Result):
    """An archive and the accounting of the run that made it.

    Attributes
    ----------
    archive : bytes
        The archive (``bytes(result)`` gives it too). Left out of :meth:`as_dict`.
    model : str
        Spec of the model (``TokenModel.name``).
    fingerprint : str
        ``TokenModel.fingerprint()`` (of the portable model on the portable path).
    portable : bool
        True when the integer path drove the coder: the archive decodes on any machine.
    original_bytes, archive_bytes, payload_bytes, header_bytes : int
        Sizes in bytes: input, whole file, block payloads (whatever their method), header + block
        table + crc.
    model_payload_bytes : int
        Bytes of the model's range code of every block (whether or not it was kept).
    block_methods : dict
        Number of blocks stored with each method ("model", "model+escape", "zstd", "xz", "raw").
    tokens, escaped_bytes, blocks, batch_size, window, keep, restarts : int
        Symbols coded by the model (tokens and escaped bytes), escaped bytes, blocks, blocks per model
        batch, context window (0 unbounded), tokens kept on a restart, number of window restarts.
    cross_entropy_bits : float
        ``sum -log2 p`` of the coded symbols under the distributions handed to the coder (the
        model's, with the escape symbol's share in blocks that have escapes; 8 bits more per escaped
        byte), total bits over all blocks.
    coded_cross_entropy_bits : float
        ``sum -log2 q`` under the 24-bit quantised distributions the coder used (what the range code
        costs before its termination), total bits.
    cross_entropy_bits_per_byte, cross_entropy_bits_per_token, coded_cross_entropy_bits_per_byte : float
    payload_bits_per_byte, archive_bits_per_byte : float
        Achieved size: payload bits / original bytes, whole-file bits / original bytes.
    coder_overhead_percent : float
        ``100 (8 model_payload_bytes - cross_entropy_bits) / cross_entropy_bits``: quantisation plus
        termination. It may be negative: q can give the actual tokens more mass than p (the floor).
    seconds, tokens_per_second : float
        Wall time of compression (loading the model and its fingerprint excluded), symbols per second.
    units : str
        ``"bits/byte"`` for the per-byte fields; sizes are bytes, totals bits. For an empty input the
        rates are 0, except ``archive_bits_per_byte``, which is ``inf`` (the header remains).
    """

    archive: bytes = field(repr=False)
    model: str
    fingerprint: str
    portable: bool
    original_bytes: int
    archive_bytes: int
    payload_bytes: int
    header_bytes: int
    model_payload_bytes: int
    block_methods: dict
    tokens: int
    escaped_bytes: int
    blocks: int
    batch_size: int
    window: int
    keep: int
    restarts: int
    cross_entropy_bits: float
    coded_cross_entropy_bits: float
    cross_entropy_bits_per_byte: float
    cross_entropy_bits_per_token: float
    coded_cross_entropy_bits_per_byte: float
    payload_bits_per_byte: float
    archive_bits_per_byte: float
    coder_overhead_percent: float
    seconds: float
    tokens_per_second: float
    units: str = "bits/byte"

    def __bytes__(self) -> bytes:
        return self.archive

    def as_dict(self) -> dict[str, Any]:
        """Plain fields for JSON (the archive bytes themselves are left out)."""
        d = super().as_dict()
        d.pop("archive")
        return d


@dataclass(frozen=True)
class DecompressionResult(Result):
    """Decompressed bytes and the accounting of the run.

    Attributes
    ----------
    data : bytes
        The original bytes (their sha256 was checked against the archive). Left out of as_dict.
    model : str
    portable : bool
        The archive was coded on the portable (integer) path.
    original_bytes, tokens, blocks, batch_size : int
    seconds, tokens_per_second : float
        Wall time of decompression (loading the model and checking its fingerprint excluded) and
        symbols decoded per second.
    """

    data: bytes = field(repr=False)
    model: str
    portable: bool
    original_bytes: int
    tokens: int
    blocks: int
    batch_size: int
    seconds: float
    tokens_per_second: float

    def as_dict(self) -> dict[str, Any]:
        """Plain fields for JSON (the data bytes themselves are left out)."""
        d = super().as_dict()
        d.pop("data")
        return d


# ---------------------------------------------------------------------------------------------
# argument handling


def _resolve_model(model: Any, func: str, **load_options: Any):
    """A left-to-right model from a spec string or an instance (the coder runs it incrementally)."""
    try:
        from ..models.capability import as_model
    except ImportError as exc:
        raise ModelNotAvailableError(f"Token models cannot be loaded here ({exc}).") from None
    return as_model(model, "score", "incremental", func=func, **load_options)


def _portable_api():
    """The ``seminfo.models.portable`` module, or None where this installation lacks it."""
    try:
        from ..models import portable
    except ImportError:
        return None
    return portable


def _is_portable(model: Any) -> bool:
    return getattr(model, "portable", False) is True and hasattr(model, "feed_freqs")


def _has_portable_path(model: Any) -> bool:
    if _is_portable(model):
        return True
    api = _portable_api()
    if api is None:
        return False
    if not isinstance(model, str):         # a loaded model: only the built-in classes have a twin
        from ..models.hf import HFModel
        from ..models.ngram import KneserNeyModel
        if not isinstance(model, (HFModel, KneserNeyModel)):
            return False
    try:
        return bool(api.has_portable_path(model))
    except (InputError, ModelNotAvailableError):
        return False


def _coding_model(model: Any, portable: Any, device: str, func: str):
    """(model, portable): the portable model where there is one (unless portable=False)."""
    if portable is not None and not isinstance(portable, bool):
        raise InputError(f"The `portable` parameter of {func} must be True, False or None. Got {portable!r}.")
    if _is_portable(model):
        if portable is False:
            raise InputError(f"The `portable` parameter of {func} is False, but the model given is a "
                             "portable model; pass the float model (or its spec) for the float path.")
        return model, True
    can = _has_portable_path(model)
    if portable is None:
        portable = can
    elif portable and not can:
        name = model if isinstance(model, str) else getattr(model, "name", type(model).__name__)
        raise ModelNotAvailableError(
            f"The `portable` parameter of {func} is True, but the model {name!r} has no deterministic "
            "integer path here (built-in models with one: builtin:gpt, builtin:smollm2, "
            "builtin:ngram); pass portable=False for the float path (archives tied to this machine).")
    if portable:
        return _portable_api().portable_model(model, device=device), True
    return _resolve_model(model, func, device=device), False


def _window(model, window: int | None, keep: int | None, func: str) -> tuple[int | None, int]:
    """Checked (window, keep): window None means unbounded (then keep is unused and 0)."""
    n_prefix = len(tuple(model.prefix))
    limit = model.max_context
    if window is None:
        window = limit
    else:
        window = as_int(window, "window", func, minimum=n_prefix + 2, maximum=limit)
    if window is None:
        if keep is not None:
            raise InputError(f"The `keep` parameter of {func} applies only with a finite window; "
                             f"the model {model.name!r} has no context limit and no `window` was given.")
        return None, 0
    if keep is None:
        return window, (window - n_prefix) // 2
    return window, as_int(keep, "keep", func, minimum=1, maximum=window - n_prefix - 1)


def _split(data: bytes, blocks: int | None, block_size: int | None, func: str) -> list[bytes]:
    if blocks is not None and block_size is not None:
        raise InputError(f"The `blocks` and `block_size` parameters of {func} are alternatives; "
                         f"give one of them. Got blocks={blocks!r} and block_size={block_size!r}.")
    n = 1 if blocks is None else as_int(blocks, "blocks", func, minimum=1)
    if block_size is not None:
        block_size = as_int(block_size, "block_size", func, minimum=1)
    if not data:
        return []
    if block_size is None:
        block_size = -(-len(data) // min(n, len(data)))
    return [data[i:i + block_size] for i in range(0, len(data), block_size)]


def _symbols(m, piece: bytes, index: int) -> np.ndarray:
    """Coded symbols of one block: token ids (>= 0) and escaped bytes (< 0), checked."""
    from ..models.tokenizer import decode_escaped, encode_escaped
    syms = np.asarray(encode_escaped(m.tokenizer, piece), dtype=np.int64)
    ids = syms[syms >= 0]
    if ids.size and int(ids.max()) >= m.vocab_size:
        raise ModelMismatchError(f"The tokenizer of model {m.name!r} produced token ids outside "
                                 f"the model's vocabulary of {m.vocab_size}.")
    if decode_escaped(m.tokenizer, syms) != piece:
        raise ModelMismatchError(
            f"The tokenizer of model {m.name!r} does not give back block {index} byte for byte "
            "(decode(encode(b)) != b), so it cannot be used for lossless compression.")
    return syms


def _feed_ids(syms: np.ndarray) -> np.ndarray:
    from ..models.tokenizer import ESCAPE_FEED_ID
    return np.where(syms < 0, ESCAPE_FEED_ID, syms)


# ---------------------------------------------------------------------------------------------
# one block's range code


class _RowCoder:
    """Codes one block's symbols from rows of (unnormalised) distributions; keeps the accounting."""

    def __init__(self, syms: np.ndarray, K: int, mix: bool = False) -> None:
        from ..models.tokenizer import ESCAPE_PROB_BITS
        self.syms = syms
        self.K = K
        self.mixer = ContextMixer(K) if mix else None        # portable rows only (integers)
        self.escape = bool(np.any(syms < 0))
        self.escape_bits = ESCAPE_PROB_BITS
        self.enc = BlockEncoder()
        self.ce = 0.0                # sum -log2 p of the coded symbols
        self.coded = 0.0             # sum -log2 q (quantised)

    def encode(self, t0: int, p: np.ndarray) -> None:
        """Code symbols ``t0 .. t0 + len(p) - 1`` with the rows of `p` (shape (T, K), >= 0: float64, or
        the portable path's integers, which are mixed here in order when mixing)."""
        syms = self.syms[t0:t0 + len(p)]
        sums = None
        if self.mixer is not None:
            p, sums = self.mixer.rows(p, _feed_ids(syms), sums=True, dtype=np.float64)   # exact integers
        p = np.asarray(p, dtype=np.float64)
        if self.escape:
            p, sums = with_escape(p, self.escape_bits), None
        code = np.where(syms < 0, self.K, syms)
        at = p[np.arange(len(p)), code]
        total = p.sum(axis=1) if sums is None else sums[:, 1]
        with np.errstate(divide="ignore"):
            self.ce += float(np.sum(np.log2(total) - np.log2(at)))
        self.coded += coded_bits(p, code) if sums is None else \
            coded_bits_from(sums[:, 0], sums[:, 0] + at, total, code, p.shape[1])
        if len(p) == 1 and not self.escape:
            self.enc.encode(int(code[0]), p)
            return
        start = 0
        for e in np.flatnonzero(syms < 0):
            self.enc.encode_many(code[start:e + 1], p[start:e + 1])
            self.enc.encode(-1 - int(syms[e]), UNIFORM_BYTE)
            self.ce += 8.0
            self.coded += 8.0
            start = e + 1
        self.enc.encode_many(code[start:], p[start:])


# ---------------------------------------------------------------------------------------------
# the float path: identical calls on both sides


def _run_group(model, lengths: list[int], window: int | None, keep: int,
               step: Callable[[int, int, np.ndarray], int], bar, func: str) -> int:
    """Drive one batch of blocks: the identical model calls for encoder and decoder (float path).

    For t = 0..max(lengths)-1, every row i with t < lengths[i] gets ``step(i, t, p_row)`` (p_row
    shape (1, K), float64) which returns the token to feed; then all rows advance by one token
    (finished rows by :data:`PAD_TOKEN`). Returns the number of restarts.
    """
    n_steps = max(lengths)
    driver = ContextDriver(model, len(lengths), window, keep)
    for t in range(n_steps):
        lp = driver.log_probs                                           # (B, K)
        active = [i for i, n in enumerate(lengths) if t < n]
        p = probabilities(lp[active], func)                             # (A, K) float64
        nxt = np.full(len(lengths), PAD_TOKEN, dtype=np.int64)
        for j, i in enumerate(active):
            nxt[i] = step(i, t, p[j:j + 1])
        if t + 1 < n_steps:
            driver.advance(nxt)
        if bar is not None:
            bar.update(len(active))
    return driver.restarts


def _groups(indices: list[int], batch_size: int) -> list[list[int]]:
    return [indices[s:s + batch_size] for s in range(0, len(indices), batch_size)]


def _encode_float(m, syms: list[np.ndarray], coders: list[_RowCoder], win, keep, batch, bar,
                  func: str) -> int:
    restarts = 0
    feeds = [_feed_ids(s) for s in syms]
    for group in _groups(list(range(len(syms))), batch):
        def step(i: int, t: int, p_row: np.ndarray, group=group) -> int:
            coders[group[i]].encode(t, p_row)
            return int(feeds[group[i]][t])
        restarts += _run_group(m, [len(syms[i]) for i in group], win, keep, step, bar, func)
    return restarts


# ---------------------------------------------------------------------------------------------
# the portable path: batched passes to encode, token by token to decode


def _encode_portable(m, syms: list[np.ndarray], coders: list[_RowCoder], win, keep, batch, bar) -> int:
    """Frequency rows of every symbol in the contexts the decoder will see, coded in bulk.

    The decoder restarts its window every so often and feeds the last `keep` tokens again; those
    contexts depend only on the tokens, so the encoder computes the segments after the first side by
    side, each as a row of its own (the prefix, its `keep` tokens of history, its new tokens), as
    many rows per model call as :data:`SEGMENT_BUDGET` allows: the same integers, in far fewer calls."""
    n_prefix = len(tuple(m.prefix))
    skips = takes_skip(m)
    restarts = 0
    for group in _groups(list(range(len(syms))), batch):
        B = len(group)
        lengths = [len(syms[i]) for i in group]
        n = max(lengths)
        ids = np.full((B, n), PAD_TOKEN, dtype=np.int64)                          # (B, n)
        for r, i in enumerate(group):
            ids[r, :lengths[r]] = _feed_ids(syms[i])

        def emit(t0: int, F: np.ndarray) -> None:                                 # F (B, T, K)
            for r, i in enumerate(group):
                T = min(F.shape[1], lengths[r] - t0)
                if T > 0:
                    coders[i].encode(t0, F[r, :T])                                # integer rows
                    if bar is not None:
                        bar.update(T)

        segs = segments(n, n_prefix, win, keep)
        restarts += len(segs) - 1
        chunk = max(1, SEGMENT_BUDGET // (8 * B * m.vocab_size))

        def run(st, a: int, b: int) -> None:                   # feed ids[:, a:b] in chunks: predicts a+1..b
            for pos in range(a, b, chunk):
                st, F = m.feed_freqs(st, ids[:, pos:min(b, pos + chunk)])
                emit(pos + 1, np.asarray(F))

        st = m.begin(B)                                        # the first segment: after the prefix
        emit(0, np.asarray(st.freqs)[:, None, :])
        run(st, 0, segs[0].last)
        rest = segs[1:]
        if not rest:
            continue
        span = keep + max(sg.last - sg.first for sg in rest)                      # tokens fed per row
        per_call = SEGMENT_BUDGET // (8 * B * (span - keep + 1) * m.vocab_size)
        if per_call == 0:               # one segment of every block is too much at once: in chunks of tokens
            for sg in rest:
                st, F = feed_rows(m, m.begin(B), ids[:, sg.history:sg.first], keep - 1, skips)
                emit(sg.first, np.asarray(F))
                run(st, sg.first, sg.last)
            continue
        per_call -= per_call % 2 if per_call > 2 else 0      # an even number: the kernels' two threads share it
        for c in range(0, len(rest), per_call):
            part = rest[c:c + per_call]
            x = np.full((len(part), B, span), PAD_TOKEN, dtype=np.int64)
            for j, sg in enumerate(part):                                          # history, then new tokens
                x[j, :, :sg.last - sg.history] = ids[:, sg.history:sg.last]
            _, F = feed_rows(m, m.begin(len(part) * B), x.reshape(-1, span), keep - 1, skips)
            F = np.asarray(F).reshape(len(part), B, span - keep + 1, -1)          # row i predicts first + i
            for j, sg in enumerate(part):
                emit(sg.first, F[j, :, :sg.last - sg.first + 1])
    return restarts


# ---------------------------------------------------------------------------------------------
# public API


def compress(data: bytes | str, model: Any = "builtin:gpt", *, blocks: int | None = None,
             block_size: int | None = None, batch_size: int | None = None,
             window: int | None = None, keep: int | None = None, portable: bool | None = None,
             methods: str = "best", device: str = "auto", progress: bool = False,
             mix: bool | None = None) -> CompressionResult:
    """Range-code ``data`` with a token model: about ``sum_t -log2 p_M(x_t | x^{t-1})`` bits.

    Parameters
    ----------
    data : bytes or str
        Any bytes (valid UTF-8 or not, empty included); str is encoded as UTF-8.
    model : str or TokenModel
        A spec for :func:`seminfo.load_model` (``"builtin:gpt"``, ``"builtin:ngram"``,
        ``"builtin:smollm2"``, a local Hugging Face directory) or a loaded TokenModel.
    blocks : int, optional
        Split the input into this many blocks of (nearly) equal byte length (default 1).
    block_size : int, optional
        Alternatively, the length of each block in bytes.
    batch_size : int, optional
        Blocks coded together in one model batch (default min(blocks, 32)).
    window : int, optional
        Longest context (prefix included) given to the model, at most ``model.max_context``
        (default ``model.max_context``; unbounded if the model has no limit).
    keep : int, optional
        Tokens fed again when the window is full (default half the window).
    portable : bool or None
        None (default): the deterministic integer path when the model has one (the archive then
        decodes on any machine), else the float path. False: the float path (archive tied to this
        kind of machine). True: the integer path, or ModelNotAvailableError.
    methods : {"best", "model"}
        "best": each block stored with the smallest of the model's code, zstd, xz and raw storage.
        "model": every block range-coded with the model (for studying the model's code).
    device : str
        Device for a model given as a spec (auto, cpu, cuda, cuda:N, mps).
    progress : bool
        Show a tqdm progress bar on stderr.
    mix : bool or None
        Mix the model's rows with an adaptive order-2 token context model of each block
        (:mod:`seminfo.coding.mixing`; exact integers). None (default): on for the portable path.
        Not available on the float path.

    Returns
    -------
    CompressionResult
        The archive (``.archive``) and its accounting in bits per byte.

    Examples
    --------
    >>> r = compress("Tokens carry semantic information.", "builtin:ngram")
    >>> decompress(r.archive) == b"Tokens carry semantic information."
    True
    """
    func = "compress"
    raw = as_bytes(data, "data", func)
    one_of(methods, ("best", "model"), "methods", func)
    m, portable = _coding_model(model, portable, device, func)
    mix = portable if mix is None else as_bool(mix, "mix", func)
    if mix and not portable:
        raise InputError(f"The `mix` parameter of {func} needs the portable path (integer rows); model "
                         f"{m.name!r} is coded on the float path here. Pass mix=False.")
    fingerprint = m.fingerprint()
    t0 = time.perf_counter()            # throughput: loading and fingerprinting the model excluded
    win, keep = _window(m, window, keep, func)
    pieces = _split(raw, blocks, block_size, func)
    if batch_size is None:
        batch = max(1, min(len(pieces), DEFAULT_BATCH))
    else:
        batch = as_int(batch_size, "batch_size", func, minimum=1)
    syms = [_symbols(m, piece, i) for i, piece in enumerate(pieces)]
    coders = [_RowCoder(s, m.vocab_size, mix) for s in syms]
    bar = _progress(sum(map(len, syms)), "compress", progress)
    try:
        if portable:
            restarts = _encode_portable(m, syms, coders, win, keep, batch, bar)
        else:
            restarts = _encode_float(m, syms, coders, win, keep, batch, bar, func)
    finally:
        if bar is not None:
            bar.close()
    table, no_model = [], []
    model_payload = 0
    for piece, s, c in zip(pieces, syms, coders):
        code = c.enc.payload()
        model_payload += len(code)
        name = "model+escape" if c.escape else "model"
        options = {name: code} if methods == "model" else {name: code, **block_methods.standard_payloads(piece)}
        cost = {k: len(v) + (len(container.varint(len(s))) if k == name else 0) for k, v in options.items()}
        rank = sorted(options, key=lambda k: (cost[k], _TIE_ORDER.index(k)))
        table.append((rank[0], len(piece), len(s), options[rank[0]]))
        other = next((k for k in rank if k not in container.MODEL_METHODS), rank[0])
        no_model.append((other, len(piece), len(s), options[other]))
    signature = "" if portable else machine.signature(m)
    pack = lambda blocks: container.pack(data=raw, window=win or 0, keep=keep, batch_size=batch,  # noqa: E731
                                         fingerprint=fingerprint, spec=m.name, blocks=blocks,
                                         portable=portable, machine=signature, mixed=mix)
    archive = pack(table)
    if no_model != table:               # the model's header fields (digest, fingerprint) may outweigh its gain
        alt = pack(no_model)
        if len(alt) < len(archive):
            archive, table = alt, no_model
    counts: dict = {}
    for method, *_ in table:
        counts[method] = counts.get(method, 0) + 1
    seconds = time.perf_counter() - t0
    n_sym = sum(map(len, syms))
    ce_bits = sum(c.ce for c in coders)
    coded = sum(c.coded for c in coders)
    payload = sum(len(p) for *_, p in table)
    # an empty input codes nothing: its rates are 0 (the header alone makes archive_bits_per_byte inf)
    per_byte = (lambda bits: bits / len(raw)) if raw else (lambda bits: math.inf if bits else 0.0)
    return CompressionResult(
        archive=archive, model=m.name, fingerprint=fingerprint, portable=portable,
        original_bytes=len(raw), archive_bytes=len(archive), payload_bytes=payload,
        header_bytes=len(archive) - payload, model_payload_bytes=model_payload, block_methods=counts,
        tokens=n_sym, escaped_bytes=int(sum(int(np.sum(s < 0)) for s in syms)),
        blocks=len(pieces), batch_size=batch, window=win or 0, keep=keep, restarts=restarts,
        cross_entropy_bits=ce_bits, coded_cross_entropy_bits=coded,
        cross_entropy_bits_per_byte=per_byte(ce_bits),
        cross_entropy_bits_per_token=ce_bits / n_sym if n_sym else 0.0,
        coded_cross_entropy_bits_per_byte=per_byte(coded),
        payload_bits_per_byte=per_byte(8.0 * payload),
        archive_bits_per_byte=per_byte(8.0 * len(archive)),
        coder_overhead_percent=(100.0 * (8.0 * model_payload - ce_bits) / ce_bits
                                if 0 < ce_bits < math.inf else 0.0),
        seconds=seconds, tokens_per_second=n_sym / seconds if seconds > 0 else 0.0)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="tok", leave=False)


def _archive_bytes(archive: Any, func: str) -> bytes:
    if isinstance(archive, CompressionResult):
        return archive.archive
    if isinstance(archive, (bytes, bytearray, memoryview)):
        return bytes(archive)
    raise InputError(f"The `archive` parameter of {func} must be bytes (an archive made by "
                     f"seminfo.compress). Got {type(archive).__name__}.")


def _check_spec(header: container.ArchiveHeader, func: str) -> None:
    """Refuse, before any model is built, a spec that decompress would not load by itself."""
    spec = header.spec
    if not spec.startswith("builtin:"):
        raise ModelNotAvailableError(
            f"The archive was made with the model {spec!r}, which is not built in: pass "
            f"that model as the `model` parameter of {func} (--model DIR on the command line).")
    if spec not in AUTO_SPECS:
        raise ModelNotAvailableError(
            f"The archive names the model {spec!r}, which {func} does not load by itself (it loads "
            f"{', '.join(AUTO_SPECS)}): another model would be built before its fingerprint could be "
            f"checked. If you trust the archive, pass `model={spec!r}` (--model {spec}).")
    if header.portable and not _has_portable_path(spec):
        raise ModelNotAvailableError(
            f"The archive was coded with the portable (integer) path of {spec!r}, which this "
            "installation lacks; upgrade seminfo to decode it.")


def _model_for(header: container.ArchiveHeader, model: Any, device: str, func: str):
    """The model that decodes `header`'s blocks, its fingerprint checked."""
    if model is None:
        _check_spec(header, func)
        model = header.spec
    if header.portable:
        if not _has_portable_path(model):
            name = model if isinstance(model, str) else getattr(model, "name", type(model).__name__)
            raise ModelNotAvailableError(
                f"The archive was coded with a portable (integer) model, {header.spec!r}, but the "
                f"model given, {name!r}, has no portable path here.")
        m = model if _is_portable(model) else _portable_api().portable_model(model, device=device)
    else:
        if _is_portable(model):
            raise ArchiveError(f"The archive was made on the float path of {header.spec!r}; pass the "
                               "float model, not its portable version.")
        m = _resolve_model(model, func, device=device)
    fp = m.fingerprint()
    if fp != header.fingerprint:
        raise ArchiveError(
            f"The archive was made with model {header.spec!r} (fingerprint {header.fingerprint[:16]}...), "
            f"but the model given, {m.name!r}, has fingerprint {fp[:16]}...; decompressing needs the "
            "exact same weights and tokenizer.")
    if header.window and m.max_context is not None and header.window > m.max_context:
        raise ArchiveError(f"The archive's window of {header.window} tokens exceeds the model's "
                           f"max_context of {m.max_context}; the archive is corrupted.")
    if header.window and not 1 <= header.keep < header.window - len(tuple(m.prefix)):
        raise ArchiveError(f"The archive's keep of {header.keep} tokens does not fit its window of "
                           f"{header.window}; the archive is corrupted.")
    return m


def machine_check(archive: Any, model: Any = None) -> list[str]:
    """What differs between the machine that made a machine-tied archive and this one.

    Returns an empty list for portable archives, archives that need no model and version-1
    archives (which recorded no signature). For the float path the list names each difference
    (``"cpu AVX512 (archive) vs AVX2 (here)"``); decoding may then fail (with ArchiveError, never
    with wrong bytes).
    """
    header = container.read_header(_archive_bytes(archive, "machine_check"))
    if not header.machine or header.portable or not header.needs_model:
        return []
    return machine.differences(header.machine, machine.signature(model))


def _decode_symbols(m, header, blobs, known: dict[int, np.ndarray], bar, func: str
                    ) -> dict[int, np.ndarray]:
    """Symbols of every model-coded block (token by token, batched over blocks)."""
    from ..models.tokenizer import ESCAPE_FEED_ID, ESCAPE_PROB_BITS
    K = m.vocab_size
    todo = [i for i, b in enumerate(header.blocks) if b.method in container.MODEL_METHODS]
    decoders = {i: BlockDecoder(blobs[i]) for i in todo}
    mixers = {i: ContextMixer(K) for i in todo} if header.mixed else {}
    out: dict[int, list[int]] = {i: [] for i in todo}
    feeds: dict[int, np.ndarray] = {i: _feed_ids(s) for i, s in known.items()}

    def decode(i: int, p_row: np.ndarray) -> int:
        esc = header.blocks[i].method == "model+escape"
        sym = decoders[i].decode(with_escape(p_row, ESCAPE_PROB_BITS) if esc else p_row)
        if esc and sym == K:
            sym = -1 - decoders[i].decode(UNIFORM_BYTE)
        out[i].append(sym)
        return sym if sym >= 0 else ESCAPE_FEED_ID

    win = header.window or None
    if header.portable:                       # integer numbers do not depend on the batch: code only what is needed
        for group in _groups(todo, max(header.batch_size, 1)):
            lengths = [header.blocks[i].tokens for i in group]
            driver = ContextDriver(m, len(group), win, header.keep, portable=True)
            for t in range(max(lengths)):
                F = np.asarray(driver.freqs)                                      # (B, K)
                nxt = np.full(len(group), PAD_TOKEN, dtype=np.int64)
                for r, i in enumerate(group):
                    if t < lengths[r]:
                        if mixers:
                            nxt[r] = decode(i, mixers[i].mix(F[r])[None].astype(np.float64))
                            mixers[i].update(int(nxt[r]))
                        else:
                            nxt[r] = decode(i, F[r:r + 1].astype(np.float64))
                if t + 1 < max(lengths):
                    driver.advance(nxt)
                if bar is not None:
                    bar.update(sum(t < n for n in lengths))
    else:                                     # the float path: the encoder's batches, known rows fed again
        for group in _groups(list(range(len(header.blocks))), max(header.batch_size, 1)):
            lengths = [header.blocks[i].tokens if i in decoders else len(known[i]) for i in group]
            if max(lengths) == 0:
                raise ArchiveError("The archive is corrupted: a batch of its blocks holds no tokens.")

            def step(r: int, t: int, p_row: np.ndarray, group=group) -> int:
                i = group[r]
                return decode(i, p_row) if i in decoders else int(feeds[i][t])
            _run_group(m, lengths, win, header.keep, step, bar, func)
    return {i: np.asarray(v, dtype=np.int64) for i, v in out.items()}


def decompress_detailed(archive: bytes, model: Any = None, *, device: str = "auto",
                        progress: bool = False) -> DecompressionResult:
    """Inverse of :func:`compress`, with the accounting of the run (see :func:`decompress`)."""
    from ..models.tokenizer import decode_escaped
    func = "decompress"
    buf = _archive_bytes(archive, func)
    header = container.read_header(buf)
    blobs = container.payloads(buf, header)
    m, name = None, header.spec
    mismatch: list[str] = []
    if header.needs_model:
        m = _model_for(header, model, device, func)
        name = m.name
        if header.machine and not header.portable:
            mismatch = machine.differences(header.machine, machine.signature(m))
            if mismatch:
                warnings.warn(f"This archive was made with {header.spec!r}, which has no deterministic "
                              f"path, on another kind of machine ({'; '.join(mismatch)}); it may not "
                              "decode here (a failure is reported, never wrong bytes).",
                              RuntimeWarning, stacklevel=2)
    t0 = time.perf_counter()            # throughput: loading and fingerprinting the model excluded
    parts: dict[int, bytes] = {}
    for i, b in enumerate(header.blocks):
        if b.method not in container.MODEL_METHODS:
            parts[i] = block_methods.unpack(b.method, blobs[i], b.original_bytes, i)
    known = {}
    if m is not None and not header.portable:     # the float path feeds every block of a batch
        known = {i: _symbols(m, parts[i], i) for i in parts}
    n_tok = sum(b.tokens for b in header.blocks)
    why = (f" It was made on another kind of machine ({'; '.join(mismatch)}), which explains it: "
           "decode it where it was made." if mismatch else
           " The archive is corrupted or the model computes different numbers here than where it "
           "was made.")
    if m is not None:
        bar = _progress(n_tok, "decompress", progress)
        try:
            decoded = _decode_symbols(m, header, blobs, known, bar, func)
        except ArchiveError as exc:
            raise ArchiveError(str(exc).rstrip(".") + "." + why) from None
        finally:
            if bar is not None:
                bar.close()
        for i, syms in decoded.items():
            try:
                part = decode_escaped(m.tokenizer, syms)
            except Exception as exc:        # a tokenizer fed impossible ids: the payload is damaged
                raise ArchiveError(f"Block {i} of the archive decodes to invalid tokens ({exc}).{why}") from None
            if len(part) != header.blocks[i].original_bytes:
                raise ArchiveError(f"Block {i} of the archive decodes to {len(part)} bytes instead of "
                                   f"{header.blocks[i].original_bytes}.{why}")
            parts[i] = part
    data = b"".join(parts[i] for i in range(len(header.blocks)))
    if not header.matches(data):          # sha256 (8 bytes of it without a model) or the compact crc32
        what = "crc32" if header.data_crc32 is not None else "sha256"
        raise ArchiveError(f"The decompressed bytes do not match the archive's {what}.{why}")
    seconds = time.perf_counter() - t0
    return DecompressionResult(data=data, model=name, portable=header.portable, original_bytes=len(data),
                               tokens=n_tok, blocks=len(header.blocks), batch_size=header.batch_size,
                               seconds=seconds, tokens_per_second=n_tok / seconds if seconds > 0 else 0.0)


def decompress(archive: bytes, model: Any = None, *, device: str = "auto", progress: bool = False) -> bytes:
    """Inverse of :func:`compress`: the original bytes, checked against the archive's sha256.

    Parameters
    ----------
    archive : bytes or CompressionResult
    model : str or TokenModel, optional
        Needed only when the archive was made with a model that is not built in (a local
        directory) or with ``builtin:ngram:N``; otherwise the archive's spec is loaded. Its
        fingerprint must match the archive.
    device : str
        Device for the model loaded from the archive's spec.
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    bytes

    Raises
    ------
    ArchiveError
        Not an archive, unknown version, truncated, extended or corrupted, made with another
        model, or the decoded bytes fail the sha256 check.

    Warns
    -----
    RuntimeWarning
        Before decoding a machine-tied archive made on another kind of machine.
    """
    return decompress_detailed(archive, model, device=device, progress=progress).data


def _write_atomic(path: pathlib.Path, data: bytes, func: str) -> None:
    """Write to a temporary file beside `path` and rename it into place; delete it on failure."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise InputError(f"The `dst` parameter of {func} must name a writable file. Got "
                         f"{str(path)!r} ({exc.strerror}).") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())         # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def check_destination(dst: Any, src: Any, *, force: bool, func: str) -> pathlib.Path:
    """Check, before any work, that `dst` may be written: as xz and zstd do.

    It must be a file in an existing directory; an existing file is replaced only with `force`;
    the input itself is never replaced, even with `force`.
    """
    path = pathlib.Path(dst)
    if not path.parent.is_dir() or path.is_dir():
        raise InputError(f"The `dst` parameter of {func} must name a file in an existing directory. "
                         f"Got {str(path)!r}.")
    if path.exists() or path.is_symlink():
        try:
            same = pathlib.Path(src).exists() and os.path.samefile(src, path)
        except OSError:
            same = False
        if same:
            raise InputError(f"The `dst` parameter of {func} names the input file itself, "
                             f"{str(path)!r}; write the output to another file.")
        if not force:
            raise InputError(f"The `dst` parameter of {func} names an existing file, {str(path)!r}; "
                             "pass `force` to replace it.")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _read(path: Any, param: str, func: str) -> bytes:
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(f"The `{param}` parameter of {func} must name a readable file. Got {str(p)!r}.")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"The `{param}` parameter of {func} must name a readable file. Got "
                         f"{str(p)!r} ({exc.strerror}).") from None


def compress_file(src: Any, dst: Any, model: Any = "builtin:gpt", *, force: bool = False,
                  **options: Any) -> CompressionResult:
    """Compress the file `src` into the archive `dst` (written atomically); options as :func:`compress`.

    An existing `dst` is replaced only with ``force=True``; `dst` may never be `src` itself.
    """
    data = _read(src, "src", "compress_file")
    path = check_destination(dst, src, force=force, func="compress_file")   # before minutes of model calls
    result = compress(data, model, **options)
    check_destination(dst, src, force=force, func="compress_file")          # created meanwhile?
    _write_atomic(path, result.archive, "compress_file")
    return result


def decompress_file(src: Any, dst: Any, model: Any = None, *, force: bool = False, device: str = "auto",
                    progress: bool = False) -> DecompressionResult:
    """Decompress the archive `src` into `dst`.

    The output is written to a temporary file and renamed only after the sha256 of the original
    bytes has been verified, so a damaged archive or a wrong model leaves no output file. An
    existing `dst` is replaced only with ``force=True``; `dst` may never be `src` itself.
    """
    buf = _read(src, "src", "decompress_file")
    path = check_destination(dst, src, force=force, func="decompress_file")
    result = decompress_detailed(buf, model, device=device, progress=progress)
    check_destination(dst, src, force=force, func="decompress_file")
    _write_atomic(path, result.data, "decompress_file")
    return result
