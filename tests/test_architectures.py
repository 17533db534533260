"""The model-capability layer, the masked-diffusion adapter, the ELBO against exact truth, and Mamba2's
state-space matrix. Tiny models are built from configs; the shipped built-ins are checked at the end."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import transformers

import seminfo
from seminfo.errors import CapabilityError, InputError, ModelNotAvailableError
from seminfo.models import exact_masked_model, load_model, sample_masked
from seminfo.models.arch import FAMILIES, family_of
from seminfo.models.capability import as_model, capabilities
from seminfo.models.masked import HFMaskedModel
from seminfo.models.sampling import sample
from seminfo.models.source_model import SourceModel
from seminfo.sources import HiddenMarkovSource, IIDSource, MarkovSource

MARKOV = MarkovSource(np.array([[0.8, 0.15, 0.05], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]]))
HMM = HiddenMarkovSource(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
IID = IIDSource([0.5, 0.3, 0.2])
MARKOV2 = MarkovSource(np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.05, 0.95]]), order=2)


@pytest.fixture(scope="module")
def gpt():
    return load_model("builtin:gpt", device="cpu")


@pytest.fixture(scope="module")
def tiny_bert(gpt):
    """A tiny BERT-style masked LM over the builtin tokenizer plus one mask id (4096)."""
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=4097, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64, type_vocab_size=1,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    hf = transformers.BertForMaskedLM(cfg).eval()
    return HFMaskedModel(hf, gpt.hf_tokenizer, name="tiny-bert", device="cpu", mask_token_id=4096)


def tiny_mamba2():
    torch.manual_seed(0)
    m = transformers.Mamba2ForCausalLM(transformers.Mamba2Config(
        vocab_size=64, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2, head_dim=8, num_heads=8,
        n_groups=2, conv_kernel=4, chunk_size=8)).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "dt_bias" in name or "A_log" in name or name.endswith(".D"):
                p.add_(0.3 * torch.randn_like(p))
    return m


# ------------------------------------------------------------------------------------ families
def test_every_family_is_declared_once_and_recurrence_agrees():
    seen = [t for f in FAMILIES for t in f.model_types]
    assert len(seen) == len(set(seen))
    for t in ("mamba", "falcon_mamba", "mamba2"):
        cfg = type("C", (), {"model_type": t})()
        assert family_of(cfg).recurrent and not family_of(cfg).embedding_in_hidden_states
    for t, name in (("gpt2", "gpt2"), ("llama", "llama"), ("bert", "masked"), ("gpt_neox", "causal"),
                    ("unknown-type", "causal")):
        assert family_of(type("C", (), {"model_type": t})()).name == name
    decoder = type("C", (), {"model_type": "bert", "is_decoder": True})()
    assert family_of(decoder).name == "causal"


# ------------------------------------------------------------------------------------ capabilities
def test_capabilities_of_each_kind(gpt, tiny_bert):
    assert capabilities(gpt) == {"score", "incremental", "likelihood", "sample", "internals"}
    assert capabilities(SourceModel(MARKOV)) == {"score", "incremental", "likelihood", "sample"}
    assert capabilities(tiny_bert) == {"masked", "likelihood", "sample", "internals"}
    assert capabilities(exact_masked_model(MARKOV, 3)) == {"masked", "likelihood", "sample"}
    assert capabilities(object()) == frozenset()


def test_one_door_for_specs_objects_and_sources(gpt, tiny_bert):
    assert as_model(gpt, "score", func="f") is gpt
    assert isinstance(as_model(MARKOV, "score", func="f"), SourceModel)
    with pytest.raises(InputError, match="The `model` parameter of f must be a model spec"):
        as_model(object(), "score", func="f")
    with pytest.raises(ModelNotAvailableError, match="Unknown built-in model 'builtin:nope'"):
        as_model("builtin:nope", "score", func="f")
    with pytest.raises(CapabilityError, match=r"f needs the `incremental` capability .* 'tiny-bert'"):
        as_model(tiny_bert, "incremental", func="f")
    with pytest.raises(CapabilityError, match="`internals`"):
        seminfo.logit_lens(SourceModel(MARKOV), [0, 1])
    # CapabilityError is an input error: except ValueError keeps working
    assert issubclass(CapabilityError, ValueError) and issubclass(CapabilityError, seminfo.SeminfoError)


def test_a_spec_string_works_wherever_a_model_does(gpt):
    """The same public function given "builtin:ngram" and the loaded model gives the same numbers."""
    ngram = load_model("builtin:ngram")
    a = seminfo.information_flow("builtin:ngram", "The list", " of things")
    b = seminfo.information_flow(ngram, "The list", " of things")
    assert a.total_bits == b.total_bits
    with pytest.raises(CapabilityError, match="`internals`"):
        seminfo.logit_lens("builtin:ngram", "The list")


@pytest.mark.parametrize("flag", ["trust_remote_code", "allow_unsafe_weights"])
def test_door_opening_options_take_booleans_only(flag):
    with pytest.raises(InputError, match=f"The `{flag}` parameter of load_model must be True or False"):
        load_model("builtin:gpt", **{flag: "false"})


# ------------------------------------------------------------------------------------ the adapter
def test_masked_adapter_matches_a_plain_forward_pass(tiny_bert):
    ids = np.array([[5, 4096, 17, 4096, 300], [1, 2, 3, 4096, 4096]])
    got = tiny_bert.masked_log_probs(ids)
    with torch.no_grad():
        logits = tiny_bert.hf_model(input_ids=torch.as_tensor(ids)).logits.double()
    logits[..., 4096] = -math.inf
    ref = torch.log_softmax(logits[..., :4096], -1).numpy()
    assert got.shape == (2, 5, 4096)
    np.testing.assert_allclose(got, ref, atol=2e-5)
    assert np.allclose(np.exp(got).sum(-1), 1.0, atol=1e-5)


def test_masked_lens_reads_left_to_right(tiny_bert):
    """Column t of the lens's last layer is the masked model's left-to-right query for x_{t+1}."""
    text_ids = tiny_bert.tokenizer.encode("The list of things")
    lens = seminfo.logit_lens(tiny_bert, text_ids, return_log_probs=True)
    ids = list(tiny_bert.prefix) + text_ids
    T = len(ids)
    assert lens.log_probs.shape == (3, T, 4096)
    for t in range(T):
        ltr = tiny_bert.left_to_right_log_probs(ids[1:t + 1], np.zeros((1, T - t), dtype=np.int64))[0, 0]
        np.testing.assert_allclose(lens.log_probs[-1, t], ltr, atol=1e-4)
    assert np.all(lens.kl_to_final_bits[-1] == 0) and np.all(lens.kl_to_final_bits >= -1e-9)


def test_compressing_with_a_masked_model_names_the_missing_capability(tiny_bert):
    with pytest.raises(CapabilityError, match=r"needs the `score` capability"):
        seminfo.compress(b"some bytes", tiny_bert)
    with pytest.raises(CapabilityError, match=r"`incremental`"):
        seminfo.models.sampling.sample(tiny_bert, "x", 3)


# ------------------------------------------------------------------------------------ the ELBO
def _exact_expectation(model, x):
    """The any-order expectation E_l E_M[(L/l) sum_{i in M} -log2 p(x_i | x_not M)] by enumeration."""
    L = len(x)
    total = 0.0
    for l in range(1, L + 1):
        subsets = list(itertools.combinations(range(L), l))
        acc = 0.0
        for M in subsets:
            row = np.array(x)
            row[list(M)] = model.mask_token_id
            lp = model.masked_log_probs(row[None])[0]
            acc += -sum(lp[i, x[i]] for i in M) / math.log(2)
        total += (L / l) * acc / len(subsets) / L
    return total


@pytest.mark.parametrize("source", [IID, MARKOV, MARKOV2, HMM], ids=["iid", "markov", "markov2", "hmm"])
def test_any_order_identity_is_exact(source):
    """With the exact conditionals, the ELBO's expectation IS -log2 p(x) (to rounding)."""
    m = exact_masked_model(source, 5)
    x = [int(v) for v in source.sample(5, seed=3)]
    assert _exact_expectation(m, x) == pytest.approx(-m.log_prob(x), abs=1e-10)


@pytest.mark.parametrize("method", ["stratified", "antithetic", "plain"])
def test_elbo_estimator_is_unbiased_and_its_stderr_calibrated(method):
    """z = (estimate - truth) / stderr over many seeds: mean about 0 and spread about 1."""
    m = exact_masked_model(MARKOV, 6)
    x = [0, 0, 1, 2, 2, 0]
    truth = -m.log_prob(x)
    z, values = [], []
    for seed in range(200):
        r = seminfo.elbo(m, x, samples=64, seed=seed, method=method)
        assert r.stderr > 0 and not r.exact and r.n_tokens == 6
        z.append((r.value - truth) / r.stderr)
        values.append(r.value)
    z, values = np.asarray(z), np.asarray(values)
    # unbiased: the mean of 200 estimates is within 4 of its standard errors of the truth
    assert abs(values.mean() - truth) < 4 * values.std() / math.sqrt(values.size)
    # calibrated: 200 draws give the mean of z to +-0.07 and its sd to +-0.05 when calibrated; the
    # estimated stderr uses 31-63 degrees of freedom (a t law, sd 1.02-1.03), and the terms are skewed,
    # which pulls the mean of z slightly below 0 (measured: -0.21 to 0.04 at 64 samples)
    assert abs(z.mean()) < 0.35
    assert 0.85 < z.std() < 1.25


def test_conditional_elbo_against_exact_conditional():
    m = exact_masked_model(HMM, 6)
    x = [int(v) for v in HMM.sample(6, seed=1)]
    c, y = x[:2], x[2:]
    pc = float(np.asarray(HMM.block_pmf(2))[tuple(c)])
    truth = -(m.log_prob(x) - math.log2(pc))
    r = seminfo.elbo(m, y, prompt=c, samples=256, seed=0)
    assert r.n_tokens == 4
    assert abs(r.value - truth) < 4 * r.stderr + 1e-9


def test_one_token_elbo_is_exact():
    m = exact_masked_model(MARKOV, 4)
    r = seminfo.elbo(m, [2], prompt=[0, 1], samples=4, seed=0)
    truth = -math.log2(MARKOV.block_pmf(3)[0, 1, 2] / MARKOV.block_pmf(2)[0, 1])
    assert r.value == pytest.approx(truth, abs=1e-12) and r.stderr == 0


def test_left_to_right_elbo_is_exact_and_equals_score_text(gpt):
    text = "Exact for left-to-right models: the ELBO is the chain rule. " * 12     # > one window
    r = seminfo.elbo(gpt, text)
    s = seminfo.score_text(gpt, text, progress=False)
    assert r.exact and r.stderr == 0 and r.method == "exact"
    assert r.value == pytest.approx(s.total_bits, rel=1e-12)
    assert r.bits_per_byte == pytest.approx(s.bits_per_byte, rel=1e-12)


def test_elbo_bad_input(tiny_bert):
    m = exact_masked_model(MARKOV, 4)
    with pytest.raises(InputError, match="must be even"):
        seminfo.elbo(m, [0, 1], samples=3)
    with pytest.raises(InputError, match="is empty"):
        seminfo.elbo(m, [])
    with pytest.raises(InputError, match="must hold symbols in 0..2"):
        seminfo.elbo(m, [0, 3])
    with pytest.raises(InputError, match="`seed` parameter of elbo"):
        seminfo.elbo(m, [0, 1], seed=-1)
    with pytest.raises(InputError, match="`method` parameter of elbo"):
        seminfo.elbo(m, [0, 1], method="fancy")
    zero = exact_masked_model(MarkovSource(np.array([[0.5, 0.5], [1.0, 0.0]])), 3)     # 1 -> 1 never
    with pytest.raises(InputError, match="probability zero"):
        seminfo.elbo(zero, [0, 1, 1], samples=4)


def test_masked_elbo_on_long_text_uses_windows(tiny_bert):
    text = "windows of the context " * 30                           # > 64 positions of tiny_bert
    r = seminfo.elbo(tiny_bert, text, samples=4, seed=0)
    assert r.n_tokens == len(tiny_bert.tokenizer.encode(text)) > 64
    assert np.isfinite(r.value) and r.stderr > 0 and r.n_bytes == len(text)


# ------------------------------------------------------------------------------------ sampling
def test_iterative_unmasking_samples_the_source_law():
    m = exact_masked_model(MARKOV, 3)
    s = sample_masked(m, [], 3, n_samples=3000, seed=0)
    counts = np.zeros((3, 3, 3))
    for row in s.tokens:
        counts[tuple(row)] += 1
    p = MARKOV.block_pmf(3)
    expected = 3000 * p
    chi2 = float((((counts - expected) ** 2) / expected).sum())
    assert chi2 < 26 + 4 * math.sqrt(2 * 26)                  # 26 degrees of freedom, far tail
    assert np.all(s.log_probs <= 0)


# ------------------------------------------------------------------------------------ flow
def test_flow_elbo_equals_information_flow_for_left_to_right_models(gpt):
    f = seminfo.information_flow(gpt, "The list", " of built-in functions")
    e = seminfo.flow.flow_elbo(gpt, "The list", " of built-in functions")
    assert e["exact"] and e["stderr_bits"] == 0
    # same quantity; the two float32 paths (a full log-softmax against the chunked head of
    # token_stats) round differently, by about 1e-6 bits on this response
    assert e["information_bits"] == pytest.approx(f.total_bits, abs=1e-5)


def test_flow_of_a_masked_model(tiny_bert):
    f = seminfo.information_flow(tiny_bert, "The list", n_tokens=4, seed=1)
    assert len(f.tokens) == 4 and np.all(np.isfinite(f.info_density_bits))


# ------------------------------------------------------------------------------------ Mamba2 as a VAR
def test_ssm_var_rebuilds_every_mamba2_layer():
    m = tiny_mamba2()
    r = seminfo.flow.ssm_var(m, np.arange(1, 20))
    assert r.alpha.shape == (2, 8, 19, 19)
    assert r.max_reconstruction_error < 1e-5
    assert np.all(np.triu(r.alpha, k=1) == 0)                 # causal
    assert np.all(r.dt > 0)
    with pytest.raises(CapabilityError, match="ssm_var reads Mamba2"):
        seminfo.flow.ssm_var(transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=64, n_embd=16, n_layer=1, n_head=2, n_positions=32)), [1, 2, 3])
    with pytest.raises(CapabilityError, match="attention_var reads causal attention"):
        seminfo.flow.attention_var(m, [1, 2, 3])


# ------------------------------------------------------------------------------------ loading folders
def test_a_saved_masked_lm_folder_loads_as_a_masked_model(tiny_bert, tmp_path):
    tiny_bert.hf_model.config.mask_token_id = 4096
    tiny_bert.hf_model.save_pretrained(tmp_path, safe_serialization=True)
    tiny_bert.hf_tokenizer.save_pretrained(tmp_path)
    m = load_model(str(tmp_path), device="cpu")
    assert isinstance(m, HFMaskedModel) and m.mask_token_id == 4096
    ids = np.array([[5, 4096, 17]])
    np.testing.assert_allclose(m.masked_log_probs(ids), tiny_bert.masked_log_probs(ids), atol=1e-6)
    assert m.fingerprint() == tiny_bert.fingerprint()


def test_llada_style_folder_needs_remote_code_opt_in(gpt, tmp_path):
    """A LLaDA checkpoint ships its own modelling code: refused unless trust_remote_code=True."""
    import json
    gpt.hf_tokenizer.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "llada", "architectures": ["LLaDAModelLM"], "mask_token_id": 126336,
        "auto_map": {"AutoModel": "modeling_llada.LLaDAModelLM"}}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    from seminfo.models.hf import _is_masked_config, _read_config
    assert _is_masked_config(_read_config(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="needs custom code .* trust_remote_code=True only"):
        load_model(str(tmp_path), device="cpu")


def test_a_causal_model_adapted_to_masked_diffusion(gpt, tmp_path):
    """builtin:diffusion's construction: GPT-2 run with a full attention mask, position i read at i - 1."""
    torch.manual_seed(1)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=4097, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)).eval()
    hf.config.mask_token_id = 4096
    hf.config.seminfo_masked = {"bidirectional": True, "shift": 1}
    hf.save_pretrained(tmp_path, safe_serialization=True)
    gpt.hf_tokenizer.save_pretrained(tmp_path)
    m = load_model(str(tmp_path), device="cpu")
    assert isinstance(m, HFMaskedModel) and m.shift == 1 and capabilities(m) >= {"masked", "internals"}
    ids = np.array([[0, 5, 4096, 17, 4096, 300]])
    with torch.no_grad():
        logits = hf(input_ids=torch.as_tensor(ids), attention_mask=torch.ones(1, 1, 6, 6, dtype=torch.bool)).logits
    logits = logits.double()
    logits[..., 4096] = -math.inf
    ref = torch.log_softmax(logits[..., :4096], -1).numpy()
    got = m.masked_log_probs(ids)
    np.testing.assert_allclose(got[:, 1:], ref[:, :-1], atol=2e-5)      # row i predicts position i
    # bidirectional: the prediction at position 2 depends on the token after it
    later = ids.copy()
    later[0, 3] = 18
    assert np.abs(m.masked_log_probs(later)[0, 2] - got[0, 2]).max() > 1e-6
    lens = seminfo.logit_lens(m, [5, 17, 300], return_log_probs=True)
    ltr = m.left_to_right_log_probs([5, 17], np.zeros((1, 2), dtype=np.int64))[0, 0]
    np.testing.assert_allclose(lens.log_probs[-1, 2], ltr, atol=1e-4)
    with pytest.raises(CapabilityError, match="masked-diffusion"):
        seminfo.flow.attention_var(m, [5, 17])
