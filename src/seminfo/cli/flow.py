"""`seminfo flow`: prompt -> response information density, answer posteriors and the logit lens.

A thin call over :func:`seminfo.flow.analyze_flow`: check the flags, read --prompt-set, make the one
call, print or write what it returns.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from ._common import (add_load_options, add_output_options, add_progress_options, add_ray_options,
                      check_ray_options, load_options, check_input_file, check_int, check_output,
                      check_seed, examples, open_model, print_csv, print_table, to_json, where)

_CMD = "seminfo flow"
FLAGS = {"prompt": "--prompt", "question": "--prompt", "response": "--response",
         "n_tokens": "--generate", "prompts": "--prompt-set", "weights": "--prompt-set",
         "answers": "--answer", "n_paths": "--paths", "path_tokens": "--path-tokens",
         "n_samples": "--samples", "elbo_samples": "--elbo-samples", "seed": "--seed",
         "device": "--device", "dtype": "--dtype", "spec": "--model", "model": "--model", "folder": "--plot",
         "ray": "--ray", "workers": "--workers"}


def register(sub: argparse._SubParsersAction) -> None:
    from ..flow.analysis import MAX_SAMPLES, MAX_TOKENS
    p = sub.add_parser(
        "flow", help="per-token information density of a response, answer posteriors, logit lens",
        description=(
            "Score a response (given, or generated from the prompt) token by token, in bits per "
            "token:\n"
            "  surprisal_bits         -log2 p(y_t|y^{t-1},x)\n"
            "  info_density_bits      iota_t = log2 p(y_t|y^{t-1},x) - log2 p(y_t|y^{t-1}), the "
            "bits the prompt gives about token t\n"
            "  cumulative_bits        S_t, the running sum of iota (bits in total)\n"
            "  expected_density_bits  D(p(.|y^{t-1},x) || p(.|y^{t-1})) >= 0, the iota_t expected "
            "under the model's own sampling\n"
            "The marginal p(y_t|y^{t-1}) is the exact mixture over --prompt-set when given, otherwise "
            "the null-prompt approximation: the response scored after the model's prefix token "
            f"alone. --generate and --path-tokens take at most {MAX_TOKENS:,} tokens; --paths, "
            f"--samples and --elbo-samples at most {MAX_SAMPLES:,}."),
        epilog=examples(
            "seminfo flow --model builtin:ngram --prompt 'The list' --generate 12 --seed 0",
            "seminfo flow --model builtin:ngram --prompt 'The list type' --response ' is mutable.' "
            "--prompt-set prompts.jsonl --samples 4 --json",
            "seminfo flow --model builtin:gpt --prompt 'Is a list mutable?' --answer ' yes' --answer ' no' "
            "--paths 2 --path-tokens 4 --generate 4 --lens --plot figures"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="builtin:gpt", help="model spec (default builtin:gpt)")
    p.add_argument("--prompt", required=True, help="prompt text x (the question when --answer is used)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--response", help="response text y to score")
    g.add_argument("--generate", type=int, metavar="N",
                   help=f"generate N response tokens from the model (1 to {MAX_TOKENS:,})")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--prompt-set", type=pathlib.Path, metavar="FILE",
                   help="UTF-8 file of JSONL lines {\"text\": ..., \"weight\": ...} (weights summing "
                        "to 1) or plain text lines (uniform weights): the marginal becomes the exact "
                        "mixture")
    p.add_argument("--answer", action="append", dest="answers", metavar="TEXT",
                   help="candidate answer (repeat, at least 2): forced-answer posteriors along paths")
    p.add_argument("--paths", type=int, default=4, help="reasoning paths for --answer (default 4)")
    p.add_argument("--path-tokens", type=int, default=16, help="tokens per reasoning path (default 16)")
    p.add_argument("--samples", type=int, default=0, metavar="S",
                   help="also run the sub-martingale test with S >= 2 sampled continuations")
    p.add_argument("--lens", action="store_true", help="also run the logit lens on prompt + response")
    p.add_argument("--plot", type=pathlib.Path, metavar="DIR",
                   help="write PNG figures to DIR (created if missing; its parent must exist)")
    p.add_argument("--elbo-samples", type=int, default=64, metavar="S",
                   help="Monte-Carlo samples of the order-free ELBO view (masked-diffusion models; "
                        "default 64)")
    add_load_options(p)
    add_ray_options(p)
    add_progress_options(p)
    add_output_options(p)
    p.set_defaults(func=run, flags=FLAGS)


def read_prompt_set(path: pathlib.Path) -> tuple[list[str], list[float] | None]:
    """Prompts and weights (None: uniform) from a --prompt-set file (JSONL or plain lines)."""
    from ..errors import InputError
    check_input_file(path, "--prompt-set", _CMD, text=True)
    here = where("--prompt-set", _CMD)
    texts, weights = [], []
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("{"):
            try:
                obj = json.loads(ln)
                texts.append(obj["text"])
                weights.append(obj.get("weight"))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise InputError(f"{here}: line {i + 1} must be a JSON object with a \"text\" field "
                                 "(and optionally \"weight\").") from None
            if not isinstance(texts[-1], str):
                raise InputError(f"{here}: the \"text\" on line {i + 1} must be a string. Got "
                                 f"{texts[-1]!r}.")
        else:
            texts.append(ln)
            weights.append(None)
    if not texts:
        raise InputError(f"{here} names an empty file: {str(path)!r}.")
    if all(w is None for w in weights):
        return texts, None
    if any(w is None for w in weights):
        raise InputError(f"{here}: give a weight on every line or none.")
    bad = next((i for i, w in enumerate(weights)
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0
                or w == float("inf")), None)
    if bad is not None:
        raise InputError(f"{here}: the weights must be a sequence of numbers >= 0; the weight on line "
                         f"{bad + 1} is {weights[bad]!r}.")
    total = float(sum(weights))
    if abs(total - 1.0) > 1e-9:
        raise InputError(f"{here}: the weights must sum to 1 (tolerance 1e-09). Got a sum of "
                         f"{total:.12g}; divide each by the sum.")
    return texts, [float(w) for w in weights]


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..flow import analyze_flow
    from ..flow.analysis import LEGEND, MAX_SAMPLES, MAX_TOKENS
    # every flag is checked before the model is loaded
    seed = check_seed(args.seed, _CMD)
    if args.response is None and args.generate is None:
        raise InputError(f"{_CMD} needs --response TEXT or --generate N.")
    if args.generate is not None:
        check_int(args.generate, "--generate", _CMD, minimum=1, maximum=MAX_TOKENS,
                  why=" tokens")
    if args.answers:
        check_int(args.paths, "--paths", _CMD, minimum=1, maximum=MAX_SAMPLES)
        check_int(args.path_tokens, "--path-tokens", _CMD, minimum=1, maximum=MAX_TOKENS)
    if args.samples:
        check_int(args.samples, "--samples", _CMD, minimum=2, maximum=MAX_SAMPLES)
    check_int(args.elbo_samples, "--elbo-samples", _CMD, minimum=2, maximum=MAX_SAMPLES)
    plot = None if args.plot is None else check_output(args.plot, "--plot", _CMD, folder=True)
    prompts, weights = read_prompt_set(args.prompt_set) if args.prompt_set else (None, None)
    check_ray_options(args, _CMD)
    if args.ray and prompts is None:
        raise InputError(f"--ray of {_CMD} spreads the --prompt-set mixture over Ray workers; give "
                         "--prompt-set FILE (without it the run is one short model call).")
    # with --ray, analyze_flow loads the spec here and on each worker with the same options
    model = args.model if args.ray else open_model(args.model, args, "sample", command=_CMD)

    result = analyze_flow(model, args.prompt, args.response, n_tokens=args.generate, prompts=prompts,
                          weights=weights, answers=args.answers, n_paths=args.paths,
                          path_tokens=args.path_tokens, n_samples=args.samples, lens=args.lens,
                          elbo_samples=args.elbo_samples, seed=seed, progress=not args.quiet,
                          ray=args.ray, workers=args.workers,
                          load_options=load_options(args) if args.ray else None)
    out = result.summary()
    out["model"] = args.model
    if plot is not None:
        out["plots"] = [str(p) for p in result.save_figures(plot)]
    if args.json:
        print(to_json(out))
        return 0
    flow = result.flow
    if args.csv:
        print_csv(flow.rows())
        return 0
    print_table([dict(r, token=repr(r["token"])[1:-1]) for r in flow.rows()])
    print(f"\nS_n = {flow.total_bits:.4f} bits over {len(flow.tokens)} tokens "
          f"(marginal: {flow.marginal}); units: bits/token")
    for key in ("info_density_bits", "expected_density_bits"):
        print(f"{key}: {LEGEND[key]}")
    if "elbo" in out:
        e = out["elbo"]
        print(f"order-free (ELBO) view: -log2 p(y|x) <= {e['conditional_bits']:.2f} ± "
              f"{e['conditional_stderr']:.2f} bits, -log2 p(y) <= {e['marginal_bits']:.2f} ± "
              f"{e['marginal_stderr']:.2f} bits, difference {e['information_bits']:.2f} ± "
              f"{e['stderr_bits']:.2f} bits")
    sub, ans, lens = result.submartingale, result.answers, result.lens
    if sub is not None:
        print(f"sub-martingale test ({sub.n_samples} samples): {sub.verdict}; E S_n = "
              f"{sub.total.value:.4f} ± {sub.total.stderr:.4f} bits")
    if ans is not None:
        mean_post = ans.posterior.mean(axis=0)
        print()
        print_table([{"t": t, **{a: float(mean_post[t, i]) for i, a in enumerate(ans.answers)},
                      "H_bits": float(ans.entropy_bits[:, t].mean())}
                     for t in range(mean_post.shape[0])])
        print(f"answer posteriors after t reasoning tokens (mean over {ans.posterior.shape[0]} paths); "
              f"martingale diagnostic: max |z| = {ans.max_abs_z:.2f}, p = "
              f"{ans.martingale_pvalue:.3g}, mean TV departure {ans.mean_tv_departure:.4f}")
    if lens is not None:
        print()
        print_table([{"layer": l, "mean_entropy_bits": float(lens.entropy_bits[i].mean()),
                      "mean_kl_to_final_bits": float(lens.kl_to_final_bits[i].mean()),
                      "top1_agreement": float((lens.final_token_rank[i] == 0).mean())}
                     for i, l in enumerate(lens.layers)])
    if plot is not None:
        print(f"figures written to {plot}: {', '.join(pathlib.Path(p).name for p in out['plots'])}")
    return 0
