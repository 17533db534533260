"""HFModel against plain transformers forward passes (GPT-2, Llama, Mamba, Mamba2), the registry,
safety switches and sampling. Tiny models are built from configs with a tokenizer trained here."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from seminfo.errors import InputError, ModelMismatchError, ModelNotAvailableError  # noqa: E402
from seminfo.models import load_model  # noqa: E402
from seminfo.models.base import TokenModel  # noqa: E402
from seminfo.models.hf import HFModel  # noqa: E402
from seminfo.models.sampling import sample  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. def f(x):\n    return x * 2\n"
        "Information is measured in bits; entropy H(X) = -sum p log p.") * 3
EOT = "<|endoftext|>"


def make_tokenizer(vocab_size: int = 260):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator([TEXT] * 5, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=t, bos_token=EOT, eos_token=EOT)


@pytest.fixture(scope="module")
def hf_tok():
    return make_tokenizer()


def build(arch: str, vocab: int, *, n_positions: int = 64):
    torch.manual_seed(0)
    if arch == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=vocab, n_positions=n_positions, n_embd=32, n_layer=2,
                                      n_head=2, bos_token_id=0, eos_token_id=0)
    elif arch == "llama":
        cfg = transformers.LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                       max_position_embeddings=n_positions, bos_token_id=0, eos_token_id=0)
    elif arch == "mamba":
        cfg = transformers.MambaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, state_size=8,
                                       bos_token_id=0, eos_token_id=0)
    else:
        cfg = transformers.Mamba2Config(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, state_size=8,
                                        num_heads=4, head_dim=16, n_groups=1, expand=2, chunk_size=16,
                                        bos_token_id=0, eos_token_id=0)
    return transformers.AutoModelForCausalLM.from_config(cfg).eval()


ARCHS = ["gpt2", "llama", "mamba", "mamba2"]


@pytest.fixture(scope="module", params=ARCHS)
def model(request, hf_tok):
    # the output layer is padded beyond the tokenizer's vocabulary, as real checkpoints often are
    hf = build(request.param, len(hf_tok) + 3)
    return HFModel(hf, hf_tok, name=f"tiny-{request.param}", device="cpu")


def ids_of(model, text=TEXT, n=40):
    return np.asarray(model.tokenizer.encode(text), dtype=np.int64)[:n]


def plain_log_probs(model, seq):
    with torch.no_grad():
        logits = model.hf_model(input_ids=torch.as_tensor(seq)[None]).logits[0]
    return torch.log_softmax(logits.double(), -1).numpy()


def test_next_log_probs_equal_a_plain_forward_pass(model):
    x = ids_of(model)
    lp = model.next_log_probs(np.stack([x, x[::-1]]))
    assert lp.shape == (2, x.size + 1, model.vocab_size) and lp.dtype == np.float32
    for row, seq in enumerate([x, x[::-1]]):
        ref = plain_log_probs(model, np.concatenate([model.prefix, seq]))
        np.testing.assert_allclose(lp[row], ref, atol=1e-5, rtol=0)
    no_prefix = model.next_log_probs(x[None], prefix=False)
    np.testing.assert_allclose(no_prefix[0], plain_log_probs(model, x), atol=1e-5, rtol=0)


def test_token_stats_match_the_reference(model):
    x = np.stack([ids_of(model), ids_of(model)[::-1]])
    for n_context, prefix in [(0, True), (5, True), (1, False), (7, False)]:
        s, h = model.token_stats(x, n_context=n_context, prefix=prefix)
        s0, h0 = TokenModel.token_stats(model, x, n_context=n_context, prefix=prefix)
        assert s.shape == (2, x.shape[1] - n_context) and s.dtype == np.float64
        np.testing.assert_allclose(s, s0, atol=1e-5)
        np.testing.assert_allclose(h, h0, atol=1e-5)
        assert np.all(h >= 0) and np.all(h <= math.log(model.vocab_size) + 1e-6)
        s1, none = model.token_stats(x, n_context=n_context, prefix=prefix, entropy=False)
        assert none is None and np.array_equal(s1, s)             # surprisal alone, the same numbers


def test_incremental_feed_equals_parallel(model):
    x = ids_of(model, n=24)
    B = 2
    batch = np.stack([x, x[::-1]])
    full = model.next_log_probs(batch)                                   # (B, T + 1, K)
    state = model.begin(B)
    assert state.length == len(model.prefix)
    np.testing.assert_allclose(state.log_probs, full[:, 0], atol=1e-4)
    state, out1 = model.feed(state, batch[:, :10])
    state, out2 = model.feed(state, batch[:, 10:])
    inc = np.concatenate([out1, out2], axis=1)
    assert state.length == len(model.prefix) + x.size
    np.testing.assert_allclose(inc, full[:, 1:], atol=1e-4)
    np.testing.assert_array_equal(state.log_probs, out2[:, -1])


def test_attributes_for_other_analyses(model, hf_tok):
    assert model.prefix == (0,) and model.eos_token_id == 0
    assert model.vocab_size == len(hf_tok) + 3
    assert not model.hf_model.training and model.device == "cpu"
    assert model.hf_tokenizer is hf_tok
    if model.model_type in ("mamba", "mamba2"):
        assert model.max_context is None
    else:
        assert model.max_context == 64


def test_context_longer_than_allowed(hf_tok):
    m = HFModel(build("gpt2", len(hf_tok), n_positions=16), hf_tok, device="cpu")
    ok = np.zeros((1, 15), dtype=np.int64)
    assert m.next_log_probs(ok).shape == (1, 16, len(hf_tok))
    with pytest.raises(InputError, match="holds 17 tokens .* more than the model's context of 16"):
        m.next_log_probs(np.zeros((1, 16), dtype=np.int64))
    # token_stats never feeds the last token, so 16 targets fit after the prefix
    assert m.token_stats(np.zeros((1, 16), dtype=np.int64))[0].shape == (1, 16)
    with pytest.raises(InputError, match=r"must hold token ids in 0\.\."):
        m.next_log_probs(np.full((1, 3), len(hf_tok)))
    with pytest.raises(InputError, match="must be a 2-D \\(batch, time\\) array"):
        m.next_log_probs(np.zeros(3, dtype=np.int64))


def test_vocab_mismatch_between_model_and_tokenizer(hf_tok):
    with pytest.raises(ModelMismatchError, match=f"tokenizer has {len(hf_tok)} ids but the model"):
        HFModel(build("gpt2", len(hf_tok) - 10), hf_tok, device="cpu")


def test_directory_round_trip_fingerprint_and_safety(tmp_path, hf_tok):
    hf = build("llama", len(hf_tok))
    safe = tmp_path / "safe"
    hf.save_pretrained(safe)
    hf_tok.save_pretrained(safe)
    a, b = load_model(str(safe), device="cpu"), load_model(safe, device="cpu")
    x = ids_of(a)[None]
    np.testing.assert_array_equal(a.next_log_probs(x), b.next_log_probs(x))
    np.testing.assert_allclose(a.next_log_probs(x)[0], plain_log_probs(a, np.r_[0, x[0]]), atol=1e-5)
    assert a.fingerprint() == b.fingerprint() and len(a.fingerprint()) == 64
    with torch.no_grad():
        b.hf_model.lm_head.weight[0, 0] += 1.0
    b._fingerprint = None
    assert b.fingerprint() != a.fingerprint()
    # pickled weights are refused unless explicitly allowed
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    hf.config.save_pretrained(unsafe)
    hf_tok.save_pretrained(unsafe)
    torch.save(hf.state_dict(), unsafe / "pytorch_model.bin")
    with pytest.raises(ModelNotAvailableError, match="allow_unsafe_weights=True"):
        load_model(str(unsafe), device="cpu")
    c = load_model(str(unsafe), device="cpu", allow_unsafe_weights=True)
    np.testing.assert_allclose(c.next_log_probs(x), a.next_log_probs(x), atol=1e-6)


def test_hub_name_from_the_offline_cache(tmp_path, hf_tok, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    snap = tmp_path / "hub" / "models--tiny--gpt" / "snapshots" / ("0" * 40)
    build("gpt2", len(hf_tok)).save_pretrained(snap)
    hf_tok.save_pretrained(snap)
    (tmp_path / "hub" / "models--tiny--gpt" / "refs").mkdir()
    (tmp_path / "hub" / "models--tiny--gpt" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    m = load_model("tiny/gpt", device="cpu")
    assert m.name == "tiny/gpt" and m.max_context == 64
    with pytest.raises(ModelNotAvailableError, match="not in the local Hugging Face cache"):
        load_model("tiny/other", device="cpu")


def test_registry_errors(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download nobody/no-such-model"):
        load_model("nobody/no-such-model")
    with pytest.raises(ModelNotAvailableError, match="Unknown built-in model 'builtin:nope'"):
        load_model("builtin:nope")
    with pytest.raises(ModelNotAvailableError, match="has no config.json"):
        load_model(str(tmp_path))
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ModelNotAvailableError, match="is a file, not a model directory"):
        load_model(str(tmp_path / "f.txt"))
    with pytest.raises(InputError, match="The `spec` parameter of load_model must be a non-empty string"):
        load_model("")
    with pytest.raises(InputError, match="The `device` parameter of load_model"):
        load_model("builtin:gpt", device="tpu:x")


def test_builtin_gpt():
    m = load_model("builtin:gpt", device="cpu")
    assert (m.name, m.vocab_size, m.max_context, m.prefix) == ("builtin:gpt", 4096, 256, (0,))
    assert m.tokenizer.vocab_size == 4096
    assert m.tokenizer.encode("<|endoftext|>") != [0]
    from seminfo.models import list_builtin
    assert {"builtin:gpt", "builtin:smollm2", "builtin:ngram"} <= set(list_builtin())


# ------------------------------------------------------------------------------------ sampling
@pytest.fixture(scope="module")
def gpt(hf_tok):
    return HFModel(build("gpt2", len(hf_tok)), hf_tok, device="cpu")


def test_sample_shapes_seed_and_log_probs(gpt):
    r = sample(gpt, "The quick", 6, n_samples=3, seed=1)
    assert r.tokens.shape == (3, 6) and r.tokens.dtype == np.int64 and r.log_probs.shape == (3, 6)
    tokens, log_probs = r                                   # unpacks as (tokens, log_probs)
    r2 = sample(gpt, "The quick", 6, n_samples=3, seed=1)
    np.testing.assert_array_equal(r.tokens, r2.tokens)
    prompt = gpt.tokenizer.encode("The quick")
    for row in range(3):
        full = gpt.next_log_probs(np.r_[prompt, tokens[row]][None])[0]       # (T + 1, K)
        want = full[len(prompt) + np.arange(6), tokens[row]]
        np.testing.assert_allclose(log_probs[row], want, atol=1e-4)
    greedy = sample(gpt, prompt, 4, temperature=0.0)
    lp0 = gpt.next_log_probs(np.asarray(prompt)[None])[0, -1]
    assert greedy.tokens[0, 0] == int(np.argmax(lp0))


def test_sample_frequencies_follow_the_model(gpt):
    S = 3000
    r = sample(gpt, None, 1, n_samples=S, seed=7)
    p = np.exp(gpt.begin(1).log_probs[0].astype(np.float64))
    top = int(np.argmax(p))
    freq = np.mean(r.tokens[:, 0] == top)
    se = math.sqrt(p[top] * (1 - p[top]) / S)
    assert abs(freq - p[top]) < 5 * se


def test_sample_stop_at_eos_and_errors(gpt):
    hot = sample(gpt, None, 30, n_samples=4, seed=0, temperature=50.0, stop_at_eos=True)
    for row in range(4):
        n = hot.lengths[row]
        if n < 30:
            assert hot.tokens[row, n - 1] == 0 and np.all(hot.tokens[row, n:] == 0)
            assert np.all(hot.log_probs[row, n:] == 0)
    with pytest.raises(InputError, match="more than the model's context of 64"):
        sample(gpt, None, 100)
    with pytest.raises(InputError, match="The `n_tokens` parameter of sample must be a positive integer"):
        sample(gpt, None, 0)
    with pytest.raises(InputError, match="The `temperature` parameter of sample must be >= 0"):
        sample(gpt, None, 2, temperature=-1)


@pytest.mark.slow
def test_smollm2_loads_and_scores():
    pytest.importorskip("gguf")
    from seminfo.models.builtin import smollm2_directory
    try:
        smollm2_directory()
    except ModelNotAvailableError as exc:
        pytest.skip(str(exc))
    m = load_model("builtin:smollm2", device="cpu")
    assert (m.vocab_size, m.prefix, m.max_context) == (49152, (1,), 8192)
    x = np.asarray(m.tokenizer.encode("The capital of France is Paris."))[None]
    s, _ = m.token_stats(x)
    lp = m.next_log_probs(x)
    np.testing.assert_allclose(s[0], -lp[0, np.arange(x.shape[1]), x[0]], atol=1e-4)
    assert 10 < s.sum() / math.log(2) < 200
    with pytest.raises(ModelMismatchError, match="no single-byte token for byte 0xff"):
        m.tokenizer.encode(b"\xff")
    with pytest.raises(ModelMismatchError, match="no token for the byte"):
        m.tokenizer.encode(b"a\x04b")
