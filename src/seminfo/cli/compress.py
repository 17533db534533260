"""`seminfo compress` and `seminfo decompress`: lossless compression with a token model."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ..errors import InputError

from ._common import (add_load_options, add_progress_options, add_ray_options, check_ray_options,
                      load_options, check_device, check_input_file, check_int, check_output,
                      examples, open_model, print_table, to_json)

FLAGS = {"src": "IN", "dst": "--output", "data": "IN", "blocks": "--blocks", "block_size": "--block-size",
         "batch_size": "--batch-size", "window": "--window", "model": "--model", "spec": "--model",
         "device": "--device", "force": "--force", "portable": "--no-portable", "ray": "--ray",
         "workers": "--workers", "resume": "--resume"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress", help="compress a file with a token model driving a range coder",
        description="Tokenize IN, range-code every token with the model's next-token "
                    "probabilities and write a self-describing archive (model spec and fingerprint, "
                    "block table, sha256 of the original). builtin:gpt, builtin:smollm2 and "
                    "builtin:ngram run their deterministic integer path: the archive decodes on any "
                    "machine. Other models give archives tied to this kind of machine. Each block is "
                    "kept with the smallest of the model's code, zstd, xz and raw storage, so no input "
                    "grows by more than the header. Any bytes compress with any model (bytes the "
                    "tokenizer lacks are escaped, 18 bits each). An existing OUT is replaced only "
                    "with --force. Prints the model's cross-entropy, the achieved size in bits per "
                    "byte and tokens per second. A directory IN gives a directory of archives, one "
                    "per file; --ray spreads its files over Ray workers (same archive bytes).",
        epilog=examples("seminfo compress notes.txt -o notes.smz --model builtin:ngram",
                        "seminfo compress notes.txt -o notes.smz --model builtin:ngram --blocks 2 --json --force",
                        "seminfo compress corpus -o corpus.smz.d --model builtin:ngram --resume"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=pathlib.Path, metavar="IN",
                   help="file to compress (any bytes), or a directory: each of its files becomes "
                        "OUT/<relative path>.smz")
    p.add_argument("-o", "--output", type=pathlib.Path, required=True, metavar="OUT",
                   help="archive to write (written atomically); a directory when IN is one")
    p.add_argument("--model", default="builtin:gpt",
                   help="model spec: builtin:gpt (default), builtin:mamba, builtin:ngram, builtin:smollm2 "
                        "or a local Hugging Face directory (a left-to-right model)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--blocks", type=int, default=None, metavar="N",
                   help="split into N independent blocks decoded as one batch (default 1)")
    g.add_argument("--block-size", type=int, default=None, metavar="BYTES",
                   help="split into blocks of BYTES bytes")
    p.add_argument("--batch-size", type=int, default=None,
                   help="blocks per model batch (default min(blocks, 32))")
    p.add_argument("--window", type=int, default=None,
                   help="longest model context in tokens (default: the model's max_context)")
    p.add_argument("--no-portable", action="store_true",
                   help="use the model's float path even where it has a deterministic one (the "
                        "archive then decodes only on this kind of machine)")
    p.add_argument("--no-mix", action="store_true",
                   help="do not mix the model with each block's adaptive context model (portable path; "
                        "mixing is on by default there)")
    p.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--resume", action="store_true",
                   help="directory IN: keep archives already in OUT that hold the same bytes coded "
                        "by the same model, compress the rest")
    p.add_argument("--progress", action="store_true", help=argparse.SUPPRESS)   # the default now
    p.add_argument("--json", action="store_true", help="print the accounting as one JSON object")
    add_load_options(p)
    add_ray_options(p)
    add_progress_options(p)
    p.set_defaults(func=run_compress, flags=FLAGS)

    d = sub.add_parser(
        "decompress", help="restore a file compressed by `seminfo compress`",
        description="Decode an archive made by `seminfo compress`. The model is loaded from the "
                    "archive's spec when it is built in (give --model for a local directory); its "
                    "fingerprint must match. A portable archive decodes on any machine; for an "
                    "archive tied to the machine that made it, a warning says up front what differs "
                    "here, and decoding is tried anyway. The output is written only after the sha256 "
                    "of the original bytes verifies: a damaged archive leaves no output file. An "
                    "existing OUT is replaced only with --force.",
        epilog=examples("seminfo decompress notes.smz -o notes.out.txt",
                        "seminfo decompress notes.smz -o notes.out.txt --force"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("input", type=pathlib.Path, metavar="IN",
                   help="archive to decompress, or a directory of .smz archives")
    d.add_argument("-o", "--output", type=pathlib.Path, required=True, metavar="OUT",
                   help="file to write (only after the checksum verifies); a directory when IN is one")
    d.add_argument("--model", default=None,
                   help="model spec or local directory (default: the archive's built-in model)")
    d.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    d.add_argument("--progress", action="store_true", help=argparse.SUPPRESS)   # the default now
    d.add_argument("--json", action="store_true", help="print the accounting as one JSON object")
    add_load_options(d)
    add_progress_options(d)
    d.set_defaults(func=run_decompress, flags=FLAGS)


def _report(result, as_json: bool) -> None:
    d = result.as_dict()
    if as_json:
        print(to_json(d))
    else:
        print_table([{"field": k, "value": v} for k, v in d.items() if k != "fingerprint"])


def _report_files(result, as_json: bool) -> None:
    if as_json:
        print(to_json(result.as_dict()))
        return
    print_table(list(result.files))
    print(f"\n{len(result.files)} files, {result.original_bytes} bytes -> {result.archive_bytes} bytes "
          f"({result.archive_bits_per_byte:.4f} bits/byte) in {result.seconds:.1f} s, "
          f"{result.workers} worker(s)")


def _run_compress_dir(args: argparse.Namespace, cmd: str) -> int:
    from ..coding.files import compress_files
    for flag, value in (("--blocks", args.blocks), ("--block-size", args.block_size),
                        ("--batch-size", args.batch_size), ("--window", args.window)):
        if value is not None:
            check_int(value, flag, cmd, minimum=1)
    check_device(args.device, cmd)
    opts = {k: v for k, v in (("blocks", args.blocks), ("block_size", args.block_size),
                              ("batch_size", args.batch_size), ("window", args.window)) if v is not None}
    if args.no_mix:
        opts["mix"] = False
    lopts = load_options(args)
    lopts.pop("device", None)
    result = compress_files(args.input, args.output, args.model, force=args.force, resume=args.resume,
                            portable=False if args.no_portable else None, device=args.device,
                            ray=args.ray, workers=args.workers, progress=not args.quiet,
                            load_options=lopts, **opts)
    _report_files(result, args.json)
    return 0


def run_compress(args: argparse.Namespace) -> int:
    from ..coding import compress_file
    from ..coding.codec import _has_portable_path, check_destination
    cmd = "seminfo compress"
    check_ray_options(args, cmd)
    if args.input.is_dir():
        return _run_compress_dir(args, cmd)
    if args.ray or args.resume:
        raise InputError(f"{'--ray' if args.ray else '--resume'} of {cmd} works on a directory IN "
                         "(one shard per file); a single file is compressed in this process.")
    # before loading a model, not after
    check_input_file(args.input, "IN", cmd)
    check_output(args.output, "--output", cmd)
    check_destination(args.output, args.input, force=args.force, func=cmd)
    for flag, value in (("--blocks", args.blocks), ("--block-size", args.block_size),
                        ("--batch-size", args.batch_size), ("--window", args.window)):
        if value is not None:
            check_int(value, flag, cmd, minimum=1)
    check_device(args.device, cmd)
    if not args.no_portable and _has_portable_path(args.model):
        model = args.model                    # the portable twin is built from the spec
    else:
        # the coder runs the model left to right: a masked-diffusion model stops here, before any output
        model = open_model(args.model, args, "score", "incremental", command=cmd)
    result = compress_file(args.input, args.output, model, force=args.force, blocks=args.blocks,
                           block_size=args.block_size, batch_size=args.batch_size,
                           window=args.window, portable=False if args.no_portable else None,
                           device=args.device, progress=not args.quiet, mix=False if args.no_mix else None)
    _report(result, args.json)
    return 0


def run_decompress(args: argparse.Namespace) -> int:
    import warnings

    from ..coding import decompress_file
    from ..coding.codec import check_destination
    cmd = "seminfo decompress"
    if args.input.is_dir():
        from ..coding.files import decompress_files
        check_device(args.device, cmd)
        if args.model is not None:
            raise InputError(f"--model of {cmd} is for one archive; a directory's archives name "
                             "their own built-in models.")
        _report_files(decompress_files(args.input, args.output, force=args.force, device=args.device,
                                       progress=not args.quiet), args.json)
        return 0
    check_input_file(args.input, "IN", cmd)
    check_output(args.output, "--output", cmd)
    check_destination(args.output, args.input, force=args.force, func=cmd)
    check_device(args.device, cmd)
    model = None if args.model is None else open_model(args.model, args, "score", "incremental",
                                                      command=cmd)

    default_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, RuntimeWarning):
            return default_show(message, category, filename, lineno, file, line)
        print(f"{cmd}: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always", RuntimeWarning)
        warnings.showwarning = show               # one line, up front, before decoding starts
        result = decompress_file(args.input, args.output, model, force=args.force, device=args.device,
                                 progress=not args.quiet)
    _report(result, args.json)
    if not args.json:
        print(f"wrote {result.original_bytes} bytes to {args.output} (sha256 verified)", file=sys.stderr)
    return 0
