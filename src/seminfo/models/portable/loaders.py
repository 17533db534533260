"""Build the portable twins of builtin:gpt and builtin:smollm2 (weights read, quantised, cached).

Scope
-----
:func:`portable_gpt` quantises the shipped GPT-2 on load (2.6M parameters, well under a second).
:func:`portable_smollm2` quantises SmolLM2-135M once (from the de-quantised float32 cache folder of
:func:`seminfo.models.builtin.smollm2_directory`) and caches the int8 weights as safetensors under
``$SEMINFO_CACHE`` with a manifest (:mod:`seminfo.models.cache`): later loads read 135 MB of
integers instead of 540 MB of floats, and a damaged folder is found and rebuilt. The quantisation
uses elementwise IEEE operations only, so a rebuild gives the same integers on any machine (the
portable id covers them either way).

Leaves out: other checkpoints (the integer kernels handle GPT-2 and Llama configs, but only the
built-in weights are tested and offered).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import warnings

from .fixed import ARITHMETIC_VERSION

__all__ = ["portable_gpt", "portable_smollm2"]


def _tokenizer_and_prefix(model, folder: pathlib.Path, config: dict):
    if model is not None:
        return model.tokenizer, tuple(model.prefix)
    from ..tokenizer import HFTokenizer
    tok = HFTokenizer.from_file(folder / "tokenizer.json")
    bos = config.get("bos_token_id")
    bos = bos[0] if isinstance(bos, list) else bos
    if bos is None:
        bos = config.get("eos_token_id")
    return tok, (int(bos),)


def portable_gpt(model=None, device: str = "cpu"):
    """The integer GPT-2 of builtin:gpt (weights from `model` when given, else the shipped files)."""
    from ..builtin import builtin_path
    from .gpt2 import IntGPT2
    folder = builtin_path("gpt")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tok, prefix = _tokenizer_and_prefix(model, folder, config)
    if model is not None and hasattr(model, "hf_model"):
        state = {k: v.detach().cpu() for k, v in model.hf_model.state_dict().items()}
        state.setdefault("transformer.wte.weight", state.get("lm_head.weight"))
        return IntGPT2(state, config, tok, name="builtin:gpt", prefix=prefix, device=device)
    return IntGPT2.from_directory(folder, tok, name="builtin:gpt", prefix=prefix, device=device)


def portable_smollm2(model=None, device: str = "cpu"):
    """The integer Llama of builtin:smollm2, its int8 weights cached under the seminfo cache."""
    from ..builtin import cache_dir, smollm2_directory
    from ..cache import clean_stale, install, new_temp_dir, verify, write_manifest
    from .llama import IntLlama
    src = smollm2_directory()
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    tok, prefix = _tokenizer_and_prefix(model, src, config)
    folder = cache_dir() / f"portable-{src.name}-{ARITHMETIC_VERSION}"
    clean_stale(folder.parent, ".portable-")
    if folder.is_dir():
        why = verify(folder)
        if why is None:
            return IntLlama.from_quantised(folder / "int8.safetensors", config, tok, name="builtin:smollm2",
                                           prefix=prefix, device=device)
        warnings.warn(f"The cached portable SmolLM2 folder {str(folder)!r} is damaged ({why}); it is "
                      "rebuilt.", RuntimeWarning, stacklevel=2)
    from safetensors.torch import load_file
    m = IntLlama(load_file(str(src / "model.safetensors")), config, tok, name="builtin:smollm2",
                 prefix=prefix, device="cpu")
    tmp = None
    try:                                           # a read-only cache is not an error: just not cached
        tmp = new_temp_dir(folder.parent, ".portable-")
        m.save_quantised(tmp / "int8.safetensors")
        write_manifest(tmp, kind="portable-smollm2", source=src.name, arithmetic=ARITHMETIC_VERSION)
        install(tmp, folder, ".portable-")
    except OSError as exc:
        warnings.warn(f"The portable SmolLM2 weights could not be cached ({exc}); they are quantised "
                      "again on the next load.", RuntimeWarning, stacklevel=2)
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if device != "cpu":
        m._to(device)
        m.device = device
    return m
