"""Benchmark: seminfo compression with the built-in token models versus general-purpose compressors.

Side by side in one run, on the bundled validation text (src/seminfo/data/corpus/valid.txt) and on
text the models never saw (/usr/share/common-licenses/GPL-3 when present, else the bundled Python
licence text LICENSE-PSF.txt; the table says which): gzip -9, bzip2 -9, xz -9e, zstd -19,
brotli -q 11 and seminfo with each model. Every seminfo archive is decompressed and compared
byte for byte. Slow models (builtin:smollm2, ~200 tokens/s on 2 cores) run on a slice of each text
(--slice-bytes); the baselines are then measured on the very same slice.

Also measures the speed-up of batched block decoding (B blocks as one model batch versus the same
B blocks one at a time) and what blocks and window restarts cost in bits.

With --portable it compares, for each model with a deterministic integer path, the portable path
(the default) with the float path (portable=False): bits, encode and decode tokens/s, encode time
against scoring time (score_bytes) and single-block decoding speed. With --heldout it compresses
held-out kinds of input (source code, a log, a man page, text in other languages where this machine
has some, random bytes; each skipped when missing) with every model against gzip, xz, zstd, brotli.

Usage::

    .venv/bin/python benchmarks/bench_compress.py                     # everything, prints Markdown
    .venv/bin/python benchmarks/bench_compress.py --models builtin:gpt --max-bytes 20000
    .venv/bin/python benchmarks/bench_compress.py --append docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
SLOW = {"builtin:smollm2"}


def texts() -> list[tuple[str, bytes]]:
    corpus = ROOT / "src" / "seminfo" / "data" / "corpus"
    out = [("valid.txt (bundled validation split)", (corpus / "valid.txt").read_bytes())]
    gpl = pathlib.Path("/usr/share/common-licenses/GPL-3")
    if gpl.is_file():
        out.append(("GPL-3 (/usr/share/common-licenses, unseen)", gpl.read_bytes()))
    else:
        out.append(("LICENSE-PSF.txt (bundled licence, unseen)", (corpus / "LICENSE-PSF.txt").read_bytes()))
    return out


def heldout(limit: int) -> list[tuple[str, bytes]]:
    """Kinds of input the models never saw: each taken from this machine when present (skipped when
    not), cut to `limit` bytes; random bytes are generated (seed 0)."""
    import glob
    import gzip
    import random
    out = []
    for label, pattern in (("Python source (stdlib argparse.py)", os.path.join(os.path.dirname(os.__file__), "argparse.py")),
                           ("log (/var/log/dpkg.log)", "/var/log/dpkg.log"),
                           ("log (/var/log/apt/history.log)", "/var/log/apt/history.log"),
                           ("licence (Apache-2.0)", "/usr/share/common-licenses/Apache-2.0"),
                           ("man page (bash.1)", "/usr/share/man/man1/bash.1.gz"),
                           ("German (man page)", "/usr/share/man/de/man1/*.1.gz"),
                           ("French (man page)", "/usr/share/man/fr/man1/*.1.gz"),
                           ("Russian (man page)", "/usr/share/man/ru/man1/*.1.gz")):
        paths = sorted(glob.glob(pattern))
        if not paths:
            continue
        raw = pathlib.Path(paths[0]).read_bytes()
        if paths[0].endswith(".gz"):
            raw = gzip.decompress(raw)
        if raw:
            out.append((f"{label}, {pathlib.Path(paths[0]).name}", raw[:limit]))
    out.append(("random bytes (seed 0)", random.Random(0).randbytes(limit)))
    return out


def portable_study(spec: str, data: bytes, repeat: int = 1) -> list[dict]:
    """Portable (integer) path against the float path: bits and speeds, one block and 8 blocks (each
    timing the fastest of `repeat` runs: a shared machine's noise only ever slows a run down)."""
    from seminfo.coding import compress, decompress_detailed
    from seminfo.models import load_model
    import contextlib
    from seminfo.models.portable import fast, portable_model
    from seminfo.models.scoring import score_bytes
    float_model = load_model(spec, device="cpu")
    port = portable_model(float_model, device="cpu")
    rows = []
    runs = [("float", float_model, False, contextlib.nullcontext)]
    if fast.available():                     # the fused C kernels, and the numpy kernels they replace
        runs += [("portable (C kernels)", port, True, contextlib.nullcontext),
                 ("portable (numpy kernels)", port, True, fast.disabled)]
    else:
        runs += [("portable (numpy kernels)", port, True, contextlib.nullcontext)]
    # the measure: portable encoding against the float model's scoring, timed alternately
    # (a shared machine's speed drifts over a minute; interleaving keeps the two comparable)
    t_float = t_enc = float("inf")
    for _ in range(max(repeat, 3)):
        t0 = time.perf_counter()
        score_bytes(float_model, data, per_token=False)
        t1 = time.perf_counter()
        compress(data, port, portable=True, methods="model")
        t_float, t_enc = min(t_float, t1 - t0), min(t_enc, time.perf_counter() - t1)
    for label, m, portable, mode in runs:
        t_score = float("inf")
        for _ in range(repeat):
            with mode():
                t0 = time.perf_counter()
                s = score_bytes(m, data, per_token=False)
                t_score = min(t_score, time.perf_counter() - t0)
        for blocks in (None, 8):
            r = d = None
            for _ in range(repeat):
                with mode():
                    r2 = compress(data, m, portable=portable, blocks=blocks, methods="model")
                    d2 = decompress_detailed(r2.archive, m)
                if d2.data != data:
                    raise SystemExit(f"round trip failed for {spec} ({label})")
                r = r2 if r is None or r2.seconds < r.seconds else r
                d = d2 if d is None or d2.seconds < d.seconds else d
            rows.append({"model": spec, "path": label, "blocks": blocks or 1, "tokens": r.tokens,
                         "cross-entropy (bits/byte)": r.cross_entropy_bits_per_byte,
                         "coded (bits/byte)": r.coded_cross_entropy_bits_per_byte,
                         "bits/byte (file)": r.archive_bits_per_byte,
                         "score s": t_score, "encode s": r.seconds, "decode s": d.seconds,
                         "encode / score": r.seconds / t_score,
                         **({"float score s (alternating)": t_float, "encode s (alternating)": t_enc,
                             "encode / float score (alternating)": t_enc / t_float}
                            if portable and blocks is None and mode is contextlib.nullcontext else {}),
                         "enc tok/s": r.tokens_per_second, "dec tok/s": d.tokens_per_second,
                         "score bits/byte": s.bits_per_byte})
    return rows


def md_table(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))          # every row's columns, first seen first
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def run_model(model, data: bytes, **opts) -> dict:
    from seminfo.coding import compress, decompress_detailed
    r = compress(data, model, progress=True, **opts)
    d = decompress_detailed(r.archive, model, progress=True)
    if d.data != data:
        raise SystemExit(f"round trip failed for {model.name}")
    return {"r": r, "d": d}


def size_rows(name: str, data: bytes, models: dict, note: str) -> list[dict]:
    from seminfo.coding.baselines import baseline_sizes
    rows = [{"text": name, "bytes in": len(data), "compressor": b["compressor"],
             "bytes out": b["bytes"], "bits/byte (file)": b["bits_per_byte"],
             "bits/byte (payload)": None, "cross-entropy (bits/byte)": None,
             "coder overhead (%)": None, "enc tok/s": None, "dec tok/s": None, "block methods": None}
            for b in baseline_sizes(data)]
    for spec, model in models.items():
        t0 = time.perf_counter()
        out = run_model(model, data)
        r, d = out["r"], out["d"]
        print(f"  {spec}: {len(data)} bytes, {r.tokens} tokens, {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
        rows.append({"text": name, "bytes in": len(data), "compressor": f"seminfo {spec}" + note,
                     "bytes out": r.archive_bytes, "bits/byte (file)": r.archive_bits_per_byte,
                     "bits/byte (payload)": r.payload_bits_per_byte,
                     "cross-entropy (bits/byte)": r.cross_entropy_bits_per_byte,
                     "coder overhead (%)": r.coder_overhead_percent,
                     "enc tok/s": r.tokens_per_second, "dec tok/s": d.tokens_per_second,
                     "block methods": ", ".join(f"{k} {v}" for k, v in r.block_methods.items())})
    return rows


def speedup(model, data: bytes, blocks: int) -> list[dict]:
    """Decode the same `blocks` blocks as one batch and one at a time; also the cost of blocks."""
    one = run_model(model, data)
    seq = run_model(model, data, blocks=blocks, batch_size=1)
    bat = run_model(model, data, blocks=blocks, batch_size=blocks)
    rows = []
    for label, o in (("1 block", one), (f"{blocks} blocks, one at a time", seq),
                     (f"{blocks} blocks, one batch", bat)):
        r, d = o["r"], o["d"]
        rows.append({"layout": label, "tokens": r.tokens, "bytes out": r.archive_bytes,
                     "cross-entropy (bits/byte)": r.cross_entropy_bits_per_byte,
                     "bits/byte (file)": r.archive_bits_per_byte,
                     "encode s": r.seconds, "decode s": d.seconds,
                     "decode speed-up vs one at a time": seq["d"].seconds / d.seconds})
    return rows


def window_study(model, data: bytes, keeps: list[int]) -> list[dict]:
    rows = []
    for keep in keeps:
        o = run_model(model, data, keep=keep)
        r = o["r"]
        rows.append({"window": r.window, "keep": keep, "restarts": r.restarts,
                     "cross-entropy (bits/byte)": r.cross_entropy_bits_per_byte,
                     "bits/byte (file)": r.archive_bits_per_byte, "encode s": r.seconds,
                     "decode s": o["d"].seconds})
    return rows


def quantisation_study(n: int = 20_000) -> list[dict]:
    """Excess of the 24-bit quantised coder over -log2 p on iid draws from random softmax pmfs,
    through the same per-token path the codec uses (BlockEncoder.encode)."""
    import numpy as np

    from seminfo.coding.rangecoder import BlockEncoder, probabilities
    rng = np.random.default_rng(0)
    rows = []
    for k in (4096, 49152):
        for scale in (2.0, 4.0):
            lp = rng.normal(size=k) * scale
            lp = lp - np.logaddexp.reduce(lp)                                     # normalised
            p = probabilities(lp[None], "bench")                                  # (1, K)
            sym = rng.choice(k, size=n, p=p[0] / p[0].sum())
            enc = BlockEncoder()
            for x in sym:
                enc.encode(int(x), p)
            ce = float(-lp[sym].sum() / np.log(2))
            bits = 8 * len(enc.payload())
            rows.append({"K": k, "entropy (bits/token)": float(-(np.exp(lp) * lp).sum() / np.log(2)),
                         "tokens": n, "excess (millibits/token)": 1000 * (bits - ce) / n,
                         "excess (% of cross-entropy)": 100 * (bits - ce) / ce})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["builtin:gpt", "builtin:ngram", "builtin:smollm2"])
    ap.add_argument("--max-bytes", type=int, default=None, help="truncate every text (fast models)")
    ap.add_argument("--slice-bytes", type=int, default=24_000, help="slice for slow models (smollm2)")
    ap.add_argument("--blocks", type=int, default=32, help="blocks for the batched-decoding speed-up")
    ap.add_argument("--speedup-bytes", type=int, default=32_000)
    ap.add_argument("--speedup-model", default="builtin:gpt")
    ap.add_argument("--keeps", type=int, nargs="*", default=[32, 128, 224],
                    help="keep values for the window study with --speedup-model (empty to skip)")
    ap.add_argument("--portable", type=int, default=0, metavar="BYTES",
                    help="portable against float path on the first BYTES of valid.txt (0: skip)")
    ap.add_argument("--heldout", type=int, default=0, metavar="BYTES",
                    help="held-out kinds of input, BYTES of each (0: skip)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="--portable: time each path this many times and keep the fastest")
    ap.add_argument("--only-extra", action="store_true",
                    help="run only the --portable and --heldout studies")
    ap.add_argument("--append", type=pathlib.Path, default=None,
                    help="append the Markdown under a 'Compression' heading to this file")
    args = ap.parse_args(argv)

    from seminfo.errors import SeminfoError
    from seminfo.models import load_model
    models, missing = {}, []
    for spec in args.models:
        try:
            models[spec] = load_model(spec)
        except SeminfoError as exc:        # not available offline, or a missing extra (DependencyError)
            missing.append(f"{spec} ({exc})")
    fast = {s: m for s, m in models.items() if s not in SLOW}
    slow = {s: m for s, m in models.items() if s in SLOW}
    t_start = time.perf_counter()
    extra = []
    if args.portable:
        valid = texts()[0][1][: args.portable]
        prow = []
        for spec in models:
            try:
                prow += portable_study(spec, valid if spec not in SLOW else valid[: args.portable // 4],
                                       args.repeat)
            except (ImportError, SeminfoError) as exc:
                missing.append(f"portable {spec} ({exc})")
        if prow:
            extra += ["", f"Portable (integer) path against the float path, first {len(valid)} bytes of "
                          "valid.txt (SmolLM2: a quarter of it); every archive decoded and compared:", "",
                      md_table(prow)]
    if args.heldout:
        hrows = []
        for name, data in heldout(args.heldout):
            print(f"{name}: {len(data)} bytes", file=sys.stderr, flush=True)
            hrows += size_rows(name, data, fast, "")
            if slow:
                hrows += size_rows(name + f", first {args.slice_bytes} bytes", data[: args.slice_bytes], slow, "")
        extra += ["", "Held-out kinds of input (each block stored with the best of model, zstd, xz, raw):",
                  "", md_table(hrows)]
    if args.only_extra:
        return _emit(extra, args.append, "Compression (portable path, held-out inputs)")
    rows = []
    for name, data in texts():
        full = data[: args.max_bytes] if args.max_bytes else data
        print(f"{name}: {len(full)} bytes", file=sys.stderr, flush=True)
        rows += size_rows(name, full, fast, "")
        if slow:
            rows += size_rows(name + f", first {args.slice_bytes} bytes", data[: args.slice_bytes], slow, "")
    spec = args.speedup_model
    m = models.get(spec) or load_model(spec)
    valid = texts()[0][1][: args.speedup_bytes]
    sp = speedup(m, valid, args.blocks)
    ws = window_study(m, valid[: args.speedup_bytes // 2], args.keeps) if args.keeps and m.max_context else []
    cmd = "HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_compress.py " + " ".join(argv or sys.argv[1:])
    out = [f"Command: `{cmd.strip()}`  ",
           f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
           f"total {time.perf_counter() - t_start:.0f} s. Every seminfo archive was decompressed and "
           "compared byte for byte. 'file' counts the whole archive (header, block table, payload); "
           "'payload' only the range-coder output; coder overhead = payload over cross-entropy.",
           *([f"Not available here, left out: {'; '.join(missing)}"] if missing else []),
           "", md_table(rows), "",
           f"Batched block decoding with {spec} on the first {len(valid)} bytes of valid.txt:", "",
           md_table(sp)]
    if ws:
        out += ["", f"Window restarts with {spec} (max_context {m.max_context}) on the first "
                    f"{len(valid) // 2} bytes of valid.txt (one block):", "", md_table(ws)]
    out += extra
    out += ["", "Quantisation alone (iid draws from random softmax pmfs, one coder, "
                "including its final word):", "", md_table(quantisation_study())]
    return _emit(out, args.append, "Compression")


def _emit(lines: list[str], append: str | None, heading: str) -> int:
    """Print the Markdown and, with --append, add it to that file under `heading`."""
    text = "\n".join(lines) + "\n"
    print(text)
    if append:
        with open(append, "a", encoding="utf-8") as f:
            f.write(f"\n## {heading}\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
