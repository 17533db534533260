"""The energy-based view: Boltzmann statistics per token, attention as Hopfield descent, memory capacity.

Every measure is checked against a closed form, an identity or an independent computation.
"""

import math
import shlex
import warnings

import numpy as np
import pytest

from seminfo.energy import (boltzmann, boltzmann_stats, hopfield_capacity, hopfield_descent,
                            hopfield_energy, hopfield_retrieval, hopfield_update, ramsauer_capacity_bound)
from seminfo.errors import InputError, ShapeError

LN2 = math.log(2)


# ------------------------------------------------------------------------------------ Boltzmann
def _direct(lp, T):
    """F, U, S (bits), C straight from the definitions, one distribution at a time."""
    E = -np.asarray(lp, dtype=float)
    w = np.exp(-E / T)
    Z = w.sum()
    p = w / Z
    U = float(p @ E)
    return -T * math.log(Z), U, float(-(p * np.log(p)).sum() / LN2), float(p @ (E - U) ** 2) / T ** 2


def test_boltzmann_stats_match_definitions_and_identities():
    rng = np.random.default_rng(0)
    logits = 3 * rng.standard_normal((5, 40))
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    temps = np.array([0.3, 1.0, 2.5])
    F, U, S, C = boltzmann_stats(lp, temps)
    assert F.shape == U.shape == S.shape == C.shape == (3, 5)
    for k, T in enumerate(temps):
        for i in range(5):
            assert np.allclose([F[k, i], U[k, i], S[k, i], C[k, i]], _direct(lp[i], T), rtol=1e-12, atol=1e-12)
    assert np.allclose(S, (U - F) / temps[:, None] / LN2, atol=1e-12)             # S = (U - F) / T
    assert np.allclose(F[1], 0.0, atol=1e-12)                                     # normalised: Z_1 = 1
    # S at T = 1 is the Shannon entropy of the model's distribution
    assert np.allclose(S[1], -(np.exp(lp) * lp).sum(axis=1) / LN2, atol=1e-12)
    # C = dU/dT = T dS/dT (S in nats), by central differences
    h = 1e-5
    for T in (0.3, 1.0, 2.5):
        _, Up, Sp, _ = boltzmann_stats(lp, [T + h])
        _, Um, Sm, _ = boltzmann_stats(lp, [T - h])
        _, _, _, Ct = boltzmann_stats(lp, [T])
        assert np.allclose((Up - Um) / (2 * h), Ct, rtol=1e-6)
        assert np.allclose(T * (Sp - Sm) * LN2 / (2 * h), Ct, rtol=1e-6)


def test_boltzmann_gauge_shifts_f_and_u_only():
    """Raw logits = log-probs + c per position: F and U move by -c, S and C do not move."""
    rng = np.random.default_rng(1)
    lp = np.log(rng.dirichlet(np.ones(30), size=4))
    c = np.array([3.0, -2.0, 10.0, 0.5])
    a, b = boltzmann_stats(lp, [0.5, 1.0, 4.0]), boltzmann_stats(lp + c[:, None], [0.5, 1.0, 4.0])
    assert np.allclose(b[0], a[0] - c, atol=1e-10) and np.allclose(b[1], a[1] - c, atol=1e-10)
    assert np.allclose(b[2], a[2], atol=1e-10) and np.allclose(b[3], a[3], atol=1e-10)


def test_boltzmann_limits_and_zero_probability_states():
    lp = np.log([0.7, 0.2, 0.1])
    F, U, S, C = boltzmann_stats(lp, [1e-3, 1e4])
    assert F[0] == pytest.approx(-math.log(0.7), abs=1e-9)           # T -> 0: ground-state energy
    assert S[0] == pytest.approx(0.0, abs=1e-9) and C[0] == pytest.approx(0.0, abs=1e-9)
    assert S[1] == pytest.approx(math.log2(3), abs=1e-6)               # T -> inf: uniform
    # a state of probability 0 (E = +inf) has weight 0 at every T: same as the 2-state coin
    coin = boltzmann_stats(np.log([0.5, 0.5]), [0.5, 3.0])
    with_zero = boltzmann_stats(np.array([math.log(0.5), math.log(0.5), -np.inf]), [0.5, 3.0])
    for x, y in zip(coin, with_zero):
        assert np.allclose(x, y, atol=1e-14)
    assert np.allclose(coin[0].ravel(), [(1 - 0.5) * LN2, (1 - 3.0) * LN2])   # F = (1 - T) ln 2


def test_boltzmann_on_a_source_is_exact():
    from seminfo.sources import IIDSource
    p = np.array([0.5, 0.25, 0.25])
    r = boltzmann(IIDSource(p), bytes([0, 1, 2, 0]), temperatures=[1.0, 2.0])
    q = np.sqrt(p) / np.sqrt(p).sum()                                  # p_T with T = 2
    assert r.entropy.shape == (2, 4)
    assert np.allclose(r.entropy[0], 1.5) and np.allclose(r.entropy[1], -(q * np.log2(q)).sum())
    assert np.allclose(r.free_energy[1], -2 * math.log(np.sqrt(p).sum()))
    assert np.allclose(r.surprisal_bits, [1, 2, 2, 1])
    t_peak, c_peak = r.peak()
    assert t_peak.shape == c_peak.shape == (4,)


def test_boltzmann_at_t1_is_what_scoring_reports():
    import seminfo
    from seminfo.models.builtin import corpus_path
    model = seminfo.load_model("builtin:ngram")
    text = corpus_path("valid").read_bytes()[:400]
    r = boltzmann(model, text, temperatures=[0.5, 1.0, 2.0])
    s = seminfo.score_text(model, text, per_token=True)
    assert r.n_tokens == s.n_tokens and np.array_equal(r.token_ids, s.token_ids)
    assert np.allclose(r.entropy[1], s.entropy_bits, atol=1e-9)
    assert np.allclose(r.surprisal_bits, s.surprisal_bits, atol=1e-9)
    assert np.allclose(r.free_energy[1], 0.0, atol=1e-9)
    assert np.all(np.diff(r.entropy, axis=0) > 0)                       # S rises with T (C > 0)
    assert r.as_dict()["entropy"][1] == r.entropy[1].tolist()
    assert r.summary()["field_units"]["mean_entropy_bits"] == "bits/token"


@pytest.mark.parametrize("temps, match", [([0.0], r"in \[1e-100, 1e\+100\]"), ([-1.0], "finite numbers in"),
                                          ([], "non-empty"), ([float("nan")], "finite"), ([1e200], "finite numbers in"),
                                          ([1 + 1j], "complex values"), ("hot", "list of positive numbers")])
def test_boltzmann_rejects_bad_temperatures(temps, match):
    with pytest.raises(InputError, match=r"The `temperatures` parameter of boltzmann .*" + match):
        boltzmann("builtin:ngram", "some text", temperatures=temps)


def test_boltzmann_rejects_bad_text_and_model():
    with pytest.raises(InputError, match="The `text` parameter of boltzmann must hold at least one token"):
        boltzmann("builtin:ngram", "", temperatures=[1.0])
    with pytest.raises(InputError, match="The `text` parameter of boltzmann must be bytes or str"):
        boltzmann("builtin:ngram", 12, temperatures=[1.0])
    with pytest.raises(InputError, match="The `model` parameter of boltzmann"):
        boltzmann(None, "text")
    with pytest.raises(InputError, match="The `max_tokens` parameter of boltzmann"):
        boltzmann("builtin:ngram", "text", max_tokens=0)


# ------------------------------------------------------------------------------------- Hopfield
def test_hopfield_energy_closed_form_and_update_never_increases():
    # one pattern: E = -x.xi + |xi|^2/2 exactly, whatever beta
    x, xi = np.array([1.0, 2.0, -1.0]), np.array([0.3, -0.2, 0.5])
    assert hopfield_energy(xi, x[None], beta=3.7) == pytest.approx(-x @ xi + 0.5 * xi @ xi, abs=1e-12)
    assert np.allclose(hopfield_update(xi, x[None], beta=3.7), x)
    # the CCCP step (Ramsauer et al. Thm 1) never raises the energy: 400 random instances
    rng = np.random.default_rng(2)
    worst = -np.inf
    for _ in range(400):
        N, d = rng.integers(1, 30), rng.integers(1, 12)
        X = rng.standard_normal((N, d)) * rng.uniform(0.1, 5)
        s = rng.standard_normal((3, d)) * rng.uniform(0.1, 5)
        beta = float(np.exp(rng.uniform(-3, 3)))
        e0 = hopfield_energy(s, X, beta)
        e1 = hopfield_energy(hopfield_update(s, X, beta), X, beta)
        worst = max(worst, float(np.max((e1 - e0) / (1 + np.abs(e0)))))
    assert worst <= 1e-12
    # beta -> 0: the update is the mean of the patterns
    X = rng.standard_normal((6, 4))
    assert np.allclose(hopfield_update(rng.standard_normal(4), X, beta=1e-12), X.mean(axis=0))


def test_hopfield_energy_rejects_bad_input():
    with pytest.raises(ShapeError, match="The `xi` parameter of hopfield_energy must have shape"):
        hopfield_energy([1.0, 2.0], [[1.0, 2.0, 3.0]], beta=1.0)
    with pytest.raises(InputError, match="The `beta` parameter of hopfield_update must be > 0"):
        hopfield_update([1.0], [[1.0]], beta=0.0)


def _tiny(kind):
    import torch
    import transformers as t
    torch.manual_seed(0)
    if kind == "gpt2":
        m = t.GPT2LMHeadModel(t.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                           bos_token_id=0, eos_token_id=0))
    else:                                   # grouped-query heads, rotary embeddings, biases
        m = t.LlamaForCausalLM(t.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=2, num_attention_heads=4,
                                             num_key_value_heads=2, max_position_embeddings=64,
                                             attention_bias=True, bos_token_id=0, eos_token_id=0))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name or "ln_" in name:
                p.add_(0.5 * torch.randn_like(p))
    return m.eval()


IDS = np.array([3, 17, 5, 5, 40, 2, 9, 33, 12, 7, 1, 60, 8, 8, 21, 4])


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_hopfield_descent_on_real_heads(kind):
    m = _tiny(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = hopfield_descent(m, IDS)
    L, H, T = r.delta_pure.shape
    assert (L, H, T) == (2, 4, IDS.size)
    assert r.max_alpha_error < 1e-5                        # q, k, beta are the ones the model uses
    assert np.all(r.share_pure_nonincreasing == 1.0) and r.max_relative_increase_pure <= 1e-10
    assert np.allclose(r.beta, 1 / math.sqrt(8))
    # position 0 sees one key k_0: E = -k.xi + |xi|^2/2, the pure step lands on k_0, so
    # delta_pure = -|q - k|^2 / 2 <= 0; and E(0) = -ln 1 / beta = 0
    assert np.all(r.delta_pure[:, :, 0] <= 0) and np.allclose(r.energy_origin[:, 0], 0.0)
    rows = r.rows()
    assert len(rows) == L * H and set(rows[0]) >= {"share_real_decreased", "share_real_below_origin"}


def test_hopfield_descent_real_update_matches_an_independent_computation():
    """GPT-2: q, k, v rebuilt in numpy from c_attn's weights and the attention inputs (flow.attention_var)."""
    from seminfo.flow import attention_var
    m = _tiny("gpt2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = hopfield_descent(m, IDS)
        av = attention_var(m, IDS)
    beta = 1 / math.sqrt(8)
    for layer in range(2):
        attn = m.transformer.h[layer].attn
        w = attn.c_attn.weight.detach().double().numpy()
        b = attn.c_attn.bias.detach().double().numpy()
        qkv = av.inputs[layer] @ w + b                                  # (T, 96)
        q, k, v = (qkv[:, 32 * s:32 * (s + 1)].reshape(-1, 4, 8).transpose(1, 0, 2) for s in range(3))
        for h in range(4):
            for i in (0, 5, IDS.size - 1):
                K = k[h, :i + 1]
                o = av.alpha[layer, h, i, :i + 1] @ v[h, :i + 1]
                e_q = hopfield_energy(q[h, i], K, beta)
                assert r.energy_query[layer, h, i] == pytest.approx(e_q, rel=1e-5, abs=1e-5)
                assert r.delta_real[layer, h, i] == pytest.approx(hopfield_energy(o, K, beta) - e_q,
                                                                  rel=1e-4, abs=1e-5)


def test_hopfield_descent_refuses_models_without_heads():
    from seminfo.errors import CapabilityError
    with pytest.raises(CapabilityError, match="hopfield_descent needs the `internals` capability"):
        hopfield_descent("builtin:ngram", "text")


# ------------------------------------------------------------------------------- memory capacity
def test_retrieval_is_a_float_with_details():
    r = hopfield_retrieval(d=32, n_patterns=10, beta=1.0, seed=0)
    assert isinstance(r, float) and r == 1.0 and r.n_retrieved == r.n_probes == 10
    assert r.as_dict()["share"] == 1.0 and r.as_dict()["network"] == "modern"
    with pytest.raises(AttributeError):
        r.d = 3
    # one stored pattern is always retrieved, from itself or after a few flipped bits / a small push
    assert hopfield_retrieval(16, 1, seed=1, network="classical", noise=0.5) == 1.0
    assert hopfield_retrieval(16, 1, beta=0.1, seed=1, noise=0.5) == 1.0
    # far above the classical capacity almost nothing is retrieved
    assert hopfield_retrieval(d=32, n_patterns=64, network="classical", seed=0) < 0.1
    # same seed, same answer
    assert float(hopfield_retrieval(20, 300, beta=0.5, seed=3)) == float(hopfield_retrieval(20, 300, beta=0.5, seed=3))


def test_classical_one_step_matches_the_signal_to_noise_law():
    """One Hebbian step from a stored +-1 pattern: each bit is wrong with probability ~ Phi(-sqrt(d/N)).

    With tolerance 2 sqrt(k/d) a pattern is retrieved when at most k bits are wrong; for k = d
    (tolerance 2) every pattern counts, and for tolerance just above 0 only perfect recall does,
    whose probability is ~ (1 - Phi(-sqrt(d/N)))^d (bits nearly independent when N >> 1).
    """
    from statistics import NormalDist
    d, N = 200, 40
    q = NormalDist().cdf(-math.sqrt(d / (N - 1)))
    expected = (1 - q) ** d
    r = hopfield_retrieval(d, N, network="classical", tolerance=1e-6, n_probes=N, seed=5)
    assert abs(float(r) - expected) < 0.25
    assert hopfield_retrieval(d, N, network="classical", tolerance=2.0, n_probes=N, seed=5) == 1.0


def test_ramsauer_bound_closed_form():
    # recompute Theorem 3 with a hand-rolled Lambert W (Newton on w e^w = z)
    def w0(z):
        w = math.log1p(z)
        for _ in range(60):
            w -= (w * math.exp(w) - z) / (math.exp(w) * (w + 1))
        return w
    for d, beta, p in [(64, 1.0, 0.01), (128, 0.5, 0.05), (40, 2.0, 0.05)]:
        a = 2 / (d - 1) * (1 + math.log(2 * beta * p * (d - 1)))
        b = 2 * beta / 5
        c = b / w0(math.exp(a + math.log(b)))
        assert c >= (2 / math.sqrt(p)) ** (4 / (d - 1))
        assert ramsauer_capacity_bound(d, beta, p=p) == pytest.approx(math.sqrt(p) * c ** ((d - 1) / 4), rel=1e-10)
    assert ramsauer_capacity_bound(16, 1.0, p=0.01) == 0.0               # condition fails: no guarantee
    grows = [ramsauer_capacity_bound(d, 1.0, p=0.01) for d in (64, 128, 256)]
    assert grows[2] / grows[1] > grows[1] / grows[0] > 10                   # exponential in d


def test_capacity_curve_is_exponential_for_modern_and_linear_for_classical():
    c = hopfield_capacity((8, 16, 24), betas=(0.25,), n_probes=32, n_max=2 ** 12, seed=0)
    m = c.modern[0].astype(float)
    assert not c.modern_censored.any()
    # log-capacity rises by a roughly constant step per 8 dimensions (exponential growth) ...
    assert m[1] / m[0] >= 3 and m[2] / m[1] >= 3
    # ... while the classical network stays below d / 2 (linear at most)
    assert np.all(c.classical >= 1) and np.all(c.classical <= c.dims / 2)
    assert np.allclose(c.classical_0138, 0.138 * c.dims)
    # the capacity found is consistent with hopfield_retrieval's share around it
    rows = c.rows()
    assert {r["network"] for r in rows} == {"modern", "classical"} and len(rows) == 6


def test_capacity_rejects_bad_input():
    with pytest.raises(InputError, match="The `dims` parameter of hopfield_capacity"):
        hopfield_capacity((1, 8))
    with pytest.raises(InputError, match="The `p` parameter of hopfield_capacity must be < 1"):
        hopfield_capacity((8,), p=1.0)
    with pytest.raises(InputError,
                       match="The `n_max` parameter of hopfield_capacity would need .* Use a smaller `n_max`"):
        hopfield_capacity((4096,), n_max=2 ** 27)
    with pytest.raises(InputError, match="The `network` parameter of hopfield_retrieval must be one of"):
        hopfield_retrieval(8, 4, network="dense")
    with pytest.raises(InputError, match="The `seed` parameter of hopfield_retrieval"):
        hopfield_retrieval(8, 4, seed=-1)


# ----------------------------------------------------------------------------- command and report
def _main(argv):
    """`seminfo energy ...` through its own parser and main's error handling."""
    import sys

    from seminfo.cli import energy
    from seminfo.cli._common import OneLineParser, user_message
    from seminfo.errors import SeminfoError
    p = OneLineParser(prog="seminfo")
    sub = p.add_subparsers(dest="command", parser_class=OneLineParser)
    energy.register(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except SeminfoError as exc:
        print(f"seminfo energy: error: {user_message(exc, 'seminfo energy', args.flags)}", file=sys.stderr)
        return 2


def _examples():
    from seminfo.cli import energy
    from seminfo.cli._common import OneLineParser
    p = OneLineParser(prog="seminfo")
    energy.register(p.add_subparsers(parser_class=OneLineParser))
    text = p._subparsers._group_actions[0].choices["energy"].format_help()
    return [ln.strip() for ln in text.rpartition("\nExamples:\n")[2].splitlines() if ln.strip()]


def test_cli_examples_run(tmp_path, monkeypatch, capsys):
    import json

    from seminfo.models.builtin import corpus_path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_bytes(corpus_path("valid").read_bytes()[:1500])
    outs = []
    for line in _examples():
        capsys.readouterr()
        assert _main(shlex.split(line)[1:]) == 0, line
        outs.append(capsys.readouterr().out)
    js = json.loads(outs[0])["boltzmann"]
    assert js["model"] == "builtin:ngram" and abs(js["mean_free_energy_nats"][20]) < 1e-9   # T = 1
    assert "share_pure_nonincreasing" in outs[1] and "pure update non-increasing in 1.0000" in outs[1]
    cap = json.loads(outs[2])["capacity"]
    assert [r["network"] for r in cap["rows"]] == ["classical", "modern", "classical", "modern"]
    assert (tmp_path / "energy.png").stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["energy", "--model", "builtin:ngram"], "The `--model` option of seminfo energy and `--text` go together"),
    (["energy"], "seminfo energy has nothing to do"),
    (["energy", "--capacity", "--n-max", "0"], "The `--n-max` option of seminfo energy must be a positive"),
    (["energy", "--capacity", "--p", "1.5"], "The `--p` option of seminfo energy must be < 1"),
    (["energy", "--model", "builtin:ngram", "--text", "missing.txt"], "The `--text` option of seminfo energy"),
    (["energy", "--model", "builtin:ngram", "--text", "notes.txt", "--temperature", "0"],
     "The `--temperature` option of seminfo energy must be > 0"),
])
def test_cli_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("some text")
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_report_section_fast():
    from seminfo.report.core import ReportContext
    from seminfo.report.energy import build
    ctx = ReportContext(models=["builtin:ngram"], fast=True, progress=False, max_bytes=4000)
    s = build(ctx)
    assert s.key == "energy" and s.html.count("<img") == 3
    assert s.data["hopfield"]["share_pure_nonincreasing"] == 1.0
    assert abs(s.data["boltzmann"]["mean_free_energy_nats"][10]) < 1e-9          # T = 1 of 21
    assert len(s.data["capacity"]["dims"]) == 4
