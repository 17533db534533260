"""Model pools: a token model held in this process (:class:`LocalPool`) or by Ray actors
(:class:`RayPool`), each mapping named work functions over shards.

A work function is named, not passed: ``TARGETS[name]`` is ``"module:function"``, imported where it
runs and called as ``function(model, shard)``. Naming keeps what an actor may run to this table
and lets a cluster's workers import the functions from their own seminfo installation.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Iterable, Iterator

from ..errors import DependencyError, InputError, SeminfoError

__all__ = ["ModelPool", "LocalPool", "RayPool", "open_pool", "TARGETS"]

#: Work a pool can run: name -> "module:function(model, shard)".
TARGETS = {
    "score.encode": "seminfo.models.scoring:encode_shard",
    "score.windows": "seminfo.models.scoring:score_shard",
    "flow.mixture": "seminfo.flow.density:mixture_shard",
    "compress.files": "seminfo.coding.files:compress_shard",
}


#: How a worker turns the model it is given (a spec or an object) into the model it holds:
#: name -> "module:function(model, needs, load_options, func)".
LOADERS = {
    "model": "seminfo.models.capability:load_for_pool",
    "coding": "seminfo.coding.files:load_for_pool",
}


def _function(name: str, table: dict | None = None):
    module, _, attr = (TARGETS if table is None else table)[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def load(model: Any, *, loader: str = "model", needs: tuple = (), load_options: dict | None = None,
         func: str = "seminfo") -> Any:
    """The model a pool holds, made by the loader named `loader` (see :data:`LOADERS`)."""
    return _function(loader, LOADERS)(model, tuple(needs), dict(load_options or {}), func)


def _describe(model: Any) -> dict:
    """What a caller needs to know of a model it does not hold (for planning and checkpoints)."""
    fingerprint = model.fingerprint() if hasattr(model, "fingerprint") else None
    return {"name": model.name, "prefix": tuple(int(t) for t in model.prefix),
            "max_context": getattr(model, "max_context", None), "fingerprint": fingerprint,
            "vocab_size": int(model.vocab_size)}


class ModelView:
    """A model's description (name, prefix, context, fingerprint) without its weights."""

    def __init__(self, info: dict):
        self.name = info["name"]
        self.prefix = tuple(info["prefix"])
        self.max_context = info["max_context"]
        self.vocab_size = info["vocab_size"]
        self._fingerprint = info["fingerprint"]

    def fingerprint(self) -> str | None:
        return self._fingerprint


class ModelPool:
    """A token model and a way to map work over shards: ``map(target, shards)`` yields
    ``(index, result)`` as shards finish, ``view`` describes the model, ``workers`` counts them."""

    workers: int = 1
    view: Any = None

    def map(self, target: str, shards: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def map_ordered(self, target: str, shards: list[Any]) -> list[Any]:
        """Results of every shard, in the order of `shards`."""
        out: list[Any] = [None] * len(shards)
        for k, value in self.map(target, shards):
            out[k] = value
        return out

    def close(self) -> None:
        """Release the workers (a no-op for a local pool)."""

    def __enter__(self) -> "ModelPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalPool(ModelPool):
    """The model in this process; shards run one after another, in order."""

    def __init__(self, model: Any):
        self.model = model
        self.view = model
        self.workers = 1

    def map(self, target: str, shards: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        fn = _function(target)
        for k, shard in enumerate(shards):
            yield k, fn(self.model, shard)


# ------------------------------------------------------------------------------------------ Ray
def _import_ray(func: str):
    try:
        import ray
    except ImportError:
        raise DependencyError(f"{func} with Ray needs the optional extra: pip install 'seminfo[ray]' "
                              "(or pip install ray). Without --ray / ray=... everything runs in one "
                              "process.") from None
    return ray


def connect(address: str | None, func: str):
    """Ray, initialised: ``"local"`` starts (or reuses) a Ray instance on this machine; any other
    string is a cluster address passed to ``ray.init`` ("auto", "ray://head:10001")."""
    ray = _import_ray(func)
    if ray.is_initialized():
        return ray
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"The `ray` parameter of {func} must be 'local' or a Ray cluster address such "
                         f"as 'auto' or 'ray://head-node:10001'. Got {address!r}.")
    opts = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")       # a private local instance needs no token
    try:
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, **opts)
        else:
            ray.init(address=address, **opts)
    except Exception as exc:                              # ConnectionError, ValueError, RuntimeError...
        raise InputError(f"{func} could not connect to Ray at {address!r}: "
                         f"{type(exc).__name__}: {str(exc).rstrip('. ')}. Start a cluster with `ray start --head` or "
                         "use 'local'.") from None
    return ray


def _unwrap(exc: BaseException) -> BaseException:
    """The original error inside a Ray task error (whose own message carries the remote
    traceback), or `exc` itself."""
    for _ in range(8):
        cause = getattr(exc, "cause", None)
        if not isinstance(cause, BaseException) or cause is exc:
            break
        exc = cause
    return exc


def _actor_class(ray):
    class ModelWorker:
        """Holds one model; runs named work functions on it."""

        def __init__(self, model: Any, loader: str, needs: tuple, load_options: dict,
                     threads: int | None):
            if threads:
                import torch
                torch.set_num_threads(threads)
            # an error while loading is kept and raised by describe(): a method's error reaches
            # the caller as itself, an error in __init__ only as "the actor died"
            self.model, self.error = None, None
            try:
                self.model = load(model, loader=loader, needs=needs, load_options=load_options,
                                  func="a Ray worker of seminfo")
            except SeminfoError as exc:
                self.error = exc

        def describe(self) -> dict:
            if self.error is not None:
                raise self.error
            return _describe(self.model)

        def run(self, target: str, shard: Any) -> Any:
            return _function(target)(self.model, shard)

    return ray.remote(ModelWorker)


class RayPool(ModelPool):
    """Ray actors that each hold the model.

    Parameters
    ----------
    model : str or model
        A spec is loaded by every actor with `load_options` (the way to go for large models: the
        driver never holds the weights); a model object is serialised to the actors.
    address : str
        "local" (a Ray instance on this machine, started once per process) or a cluster address.
    workers : int or None
        Actors to start; None: one per GPU when the cluster has GPUs (and the device is not "cpu"),
        otherwise one per CPU. More than the cluster has is an InputError (Ray would wait forever).
    needs : tuple of str
        Capabilities the work needs (checked where the model is loaded).
    load_options : dict
        device, dtype, trust_remote_code, allow_unsafe_weights for ``seminfo.load_model`` (and,
        for the "coding" loader, portable).
    loader : str
        How each worker makes the model it holds (:data:`LOADERS`): "model" (a token model) or
        "coding" (the model the range coder runs: the portable twin where there is one).
    """

    def __init__(self, model: Any, *, address: str = "local", workers: int | None = None,
                 needs: tuple = (), load_options: dict | None = None, func: str = "seminfo",
                 loader: str = "model"):
        from .._validate import as_int
        ray = connect(address, func)
        self._ray = ray
        load_options = dict(load_options or {})
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
        use_gpu = gpus > 0 and str(load_options.get("device", "auto")) != "cpu"
        have = gpus if use_gpu else cpus
        if workers is None:
            workers = max(1, have)
        workers = as_int(workers, "workers", func, minimum=1)
        if workers > max(have, 1):
            raise InputError(f"The `workers` parameter of {func} asks for {workers} workers, but the Ray "
                             f"cluster has {have} {'GPUs' if use_gpu else 'CPUs'} (one per worker). "
                             f"Use at most {max(have, 1)}.")
        if use_gpu:
            opts, threads = {"num_gpus": 1, "num_cpus": 1}, None
        else:
            share = max(1, cpus // workers)
            opts, threads = {"num_cpus": share}, share
        cls = _actor_class(ray)
        ref = ray.put(model) if not isinstance(model, (str, os.PathLike)) else os.fspath(model)
        self._actors = [cls.options(**opts).remote(ref, loader, tuple(needs), load_options, threads)
                        for _ in range(workers)]
        self.workers = workers
        self.device = "cuda" if use_gpu else "cpu"
        self.view = ModelView(self._get(self._actors[0].describe.remote()))

    def _get(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except Exception as exc:
            inner = _unwrap(exc)
            if isinstance(inner, SeminfoError):
                raise inner from None
            raise

    def map(self, target: str, shards: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` as shards finish; each actor takes the next shard when free."""
        shards = list(shards)
        pending: dict[Any, int] = {}
        free = list(self._actors)
        busy: dict[Any, Any] = {}
        nxt = 0
        while nxt < len(shards) or pending:
            while free and nxt < len(shards):
                actor = free.pop()
                ref = actor.run.remote(target, shards[nxt])
                pending[ref], busy[ref] = nxt, actor
                nxt += 1
            done, _ = self._ray.wait(list(pending), num_returns=1)
            ref = done[0]
            k = pending.pop(ref)
            free.append(busy.pop(ref))
            yield k, self._get(ref)

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            try:
                self._ray.kill(actor)
            except Exception:                                    # already gone
                pass
        self._actors = []


def open_pool(model: Any, *, ray: str | None, workers: int | None, needs: tuple, func: str,
              load_options: dict | None = None, loader: str = "model") -> ModelPool:
    """A :class:`LocalPool` (``ray`` None: the model loaded here) or a :class:`RayPool`."""
    if ray is None:
        if workers is not None:
            raise InputError(f"The `workers` parameter of {func} needs `ray` ('local' or a cluster "
                             f"address). Got workers={workers!r} without it.")
        return LocalPool(load(model, loader=loader, needs=needs, load_options=load_options, func=func))
    return RayPool(model, address=ray, workers=workers, needs=needs, load_options=load_options, func=func,
                   loader=loader)
