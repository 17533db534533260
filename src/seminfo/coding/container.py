"""The archive container: header, block table, checksums and payloads, byte by byte.

Scope
-----
Writes format version 2 and reads versions 2 and 1 of the self-describing file that
:func:`seminfo.coding.compress` produces. Integers are little-endian; ``v`` is an unsigned LEB128
varint (7 bits a byte, low first, at most 10 bytes). Layout of version 2 (docs/compression.md)::

    size  field
    8     magic b"SEMINFOZ"
    2     u16 format version (2)
    1     u8 coder id (1: constriction queue range coder, 24-bit Categorical(perfect=False))
    1     u8 flags: 1 portable (frequencies from a deterministic integer path), 2 machine signature
          present (a machine-tied archive), 4 model identity present (some block is model-coded),
          8 fingerprint stored as text (it is not hex), 16 the model's rows are mixed with the
          block's context model (seminfo.coding.mixing; portable archives only)
    32|8  sha256 of the original bytes (raw); only its first 8 bytes when no block is model-coded
    v     original length in bytes
    [flag 4]  v v v window (0: unbounded), keep, batch size
    v     number of blocks N
    [flag 4]  u8 F, F bytes model fingerprint (raw bytes of the hex digest); v S, S bytes spec (UTF-8)
    [flag 2]  v M, M bytes machine signature (UTF-8 "key=value;..."), see :mod:`.machine`
    N x   block entry: u8 method (0 raw, 1 model, 2 model with escapes, 3 zstd, 4 xz),
          v original bytes, v payload bytes, [methods 1, 2] v symbols coded, u32 crc32 of the payload
    4     u32 crc32 of every header byte before this field
    ...   payloads of blocks 0..N-1, concatenated

Compact form (version 3; written for an archive of one block that needs no model: raw, zstd or xz)::

    4     magic b"SMZ3"
    1     u8 method (0 raw, 3 zstd, 4 xz)
    v     original length in bytes
    v     payload length in bytes
    4     u32 crc32 of: the 4 magic bytes, the method and the two varints, then the payload, then
          the original bytes (one checksum over everything, checked after decoding)
    ...   the payload (a zstd frame without its 4-byte magic number, which the reader puts back)

It costs 9 bytes plus two varints (13 bytes for up to 16 kB, 15 for up to 2 MB), so an input that no model helps
comes out at most a few bytes larger than the standard codec that stores it best. Any damage shows: a
payload that does not decode, a length that does not match, or a crc32 that differs (a flip in a part
of a zstd frame that its decoder ignores included).

Version 1 (read only; written by seminfo before 2026-12-05): 8 magic, u16 version 1, u16 coder,
u64 length, 32 sha256, u32 window, keep, batch, N, u16 F + hex fingerprint, u16 S + spec, N x (u64
original bytes, u64 tokens, u64 payload bytes, u32 crc32), u32 header crc32, payloads; every block
model-coded with the float path (tied to the machine that made it, no signature recorded).

A reader rejects, with :class:`~seminfo.errors.ArchiveError`: another magic, an unknown version,
coder, flag or block method, a header whose crc32 does not match, a varint that does not end,
block lengths that do not add up, a file shorter or longer than header + payloads, and a payload
whose crc32 does not match. The sha256 of the original bytes is checked after decoding (by the codec).

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
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2, 3)
#: Magic number of the compact form (version 3): one block, no model.
COMPACT_MAGIC = b"SMZ3"
COMPACT_METHODS = ("raw", "zstd", "xz")
#: The 4-byte magic number of a zstd frame, left out of compact archives.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: Bytes of the sha256 kept in an archive without model-coded blocks: its blocks (raw, zstd, xz) decode
#: the same on every machine and carry their own crc32, so the digest only guards against corruption.
SHORT_DIGEST_BYTES = 8
#: Flags of version 2.
PORTABLE, MACHINE, HAS_MODEL, TEXT_FINGERPRINT, MIXED = 1, 2, 4, 8, 16
_KNOWN_FLAGS = PORTABLE | MACHINE | HAS_MODEL | TEXT_FINGERPRINT | MIXED

#: Block methods: id -> name. "model" blocks are range-coded with the model; "model+escape" blocks
#: have escaped bytes (an extra escape symbol in every distribution); the others need no model.
METHODS = {0: "raw", 1: "model", 2: "model+escape", 3: "zstd", 4: "xz"}
METHOD_IDS = {name: i for i, name in METHODS.items()}
MODEL_METHODS = ("model", "model+escape")

_V1_FIXED = struct.Struct("<8sHHQ32sIIII")         # magic .. number of blocks: 68 bytes
_V1_BLOCK = struct.Struct("<QQQI")                  # one block-table entry: 28 bytes
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class BlockEntry(Result):
    """One row of the block table.

    Attributes
    ----------
    original_bytes : int
        Length of the block's original bytes.
    tokens : int
        Symbols range-coded in the block (tokens and escaped bytes); 0 for blocks not model-coded.
    payload_bytes : int
        Length of the block's payload in the archive.
    payload_crc32 : int
        crc32 of that payload.
    method : str
        How the block is stored: "model", "model+escape", "zstd", "xz" or "raw".
    """

    original_bytes: int
    tokens: int
    payload_bytes: int
    payload_crc32: int
    method: str = "model"


@dataclass(frozen=True)
class ArchiveHeader(Result):
    """Everything in an archive except the payloads.

    Attributes
    ----------
    version : int
        Format version (1 or 2).
    coder : int
        Coder identifier (see :data:`seminfo.coding.rangecoder.CODER_ID`).
    original_length : int
        Bytes of the original data.
    sha256 : str
        Hex sha256 of the original data (its first 16 hex digits in a version-2 archive without
        model-coded blocks).
    window, keep, batch_size : int
        Context window (0 = unbounded), tokens kept on restart, blocks per model batch.
    fingerprint : str
        ``TokenModel.fingerprint()`` of the model that made the archive ("" when no block is
        model-coded: then no model is needed to decode).
    spec : str
        The model's spec string (``TokenModel.name``); "" as above.
    blocks : tuple of BlockEntry
    header_bytes : int
        Size of the header (everything before the first payload), in bytes.
    portable : bool
        The model's numbers came from a deterministic integer path: the archive decodes anywhere.
    machine : str
        For a machine-tied archive (version 2, model-coded blocks, float path), the signature of
        the machine that made it (:func:`seminfo.coding.machine.signature`); "" otherwise.
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
    portable: bool = False
    machine: str = ""
    mixed: bool = False
    data_crc32: int | None = None
    crc_seed: int = 0

    def matches(self, data: bytes) -> bool:
        """True when `data` has the archive's checksum of the original bytes (its sha256, or
        the first 8 bytes of it, or the compact form's crc32 over header, payload and data)."""
        if self.data_crc32 is not None:
            return zlib.crc32(data, self.crc_seed) == self.data_crc32 and len(data) == self.original_length
        return hashlib.sha256(data).hexdigest()[:len(self.sha256)] == self.sha256

    @property
    def payload_bytes(self) -> int:
        """Total payload size in bytes."""
        return sum(b.payload_bytes for b in self.blocks)

    @property
    def needs_model(self) -> bool:
        """True when some block is model-coded (decoding needs the model)."""
        return any(b.method in MODEL_METHODS for b in self.blocks)


def _field_check(value: int, name: str, limit: int) -> int:
    if not 0 <= value <= limit:
        raise ArchiveError(f"The archive field `{name}` must fit in its field (0..{limit}). Got {value}.")
    return value


def varint(n: int) -> bytes:
    """Unsigned LEB128 encoding of ``0 <= n < 2**64``."""
    _field_check(n, "varint", _U64_MAX)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fingerprint_bytes(fingerprint: str) -> tuple[bytes, bool]:
    """(stored bytes, is text): raw bytes of a lowercase hex digest, else the ASCII text."""
    if fingerprint and len(fingerprint) % 2 == 0 and fingerprint == fingerprint.lower():
        try:
            return bytes.fromhex(fingerprint), False
        except ValueError:
            pass
    return fingerprint.encode("ascii"), True


def pack(*, data: bytes, window: int, keep: int, batch_size: int, fingerprint: str, spec: str,
         blocks: list[tuple[str, int, int, bytes]], portable: bool = False, machine: str = "",
         mixed: bool = False) -> bytes:
    """Serialise an archive (format version 2).

    Parameters
    ----------
    data : bytes
        The original bytes (for their length and sha256).
    window, keep, batch_size : int
        Coding parameters the decoder must reproduce (window 0 = unbounded).
    fingerprint, spec : str
        The model's fingerprint and spec string; written only when some block is model-coded.
    blocks : list of (method, original_bytes, symbols, payload)
        One entry per block, in order; `method` a name of :data:`METHODS`.
    portable : bool
        The model's numbers came from a deterministic integer path.
    machine : str
        Signature of this machine, for a machine-tied archive ("" for none). Written only when some
        block is model-coded.

    Returns
    -------
    bytes
        The archive: header, block table, header crc32, payloads.
    """
    has_model = any(m in MODEL_METHODS for m, _, _, _ in blocks)
    if not has_model and len(blocks) == 1 and blocks[0][0] in COMPACT_METHODS:
        return _pack_compact(data, blocks[0][0], blocks[0][3])
    flags = (PORTABLE if portable and has_model else 0) | (HAS_MODEL if has_model else 0)
    flags |= MIXED if mixed and has_model else 0
    head = []
    ident = []
    if has_model:
        fp, text = _fingerprint_bytes(fingerprint)
        sp = spec.encode("utf-8")
        _field_check(len(fp), "fingerprint length", 255)
        flags |= TEXT_FINGERPRINT if text else 0
        ident += [bytes([len(fp)]), fp, varint(len(sp)), sp]
        if machine:
            flags |= MACHINE
            mb = machine.encode("utf-8")
            ident += [varint(len(mb)), mb]
    digest = hashlib.sha256(data).digest()
    coding = [varint(window), varint(keep), varint(batch_size)] if has_model else []   # a model's fields
    head += [MAGIC, _U16.pack(FORMAT_VERSION), bytes([CODER_ID, flags]),
             digest if has_model else digest[:SHORT_DIGEST_BYTES], varint(len(data)), *coding,
             varint(len(blocks)), *ident]
    for method, n_bytes, n_symbols, payload in blocks:
        row = [bytes([METHOD_IDS[method]]), varint(n_bytes), varint(len(payload))]
        if method in MODEL_METHODS:
            row.append(varint(n_symbols))
        row.append(_U32.pack(zlib.crc32(payload)))
        head += row
    header = b"".join(head)
    return b"".join([header, _U32.pack(zlib.crc32(header)), *(p for _, _, _, p in blocks)])


def _pack_compact(data: bytes, method: str, payload: bytes) -> bytes:
    """The compact form (version 3) of a one-block archive that needs no model."""
    if method == "zstd":
        if not payload.startswith(ZSTD_MAGIC):
            raise ArchiveError("A zstd payload must be a zstd frame (it does not start with its magic number).")
        payload = payload[len(ZSTD_MAGIC):]
    head = COMPACT_MAGIC + bytes([METHOD_IDS[method]]) + varint(len(data)) + varint(len(payload))
    crc = zlib.crc32(data, zlib.crc32(payload, zlib.crc32(head)))
    return b"".join([head, _U32.pack(crc), payload])


def _read_compact(buf: bytes) -> ArchiveHeader:
    r = _Reader(buf)
    r.take(len(COMPACT_MAGIC), "magic number")
    (method_id,) = r.take(1, "block method")
    method = METHODS.get(method_id)
    if method not in COMPACT_METHODS:
        raise ArchiveError(f"The archive's header is corrupted: block method {method_id} is not one "
                           "of a compact archive's (0 raw, 3 zstd, 4 xz).")
    length = r.varint("original length")
    n_payload = r.varint("payload length")
    head = buf[:r.pos]
    (crc,) = _U32.unpack(r.take(4, "crc32 of the archive"))
    payload = buf[r.pos:r.pos + n_payload]
    block = BlockEntry(original_bytes=length, tokens=0, payload_bytes=n_payload,
                       payload_crc32=zlib.crc32(payload), method=method)
    header = ArchiveHeader(version=3, coder=0, original_length=length, sha256="", window=0, keep=0,
                           batch_size=1, fingerprint="", spec="", blocks=(block,), header_bytes=r.pos,
                           data_crc32=crc, crc_seed=zlib.crc32(payload, zlib.crc32(head)))
    _check_lengths(buf, header)
    return header


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

    def varint(self, what: str) -> int:
        n, shift = 0, 0
        for _ in range(10):
            (byte,) = self.take(1, what)
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if n > _U64_MAX:
                    break
                return n
            shift += 7
        raise ArchiveError(f"The archive's header is corrupted: the {what} is not a valid number.")


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
        Not an archive, unknown version, coder, flag or method, truncated, extended or corrupted.
    """
    buf = bytes(archive)
    if buf.startswith(COMPACT_MAGIC):
        return _read_compact(buf)
    r = _Reader(buf)
    magic = r.take(8, "magic number")
    if magic != MAGIC:
        raise ArchiveError(f"This is not a seminfo archive: it starts with {magic!r}, not {MAGIC!r}.")
    (version,) = _U16.unpack(r.take(2, "format version"))
    if version not in (1, 2):
        raise ArchiveError(f"The archive has format version {version}, which this seminfo does not "
                           "read (it reads versions 1 and 2 of this layout, and the compact version 3, "
                           "magic SMZ3); use the seminfo that wrote it.")
    header = _read_v1(buf) if version == 1 else _read_v2(buf, r)
    _check_lengths(buf, header)
    return header


def _check_header(buf: bytes, r: "_Reader", coder: int) -> None:
    """Read the header crc32 at the reader's position and check it and the coder id (versions 1 and 2)."""
    header_end = r.pos
    (crc,) = _U32.unpack(r.take(4, "header checksum"))
    if crc != zlib.crc32(buf[:header_end]):
        raise ArchiveError("The archive's header is corrupted: its crc32 does not match.")
    if coder != CODER_ID:
        raise ArchiveError(f"The archive uses coder {coder}, which this seminfo does not know "
                           f"(it knows coder {CODER_ID}).")


def _read_v2(buf: bytes, r: _Reader) -> ArchiveHeader:
    coder, flags = r.take(2, "coder and flags")
    has_model = bool(flags & HAS_MODEL)
    digest = r.take(32 if has_model else SHORT_DIGEST_BYTES, "sha256")
    length = r.varint("original length")
    if has_model:
        window, keep, batch = (r.varint(w) for w in ("window", "keep", "batch size"))
    else:
        window, keep, batch = 0, 0, 1
    n_blocks = r.varint("number of blocks")
    fingerprint = spec = machine = ""
    fp_raw = sp_raw = mc_raw = b""
    if flags & HAS_MODEL:
        (n_fp,) = r.take(1, "fingerprint length")
        fp_raw = r.take(n_fp, "model fingerprint")
        sp_raw = r.take(r.varint("spec length"), "model spec")
        if flags & MACHINE:
            mc_raw = r.take(r.varint("machine signature length"), "machine signature")
    if n_blocks > (len(buf) - r.pos) // 8:          # an entry takes at least 8 bytes
        raise ArchiveError(f"The archive is truncated or corrupted: its header announces {n_blocks} "
                           f"blocks, more than the {len(buf)} bytes of the file can hold.")
    rows = []
    for i in range(n_blocks):
        (method_id,) = r.take(1, f"block table entry {i}")
        n_bytes = r.varint(f"block table entry {i}")
        n_payload = r.varint(f"block table entry {i}")
        method = METHODS.get(method_id)
        n_sym = r.varint(f"block table entry {i}") if method in MODEL_METHODS else 0
        (crc,) = _U32.unpack(r.take(4, f"block table entry {i}"))
        rows.append((method_id, method, n_bytes, n_sym, n_payload, crc))
    _check_header(buf, r, coder)
    if flags & ~_KNOWN_FLAGS or (flags & (MACHINE | PORTABLE | TEXT_FINGERPRINT | MIXED)
                                 and not flags & HAS_MODEL) or (flags & MIXED and not flags & PORTABLE):
        raise ArchiveError(f"The archive has flags {flags:#04x}, which this seminfo does not know.")
    for i, (method_id, method, *_rest) in enumerate(rows):
        if method is None:
            raise ArchiveError(f"Block {i} of the archive uses method {method_id}, which this seminfo "
                               f"does not know (it knows {', '.join(METHODS.values())}).")
    blocks = tuple(BlockEntry(original_bytes=n_bytes, tokens=n_sym, payload_bytes=n_payload,
                              payload_crc32=c, method=method)
                   for _, method, n_bytes, n_sym, n_payload, c in rows)
    if bool(flags & HAS_MODEL) != any(b.method in MODEL_METHODS for b in blocks):
        raise ArchiveError("The archive is corrupted: its model flag does not match its block table.")
    try:
        fingerprint = fp_raw.decode("ascii") if flags & TEXT_FINGERPRINT else fp_raw.hex()
        spec, machine = sp_raw.decode("utf-8"), mc_raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError("The archive's header is corrupted: the model fingerprint, spec or machine "
                           "signature is not text.") from None
    return ArchiveHeader(version=2, coder=coder, original_length=length, sha256=digest.hex(),
                         window=window, keep=keep, batch_size=batch, fingerprint=fingerprint,
                         spec=spec, blocks=blocks, header_bytes=r.pos,
                         portable=bool(flags & PORTABLE), machine=machine, mixed=bool(flags & MIXED))


def _read_v1(buf: bytes) -> ArchiveHeader:
    r = _Reader(buf)
    (_, _, coder, length, digest, window, keep, batch, n_blocks) = _V1_FIXED.unpack(
        r.take(_V1_FIXED.size, "fixed header"))
    (n_fp,) = _U16.unpack(r.take(2, "fingerprint length"))
    fp_raw = r.take(n_fp, "model fingerprint")
    (n_sp,) = _U16.unpack(r.take(2, "spec length"))
    sp_raw = r.take(n_sp, "model spec")
    if n_blocks > (len(buf) - r.pos) // _V1_BLOCK.size:
        raise ArchiveError(f"The archive is truncated or corrupted: its header announces {n_blocks} "
                           f"blocks, more than the {len(buf)} bytes of the file can hold.")
    rows = [_V1_BLOCK.unpack(r.take(_V1_BLOCK.size, f"block table entry {i}")) for i in range(n_blocks)]
    _check_header(buf, r, coder)
    try:
        fingerprint, spec = fp_raw.decode("ascii"), sp_raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError("The archive's header is corrupted: the model fingerprint or spec is "
                           "not text.") from None
    blocks = tuple(BlockEntry(*row) for row in rows)
    return ArchiveHeader(version=1, coder=coder, original_length=length, sha256=digest.hex(),
                         window=window, keep=keep, batch_size=batch, fingerprint=fingerprint,
                         spec=spec, blocks=blocks, header_bytes=r.pos)


def _check_lengths(buf: bytes, h: ArchiveHeader) -> None:
    total = sum(b.original_bytes for b in h.blocks)
    if total != h.original_length:
        raise ArchiveError(f"The archive is corrupted: its blocks hold {total} bytes, its header "
                           f"says {h.original_length}.")
    expected = h.header_bytes + sum(b.payload_bytes for b in h.blocks)
    if len(buf) < expected:
        raise ArchiveError(f"The archive is truncated: it has {len(buf)} bytes, its block table "
                           f"needs {expected}.")
    if len(buf) > expected:
        raise ArchiveError(f"The archive has {len(buf) - expected} unexpected bytes after its last "
                           f"block ({len(buf)} bytes, {expected} expected); it was extended or corrupted.")
    if h.batch_size < 1 and h.needs_model:
        raise ArchiveError(f"The archive is corrupted: its batch size is {h.batch_size}.")
    for i, b in enumerate(h.blocks):
        if b.method == "raw" and b.payload_bytes != b.original_bytes:
            raise ArchiveError(f"The archive is corrupted: raw block {i} has {b.payload_bytes} bytes "
                               f"of payload for {b.original_bytes} bytes.")
        if b.method in MODEL_METHODS and b.original_bytes and not b.tokens:
            raise ArchiveError(f"The archive is corrupted: block {i} holds {b.original_bytes} bytes "
                               "but no coded symbol.")


def payloads(archive: bytes, header: ArchiveHeader) -> list[bytes]:
    """The payload of each block, after checking its crc32 (ArchiveError on mismatch)."""
    out, pos = [], header.header_bytes
    for i, b in enumerate(header.blocks):
        p = bytes(archive[pos:pos + b.payload_bytes])
        pos += b.payload_bytes
        if zlib.crc32(p) != b.payload_crc32:
            raise ArchiveError(f"Block {i} of the archive is corrupted: its crc32 does not match.")
        if header.version == 3 and b.method == "zstd":
            p = ZSTD_MAGIC + p                        # the compact form leaves the frame's magic out
        out.append(p)
    return out
