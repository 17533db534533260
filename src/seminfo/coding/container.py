"""The archive container: header, block table, checksums and payloads, byte by byte.

Scope
-----
Writes and reads the self-describing file that :func:`seminfo.coding.compress` produces. All
integers are little-endian. Layout of format version 1 (documented in docs/compression.md)::

    offset  size  field
    0       8     magic b"SEMINFOZ"
    8       2     u16 format version (1)
    10      2     u16 coder id (1: constriction queue range coder, 24-bit Categorical(perfect=False))
    12      8     u64 original length in bytes
    20      32    sha256 of the original bytes
    52      4     u32 window: longest model context, prefix included (0: unbounded)
    56      4     u32 keep: tokens fed again when the window restarts
    60      4     u32 batch size: blocks coded together in one batch of the model
    64      4     u32 number of blocks N
    68      2     u16 F, length of the model fingerprint
    70      F     model fingerprint (ASCII hex)
    70+F    2     u16 S, length of the model spec
    72+F    S     model spec (UTF-8), e.g. "builtin:gpt"
    72+F+S  28*N  block table; per block: u64 original bytes, u64 tokens, u64 payload bytes,
                  u32 crc32 of the payload
    ...     4     u32 crc32 of every header byte before this field
    ...           payloads of blocks 0..N-1, concatenated (32-bit little-endian words)

A reader rejects, with :class:`~seminfo.errors.ArchiveError`: another magic, an unknown version or
coder, a header whose crc32 does not match, block lengths that do not add up, a file shorter or
longer than header + payloads, and a payload whose crc32 does not match. The sha256 of the
original bytes is checked after decoding (by the codec).

Leaves out: streaming (the whole archive is read in memory), encryption, multi-file archives.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from ..errors import ArchiveError
from ..results import Result
from .rangecoder import CODER_ID

MAGIC = b"SEMINFOZ"
FORMAT_VERSION = 1
_FIXED = struct.Struct("<8sHHQ32sIIII")          # magic .. number of blocks: 68 bytes
_BLOCK = struct.Struct("<QQQI")                   # one block-table entry: 28 bytes
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class BlockEntry(Result):
    """One row of the block table.

    Attributes
    ----------
    original_bytes : int
        Length of the block's original bytes.
    tokens : int
        Number of tokens coded in the block.
    payload_bytes : int
        Length of the block's range-coder payload (bytes, a multiple of 4).
    payload_crc32 : int
        crc32 of that payload.
    """

    original_bytes: int
    tokens: int
    payload_bytes: int
    payload_crc32: int


@dataclass(frozen=True)
class ArchiveHeader(Result):
    """Everything in an archive except the payloads.

    Attributes
    ----------
    version : int
        Format version (1).
    coder : int
        Coder identifier (see :data:`seminfo.coding.rangecoder.CODER_ID`).
    original_length : int
        Bytes of the original data.
    sha256 : str
        Hex sha256 of the original data.
    window, keep, batch_size : int
        Context window (0 = unbounded), tokens kept on restart, blocks per model batch.
    fingerprint : str
        ``TokenModel.fingerprint()`` of the model that made the archive.
    spec : str
        The model's spec string (``TokenModel.name``).
    blocks : tuple of BlockEntry
    header_bytes : int
        Size of the header (everything before the first payload), in bytes.
    """

    version: int
    coder: int
    original_length: int
    sha256: str
    window: int
    keep: int
    batch_size: int
    fingerprint: str
    spec: str
    blocks: tuple
    header_bytes: int = 0

    @property
    def payload_bytes(self) -> int:
        """Total payload size in bytes."""
        return sum(b.payload_bytes for b in self.blocks)


def _field_check(value: int, name: str, limit: int) -> int:
    if not 0 <= value <= limit:
        raise ArchiveError(f"The archive field `{name}` must fit in its field (0..{limit}). Got {value}.")
    return value


def pack(*, data: bytes, window: int, keep: int, batch_size: int, fingerprint: str, spec: str,
         blocks: list[tuple[int, int, bytes]]) -> bytes:
    """Serialise an archive.

    Parameters
    ----------
    data : bytes
        The original bytes (for their length and sha256).
    window, keep, batch_size : int
        Coding parameters the decoder must reproduce (window 0 = unbounded).
    fingerprint, spec : str
        The model's fingerprint and spec string.
    blocks : list of (original_bytes, tokens, payload)
        One entry per block, in order.

    Returns
    -------
    bytes
        The archive: header, block table, header crc32, payloads.
    """
    fp = fingerprint.encode("ascii")
    sp = spec.encode("utf-8")
    for v, name in ((window, "window"), (keep, "keep"), (batch_size, "batch_size"),
                    (len(blocks), "blocks")):
        _field_check(v, name, _U32_MAX)
    _field_check(len(fp), "fingerprint length", 2**16 - 1)
    _field_check(len(sp), "spec length", 2**16 - 1)
    head = [_FIXED.pack(MAGIC, FORMAT_VERSION, CODER_ID, len(data), hashlib.sha256(data).digest(),
                        window, keep, batch_size, len(blocks)),
            _U16.pack(len(fp)), fp, _U16.pack(len(sp)), sp]
    head += [_BLOCK.pack(n_bytes, n_tokens, len(payload), zlib.crc32(payload))
             for n_bytes, n_tokens, payload in blocks]
    header = b"".join(head)
    return b"".join([header, _U32.pack(zlib.crc32(header)), *(p for _, _, p in blocks)])


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.buf):
            raise ArchiveError(f"The archive is truncated: it ends at byte {len(self.buf)} inside "
                               f"the {what} (which needs {self.pos + n} bytes).")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def read_header(archive: bytes) -> ArchiveHeader:
    """Parse and check an archive's header and block table (payloads are not decoded).

    Parameters
    ----------
    archive : bytes

    Returns
    -------
    ArchiveHeader

    Raises
    ------
    ArchiveError
        Not an archive, unknown version or coder, truncated, extended or corrupted.
    """
    buf = bytes(archive)
    r = _Reader(buf)
    magic = r.take(8, "magic number")
    if magic != MAGIC:
        raise ArchiveError(f"This is not a seminfo archive: it starts with {magic!r}, not {MAGIC!r}.")
    (version,) = _U16.unpack(r.take(2, "format version"))
    if version != FORMAT_VERSION:
        raise ArchiveError(f"The archive has format version {version}, which this seminfo does not "
                           f"read (it reads version {FORMAT_VERSION}); use the seminfo that wrote it.")
    r.pos = 0
    (_, _, coder, length, digest, window, keep, batch, n_blocks) = _FIXED.unpack(
        r.take(_FIXED.size, "fixed header"))
    (n_fp,) = _U16.unpack(r.take(2, "fingerprint length"))
    fp_raw = r.take(n_fp, "model fingerprint")
    (n_sp,) = _U16.unpack(r.take(2, "spec length"))
    sp_raw = r.take(n_sp, "model spec")
    if n_blocks > (len(buf) - r.pos) // _BLOCK.size:
        raise ArchiveError(f"The archive is truncated or corrupted: its header announces {n_blocks} "
                           f"blocks, more than the {len(buf)} bytes of the file can hold.")
    rows = [_BLOCK.unpack(r.take(_BLOCK.size, f"block table entry {i}")) for i in range(n_blocks)]
    header_end = r.pos
    (crc,) = _U32.unpack(r.take(4, "header checksum"))
    if crc != zlib.crc32(buf[:header_end]):
        raise ArchiveError("The archive's header is corrupted: its crc32 does not match.")
    if coder != CODER_ID:
        raise ArchiveError(f"The archive uses coder {coder}, which this seminfo does not know "
                           f"(it knows coder {CODER_ID}).")
    try:
        fingerprint, spec = fp_raw.decode("ascii"), sp_raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError("The archive's header is corrupted: the model fingerprint or spec is "
                           "not text.") from None
    blocks = tuple(BlockEntry(*row) for row in rows)
    if sum(b.original_bytes for b in blocks) != length:
        raise ArchiveError(f"The archive is corrupted: its blocks hold "
                           f"{sum(b.original_bytes for b in blocks)} bytes, its header says {length}.")
    expected = r.pos + sum(b.payload_bytes for b in blocks)
    if len(buf) < expected:
        raise ArchiveError(f"The archive is truncated: it has {len(buf)} bytes, its block table "
                           f"needs {expected}.")
    if len(buf) > expected:
        raise ArchiveError(f"The archive has {len(buf) - expected} unexpected bytes after its last "
                           f"block ({len(buf)} bytes, {expected} expected); it was extended or corrupted.")
    if batch < 1 and blocks:
        raise ArchiveError(f"The archive is corrupted: its batch size is {batch}.")
    return ArchiveHeader(version=version, coder=coder, original_length=length, sha256=digest.hex(),
                         window=window, keep=keep, batch_size=batch, fingerprint=fingerprint,
                         spec=spec, blocks=blocks, header_bytes=r.pos)


def payloads(archive: bytes, header: ArchiveHeader) -> list[bytes]:
    """The payload of each block, after checking its crc32 (ArchiveError on mismatch)."""
    out, pos = [], header.header_bytes
    for i, b in enumerate(header.blocks):
        p = bytes(archive[pos:pos + b.payload_bytes])
        pos += b.payload_bytes
        if zlib.crc32(p) != b.payload_crc32:
            raise ArchiveError(f"Block {i} of the archive is corrupted: its crc32 does not match.")
        out.append(p)
    return out
