"""The knowledge-capacity experiment: model sizes x exposures, stored bits per parameter, saved results.

:func:`run_experiment` trains one GPT-2 model per (size, exposures) pair on one fact corpus, measures
:func:`~seminfo.capacity.stored_bits` and writes every run (sizes, parameters with and without
embeddings, stored bits, bits/parameter, final training loss, seconds, device) with the command line and
the machine to a JSON file; :func:`load_results` reads it back (by default the shipped
``seminfo/data/capacity/results.json``) and :func:`plot_capacity` draws bits/parameter against parameters,
one line per exposure count, beside Allen-Zhu & Li's ~1 bit/parameter (100 exposures) and ~2
bits/parameter (1,000 exposures) [1].

References
----------
[1] Z. Allen-Zhu, Y. Li, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
    arXiv:2404.05405, 2024.

Leaves out: repeated seeds (one seed per run), learning-rate searches per size, quantisation.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import InputError, ModelNotAvailableError
from .._validate import as_int, as_path, as_seed, check_device, check_output_path
from ..results import Result

__all__ = ["DEFAULT_SIZES", "GPU_SIZES", "DEFAULT_EXPOSURES", "DEFAULT_ATTRIBUTES", "RESULTS_PATH",
           "CapacityResults", "run_experiment", "load_results", "plot_capacity", "REFERENCE"]

#: (n_layer, n_embd) of the sizes that run on 2 CPU cores in the shipped experiment.
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1, 8), (1, 16), (2, 16), (2, 24))
#: Larger sizes meant for ``device="cuda"`` (with more people: see docs/capacity.md).
GPU_SIZES: tuple[tuple[int, int], ...] = ((2, 32), (2, 64), (4, 64), (4, 128))
DEFAULT_EXPOSURES: tuple[int, ...] = (100, 1000)
#: Four attributes of 4,096 values (12 bits each, two base-64 digits): 48 bits per person.
DEFAULT_ATTRIBUTES = {"birthday": 4096, "city": 4096, "employer": 4096, "major": 4096}
DEFAULT_PEOPLE = 800
DEFAULT_BASE = 64
#: Allen-Zhu & Li's capacity ratios, bits/parameter, by exposures per fact.
REFERENCE = {100: 1.0, 1000: 2.0}
#: The shipped results file.
RESULTS_PATH = pathlib.Path(__file__).resolve().parent.parent / "data" / "capacity" / "results.json"


@dataclass(frozen=True)
class CapacityResults(Result):
    """Runs of the experiment, with the corpus, the machine and the command that made them.

    Attributes
    ----------
    runs : list of dict
        One per (size, exposures): n_layer, n_embd, n_head, n_params (all parameters, tied embeddings once),
        n_params_non_embedding, exposures, stored_bits (bits), entropy_bits (bits), bits_per_parameter
        (bits/parameter, all parameters), bits_per_non_embedding_parameter, fraction_stored, n_exact,
        final_train_loss (nats/token), seconds, device, threads, steps, batch_size, lr.
    corpus : dict
        The corpus description (FactCorpus.describe()).
    machine : dict
        CPU model, logical cores, torch and transformers versions, python, platform.
    command : str
    not_run : list of dict
        Sizes listed but not run, with the reason (e.g. no GPU on the machine).
    references : dict
        Allen-Zhu & Li's bits/parameter by exposures.
    """

    runs: list
    corpus: dict
    machine: dict
    command: str
    not_run: list = field(default_factory=list)
    references: dict = field(default_factory=lambda: {str(k): v for k, v in REFERENCE.items()})
    date: str = ""
    units: str = "bits"

    def rows(self) -> list[dict]:
        """Table rows: size, parameters, exposures, stored bits, bits/parameter, the reference."""
        out = []
        for r in self.runs:
            out.append({"size": f"L{r['n_layer']} d{r['n_embd']}", "params": r["n_params"],
                        "non_emb_params": r["n_params_non_embedding"], "exposures": r["exposures"],
                        "stored_bits": float(r["stored_bits"]),
                        "bits_per_param": float(r["bits_per_parameter"]),
                        "reference": float(REFERENCE.get(r["exposures"], float("nan"))),
                        "seconds": float(r["seconds"]), "device": r["device"]})
        return out


def machine_info(device: str = "cpu") -> dict:
    """CPU model (from /proc/cpuinfo), cores, library versions; the GPU name when `device` is cuda."""
    cpu = platform.processor() or ""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "logical_cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        import torch
        import transformers
        info.update(torch=torch.__version__, transformers=transformers.__version__)
        if device.startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _check_sizes(sizes: Any, func: str) -> list[tuple[int, int]]:
    try:
        pairs = [(L, d) for L, d in sizes]
    except (TypeError, ValueError):
        raise InputError(f"The `sizes` parameter of {func} must be a list of (n_layer, n_embd) pairs. Got "
                         f"{sizes!r}.") from None
    if not pairs:
        raise InputError(f"The `sizes` parameter of {func} must list at least one (n_layer, n_embd) pair.")
    return [(as_int(L, "sizes", func, minimum=1, maximum=64), as_int(d, "sizes", func, minimum=1, maximum=8192))
            for L, d in pairs]


def run_experiment(*, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
                   exposures: Sequence[int] = DEFAULT_EXPOSURES, n_people: int = DEFAULT_PEOPLE,
                   attributes: dict | None = None, base: int = DEFAULT_BASE, seed: int = 0,
                   device: str = "cpu", threads: int | None = None, batch_size: int = 128, lr: float = 1e-2,
                   out: str | os.PathLike | None = None, save_models: str | os.PathLike | None = None,
                   not_run: Sequence[dict] = (), command: str = "", progress: bool = True) -> CapacityResults:
    """Train every size for every exposure count on one corpus and measure stored bits per parameter.

    Parameters
    ----------
    sizes : list of (n_layer, n_embd)
    exposures : list of int
        Exposures per fact (each person's biography seen that many times).
    n_people, attributes, base, seed :
        The corpus (:func:`~seminfo.capacity.fact_corpus`); the seed also seeds every training run.
    device, threads, batch_size, lr :
        Passed to :func:`~seminfo.capacity.train_capacity_model`.
    out : path or None
        JSON file rewritten after every run (so an interrupted experiment keeps what it finished).
    save_models : path or None
        Folder in which each trained model is saved (one sub-folder per run).
    not_run : list of dict
        Sizes listed as not run (recorded as given).
    command : str
        The command line recorded with the results (default: sys.argv).

    Returns
    -------
    CapacityResults
    """
    from .facts import fact_corpus
    from .measure import stored_bits
    from .train import save_capacity_model, train_capacity_model
    func = "run_experiment"
    sizes = _check_sizes(sizes, func)
    exposures = [as_int(e, "exposures", func, minimum=1) for e in exposures]
    if not exposures:
        raise InputError(f"The `exposures` parameter of {func} must list at least one count.")
    seed = as_seed(seed, func)
    device = check_device(device, f"The `device` parameter of {func}")
    out_path = None if out is None else check_output_path(out, f"The `out` parameter of {func}")
    models_dir = None if save_models is None else check_output_path(
        save_models, f"The `save_models` parameter of {func}", folder=True)
    corpus = fact_corpus(n_people, DEFAULT_ATTRIBUTES if attributes is None else attributes, seed=seed,
                         base=base)
    runs: list[dict] = []
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = command or " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])

    def result() -> CapacityResults:
        return CapacityResults(runs=list(runs), corpus=corpus.describe(), machine=machine_info(device),
                               command=command, not_run=list(not_run), date=date)

    for n_layer, n_embd in sizes:
        for e in exposures:
            t0 = time.perf_counter()
            trained = train_capacity_model(corpus, n_layer=n_layer, n_embd=n_embd, exposures=e,
                                           batch_size=batch_size, lr=lr, seed=seed, device=device,
                                           threads=threads, progress=progress)
            s = stored_bits(trained.model, corpus)
            rec = trained.record
            runs.append({**rec.as_dict(), "stored_bits": s.bits, "net_bits": s.net_bits,
                         "entropy_bits": s.entropy_bits,
                         "bits_per_parameter": s.bits / rec.n_params,
                         "bits_per_non_embedding_parameter": s.bits / rec.n_params_non_embedding,
                         "fraction_stored": s.fraction, "n_exact": s.n_exact, "n_facts": s.n_facts,
                         "per_attribute": s.per_attribute, "loss_bits": s.loss_bits,
                         "total_seconds": time.perf_counter() - t0})
            if models_dir is not None:
                models_dir.mkdir(exist_ok=True)
                save_capacity_model(trained, models_dir / f"L{n_layer}-d{n_embd}-x{e}")
            if out_path is not None:
                out_path.write_text(json.dumps(result().as_dict(), indent=1) + "\n", encoding="utf-8")
    return result()


def load_results(path: str | os.PathLike | None = None) -> CapacityResults:
    """Read a results file written by :func:`run_experiment` (default: the shipped one)."""
    func = "load_results"
    p = RESULTS_PATH if path is None else as_path(path, f"The `path` parameter of {func}")
    if not p.is_file():
        raise ModelNotAvailableError(f"The `path` parameter of {func} names {str(p)!r}, which does not exist. "
                                     "Run the experiment first (seminfo capacity --run --out FILE).")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
        return CapacityResults(runs=obj["runs"], corpus=obj["corpus"], machine=obj["machine"],
                               command=obj["command"], not_run=obj.get("not_run", []),
                               references=obj.get("references", {}), date=obj.get("date", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"The `path` parameter of {func} names {str(p)!r}, which is not a capacity results "
                         f"file ({type(exc).__name__}: {exc}).") from None


def plot_capacity(results: CapacityResults, path: str | os.PathLike | None = None):
    """Bits/parameter against parameters (log scale), one line per exposure count (solid: stored bits;
    dotted: net bits, without the clipping at zero, shown at 0 when negative), with Allen-Zhu & Li's
    references at 1 (100 exposures) and 2 (1,000 exposures) bits/parameter. Writes a PNG when `path` is
    given; returns the matplotlib Figure."""
    if not isinstance(results, CapacityResults):
        raise InputError(f"The `results` parameter of plot_capacity must be CapacityResults (from "
                         f"load_results or run_experiment). Got {type(results).__name__}.")
    target = None if path is None else check_output_path(path, "The `path` parameter of plot_capacity")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = {}
    for e in sorted({r["exposures"] for r in results.runs}):
        rs = sorted((r for r in results.runs if r["exposures"] == e), key=lambda r: r["n_params"])
        (line,) = ax.plot([r["n_params"] for r in rs], [r["bits_per_parameter"] for r in rs], "o-",
                          label=f"{e:,} exposures (this run)")
        colors[e] = line.get_color()
        if all("net_bits" in r for r in rs):
            ax.plot([r["n_params"] for r in rs], [max(r["net_bits"], 0.0) / r["n_params"] for r in rs], "o:",
                    mfc="none", color=line.get_color(), label=f"{e:,} exposures, net (unclipped) bits")
    for e, ref in sorted(REFERENCE.items()):
        ax.axhline(ref, ls="--", lw=1, color=colors.get(e, "grey"),
                   label=f"Allen-Zhu & Li, {e:,} exposures: {ref:g} bit/param")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (all, embeddings included)")
    ax.set_ylabel("stored bits / parameter")
    ax.set_ylim(0, max(2.2, ax.get_ylim()[1]))
    H = results.corpus.get("entropy_bits")
    ax.set_title(f"Knowledge capacity: {results.corpus.get('n_people', '?')} people, "
                 f"{H:,.0f} bits of facts" if H else "Knowledge capacity")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if target is not None:
        fig.savefig(target, dpi=120, format="png")
    return fig
