"""Scoring: lm-evaluation-harness's rolling windows and bits-per-byte, exact closed forms on sources,
documents, resume, outputs, bad input and the `seminfo score` command."""

from __future__ import annotations

import contextlib
import io
import json
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.errors import InputError, ModelNotAvailableError
from seminfo.models.scoring import plan_windows, read_documents, score_bytes, score_text

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from test_hf_models import TEXT, build, make_tokenizer  # noqa: E402

from seminfo.models.hf import HFModel  # noqa: E402


# ------------------------------------------------------------------------------------ reference
def harness_windows(tokens: list[int], prefix_token: int, max_seq_len: int, context_len: int):
    """lm-evaluation-harness's rolling windows, rewritten from its documented semantics.

    Window 1 feeds [prefix] + tokens[:L-1] and predicts tokens[:L]; every later window predicts the
    next (max_seq_len - context_len + 1) tokens from the max_seq_len tokens that precede its last
    target. Returns (input tokens, predicted tokens) pairs; the last len(pred) logits are scored.
    """
    windows, n_pred = [], max_seq_len - context_len + 1
    first = min(max_seq_len, len(tokens))
    windows.append(([prefix_token] + tokens[: first - 1], tokens[:first]))
    k = first
    while k < len(tokens):
        m = min(n_pred, len(tokens) - k)
        last = k + m - 1                                    # index of the window's last target
        windows.append((tokens[last - max_seq_len: last], tokens[k: k + m]))
        k += m
    return windows


def harness_disjoint(pair):
    """make_disjoint_window: keep only the context that precedes the first prediction."""
    inp, pred = pair
    return inp[: len(inp) - (len(pred) - 1)], pred


def harness_bits(hf_model, windows, *, disjoint: bool) -> float:
    """Total bits as HFLM._loglikelihood_tokens computes them: feed (context + continuation)[:-1],
    score the continuation (disjoint) or feed the input and score its last len(pred) logits."""
    total = 0.0
    for inp, pred in windows:
        seq = (inp + pred)[:-1] if disjoint else inp
        with torch.no_grad():
            logits = hf_model(input_ids=torch.tensor([seq])).logits[0].double()
        lp = torch.log_softmax(logits[-len(pred):], -1)
        total -= float(lp[torch.arange(len(pred)), torch.tensor(pred)].sum())
    return total / math.log(2)


@pytest.fixture(scope="module")
def hf_tok():
    return make_tokenizer()


@pytest.fixture(scope="module")
def gpt(hf_tok):
    return HFModel(build("gpt2", len(hf_tok), n_positions=32), hf_tok, name="tiny-gpt2", device="cpu")


@pytest.fixture(scope="module")
def mamba(hf_tok):
    return HFModel(build("mamba", len(hf_tok)), hf_tok, name="tiny-mamba", device="cpu")


# ------------------------------------------------------------------------------------ windows
@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 300), window=st.integers(1, 40), frac=st.floats(0.01, 1.0),
       n_prefix=st.integers(0, 1))
def test_every_token_scored_exactly_once(n, window, frac, n_prefix):
    stride = max(1, int(round(frac * window)))
    counts = np.zeros(n, dtype=int)
    for start, end, n_ctx, with_prefix in plan_windows(n, window, stride, n_prefix):
        counts[start + n_ctx: end] += 1
        fed = (end - start - 1) + (n_prefix if with_prefix else 0)         # last token is a target only
        assert fed <= window
        assert with_prefix or n_ctx >= 1
        assert with_prefix == (start == 0 and n_ctx == 0)
    assert np.all(counts == 1)


@pytest.mark.parametrize("stride", [None, 7, 1])
def test_windows_are_the_harness_windows(stride):
    tokens = list(range(100, 175))
    W = 12
    S = W if stride is None else stride
    ours = []
    for start, end, n_ctx, with_prefix in plan_windows(len(tokens), W, stride, 1):
        inp = ([0] if with_prefix else []) + tokens[start: end - 1]
        ours.append((inp, tokens[start + n_ctx: end]))
    ref = harness_windows(tokens, 0, W, W - S + 1)
    assert ours == ref
    lm_utils = pytest.importorskip("lm_eval.utils")
    assert ours == [tuple(map(list, w)) for w in lm_utils.get_rolling_token_windows(tokens, 0, W, W - S + 1)]


# ------------------------------------------------------------------------------------ bits per byte
def test_bits_per_byte_equals_the_harness_definition(gpt):
    data = TEXT.encode()
    tokens = gpt.tokenizer.encode(data)
    assert len(tokens) > 3 * 32                                # several windows
    r = score_bytes(gpt, data, progress=False, batch_size=3)
    ref_bits = harness_bits(gpt.hf_model, [harness_disjoint(w) for w in
                                           harness_windows(tokens, 0, 32, 1)], disjoint=True)
    assert r.n_tokens == len(tokens) and r.n_bytes == len(data)
    assert r.total_bits == pytest.approx(ref_bits, rel=1e-6)
    assert r.bits_per_byte == pytest.approx(ref_bits / len(data), rel=1e-6)
    assert r.bits_per_token == pytest.approx(ref_bits / len(tokens), rel=1e-6)
    assert r.perplexity == pytest.approx(2 ** (ref_bits / len(tokens)), rel=1e-6)
    assert r.surprisal_bits.sum() == pytest.approx(r.total_bits)
    # strided windows: each window sees window - stride + 1 tokens of context
    rs = score_bytes(gpt, data, window=20, stride=6, progress=False)
    strided = harness_bits(gpt.hf_model, harness_windows(tokens, 0, 20, 20 - 6 + 1), disjoint=False)
    assert rs.total_bits == pytest.approx(strided, rel=1e-6)


def test_short_text_strided_disjoint_and_full_pass_agree(gpt):
    data = b"The quick brown fox."
    x = np.asarray(gpt.tokenizer.encode(data))
    full = gpt.next_log_probs(x[None])[0]
    want = -full[np.arange(x.size), x].sum() / math.log(2)
    for kw in ({}, {"stride": 3}, {"window": x.size + 1}, {"window": x.size + 1, "stride": 2}):
        assert score_bytes(gpt, data, progress=False, **kw).total_bits == pytest.approx(want, rel=1e-5)


def test_batching_does_not_change_scores(gpt):
    docs = [TEXT[:300], TEXT[50:500], "x", TEXT]
    a = score_text(gpt, docs, batch_size=1, progress=False)
    b = score_text(gpt, docs, batch_size=16, progress=False)
    np.testing.assert_allclose(a.surprisal_bits, b.surprisal_bits, atol=1e-4)
    np.testing.assert_allclose(a.entropy_bits, b.entropy_bits, atol=1e-4)


def test_unbounded_model_scores_whole_documents(mamba):
    data = TEXT.encode()[:400]
    x = np.asarray(mamba.tokenizer.encode(data))
    r = score_bytes(mamba, data, progress=False)
    assert r.window is None and r.documents[0].n_tokens == x.size
    lp = mamba.next_log_probs(x[None])[0]
    np.testing.assert_allclose(r.surprisal_bits, -lp[np.arange(x.size), x] / math.log(2), atol=1e-4)
    with pytest.raises(InputError, match="The `stride` parameter of score_bytes needs a `window`"):
        score_bytes(mamba, data, stride=4, progress=False)


def test_exact_on_a_markov_source():
    """A finite-state source scores its own sequence at exactly -log2 of its probability."""
    from seminfo.models.source_model import SourceModel
    from seminfo.sources import MarkovSource
    P = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.25, 0.25, 0.5]])
    src = MarkovSource(P, initial=[0.5, 0.25, 0.25])
    x = src.sample(500, seed=3)
    exact = -(math.log2([0.5, 0.25, 0.25][x[0]]) + sum(math.log2(P[a, b]) for a, b in zip(x[:-1], x[1:])))
    r = score_bytes(SourceModel(src), bytes(x.tolist()), progress=False)
    assert r.total_bits == pytest.approx(exact, rel=1e-12)
    assert r.bits_per_byte == r.bits_per_token == pytest.approx(exact / 500, rel=1e-12)
    H = np.array([-(p[p > 0] * np.log2(p[p > 0])).sum() for p in P])
    np.testing.assert_allclose(r.entropy_bits[1:], H[x[:-1]], atol=1e-12)


# ------------------------------------------------------------------------------------ documents
def test_documents_from_files_directories_and_jsonl(gpt, tmp_path):
    (tmp_path / "b.md").write_text("second doc")
    (tmp_path / "a.txt").write_text("first doc")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.rst").write_text("third, nested")
    (tmp_path / "skip.py").write_text("not text")
    docs = read_documents(tmp_path)
    assert [n for n, _ in docs] == ["a.txt", "b.md", "sub/c.rst"]
    r = score_text(gpt, tmp_path, progress=False)
    assert [d.name for d in r.documents] == ["a.txt", "b.md", "sub/c.rst"]
    # corpus figures are ratios of totals, not means of per-document ratios
    assert r.bits_per_byte == pytest.approx(sum(d.total_bits for d in r.documents) / r.n_bytes)
    assert r.n_bytes == len("first docsecond docthird, nested")
    jl = tmp_path / "c.jsonl"
    jl.write_text('{"text": "first doc"}\n\n{"text": "caf\\u00e9"}\n')
    rj = score_text(gpt, jl, progress=False)
    assert [d.name for d in rj.documents] == ["c.jsonl:1", "c.jsonl:3"]
    assert rj.documents[1].n_bytes == len("café".encode())
    assert rj.documents[0].total_bits == pytest.approx(r.documents[0].total_bits, rel=1e-6)
    one = score_text(gpt, tmp_path / "a.txt", progress=False)
    assert one.documents[0].name == "a.txt" and one.n_bytes == 9


def test_outputs_json_and_csv(gpt, tmp_path):
    r = score_text(gpt, ["first doc", "second one"], progress=False)
    s = json.loads(json.dumps(r.summary()))
    assert {"bits_per_token", "bits_per_byte", "n_tokens", "n_bytes", "perplexity", "documents"} <= set(s)
    assert s["units"] == "bits" and s["field_units"]["bits_per_byte"] == "bits/byte"
    rows = r.token_rows()
    assert len(rows) == r.n_tokens and rows[0]["position"] == 0 and rows[0]["document"] == "doc0"
    tok_csv = r.write_csv(tmp_path / "t.csv", level="token", tokenizer=gpt.tokenizer)
    import csv
    with tok_csv.open(newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == ["document", "position", "token_id", "surprisal_bits", "entropy_bits", "token"]
    assert len(lines) == r.n_tokens + 1
    doc_csv = r.write_csv(tmp_path / "d.csv")
    header = "name,n_tokens,n_bytes,total_bits,bits_per_token,bits_per_byte"
    assert doc_csv.read_text().splitlines()[0] == header
    assert json.loads(r.write_json(tmp_path / "r.json").read_text())["n_tokens"] == r.n_tokens
    with pytest.raises(InputError, match="score with per_token=True"):
        score_text(gpt, "abc", per_token=False, progress=False).token_rows()


# ------------------------------------------------------------------------------------ resume
class Interrupting(HFModel):
    """The tiny model, interrupted (like Ctrl-C) after `limit` calls of token_stats."""

    def __init__(self, base: HFModel, limit: int):
        self.__dict__.update(base.__dict__)
        self.limit, self.calls, self.rows = limit, 0, 0

    def token_stats(self, ids, **kw):
        self.calls += 1
        if self.calls > self.limit:
            raise KeyboardInterrupt
        self.rows += len(ids)                       # windows scored (one row each)
        return super().token_stats(ids, **kw)


def test_resume_after_interruption(gpt, tmp_path):
    docs = [TEXT[i * 40: i * 40 + 120] for i in range(6)]
    ref = score_text(gpt, docs, batch_size=1, progress=False)
    ckpt = tmp_path / "run.jsonl"
    calls = [len(plan_windows(len(gpt.tokenizer.encode(d)), 32, None, 1)) for d in docs]
    limit = calls[0] + calls[1] + 1
    flaky = Interrupting(gpt, limit=limit)          # Ctrl-C during call limit + 1 (one window a call)
    with pytest.raises(KeyboardInterrupt):
        score_text(flaky, docs, batch_size=1, progress=False, resume=ckpt)
    saved = ckpt.read_text().splitlines()
    assert len(saved) - 1 == limit                  # header + every window scored before the interrupt
    with ckpt.open("a") as fh:
        fh.write('{"index": 2, "window": 1, "n_tok')                  # a record cut by the interruption
    again = Interrupting(gpt, limit=10 ** 6)
    r = score_text(again, docs, batch_size=1, progress=False, resume=ckpt)
    assert again.calls == sum(calls) - limit        # scored windows were skipped, the rest scored once
    assert r.total_bits == pytest.approx(ref.total_bits, rel=1e-9)
    np.testing.assert_allclose(r.surprisal_bits, ref.surprisal_bits, atol=1e-9)
    np.testing.assert_allclose(r.entropy_bits, ref.entropy_bits, atol=1e-9)
    assert [d.total_bits for d in r.documents] == pytest.approx([d.total_bits for d in ref.documents])


def test_resume_inside_one_long_document(gpt, tmp_path):
    """A single document longer than the context loses only the call in flight when interrupted."""
    doc = TEXT * 3
    ref = score_text(gpt, doc, batch_size=2, progress=False)
    n_windows = len(plan_windows(len(gpt.tokenizer.encode(doc)), 32, None, 1))
    assert n_windows >= 8
    ckpt = tmp_path / "long.jsonl"
    first = Interrupting(gpt, limit=3)
    with pytest.raises(KeyboardInterrupt):
        score_text(first, doc, batch_size=2, progress=False, resume=ckpt)
    saved = len(ckpt.read_text().splitlines()) - 1
    assert saved == first.rows and 3 <= saved < n_windows    # the windows of the three calls were kept
    again = Interrupting(gpt, limit=10 ** 6)
    r = score_text(again, doc, batch_size=2, progress=False, resume=ckpt)
    assert again.rows == n_windows - saved                   # only the rest is scored
    np.testing.assert_allclose(r.surprisal_bits, ref.surprisal_bits, atol=1e-9)
    assert r.total_bits == pytest.approx(ref.total_bits, rel=1e-9)


def test_resume_completed_checkpoint(gpt, tmp_path):
    docs = [TEXT[i * 40: i * 40 + 120] for i in range(6)]
    ckpt = tmp_path / "run.jsonl"
    ref = score_text(gpt, docs, progress=False, resume=ckpt)
    # a completed checkpoint answers without any model call
    third = Interrupting(gpt, limit=0)
    assert score_text(third, docs, progress=False, resume=ckpt).total_bits == pytest.approx(ref.total_bits)
    with pytest.raises(InputError, match="checkpoint of another run"):
        score_text(gpt, docs, window=16, progress=False, resume=ckpt)
    with pytest.raises(InputError, match="checkpoint of another run"):
        score_text(gpt, docs[:2], progress=False, resume=ckpt)


# ------------------------------------------------------------------------------------ bad input
def test_bad_input(gpt, tmp_path):
    with pytest.raises(InputError, match="is empty: there is nothing to score"):
        score_bytes(gpt, b"")
    with pytest.raises(InputError, match="names a file that does not exist"):
        score_text(gpt, tmp_path / "missing.txt")
    with pytest.raises(InputError, match="names a directory with no"):
        score_text(gpt, tmp_path)
    d = tmp_path / "unreadable.txt"
    d.mkdir()
    with pytest.raises(InputError, match="names a directory with no"):
        score_text(gpt, d)
    with pytest.raises(InputError, match=r"must be <= the model's context of 32 tokens\. Got 33"):
        score_bytes(gpt, b"abc", window=33)
    with pytest.raises(InputError, match=r"The `stride` parameter of score_bytes must be an integer <= 8"):
        score_bytes(gpt, b"abc", window=8, stride=9)
    with pytest.raises(InputError, match="The `batch_size` parameter of score_bytes must be a positive"):
        score_bytes(gpt, b"abc", batch_size=0)
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")

    def refuse(self):
        raise PermissionError(13, "Permission denied")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pathlib.Path, "read_bytes", refuse)
        with pytest.raises(InputError, match="names a file that cannot be read: .*Permission denied"):
            score_text(gpt, locked)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(InputError, match="is not valid UTF-8"):
        score_text(gpt, latin)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": 1}\n')
    with pytest.raises(InputError, match='Line 2 of .* must be a JSON object with a string field "text"'):
        score_text(gpt, bad)
    with pytest.raises(InputError, match="must be a model spec such as 'builtin:gpt' or a seminfo model"):
        score_bytes(object(), b"abc")
    # a spec goes through the same door as a model object and gives the same numbers
    from seminfo.models import load_model
    assert score_bytes("builtin:gpt", b"abc", progress=False).total_bits == \
        score_bytes(load_model("builtin:gpt"), b"abc", progress=False).total_bits
    with pytest.raises(InputError, match="use score_text"):
        score_bytes(gpt, pathlib.Path("x.txt"))


# ------------------------------------------------------------------------------------ CLI
def run_cli(argv):
    from seminfo.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_score(gpt, hf_tok, tmp_path):
    model_dir = tmp_path / "model"
    gpt.hf_model.save_pretrained(model_dir)
    hf_tok.save_pretrained(model_dir)
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    per_tok = tmp_path / "tok.csv"
    code, out, _ = run_cli(["score", "--model", str(model_dir), "--text", str(text), "--json",
                            "--no-progress", "--device", "cpu", "--per-token", str(per_tok)])
    assert code == 0
    res = json.loads(out)
    ref = score_text(gpt, text, progress=False)
    assert res["bits_per_byte"] == pytest.approx(ref.bits_per_byte, rel=1e-6)
    assert res["n_tokens"] == ref.n_tokens and res["n_bytes"] == len(TEXT.encode())
    import csv
    with per_tok.open(newline="") as fh:
        assert len(list(csv.reader(fh))) == ref.n_tokens + 1
    code, out, _ = run_cli(["score", "--model", str(model_dir), "--text", str(text), "--csv",
                            "--no-progress", "--window", "16", "--stride", "8"])
    assert code == 0 and out.splitlines()[0].startswith("name,n_tokens")
    code, _, err = run_cli(["score", "--model", "nobody/none", "--text", str(text)])
    assert code == 2 and "nobody/none" in err and "not in the local Hugging Face cache" in err
    code, _, err = run_cli(["score", "--model", str(model_dir), "--text", str(tmp_path / "no.txt")])
    assert code == 2 and "does not exist" in err


def test_cli_help_has_an_example():
    with pytest.raises(SystemExit):
        run_cli(["score", "--help"])
    from seminfo.cli.main import build_parser
    assert "seminfo score --model builtin:" in build_parser()._subparsers._group_actions[0].choices[
        "score"].format_help()


def test_unknown_model_is_not_available():
    from seminfo.models import load_model
    with pytest.raises(ModelNotAvailableError, match="pass the path of a local model directory"):
        load_model("no-such-model-anywhere")
