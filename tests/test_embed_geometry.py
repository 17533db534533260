"""Geometry of embedding spaces (seminfo.embed.geometry): Gromov-Wasserstein against isometries and a
closed form, Johnson-Lindenstrauss against the Dasgupta-Gupta bound and the exact chi2 / Beta laws, TwoNN
against manifolds of known dimension, and the model-facing functions on tiny and built-in models."""

import math
import sys
import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from seminfo.embed.geometry import (embedding_matrices, gromov_wasserstein, intrinsic_dimension, jl_distortion,
                                    jl_epsilon, layer_intrinsic_dimension)
from seminfo.errors import CapabilityError, DependencyError, InputError, ShapeError


def _rotation(D, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(D, D)))
    return Q * np.sign(np.diag(R))


# --------------------------------------------------------------------------- Gromov-Wasserstein

def test_gw_of_a_cloud_with_itself_is_zero():
    X = np.random.default_rng(0).normal(size=(60, 5))
    r = gromov_wasserstein(X, X)
    assert abs(r.distance) < 1e-10 and r.metric < 1e-5
    assert r.n_points == (60, 60) and r.paired and r.converged


def test_gw_is_invariant_to_isometries_scale_and_row_order():
    """Rotation, reflection, translation, embedding in more dimensions and scaling leave GW at 0, and the
    solver finds it from the product start alone (rows shuffled, not paired)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 6))
    Q = _rotation(10, 2)[:6]                                   # (6, 10), orthonormal rows: an isometry
    Y = 3.0 * (X @ Q + rng.normal(size=10))
    perm = rng.permutation(80)
    r = gromov_wasserstein(X, Y[perm], paired=False)
    assert not r.paired and r.extra["start"] == "product"
    assert abs(r.distance) < 1e-9


def test_gw_two_points_against_equilateral_triangle_is_five_eighteenths():
    """Normalised distances are all 1 in both spaces; the cost of T is sum a_i^2 + sum b_j^2 - 2 sum T_ij^2,
    minimised at a vertex of the transport polytope: 1/2 + 1/3 - 2 * 5/18 = 5/18."""
    tri = [[0, 0], [1, 0], [0.5, math.sqrt(3) / 2]]
    r = gromov_wasserstein([[0.0], [2.0]], tri, return_coupling=True)
    assert r.distance == pytest.approx(5 / 18, abs=1e-9)
    assert r.metric == pytest.approx(0.5 * math.sqrt(5 / 18), abs=1e-9)
    T = r.coupling
    assert T.shape == (2, 3)
    assert np.allclose(T.sum(1), 1 / 2) and np.allclose(T.sum(0), 1 / 3)


def test_gw_is_positive_for_a_different_shape_and_symmetric():
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 2 * np.pi, 70)
    circle = np.c_[np.cos(t), np.sin(t)]
    segment = np.c_[rng.uniform(0, 1, 50), np.zeros(50)]
    xy = gromov_wasserstein(circle, segment)
    yx = gromov_wasserstein(segment, circle)
    assert xy.distance > 0.02
    assert xy.distance == pytest.approx(yx.distance, rel=1e-6)
    assert xy.n_points == (70, 50) and yx.n_points == (50, 70)


def test_gw_paired_subsample_takes_the_same_rows():
    """With equal row counts the same rows are drawn, so a cloud and its rotation stay at 0 after
    subsampling; unpaired subsamples of the same cloud are two different point sets (> 0)."""
    X = np.random.default_rng(4).normal(size=(300, 4))
    Y = X @ _rotation(4, 5)
    paired = gromov_wasserstein(X, Y, max_points=40, seed=7)
    assert paired.n_points == (40, 40) and abs(paired.distance) < 1e-9
    unpaired = gromov_wasserstein(X, Y, max_points=40, seed=7, paired=False)
    assert unpaired.distance > 1e-4
    again = gromov_wasserstein(X, Y, max_points=40, seed=7, paired=False)
    assert again.distance == unpaired.distance                  # the seed fixes the subsample


def test_gw_without_pot_raises_dependency_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ot", None)
    with pytest.raises(DependencyError, match=r"pip install 'seminfo\[embed\]'"):
        gromov_wasserstein([[0.0], [1.0]], [[0.0], [2.0]])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"X": [1.0, 2.0, 3.0]}, ShapeError, r"`X` parameter of gromov_wasserstein must be a 2-D array"),
    ({"X": [[1.0]]}, ShapeError, r"`X` .* at least 2 points"),
    ({"Y": [[np.nan], [1.0]]}, InputError, r"`Y` .* finite"),
    ({"Y": [[1.0], [1.0]]}, InputError, r"`Y` .* two distinct points"),
    ({"max_points": 1}, InputError, r"`max_points` .* >= 2"),
    ({"max_points": 10 ** 6}, InputError, r"`max_points` .* <= 5000"),
    ({"seed": -1}, InputError, r"`seed`"),
    ({"paired": True, "Y": [[0.0], [1.0], [2.0]]}, ShapeError, r"`paired` .* same number of rows"),
    ({"paired": "yes"}, InputError, r"`paired` .* True, False or None"),
])
def test_gw_bad_input(kwargs, error, match):
    args = {"X": [[0.0], [1.0]], "Y": [[0.0], [3.0]], **kwargs}
    X, Y = args.pop("X"), args.pop("Y")
    with pytest.raises(error, match=match):
        gromov_wasserstein(X, Y, **args)


# --------------------------------------------------------------------------- Johnson-Lindenstrauss

def test_jl_epsilon_solves_the_dasgupta_gupta_equation():
    for n, k in [(10, 200), (1000, 2000), (4096, 10 ** 5)]:
        eps = jl_epsilon(n, k)
        assert 0 < eps < 1
        assert eps ** 2 / 2 - eps ** 3 / 3 == pytest.approx(4 * math.log(n) / k, rel=1e-12)
    assert jl_epsilon(1000, math.floor(24 * math.log(1000))) == math.inf   # k <= 24 ln n: vacuous


def test_jl_distortion_within_the_bound_for_the_promised_fraction():
    X = np.random.default_rng(0).normal(size=(200, 800))
    r = jl_distortion(X, 600, n_pairs=2000, seed=1)
    assert r.epsilon_bound == pytest.approx(jl_epsilon(200, 600))
    assert r.promised_fraction == pytest.approx(1 - 2 / 200 ** 2)
    assert r.exact_fraction >= r.promised_fraction               # the proof's tail bound is a bound
    slack = 3 * math.sqrt(r.promised_fraction * (1 - r.promised_fraction) / r.n_pairs)
    assert r.fraction_within_bound >= r.promised_fraction - slack
    assert (r.max_distortion <= r.epsilon_bound) == (r.fraction_within_bound == 1.0)
    assert r.n_pairs == 2000 and r.k == 600 and r.d == 800 and r.n_points == 200


@pytest.mark.parametrize("method", ["gaussian", "orthogonal"])
def test_jl_median_distortion_matches_the_exact_law(method):
    """One pair's ratio is chi2_k / k (Gaussian) or (d/k) Beta(k/2, (d-k)/2) (orthogonal): the median of
    |ratio - 1| over many pairs sits within 10 % of the law's."""
    n, d, k = 200, 2000, 100
    X = np.random.default_rng(2).normal(size=(n, d))
    if method == "gaussian":
        F = lambda t: stats.chi2.cdf(k * (1 + t), k) - stats.chi2.cdf(k * (1 - t), k) - 0.5  # noqa: E731
    else:
        b = stats.beta(k / 2, (d - k) / 2)
        F = lambda t: b.cdf(k * (1 + t) / d) - b.cdf(k * (1 - t) / d) - 0.5                  # noqa: E731
    median = optimize.brentq(F, 1e-6, 1.0)
    r = jl_distortion(X, k, seed=3, method=method)
    assert r.median_distortion == pytest.approx(median, rel=0.10)
    assert r.median_distortion <= r.q90_distortion <= r.q99_distortion <= r.max_distortion


def test_jl_orthogonal_map_with_k_at_least_d_is_exact():
    X = np.random.default_rng(5).normal(size=(50, 30))
    for k in (30, 45):
        r = jl_distortion(X, k, method="orthogonal")
        assert r.max_distortion < 1e-12 and r.n_pairs == 50 * 49 // 2     # all pairs when few
        assert r.exact_fraction == 1.0


def test_jl_counts_duplicate_pairs_and_refuses_all_equal_rows():
    X = np.repeat(np.random.default_rng(6).normal(size=(5, 8)), 2, axis=0)   # each row twice
    r = jl_distortion(X, 4)
    assert r.n_zero_pairs == 5 and r.n_pairs == 45 - 5
    with pytest.raises(InputError, match="distinct points"):
        jl_distortion(np.ones((4, 3)), 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, r"`k` parameter of jl_distortion must be a positive integer"),
    ({"k": 2.5}, r"`k` .* integer"),
    ({"n_pairs": 0}, r"`n_pairs`"),
    ({"method": "sparse"}, r"`method`"),
    ({"seed": "a"}, r"`seed`"),
    ({"k": 10 ** 9}, r"`k` .* would need"),
])
def test_jl_bad_input(kwargs, match):
    args = {"k": 2, **kwargs}
    with pytest.raises(InputError, match=match):
        jl_distortion(np.eye(4), **args)


# --------------------------------------------------------------------------- TwoNN

def _within(r, d, z=3.0):
    return abs(r.value - d) < z * r.stderr


def test_twonn_linear_subspace():
    rng = np.random.default_rng(0)
    Z = rng.uniform(size=(2000, 3))
    X = Z @ _rotation(20, 1)[:3]                                  # a 3-d cube inside R^20
    r = intrinsic_dimension(X)
    assert _within(r, 3) and r.n == 2000 and r.units == "dimensions"
    assert r.stderr == pytest.approx(r.value / math.sqrt(2000 - 2))


def test_twonn_flat_torus_and_sphere_in_higher_dimension():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 2 * np.pi, size=(2000, 2))
    torus = np.c_[np.cos(a[:, 0]), np.sin(a[:, 0]), np.cos(a[:, 1]), np.sin(a[:, 1])] @ _rotation(10, 3)[:4]
    assert _within(intrinsic_dimension(torus), 2)
    g = rng.normal(size=(2000, 5))
    sphere = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ _rotation(12, 4)[:5]   # S^4 in R^12
    assert _within(intrinsic_dimension(sphere), 4)


def test_twonn_collapses_duplicates_and_flags_a_lattice():
    X = np.random.default_rng(5).normal(size=(300, 2))
    once = intrinsic_dimension(X)
    twice = intrinsic_dimension(np.vstack([X, X[:100]]))
    assert twice.value == once.value and twice.n == 300
    assert twice.extra == {"n_input": 400, "n_duplicates": 100}
    grid = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0)), -1).reshape(-1, 2)
    g = intrinsic_dimension(grid)                                 # every mu = 1
    assert g.value == math.inf and math.isnan(g.stderr) and "equidistant" in g.notes
    with pytest.raises(InputError, match="at least 3 distinct points"):
        intrinsic_dimension([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]])


def test_twonn_is_exact_for_distances_recomputed_at_small_scale():
    """Points 1e-7 apart, 1e3 from the origin: |x|^2 + |y|^2 - 2 x.y alone would drown their distances in
    rounding; centring and recomputed distances keep the estimate of the same cloud at the origin."""
    X = np.random.default_rng(6).normal(size=(400, 3)) * 1e-7
    far = intrinsic_dimension(X + 1e3)
    near = intrinsic_dimension(X)
    assert far.value == pytest.approx(near.value, rel=1e-4)


# --------------------------------------------------------------------------- models

def _tiny(tied):
    import torch
    import transformers
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                   tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0)
    return transformers.LlamaForCausalLM(cfg).eval()


def test_embedding_matrices_tied_and_untied():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        untied, tied = _tiny(False), _tiny(True)
    E, U = embedding_matrices(untied)
    assert E.shape == U.shape == (40, 16) and E.dtype == np.float64 and E is not U
    assert np.array_equal(E, untied.get_input_embeddings().weight.detach().double().numpy())
    assert np.array_equal(U, untied.get_output_embeddings().weight.detach().double().numpy())
    E2, U2 = embedding_matrices(tied)
    assert E2 is U2
    with pytest.raises(CapabilityError, match="`internals` capability"):
        embedding_matrices("builtin:ngram")


def test_layer_intrinsic_dimension_matches_residual_streams_on_builtin_gpt():
    from seminfo.flow import residual_streams
    from seminfo.models import load_model
    from seminfo.models.builtin import corpus_path
    m = load_model("builtin:gpt")
    text = corpus_path("valid").read_text(encoding="utf-8")[:4000]
    r = layer_intrinsic_dimension(m, text, max_tokens=300)      # longer than the context of 256
    L = m.hf_model.config.n_layer
    assert r.layers == list(range(L + 1)) and r.n_tokens == 300 and r.width == 192
    assert r.units == "dimensions" and r.dimension.shape == r.stderr.shape == (L + 1,)
    ids = m.tokenizer.encode(text)[:300]
    H = np.concatenate([residual_streams(m, ids[:255])[:, 1:], residual_streams(m, ids[255:])[:, 1:]], axis=1)
    for layer in (0, L):
        e = intrinsic_dimension(H[layer])
        assert r.dimension[layer] == pytest.approx(e.value, rel=1e-9)
        assert r.stderr[layer] == pytest.approx(e.value / math.sqrt(r.n_unique[layer] - 2), rel=1e-9)
    assert np.all((r.dimension > 0) & (r.dimension < r.width))
    with pytest.raises(InputError, match="`max_tokens` parameter of layer_intrinsic_dimension"):
        layer_intrinsic_dimension(m, text, max_tokens=2)
    with pytest.raises(InputError, match="`text` parameter of layer_intrinsic_dimension"):
        layer_intrinsic_dimension(m, "")


def test_extreme_scales_neither_overflow_nor_underflow():
    """Every figure here is scale-free: clouds at 1e200 or 1e-200 give the figures of the unit cloud."""
    X = np.random.default_rng(8).normal(size=(40, 3))
    for s in (1e200, 1e-200):
        assert abs(gromov_wasserstein(X, s * X).distance) < 1e-10
        assert intrinsic_dimension(s * X).value == pytest.approx(intrinsic_dimension(X).value, rel=1e-9)
        assert jl_distortion(s * X, 2).max_distortion == pytest.approx(jl_distortion(X, 2).max_distortion,
                                                                       rel=1e-9)
