"""Block methods that need no model: raw storage, zstd and xz, chosen per block against the model's code.

Scope
-----
``compress`` stores each block with the smallest of: the model's range code, zstd -19, xz -9e
(LZMA2, raw stream: no .xz container) and the bytes themselves, and records the choice in the block
table (docs/compression.md, "Block methods"). So an archive is never more than its fixed header
(about 50 bytes when no block is model-coded) larger than raw storage, and never more than the
header plus a few bytes per block larger than zstd or xz on the same blocks.

Decoding a zstd or xz block is bounded by the block's recorded length: a crafted archive cannot
make it expand further (no decompression bomb).

Leaves out: brotli and bzip2 as block methods (zstd and xz cover fast and strong), dictionaries.
"""

from __future__ import annotations

import lzma

from ..errors import ArchiveError, ModelNotAvailableError

_LZMA_PRESET = 9 | lzma.PRESET_EXTREME


def _lzma_filters(n_bytes: int) -> list[dict]:
    """LZMA2 at xz -9e, with a dictionary no larger than the block (a power of two, 4 KiB..64 MiB)."""
    dict_size = 4096
    while dict_size < n_bytes and dict_size < 64 << 20:
        dict_size <<= 1
    return [{"id": lzma.FILTER_LZMA2, "preset": _LZMA_PRESET, "dict_size": dict_size}]


def _zstandard():
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def zstd_available() -> bool:
    """True when the ``zstandard`` package (the ``coding`` extra) is installed."""
    return _zstandard() is not None


def standard_payloads(data: bytes) -> dict[str, bytes]:
    """The block `data` stored raw, with xz -9e (raw LZMA2) and, when installed, with zstd -19."""
    out = {"raw": bytes(data),
           "xz": lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(data)))}
    zstandard = _zstandard()
    if zstandard is not None:
        out["zstd"] = zstandard.ZstdCompressor(level=19, write_content_size=False, write_checksum=False,
                                               write_dict_id=False).compress(data)
    return out


def unpack(method: str, payload: bytes, n_bytes: int, index: int) -> bytes:
    """The original bytes of block `index` stored with `method` (raw, zstd or xz)."""
    if method == "raw":
        return payload
    if method == "xz":
        try:
            dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(n_bytes))
            out = dec.decompress(payload, max_length=n_bytes + 1)
            if len(out) == n_bytes and not dec.eof:
                out += dec.decompress(b"", max_length=1)     # the end marker after the last byte
        except lzma.LZMAError as exc:
            raise ArchiveError(f"Block {index} of the archive (xz) cannot be decoded ({exc}); the "
                               "archive is corrupted.") from None
        if not dec.eof or dec.unused_data:
            raise ArchiveError(f"Block {index} of the archive (xz) does not end where its stream ends; "
                               "the archive is truncated or corrupted.")
    elif method == "zstd":
        zstandard = _zstandard()
        if zstandard is None:
            raise ModelNotAvailableError(f"Block {index} of the archive is stored with zstd, which needs "
                                         "the zstandard package: pip install 'seminfo[coding]'.")
        try:
            import io
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload))
            chunks, got = [], 0
            while got <= n_bytes:                      # never more than the recorded length + 1
                chunk = reader.read(min(1 << 20, n_bytes + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            out = b"".join(chunks)
        except zstandard.ZstdError as exc:
            raise ArchiveError(f"Block {index} of the archive (zstd) cannot be decoded ({exc}); the "
                               "archive is corrupted.") from None
    else:
        raise ArchiveError(f"Block {index} of the archive uses method {method!r}, not raw, zstd or xz.")
    if len(out) != n_bytes:
        raise ArchiveError(f"Block {index} of the archive decodes to {len(out)} bytes instead of "
                           f"{n_bytes}; the archive is corrupted.")
    return out
