"""Hugging Face causal language models (Transformers, Mamba, Mamba2) as seminfo token models.

:class:`HFModel` wraps any ``AutoModelForCausalLM`` and its fast tokenizer:

* :meth:`HFModel.next_log_probs` runs one teacher-forced forward pass and returns float32
  ``log_softmax`` of the logits (natural logs) as numpy;
* the weights run in the precision chosen at load time (``dtype``: ``"auto"``, ``"float32"``,
  ``"bfloat16"``, ``"float16"``; :func:`resolve_dtype`), but the logits are upcast to float32
  before every ``log_softmax``, and surprisal is handed on in float64 (sums stay in float64 in
  :mod:`seminfo.models.scoring`). A bfloat16 model gives other bits than its float32 original: a
  property of that model, not an error of the accounting;
* :meth:`HFModel.begin` / :meth:`HFModel.feed` carry the KV cache (Transformers) or the recurrent
  cache (Mamba, Mamba2; their pure-PyTorch paths on CPU are fed one token per step, which is how
  those caches are defined);
* :meth:`HFModel.token_stats` reduces on the device: surprisal and predictive entropy per token
  are computed from the logits in chunks of positions, so (B, T, K) never reaches the host;
* the prefix is ``(bos_token_id,)``, or the end-of-text id when the tokenizer has no BOS, as
  lm-evaluation-harness does [1]; `max_context` comes from ``n_positions`` /
  ``max_position_embeddings`` (None for Mamba and Mamba2, whose state is of fixed size [2, 3]).

Safety: weights are read from ``*.safetensors`` only unless ``allow_unsafe_weights=True`` (pickled
``.bin`` checkpoints can run code); ``trust_remote_code`` stays False unless opted in.

The wrapped objects are exposed for analyses that need internals (logit lens, attention):
``.hf_model`` (in eval mode), ``.hf_tokenizer`` and ``.device``.

References
----------
[1] EleutherAI lm-evaluation-harness, ``HFLM.prefix_token_id`` and ``loglikelihood_rolling``.
[2] A. Gu, T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023.
[3] T. Dao, A. Gu, "Transformers are SSMs" (Mamba-2), 2024.

Leaves out: encoder-decoder and masked-diffusion models, quantised (integer) inference, mixed
precision inside one model, multi-GPU sharding.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from typing import Any

import numpy as np

from ..errors import InputError, ModelMismatchError, ModelNotAvailableError
from .base import ModelState, TokenModel
from .._validate import as_token_ids, check_device
from .tokenizer import load_tokenizer

__all__ = ["HFModel", "resolve_device", "resolve_dtype", "DTYPES"]

from .arch import family_of
#: Positions per chunk when the head is applied chunk-wise (bounds memory to CHUNK x K floats per row).
_HEAD_CHUNK = 512

#: The precisions a neural model's weights can be loaded in (``dtype`` of load_model, ``--dtype``).
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str | None = "auto", func: str = "load_model") -> str:
    """'auto' -> 'cuda' when a GPU is present, else 'cpu'; 'cpu', 'cuda', 'cuda:N' and 'mps' are
    checked against what this machine has. Anything else (e.g. 'meta') is an InputError listing the
    allowed devices."""
    import torch
    device = check_device(device, f"The `device` parameter of {func}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str, config: dict | None = None, func: str = "load_model") -> str:
    """The precision the weights are loaded in: 'float32', 'bfloat16' or 'float16'.

    ``"auto"`` is the checkpoint's own precision (config.json ``"dtype"``, or the older
    ``"torch_dtype"``) on a CUDA device, and float32 everywhere else (CPU, MPS), where half
    precisions are slow or emulated; a checkpoint that names no precision (or one outside
    :data:`DTYPES`) runs in float32. An explicit choice is kept on every device: float16 and
    bfloat16 run on a CPU too (PyTorch has CPU kernels for both; float16 is the slower).

    >>> resolve_dtype("auto", "cpu", {"dtype": "bfloat16"}), resolve_dtype("auto", "cuda", {"dtype": "bfloat16"})
    ('float32', 'bfloat16')
    >>> resolve_dtype("float64", "cpu")
    Traceback (most recent call last):
    ...
    seminfo.errors.InputError: The `dtype` parameter of load_model must be one of 'auto', 'float32', 'bfloat16', 'float16'. Got 'float64'.
    """
    from .._validate import one_of
    dtype = one_of(dtype, DTYPES, "dtype", func)
    if dtype != "auto":
        return dtype
    if not str(device).startswith("cuda"):
        return "float32"
    stored = (config or {}).get("dtype") or (config or {}).get("torch_dtype")
    return stored if stored in DTYPES[1:] else "float32"


class HFWrapped:
    """What every Hugging Face adapter shares: the module on its device, the tokenizers, the counts."""

    def _wrap(self, hf_model: Any, tokenizer: Any, name: str, device: str) -> Any:
        import torch
        self._torch = torch
        self.device = resolve_device(device, type(self).__name__)
        self.hf_model = hf_model.to(self.device).eval()
        self.hf_tokenizer = tokenizer if hasattr(tokenizer, "backend_tokenizer") else None
        self.tokenizer = load_tokenizer(tokenizer)
        cfg = hf_model.config
        self.model_type = str(getattr(cfg, "model_type", ""))
        self.name = name or str(getattr(cfg, "_name_or_path", "") or type(hf_model).__name__)
        self._fingerprint: str | None = None
        #: The precision of the weights ('float32', 'bfloat16', 'float16'); log-softmax runs in float32.
        first = next(iter(hf_model.parameters()), None)
        self.dtype = "float32" if first is None else str(first.dtype).replace("torch.", "")
        #: Whether :meth:`compile_inference` ran, and the seconds spent compiling so far.
        self.compiled, self.compile_seconds = False, 0.0
        return cfg

    def compile_inference(self) -> None:
        """Score through ``torch.compile(body, dynamic=True)`` (inductor) from now on.

        Only the teacher-forced body that :meth:`token_stats` runs is compiled (the cached,
        token-by-token paths of sampling and coding are left alone). The wall time of the calls
        that compiled a new graph is added to ``compile_seconds``.
        """
        torch = self._torch
        base = getattr(self.hf_model, self.hf_model.base_model_prefix, None)
        if base is None:
            return
        self._compiled_body = torch.compile(base, dynamic=True)
        self.compiled = True

    def _body(self, inp):
        """Last hidden states (B, L, d) of the body, compiled when :meth:`compile_inference` ran."""
        body = getattr(self, "_compiled_body", None)
        if body is None:
            base = getattr(self.hf_model, self.hf_model.base_model_prefix)
            return base(input_ids=inp, use_cache=False).last_hidden_state
        import time

        from torch._dynamo.utils import counters
        before = sum(counters["stats"].values())
        t0 = time.perf_counter()
        out = body(input_ids=inp, use_cache=False).last_hidden_state
        if sum(counters["stats"].values()) != before:             # this call compiled a graph
            self.compile_seconds += time.perf_counter() - t0
        return out

    def n_parameters(self) -> int:
        """Number of parameters (tied embeddings counted once)."""
        return int(sum(p.numel() for p in self.hf_model.parameters()))


class HFModel(HFWrapped, TokenModel):
    """A transformers causal LM and its tokenizer behind the :class:`TokenModel` interface.

    Parameters
    ----------
    hf_model : transformers.PreTrainedModel
        A causal LM (``AutoModelForCausalLM``); it is put in eval mode and moved to `device`.
    tokenizer : transformers fast tokenizer, tokenizers.Tokenizer or seminfo Tokenizer
        Must not have more ids than the model's output layer.
    name : str
        Spec that reloads the model through ``load_model`` (a path or "builtin:...").
    device : str
        'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N'.
    prefix : tuple of int or None
        Token ids fed before the text; None: the tokenizer's BOS, else its EOS [1].
    """

    def __init__(self, hf_model: Any, tokenizer: Any, *, name: str = "", device: str = "auto",
                 prefix: tuple[int, ...] | None = None):
        cfg = self._wrap(hf_model, tokenizer, name, device)
        #: The declared architecture family (seminfo.models.arch): recurrence, head, layers, norm.
        self.family = family_of(hf_model)
        if self.family.bidirectional:
            raise ModelMismatchError(f"The model {name or self.model_type!r} is bidirectional (a masked "
                                     "LM): wrap it in seminfo.models.masked.HFMaskedModel instead.")
        head = hf_model.get_output_embeddings()
        self.vocab_size = int(head.weight.shape[0]) if head is not None else int(cfg.vocab_size)
        if self.tokenizer.vocab_size > self.vocab_size:
            raise ModelMismatchError(
                f"The tokenizer has {self.tokenizer.vocab_size} ids but the model {self.name!r} "
                f"predicts only {self.vocab_size}: they do not belong together. Load the tokenizer "
                "saved with the model.")
        self.prefix = self._default_prefix() if prefix is None else tuple(int(i) for i in prefix)
        if not self.prefix:
            raise InputError("The `prefix` parameter of HFModel must hold at least one token id (the "
                             "first text token is predicted from it). Got ().")
        for i in self.prefix:
            if not 0 <= i < self.vocab_size:
                raise InputError(f"The `prefix` parameter of HFModel must hold ids in "
                                 f"0..{self.vocab_size - 1}. Got {i}.")
        #: End-of-text id (used by sampling with stop_at_eos), or None.
        self.eos_token_id = _first_id(getattr(self.hf_tokenizer, "eos_token_id", None),
                                      getattr(cfg, "eos_token_id", None))
        if self.family.recurrent:
            self.max_context = None
        else:
            n = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
            self.max_context = int(n) if n else None

    def _default_prefix(self) -> tuple[int, ...]:
        tok, cfg = self.hf_tokenizer, self.hf_model.config
        first = _first_id(getattr(tok, "bos_token_id", None), getattr(tok, "eos_token_id", None),
                          getattr(cfg, "bos_token_id", None), getattr(cfg, "eos_token_id", None))
        if first is not None:
            return (first,)
        raise ModelMismatchError(
            f"The model {self.name!r} has neither a BOS nor an end-of-text token to condition the first "
            "token on. Pass `prefix=(id,)` to HFModel with the id the model was trained to start from.")

    # ------------------------------------------------------------------ helpers
    def _check(self, ids: Any, func: str, *, n_prefix: int) -> np.ndarray:
        arr = as_token_ids(ids, self.vocab_size, func)
        total = arr.shape[1] + n_prefix
        if self.max_context is not None and total > self.max_context:
            raise InputError(f"The `ids` parameter of {func} holds {total} tokens (prefix included), more "
                             f"than the model's context of {self.max_context}. Score long texts with "
                             "seminfo.models.score_bytes, which splits them into windows.")
        return arr

    def _tensor(self, arr: np.ndarray, prefix: bool):
        t = self._torch.as_tensor(arr, dtype=self._torch.long)
        if prefix and self.prefix:
            pre = self._torch.tensor(self.prefix, dtype=self._torch.long).expand(t.shape[0], -1)
            t = self._torch.cat([pre, t], dim=1)
        return t.to(self.device)

    def _logits(self, x):
        out = self.hf_model(input_ids=x, use_cache=False)
        return out.logits[..., : self.vocab_size].float()

    # ------------------------------------------------------------------ TokenModel
    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        """log softmax of the logits after every position: (B, T + 1, K) or (B, T, K), nats, float32."""
        func = "HFModel.next_log_probs"
        arr = self._check(ids, func, n_prefix=len(self.prefix) if prefix else 0)
        x = self._tensor(arr, prefix)                                   # (B, P + T)
        if x.shape[1] == 0:
            raise InputError(f"The `ids` parameter of {func} must hold at least one token when "
                             "`prefix` is False.")
        with self._torch.inference_mode():
            lp = self._torch.log_softmax(self._logits(x), dim=-1)       # (B, P + T, K)
        skip = max(len(self.prefix) - 1, 0) if prefix else 0
        return lp[:, skip:].cpu().numpy()

    def token_stats(self, ids: np.ndarray, *, n_context: int = 0, prefix: bool = True,
                    entropy: bool = True, to_host: bool = True) -> tuple[Any, Any]:
        """Surprisal -log p(x_t | x_<t) and entropy H(p(. | x_<t)) in nats, reduced on the device.

        Same contract as :meth:`TokenModel.token_stats`; returns float64 arrays (B, T - n_context).
        With ``to_host=False`` they stay float64 tensors on the model's device and nothing waits
        for the device: scoring queues several calls and copies their results back at once.
        """
        from .._validate import as_int
        func = "HFModel.token_stats"
        torch = self._torch
        n_context = as_int(n_context, "n_context", func, minimum=0)
        # the last token is only a target: the model sees prefix + ids[:, :-1]
        arr = self._check(ids, func, n_prefix=(len(self.prefix) if prefix else 0) - 1)
        if not prefix and n_context < 1:
            raise InputError("The `n_context` parameter of token_stats must be >= 1 when "
                             "`prefix` is False: the first token has no context to be scored from.")
        B, T = arr.shape
        if n_context > T:
            raise InputError(f"The `n_context` parameter of {func} must be <= the number of tokens "
                             f"({T}). Got {n_context}.")
        x = self._tensor(arr, prefix)                                   # (B, P + T)
        P = x.shape[1] - T
        # the distribution predicting ids[:, t] sits at position P - 1 + t of the input
        first = P - 1 + n_context
        targets = torch.as_tensor(arr[:, n_context:], device=self.device)   # (B, T')
        sur = torch.empty(targets.shape, dtype=torch.float64, device=self.device)
        ent = torch.empty(targets.shape, dtype=torch.float64, device=self.device) if entropy else None
        if targets.shape[1] == 0:
            if not to_host:
                return sur, ent
            return np.zeros((B, 0)), (np.zeros((B, 0)) if entropy else None)
        with torch.inference_mode():
            inp = x[:, : P + T - 1] if T + P - 1 > 0 else x
            n = targets.shape[1]
            if self.family.plain_head:
                hidden = self._body(inp)                                           # (B, L, d)
                head = self.hf_model.get_output_embeddings()
                # some final norms hand back float32 whatever the weights (Mamba2's gated RMSNorm)
                wdt = head.weight.dtype
                rows = hidden[:, first:first + n].reshape(B * n, -1)
                source = lambda a, b: head(rows[a:b].to(wdt))[..., : self.vocab_size].float()  # noqa: E731
            else:
                logits = self._logits(inp)                                          # (B, L, K)
                rows = logits[:, first:first + n].reshape(B * n, -1)
                source = lambda a, b: rows[a:b]                                     # noqa: E731
            # the head runs on _HEAD_CHUNK (row, position) pairs at a time, whatever the batch, so
            # (B, T, K) logits never exist at once
            flat, s_flat = targets.reshape(-1), sur.view(-1)
            e_flat = None if ent is None else ent.view(-1)
            for a in range(0, B * n, _HEAD_CHUNK):
                b = min(a + _HEAD_CHUNK, B * n)
                lp = torch.log_softmax(source(a, b), dim=-1)                       # (c, K)
                s_flat[a:b] = -lp.gather(-1, flat[a:b, None])[:, 0].double()
                if e_flat is not None:
                    e_flat[a:b] = -(lp.exp() * lp).sum(-1).double()
        if not to_host:
            return sur, ent
        return sur.cpu().numpy(), (None if ent is None else ent.cpu().numpy())

    def begin(self, batch_size: int = 1) -> ModelState:
        """Feed the prefix to `batch_size` rows; the state holds the KV / recurrent cache."""
        from .._validate import as_int
        B = as_int(batch_size, "batch_size", "HFModel.begin", minimum=1)
        if not self.prefix:
            raise ModelMismatchError(f"The model {self.name!r} has an empty prefix, so there is no "
                                     "distribution of the first token to begin from.")
        state = ModelState(log_probs=np.zeros((B, 0)), length=0, cache=None)
        pre = np.broadcast_to(np.asarray(self.prefix, dtype=np.int64), (B, len(self.prefix)))
        state, _ = self._advance(state, pre, "HFModel.begin")
        return state

    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        """Append ``ids`` (B, T) to every row; return the new state and (B, T, K) log-probabilities.

        The cache is updated in place: the old `state` must not be fed again.
        """
        return self._advance(state, ids, "HFModel.feed")

    def _advance(self, state: ModelState, ids: Any, func: str) -> tuple[ModelState, np.ndarray]:
        torch = self._torch
        if not isinstance(state, ModelState):
            raise InputError(f"The `state` parameter of {func} must be a ModelState from begin(). "
                             f"Got {type(state).__name__}.")
        arr = self._check(ids, func, n_prefix=state.length)
        B, T = arr.shape
        if state.length and B != state.log_probs.shape[0]:
            raise ModelMismatchError(f"The `ids` parameter of {func} has {B} rows but the state holds "
                                     f"{state.log_probs.shape[0]}.")
        if T == 0:
            return state, np.zeros((B, 0, self.vocab_size), dtype=np.float32)
        x = torch.as_tensor(arr, device=self.device)
        cache, pos = state.cache, state.length
        outs = []
        with torch.inference_mode():
            # Mamba caches advance one token per call; Transformers take the whole block at once
            recurrent = self.family.recurrent
            steps = [(t, t + 1) for t in range(T)] if recurrent else [(0, T)]
            for a, b in steps:
                kw: dict[str, Any] = {"input_ids": x[:, a:b], "use_cache": True}
                if recurrent:
                    kw["cache_params"] = cache
                    kw["cache_position"] = torch.arange(pos + a, pos + b, device=self.device)
                else:
                    kw["past_key_values"] = cache
                out = self.hf_model(**kw)
                cache = out.cache_params if recurrent else out.past_key_values
                outs.append(torch.log_softmax(out.logits[..., : self.vocab_size].float(), dim=-1))
        lp = torch.cat(outs, dim=1).cpu().numpy()                           # (B, T, K)
        return ModelState(log_probs=lp[:, -1], length=pos + T, cache=cache), lp

    def fingerprint(self) -> str:
        """sha256 of the weights (sorted tensor names, dtypes and bytes) and of the tokenizer.

        The weights' dtype enters it: the same checkpoint in bfloat16 computes other numbers than
        in float32, so the two have different fingerprints (an archive made with one is refused
        by the other).
        """
        if self._fingerprint is None:
            digest = _tensor_digest(self.hf_model)
            self._fingerprint = hashlib.sha256(
                f"{digest}|{self.tokenizer.fingerprint()}|{self.prefix}".encode()).hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return (f"HFModel(name={self.name!r}, type={self.model_type!r}, vocab_size={self.vocab_size}, "
                f"max_context={self.max_context}, device={self.device!r}, dtype={self.dtype!r})")


def _first_id(*values: Any) -> int | None:
    """The first token id among `values` (config fields may hold a list of ids, or None)."""
    for value in values:
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return None


def _tensor_digest(hf_model: Any) -> str:
    """sha256 over the state dict: sorted names, dtypes, shapes and raw bytes."""
    import torch
    h = hashlib.sha256()
    for name, t in sorted(hf_model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def load_hf_directory(path: str | os.PathLike, *, name: str = "", device: str = "auto",
                      trust_remote_code: bool = False, allow_unsafe_weights: bool = False,
                      dtype: str = "auto") -> HFModel:
    """Load a model directory (config.json, weights, tokenizer) as an :class:`HFModel`.

    `dtype` is the precision of the weights (:data:`DTYPES`; ``"auto"``: the checkpoint's on CUDA,
    float32 elsewhere, see :func:`resolve_dtype`).

    The weights must match the architecture exactly: a tensor the model needs that the files lack
    (an empty or partial ``model.safetensors``), a tensor the model does not have, or one of another
    shape is an error, never a silently random-initialised layer. Tied weights (an output layer
    shared with the embeddings and stored once) are not missing.

    Raises
    ------
    InputError
        `device` is not one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', or is not on this machine,
        or `dtype` is not one of :data:`DTYPES` (both checked before anything is read).
    ModelNotAvailableError
        No config.json, no safetensors weights (unless unsafe weights are allowed), no tokenizer,
        weights that cannot be read (truncated or corrupted safetensors, a pickle that is refused),
        or weights that do not match the architecture.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    device = resolve_device(device)                 # before seconds of loading, not after
    from .._validate import one_of
    one_of(dtype, DTYPES, "dtype", "load_model")
    folder = pathlib.Path(path)
    label = name or str(folder)
    if not (folder / "config.json").is_file():
        raise ModelNotAvailableError(f"The model directory {str(folder)!r} has no config.json; pass a "
                                     "directory saved with save_pretrained().")
    has_safe = any(folder.glob("*.safetensors"))
    unsafe = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
    if not has_safe and not allow_unsafe_weights:
        raise ModelNotAvailableError(
            f"The model {label!r} has no .safetensors weights" + (f" (only {', '.join(unsafe)})" if unsafe
                                                                  else "")
            + ". Pickled checkpoints can run arbitrary code, so seminfo loads safetensors only; convert "
            "the weights to safetensors or pass allow_unsafe_weights=True if you trust the source.")
    weights = sorted(p.name for p in folder.glob("*.safetensors")) if has_safe else unsafe
    where = f"{', '.join(weights) or 'its weights'} in {str(folder)!r}"
    cfg_json = _read_config(folder)
    torch_dtype = getattr(torch, resolve_dtype(dtype, device, cfg_json))
    masked = _is_masked_config(cfg_json)
    auto_map = cfg_json.get("auto_map") or {}
    if auto_map and not trust_remote_code:
        raise ModelNotAvailableError(
            f"The model {label!r} needs custom code from its repository (its config.json has an auto_map). "
            "Pass trust_remote_code=True only if you trust its authors.")
    try:
        hf_tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    except Exception as exc:          # transformers raises OSError/ValueError/... for missing files
        raise ModelNotAvailableError(f"The model {label!r} has no usable tokenizer in {str(folder)!r} "
                                     f"({type(exc).__name__}: {_first_line(exc)}).") from None
    from transformers.utils import logging as hf_logging
    bar = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()            # no "Loading weights" bar on every command
    hf_logging.set_verbosity_error()             # a load report is turned into our own error below
    load_kw = dict(dtype=torch_dtype, trust_remote_code=trust_remote_code,
                   use_safetensors=True if not allow_unsafe_weights else None, output_loading_info=True)
    try:
        if masked:
            from transformers import AutoModel, AutoModelForMaskedLM
            if isinstance(cfg_json.get("seminfo_masked"), dict):
                loader = AutoModelForCausalLM                   # run bidirectionally
            elif auto_map and "AutoModelForMaskedLM" not in auto_map:
                loader = AutoModel                              # LLaDA-style remote code
            else:
                loader = AutoModelForMaskedLM
        else:
            loader = AutoModelForCausalLM
        hf, info = loader.from_pretrained(str(folder), **load_kw)
    except ValueError as exc:
        if "trust_remote_code" in str(exc) or "custom code" in str(exc):
            raise ModelNotAvailableError(
                f"The model {label!r} needs custom code from its repository. Pass "
                "trust_remote_code=True only if you trust its authors.") from None
        raise ModelNotAvailableError(f"The model {label!r} could not be loaded from {where} "
                                     f"({type(exc).__name__}: {_first_line(exc)}).") from None
    except Exception as exc:          # SafetensorError, UnpicklingError, RuntimeError (shapes), OSError
        raise ModelNotAvailableError(f"The model {label!r} could not be loaded from {where} "
                                     f"({type(exc).__name__}: {_first_line(exc)}). Replace the damaged "
                                     "or untrusted weights.") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    _check_loading_info(info, label, where)
    if masked:
        from .masked import HFMaskedModel
        return HFMaskedModel(hf, hf_tok, name=label, device=device)
    return HFModel(hf, hf_tok, name=label, device=device)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, at most `limit` characters (messages stay one line)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_loading_info(info: dict, label: str, where: str) -> None:
    """Refuse weights that do not cover the architecture exactly (transformers' loading info)."""
    problems = []
    for key, what in (("missing_keys", "missing"), ("unexpected_keys", "unexpected"),
                      ("mismatched_keys", "of the wrong shape")):
        names = sorted(str(k if isinstance(k, str) else k[0]) for k in (info.get(key) or ()))
        if names:
            shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
            problems.append(f"{len(names)} {what} ({shown})")
    errors = [str(e) for e in info.get("error_msgs") or ()]
    if errors:
        problems.append(f"errors: {_first_line(errors[0])}")
    if problems:
        raise ModelNotAvailableError(
            f"The model {label!r} has weights that do not match its config.json in {where}: tensors "
            + "; ".join(problems) + ". seminfo never runs a model with randomly initialised weights; "
            "pass a complete checkpoint saved with save_pretrained().")


def _read_config(folder: pathlib.Path) -> dict:
    import json
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailableError(f"The config.json of {str(folder)!r} cannot be read ({exc}).") from None
    if not isinstance(cfg, dict):
        raise ModelNotAvailableError(f"The config.json of {str(folder)!r} is not a JSON object.")
    return cfg


def _is_masked_config(cfg: dict) -> bool:
    """True for masked-diffusion checkpoints (a config.json read by :func:`_read_config`): a
    bidirectional family, a declared mask token on a masked-LM architecture, or a causal
    architecture adapted by seminfo."""
    if isinstance(cfg.get("seminfo_masked"), dict):            # a causal architecture adapted by seminfo
        return True
    from types import SimpleNamespace
    return family_of(SimpleNamespace(**{k: cfg.get(k) for k in ("model_type", "mask_token_id",
                                                                 "architectures", "is_decoder")})
                     ).bidirectional


__all__ += ["load_hf_directory"]
