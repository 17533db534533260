"""Lossless compression driven by any token model (theory §12).

``compress(data, model)`` range-codes the tokens of `data` with the model's next-token
distributions (integer frequencies on the portable path of builtin:gpt, builtin:smollm2 and
builtin:ngram, so the archive decodes anywhere) and returns the archive with its accounting
(cross-entropy, coded cross-entropy, achieved bits per byte, tokens per second); each block is
kept with the smallest of the model's code, zstd, xz and raw storage. ``decompress(archive)``
gives the bytes back, checked against the archive's sha256. Modules: :mod:`.rangecoder` (the
coder), :mod:`.context` (the contexts shared by encoder and decoder), :mod:`.container` (the file
format), :mod:`.methods` (raw, zstd, xz blocks), :mod:`.machine` (signatures of machine-tied
archives), :mod:`.codec` (the API), :mod:`.baselines` (gzip, bzip2, xz, zstd, brotli).
"""

from .codec import (CompressionResult, DecompressionResult, compress, compress_file, decompress,
                    decompress_detailed, decompress_file, machine_check)
from .container import ArchiveHeader, BlockEntry, read_header

__all__ = ["compress", "decompress", "decompress_detailed", "compress_file", "decompress_file",
           "CompressionResult", "DecompressionResult", "ArchiveHeader", "BlockEntry", "read_header",
           "machine_check"]
