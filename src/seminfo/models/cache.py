"""Cache folders that can be trusted: written atomically, verified on every use, rebuilt when damaged.

seminfo caches two things under :func:`seminfo.models.builtin.cache_dir`: the de-quantised SmolLM2
folder (about 514 MB) and the counts of ``builtin:ngram`` (an ``.npz``). Both follow one protocol:

1. the folder is built in a temporary folder next to its target, named
   ``.<kind>-<pid>@<host>-<random>`` (:func:`new_temp_dir`);
2. a manifest (``seminfo-manifest.json``: the size and sha256 of every file) is written last, itself
   atomically (:func:`write_manifest`), and the folder is renamed into place (:func:`install`);
3. every later use checks each file's size and sha256 against the manifest (:func:`verify`), so a
   truncated or edited file is found, and the folder is rebuilt instead of failing on every run;
4. a temporary folder left by a killed build (its process is dead, or it is older than
   :data:`STALE_SECONDS`) is removed by the next build (:func:`clean_stale`).

Leaves out: locking between processes (two first builds at once both work; one of them is kept).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import time
from typing import Any

__all__ = ["MANIFEST", "STALE_SECONDS", "file_sha256", "write_manifest", "verify", "new_temp_dir",
           "clean_stale", "install"]

#: Name of the manifest file inside a cache folder.
MANIFEST = "seminfo-manifest.json"
#: A temporary folder older than this (seconds) is taken as left behind by a killed build.
STALE_SECONDS = 3600.0
_FORMAT = "seminfo-cache-manifest"
_TEMP = re.compile(r"^(?P<pid>\d+)@(?P<host>[0-9a-f]{8})-[0-9a-f]+$")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | os.PathLike, **extra: Any) -> pathlib.Path:
    """Record the size and sha256 of every file of `folder` in its manifest (written atomically)."""
    folder = pathlib.Path(folder)
    files = {p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(MANIFEST)}
    data = {"format": _FORMAT, "version": 1, "files": files, **extra}
    tmp = folder / f"{MANIFEST}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / MANIFEST)
    return folder / MANIFEST


def verify(folder: str | os.PathLike) -> str | None:
    """None when every file in the manifest of `folder` has its recorded size and sha256; else why not.

    The reason is ``"no manifest"`` for a folder without one (written by an older seminfo).
    """
    folder = pathlib.Path(folder)
    try:
        data = json.loads((folder / MANIFEST).read_bytes())
    except FileNotFoundError:
        return "no manifest"
    except (OSError, ValueError) as exc:
        return f"its manifest cannot be read ({type(exc).__name__})"
    files = data.get("files") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    if not isinstance(files, dict) or not files:
        return "its manifest is damaged"
    for name, entry in sorted(files.items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            return f"{name} is missing"
        if not isinstance(entry, dict) or size != entry.get("size"):
            return f"{name} has {size} bytes, {entry.get('size') if isinstance(entry, dict) else '?'} " \
                   "were written"
        try:
            digest = file_sha256(path)
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or exc})"
        if digest != entry.get("sha256"):
            return f"{name} does not match the sha256 recorded when it was written"
    return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                         # exists, owned by someone else
        return True
    return True


def clean_stale(parent: str | os.PathLike, prefix: str, *, max_age: float = STALE_SECONDS) -> list[str]:
    """Remove the temporary folders ``<prefix>*`` of `parent` left by killed builds; returns their names.

    A folder is stale when the process named in it is dead (same host) or when it is older than
    `max_age` seconds (folders of older seminfo versions carry no process id).
    """
    parent = pathlib.Path(parent)
    removed = []
    try:
        entries = list(parent.glob(prefix + "*"))
    except OSError:
        return removed
    now, host = time.time(), _host()
    for p in entries:
        try:
            if not p.is_dir() or p.is_symlink():
                continue
            age = now - p.stat().st_mtime
        except OSError:
            continue
        m = _TEMP.match(p.name[len(prefix):])
        dead = m is not None and m["host"] == host and not _alive(int(m["pid"]))
        if dead or age > max_age:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def new_temp_dir(parent: str | os.PathLike, prefix: str) -> pathlib.Path:
    """A fresh temporary folder ``<prefix><pid>@<host>-<random>`` in `parent`, after removing stale
    ones (:func:`clean_stale`)."""
    parent = pathlib.Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale(parent, prefix)
    path = parent / f"{prefix}{os.getpid()}@{_host()}-{secrets.token_hex(4)}"
    path.mkdir()
    return path


def install(tmp: str | os.PathLike, folder: str | os.PathLike, prefix: str) -> bool:
    """Rename the finished temporary folder `tmp` to `folder`, replacing a damaged `folder`.

    Returns False (and removes `tmp`) when another process installed the folder first.
    """
    tmp, folder = pathlib.Path(tmp), pathlib.Path(folder)
    old = None
    if folder.exists():
        old = folder.parent / f"{prefix}{os.getpid()}@{_host()}-{secrets.token_hex(4)}"
        os.rename(folder, old)
    try:
        os.rename(tmp, folder)
        return True
    except OSError:
        if not folder.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)      # another process was faster: keep its folder
        return False
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
