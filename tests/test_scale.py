"""Scale-out on Ray gives the numbers of the single process, and the batching that makes it so.

What is checked, on a local Ray instance with 2 CPUs (started once for the module):

* ``score_text(..., ray="local")`` with 1 and 2 workers gives the single-process total bits, per
  document and per token (the model calls are planned from the windows alone, never from the
  number of workers; sums are taken in document order); the embedded validation split is cut into
  several shards so both workers get work;
* a checkpoint written by a Ray run resumes: cut records are scored again and the total is the same;
* the prompt-set mixture of ``analyze_flow`` and a directory compressed with ``compress_files`` are
  the same numbers / the same archive bytes with and without Ray, and the archives decode;
* ``seminfo score --ray local --json`` prints the total of the run without ``--ray`` (1e-9 relative);
* errors: --workers without --ray, more workers than CPUs, an unknown model named to the workers,
  Ray missing, an unreachable address: one line each, nothing half-written;
* token-budget batching: every window in exactly one call, one signature per call, the budget kept,
  and the total unchanged.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
ray = pytest.importorskip("ray")

from seminfo.errors import DependencyError, InputError, ModelNotAvailableError  # noqa: E402
from seminfo.models import load_model, score_text  # noqa: E402
from seminfo.models.builtin import corpus_path  # noqa: E402
from seminfo.models.scoring import plan_batches  # noqa: E402

REL = 1e-9            # the interface's promise; the runs here agree to the last bit


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def gpt():
    return load_model("builtin:gpt", device="cpu")


@pytest.fixture(scope="module")
def valid_single(gpt):
    return score_text(gpt, corpus_path("valid"), per_token=False)


def test_ray_score_totals_equal_single_process(local_ray, valid_single):
    for workers in (2, 1):
        r = score_text("builtin:gpt", corpus_path("valid"), per_token=False, ray="local",
                       workers=workers, load_options={"device": "cpu"})
        assert r.n_tokens == valid_single.n_tokens == 48586
        assert r.total_bits == pytest.approx(valid_single.total_bits, rel=REL)
        assert r.bits_per_byte == pytest.approx(1.400192, abs=1e-6)


def test_ray_per_token_and_documents_equal(local_ray, gpt):
    docs = [corpus_path("valid").read_text(encoding="utf-8")[a:a + 1500] for a in range(0, 9000, 1500)]
    docs.append("bytes outside the vocabulary: \x00\x01 ok")
    single = score_text(gpt, docs, per_token=True)
    spread = score_text(gpt, docs, per_token=True, ray="local", workers=2)
    assert [d.n_tokens for d in spread.documents] == [d.n_tokens for d in single.documents]
    for a, b in zip(spread.documents, single.documents):
        assert a.total_bits == pytest.approx(b.total_bits, rel=REL)
    np.testing.assert_allclose(spread.surprisal_bits, single.surprisal_bits, rtol=REL, atol=0)
    np.testing.assert_allclose(spread.entropy_bits, single.entropy_bits, rtol=REL, atol=0)
    np.testing.assert_array_equal(spread.token_ids, single.token_ids)


def test_ray_checkpoint_resumes(local_ray, tmp_path, valid_single):
    ck = tmp_path / "run.jsonl"
    first = score_text("builtin:gpt", corpus_path("valid"), per_token=False, ray="local", workers=2,
                       resume=ck, load_options={"device": "cpu"})
    lines = ck.read_text().splitlines()
    assert len(lines) == 1 + 190                       # header + one record per window
    ck.write_text("\n".join(lines[:120]) + "\n" + lines[120][:30])   # cut, as a killed run leaves it
    again = score_text("builtin:gpt", corpus_path("valid"), per_token=False, ray="local", workers=2,
                       resume=ck, load_options={"device": "cpu"})
    assert again.total_bits == pytest.approx(first.total_bits, rel=REL)
    assert again.total_bits == pytest.approx(valid_single.total_bits, rel=REL)
    assert len([ln for ln in ck.read_text().splitlines() if ln.strip()]) == 1 + 190


def test_ray_flow_prompt_set_mixture_equal(local_ray, gpt):
    from seminfo.flow import analyze_flow
    prompts = [f"Question {k}: what does list number {k} hold?" for k in range(11)]   # 2 shards
    kw = dict(n_tokens=5, prompts=prompts, n_samples=3, seed=4)
    single = analyze_flow(gpt, "The list", **kw)
    spread = analyze_flow("builtin:gpt", "The list", ray="local", workers=2,
                          load_options={"device": "cpu"}, **kw)
    assert spread.flow.token_ids == single.flow.token_ids
    np.testing.assert_allclose(spread.flow.info_density_bits, single.flow.info_density_bits,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(spread.submartingale.mean_increment_bits,
                               single.submartingale.mean_increment_bits, rtol=0, atol=1e-12)
    assert spread.flow.marginal == "prompt-set mixture (11 prompts)"


def test_ray_compress_directory_same_archives(local_ray, tmp_path):
    from seminfo.coding.files import compress_files, decompress_files
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    text = corpus_path("valid").read_bytes()
    (src / "a.txt").write_bytes(text[:1500])
    (src / "sub" / "b.md").write_bytes(text[5000:6200])
    (src / "sub" / "raw.bin").write_bytes(bytes(range(256)) * 3)
    one = compress_files(src, tmp_path / "one", "builtin:ngram")
    two = compress_files(src, tmp_path / "two", "builtin:ngram", ray="local", workers=2)
    assert two.workers == 2 and one.workers == 1
    for row in one.files:
        name = row["name"] + ".smz"
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    back = decompress_files(tmp_path / "two", tmp_path / "back")
    for p in src.rglob("*"):
        if p.is_file():
            assert (tmp_path / "back" / p.relative_to(src)).read_bytes() == p.read_bytes()
    assert back.original_bytes == one.original_bytes
    # a second run keeps the finished archives (resume) and refuses to overwrite without force
    kept = compress_files(src, tmp_path / "two", "builtin:ngram", resume=True)
    assert {r["status"] for r in kept.files} == {"kept"}
    with pytest.raises(InputError, match="existing file"):
        compress_files(src, tmp_path / "two", "builtin:ngram")


def test_cli_score_ray_equals_single(tmp_path):
    text = tmp_path / "t.txt"
    text.write_bytes(corpus_path("valid").read_bytes()[:20000])
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    base = [sys.executable, "-m", "seminfo.cli.main", "score", "--model", "builtin:gpt", "--text",
            str(text), "--json", "--quiet", "--device", "cpu"]
    plain = subprocess.run(base, capture_output=True, text=True, env=env, timeout=300)
    spread = subprocess.run(base + ["--ray", "local", "--workers", "2"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert spread.returncode == 0, spread.stderr
    a, b = json.loads(plain.stdout)["total_bits"], json.loads(spread.stdout)["total_bits"]
    assert b == pytest.approx(a, rel=REL)


def test_cli_ray_errors_are_one_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a short text to score")
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    cmd = [sys.executable, "-m", "seminfo.cli.main", "score", "--text", str(text), "--quiet"]
    cases = [(["--model", "builtin:gpt", "--workers", "2"], "needs --ray"),
             (["--model", "builtin:gpt", "--ray", "ray://nowhere.invalid:1"], "could not connect to Ray"),
             (["--model", "builtin:nope", "--ray", "local", "--workers", "1"], "Unknown built-in model")]
    for extra, expect in cases:
        out = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 2, out.stderr
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and expect in lines[0], out.stderr


def test_ray_more_workers_than_cpus_refused(local_ray):
    with pytest.raises(InputError, match="at most 2"):
        score_text("builtin:ngram", "some text", ray="local", workers=3)
    with pytest.raises(InputError, match="needs `ray`"):
        score_text("builtin:ngram", "some text", workers=2)
    with pytest.raises(ModelNotAvailableError, match="Unknown built-in model"):
        score_text("builtin:nope", "some text", ray="local", workers=1)


def test_ray_missing_is_a_dependency_error(monkeypatch):
    from seminfo.scale import pool
    monkeypatch.setitem(sys.modules, "ray", None)           # `import ray` now raises ImportError
    with pytest.raises(DependencyError, match=r"seminfo\[ray\]"):
        pool.connect("local", "score_text")


def _windows(rng, n):
    return [(np.zeros(int(rng.integers(1, 300))), int(rng.choice([0, 1, 64])), bool(rng.random() < .3))
            for _ in range(n)]


@pytest.mark.parametrize("budget", [None, 1, 256, 1000, 4096])
def test_plan_batches_covers_each_window_once_within_budget(budget):
    rng = np.random.default_rng(7)
    jobs = _windows(rng, 200)
    groups = plan_batches(jobs, None if budget else 8, budget)
    flat = sorted(j for g in groups for j in g)
    assert flat == list(range(len(jobs)))
    for g in groups:
        assert len({jobs[j][1:] for j in g}) == 1                 # one signature per call
        width = max(len(jobs[j][0]) for j in g)
        assert [len(jobs[j][0]) for j in g] == sorted((len(jobs[j][0]) for j in g), reverse=True)
        if budget is not None and len(g) > 1:
            assert len(g) * width <= budget
        if budget is None:
            assert len(g) <= 8


def test_token_budget_gives_the_same_total(gpt, valid_single):
    budget = score_text(gpt, corpus_path("valid"), per_token=False, batch_tokens=2048)
    assert budget.total_bits == pytest.approx(valid_single.total_bits, rel=REL)
    assert budget.n_tokens == valid_single.n_tokens


def test_bad_batch_tokens_refused(gpt):
    with pytest.raises(InputError, match="batch_tokens"):
        score_text(gpt, "text", batch_tokens=0)


def test_docs_show_how_to_reach_a_cluster():
    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "scale.md").read_text()
    assert "ray start --head" in doc and "--ray auto" in doc and "--workers" in doc


def test_builtin_transformers_use_fused_attention(gpt):
    assert gpt.hf_model.config._attn_implementation == "sdpa"


def test_compile_switch(gpt):
    text = corpus_path("valid").read_text(encoding="utf-8")[:600]
    with pytest.raises(InputError, match="compile"):
        load_model("builtin:gpt", compile="yes")
    assert load_model("builtin:ngram", compile=True).name == "builtin:ngram"    # counts: nothing to compile
    fast = load_model("builtin:gpt", device="cpu", compile=True)
    assert fast.compiled and not gpt.compiled
    plain = score_text(gpt, text, per_token=False)
    compiled = score_text(fast, text, per_token=False)
    assert compiled.total_bits == pytest.approx(plain.total_bits, rel=1e-6)   # rounding differs
    assert fast.compile_seconds > 0 and gpt.compile_seconds == 0
    assert fast.fingerprint() == gpt.fingerprint()                            # same weights


def test_queued_calls_without_host_copies_give_the_same_bits(gpt, valid_single, monkeypatch):
    """The GPU path (every call of a shard queued, results copied back once) run on the CPU."""
    from seminfo.models import scoring
    monkeypatch.setattr(scoring, "_on_device", lambda model: model is not None)
    queued = score_text(gpt, corpus_path("valid"), per_token=False)
    assert queued.total_bits == valid_single.total_bits
