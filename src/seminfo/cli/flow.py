"""`seminfo flow`: prompt -> response information density, answer posteriors and the logit lens."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from ._common import add_load_options, add_output_options, open_model, print_csv, print_table, to_json

# print_table/print_csv bind sys.stdout at import; pass the current stream (pytest's capsys swaps it)

_CMD = "seminfo flow"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "flow", help="per-token information density of a response, answer posteriors, logit lens",
        description=(
            "Score a response (given, or generated from the prompt) token by token: surprisal "
            "-log2 p(y_t|y^{t-1},x), information density iota_t = log2 p(y_t|y^{t-1},x) - "
            "log2 p(y_t|y^{t-1}) and its running sum, all in bits per token. The marginal "
            "p(y_t|y^{t-1}) is the exact mixture over --prompt-set when given, otherwise the "
            "null-prompt approximation: the response scored after the model's prefix token alone.\n\n"
            "Example: seminfo flow --model builtin:gpt --prompt 'The list' --generate 20 --seed 0 --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="builtin:gpt", help="model spec (default builtin:gpt)")
    p.add_argument("--prompt", required=True, help="prompt text x (the question when --answer is used)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--response", help="response text y to score")
    g.add_argument("--generate", type=int, metavar="N", help="generate N response tokens from the model")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--prompt-set", type=pathlib.Path, metavar="FILE",
                   help="JSONL lines {\"text\": ..., \"weight\": ...} (weights summing to 1) or plain "
                        "text lines (uniform weights): the marginal becomes the exact mixture")
    p.add_argument("--answer", action="append", dest="answers", metavar="TEXT",
                   help="candidate answer (repeat, at least 2): forced-answer posteriors along paths")
    p.add_argument("--paths", type=int, default=4, help="reasoning paths for --answer (default 4)")
    p.add_argument("--path-tokens", type=int, default=16, help="tokens per reasoning path (default 16)")
    p.add_argument("--samples", type=int, default=0, metavar="S",
                   help="also run the sub-martingale test with S sampled continuations")
    p.add_argument("--lens", action="store_true", help="also run the logit lens on prompt + response")
    p.add_argument("--plot", type=pathlib.Path, metavar="DIR", help="write PNG figures to DIR")
    p.add_argument("--elbo-samples", type=int, default=64, metavar="S",
                   help="Monte-Carlo samples of the order-free ELBO view (masked-diffusion models; "
                        "default 64)")
    add_load_options(p)
    add_output_options(p)
    p.set_defaults(func=run)


def _read_prompt_set(path: pathlib.Path):
    from ..errors import InputError
    if not path.is_file():
        raise InputError(f"The `--prompt-set` option of {_CMD} must name a readable file. "
                         f"Got {str(path)!r}.")
    texts, weights = [], []
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("{"):
            try:
                obj = json.loads(ln)
                texts.append(obj["text"])
                weights.append(obj.get("weight"))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"The `--prompt-set` option of {_CMD}: line {i + 1} must be a JSON "
                                 "object with a \"text\" field (and optionally \"weight\").") from None
        else:
            texts.append(ln)
            weights.append(None)
    if not texts:
        raise InputError(f"The `--prompt-set` option of {_CMD} names an empty file: {str(path)!r}.")
    if all(w is None for w in weights):
        return texts, None
    if any(w is None for w in weights):
        raise InputError(f"The `--prompt-set` option of {_CMD}: give a weight on every line or none.")
    return texts, weights


def run(args: argparse.Namespace) -> int:
    from .._validate import as_int
    from ..errors import InputError
    from ..flow import answer_information, information_flow, logit_lens, submartingale_test
    from .._validate import as_seed
    from ..models.masked import MaskedModel
    as_seed(args.seed, _CMD, "--seed")
    model = open_model(args.model, args, "sample", command=_CMD)
    prompts, weights = _read_prompt_set(args.prompt_set) if args.prompt_set else (None, None)
    if args.response is None and args.generate is None:
        raise InputError(f"{_CMD} needs --response TEXT or --generate N.")
    n = as_int(args.generate, "generate", _CMD, minimum=1) if args.generate is not None else None
    flow = information_flow(model, args.prompt, args.response, n_tokens=n, prompts=prompts,
                            weights=weights, seed=args.seed)
    out = {"model": args.model, "prompt": args.prompt, "seed": args.seed,
           "marginal": flow.marginal,
           "tokens": flow.tokens, "token_ids": flow.token_ids,
           "surprisal_bits": flow.surprisal_bits, "info_density_bits": flow.info_density_bits,
           "conditional_log2p": flow.conditional_log2p, "marginal_log2p": flow.marginal_log2p,
           "cumulative_bits": flow.cumulative_bits, "expected_density_bits": flow.expected_density_bits,
           "entropy_bits": flow.entropy_bits, "total_bits": flow.total_bits,
           "units": {"surprisal_bits": "bits/token", "info_density_bits": "bits/token",
                     "conditional_log2p": "log2 probability per token",
                     "marginal_log2p": "log2 probability per token", "cumulative_bits": "bits (total)",
                     "total_bits": "bits (total over the response)"}}
    if isinstance(model, MaskedModel):
        from ..flow import flow_elbo
        fe = flow_elbo(model, args.prompt, flow.token_ids,
                       samples=as_int(args.elbo_samples, "elbo-samples", _CMD, minimum=2), seed=args.seed)
        out["order"] = "left to right (later response positions masked)"
        out["elbo"] = {"conditional_bits": fe["conditional_bits"].value,
                       "conditional_stderr": fe["conditional_bits"].stderr,
                       "marginal_bits": fe["marginal_bits"].value, "marginal_stderr": fe["marginal_bits"].stderr,
                       "information_bits": fe["information_bits"], "stderr_bits": fe["stderr_bits"],
                       "units": "bits (total over the response); conditional and marginal are negative "
                                "ELBOs (upper bounds), information is their difference"}
    ans = lens = sub = None
    if args.answers:
        ans = answer_information(model, args.prompt, args.answers, n_paths=args.paths,
                                 n_tokens=args.path_tokens, seed=args.seed)
        out["answers"] = {"candidates": ans.answers, "posterior": ans.posterior,
                          "entropy_bits": ans.entropy_bits, "information_bits": ans.information_bits,
                          "max_abs_z": ans.max_abs_z, "martingale_pvalue": ans.martingale_pvalue,
                          "mean_tv_departure": ans.mean_tv_departure, "paths": ans.paths}
    if args.samples:
        sub = submartingale_test(model, args.prompt, len(flow.tokens),
                                 n_samples=as_int(args.samples, "samples", _CMD, minimum=2),
                                 prompts=prompts, weights=weights, seed=args.seed + 1)
        out["submartingale"] = sub.as_dict()
    if args.lens:
        ids = list(model.tokenizer.encode(args.prompt)) + flow.token_ids
        lens = logit_lens(model, ids)
        out["lens"] = {"layers": lens.layers, "tokens": lens.tokens, "entropy_bits": lens.entropy_bits,
                       "kl_to_final_bits": lens.kl_to_final_bits,
                       "final_token_rank": lens.final_token_rank}
    if args.plot:
        from ..flow.plots import answer_figure, density_figure, lens_figure
        import matplotlib.pyplot as plt
        args.plot.mkdir(parents=True, exist_ok=True)
        figs = {"density.png": density_figure(flow)}
        if ans is not None:
            figs["answers.png"] = answer_figure(ans)
        if lens is not None:
            figs["lens.png"] = lens_figure(lens)
        for name, fig in figs.items():
            fig.savefig(args.plot / name, dpi=110)
            plt.close(fig)
        out["plots"] = sorted(str(args.plot / k) for k in figs)
    if args.json:
        print(to_json(out))
    elif args.csv:
        print_csv(flow.rows(), file=sys.stdout)
    else:
        print_table([dict(r, token=repr(r["token"])[1:-1]) for r in flow.rows()], file=sys.stdout)
        print(f"\nS_n = {flow.total_bits:.4f} bits over {len(flow.tokens)} tokens "
              f"(marginal: {flow.marginal}); units: bits/token")
        if "elbo" in out:
            e = out["elbo"]
            print(f"order-free (ELBO) view: -log2 p(y|x) <= {e['conditional_bits']:.2f} ± "
                  f"{e['conditional_stderr']:.2f} bits, -log2 p(y) <= {e['marginal_bits']:.2f} ± "
                  f"{e['marginal_stderr']:.2f} bits, difference {e['information_bits']:.2f} ± "
                  f"{e['stderr_bits']:.2f} bits")
        if sub is not None:
            print(f"sub-martingale test ({sub.n_samples} samples): {sub.verdict}; E S_n = "
                  f"{sub.total.value:.4f} ± {sub.total.stderr:.4f} bits")
        if ans is not None:
            mean_post = ans.posterior.mean(axis=0)
            print_table([{"t": t, **{a: float(mean_post[t, i]) for i, a in enumerate(ans.answers)},
                          "H_bits": float(ans.entropy_bits[:, t].mean())}
                         for t in range(mean_post.shape[0])], file=sys.stdout)
            print(f"martingale diagnostic: max |z| = {ans.max_abs_z:.2f}, p = "
                  f"{ans.martingale_pvalue:.3g}, mean TV departure {ans.mean_tv_departure:.4f}")
        if lens is not None:
            print_table([{"layer": l, "mean_entropy_bits": float(lens.entropy_bits[i].mean()),
                          "mean_kl_to_final_bits": float(lens.kl_to_final_bits[i].mean()),
                          "top1_agreement": float((lens.final_token_rank[i] == 0).mean())}
                         for i, l in enumerate(lens.layers)], file=sys.stdout)
    return 0
