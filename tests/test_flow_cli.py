"""`seminfo flow` end to end on the embedded model, and the report section in fast mode."""

import json

import numpy as np
import pytest

from seminfo.cli._common import to_json
from seminfo.cli.main import main

pytest.importorskip("torch")
import seminfo.models.sampling  # noqa: E402,F401  (a broken import of the project fails, never skips)


def run_json(capsys, *argv):
    assert main(["flow", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_flow_acceptance_interface(capsys):
    out = run_json(capsys, "--model", "builtin:gpt", "--prompt", "The list type", "--generate", "8",
                   "--seed", "3")
    for key in ("tokens", "surprisal_bits", "info_density_bits", "conditional_log2p", "marginal_log2p"):
        assert len(out[key]) == 8, key
    assert all(isinstance(t, str) for t in out["tokens"])
    assert np.allclose(out["surprisal_bits"], -np.array(out["conditional_log2p"]))
    assert np.allclose(out["info_density_bits"],
                       np.array(out["conditional_log2p"]) - np.array(out["marginal_log2p"]))
    assert np.isclose(out["total_bits"], sum(out["info_density_bits"]))
    assert out["marginal"] == "null-prompt"
    # reproducible with the same seed
    again = run_json(capsys, "--model", "builtin:gpt", "--prompt", "The list type", "--generate", "8",
                     "--seed", "3")
    assert again["tokens"] == out["tokens"]


def test_flow_library_agrees_with_model_scores():
    from seminfo.flow import information_flow
    from seminfo.models import load_model
    model = load_model("builtin:gpt")
    r = information_flow(model, "def f(x):", " return x")
    x = model.tokenizer.encode("def f(x):")
    y = model.tokenizer.encode(" return x")
    lp = model.next_log_probs(np.array([x + y]))[0]
    ref = lp[np.arange(len(x), len(x) + len(y)), y] / np.log(2)
    assert np.allclose(r.conditional_log2p, ref, atol=1e-5)
    lp0 = model.next_log_probs(np.array([y]))[0]
    assert np.allclose(r.marginal_log2p, lp0[np.arange(len(y)), y] / np.log(2), atol=1e-5)


def test_flow_options_and_plots(capsys, tmp_path):
    pset = tmp_path / "prompts.jsonl"
    pset.write_text('{"text": "The list type", "weight": 0.5}\n{"text": "import os", "weight": 0.5}\n')
    out = run_json(capsys, "--prompt", "The list type", "--response", " is mutable.", "--prompt-set",
                   str(pset), "--answer", " yes", "--answer", " no", "--paths", "2", "--path-tokens", "3",
                   "--samples", "4", "--lens", "--plot", str(tmp_path / "plots"))
    assert out["marginal"] == "prompt-set mixture (2 prompts)"
    assert np.array(out["answers"]["posterior"]).shape == (2, 4, 2)
    assert out["submartingale"]["n_samples"] == 4
    assert len(out["lens"]["layers"]) == 5
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["answers.png", "density.png",
                                                                      "lens.png"]
    assert main(["flow", "--prompt", "a", "--response", " b c"]) == 0          # the table output
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["t", "token", "surprisal_bits", "marginal_surprisal_bits",
                                "info_density_bits", "cumulative_bits", "expected_density_bits"]
    assert [ln.split()[0] for ln in table[1:3]] == ["1", "2"]
    assert any(ln.startswith("S_n = ") and "(marginal: null-prompt)" in ln for ln in table)
    assert any(ln.startswith("expected_density_bits: E[iota_t | y^{t-1}]") for ln in table)


def test_flow_cli_prints_what_analyze_flow_returns(capsys):
    from seminfo.flow import FlowAnalysis, analyze_flow
    argv = ["--model", "builtin:ngram", "--prompt", "The list", "--generate", "6", "--seed", "5",
            "--answer", " yes", "--answer", " no", "--paths", "2", "--path-tokens", "3", "--samples", "3"]
    printed = run_json(capsys, *argv)
    r = analyze_flow("builtin:ngram", "The list", n_tokens=6, seed=5, answers=[" yes", " no"], n_paths=2,
                     path_tokens=3, n_samples=3)
    assert isinstance(r, FlowAnalysis) and r.lens is None and r.elbo is None
    assert printed == json.loads(to_json(r.summary()))
    assert printed["legend"]["expected_density_bits"].startswith("E[iota_t | y^{t-1}]")


def test_analyze_flow_checks_arguments_before_loading(monkeypatch):
    import seminfo.models.capability as capability
    from seminfo.errors import InputError
    from seminfo.flow import analyze_flow
    monkeypatch.setattr(capability, "as_model", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(InputError, match=r"The `n_tokens` parameter of analyze_flow must be an integer "
                                         r"<= 4096. Got 100000000000."):
        analyze_flow("builtin:gpt", "x", n_tokens=100_000_000_000)
    with pytest.raises(InputError, match=r"The `seed` parameter of analyze_flow must be None, a "
                                         r"non-negative integer"):
        analyze_flow("builtin:gpt", "x", n_tokens=3, seed=-1)
    with pytest.raises(InputError, match=r"The `n_samples` parameter of analyze_flow must be 0 \(no "
                                         r"test\) or at least 2. Got 1."):
        analyze_flow("builtin:gpt", "x", " y", n_samples=1)
    with pytest.raises(InputError, match=r"analyze_flow needs a `response` to score or a number of "
                                         r"tokens"):
        analyze_flow("builtin:gpt", "x")


def test_flow_cli_errors(capsys, tmp_path):
    assert main(["flow", "--prompt", "", "--generate", "3"]) == 2
    assert "The `--prompt` option of seminfo flow must not be empty" in capsys.readouterr().err
    assert main(["flow", "--prompt", "x", "--generate", "300"]) == 2
    assert "more than the model's context of 256" in capsys.readouterr().err
    assert main(["flow", "--prompt", "x", "--generate", "3", "--answer", " a", "--answer", ""]) == 2
    assert "The `--answer` option of seminfo flow must not be empty" in capsys.readouterr().err
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"text": "a", "weight": 0.7}\n{"text": "b", "weight": 0.7}\n')
    assert main(["flow", "--prompt", "a", "--response", " b", "--prompt-set", str(bad)]) == 2
    assert "must sum to 1" in capsys.readouterr().err
    bad.write_text('{"text": "a", "weight": "half"}\n{"text": "b", "weight": 0.5}\n')
    assert main(["flow", "--prompt", "a", "--response", " b", "--prompt-set", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "must be a sequence of numbers" in err and "Traceback" not in err
    assert main(["flow", "--prompt", "x"]) == 2
    assert "--response TEXT or --generate N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["flow", "--help"])
    assert "null-prompt" in capsys.readouterr().out


def test_report_section_fast(tmp_path):
    from seminfo.report.flow import build
    from seminfo.report.core import ReportContext
    corpus = tmp_path / "c.txt"
    corpus.write_text("The <script>alert('x')</script> tag must be escaped. " * 20
                      + "Tokens carry semantic information; bits do not.\n" * 20)
    ctx = ReportContext(models=["builtin:gpt"], text_path=corpus, fast=True, max_bytes=3000)
    sec = build(ctx)
    assert "<script>" not in sec.html
    assert sec.data["pearl_ace"] == 0.0
    assert sec.data["attention_reconstruction_error"] < 1e-4
    assert sec.data["submartingale_verdict"] == "consistent with a sub-martingale"
