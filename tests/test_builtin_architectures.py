"""The shipped builtin:mamba and builtin:diffusion, `seminfo compare`, and the capability error of the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seminfo
from seminfo.cli.main import main
from seminfo.models import load_model
from seminfo.models.hf import HFModel
from seminfo.models.masked import HFMaskedModel


@pytest.fixture(scope="module")
def three():
    return {name: load_model(f"builtin:{name}", device="cpu") for name in ("gpt", "mamba", "diffusion")}


def test_builtins_share_tokenizer_and_size(three):
    gpt, mamba, diffusion = three["gpt"], three["mamba"], three["diffusion"]
    assert isinstance(mamba, HFModel) and mamba.family.name == "mamba2" and mamba.max_context is None
    assert isinstance(diffusion, HFMaskedModel) and diffusion.mask_token_id == 4096
    assert diffusion.vocab_size == gpt.vocab_size == mamba.vocab_size == 4096
    fp = gpt.tokenizer.fingerprint()
    assert mamba.tokenizer.fingerprint() == fp and diffusion.tokenizer.fingerprint() == fp
    for m in (mamba, diffusion):                     # "about as many parameters as builtin:gpt"
        assert 0.75 < m.n_parameters() / gpt.n_parameters() < 1.25


def test_builtin_mamba_incremental_equals_teacher_forcing(three):
    m = three["mamba"]
    ids = np.asarray([m.tokenizer.encode("def f(x):\n    return x")])
    full = m.next_log_probs(ids)[0]                                     # (T + 1, K)
    state = m.begin(1)
    state, steps = m.feed(state, ids)
    np.testing.assert_allclose(steps[0], full[1:], atol=2e-4)


def test_diffusion_generates_and_answers_flow_prompts(three):
    d = three["diffusion"]
    s = seminfo.models.sample_masked(d, d.tokenizer.encode("The list"), 6, seed=0)
    assert s.tokens.shape == (1, 6) and s.tokens.max() < 4096
    f = seminfo.information_flow(d, "The list", " of things")
    assert np.all(np.isfinite(f.surprisal_bits)) and np.all(f.surprisal_bits >= 0)


def test_compare_cli_json(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("Side by side on the same bytes: a Transformer, a state-space model and a "
                    "masked-diffusion model share one tokenizer. " * 3)
    code = main(["compare", "--model", "builtin:gpt", "--model", "builtin:mamba", "--model",
                 "builtin:diffusion", "--text", str(text), "--samples", "4", "--json", "--no-progress",
                 "--device", "cpu"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rows = {m["name"]: m for m in out["models"]}
    assert list(rows) == ["builtin:gpt", "builtin:mamba", "builtin:diffusion"]
    for r in rows.values():
        for key in ("bits_per_byte", "stderr", "parameters", "state_bytes_per_token"):
            assert r[key] is not None
        assert r["n_bytes"] == len(text.read_bytes())
    assert rows["builtin:gpt"]["stderr"] == 0 and rows["builtin:mamba"]["stderr"] == 0
    assert rows["builtin:diffusion"]["stderr"] > 0
    # KV cache per token is constant; Mamba's fixed state spread over 256 tokens; the whole sequence
    kv = 2 * 4 * 192 * 4                                      # K and V, 4 layers, width 192, float32
    assert rows["builtin:gpt"]["state_bytes_per_token"] == pytest.approx(kv, rel=0.01)
    assert rows["builtin:mamba"]["state_kind"] == "fixed SSM state"
    assert rows["builtin:diffusion"]["state_bytes_per_token"] == 8
    assert rows["builtin:gpt"]["bits_per_byte"] == pytest.approx(
        seminfo.score_text("builtin:gpt", text.read_text(), progress=False).bits_per_byte, rel=1e-9)


def test_compress_with_diffusion_names_the_capability_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("hello")
    out = tmp_path / "out.smz"
    assert main(["compress", str(src), "-o", str(out), "--model", "builtin:diffusion"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`score` capability" in err and "builtin:diffusion" in err
    assert not out.exists()


def test_flow_cli_with_diffusion_gives_the_elbo_view(capsys):
    assert main(["flow", "--model", "builtin:diffusion", "--prompt", "The list", "--response", " of it",
                 "--elbo-samples", "4", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["elbo"]["conditional_bits"] > 0 and out["elbo"]["stderr_bits"] > 0
    assert out["order"].startswith("left to right")


def test_bad_seed_is_one_line(capsys):
    assert main(["flow", "--prompt", "x", "--generate", "2", "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err
