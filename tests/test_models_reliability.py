"""Reliability of the token models: weights that must match, devices, checkpoints and caches that are
verified, one-line errors for bad input and sizes, the `units` field, a silent default and doctests.
Everything runs on tiny models, tiny files and monkeypatched cache folders (SmolLM2 is never built)."""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import pickle
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from seminfo.errors import CapabilityError, InputError, ModelNotAvailableError
from seminfo.models import cache
from seminfo.models.scoring import ScoreResult, score_bytes, score_text
from seminfo.models.source_model import SourceModel, SymbolTokenizer
from seminfo.sources import IIDSource


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    return msg


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class Counting(SourceModel):
    """A finite-state source model that counts the rows it scores."""

    def __init__(self, source):
        super().__init__(source, name="counting")
        self.rows = 0

    def token_stats(self, ids, **kw):
        self.rows += len(ids)
        return super().token_stats(ids, **kw)


def byte_model() -> Counting:
    p = np.linspace(1.0, 2.0, 256)
    return Counting(IIDSource(p / p.sum()))


DOCS = ["first document", "second one", "a third, longer document of text"]


# ------------------------------------------------------------------------------------ weights
from seminfo.models import load_model  # noqa: E402


def build(arch, vocab):
    pytest.importorskip("transformers")
    from test_hf_models import build as build_tiny
    return build_tiny(arch, vocab)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def hf_tok():
    pytest.importorskip("transformers")
    from test_hf_models import make_tokenizer
    return make_tokenizer()


@pytest.fixture()
def saved(tmp_path, hf_tok):
    """A tiny GPT-2 folder (tied output layer stored once) and the model that wrote it."""
    hf = build("gpt2", len(hf_tok))
    folder = tmp_path / "tiny"
    hf.save_pretrained(folder)
    hf_tok.save_pretrained(folder)
    return folder, hf


def test_tied_weights_load_and_match(saved, torch):
    folder, hf = saved
    m = load_model(folder, device="cpu")
    assert m.hf_model.lm_head.weight.data_ptr() == m.hf_model.transformer.wte.weight.data_ptr()
    torch.testing.assert_close(m.hf_model.lm_head.weight, hf.lm_head.weight)


def test_empty_safetensors_is_refused_not_randomly_initialised(saved):
    from safetensors.torch import save_file
    folder, _ = saved
    save_file({}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelNotAvailableError, match=r"tensors \d+ missing .*randomly initialised") as e:
        load_model(folder, device="cpu")
    assert "model.safetensors" in one_line(e)


def test_unexpected_and_missing_weights_are_refused(saved, torch):
    from safetensors.torch import save_file
    folder, hf = saved
    state = {k: v.contiguous() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    state["transformer.h.0.extra.weight"] = torch.zeros(2)
    del state["transformer.ln_f.bias"]
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelNotAvailableError, match=r"1 missing \('transformer.ln_f.bias'\); "
                                                     r"1 unexpected \('transformer.h.0.extra.weight'\)") as e:
        load_model(folder, device="cpu")
    one_line(e)


def test_wrong_shape_and_damaged_safetensors_are_one_line_errors(saved, torch):
    from safetensors.torch import save_file
    folder, hf = saved
    state = {k: v.contiguous() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    state["transformer.ln_f.bias"] = torch.zeros(3)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelNotAvailableError, match="could not be loaded from model.safetensors") as e:
        load_model(folder, device="cpu")
    one_line(e)
    hf.save_pretrained(folder)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])            # truncated
    with pytest.raises(ModelNotAvailableError, match=r"model.safetensors .*SafetensorError") as e:
        load_model(folder, device="cpu")
    one_line(e)


class Payload:
    """A pickle that would create a file when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_malicious_pickle_is_a_one_line_error(saved, tmp_path):
    folder, _ = saved
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=2))
    with pytest.raises(ModelNotAvailableError, match="allow_unsafe_weights=True"):
        load_model(folder, device="cpu")
    with pytest.raises(ModelNotAvailableError, match="could not be loaded from pytorch_model.bin") as e:
        load_model(folder, device="cpu", allow_unsafe_weights=True)
    one_line(e)
    assert not marker.exists()


@pytest.mark.parametrize("device", ["meta", "tpu", "cuda:x", "", 0])
def test_devices_torch_cannot_use_are_refused_before_loading(device, monkeypatch):
    from seminfo.models import registry

    def never(*a, **k):
        raise AssertionError("the model was loaded before the device was checked")
    monkeypatch.setitem(registry.LOADERS, "builtin:gpt", never)
    monkeypatch.setitem(registry.LOADERS, "builtin:ngram", never)
    for spec in ("builtin:gpt", "builtin:ngram"):
        with pytest.raises(InputError, match=r"The `device` parameter of load_model must be one of auto, "
                                             r"cpu, cuda, cuda:N .* or mps\. Got") as e:
            load_model(spec, device=device)
        one_line(e)


def test_unavailable_devices_are_refused(hf_tok, saved, torch):
    from seminfo.models.hf import HFModel
    folder, hf = saved
    with pytest.raises(InputError, match="The `device` parameter of HFModel must be"):
        HFModel(hf, hf_tok, device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="but this machine has no GPU"):
            load_model(folder, device="cuda:1")
    else:
        with pytest.raises(InputError, match="GPU"):
            load_model(folder, device=f"cuda:{torch.cuda.device_count()}")


# ------------------------------------------------------------------------------------ checkpoints
def test_checkpoint_records_are_verified(tmp_path):
    ref = score_text(byte_model(), DOCS)
    ckpt = tmp_path / "run.jsonl"
    score_text(byte_model(), DOCS, resume=ckpt)
    lines = ckpt.read_bytes().splitlines()
    assert len(lines) == 1 + len(DOCS) and all(b'"sha256"' in line for line in lines[1:])
    rec = json.loads(lines[1])
    rec["total_bits"] = 0.0                                  # an edited figure, checksum kept
    lines[1] = json.dumps(rec).encode()
    lines[2] = b'{"index": 1, "window": 0, "n_tokens": \xff\xfe}'   # invalid UTF-8
    lines[3] = json.dumps({"index": 2, "window": 0}).encode()       # fields missing
    ckpt.write_bytes(b"\n".join(lines) + b"\n")
    m = byte_model()
    with pytest.warns(RuntimeWarning, match=r"3 damaged record\(s\) \(line\(s\) 2, 3, 4"):
        r = score_text(m, DOCS, resume=ckpt)
    assert m.rows == 3                                       # all three windows scored again
    assert r.total_bits == pytest.approx(ref.total_bits, rel=1e-12)
    assert len(ckpt.read_bytes().splitlines()) == 1 + len(DOCS)       # damaged lines were replaced
    m = byte_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score_text(m, DOCS, resume=ckpt).total_bits == pytest.approx(ref.total_bits, rel=1e-12)
    assert m.rows == 0


def test_checkpoint_record_of_another_run_is_not_trusted(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    score_text(byte_model(), DOCS, resume=a)
    other = ["first documenT", "second one", "a third, longer document of text"]
    score_text(byte_model(), other, resume=b)
    la, lb = a.read_bytes().splitlines(), b.read_bytes().splitlines()
    la[1] = lb[1]                          # same window and length, other text: its sum binds run b
    a.write_bytes(b"\n".join(la) + b"\n")
    m = byte_model()
    with pytest.warns(RuntimeWarning, match="1 damaged"):
        r = score_text(m, DOCS, resume=a)
    # the model call that held the damaged window is run again whole (the same batch as the first
    # run, so the same numbers); only the damaged window's record is written again
    assert m.rows == len(DOCS) and r.total_bits == pytest.approx(score_text(byte_model(), DOCS).total_bits)
    assert len(a.read_bytes().splitlines()) == 1 + len(DOCS)


def test_cut_last_record_is_redone_silently_and_bad_header_is_an_error(tmp_path):
    ckpt = tmp_path / "run.jsonl"
    score_text(byte_model(), DOCS, resume=ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:-20])                             # interrupted while writing the last record
    m = byte_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_text(m, DOCS, resume=ckpt)
    assert m.rows == len(DOCS)                               # the cut window's call, run again whole
    assert len(ckpt.read_bytes().splitlines()) == 1 + len(DOCS)
    ckpt.write_bytes(b"\xff\xfe not a header\n")
    with pytest.raises(InputError, match="which is not a seminfo checkpoint") as e:
        score_text(byte_model(), DOCS, resume=ckpt)
    one_line(e)


def test_resume_path_is_checked_before_the_model(tmp_path):
    with pytest.raises(InputError, match="The `resume` parameter of score_text names a folder") as e:
        score_text(object(), DOCS, resume=tmp_path)
    one_line(e)
    with pytest.raises(InputError, match="names a file in .*, which does not exist"):
        score_text(object(), DOCS, resume=tmp_path / "missing" / "run.jsonl")
    with pytest.raises(InputError, match="must be the path of a JSONL checkpoint"):
        score_bytes(byte_model(), b"abc", resume=3)


def test_outputs_into_missing_folders_are_refused(tmp_path):
    r = score_text(byte_model(), DOCS)
    for write in (r.write_json, r.write_csv):
        with pytest.raises(InputError, match="names a file in .*, which does not exist") as e:
            write(tmp_path / "nowhere" / "out.txt")
        one_line(e)
        with pytest.raises(InputError, match="names a folder"):
            write(tmp_path)
    assert not (tmp_path / "nowhere").exists()


# ------------------------------------------------------------------------------------ raw exceptions
def test_lone_surrogates_are_input_errors(tmp_path):
    m = byte_model()
    with pytest.raises(InputError, match=r"lone surrogate U\+D800 at character 0") as e:
        score_text(m, "\ud800")
    one_line(e)
    with pytest.raises(InputError, match=r"document 1\).*U\+DC00"):
        score_text(m, ["ok", "a\udc00"])
    jl = tmp_path / "c.jsonl"
    jl.write_text('{"text": "x\\ud800"}\n')
    with pytest.raises(InputError, match=r"line 1 of c.jsonl\).*U\+D800"):
        score_text(m, jl)
    with pytest.raises(InputError, match="The `data` parameter of SymbolTokenizer.encode"):
        SymbolTokenizer(256).encode("\ud800")
    from seminfo.models.builtin import builtin_tokenizer
    with pytest.raises(InputError, match="The `data` parameter of HFTokenizer.encode"):
        builtin_tokenizer().encode("a\ud800")


@pytest.mark.parametrize("bad, shown", [(None, "Got None"), (3, "Got 3"), (True, "Got True"),
                                        (SourceModel, "Got the class SourceModel")])
def test_as_model_refuses_none_and_other_types(bad, shown):
    from seminfo.models.capability import as_model
    with pytest.raises(InputError, match=f"The `model` parameter of f must be a model spec.*{shown}") as e:
        as_model(bad, "score", func="f")
    one_line(e)


def test_information_flow_and_bare_transformers_model(hf_tok):
    from seminfo.flow import information_flow
    from seminfo.models.capability import as_model
    with pytest.raises(InputError, match="The `model` parameter of information_flow must be"):
        information_flow(None, "abc")
    with pytest.raises(InputError, match="bare transformers model"):
        as_model(build("gpt2", len(hf_tok)), "score", func="score_text")


def test_sample_sizes_are_refused_before_work():
    from seminfo.models.sampling import MAX_STEPS, sample
    m = byte_model()
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=r"The `n_tokens` parameter of sample asks for "
                                         r"1,000,000,000,000 tokens per row.*limit of 1,000,000") as e:
        sample(m, n_tokens=10 ** 12)
    one_line(e)
    with pytest.raises(InputError, match=r"`n_samples` and `n_tokens` .* 100,000 x 1,000 = 100,000,000"):
        sample(m, n_tokens=1000, n_samples=10 ** 5)
    with pytest.raises(InputError, match=r"`n_samples` parameter of sample asks for 1,000,000 rows.*256 "
                                         r"tokens would need 8.19 GB"):
        sample(m, n_tokens=1, n_samples=10 ** 6)
    with pytest.raises(InputError, match="n_tokens"):      # sizes first: the spec is never loaded
        sample("builtin:none", n_tokens=MAX_STEPS + 1)
    assert time.perf_counter() - t0 < 1.0
    assert sample(m, n_tokens=3, n_samples=2, seed=0).tokens.shape == (2, 3)


def test_sample_masked_sizes_and_capability():
    from seminfo.models import exact_masked_model, sample_masked
    from seminfo.sources import MarkovSource
    src = MarkovSource(np.array([[0.9, 0.1], [0.2, 0.8]]))
    with pytest.raises(InputError, match="n_tokens"):
        sample_masked(exact_masked_model(src, 4), n_tokens=10 ** 12)
    with pytest.raises(CapabilityError, match="`masked` capability"):
        sample_masked(byte_model(), n_tokens=2)
    assert sample_masked(exact_masked_model(src, 4), n_tokens=3, seed=0).tokens.shape == (1, 3)


# ------------------------------------------------------------------------------------ units
def test_units_is_a_str_with_field_units_and_the_old_form_warns():
    r = score_text(byte_model(), DOCS)
    assert isinstance(r.units, str) and r.units == "bits"
    assert r.field_units["bits_per_byte"] == "bits/byte"
    with pytest.warns(DeprecationWarning, match="field_units"):
        assert r.units["bits_per_byte"] == "bits/byte"
    with pytest.warns(DeprecationWarning):
        assert dict(r.units.items())["perplexity"] == "per token"
    d = r.as_dict()
    assert type(d["units"]) is str and d["units"] == "bits" and d["field_units"]["total_bits"]
    s = json.loads(json.dumps(r.summary()))
    assert s["units"] == "bits" and s["field_units"]["bits_per_token"] == "bits/token"
    again = pickle.loads(pickle.dumps(r))
    assert again.units == "bits" and again.total_bits == r.total_bits
    with pytest.warns(DeprecationWarning, match="pass it as `field_units`"):
        old = ScoreResult(model="m", bits_per_token=1.0, bits_per_byte=1.0, perplexity=2.0, n_tokens=1,
                          n_bytes=1, total_bits=1.0, units={"bits_per_byte": "B"})
    assert old.units == "bits" and old.field_units["bits_per_byte"] == "B"


def test_compare_result_units():
    from seminfo.models.compare import CompareResult
    r = CompareResult(models=(), n_bytes=3, samples=0)
    assert r.units == "bits" and r.field_units["tokens_per_second"] == "tokens/s"
    with pytest.warns(DeprecationWarning):
        assert r.units["seconds"] == "s"
    assert r.summary()["units"] == "bits" and r.summary()["field_units"]["seconds"] == "s"
    assert type(r.as_dict()["units"]) is str


# ------------------------------------------------------------------------------------ progress
def test_score_text_is_silent_by_default(capsys):
    assert inspect.signature(score_text).parameters["progress"].default is False
    assert inspect.signature(score_bytes).parameters["progress"].default is False
    score_text(byte_model(), DOCS)
    assert capsys.readouterr().err == ""
    score_text(byte_model(), DOCS, progress=True)
    assert "scoring counting" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ caches
def test_manifest_finds_truncated_edited_and_missing_files(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"0123456789")
    (tmp_path / "b.json").write_text("{}")
    cache.write_manifest(tmp_path, kind="test")
    assert cache.verify(tmp_path) is None
    (tmp_path / "a.bin").write_bytes(b"01234")
    assert cache.verify(tmp_path) == "a.bin has 5 bytes, 10 were written"
    (tmp_path / "a.bin").write_bytes(b"0123456788")
    assert "does not match the sha256" in cache.verify(tmp_path)
    (tmp_path / "a.bin").unlink()
    assert cache.verify(tmp_path) == "a.bin is missing"
    (tmp_path / cache.MANIFEST).write_text("{")
    assert "manifest cannot be read" in cache.verify(tmp_path)
    assert cache.verify(tmp_path / "nowhere") == "no manifest"


def test_stale_temporary_folders_are_removed(tmp_path):
    host = cache._host()
    dead = tmp_path / f".smollm2-{dead_pid()}@{host}-ab12"
    mine = tmp_path / f".smollm2-{os.getpid()}@{host}-cd34"
    old = tmp_path / ".smollm2-x1y2z3"                         # an older seminfo's name: no pid
    young = tmp_path / ".smollm2-q9w8e7"
    other = tmp_path / "smollm2-model"
    for d in (dead, mine, old, young, other):
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"x" * 10)
    past = time.time() - 2 * cache.STALE_SECONDS
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    removed = cache.clean_stale(tmp_path, ".smollm2-")
    assert sorted(removed) == sorted([dead.name, old.name])
    assert mine.exists() and young.exists() and other.exists() and not dead.exists() and not old.exists()


@pytest.fixture()
def fake_smollm2(tmp_path, monkeypatch):
    """smollm2_directory on a fake GGUF, with a builder that writes three tiny files and counts."""
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    from seminfo.models import builtin
    monkeypatch.setenv("SEMINFO_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "SmolLM2.Q4_1.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    monkeypatch.setattr(builtin, "smollm2_gguf", lambda: gguf)
    builds = []

    def write(src, out):
        builds.append(out.name)
        save_file({"w": np.arange(64, dtype=np.float32)}, str(out / "model.safetensors"))
        (out / "config.json").write_text('{"model_type": "llama"}')
        (out / "tokenizer.json").write_text('{"model": {}}')
    monkeypatch.setattr(builtin, "_write_smollm2", write)
    return builtin, builds


def test_smollm2_cache_is_verified_and_rebuilt_when_damaged(fake_smollm2):
    builtin, builds = fake_smollm2
    folder = builtin.smollm2_directory()
    assert len(builds) == 1 and cache.verify(folder) is None
    stale = folder.parent / f".smollm2-{dead_pid()}@{cache._host()}-0f0f"   # a killed build's folder
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"x" * 100)
    assert builtin.smollm2_directory() == folder and len(builds) == 1      # verified, reused
    assert not stale.exists()                                               # and the leftover removed
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-40])                         # truncated
    with pytest.warns(RuntimeWarning, match="is damaged .*model.safetensors has"):
        assert builtin.smollm2_directory() == folder
    assert len(builds) == 2 and cache.verify(folder) is None
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]     # no temporary folder left


def test_smollm2_cache_of_an_older_version(fake_smollm2):
    builtin, builds = fake_smollm2
    folder = builtin.smollm2_directory()
    (folder / cache.MANIFEST).unlink()                     # written before manifests: checked, adopted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        builtin.smollm2_directory()
    assert len(builds) == 1 and cache.verify(folder) is None
    (folder / cache.MANIFEST).unlink()
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4])         # truncated and unrecorded: rebuilt
    with pytest.warns(RuntimeWarning, match="no manifest"):
        builtin.smollm2_directory()
    assert len(builds) == 2 and cache.verify(folder) is None


def test_builtin_ngram_cache_is_verified_and_rebuilt(tmp_path, monkeypatch):
    from seminfo.models import builtin, ngram
    monkeypatch.setenv("SEMINFO_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "train.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log. " * 20)
    monkeypatch.setattr(builtin, "corpus_path", lambda split="valid": corpus)
    fits = []
    fit = ngram.KneserNeyModel.fit.__func__
    monkeypatch.setattr(ngram.KneserNeyModel, "fit",
                        classmethod(lambda cls, *a, **k: fits.append(1) or fit(cls, *a, **k)))
    a = ngram.builtin_ngram(order=2)
    (folder,) = (tmp_path / "cache").iterdir()
    assert cache.verify(folder) is None and len(fits) == 1
    b = ngram.builtin_ngram(order=2)
    assert len(fits) == 1 and b.fingerprint() == a.fingerprint()
    npz = folder / "ngram.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(InputError, match=r"holds a damaged .*ngram.npz") as e:
        ngram.KneserNeyModel.load(folder, tokenizer=a.tokenizer)
    one_line(e)
    with pytest.warns(RuntimeWarning, match="is damaged .*ngram.npz has"):
        c = ngram.builtin_ngram(order=2)
    assert len(fits) == 2 and c.fingerprint() == a.fingerprint() and cache.verify(folder) is None
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [folder.name]
