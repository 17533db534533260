"""Generalisation bounds: the formula against hand-computed numbers, the description length against the
entropy of what it codes, the bound against the loss on text the model never saw."""

import math

import numpy as np
import pytest

from seminfo.bounds import (ALPHA_GRID, coded_integer_bits, coded_symbol_bits, compression_bound,
                            elias_gamma_bits, generalization_bound, loss_range, ngram_description,
                            quantize_hf, smoothed_bits)
from seminfo.errors import InputError

LN2 = math.log(2)


# ------------------------------------------------------------------------------------ the formula
def test_plain_bound_matches_the_hand_computation():
    # empirical 3 bits/token, C = 100 bits, m = 10,000, Delta = 10, delta = 0.05:
    # 10 * sqrt((100 ln 2 + ln 20) / 20000) = 10 * sqrt(72.3104497 / 20000) = 0.60129215
    b, comp, samp = compression_bound(3.0, complexity_bits=100.0, m=10_000, loss_range=10.0, delta=0.05)
    assert comp == pytest.approx(0.6012921516598588, rel=1e-12)
    assert samp == 0.0 and b == pytest.approx(3.6012921516598588, rel=1e-12)
    assert compression_bound(3.0, complexity_bits=100.0, m=10_000, loss_range=10.0,
                             n_evaluated=10_000) == (b, comp, samp)


def test_subsampled_bound_matches_the_hand_computation():
    # s = 1000 of m = 10,000: r = 1/11; ln(r * 0.05) = -5.39362755, ln((1 - r) * 0.05) = -3.09104245
    # complexity: 10 sqrt((69.3147181 + 5.3936275) / 20000) = 0.61118060
    # sampling:   10 sqrt(3.0910425 / 2000) = 0.39313118
    b, comp, samp = compression_bound(3.0, complexity_bits=100.0, m=10_000, loss_range=10.0,
                                      delta=0.05, n_evaluated=1000)
    assert comp == pytest.approx(10 * math.sqrt((100 * LN2 + 5.393627546352362) / 20000), rel=1e-12)
    assert comp == pytest.approx(0.6111806, abs=1e-7)
    assert samp == pytest.approx(0.3931312, abs=1e-7)
    assert b == pytest.approx(3.0 + 0.6111806 + 0.3931312, abs=2e-7)


def test_bound_falls_with_m_and_rises_with_complexity_and_confidence():
    f = lambda **kw: compression_bound(2.0, **{"complexity_bits": 1e4, "m": 10**6, "loss_range": 12.0, **kw})[0]
    ms = [10**4, 10**5, 10**6, 10**7]
    assert np.all(np.diff([f(m=m) for m in ms]) < 0)
    assert np.all(np.diff([f(complexity_bits=c) for c in (0.0, 1e3, 1e5, 1e7)]) > 0)
    assert np.all(np.diff([f(delta=d) for d in (0.5, 0.05, 1e-3, 1e-9)]) > 0)
    assert np.all(np.diff([f(m=10**6, n_evaluated=s) for s in (100, 1000, 10**4)]) < 0)


def test_loss_range_is_the_width_of_the_smoothed_loss():
    K, a = 50, 0.1
    p = np.concatenate([[0.0, 1.0], np.geomspace(1e-300, 1, 200)])
    loss = smoothed_bits(-np.log2(np.where(p > 0, p, 1e-320)), a, K)
    lo, hi = -math.log2((1 - a) + a / K), math.log2(K / a)
    assert loss.min() >= lo - 1e-12 and loss.max() <= hi + 1e-12
    assert hi - lo == pytest.approx(loss_range(a, K), rel=1e-12)
    assert loss_range(0.5, 3) == 2.0


# ------------------------------------------------------------------------------------ description length
def test_range_coder_length_is_the_empirical_entropy_plus_overhead():
    rng = np.random.default_rng(0)
    p = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    x = rng.choice(5, size=50_000, p=p) - 2                          # symbols -2..2
    counts = np.bincount(x + 2, minlength=5)
    h = -np.sum(counts / x.size * np.log2(counts / x.size))          # empirical entropy, bits/symbol
    header = elias_gamma_bits(x.size + 1) + elias_gamma_bits(4) + elias_gamma_bits(5) + 5 * 16
    payload = coded_symbol_bits(x) - header
    assert x.size * h - 1 <= payload <= x.size * h * 1.0005 + 64     # 24-bit model, <= 2 closing words
    assert coded_symbol_bits(np.full(10, 7)) == elias_gamma_bits(11) + elias_gamma_bits(15) + 1 + 4


def test_integer_code_is_bit_length_symbols_plus_raw_bits():
    v = np.arange(8, 16).repeat(10)                                  # all 4-bit numbers: 3 raw bits each
    assert coded_integer_bits(v) == coded_symbol_bits(np.full(80, 4)) + 3 * 80
    v = np.array([0, 1, 2, 3, 2**40 - 1, 2**40])
    e = np.array([0, 1, 2, 2, 40, 41])
    assert coded_integer_bits(v) == coded_symbol_bits(e) + int(np.maximum(e - 1, 0).sum())


def test_ngram_description_codes_every_table_exactly():
    from seminfo.models.ngram import KneserNeyModel
    m = KneserNeyModel.fit([[0, 1, 0, 1, 2, 0, 1]], order=2, vocab_size=3)
    d = ngram_description(m)
    arrays = m._arrays()
    assert set(d.parts) == set(arrays) and d.levels is None and d.quantisation.startswith("none")
    k2 = arrays["keys_2"]
    assert d.parts["keys_2"] == elias_gamma_bits(k2.size + 1) + coded_integer_bits(np.diff(k2, prepend=0))
    assert d.parts["counts_2"] == elias_gamma_bits(k2.size + 1) + coded_integer_bits(arrays["counts_2"])
    assert d.bits == sum(d.parts.values()) and d.n_parameters == sum(a.size for a in arrays.values())


def _tiny_gpt(n_positions=16):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from seminfo.models.hf import HFModel
    from seminfo.models.source_model import SymbolTokenizer
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=256, n_embd=16, n_layer=1, n_head=2, n_positions=n_positions, bos_token_id=0,
        eos_token_id=0))
    return HFModel(hf.eval(), SymbolTokenizer(256), name="tiny", device="cpu", prefix=(0,))


def test_quantised_weights_lie_on_the_grid_and_the_original_is_untouched():
    model = _tiny_gpt()
    before = {n: p.detach().clone() for n, p in model.hf_model.named_parameters()}
    q, desc = quantize_hf(model, 5)
    for name, p in q.hf_model.named_parameters():
        w = before[name].numpy()
        step = np.abs(w).max() / 2
        if step == 0:                                                # zero biases stay zero, cost 32 bits
            assert not p.detach().numpy().any() and desc.parts[name] == 32 + coded_symbol_bits(np.zeros(w.size, int))
            continue
        k = p.detach().numpy() / step
        assert np.allclose(k, np.rint(k), atol=1e-4) and np.abs(k).max() <= 2 + 1e-6
        assert np.abs(p.detach().numpy() - w).max() <= step / 2 * (1 + 1e-5)
    assert all(np.array_equal(p.detach().numpy(), before[n].numpy())
               for n, p in model.hf_model.named_parameters())
    assert desc.bits == sum(desc.parts.values()) and desc.levels == 5
    assert desc.n_parameters == model.n_parameters()
    with pytest.raises(InputError, match="odd"):
        quantize_hf(model, 4)


# ------------------------------------------------------------------------------------ the bound end to end
def test_bound_on_a_known_source_is_the_closed_form():
    """Uniform iid source over 4 symbols: every token costs 2 bits, smoothing changes nothing."""
    from seminfo.models.source_model import SourceModel
    from seminfo.sources import IIDSource
    model = SourceModel(IIDSource([0.25] * 4))
    docs = [bytes([0, 1, 2, 3] * 50), bytes([3, 2] * 25)]
    r = generalization_bound(model, docs, 0.05, alpha_grid=[0.5], description_bits=10.0)
    m = 250
    C = 10 + 2 * math.log2(10)                                       # one alpha on the grid: 0 bits
    D = math.log2(1 + 0.5 * 4 / 0.5)
    assert (r.m, r.n_evaluated, r.subsampled, r.kind) == (m, m, False, "token")
    assert r.empirical == pytest.approx(2.0, abs=1e-12) and r.loss_float == pytest.approx(2.0, abs=1e-12)
    assert r.complexity_bits == pytest.approx(C, rel=1e-12) and r.loss_range == pytest.approx(D, rel=1e-12)
    assert r.bound == pytest.approx(2.0 + D * math.sqrt((C * LN2 + math.log(20)) / (2 * m)), rel=1e-12)
    assert r.vacuous == (r.bound >= 2.0) and r.vacuous and r.dominant == "empirical"  # log2 K = 2
    doc = generalization_bound(model, docs, 0.05, kind="document", alpha_grid=[0.5], description_bits=10.0)
    assert doc.m == 2 and doc.bound == pytest.approx(2.0 + D * math.sqrt((C * LN2 + math.log(20)) / 4))
    assert doc.logit_l1_source == "log-probs" and doc.logit_l1 == pytest.approx(4 * math.log(4))


def test_empirical_loss_is_that_of_the_quantised_model_and_grids_are_paid():
    from seminfo import score_text
    model = _tiny_gpt()
    text = bytes(range(32, 127)) * 2                                # 190 tokens: 12 windows of 16
    r = generalization_bound(model, [text], 0.05, levels=[3, 17], alpha_grid=[0.01, 0.1, 0.5])
    assert r.levels in (3, 17) and r.levels_bits == 1.0 and r.alpha_bits == pytest.approx(math.log2(3))
    assert [c["levels"] for c in r.candidates] == [3, 17]
    assert min(c["bound"] for c in r.candidates) == r.bound
    q, desc = quantize_hf(model, r.levels)
    sq = score_text(q, [text], per_token=True)
    assert r.loss_quantised == pytest.approx(sq.bits_per_token, rel=1e-6)
    assert r.empirical == pytest.approx(np.mean(smoothed_bits(sq.surprisal_bits, r.alpha, 256)), rel=1e-6)
    assert r.loss_float == pytest.approx(score_text(model, [text], per_token=False).bits_per_token, rel=1e-6)
    assert r.description_bits == desc.bits
    L = desc.bits
    assert r.complexity_bits == pytest.approx(L + 2 * math.log2(L) + math.log2(3) + 1.0, rel=1e-12)
    assert r.logit_l1_source == "logits" and r.logit_l1 > 0 and r.logit_l1_positions == 190


@pytest.mark.parametrize("spec", ["ngram", "tiny"])
def test_sampled_tokens_are_scored_as_full_scoring_scores_them(spec):
    from seminfo import score_text
    from seminfo.bounds.generalization import _surprisal_bits
    from seminfo.models.ngram import KneserNeyModel
    from seminfo.models.scoring import _checked_window
    from seminfo.models.source_model import SymbolTokenizer
    rng = np.random.default_rng(1)
    docs = [rng.integers(97, 101, size=n).astype(np.uint8).tobytes() for n in (70, 3, 41)]
    if spec == "ngram":
        model = KneserNeyModel.fit([np.frombuffer(d, np.uint8) for d in docs], order=3, vocab_size=256,
                                   tokenizer=SymbolTokenizer(256), prefix=(0,))
    else:
        model = _tiny_gpt()
    full = score_text(model, docs, per_token=True).surprisal_bits
    enc = [np.frombuffer(d, np.uint8).astype(np.int64) for d in docs]
    units = [(d, i) for d in range(3) for i in range(enc[d].size)]
    window, _ = _checked_window(model, None, None, "test")
    got = _surprisal_bits(model, enc, units, "token", window, 8, False, "")[0]
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-4 if spec == "tiny" else 1e-12)


def test_subsample_is_seeded_and_pays_the_sampling_term():
    text = bytes(range(32, 127)) * 3
    model = _tiny_gpt()
    a = generalization_bound(model, [text], max_samples=40, seed=3, levels=17)
    b = generalization_bound(model, [text], max_samples=40, seed=3, levels=17)
    assert a.bound == b.bound and a.subsampled and a.n_evaluated == 40 and a.m == 285
    assert a.sampling_term > 0 and a.levels_bits == 0.0 and a.seed == 3


def test_unigram_bound_is_non_vacuous_and_holds_on_the_validation_split():
    """The honesty check: the bound from the training split is at or above the loss on text the model
    never saw (the embedded validation split), both as scored and smoothed as the bound's model."""
    from seminfo import load_model, score_text
    from seminfo.models.builtin import corpus_path
    model = load_model("builtin:ngram:1")
    r = generalization_bound(model, corpus_path("train"), 0.05, max_samples=5000, seed=0)
    valid = score_text(model, corpus_path("valid"), per_token=True)
    smoothed_valid = float(np.mean(smoothed_bits(valid.surprisal_bits, r.alpha, model.vocab_size)))
    assert r.kind == "token" and r.m > 10**6 and r.n_evaluated == 5000 and r.levels is None
    assert not r.vacuous and r.bound < r.log2_vocab == 12.0
    assert r.bound >= valid.bits_per_token and r.bound >= smoothed_valid
    assert r.loss_quantised == r.loss_float                          # counts are coded exactly
    assert r.empirical + r.complexity_term + r.sampling_term == pytest.approx(r.bound, rel=1e-12)


def test_gpt_bound_from_a_small_subsample_holds_and_says_why_it_is_vacuous():
    pytest.importorskip("torch")
    from seminfo import load_model, score_text
    from seminfo.models.builtin import corpus_path
    model = load_model("builtin:gpt", device="cpu")
    r = generalization_bound(model, corpus_path("train"), 0.05, max_samples=48, seed=0, levels=17)
    valid = score_text(model, corpus_path("valid").read_bytes()[:12_000], per_token=False)
    assert r.bound >= valid.bits_per_token and r.vacuous and r.dominant == "complexity"
    assert r.description_bits > r.m                                  # more coded bits than training tokens
    assert r.logit_l1_source == "logits"


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kw, match", [
    ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"), ({"delta": -0.5}, "delta"),
    ({"delta": float("nan")}, "delta"), ({"kind": "sentence"}, "kind"),
    ({"max_samples": 0}, "max_samples"), ({"alpha_grid": [0.0, 0.1]}, "alpha_grid"),
    ({"alpha_grid": [1.0]}, "alpha_grid"), ({"alpha_grid": []}, "alpha_grid"),
    ({"seed": -1}, "seed"), ({"description_bits": -3.0}, "description_bits")])
def test_bad_arguments_are_input_errors(kw, match):
    from seminfo.models.source_model import SourceModel
    from seminfo.sources import IIDSource
    model = SourceModel(IIDSource([0.5, 0.5]))
    args = {"delta": 0.05, **kw}
    delta = args.pop("delta")
    with pytest.raises(InputError, match=match):
        generalization_bound(model, [bytes([0, 1, 1])], delta, description_bits=args.pop("description_bits", 8.0),
                             **args)


def test_empty_documents_unknown_length_and_even_levels_are_input_errors():
    from seminfo.models.source_model import SourceModel
    from seminfo.sources import IIDSource
    model = SourceModel(IIDSource([0.5, 0.5]))
    with pytest.raises(InputError, match="empty"):
        generalization_bound(model, [b"", b""], description_bits=1.0)
    with pytest.raises(InputError, match="description_bits"):
        generalization_bound(model, [bytes([0, 1])])
    with pytest.raises(InputError, match="odd"):
        generalization_bound(_tiny_gpt(), [b"abc"], levels=[8])
    assert ALPHA_GRID == tuple(sorted(ALPHA_GRID)) and len(ALPHA_GRID) == 8
