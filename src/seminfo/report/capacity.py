"""Report section: what a model stores and how far it generalises (theory §11; docs/capacity.md, docs/bounds.md).

Two parts. (1) Knowledge capacity: the shipped results of the capacity experiment (GPT-2-style models of
several sizes trained on a synthetic fact corpus for 100 and 1,000 exposures per fact), as the
bits-per-parameter plot beside Allen-Zhu & Li's references and a table with the machine that made it.
(2) Generalisation bounds: one bound computed live (builtin:ngram:1, the token-level bound of Lotfi et al.
2024 on a subsample of the embedded training split) set against the loss the same model measures on the
validation split it never saw (the bound must sit above it), and the shipped table of bounds on the
built-in models with each term, so a reader sees which term makes a bound vacuous.

``ctx.fast`` shrinks the live subsample; the section takes a few seconds either way.
"""

from __future__ import annotations

import json
import pathlib

from .core import ReportContext, Section, esc, figure_html, table_html

#: The model whose bound is computed live (a unigram: tiny description length, seconds to evaluate).
LIVE_MODEL = "builtin:ngram:1"
#: Shipped bound results (scripts/bounds_builtin.py).
BOUNDS_PATH = pathlib.Path(__file__).resolve().parents[1] / "data" / "bounds" / "results.json"


def _capacity_part(ctx: ReportContext) -> tuple[str, dict]:
    from ..capacity import load_results, plot_capacity
    res = load_results()
    fig = plot_capacity(res)
    rows = [{"model": r["size"], "parameters": r["params"], "non-embedding": r["non_emb_params"],
             "exposures": r["exposures"], "stored (bits)": r["stored_bits"],
             "bits/parameter": r["bits_per_param"], "Allen-Zhu & Li (bits/parameter)": r["reference"],
             "seconds": r["seconds"], "device": r["device"]} for r in res.rows()]
    m = res.machine
    where = (f"Made by <code>{esc(res.command)}</code> on {esc(m.get('cpu', '?'))} "
             f"({esc(m.get('logical_cores', '?'))} logical cores, torch {esc(m.get('torch', '?'))})"
             f"{', ' + esc(res.date) if res.date else ''}.")
    not_run = ""
    if res.not_run:
        items = "".join(f"<li>L{esc(d.get('n_layer', '?'))} d{esc(d.get('n_embd', '?'))} on "
                        f"{esc(d.get('device', '?'))}: {esc(d.get('reason', ''))}</li>" for d in res.not_run)
        not_run = f"<p>Listed but not run:</p><ul>{items}</ul>"
    c = res.corpus
    intro = (f"<p>A synthetic fact corpus of {esc(c.get('n_people', '?'))} people holds exactly "
             f"{float(c.get('entropy_bits', 0)):,.0f} bits of knowledge (values drawn uniformly; see "
             "docs/capacity.md). Stored bits = sum over facts of max(0, log2 |domain| - loss in bits on the "
             "value's tokens after the name and attribute). Allen-Zhu &amp; Li measure about 1 bit/parameter at "
             "100 exposures and 2 at 1,000 for GPT-2-style models.</p>")
    html = (intro + figure_html(fig, alt="stored bits per parameter against parameters")
            + table_html(rows, caption="Knowledge capacity runs (shipped results)", digits=4)
            + f"<p>{where}</p>" + not_run)
    return html, {"capacity_runs": rows}


def _bounds_part(ctx: ReportContext) -> tuple[str, dict]:
    from ..bounds import generalization_bound
    from ..models.builtin import corpus_path
    from ..models.scoring import score_text
    samples = 2_000 if ctx.fast else 20_000
    model = ctx.model(LIVE_MODEL)                      # loaded once for the bound and the held-out loss
    b = generalization_bound(model, corpus_path("train"), kind="token", max_samples=samples, seed=ctx.seed)
    held = score_text(model, corpus_path("valid"))
    held_bits = held.bits_per_token
    holds = b.bound >= held_bits
    live = table_html([{
        "model": b.model, "kind": b.kind, "bound (bits/token)": b.bound,
        "empirical, smoothed (bits/token)": b.empirical, "complexity term (bits/token)": b.complexity_term,
        "sampling term (bits/token)": b.sampling_term, "C (bits)": b.complexity_bits,
        "log2 K (bits/token)": b.log2_vocab, "vacuous": "yes" if b.vacuous else "no",
        "held-out loss (bits/token)": held_bits, "bound >= held-out": "yes" if holds else "NO"}],
        caption=f"Computed now: token-level bound on the training split ({b.n_evaluated:,} of {b.m:,} "
                f"tokens evaluated, delta = {b.delta:g}) against the validation split", digits=5)
    shipped = ""
    data = {"live_bound": b.as_dict(), "live_heldout_bits_per_token": held_bits}
    if BOUNDS_PATH.is_file():
        obj = json.loads(BOUNDS_PATH.read_text(encoding="utf-8"))
        rows = []
        for r in obj.get("rows", []):
            penalties = {"complexity": r["complexity_term"], "sampling": r.get("sampling_term", 0.0)}
            rows.append({"model": r["model"], "kind": r["kind"], "bound (bits/token)": r["bound"],
                         "empirical": r["empirical"], "complexity term": r["complexity_term"],
                         "sampling term": r.get("sampling_term", 0.0), "C (bits)": r["complexity_bits"],
                         "m": r["m"], "log2 K": r["log2_vocab"], "vacuous": "yes" if r["vacuous"] else "no",
                         "larger penalty": max(penalties, key=penalties.get),
                         "logit l1 (nats)": r.get("logit_l1")})
        shipped = (table_html(rows, caption="Bounds on the built-in models (shipped results, bits/token "
                                            "unless stated)", digits=4)
                   + f"<p>Made by <code>{esc(obj.get('command', ''))}</code>. {esc(obj.get('notes', ''))}</p>")
        data["shipped_bounds"] = rows
    intro = ("<p>Compression bounds (Lotfi et al. 2023, 2024): risk &le; empirical smoothed loss + "
             "Delta sqrt((C ln 2 + ln 1/delta) / 2m), with C the coded size of the model's quantised "
             "parameters. An upper bound, valid with probability 1 - delta; vacuous at or above log2 K. "
             "The seed's statistic, the mean l1 norm of the logits, stands beside each bound.</p>")
    return intro + live + shipped, data


def build(ctx: ReportContext) -> Section:
    cap_html, cap_data = _capacity_part(ctx)
    ctx.log("capacity: computing a generalisation bound")
    bound_html, bound_data = _bounds_part(ctx)
    html = ("<h3>Knowledge capacity in bits per parameter</h3>" + cap_html
            + "<h3>Generalisation bounds</h3>" + bound_html)
    return Section("What a model stores and how far it generalises", html, key="capacity",
                   data={**cap_data, **bound_data})
