"""Precision as a choice (load_model(..., dtype=...), --dtype) and the --quiet progress switch.

What is checked: 'auto' and 'float32' are the same model on a CPU (identical bits, identical
fingerprint); bfloat16 and float16 load and score on a CPU, with log-softmax in float32 (rows sum
to one to float32 accuracy) and surprisal in float64; the dtype enters the fingerprint; models
without weights (n-grams) accept and ignore it; a bad dtype is refused before anything is loaded;
the CLI flags parse, --dtype float32 equals the default, and --quiet leaves stderr empty.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seminfo.errors import InputError  # noqa: E402
from seminfo.models import load_model, score_text  # noqa: E402
from seminfo.models.hf import DTYPES, resolve_dtype  # noqa: E402

TEXT = ("The list type is mutable; a tuple is not. Use sorted(xs) to get a new list, and "
        "xs.sort() to sort in place.\n") * 2


@pytest.fixture(scope="module")
def gpt32():
    return load_model("builtin:gpt", device="cpu")


@pytest.fixture(scope="module")
def gpt_bf16():
    return load_model("builtin:gpt", device="cpu", dtype="bfloat16")


def test_auto_is_float32_on_cpu_bit_for_bit(gpt32):
    explicit = load_model("builtin:gpt", device="cpu", dtype="float32")
    assert gpt32.dtype == explicit.dtype == "float32"
    assert score_text(gpt32, TEXT).total_bits == score_text(explicit, TEXT).total_bits
    assert gpt32.fingerprint() == explicit.fingerprint()


def test_bfloat16_loads_and_scores_on_cpu(gpt32, gpt_bf16):
    assert gpt_bf16.dtype == "bfloat16"
    assert {p.dtype for p in gpt_bf16.hf_model.parameters()} == {torch.bfloat16}
    r16, r32 = score_text(gpt_bf16, TEXT), score_text(gpt32, TEXT)
    assert r16.n_tokens == r32.n_tokens and r16.n_bytes == r32.n_bytes
    assert r16.total_bits != r32.total_bits          # another model: other numbers ...
    assert r16.total_bits == pytest.approx(r32.total_bits, rel=0.01)   # ... from the same weights, rounded


def test_log_softmax_runs_in_float32_whatever_the_weights(gpt_bf16):
    ids = np.asarray([gpt_bf16.tokenizer.encode(TEXT.encode())[:64]])
    lp = gpt_bf16.next_log_probs(ids)                                   # (1, 65, K)
    assert lp.dtype == np.float32
    # upcast before log_softmax: each row sums to 1 to float32 accuracy (bfloat16 keeps ~3 digits)
    total = np.exp(lp.astype(np.float64)).sum(-1)
    assert np.abs(total - 1).max() < 1e-5
    # the same as log_softmax of the float32 copy of the bfloat16 logits
    x = torch.as_tensor(np.concatenate([[list(gpt_bf16.prefix)], ids], axis=1))
    with torch.inference_mode():
        logits = gpt_bf16.hf_model(input_ids=x).logits.float()
    np.testing.assert_array_equal(lp, torch.log_softmax(logits, -1).numpy())
    sur, ent = gpt_bf16.token_stats(ids)
    assert sur.dtype == ent.dtype == np.float64
    np.testing.assert_allclose(sur[0], -lp[0, np.arange(ids.shape[1]), ids[0]], rtol=1e-6)


def test_dtype_enters_the_fingerprint(gpt32, gpt_bf16):
    fp16 = load_model("builtin:gpt", device="cpu", dtype="float16")
    assert len({gpt32.fingerprint(), gpt_bf16.fingerprint(), fp16.fingerprint()}) == 3
    assert load_model("builtin:gpt", device="cpu", dtype="bfloat16").fingerprint() == gpt_bf16.fingerprint()


def test_float16_runs_on_cpu(gpt32):
    m = load_model("builtin:gpt", device="cpu", dtype="float16")
    assert m.dtype == "float16"
    assert score_text(m, TEXT).total_bits == pytest.approx(score_text(gpt32, TEXT).total_bits, rel=0.01)


def test_recurrent_and_masked_models_take_a_dtype():
    mamba = load_model("builtin:mamba", device="cpu", dtype="bfloat16")
    assert mamba.dtype == "bfloat16"
    sur, _ = mamba.token_stats(np.asarray([mamba.tokenizer.encode(b"def f(x):\n    return x")]))
    assert sur.dtype == np.float64 and np.isfinite(sur).all() and (sur >= 0).all()
    state, lp = mamba.feed(mamba.begin(), np.asarray([[5, 6, 7]]))      # the recurrent cache in bfloat16
    assert lp.dtype == np.float32 and np.abs(np.exp(lp.astype(np.float64)).sum(-1) - 1).max() < 1e-5
    assert load_model("builtin:diffusion", device="cpu", dtype="bfloat16").dtype == "bfloat16"


def test_ngram_accepts_and_ignores_dtype():
    a, b = load_model("builtin:ngram:3"), load_model("builtin:ngram:3", dtype="bfloat16")
    assert score_text(a, TEXT).total_bits == score_text(b, TEXT).total_bits
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.parametrize("spec", ["builtin:gpt", "builtin:ngram", "/no/such/model"])
@pytest.mark.parametrize("bad", ["float64", "fp32", "", None, 16, torch.float32])
def test_bad_dtype_is_refused_before_loading(spec, bad, monkeypatch):
    import seminfo.models.hf as hf
    monkeypatch.setattr(hf, "load_hf_directory", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(InputError, match=r"The `dtype` parameter of load_model must be one of 'auto', "
                                         r"'float32', 'bfloat16', 'float16'\. Got "):
        load_model(spec, dtype=bad)


def test_resolve_dtype_auto():
    assert resolve_dtype("auto", "cpu", {"dtype": "bfloat16"}) == "float32"
    assert resolve_dtype("auto", "mps", {"dtype": "float16"}) == "float32"
    assert resolve_dtype("auto", "cuda", {"dtype": "bfloat16"}) == "bfloat16"
    assert resolve_dtype("auto", "cuda:1", {"torch_dtype": "float16"}) == "float16"   # older configs
    assert resolve_dtype("auto", "cuda", {}) == "float32"
    assert resolve_dtype("auto", "cuda", {"dtype": "float64"}) == "float32"
    for d in DTYPES[1:]:
        assert resolve_dtype(d, "cpu", {"dtype": "bfloat16"}) == d


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_keeps_the_checkpoint_dtype_on_cuda(tmp_path, gpt_bf16):
    import shutil
    from seminfo.models.builtin import builtin_path
    folder = tmp_path / "gpt"
    shutil.copytree(builtin_path("gpt"), folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(cfg, dtype="bfloat16")))
    m = load_model(str(folder), device="cuda")
    assert m.dtype == "bfloat16"
    assert load_model(str(folder), device="cpu").dtype == "float32"
    assert load_model(str(folder), device="cuda", dtype="float32").dtype == "float32"


# --------------------------------------------------------------------------- the command line

def _cli(argv):
    from seminfo.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("dtype") / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def test_cli_dtype_float32_equals_the_default_and_quiet_is_silent(text_file):
    base = ["score", "--model", "builtin:gpt", "--text", str(text_file), "--device", "cpu", "--json"]
    code, out, err = _cli(base + ["--quiet"])
    assert (code, err) == (0, "")
    code32, out32, err32 = _cli(base + ["--quiet", "--dtype", "float32"])
    assert (code32, err32) == (0, "")
    assert json.loads(out32)["total_bits"] == json.loads(out)["total_bits"]
    code16, out16, err16 = _cli(base + ["--no-progress", "--dtype", "bfloat16"])   # the old flag
    assert (code16, err16) == (0, "")
    assert json.loads(out16)["total_bits"] != json.loads(out)["total_bits"]


def test_cli_progress_parses():
    from seminfo.cli.main import build_parser
    p = build_parser()
    args = p.parse_args(["score", "--model", "m", "--text", "t"])
    assert (args.quiet, args.dtype) == (False, "auto")
    assert p.parse_args(["score", "--model", "m", "--text", "t", "--no-progress"]).quiet is True
    assert p.parse_args(["score", "--model", "m", "--text", "t", "--quiet"]).quiet is True


@pytest.mark.parametrize("command", [["score", "--model", "builtin:gpt", "--text", "x.txt"],
                                     ["flow", "--prompt", "The", "--response", " list"],
                                     ["compress", "x.txt", "-o", "x.smz"]])
def test_cli_bad_dtype_is_one_line_exit_2(command):
    code, out, err = _cli(command + ["--dtype", "float64"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--dtype" in err and "float64" in err and "bfloat16" in err


def test_cli_flow_takes_a_dtype():
    code, out, err = _cli(["flow", "--model", "builtin:gpt", "--device", "cpu", "--dtype", "bfloat16",
                           "--prompt", "The list", "--response", " is mutable.", "--json"])
    assert code == 0, err
    assert json.loads(out)["model"] == "builtin:gpt"
