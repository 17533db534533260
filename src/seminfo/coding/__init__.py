"""Lossless compression driven by any token model (theory §12).

``compress(data, model)`` range-codes the tokens of `data` with the model's next-token
distributions and returns the archive with its accounting (cross-entropy, achieved bits per byte,
coder overhead, tokens per second); ``decompress(archive)`` gives the bytes back, checked against
the archive's sha256. Modules: :mod:`.rangecoder` (the coder), :mod:`.context` (model calls shared by
encoder and decoder), :mod:`.container` (the file format), :mod:`.codec` (the API),
:mod:`.baselines` (gzip, bzip2, xz, zstd, brotli), :mod:`.report` (the report section).
"""

from .codec import (CompressionResult, DecompressionResult, compress, compress_file, decompress,
                    decompress_detailed, decompress_file)
from .container import ArchiveHeader, BlockEntry, read_header

__all__ = ["compress", "decompress", "decompress_detailed", "compress_file", "decompress_file",
           "CompressionResult", "DecompressionResult", "ArchiveHeader", "BlockEntry", "read_header"]
