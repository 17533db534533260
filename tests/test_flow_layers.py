"""Logit lens (GPT-2, Llama, Mamba, Mamba2 built from configs) and attention as a time-varying VAR."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from seminfo.errors import InputError  # noqa: E402
from seminfo.flow import attention_var, logit_lens  # noqa: E402

IDS = np.array([1, 5, 7, 9, 3, 2, 11, 40, 33, 8])


def _tiny(kind):
    torch.manual_seed(0)
    t = transformers
    if kind == "gpt2":
        m = t.GPT2LMHeadModel(t.GPT2Config(vocab_size=64, n_embd=32, n_layer=3, n_head=4, n_positions=64,
                                           bos_token_id=0, eos_token_id=0))
    elif kind == "llama":
        m = t.LlamaForCausalLM(t.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=3, num_attention_heads=4,
                                             num_key_value_heads=2, max_position_embeddings=64,
                                             attention_bias=True, bos_token_id=0, eos_token_id=0))
    elif kind == "mamba":
        m = t.MambaForCausalLM(t.MambaConfig(vocab_size=64, hidden_size=32, state_size=8,
                                             num_hidden_layers=3, expand=2, conv_kernel=4))
    else:
        m = t.Mamba2ForCausalLM(t.Mamba2Config(vocab_size=64, hidden_size=32, state_size=8,
                                               num_hidden_layers=3, expand=2, head_dim=8, num_heads=8,
                                               n_groups=1, conv_kernel=4, chunk_size=16))
    with torch.no_grad():                     # non-trivial biases and norms, so conventions matter
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name or "ln_" in name:
                p.add_(0.2 * torch.randn_like(p))
    return m.eval()


def _layer_outputs(m):
    """Capture each block's output with hooks (independent of output_hidden_states)."""
    base = m.base_model
    blocks = getattr(base, "h", None) or getattr(base, "layers")
    got = []
    hooks = [b.register_forward_hook(lambda mod, a, out: got.append(out[0] if isinstance(out, tuple)
                                                                     else out)) for b in blocks]
    return got, hooks


@pytest.mark.parametrize("kind", ["gpt2", "llama", "mamba", "mamba2"])
def test_lens_last_layer_is_output_and_layers_follow_convention(kind):
    m = _tiny(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = logit_lens(m, IDS, return_log_probs=True)
        got, hooks = _layer_outputs(m)
        with torch.no_grad():
            out = m(torch.tensor(IDS[None]))
        for h in hooks:
            h.remove()
    final = torch.log_softmax(out.logits[0].double(), -1).numpy()
    assert r.layers == [0, 1, 2, 3]
    assert np.abs(r.log_probs[-1] - final).max() < 1e-5
    assert np.all(r.kl_to_final_bits[-1] == 0)
    assert np.all(r.final_token_rank[-1] == 0)
    # the last row above is the model's own logits; check independently that the lens of the last
    # residual stream (read through the head with no further norm: it is already normalised)
    # reproduces them, so the convention, not the substitution, is what is tested
    assert r.last_entry_normalised
    from seminfo.flow import residual_streams
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        H = residual_streams(m, IDS)
    W = m.get_output_embeddings().weight.detach().double().numpy()
    lens_last = torch.log_softmax(torch.from_numpy(H[-1] @ W.T), -1).numpy()
    assert np.abs(lens_last - final).max() < 1e-5
    # every intermediate layer l (1..L-1) is the block output read through the final norm + head
    norm = next(getattr(m.base_model, n) for n in ("ln_f", "norm_f", "norm") if hasattr(m.base_model, n))
    head = m.get_output_embeddings()
    with torch.no_grad():
        for layer in (1, 2):
            ref = torch.log_softmax(head(norm(got[layer - 1]))[0].double(), -1).numpy()
            assert np.abs(r.log_probs[layer] - ref).max() < 1e-5
        h0 = (m.get_input_embeddings()(torch.tensor(IDS[None])) if kind.startswith("mamba")
              else m(torch.tensor(IDS[None]), output_hidden_states=True).hidden_states[0])
        emb = torch.log_softmax(head(norm(h0))[0].double(), -1).numpy()
    assert np.abs(r.log_probs[0] - emb).max() < 1e-5
    # bits: entropy within [0, log2 K], KL >= 0 up to rounding
    assert np.all(r.entropy_bits >= -1e-9) and np.all(r.entropy_bits <= np.log2(64) + 1e-9)
    assert np.all(r.kl_to_final_bits >= -1e-9)
    assert r.next_token_rank.shape == (4, len(IDS) - 1)
    p = np.exp(r.log_probs[:, :-1])
    assert np.allclose(r.next_token_surprisal_bits,
                       -np.log2(p[:, np.arange(len(IDS) - 1), IDS[1:]]), atol=1e-5)


def test_lens_bad_input():
    m = _tiny("gpt2")
    with pytest.raises(InputError, match="needs a seminfo token model"):
        logit_lens(m, "some text")
    with pytest.raises(InputError, match="more than the model's context of 64"):
        logit_lens(m, np.zeros(65, dtype=int))
    with pytest.raises(InputError, match="must be a model spec such as 'builtin:gpt' or a seminfo model .* PreTrainedModel"):
        logit_lens(object(), IDS)
    with pytest.raises(Exception, match="symbols in 0..63"):
        logit_lens(m, [1, 64])


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_attention_var_reconstructs_head_outputs(kind):
    m = _tiny(kind)
    before = m.config._attn_implementation
    r = attention_var(m, IDS)
    L, H, T, _ = r.alpha.shape
    assert (L, H, T) == (3, 4, len(IDS))
    assert np.allclose(r.alpha.sum(-1), 1, atol=1e-6)
    assert np.all(np.triu(r.alpha, 1) == 0)                      # causal: no coefficient on the future
    scale = np.abs(r.outputs).max()
    assert r.max_reconstruction_error < 1e-5 * max(scale, 1.0)
    # one coefficient matrix applied by hand: o_i^h = sum_j A_ij x_j + W_O b_V
    i, h = T - 1, 2
    o = sum(r.coefficient(1, h, i, j) @ r.inputs[1, j] for j in range(T)) + r.ov_bias[1, h]
    assert np.allclose(o, r.head_outputs(1)[h, i], atol=1e-10)
    assert r.influence.shape == (L, H, T, T)
    assert m.config._attn_implementation == before            # restored after the call


def test_residual_streams_feed_linear_granger():
    from seminfo.flow import linear_granger, pca_trajectory, residual_streams
    m = _tiny("llama")
    ids = np.random.default_rng(0).integers(0, 64, 60)
    H = residual_streams(m, ids)
    assert H.shape == (4, 60, 32)
    with torch.no_grad():
        hs = m(torch.tensor(ids[None]), output_hidden_states=True).hidden_states
    assert np.allclose(H[-1], hs[-1][0].double().numpy())
    x, y = pca_trajectory(H[2], 2), pca_trajectory(H[0], 2)
    r = linear_granger(x, y, order=1)
    # independent check: TE = (1/2) log2(det Sigma_restricted / det Sigma_full) from two least-squares fits
    ones = np.ones((59, 1))
    restricted = np.hstack([ones, y[:-1]])
    full = np.hstack([ones, y[:-1], x[:-1]])

    def residual_cov(design):
        coef, *_ = np.linalg.lstsq(design, y[1:], rcond=None)
        e = y[1:] - design @ coef
        return e.T @ e / len(e)
    te = 0.5 * np.log2(np.linalg.det(residual_cov(restricted)) / np.linalg.det(residual_cov(full)))
    assert r.units == "bits/step" and te > 0
    assert r.value == pytest.approx(te, rel=1e-9)
