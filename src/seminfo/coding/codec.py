"""Lossless compression of bytes with any token model: ``compress`` and ``decompress``.

Scope
-----
Shannon's source coding theorem at token level (theory §12): the bytes are tokenized, each token is
range-coded with the model's next-token distribution ``p_M(x_t | x^{t-1})``, and the archive holds
``sum_t -log2 p_M(x_t | x^{t-1}) + O(1)`` bits per block [1]_ [2]_. Decoding runs the same model
calls token by token (:class:`~seminfo.coding.context.ContextDriver`) so it sees bit-identical
probabilities, rebuilds the tokens and detokenizes them (tokenizers are byte-exact by contract).

Blocks
------
The input may be split into blocks of consecutive bytes that are tokenized and coded independently;
``batch_size`` blocks at a time share one batch of the model (``begin(B)`` / ``feed`` with B rows),
which makes decoding many blocks about as fast as one. The cost: each block starts without context
and the tokenization breaks at block boundaries (both are in the reported cross-entropy), plus one
range-coder termination (at most 64 bits) and 28 bytes of block table per block. Encoder and
decoder use the same batch composition (written in the archive): the same numbers on both sides.

Accounting
----------
:class:`CompressionResult` reports the model's cross-entropy in bits per byte (float64 sum of
``-log2 p`` of the coded tokens over the original bytes), the achieved bits per byte of the
payload and of the whole file, the coder's overhead over the cross-entropy in percent and tokens per
second. Leaves out: streaming input, dictionaries/priming text, mixing several models.

References
----------
.. [1] C. E. Shannon, "A Mathematical Theory of Communication", Bell Syst. Tech. J. 27 (1948).
.. [2] G. Deletang et al., "Language Modeling Is Compression", ICLR 2024, arXiv:2309.10668.
"""

from __future__ import annotations

import hashlib
import math
import os
import pathlib
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._validate import as_bytes, as_int
from ..errors import ArchiveError, InputError, ModelMismatchError, ModelNotAvailableError
from ..results import Result
from . import container
from .context import ContextDriver
from .rangecoder import BlockDecoder, BlockEncoder, probabilities

LN2 = math.log(2.0)
#: Default number of blocks coded together in one batch of the model.
DEFAULT_BATCH = 32
#: Token id fed to rows whose block has ended while others in the batch go on (output ignored).
PAD_TOKEN = 0


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
        ``TokenModel.fingerprint()``.
    original_bytes, archive_bytes, payload_bytes, header_bytes : int
        Sizes in bytes: input, whole file, range-coder payloads, header + block table + crc.
    tokens, blocks, batch_size, window, keep, restarts : int
        Tokens coded, blocks, blocks per model batch, context window (0 unbounded), tokens kept on
        a restart, number of window restarts (summed over batches).
    cross_entropy_bits : float
        Model cross-entropy of the coded tokens, ``sum -log2 p``, total bits.
    cross_entropy_bits_per_byte, cross_entropy_bits_per_token : float
        The same per original byte and per token.
    payload_bits_per_byte, archive_bits_per_byte : float
        Achieved size: payload bits / original bytes, whole-file bits / original bytes.
    coder_overhead_percent : float
        ``100 (payload bits - cross_entropy_bits) / cross_entropy_bits``; quantisation of the
        probabilities plus the range coder's termination, in percent of the cross-entropy.
    seconds, tokens_per_second : float
        Wall time of compression (tokenization, model calls, coder, packing; loading the model and
        computing its fingerprint excluded) and tokens coded per second.
    units : str
        ``"bits/byte"`` for the per-byte fields; sizes are bytes, totals bits. For an empty input the
        rates are 0 (nothing was coded), except ``archive_bits_per_byte``, which is ``inf``: the
        archive still holds its header.
    """

    archive: bytes = field(repr=False)
    model: str
    fingerprint: str
    original_bytes: int
    archive_bytes: int
    payload_bytes: int
    header_bytes: int
    tokens: int
    blocks: int
    batch_size: int
    window: int
    keep: int
    restarts: int
    cross_entropy_bits: float
    cross_entropy_bits_per_byte: float
    cross_entropy_bits_per_token: float
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
    original_bytes, tokens, blocks, batch_size : int
    seconds, tokens_per_second : float
        Wall time of decompression (model calls, coder, detokenization, sha256; loading the model
        and checking its fingerprint excluded) and tokens decoded per second.
    """

    data: bytes = field(repr=False)
    model: str
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


def _as_bytes(data: Any, func: str) -> bytes:
    return as_bytes(data, "data", func)


def _resolve_model(model: Any, func: str, **load_options: Any):
    """A left-to-right model from a spec string or an instance (the coder runs it incrementally)."""
    try:
        from ..models.capability import as_model
    except ImportError as exc:
        raise ModelNotAvailableError(f"Token models cannot be loaded here ({exc}).") from None
    return as_model(model, "score", "incremental", func=func, **load_options)


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


# ---------------------------------------------------------------------------------------------
# the shared token loop


def _run_group(model, lengths: list[int], window: int | None, keep: int,
               step: Callable[[int, int, np.ndarray, np.ndarray], int], bar, func: str) -> int:
    """Drive one batch of blocks: the identical model calls for encoder and decoder.

    For t = 0..max(lengths)-1, every row i with t < lengths[i] gets ``step(i, t, p_row, lp_row)``
    which returns its token (the encoder codes the known one, the decoder decodes it); then all
    rows advance by one token (finished rows by :data:`PAD_TOKEN`). Returns the number of restarts.
    """
    n_steps = max(lengths)
    driver = ContextDriver(model, len(lengths), window, keep)
    for t in range(n_steps):
        lp = driver.log_probs                                           # (B, K)
        active = [i for i, n in enumerate(lengths) if t < n]
        p = probabilities(lp[active], func)                             # (A, K) float64
        nxt = np.full(len(lengths), PAD_TOKEN, dtype=np.int64)
        for j, i in enumerate(active):
            nxt[i] = step(i, t, p[j:j + 1], lp[i])
        if t + 1 < n_steps:
            driver.advance(nxt)
        if bar is not None:
            bar.update(len(active))
    return driver.restarts


def _groups(n_blocks: int, batch_size: int) -> list[range]:
    return [range(s, min(s + batch_size, n_blocks)) for s in range(0, n_blocks, batch_size)]


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="tok", leave=False)


# ---------------------------------------------------------------------------------------------
# public API


def compress(data: bytes | str, model: Any = "builtin:gpt", *, blocks: int | None = None,
             block_size: int | None = None, batch_size: int | None = None,
             window: int | None = None, keep: int | None = None,
             progress: bool = False) -> CompressionResult:
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
        Blocks coded together in one model batch (default min(blocks, 32)); the decoder uses the
        same composition, read from the archive.
    window : int, optional
        Longest context (prefix included) given to the model, at most ``model.max_context``
        (default ``model.max_context``; unbounded if the model has no limit).
    keep : int, optional
        Tokens fed again when the window is full (default half the window).
    progress : bool
        Show a tqdm progress bar on stderr.

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
    raw = _as_bytes(data, func)
    m = _resolve_model(model, func)
    fingerprint = m.fingerprint()
    t0 = time.perf_counter()            # throughput: loading and fingerprinting the model excluded
    win, keep = _window(m, window, keep, func)
    pieces = _split(raw, blocks, block_size, func)
    if batch_size is None:
        batch = max(1, min(len(pieces), DEFAULT_BATCH))
    else:
        batch = as_int(batch_size, "batch_size", func, minimum=1)
    tokenized = []
    for i, piece in enumerate(pieces):
        ids = [int(x) for x in m.tokenizer.encode(piece)]
        if m.tokenizer.decode(ids) != piece:
            raise ModelMismatchError(
                f"The tokenizer of model {m.name!r} does not give back block {i} byte for byte "
                "(decode(encode(b)) != b), so it cannot be used for lossless compression.")
        if ids and not 0 <= min(ids) <= max(ids) < m.vocab_size:
            raise ModelMismatchError(f"The tokenizer of model {m.name!r} produced token ids outside "
                                     f"the model's vocabulary of {m.vocab_size}.")
        tokenized.append(ids)
    encoders = [BlockEncoder() for _ in pieces]
    ce_nats = [0.0]

    def encode_step(i: int, t: int, p_row: np.ndarray, lp_row: np.ndarray) -> int:
        tok = tokenized[i][t]
        encoders[i].encode(tok, p_row)
        ce_nats[0] -= float(lp_row[tok])
        return tok

    bar = _progress(sum(map(len, tokenized)), "compress", progress)
    restarts = 0
    for group in _groups(len(pieces), batch):
        lengths = [len(tokenized[i]) for i in group]
        offset = group.start
        restarts += _run_group(m, lengths, win, keep,
                               lambda i, t, p, lp: encode_step(offset + i, t, p, lp), bar, func)
    if bar is not None:
        bar.close()
    payload_list = [e.payload() for e in encoders]
    archive = container.pack(data=raw, window=win or 0, keep=keep, batch_size=batch,
                             fingerprint=fingerprint, spec=m.name,
                             blocks=[(len(b), len(ids), pl) for b, ids, pl
                                     in zip(pieces, tokenized, payload_list)])
    seconds = time.perf_counter() - t0
    n_tok = sum(map(len, tokenized))
    ce_bits = ce_nats[0] / LN2
    payload = sum(map(len, payload_list))
    # an empty input codes nothing: its rates are 0 (the header alone makes archive_bits_per_byte inf)
    per_byte = (lambda bits: bits / len(raw)) if raw else (lambda bits: math.inf if bits else 0.0)
    return CompressionResult(
        archive=archive, model=m.name, fingerprint=fingerprint, original_bytes=len(raw),
        archive_bytes=len(archive), payload_bytes=payload, header_bytes=len(archive) - payload,
        tokens=n_tok, blocks=len(pieces), batch_size=batch, window=win or 0, keep=keep,
        restarts=restarts, cross_entropy_bits=ce_bits,
        cross_entropy_bits_per_byte=per_byte(ce_bits),
        cross_entropy_bits_per_token=ce_bits / n_tok if n_tok else 0.0,
        payload_bits_per_byte=per_byte(8.0 * payload),
        archive_bits_per_byte=per_byte(8.0 * len(archive)),
        coder_overhead_percent=100.0 * (8.0 * payload - ce_bits) / ce_bits if ce_bits > 0 else 0.0,
        seconds=seconds, tokens_per_second=n_tok / seconds if seconds > 0 else 0.0)


def _archive_bytes(archive: Any, func: str) -> bytes:
    if isinstance(archive, CompressionResult):
        return archive.archive
    if isinstance(archive, (bytes, bytearray, memoryview)):
        return bytes(archive)
    raise InputError(f"The `archive` parameter of {func} must be bytes (an archive made by "
                     f"seminfo.compress). Got {type(archive).__name__}.")


def _model_for(header: container.ArchiveHeader, model: Any, func: str):
    if model is None:
        if not header.spec.startswith("builtin:"):
            raise ModelNotAvailableError(
                f"The archive was made with the model {header.spec!r}, which is not built in: pass "
                f"that model as the `model` parameter of {func} (--model DIR on the command line).")
        model = header.spec
    m = _resolve_model(model, func)
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


def decompress_detailed(archive: bytes, model: Any = None, *, progress: bool = False
                        ) -> DecompressionResult:
    """Inverse of :func:`compress`, with the accounting of the run (see :func:`decompress`)."""
    func = "decompress"
    buf = _archive_bytes(archive, func)
    header = container.read_header(buf)
    blobs = container.payloads(buf, header)
    n_tok = sum(b.tokens for b in header.blocks)
    if header.blocks:
        m = _model_for(header, model, func)
        name = m.name
    else:
        m, name = None, header.spec
    t0 = time.perf_counter()            # throughput: loading and fingerprinting the model excluded
    decoders = [BlockDecoder(p) for p in blobs]
    tokens: list[list[int]] = [[] for _ in header.blocks]

    def decode_step(i: int, t: int, p_row: np.ndarray, lp_row: np.ndarray) -> int:
        tok = decoders[i].decode(p_row)
        tokens[i].append(tok)
        return tok

    bar = _progress(n_tok, "decompress", progress)
    for group in _groups(len(header.blocks), max(header.batch_size, 1)):
        lengths = [header.blocks[i].tokens for i in group]
        if max(lengths) == 0:
            raise ArchiveError("The archive is corrupted: a batch of its blocks holds no tokens.")
        offset = group.start
        _run_group(m, lengths, header.window or None, header.keep,
                   lambda i, t, p, lp: decode_step(offset + i, t, p, lp), bar, func)
    if bar is not None:
        bar.close()
    parts = []
    for i, ids in enumerate(tokens):
        try:
            part = m.tokenizer.decode(ids)
        except Exception as exc:          # a tokenizer fed impossible ids: the payload is damaged
            raise ArchiveError(f"Block {i} of the archive decodes to invalid tokens ({exc}).") from None
        if len(part) != header.blocks[i].original_bytes:
            raise ArchiveError(f"Block {i} of the archive decodes to {len(part)} bytes instead of "
                               f"{header.blocks[i].original_bytes}; the archive is corrupted or the "
                               "model computes different numbers here than where it was made.")
        parts.append(part)
    data = b"".join(parts)
    if hashlib.sha256(data).hexdigest() != header.sha256:
        raise ArchiveError("The decompressed bytes do not match the archive's sha256; the archive is "
                           "corrupted or the model computes different numbers here than where the "
                           "archive was made.")
    seconds = time.perf_counter() - t0
    return DecompressionResult(data=data, model=name, original_bytes=len(data), tokens=n_tok,
                               blocks=len(header.blocks), batch_size=header.batch_size,
                               seconds=seconds,
                               tokens_per_second=n_tok / seconds if seconds > 0 else 0.0)


def decompress(archive: bytes, model: Any = None, *, progress: bool = False) -> bytes:
    """Inverse of :func:`compress`: the original bytes, checked against the archive's sha256.

    Parameters
    ----------
    archive : bytes or CompressionResult
    model : str or TokenModel, optional
        Needed only when the archive was made with a model that is not built in (a local
        directory); otherwise the archive's spec is loaded. Its fingerprint must match the archive.
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
    """
    return decompress_detailed(archive, model, progress=progress).data


def _write_atomic(path: pathlib.Path, data: bytes, func: str) -> None:
    """Write to a temporary file beside `path` and rename it into place; delete it on failure."""
    path = _check_dst(path, func)
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


def _check_dst(path: Any, func: str) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.parent.is_dir() or path.is_dir():
        raise InputError(f"The `dst` parameter of {func} must name a file in an existing directory. "
                         f"Got {str(path)!r}.")
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


def compress_file(src: Any, dst: Any, model: Any = "builtin:gpt", **options: Any) -> CompressionResult:
    """Compress the file `src` into the archive `dst` (written atomically); options as :func:`compress`."""
    data = _read(src, "src", "compress_file")
    _check_dst(dst, "compress_file")                  # before minutes of model calls, not after
    result = compress(data, model, **options)
    _write_atomic(pathlib.Path(dst), result.archive, "compress_file")
    return result


def decompress_file(src: Any, dst: Any, model: Any = None, *, progress: bool = False
                    ) -> DecompressionResult:
    """Decompress the archive `src` into `dst`.

    The output is written to a temporary file and renamed only after the sha256 of the original
    bytes has been verified, so a damaged archive or a wrong model leaves no output file.
    """
    buf = _read(src, "src", "decompress_file")
    _check_dst(dst, "decompress_file")
    result = decompress_detailed(buf, model, progress=progress)
    _write_atomic(pathlib.Path(dst), result.data, "decompress_file")
    return result
