"""Tests of R(D), D(R), curves, the information bottleneck and the log-loss frontier (seminfo.rd)."""

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

import seminfo
from seminfo.errors import DistributionError, InputError, ShapeError
from seminfo.rd import (distortion_rate, information_bottleneck, logloss_rate_distortion,
                        loss_memory_frontier, ngram_point, rate_distortion, rate_distortion_curve)
from seminfo.sources import MarkovSource


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def zipf(K):
    p = 1.0 / np.arange(1, K + 1)
    return p / p.sum()


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("p,D", [(0.3, 0.1), (0.5, 0.2), (0.1, 0.05), (0.3, 0.001)])
def test_bernoulli_hamming_closed_form(p, D):
    r = seminfo.rate_distortion([1 - p, p], 1 - np.eye(2), D=D)
    truth = h(p) - h(D)
    assert r.converged and r.upper - r.lower <= 1e-9
    assert r.lower - 1e-12 <= truth <= r.upper + 1e-12
    assert r.distortion == D


@pytest.mark.parametrize("M,D", [(4, 0.3), (16, 0.5), (64, 0.1)])
def test_uniform_mary_hamming_closed_form(M, D):
    r = rate_distortion(np.full(M, 1.0 / M), "hamming", D=D)
    truth = math.log2(M) - h(D) - D * math.log2(M - 1)
    assert r.lower - 1e-12 <= truth <= r.upper + 1e-12
    assert r.upper - r.lower <= 1e-9


def test_zipf_hamming_small_D_matches_erokhin_form():
    # for D below the smallest "water level" every letter is reproduced and
    # R(D) = H(X) - h(D) - D log(K - 1) (Erokhin 1958; Cover & Thomas ex. 10.5 style).
    p = zipf(64)
    D = 0.005
    r = rate_distortion(p, "hamming", D=D)
    H = float(-(p * np.log2(p)).sum())
    truth = H - h(D) - D * math.log2(63)
    assert r.lower - 1e-12 <= truth <= r.upper + 1e-12


def test_slope_point_lies_on_curve_and_kernel_is_consistent():
    r = rate_distortion([0.7, 0.3], "hamming", slope=-2.0)
    assert r.lower - 1e-12 <= h(0.3) - h(r.distortion) <= r.upper + 1e-12
    Q = r.conditional
    assert np.allclose(Q.sum(axis=1), 1.0)
    p = np.array([0.7, 0.3])
    joint = p[:, None] * Q
    assert abs(float((joint * (1 - np.eye(2))).sum()) - r.distortion) < 1e-12
    assert abs(seminfo.mutual_information(joint) - r.upper) < 1e-9
    # slope reported back in bits per distortion unit: h'(D) = log2((1 - D) / D)
    assert abs(-math.log2((1 - r.distortion) / r.distortion) - r.slope) < 1e-6


def test_endpoints_d_min_and_d_max():
    p = np.array([0.5, 0.3, 0.2])
    assert rate_distortion(p, "hamming", D=0.6).rate == 0.0        # D >= D_max = 1 - 0.5
    r0 = rate_distortion(p, "hamming", D=0.0)                      # lossless: H(X)
    H = float(-(p * np.log2(p)).sum())
    assert r0.lower - 1e-12 <= H <= r0.upper + 1e-12
    assert r0.slope == -math.inf


def test_reproduction_alphabet_differs_and_forbidden_pairs():
    # erasure distortion: source {0,1}, reproduction {0, e, 1}; d = 0 exact, 1 for the erasure,
    # inf for a wrong bit. R(D) = 1 - D for a uniform source (Cover & Thomas, problem 10.7).
    d = np.array([[0.0, 1.0, np.inf], [np.inf, 1.0, 0.0]])
    for D in (0.1, 0.5, 0.9):
        r = rate_distortion([0.5, 0.5], d, D=D)
        assert r.lower - 1e-12 <= 1 - D <= r.upper + 1e-12
        assert np.all(r.conditional[0, 2] == 0) and np.all(r.conditional[1, 0] == 0)
    assert rate_distortion([0.5, 0.5], d, D=1.0).rate == 0.0


def test_zero_probability_letters_are_allowed():
    r = rate_distortion([0.7, 0.0, 0.3], "hamming", D=0.1)
    assert abs(r.rate - (h(0.3) - h(0.1))) < 1e-9
    assert r.conditional.shape == (3, 3)


def test_distortion_rate_inverts_rate_distortion():
    p = zipf(32)
    r = rate_distortion(p, "hamming", D=0.2)
    dr = distortion_rate(p, "hamming", R=r.rate)
    assert dr.upper - dr.lower <= 1e-9
    assert abs(dr.distortion - 0.2) < 1e-6   # D(R) slope is finite: 1e-9 bits ~ 1e-9/|slope|


# --------------------------------------------------------------------------- properties
def test_curve_is_convex_non_increasing_and_certified():
    p = zipf(64)
    c = rate_distortion_curve(p, "hamming")
    D, lo, up = c.distortion, c.lower, c.upper
    assert c.converged and np.all(up - lo <= 1e-9)
    assert np.all(np.diff(D) > 0) and np.all(np.diff(c.rate) <= 1e-12)
    slopes = np.diff(c.rate) / np.diff(D)
    assert np.all(np.diff(slopes) >= -1e-6)                       # convex
    assert c.max_chord_error <= 1e-3 * c.rate[0] + 1e-12
    # each interval is consistent with the value recomputed to 1e-12 (the intervals intersect,
    # so the true value, in both, is within the curve's interval)
    for i in (1, len(D) // 2, len(D) - 2):
        ref = rate_distortion(p, "hamming", D=float(D[i]), tol=1e-12)
        assert ref.upper - ref.lower <= 1e-12
        assert max(lo[i], ref.lower) <= min(up[i], ref.upper) + 1e-14


def test_intervals_contain_high_precision_value_random_problems():
    rng = np.random.default_rng(3)
    for _ in range(4):
        K, M = rng.integers(2, 7, size=2)
        p = rng.dirichlet(np.ones(K))
        d = rng.random((K, M)) * 3
        c = rate_distortion_curve(p, d, max_points=8)
        D = 0.5 * (c.distortion[1] + c.distortion[2])
        loose = rate_distortion(p, d, D=D, tol=1e-6)
        tight = rate_distortion(p, d, D=D, tol=1e-12)
        assert max(loose.lower, tight.lower) <= min(loose.upper, tight.upper) + 1e-14
        assert loose.lower - 1e-12 <= tight.rate <= loose.upper + 1e-12
        assert loose.upper - loose.lower <= 1e-6


def test_max_iter_reports_non_convergence():
    with pytest.warns(RuntimeWarning, match="max_iter=1 before the certified width"):
        r = rate_distortion(zipf(64), "hamming", slope=-3.0, max_iter=1)
    assert not r.converged
    assert r.lower <= r.upper


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_specific_errors():
    with pytest.raises(DistributionError, match="`p_x` parameter of rate_distortion must sum to 1"):
        rate_distortion([0.5, 0.6], "hamming", D=0.1)
    with pytest.raises(ShapeError, match=r"must have shape \(K, M\) = \(2, M\)"):
        rate_distortion([0.5, 0.5], np.ones((3, 2)), D=0.1)
    with pytest.raises(InputError, match="must not contain NaN"):
        rate_distortion([0.5, 0.5], [[0, np.nan], [1, 0]], D=0.1)
    with pytest.raises(InputError, match="must be >= the minimum achievable distortion"):
        rate_distortion([0.5, 0.5], [[0.2, 1], [1, 0.2]], D=0.1)
    with pytest.raises(InputError, match="forbids every reproduction of source letter 1"):
        rate_distortion([0.5, 0.5], [[0, 1], [np.inf, np.inf]], D=0.5)
    with pytest.raises(InputError, match="exactly one of the `D` and `slope`"):
        rate_distortion([0.5, 0.5], "hamming")
    with pytest.raises(InputError, match="must be <= 0.0"):
        rate_distortion([0.5, 0.5], "hamming", slope=1.0)
    with pytest.raises(InputError, match="one of 'hamming', 'squared'"):
        rate_distortion([0.5, 0.5], "manhattan", D=0.1)


# --------------------------------------------------------------------------- information bottleneck
def test_ib_matches_mrs_gerber_curve_on_dsbs():
    eps = 0.1
    p = np.array([[0.5 * (1 - eps), 0.5 * eps], [0.5 * eps, 0.5 * (1 - eps)]])

    def gerber(R):
        if R >= 1:
            return 1 - h(eps)
        a = brentq(lambda a: h(a) - (1 - R), 0, 0.5) if R > 1e-12 else 0.5
        return 1 - h(eps * (1 - a) + a * (1 - eps))
    c = information_bottleneck(p)
    assert len(c.i_xt) > 10
    for xt, ty in zip(c.i_xt, c.i_ty):
        assert abs(ty - gerber(xt)) < 1e-6
    assert np.all(c.i_ty <= c.i_xt + 1e-12) and np.all(c.i_ty <= c.i_xy + 1e-12)
    assert abs(c.i_ty[-1] - c.i_xy) < 1e-6


# --------------------------------------------------------------------------- log-loss
def test_logloss_rate_distortion_closed_form():
    assert logloss_rate_distortion([0.5, 0.5], 0.25) == 0.75
    assert logloss_rate_distortion([0.25] * 4, 3.0) == 0.0
    with pytest.raises(InputError, match="`D` parameter of logloss_rate_distortion must be >= 0"):
        logloss_rate_distortion([0.5, 0.5], -1)


def test_loss_memory_frontier_and_model_points():
    src = MarkovSource.random(3, order=2, seed=1, concentration=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f = loss_memory_frontier(src, betas=np.geomspace(0.5, 1e3, 30))
    assert abs(f.loss[0] - f.unigram_entropy) < 1e-9 and abs(f.loss[-1] - f.entropy_rate) < 1e-9
    assert np.all(np.diff(f.memory) > 0) and np.all(np.diff(f.loss) < 0)
    # the exact "keep the last c tokens" points lie on or above the frontier
    for _, mem, loss in f.context_points:
        assert loss >= np.interp(mem, f.memory, f.loss) - 1e-9
    pt = ngram_point(src, 3, n_train=20_000, n_test=4_000)
    frontier = np.interp(pt.memory, f.memory, f.loss)
    assert pt.loss.value >= frontier - 4 * pt.loss.stderr
    assert abs(pt.loss.value - src.entropy_rate()) < 5 * pt.loss.stderr + 0.02   # small KN bias


# --------------------------------------------------------------------------- CLI and report
def test_cli_rd_json_csv_and_plot(tmp_path, capsys):
    import json
    from seminfo.cli.main import main
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"p": [0.7, 0.3]}))
    assert main(["rd", str(f), "--D", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == "bits/symbol"
    assert abs(out["points"][0]["rate_bits"] - (h(0.3) - h(0.1))) < 1e-9
    d = tmp_path / "d.npy"
    np.save(d, 1 - np.eye(2))
    png = tmp_path / "rd.png"
    assert main(["rd", str(f), "--distortion", str(d), "--csv", "--plot", str(png)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("distortion,rate_bits") and len(lines) > 5
    assert png.stat().st_size > 1000
    assert main(["rd", str(f), "--D", "-1"]) == 2
    assert "`--D`" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[0.5, 0.6]")
    assert main(["rd", str(bad)]) == 2
    assert "must sum to 1" in capsys.readouterr().err


def test_report_section_fast():
    from seminfo.report.rd import build
    from seminfo.report.core import ReportContext
    s = build(ReportContext(models=["builtin:gpt"], fast=True))
    assert s.key == "rd" and s.html.count("<img") == 3
    assert set(s.data) == {"rate_distortion", "loss_memory", "rate_reward"}
    assert s.data["rate_distortion"]["max_width_bits"] <= 1e-9


# --------------------------------------------------------------------------- audit additions
@pytest.mark.parametrize("M,D", [(256, 0.1), (256, 1e-5), (8, 0.01), (2, 0.2)])
def test_intervals_contain_closed_form_without_slack(M, D):
    # rounding is part of the certificate: no tolerance beyond the interval itself
    r = rate_distortion(np.full(M, 1.0 / M), "hamming", D=D)
    truth = math.log2(M) - h(D) - D * math.log2(M - 1)
    assert r.lower <= truth <= r.upper and r.upper - r.lower <= 1e-9
    s = rate_distortion(np.full(M, 1.0 / M), "hamming", slope=-4.0)
    truth = math.log2(M) - h(s.distortion) - s.distortion * math.log2(M - 1)
    assert s.lower <= truth <= s.upper


def test_no_single_reproduction_column_is_certified_beyond_last_point():
    # every letter must be reproduced exactly (no finite column): R(D) = H(X) for all D
    d = np.array([[0.0, np.inf], [np.inf, 0.0]])
    for D in (0.0, 0.5, 3.0):
        r = rate_distortion([0.5, 0.5], d, D=D)
        assert r.converged and r.lower <= 1.0 <= r.upper
    r = rate_distortion([0.4, 0.3, 0.3], [[0, np.inf, 2.0], [np.inf, 0, np.inf], [1, 0, np.inf]], D=2.0)
    assert r.converged and r.width <= 1e-9


def test_curve_chord_error_is_certified_even_when_capped():
    D = np.linspace(0, 0.3, 3001)[1:-1]
    truth = np.array([h(0.3) - h(x) for x in D])
    for kw in ({}, {"max_points": 5}, {"resolution": 1e-6, "max_points": 60}):
        c = rate_distortion_curve([0.7, 0.3], "hamming", **kw)
        err = np.interp(D, c.distortion, c.rate) - truth
        assert err.max() <= c.max_chord_error + 1e-9
    assert c.max_chord_error < 1e-3                        # the cap spreads points, not one end
