"""Run a model's work in this process or over Ray actors, with the same numbers either way.

A :class:`ModelPool` holds a token model and maps *shards* of work over it:

* :class:`LocalPool` runs every shard in this process, in order;
* :class:`RayPool` starts Ray actors that each load the model once (one per GPU where the cluster
  has GPUs, otherwise CPU actors that split the CPUs between them) and hands them shards as they
  free up (``ray.util.ActorPool``).

The callers (:func:`seminfo.score_text`, the prompt-set mixture of :mod:`seminfo.flow`,
:func:`seminfo.coding.compress_files`) cut their work into shards that depend on the input alone,
never on the number of workers, and reduce the shards' results in input order by totals. So one
worker, two workers or a cluster give the same numbers as the single process: every model call sees
the same inputs in the same shapes, and the sums are taken in the same order.

Ray is an optional extra (``pip install 'seminfo[ray]'``); nothing here imports it until a
:class:`RayPool` is made.
"""

from .pool import LocalPool, ModelPool, RayPool, open_pool

__all__ = ["ModelPool", "LocalPool", "RayPool", "open_pool"]
