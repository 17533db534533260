"""Report section: lossless compression with token models beside general-purpose compressors.

On the report's text (a slice: 16 KB, or 1.5 KB and builtin:gpt only in fast mode) it compresses
with each model of the report, decompresses to verify the round trip, and tabulates the sizes in
bits per byte next to gzip/bzip2/xz/zstd/brotli, with each model's cross-entropy and the coder's
excess over it (docs/theory.md §12). Models above LARGE_PARAMETERS are coded in batched blocks (see below).
Leaves out the block/batch speed-up study (see benchmarks/bench_compress.py).
"""

from __future__ import annotations

from .core import ReportContext, Section, esc, figure_html, table_html

FAST_BYTES = 1_500
FULL_BYTES = 16_000
#: Models with more parameters than this are coded in blocks of BLOCK_BYTES, all blocks as one batch:
#: coding is one forward pass per token, and on a CPU a 135M-parameter model does about 15 of those
#: per second (its weights are read once per pass), against about 100 tokens/s for 16 batched rows.
LARGE_PARAMETERS = 20_000_000
BLOCK_BYTES = 1_000


def _blocks(model, n_bytes: int) -> int | None:
    """Blocks for `model` in the report: None (one block) unless the model is large (see above)."""
    hf = getattr(model, "hf_model", None)
    if hf is None or sum(p.numel() for p in hf.parameters()) <= LARGE_PARAMETERS:
        return None
    return max(1, -(-n_bytes // BLOCK_BYTES))


def build(ctx: ReportContext) -> Section:
    from ..coding.baselines import baseline_sizes
    from ..coding.codec import compress, decompress_detailed
    from ..models.portable import has_portable_path, portable_model
    data = ctx.text()[: FAST_BYTES if ctx.fast else FULL_BYTES]
    specs = ["builtin:gpt"] if ctx.fast else list(ctx.models)
    rows = [{"compressor": r["compressor"], "bytes (whole file)": r["bytes"],
             "bits/byte (whole file)": r["bits_per_byte"], "header (bytes)": None,
             "model cross-entropy (bits/byte)": None, "payload over cross-entropy (%)": None,
             "whole file over cross-entropy (%)": None, "blocks": None, "tokens/s (enc / dec)": ""}
            for r in baseline_sizes(data)]
    runs = {}
    for spec in specs:
        ctx.log(f"compressing {len(data)} bytes with {spec}")
        model = ctx.model(spec)
        blocks = _blocks(model, len(data))
        if has_portable_path(model):                # build the integer model once for both directions
            model = portable_model(model)
        r = compress(data, model, blocks=blocks, methods="model")     # the model's own code, always
        back = decompress_detailed(r.archive, model)
        if back.data != data:                       # cannot happen: decompress checks the sha256
            raise RuntimeError(f"round trip failed for {spec}")
        runs[spec] = {**r.as_dict(), "decode_tokens_per_second": back.tokens_per_second}
        label = f"seminfo {spec}" + (" (portable)" if r.portable else " (tied to this machine)")
        rows.append({"compressor": label, "bytes (whole file)": r.archive_bytes,
                     "bits/byte (whole file)": r.archive_bits_per_byte,
                     "header (bytes)": r.header_bytes,
                     "model cross-entropy (bits/byte)": r.cross_entropy_bits_per_byte,
                     "payload over cross-entropy (%)": r.coder_overhead_percent,
                     "whole file over cross-entropy (%)":
                         100.0 * (r.archive_bits_per_byte / r.cross_entropy_bits_per_byte - 1.0),
                     "blocks": r.blocks,
                     "tokens/s (enc / dec)": f"{r.tokens_per_second:.0f} / {back.tokens_per_second:.0f}"})
    table = table_html(rows, digits=4, caption=f"Lossless compression of {len(data):,} bytes of the "
                                               "report's text (round trips verified by sha256)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1))
    names = [r["compressor"] for r in rows]
    ax.barh(names, [r["bits/byte (whole file)"] for r in rows], color="#4a7ab7")
    for i, r in enumerate(rows):
        if r["model cross-entropy (bits/byte)"] is not None:
            ax.plot([r["model cross-entropy (bits/byte)"]] * 2, [i - 0.4, i + 0.4], "k-", lw=2)
    ax.invert_yaxis()
    ax.set_xlabel("bits per byte (whole file; black tick: model cross-entropy)")
    html = (
        "<p>A token model driving a range coder compresses to its cross-entropy, "
        "&sum;<sub>t</sub> &minus;log<sub>2</sub> p(x<sub>t</sub> | x<sup>t&minus;1</sup>), plus the "
        "coder's overhead (24-bit quantisation of the probabilities and at most 64 bits of "
        "termination per block) and the archive header (model fingerprint, spec, block table, "
        "sha256). Every column of a row uses the same contexts (the same blocks): the cross-entropy is "
        "what the model assigns to exactly the tokens the coder codes, 'payload over cross-entropy' is the "
        "range coder's own overhead, and 'whole file over cross-entropy' adds the header, which weighs most "
        "on small inputs. Built-in models code with their portable integer path (the archive decodes on "
        "any machine); other models are marked as tied to this machine. Every block here is coded with the "
        "model; <code>seminfo compress</code> by default stores a block with zstd, xz or raw when that is "
        "smaller. Models with more than "
        f"{LARGE_PARAMETERS // 1_000_000}M parameters are coded in blocks of {BLOCK_BYTES:,} bytes "
        "decoded as one batch, which is many times faster on a CPU; each block starts from an empty "
        "context, which raises its cross-entropy (the cost of blocks is included in every column). "
        "Models: "
        + esc(", ".join(specs)) + (" (fast mode: a small slice, builtin:gpt only)." if ctx.fast else ".")
        + "</p>" + table + figure_html(fig, alt="bits per byte by compressor"))
    return Section("Compression: tokens as the unit of information", html, key="compression",
                   data={"bytes": len(data), "rows": rows, "runs": runs})
