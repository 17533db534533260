"""Compress and decompress a directory of files, in this process or over Ray workers.

:func:`compress_files` writes one archive per file (``dst/relative/path.smz``); each file is a
shard, compressed by the same :func:`~seminfo.coding.compress` a single file goes through, so an
archive is the same bytes whether it came from one process or from any number of Ray workers (on
the portable path it is the same bytes on any machine). Archives are written as they finish; with
``resume=True`` an archive already there is kept when it holds the same bytes coded by the same
model (its header's sha256 and spec are checked), so a restarted run skips finished files.
:func:`decompress_files` restores such a directory, loading each model once.
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass
from typing import Any

from .._validate import as_bool
from ..errors import ArchiveError, InputError
from ..results import Result

__all__ = ["compress_files", "decompress_files", "FilesResult", "ARCHIVE_SUFFIX"]

#: Suffix of the archives :func:`compress_files` writes and :func:`decompress_files` reads.
ARCHIVE_SUFFIX = ".smz"


@dataclass(frozen=True)
class FilesResult(Result):
    """What a directory run did.

    Attributes
    ----------
    files : tuple of dict
        One row per file: ``name`` (relative path), ``original_bytes``, ``archive_bytes``,
        ``archive_bits_per_byte`` (bits/byte), ``status`` ("compressed", "kept" (resumed),
        "decompressed").
    original_bytes, archive_bytes : int
        Totals over the files (bytes).
    archive_bits_per_byte : float
        ``8 * archive_bytes / original_bytes`` (bits per byte of the originals).
    seconds : float
        Wall time of the run (model loading included).
    workers : int
        Processes that held the model (1 without Ray).
    """

    files: tuple
    original_bytes: int
    archive_bytes: int
    archive_bits_per_byte: float
    seconds: float
    workers: int = 1
    units: str = "bytes; archive_bits_per_byte in bits/byte"


def load_for_pool(model: Any, needs: tuple, load_options: dict, func: str) -> Any:
    """Loader of :mod:`seminfo.scale` pools: the model the coder runs (the portable twin where the
    model has one, unless ``portable`` is False in `load_options`)."""
    from .codec import _coding_model
    opts = dict(load_options)
    portable = opts.pop("portable", None)
    device = opts.pop("device", "auto")
    m, _ = _coding_model(model, portable, device, func)
    return m


def compress_shard(model: Any, shard: tuple[bytes, dict]) -> Any:
    """Work function of a model pool: ``shard = (data, options)`` -> the CompressionResult."""
    from .codec import _is_portable, compress
    data, options = shard
    return compress(data, model, portable=_is_portable(model), **options)


def _files(root: pathlib.Path, suffix: str | None, func: str) -> list[pathlib.Path]:
    if not root.is_dir():
        raise InputError(f"The `src` parameter of {func} must name a directory. Got {str(root)!r}.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                   and (suffix is None or p.name.endswith(suffix)))
    if not files:
        what = f"no *{suffix} files" if suffix else "no files"
        raise InputError(f"The `src` parameter of {func} names a directory with {what}: {str(root)!r}.")
    return files


def _out_dir(dst: Any, src: pathlib.Path, func: str) -> pathlib.Path:
    out = pathlib.Path(dst)
    if out.exists() and not out.is_dir():
        raise InputError(f"The `dst` parameter of {func} must name a directory (it is created if "
                         f"missing). Got the file {str(out)!r}.")
    if not out.exists() and not out.parent.is_dir():
        raise InputError(f"The `dst` parameter of {func} names a directory whose parent does not "
                         f"exist: {str(out)!r}.")
    try:
        if out.exists() and (out.resolve() == src.resolve() or src.resolve() in out.resolve().parents):
            raise InputError(f"The `dst` parameter of {func} must be outside the input directory "
                             f"{str(src)!r}. Got {str(out)!r}.")
    except OSError:
        pass
    return out


def _kept(path: pathlib.Path, data: bytes, spec: str | None) -> bool:
    """True when `path` is an archive of exactly `data` (by its header's checksum) made with `spec`."""
    from .container import read_header
    try:
        header = read_header(path.read_bytes())
    except (OSError, ArchiveError, InputError):
        return False
    return (header.original_length == len(data) and header.matches(data)
            and (spec is None or header.spec == spec or not header.needs_model))


def compress_files(src: Any, dst: Any, model: Any = "builtin:gpt", *, force: bool = False,
                   resume: bool = False, portable: bool | None = None, device: str = "auto",
                   ray: str | None = None, workers: int | None = None, progress: bool = False,
                   load_options: dict | None = None, **options: Any) -> FilesResult:
    """Compress every file under the directory `src` into ``dst/<relative path>.smz``.

    Parameters
    ----------
    src : path
        Directory whose files (recursively, symbolic links skipped) are compressed.
    dst : path
        Output directory (created if missing; its parent must exist; not inside `src`).
    model : str or TokenModel
        As in :func:`~seminfo.coding.compress`; a spec is loaded once (per Ray worker).
    force : bool
        Replace archives that exist (otherwise an InputError before any model is loaded).
    resume : bool
        Keep an existing archive when it holds the same bytes coded with the same model (header
        sha256 and spec); compress the rest. An existing file that is not such an archive is
        replaced only with `force`.
    portable, device
        As in :func:`~seminfo.coding.compress`.
    ray, workers, load_options
        Spread the files over Ray actors that each hold the coding model (``ray="local"`` or a
        cluster address; see :func:`seminfo.score_text`). Each archive is the same bytes as
        without Ray.
    progress : bool
        A progress bar on stderr in bytes of input per second, with an ETA.
    **options
        ``blocks``, ``block_size``, ``batch_size``, ``window``, ``keep``, ``methods`` of
        :func:`~seminfo.coding.compress`, applied to every file.

    Returns
    -------
    FilesResult
    """
    from ..scale import open_pool
    from .codec import _write_atomic
    func = "compress_files"
    force, resume = as_bool(force, "force", func), as_bool(resume, "resume", func)
    t0 = time.perf_counter()
    root = pathlib.Path(src)
    files = _files(root, None, func)
    out = _out_dir(dst, root, func)
    spec = model if isinstance(model, str) else getattr(model, "name", None)
    targets = [out / (str(p.relative_to(root)) + ARCHIVE_SUFFIX) for p in files]
    todo, rows = [], {}
    for k, (p, t) in enumerate(zip(files, targets)):
        data = p.read_bytes()
        if t.exists() and resume and _kept(t, data, spec):
            rows[k] = _row(p, root, len(data), t.stat().st_size, "kept")
        elif (t.exists() or t.is_symlink()) and not force:
            raise InputError(f"The `dst` parameter of {func} holds an existing file, {str(t)!r}; pass "
                             "`force` to replace it (or `resume` to keep finished archives).")
        else:
            todo.append((k, data))
    if todo:
        opts = dict(load_options or {})
        opts.setdefault("device", device)
        if portable is not None:
            opts["portable"] = portable
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=sum(len(d) for _, d in todo), unit="B", unit_scale=True,
                       desc=f"compress {len(todo)} files", leave=False)
        try:
            with open_pool(model, ray=ray, workers=workers, needs=("score", "incremental"), func=func,
                           load_options=opts, loader="coding") as pool:
                n_workers = pool.workers
                shards = [(data, dict(options)) for _, data in todo]
                for s, result in pool.map("compress.files", shards):
                    k, data = todo[s]
                    targets[k].parent.mkdir(parents=True, exist_ok=True)
                    _write_atomic(targets[k], result.archive, func)
                    rows[k] = _row(files[k], root, len(data), len(result.archive), "compressed")
                    if bar is not None:
                        bar.update(len(data))
        finally:
            if bar is not None:
                bar.close()
    else:
        n_workers = 1
    return _result([rows[k] for k in range(len(files))], t0, n_workers)


def _row(path: pathlib.Path, root: pathlib.Path, n: int, m: int, status: str) -> dict:
    return {"name": str(path.relative_to(root)), "original_bytes": n, "archive_bytes": m,
            "archive_bits_per_byte": 8.0 * m / n if n else 0.0, "status": status}


def _result(rows: list[dict], t0: float, workers: int) -> FilesResult:
    n = sum(r["original_bytes"] for r in rows)
    m = sum(r["archive_bytes"] for r in rows)
    return FilesResult(files=tuple(rows), original_bytes=n, archive_bytes=m,
                       archive_bits_per_byte=8.0 * m / n if n else 0.0,
                       seconds=time.perf_counter() - t0, workers=workers)


def decompress_files(src: Any, dst: Any, *, force: bool = False, device: str = "auto",
                     progress: bool = False) -> FilesResult:
    """Restore a directory written by :func:`compress_files`: every ``*.smz`` under `src` becomes
    ``dst/<relative path without .smz>``, each written only after its sha256 verifies.

    Each distinct model (spec, path and fingerprint) is loaded once. Existing outputs are replaced
    only with `force` (checked for every file before any model is loaded).
    """
    from .codec import _model_for, _write_atomic, decompress_detailed
    from .container import read_header
    func = "decompress_files"
    force = as_bool(force, "force", func)
    t0 = time.perf_counter()
    root = pathlib.Path(src)
    files = _files(root, ARCHIVE_SUFFIX, func)
    out = _out_dir(dst, root, func)
    targets = [out / str(p.relative_to(root))[: -len(ARCHIVE_SUFFIX)] for p in files]
    for t in targets:
        if (t.exists() or t.is_symlink()) and not force:
            raise InputError(f"The `dst` parameter of {func} holds an existing file, {str(t)!r}; pass "
                             "`force` to replace it.")
    models: dict[tuple, Any] = {}
    rows = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(p.stat().st_size for p in files), unit="B", unit_scale=True,
                   desc=f"decompress {len(files)} files", leave=False)
    try:
        for p, t in zip(files, targets):
            buf = p.read_bytes()
            header = read_header(buf)
            m = None
            if header.needs_model:
                key = (header.spec, header.portable, header.fingerprint)
                if key not in models:
                    models[key] = _model_for(header, None, device, func)
                m = models[key]
            result = decompress_detailed(buf, m, device=device)
            t.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(t, result.data, func)
            rows.append(_row(p, root, len(result.data), len(buf), "decompressed"))
            rows[-1]["name"] = rows[-1]["name"][: -len(ARCHIVE_SUFFIX)]
            if bar is not None:
                bar.update(len(buf))
    finally:
        if bar is not None:
            bar.close()
    return _result(rows, t0, 1)
