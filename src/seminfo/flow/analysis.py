"""One call for everything `seminfo flow` shows about a prompt and a response.

:func:`analyze_flow` scores the response token by token (:func:`~seminfo.flow.information_flow`) and,
on request, adds the order-free ELBO view for masked-diffusion models (:func:`~seminfo.flow.flow_elbo`),
forced-answer posteriors along sampled reasoning paths (:func:`~seminfo.flow.answer_information`),
the sub-martingale test (:func:`~seminfo.flow.submartingale_test`) and the logit lens
(:func:`~seminfo.flow.logit_lens`). It checks every argument before the model is loaded or run and
returns a :class:`FlowAnalysis` whose :meth:`~FlowAnalysis.summary` is the JSON the command prints
and whose :meth:`~FlowAnalysis.save_figures` writes the PNG figures.

Left out: anything the parts do not compute themselves (see their modules for sources and limits).
"""

from __future__ import annotations

import contextlib
import pathlib
from dataclasses import dataclass
from typing import Any, Sequence

from .._validate import as_bool, as_int, as_seed
from ..errors import InputError
from ..results import Result

__all__ = ["FlowAnalysis", "analyze_flow", "MAX_TOKENS", "MAX_SAMPLES", "LEGEND"]

#: Most tokens generated for the response or for each reasoning path (work grows with each token).
MAX_TOKENS = 4096
#: Most reasoning paths, sub-martingale samples or ELBO samples.
MAX_SAMPLES = 4096

#: What the per-token columns mean (printed by `seminfo flow` and kept in the JSON summary).
LEGEND = {
    "surprisal_bits": "-log2 p(y_t | y^{t-1}, x): bits/token",
    "info_density_bits": "iota_t = log2 p(y_t | y^{t-1}, x) - log2 p(y_t | y^{t-1}): bits the prompt "
                         "gives about token t",
    "cumulative_bits": "S_t, the running sum of iota (bits in total up to t)",
    "expected_density_bits": "E[iota_t | y^{t-1}] = D(p(. | y^{t-1}, x) || p(. | y^{t-1})) >= 0: the "
                             "information density expected at t under the model's own sampling, "
                             "bits/token",
    "entropy_bits": "H(p(. | y^{t-1}, x)): bits/token",
}


@dataclass(frozen=True)
class FlowAnalysis(Result):
    """What :func:`analyze_flow` computed (the optional parts are None when not asked for).

    Attributes
    ----------
    model : str
        The model's spec or name.
    prompt : str or list
    seed : int
    flow : FlowResult
        Per-token surprisal, information density and S_t (bits/token; totals in bits).
    elbo : dict or None
        Masked-diffusion models only: :func:`~seminfo.flow.flow_elbo`'s order-free view (bits total).
    answers : AnswerResult or None
        Forced-answer posteriors, with `answers`.
    submartingale : SubmartingaleResult or None
        The sub-martingale test, with ``n_samples > 0``.
    lens : LensResult or None
        The logit lens on prompt + response, with ``lens=True``.
    """

    model: str
    prompt: Any
    seed: int
    flow: Any
    elbo: dict | None = None
    answers: Any = None
    submartingale: Any = None
    lens: Any = None
    units: str = "bits/token (per-token arrays); bits (totals)"

    def summary(self) -> dict:
        """Plain-JSON summary: the per-token arrays, totals, their units and the optional parts."""
        f = self.flow
        out = {"model": self.model, "prompt": self.prompt, "seed": self.seed, "marginal": f.marginal,
               "tokens": f.tokens, "token_ids": f.token_ids,
               "surprisal_bits": f.surprisal_bits, "info_density_bits": f.info_density_bits,
               "conditional_log2p": f.conditional_log2p, "marginal_log2p": f.marginal_log2p,
               "cumulative_bits": f.cumulative_bits, "expected_density_bits": f.expected_density_bits,
               "entropy_bits": f.entropy_bits, "total_bits": f.total_bits,
               "units": {"surprisal_bits": "bits/token", "info_density_bits": "bits/token",
                         "conditional_log2p": "log2 probability per token",
                         "marginal_log2p": "log2 probability per token",
                         "cumulative_bits": "bits (total up to t)",
                         "expected_density_bits": "bits/token", "entropy_bits": "bits/token",
                         "total_bits": "bits (total over the response)"},
               "legend": dict(LEGEND)}
        if self.elbo is not None:
            e = self.elbo
            out["order"] = "left to right (later response positions masked)"
            out["elbo"] = {"conditional_bits": e["conditional_bits"].value,
                           "conditional_stderr": e["conditional_bits"].stderr,
                           "marginal_bits": e["marginal_bits"].value,
                           "marginal_stderr": e["marginal_bits"].stderr,
                           "information_bits": e["information_bits"], "stderr_bits": e["stderr_bits"],
                           "units": "bits (total over the response); conditional and marginal are "
                                    "negative ELBOs (upper bounds), information is their difference"}
        if self.answers is not None:
            a = self.answers
            out["answers"] = {"candidates": a.answers, "posterior": a.posterior,
                              "entropy_bits": a.entropy_bits, "information_bits": a.information_bits,
                              "max_abs_z": a.max_abs_z, "martingale_pvalue": a.martingale_pvalue,
                              "mean_tv_departure": a.mean_tv_departure, "paths": a.paths}
        if self.submartingale is not None:
            out["submartingale"] = self.submartingale.as_dict()
        if self.lens is not None:
            le = self.lens
            out["lens"] = {"layers": le.layers, "tokens": le.tokens, "entropy_bits": le.entropy_bits,
                           "kl_to_final_bits": le.kl_to_final_bits,
                           "final_token_rank": le.final_token_rank}
        return out

    def figures(self) -> dict:
        """matplotlib Figures by file name: density.png, and answers.png / lens.png when computed."""
        from .plots import answer_figure, density_figure, lens_figure
        figs = {"density.png": density_figure(self.flow)}
        if self.answers is not None:
            figs["answers.png"] = answer_figure(self.answers)
        if self.lens is not None:
            figs["lens.png"] = lens_figure(self.lens)
        return figs

    def save_figures(self, folder: Any, *, dpi: int = 110) -> list[pathlib.Path]:
        """Write :meth:`figures` as PNG files into `folder` (created if missing, its parent must
        exist); returns their paths, sorted."""
        import matplotlib.pyplot as plt
        out = pathlib.Path(folder)
        if out.exists() and not out.is_dir():
            raise InputError(f"The `folder` parameter of FlowAnalysis.save_figures names a file, "
                             f"{str(out)!r}; give a folder.")
        if not out.parent.is_dir():
            raise InputError(f"The `folder` parameter of FlowAnalysis.save_figures names a folder in "
                             f"{str(out.parent)!r}, which does not exist.")
        out.mkdir(exist_ok=True)
        paths = []
        for name, fig in self.figures().items():
            fig.savefig(out / name, dpi=dpi)
            plt.close(fig)
            paths.append(out / name)
        return sorted(paths)


def analyze_flow(model: Any, prompt: Any, response: Any = None, *, n_tokens: int | None = None,
                 prompts: Sequence | None = None, weights: Sequence | None = None,
                 answers: Sequence | None = None, n_paths: int = 4, path_tokens: int = 16,
                 n_samples: int = 0, lens: bool = False, elbo_samples: int = 64,
                 seed: int = 0, progress: bool = False, ray: str | None = None,
                 workers: int | None = None, load_options: dict | None = None) -> FlowAnalysis:
    """Information flow of one response with the optional diagnostics, in one call.

    Parameters
    ----------
    model : model spec or seminfo model
        A model that can sample (left-to-right, or masked diffusion read left to right).
    prompt : str, bytes or sequence of int
    response : str, bytes or sequence of int, optional
        The response to score; without it `n_tokens` tokens are generated from p(. | prompt).
    n_tokens : int, optional
        Tokens to generate (1 to :data:`MAX_TOKENS`), only without `response`.
    prompts, weights : sequences, optional
        A prompt set for the exact mixture marginal (see :func:`~seminfo.flow.information_flow`).
    answers : sequence of str, optional
        At least 2 candidate answers: forced-answer posteriors along `n_paths` sampled reasoning
        paths of `path_tokens` tokens.
    n_samples : int
        With n_samples >= 2, the sub-martingale test on that many sampled continuations; 0: skipped.
    lens : bool
        Also run the logit lens on prompt + response (models that expose their layers).
    elbo_samples : int
        Monte-Carlo samples of the ELBO view, masked-diffusion models only (>= 2).
    seed : int
        Seed of every sampling step (the sub-martingale test uses ``seed + 1``).
    progress : bool
        A progress bar on stderr (positions scored per second and an ETA) over the prompt-set
        mixture, the long part of a run with `prompts`.
    ray, workers, load_options
        Run the prompt-set mixture on Ray actors that each hold the model (see
        :func:`seminfo.score_text`); the prompts go in fixed shards of
        :data:`~seminfo.flow.density.PROMPT_SHARD`, combined in prompt order, so the numbers are
        the same as in one process. A spec `model` is loaded by each worker with `load_options`.

    Returns
    -------
    FlowAnalysis

    Examples
    --------
    >>> r = analyze_flow("builtin:ngram", "The list", " is mutable.")
    >>> r.flow.marginal, len(r.flow.tokens) == len(r.summary()["info_density_bits"])
    ('null-prompt', True)
    """
    from ..models.capability import as_model
    from .density import mixture_context
    func = "analyze_flow"
    seed = as_seed(seed, func)
    if seed is None or not isinstance(seed, int):
        raise InputError(f"The `seed` parameter of {func} must be a non-negative integer. Got {seed!r}.")
    if response is None and n_tokens is None:
        raise InputError(f"{func} needs a `response` to score or a number of tokens to generate "
                         "(`n_tokens`). Got neither.")
    if n_tokens is not None:
        n_tokens = as_int(n_tokens, "n_tokens", func, minimum=1, maximum=MAX_TOKENS)
    if answers is not None:
        n_paths = as_int(n_paths, "n_paths", func, minimum=1, maximum=MAX_SAMPLES)
        path_tokens = as_int(path_tokens, "path_tokens", func, minimum=1, maximum=MAX_TOKENS)
    n_samples = as_int(n_samples, "n_samples", func, minimum=0, maximum=MAX_SAMPLES)
    if n_samples == 1:
        raise InputError(f"The `n_samples` parameter of {func} must be 0 (no test) or at least 2. Got 1.")
    elbo_samples = as_int(elbo_samples, "elbo_samples", func, minimum=2, maximum=MAX_SAMPLES)
    lens = as_bool(lens, "lens", func)
    name = model if isinstance(model, str) else getattr(model, "name", type(model).__name__)
    spec = model
    model = as_model(model, "sample", func=func, **(load_options or {}))
    with contextlib.ExitStack() as stack:
        if prompts is not None and (ray is not None or progress):
            from ..scale import open_pool
            pool = None
            if ray is not None:
                pool = stack.enter_context(open_pool(spec, ray=ray, workers=workers, needs=("sample",),
                                                     func=func, load_options=load_options))
            bar = None
            if progress:
                bar = stack.enter_context(_mixture_bar(model, prompt, response, n_tokens, prompts,
                                                       n_samples, name))
            stack.enter_context(mixture_context(pool, bar))
        return _analyze(model, name, prompt, response, n_tokens, prompts, weights, answers, n_paths,
                        path_tokens, n_samples, lens, elbo_samples, seed)


def _mixture_bar(model, prompt, response, n_tokens, prompts, n_samples, name):
    """A tqdm bar over the positions the prompt-set mixture scores: (1 + n_samples) rows, each
    scoring every prompt followed by the n response tokens."""
    from tqdm.auto import tqdm

    from .density import _encode
    func = "analyze_flow"
    n = n_tokens if response is None else len(_encode(model, response, "response", func))
    total = (1 + n_samples) * sum(len(_encode(model, p, "prompts", func)) + n for p in prompts)
    return tqdm(total=int(total), unit="tok", desc=f"prompt-set mixture ({name})", leave=False)


def _analyze(model, name, prompt, response, n_tokens, prompts, weights, answers, n_paths, path_tokens,
             n_samples, lens, elbo_samples, seed) -> FlowAnalysis:
    from .answer import answer_information
    from .density import _encode, flow_elbo, information_flow, submartingale_test
    from .lens import logit_lens
    func = "analyze_flow"
    flow = information_flow(model, prompt, response, n_tokens=n_tokens, prompts=prompts,
                            weights=weights, seed=seed)
    from ..models.masked import MaskedModel
    elbo = None
    if isinstance(model, MaskedModel):
        elbo = flow_elbo(model, prompt, flow.token_ids, samples=elbo_samples, seed=seed)
    ans = sub = lns = None
    if answers is not None:
        ans = answer_information(model, prompt, answers, n_paths=n_paths, n_tokens=path_tokens,
                                 seed=seed)
    if n_samples:
        sub = submartingale_test(model, prompt, len(flow.tokens), n_samples=n_samples,
                                 prompts=prompts, weights=weights, seed=seed + 1)
    if lens:
        lns = logit_lens(model, _encode(model, prompt, "prompt", func) + list(flow.token_ids))
    return FlowAnalysis(model=str(name), prompt=prompt, seed=seed, flow=flow, elbo=elbo, answers=ans,
                        submartingale=sub, lens=lns)
