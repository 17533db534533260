"""seminfo.embed.pmi and seminfo.embed.vectorize: PMI against its definition, the truncated SVD against
LAPACK and Eckart-Young, model shares against the optimum that bounds them, I_d against the exact
mutual information, InfoNCE against a closed form and its two ceilings; the command and the report
section on small inputs."""

import json
import math
import shlex

import numpy as np
import pytest
from scipy import sparse
from scipy.stats import binom

from seminfo.embed.pmi import (DENSE_SVD_MAX, cooccurrence, embedding_pmi_fit, model_pmi_fit, pmi_embedding,
                               pmi_matrix)
from seminfo.embed.vectorize import (context_joint, infonce_bound, infonce_curve, loglinear_fit,
                                     vectorization_curve)
from seminfo.errors import InputError, ShapeError
from seminfo.exact import entropy, mutual_information


def _counts(K, density, seed):
    """A random symmetric sparse count matrix with every row used."""
    rng = np.random.default_rng(seed)
    C = sparse.random(K, K, density=density, random_state=rng, data_rvs=lambda n: rng.integers(1, 20, n))
    C = (C + C.T + sparse.eye(K)).tocsr()
    return C


def _pmi_dense(C, k=1.0, positive=True, alpha=1.0):
    C = np.asarray(C, dtype=float)
    D = C.sum()
    pr = C.sum(1) / D
    pc = C.sum(0) ** alpha
    pc = pc / pc.sum()
    with np.errstate(divide="ignore"):
        M = np.log2(C / D) - np.log2(pr)[:, None] - np.log2(pc)[None, :] - math.log2(k)
    M[C == 0] = 0.0
    return np.maximum(M, 0.0) if positive else M


# ---------------------------------------------------------------------------------------------------
# counting and PMI

def test_cooccurrence_counts_every_pair_within_the_window():
    x = [0, 1, 2, 0, 1]
    c = cooccurrence(x, window=2)
    want = np.zeros((3, 3))
    for s in range(len(x)):
        for t in range(len(x)):
            if 0 < abs(s - t) <= 2:
                want[x[s], x[t]] += 1
    assert np.array_equal(c.counts.toarray(), want)
    assert c.counts.sum() == 2 * ((5 - 1) + (5 - 2)) and c.n_tokens == 5 and c.vocab_size == 3
    d = cooccurrence(x, window=2, directed=True).counts.toarray()
    assert np.array_equal(d + d.T, want) and d[0, 1] == 2 and d[1, 0] == 1


def test_cooccurrence_of_text_uses_the_tokenizer():
    from seminfo.models.capability import as_model
    tok = as_model("builtin:ngram", func="test").tokenizer
    text = "The list type is a mutable sequence. " * 5
    c = cooccurrence(text, tokenizer=tok, window=1)
    ids = tok.encode(text)
    assert c.vocab_size == 4096 and c.n_tokens == len(ids)
    assert c.counts[ids[0], ids[1]] >= 1 and c.counts.sum() == 2 * (len(ids) - 1)


def test_pmi_matrix_matches_its_definition():
    C = _counts(30, 0.2, 1).toarray()
    for kw in ({}, {"shift": 5.0}, {"positive": False}, {"alpha": 0.75}, {"shift": 2.0, "alpha": 0.75}):
        got = pmi_matrix(C, **kw).toarray()
        want = _pmi_dense(C, kw.get("shift", 1.0), kw.get("positive", True), kw.get("alpha", 1.0))
        assert np.allclose(got, want, atol=1e-12), kw
    # independent counts: PMI is exactly zero
    assert pmi_matrix(np.outer([1, 2, 3], [2, 2, 4])).nnz == 0


# ---------------------------------------------------------------------------------------------------
# the truncated SVD and Eckart-Young

def test_pmi_embedding_is_the_eckart_young_optimum():
    C = _counts(60, 0.15, 2)
    M = _pmi_dense(C.toarray())
    s_all = np.linalg.svd(M, compute_uv=False)
    total = np.sum(M ** 2)
    rng = np.random.default_rng(0)
    for d in (1, 5, 20, 60):
        e = pmi_embedding(C, dim=d)
        assert e.vectors.shape == (60, d) and e.method == "dense-svd"
        assert np.allclose(e.singular_values, s_all[:d], rtol=1e-10)
        assert e.captured == pytest.approx(np.sum(s_all[:d] ** 2) / total, rel=1e-12)
        assert 0 <= e.captured <= 1 and np.all(np.diff(e.captured_by_rank) >= 0)
        Md = e.vectors @ e.context_vectors.T                                   # U_d S_d V_d^T
        assert 1 - np.sum((M - Md) ** 2) / total == pytest.approx(e.captured, abs=1e-10)
        # no other rank-d matrix does better: projections onto random d-frames, and a least-squares
        # factorisation fitted from a random start
        for _ in range(20):
            Q, _ = np.linalg.qr(rng.standard_normal((60, d)))
            assert np.sum((Q.T @ M) ** 2) / total <= e.captured + 1e-12
        A = rng.standard_normal((60, d))
        for _ in range(5):                                                     # alternating least squares
            B = np.linalg.lstsq(A, M, rcond=None)[0].T
            A = np.linalg.lstsq(B, M.T, rcond=None)[0].T
        assert 1 - np.sum((M - A @ B.T) ** 2) / total <= e.captured + 1e-9
    assert pmi_embedding(C, dim=60).captured == pytest.approx(1.0, abs=1e-12)


def test_sparse_route_agrees_with_lapack_and_inputs_agree():
    K = DENSE_SVD_MAX + 76
    C = _counts(K, 0.004, 3)
    e = pmi_embedding(C, dim=12, seed=1)
    assert e.method == "propack"
    s = np.linalg.svd(pmi_matrix(C).toarray(), compute_uv=False)
    assert np.allclose(e.singular_values, s[:12], rtol=1e-9)
    assert e.captured == pytest.approx(np.sum(s[:12] ** 2) / np.sum(s ** 2), rel=1e-9)
    small = _counts(20, 0.3, 4)
    a, b = pmi_embedding(small, dim=3), pmi_embedding(small.toarray(), dim=3)
    assert np.allclose(a.singular_values, b.singular_values)
    x = np.random.default_rng(0).integers(0, 8, 500)
    c = cooccurrence(x, window=3)
    assert pmi_embedding(c, dim=2).captured == pmi_embedding(c.counts, dim=2).captured


def test_zero_pmi_has_nothing_to_capture():
    e = pmi_embedding(np.outer([1, 2, 3], [1, 2, 3]), dim=2)
    assert e.captured == 1.0 and e.frobenius_sq == 0.0 and np.all(e.singular_values == 0)


# ---------------------------------------------------------------------------------------------------
# a model's embeddings against the optimum

def test_embedding_share_never_exceeds_the_rank_m_plus_1_optimum():
    C = _counts(80, 0.1, 5)
    M = _pmi_dense(C.toarray())
    rng = np.random.default_rng(1)
    for m in (1, 3, 10):
        E, W = rng.standard_normal((80, m)), rng.standard_normal((80, m))
        fit = embedding_pmi_fit(C, E, W)
        assert not fit.tied and fit.n_tokens == 80 and fit.embedding_dim == m
        s = np.linalg.svd(M, compute_uv=False)
        assert fit.optimum == pytest.approx(np.sum(s[:m + 1] ** 2) / np.sum(s ** 2), rel=1e-10)
        pairs = {"input": (E, E), "output": (W, W), "input-output": (E, W)}
        for row in fit.rows:
            assert row["share"] <= fit.optimum + 1e-12
            X, Y = pairs[row["inner_product"]]
            G = X @ Y.T                                                        # the closed form, checked
            A = np.c_[G.ravel(), np.ones(G.size)]
            coef = np.linalg.lstsq(A, M.ravel(), rcond=None)[0]
            share = 1 - np.sum((M.ravel() - A @ coef) ** 2) / np.sum(M ** 2)
            assert row["share"] == pytest.approx(share, abs=1e-10)
            assert row["scale"] == pytest.approx(coef[0], rel=1e-8, abs=1e-12)
    # the PMI-SVD factors themselves reach at least captured(m) through E W^T, and never pass captured(m+1)
    e = pmi_embedding(C, dim=6)
    fit = embedding_pmi_fit(C, e.vectors, e.context_vectors)
    row = next(r for r in fit.rows if r["inner_product"] == "input-output")
    assert e.captured - 1e-10 <= row["share"] <= fit.optimum + 1e-12
    assert fit.optimum_same_rank == pytest.approx(e.captured, rel=1e-10)


def test_embedding_fit_restricts_to_frequent_tokens_that_occur():
    C = _counts(40, 0.2, 6).toarray()
    C[7, :] = C[:, 7] = 0                                                      # token 7 never occurs
    E = np.random.default_rng(2).standard_normal((40, 4))
    fit = embedding_pmi_fit(C, E, max_vocab=10)
    freq = C.sum(1)
    assert fit.n_tokens == 10 and 7 not in fit.tokens and fit.tied
    assert set(fit.tokens) == set(np.argsort(-freq, kind="stable")[:10])
    assert all(r["share"] <= fit.optimum + 1e-12 for r in fit.rows)


def test_model_pmi_fit_on_a_tiny_untied_model():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from seminfo.models.capability import as_model
    from seminfo.models.hf import HFModel
    tok = as_model("builtin:ngram", func="test").tokenizer
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=4096, n_embd=8, n_layer=1, n_head=2, n_positions=32, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=0))
    model = HFModel(hf.eval(), tok, name="tiny", device="cpu", prefix=(0,))
    from seminfo.models.builtin import corpus_path
    fit = model_pmi_fit(model, corpus_path("valid").read_bytes()[:20_000], window=2, max_vocab=300)
    assert fit.model == "tiny" and not fit.tied and fit.embedding_dim == 8 and fit.n_tokens == 300
    shares = [r["share"] for r in fit.rows]
    assert len(set(shares)) == 3 and max(shares) <= fit.optimum
    assert fit.extra["window"] == 2 and fit.extra["n_corpus_tokens"] > 3000


# ---------------------------------------------------------------------------------------------------
# optimal vectorisation

def test_context_joint_gives_the_exact_predictive_information():
    from seminfo.sources import MarkovSource
    src = MarkovSource.random(3, order=2, seed=0)
    J = context_joint(src)
    assert J.shape == (9, 3)
    # I(X_{t+1}; X^t) = H(X) - h for a stationary order-k chain
    assert mutual_information(J) == pytest.approx(entropy(J.sum(0)) - src.entropy_rate(), abs=1e-12)
    assert context_joint(src, context=1).shape == (3, 3)


def test_loglinear_information_is_exact_minus_a_divergence():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(12)).reshape(4, 3)
    I = mutual_information(P)
    for d in (1, 2, 5):
        fit = loglinear_fit(P, dim=d, seed=d)
        # recompute E_X D(p(.|X) || p_d(.|X)) from the returned vectors
        L = fit.u @ fit.v.T / fit.tau
        q = np.exp(L - L.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        cond = P / P.sum(1, keepdims=True)
        kl = float(np.sum(P * np.log2(cond / q)))
        assert fit.gap == pytest.approx(kl, abs=1e-9) and fit.information == pytest.approx(I - kl, abs=1e-9)
        assert fit.information <= I + 1e-12 and fit.exact == pytest.approx(I, abs=1e-12)
        assert np.allclose(np.linalg.norm(fit.u, axis=1), 1) and np.allclose(np.linalg.norm(fit.v, axis=1), 1)
    # full rank (+2 for the sphere) reaches the exact value; free vectors need rank K_Y
    assert loglinear_fit(P, dim=5).information == pytest.approx(I, abs=1e-6)
    assert loglinear_fit(P, dim=3, sphere=False).information == pytest.approx(I, abs=1e-6)


def test_vectorization_curve_rises_to_the_exact_value():
    from seminfo.sources import MarkovSource
    J = context_joint(MarkovSource.random(3, order=1, seed=4, concentration=0.5))
    c = vectorization_curve(J, dims=[1, 2, 3, 4, 5], max_iter=500)
    assert np.all(c.information <= c.exact + 1e-9)
    assert np.all(np.diff(c.information) >= -1e-6)                  # warm starts: non-decreasing
    assert c.information[-1] == pytest.approx(c.exact, abs=1e-5)
    # independent X and Y: nothing to carry; with a bias the marginal is matched exactly
    ind = np.outer([0.2, 0.8], [0.5, 0.3, 0.2])
    assert vectorization_curve(ind, dims=[1, 2], bias=True).information == pytest.approx([0, 0], abs=1e-7)


# ---------------------------------------------------------------------------------------------------
# InfoNCE

def test_infonce_on_a_noiseless_copy_matches_its_closed_form():
    # X uniform on K, Y = X: each term is log2 N - log2(1 + B), B ~ Binomial(N - 1, 1/K)
    K = 8
    P = np.eye(K) / K
    for N in (2, 16, 256):
        e = infonce_bound(P, n_negatives=N, n_samples=20_000, seed=N)
        k = np.arange(N)
        want = float(np.sum(binom.pmf(k, N - 1, 1 / K) * (math.log2(N) - np.log2(1 + k))))
        assert abs(e.value - want) < 4 * e.stderr and e.units == "bits" and e.n == 20_000
        assert e.extra["log2_n"] == math.log2(N) and e.extra["exact_bits"] == pytest.approx(3.0)


@pytest.mark.parametrize("critic", ["optimal", "learned"])
def test_infonce_never_exceeds_min_of_I_and_log_n(critic):
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.full(36, 0.3)).reshape(6, 6)
    I = mutual_information(P)
    for N in (2, 4, 64, 4096):
        e = infonce_bound(P, n_negatives=N, critic=critic, n_samples=4000, seed=N)
        assert e.value <= math.log2(N) + 1e-12                       # every term is <= log2 N
        assert e.value <= min(I, math.log2(N)) + 3 * e.stderr
    big = infonce_bound(P, n_negatives=4096, n_samples=4000, seed=1)
    assert abs(big.value - I) < 4 * big.stderr + 0.01                # the optimal critic reaches I


def test_learned_critic_is_no_better_than_the_optimal_one():
    from seminfo.sources import MarkovSource
    J = context_joint(MarkovSource.random(4, order=1, seed=6, concentration=0.3))
    c = infonce_curve(J, n_negatives=[2, 32, 1024], n_samples=3000, seed=2)
    se = np.sqrt(c.optimal_stderr ** 2 + c.learned_stderr ** 2)
    assert np.all(c.learned <= c.optimal + 3 * se)
    assert np.all(c.optimal <= c.log2_n + 1e-12) and np.all(c.optimal <= c.exact + 3 * c.optimal_stderr)
    given = infonce_bound(J, n_negatives=32, critic=np.zeros(J.shape), n_samples=100)
    assert given.value == pytest.approx(0.0, abs=1e-12)              # a constant critic carries nothing


def test_infonce_of_independent_variables_is_zero():
    e = infonce_bound(np.outer([0.3, 0.7], [0.1, 0.2, 0.7]), n_negatives=64, n_samples=500)
    assert abs(e.value) < 1e-12 and e.stderr < 1e-12


# ---------------------------------------------------------------------------------------------------
# bad input: one-line errors naming the parameter, before any work

@pytest.mark.parametrize("call, match", [
    (lambda: pmi_embedding([[1, 2], [2, 1]], dim=3), r"The `dim` parameter of pmi_embedding must be an integer <= 2"),
    (lambda: pmi_embedding([[1, 2, 3]], dim=1), r"The `counts` parameter of pmi_embedding must be a non-empty square"),
    (lambda: pmi_embedding([[1, -2], [2, 1]], dim=1), r"The `counts` parameter of pmi_embedding must be non-negative"),
    (lambda: pmi_embedding(np.zeros((3, 3)), dim=1), r"at least one positive count"),
    (lambda: pmi_matrix([[1, 2], [2, 1]], shift=0), r"The `shift` parameter of pmi_matrix must be > 0"),
    (lambda: pmi_matrix([[1, 2], [2, 1]], alpha=1.5), r"The `alpha` parameter of pmi_matrix must be <= 1"),
    (lambda: cooccurrence([0, 1, 2], window=0), r"The `window` parameter of cooccurrence must be a positive"),
    (lambda: cooccurrence("some text"), r"The `tokenizer` parameter of cooccurrence is needed"),
    (lambda: cooccurrence([0, 5], vocab_size=3), r"The `vocab_size` parameter of cooccurrence must exceed"),
    (lambda: embedding_pmi_fit([[1, 2], [2, 1]], np.ones((3, 2))), r"The `input_embeddings` parameter of "
                                                                   r"embedding_pmi_fit must have shape \(K, m\)"),
    (lambda: infonce_bound([[0.5, 0.5]], n_negatives=0), r"The `n_negatives` parameter of infonce_bound must be a pos"),
    (lambda: infonce_bound([[0.5, 0.6]], n_negatives=2), r"The `joint` parameter of infonce_bound must sum to 1"),
    (lambda: infonce_bound([[0.5, 0.5]], n_negatives=2, critic="best"),
     r"The `critic` parameter of infonce_bound must be one of"),
    (lambda: infonce_bound([[0.5, 0.5]], n_negatives=2, critic=np.zeros((2, 2))),
     r"The `critic` parameter .* shape of `joint`"),
    (lambda: loglinear_fit([[0.5, 0.5]], dim=0), r"The `dim` parameter of loglinear_fit must be a positive"),
    (lambda: loglinear_fit([[0.5, 0.5]], dim=1, sphere=False, tau=0.5),
     r"The `tau` parameter of loglinear_fit applies"),
    (lambda: vectorization_curve([[0.5, 0.5]], dims=[3, 2]),
     r"The `dims` parameter of vectorization_curve must be a non-empty increasing"),
    (lambda: context_joint("markov"), r"The `source` parameter of context_joint must be a finite-state source"),
])
def test_bad_input_is_one_line(call, match):
    with pytest.raises(InputError, match=match) as exc:
        call()
    assert "\n" not in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_sizes_are_checked_before_allocating():
    from seminfo.sources import MarkovSource
    with pytest.raises(InputError, match="would need"):
        context_joint(MarkovSource.random(4, order=1, seed=0), context=12)
    with pytest.raises(ShapeError):
        embedding_pmi_fit([[1, 2], [2, 1]], np.ones((2, 2)), np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------------
# the command and the report section

def _embed_main(line, capsys):
    from seminfo.cli import embed
    from seminfo.cli._common import OneLineParser, user_message
    from seminfo.errors import SeminfoError
    parser = OneLineParser(prog="seminfo")
    embed.register(parser.add_subparsers(dest="command", parser_class=OneLineParser))
    args = parser.parse_args(shlex.split(line)[1:])
    capsys.readouterr()
    try:
        rc = args.func(args)
    except SeminfoError as exc:
        return 2, "", user_message(exc, "seminfo embed", args.flags)
    out, err = capsys.readouterr()
    return rc, out, err


def test_embed_command_pmi_json_agrees_with_the_library(tmp_path, capsys, monkeypatch):
    from seminfo.models.builtin import corpus_path
    monkeypatch.chdir(tmp_path)
    text = corpus_path("valid").read_bytes()[:3000]
    (tmp_path / "notes.txt").write_bytes(text)
    rc, out, _ = _embed_main("seminfo embed pmi --model builtin:ngram --text notes.txt --dim 2 --dim 8 --json "
                             "--plot pmi.png", capsys)
    assert rc == 0 and (tmp_path / "pmi.png").stat().st_size > 0
    got = json.loads(out)
    co = cooccurrence(text, tokenizer="builtin:ngram", window=2)
    e = pmi_embedding(co, dim=8)
    assert [r["dim"] for r in got["rows"]] == [2, 8]
    assert got["rows"][1]["captured"] == pytest.approx(e.captured, rel=1e-9)
    assert got["rows"][0]["captured"] == pytest.approx(e.captured_by_rank[1], rel=1e-9)
    rc, _, err = _embed_main("seminfo embed pmi --model builtin:ngram --text notes.txt --window 0", capsys)
    assert rc == 2 and err == "The `--window` option of seminfo embed must be a positive integer. Got 0."
    rc, _, err = _embed_main("seminfo embed pmi --text notes.txt --other builtin:gpt", capsys)
    assert rc == 2 and "applies to the gw analysis only" in err


def test_report_section_fast(tmp_path):
    from seminfo.report.core import ReportContext
    from seminfo.report.embedding import build
    ctx = ReportContext(models=["builtin:ngram"], fast=True, progress=False)
    s = build(ctx)
    d = s.data
    assert s.key == "embedding" and "no embedding matrices" in s.html
    assert d["pmi_svd"]["vocab_size"] == 4096 and np.all(np.diff(d["pmi_svd"]["captured_by_rank"]) >= 0)
    v = d["vectorization"]
    assert max(v["information_bits"]) <= v["exact_bits"] + 1e-9
    n = d["infonce"]
    assert all(o <= math.log2(N) + 1e-12 for o, N in zip(n["optimal_bits"], n["n_negatives"]))
    assert s.html.count("<img") == 3
