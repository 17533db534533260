"""General-purpose compressors as baselines: gzip -9, bzip2 -9, xz -9e, zstd -19, brotli -q 11.

Scope
-----
Sizes of the same bytes under the usual dictionary/context-mixing-free compressors, for the
comparison the theory (docs/theory.md §12) asks for. gzip, bzip2 and xz come from the python standard library
(zlib, libbzip2, liblzma: the same libraries as the command-line tools, so the same sizes up to the
container's few header bytes); zstd and brotli need the ``zstandard`` and ``brotli`` packages (the
``coding`` extra; pinned in requirements.lock) and are left out of the rows when those are missing.

Leaves out: timing of the baselines (they are orders of magnitude faster than any token model).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from typing import Callable


def _zstd(data: bytes) -> bytes:
    import zstandard
    return zstandard.ZstdCompressor(level=19).compress(data)


def _brotli(data: bytes) -> bytes:
    import brotli
    return brotli.compress(data, quality=11)


#: name -> compress function, in table order.
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip -9": lambda d: gzip.compress(d, compresslevel=9, mtime=0),
    "bzip2 -9": lambda d: bz2.compress(d, compresslevel=9),
    "xz -9e": lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
    "zstd -19": _zstd,
    "brotli -q 11": _brotli,
}


def baseline_sizes(data: bytes) -> list[dict]:
    """Compressed size of `data` under each baseline.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    list of dict
        One row per compressor: ``compressor``, ``bytes`` (compressed size) and ``bits_per_byte``
        (8 * compressed size / original bytes; NaN for empty input). A compressor whose package is
        not installed is left out.
    """
    rows = []
    for name, fn in COMPRESSORS.items():
        try:
            size = len(fn(data))
        except ImportError:
            continue
        rows.append({"compressor": name, "bytes": size,
                     "bits_per_byte": 8.0 * size / len(data) if data else float("nan")})
    return rows
