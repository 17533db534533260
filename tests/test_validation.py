"""Reliability of input validation (issue 14): one rule for arrays, sizes checked before allocating,
one-line InputErrors instead of raw numpy/python exceptions, one seed helper, one return type for
entropy rates. Every case uses tiny inputs: a size check must refuse before any work is done."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from seminfo._validate import (MAX_CELLS, as_finite, as_pmf, as_real, as_rng, as_stochastic, as_symbols,
                               check_size, int_power, one_of)
from seminfo.errors import AlphabetError, DistributionError, InputError, ShapeError
from seminfo.estimators import (CTWPredictor, estimate_directed_information, estimate_entropy_rate,
                                estimate_mutual_information, gaussian_mutual_information,
                                gaussian_transfer_entropy, ksg_mutual_information, surrogate_test,
                                transfer_entropy)
from seminfo.exact import (conditional_entropy, entropy, mutual_information, relative_entropy,
                           stationary_transfer_entropy)
from seminfo.flow.granger import granger
from seminfo.flow.pearl import ConfoundedSCM
from seminfo.flow.var import lagged_design, linear_granger
from seminfo.results import Interval
from seminfo.sources import FeedbackChannel, HiddenMarkovSource, IIDSource, MarkovSource
from seminfo.units import log_base, nats_to

HMM = HiddenMarkovSource([[0.9, 0.1], [0.2, 0.8]], [[0.8, 0.2], [0.3, 0.7]])
CH = FeedbackChannel.example()
XS, YS = [0, 1, 1, 0] * 10, [1, 0, 1, 1] * 10
P22 = np.full((2, 2), 0.25)


# ------------------------------------------------------------------ one rule for arrays
@pytest.mark.parametrize("bad, name", [
    (np.array([True, False]), "boolean"),
    (np.array([0.5, 0.5], dtype=object), "object"),
    (np.array([0.5 + 0j, 0.5]), "complex"),
    (["0.5", "0.5"], "text"),
])
def test_every_array_validator_refuses_non_real_dtypes(bad, name):
    msg = rf"\(real numbers\). Got {name} values"
    with pytest.raises(DistributionError, match=r"The `p` parameter of entropy must be an array of "
                                                r"probabilities " + msg):
        entropy(bad)
    with pytest.raises(DistributionError, match=msg):
        as_stochastic(np.stack([bad, bad]), "W", "f")
    with pytest.raises(InputError, match=msg):
        as_finite(bad, "a", "f")
    with pytest.raises(InputError, match=msg):
        as_real(bad, "a", "f")


def test_bool_pmf_no_longer_gives_negative_zero_entropy():
    with pytest.raises(DistributionError, match="Got boolean values"):
        as_pmf([True, False], "p", "entropy")
    assert entropy([1, 0]) == 0.0                       # integer dtypes stay accepted


@pytest.mark.parametrize("make", [
    lambda a: MarkovSource(a),
    lambda a: HiddenMarkovSource(a, np.eye(2)),
    lambda a: FeedbackChannel(np.stack([a, a]), CH.channel),
    lambda a: stationary_transfer_entropy(transition=np.concatenate([a, a], axis=1)[[0, 1, 0, 1]],
                                          pair_shape=(2, 2)),
], ids=["markov", "hmm", "channel", "transfer"])
@pytest.mark.parametrize("dtype", [complex, str, bool])
def test_transition_and_channel_validators_refuse_what_as_pmf_refuses(make, dtype):
    a = np.full((2, 2), 0.5).astype(dtype) if dtype is not bool else np.eye(2, dtype=bool)
    with pytest.raises(DistributionError, match=r"\(real numbers\)\. Got (complex|text|boolean) values"):
        make(a)


def test_symbols_refuse_booleans_and_huge_floats():
    with pytest.raises(InputError, match=r"must hold integer symbols \(convert booleans with \.astype\(int\)\)"):
        as_symbols(np.array([True, False]), "x", "f")
    with pytest.raises(AlphabetError, match=r"must hold symbols below 2\*\*62"):
        as_symbols([0.0, 1e30], "x", "f")


@pytest.mark.parametrize("base", [0.5, 1, 1.0, -2, 0, math.inf, math.nan, True, "2"])
def test_logarithm_base_must_exceed_one(base):
    with pytest.raises(InputError, match=r"The `base` parameter of entropy must be"):
        entropy([0.5, 0.5], base=base)


def test_base_between_zero_and_one_is_refused_everywhere():
    for call in (lambda: entropy([0.5, 0.5], base=0.5), lambda: log_base(0.5, "f"),
                 lambda: nats_to(1.0, 0.5), lambda: IIDSource([0.5, 0.5]).entropy_rate(base=0.5),
                 lambda: estimate_entropy_rate(XS, base=0.5), lambda: granger(XS, YS, base=0.5)):
        with pytest.raises(InputError, match=r"The `base` parameter of \S+ must be > 1\. Got 0\.5\."):
            call()


def test_one_of_compares_types_not_truthiness():
    assert one_of("plugin", ("plugin", "ctw"), "method", "f") == "plugin"
    assert one_of(np.int64(2), (1, 2), "variant", "f") == 2
    for bad in (True, 1.0, np.array([1, 2])):
        with pytest.raises(InputError, match=r"The `variant` parameter of f must be one of 1, 2"):
            one_of(bad, (1, 2), "variant", "f")
    with pytest.raises(InputError, match=r"The `variant` parameter of estimate_directed_information"):
        estimate_directed_information(XS, YS, variant=True)


# ------------------------------------------------------------------ sizes before allocation
def test_check_size_and_int_power():
    assert int_power(2, 10) == 1024 and int_power(1, 2 ** 80) == 1 and int_power(3, 0) == 1
    assert int_power(2, 2 ** 80) == math.inf
    check_size(MAX_CELLS, "n", "f")
    with pytest.raises(InputError, match=r"^The `n` parameter of f would need 268435457 cells, more than the "
                                         r"limit of 268435456 \(2\*\*28, 2 GiB of float64\)\. Use a smaller `n`\.$"):
        check_size(MAX_CELLS + 1, "n", "f")


SIZE_CASES = {
    "iid.sample": (lambda: IIDSource([0.5, 0.5]).sample(10 ** 12), r"`n` parameter of IIDSource.sample would need"),
    "iid.block_pmf": (lambda: IIDSource([0.5, 0.5]).block_pmf(2 ** 80), r"more than numpy's 64"),
    "iid.block_pmf K=1": (lambda: IIDSource([1.0]).block_pmf(70), r"pmf with 70 axes"),
    "iid.block_pmf 2^30": (lambda: IIDSource([0.5, 0.5]).block_pmf(30), r"too large for exact enumeration"),
    "markov.order": (lambda: MarkovSource([[0.5, 0.5], [0.5, 0.5]], order=2 ** 80), r"`order` .* <= 64"),
    "markov.states": (lambda: MarkovSource(np.full((2 ** 14, 2), 0.5), order=14),
                      r"would need 16384 states, more than the limit of 8192"),
    "markov.random K": (lambda: MarkovSource.random(10 ** 5), r"would need 10000000000 cells"),
    "markov.random order": (lambda: MarkovSource.random(2, 20), r"would need 1048576 states"),
    "markov.sample": (lambda: MarkovSource([[0.5, 0.5], [0.5, 0.5]]).sample(10 ** 12), r"`n` parameter"),
    "hmm.sample": (lambda: HMM.sample(10 ** 12), r"`n` parameter of HiddenMarkovSource.sample"),
    "hmm.block_pmf": (lambda: HMM.block_pmf(2 ** 80), r"more than numpy's 64"),
    "hmm.block_entropy": (lambda: HMM.block_entropy(2 ** 80), r"steps of the forward recursion"),
    "hmm.entropy_rate": (lambda: HMM.entropy_rate(horizon=2 ** 80), r"`horizon` parameter"),
    "hmm.entropy_rate_interval": (lambda: HMM.entropy_rate_interval(horizon=2 ** 80), r"`horizon` parameter"),
    "channel.sample": (lambda: CH.sample(10 ** 12), r"`n` parameter of FeedbackChannel.sample"),
    "channel.joint_pmf": (lambda: CH.joint_pmf(2 ** 80), r"more than numpy's 64"),
    "channel.rates": (lambda: CH.rates(2 ** 80), r"steps of the forward recursion"),
    "channel.directed_information": (lambda: CH.directed_information(2 ** 80), r"steps of the forward"),
    "channel.transfer_entropy": (lambda: CH.transfer_entropy(k=2 ** 80), r"`k` and `l` parameters"),
    "channel.states": (lambda: FeedbackChannel(np.full((100, 100, 100), 0.01), np.full((100, 1, 100, 1), 0.01)),
                       r"`channel` parameter of FeedbackChannel would need 10000 states, more than the limit of 8192"),
    "ste.k": (lambda: stationary_transfer_entropy(transition=np.full((2, 2, 2, 2), 0.25), k=2 ** 80),
              r"`k` and `l` parameters of stationary_transfer_entropy give a window"),
    "ste.1-state": (lambda: stationary_transfer_entropy(transition=np.ones((1, 1, 1, 1)), k=100, l=100),
                    r"202 axes, more than numpy's 64"),
    "ste.window": (lambda: stationary_transfer_entropy(transition=np.full((2, 2, 2, 2), 0.25), k=20),
                   r"The window of stationary_transfer_entropy .* would need 4398046511104 entries"),
    "te.surrogates": (lambda: transfer_entropy(XS, YS, surrogates=10 ** 9), r"`surrogates` .* <= 1000000"),
    "di.surrogates": (lambda: estimate_directed_information(XS, YS, surrogates=10 ** 9), r"<= 1000000"),
    "surrogate_test": (lambda: surrogate_test(lambda a, b: 0.0, XS, YS, n_surrogates=10 ** 9), r"<= 1000000"),
    "surrogate_test cells": (lambda: surrogate_test(lambda a, b: 0.0, np.zeros(10 ** 3), np.zeros(10 ** 3),
                                                    n_surrogates=10 ** 6), r"10\*\*6|1000000 surrogates"),
    "granger.surrogates": (lambda: granger(XS, YS, surrogates=10 ** 9), r"<= 1000000"),
    "granger.alphabet": (lambda: granger(XS, YS, alphabet_size=2 ** 70), r"`alphabet_size` .* <= 268435456"),
    "granger.order": (lambda: granger(XS, YS, order=2 ** 80), r"`order` parameter of granger .* smaller"),
    "entropy_rate.alphabet": (lambda: estimate_entropy_rate(XS, alphabet_size=2 ** 70), r"<= 268435456"),
    "ctw.depth": (lambda: CTWPredictor(depth=10 ** 8).log_probs_sequence(np.array(XS)), r"`depth` parameter"),
    "ksg.k": (lambda: ksg_mutual_information(np.arange(5.0), np.arange(5.0) ** 2, k=10), r"<= 4"),
    "gaussian.dims": (lambda: gaussian_mutual_information(np.zeros((3, 40000)), np.zeros((3, 40000))),
                      r"3 samples for 80000 dimensions"),
    "gaussian_te.k": (lambda: gaussian_transfer_entropy(np.arange(20.0), np.arange(20.0), k=2 ** 80),
                      r"too short for histories"),
    "linear_granger.order": (lambda: linear_granger(np.arange(20.0), np.arange(20.0), order=2 ** 80),
                             r"`order` parameter of linear_granger must be smaller than the number"),
    "pearl.sample": (lambda: ConfoundedSCM().sample(10 ** 12), r"`n` parameter of ConfoundedSCM.sample"),
}


@pytest.mark.parametrize("case", list(SIZE_CASES), ids=list(SIZE_CASES))
def test_oversized_requests_are_refused_before_any_work(case):
    call, pattern = SIZE_CASES[case]
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=pattern) as info:
        call()
    assert "\n" not in str(info.value)
    assert time.perf_counter() - t0 < 2.0


# ------------------------------------------------------------------ raw exceptions become InputErrors
@pytest.mark.parametrize("axes", [0.0, -1, True, "0", [0, 0], [], [0.0], {0}, None.__class__])
def test_axis_groups_must_be_non_negative_ints(axes):
    with pytest.raises(ShapeError, match=r"The `x_axes` parameter of mutual_information must"):
        mutual_information(P22, x_axes=axes)


def test_axis_groups_accept_ints_sequences_and_integer_arrays():
    p = np.full((2, 2, 2), 0.125)
    assert mutual_information(p, x_axes=np.int64(0), y_axes=(1, 2)) == 0.0
    assert conditional_entropy(p, x_axes=np.array([0, 1]), y_axes=range(2, 3)) == pytest.approx(2.0)


def test_granger_checks_what_user_predictors_return():
    ok = (lambda y, x: np.full(len(y), -math.log(2)), lambda y, x: np.full(len(y), -math.log(2)))
    assert granger(XS, YS, predictors=ok, surrogates=0).value == 0.0
    with pytest.raises(ShapeError, match=r"the restricted predictor must return one log-probability per "
                                         r"target symbol, shape \(40,\)\. Got shape \(3,\)"):
        granger(XS, YS, surrogates=0, predictors=(lambda y, x: np.zeros(3), ok[1]))
    with pytest.raises(InputError, match=r"the full predictor must return finite natural-log probabilities"):
        granger(XS, YS, surrogates=0, predictors=(ok[0], lambda y, x: np.full(40, np.nan)))
    with pytest.raises(InputError, match=r"must be a pair of callables"):
        granger(XS, YS, surrogates=0, predictors=5)


def test_surrogate_test_refuses_scalars_and_non_finite_statistics():
    with pytest.raises(InputError, match=r"The `x` parameter of surrogate_test must be a sequence"):
        surrogate_test(lambda a, b: 0.0, 1, 1)
    with pytest.raises(InputError, match=r"must return a finite number or an Estimate. Got 'nan'"):
        surrogate_test(lambda a, b: math.nan, XS, YS)
    with pytest.raises(InputError, match=r"must return a finite number"):
        surrogate_test(lambda a, b: "x", XS, YS)


def test_small_public_helpers_validate_their_arguments():
    assert lagged_design(np.arange(4.0), 2).tolist() == [[1.0, 0.0], [2.0, 1.0]]
    with pytest.raises(InputError, match=r"The `order` parameter of lagged_design"):
        lagged_design(np.arange(4.0), 4)
    with pytest.raises(InputError, match=r"The `depth` parameter of CTWPredictor must be an integer >= 0"):
        CTWPredictor(depth=-1)
    with pytest.raises(ShapeError, match=r"must hold at least 2 samples"):
        ksg_mutual_information([0.1], [0.2], k=1)
    with pytest.raises(InputError, match=r"The `return_states` parameter of HiddenMarkovSource.sample"):
        HMM.sample(3, return_states="yes")
    with pytest.raises(InputError, match=r"The `intervened` parameter of ConfoundedSCM.sample"):
        ConfoundedSCM().sample(3, intervened="yes")
    with pytest.raises(InputError, match=r"The `n` parameter of IIDSource.sample must be an integer"):
        IIDSource([0.5, 0.5]).sample(5.0)
    with pytest.raises(DistributionError, match=r"must be an array of probabilities"):
        relative_entropy([0.5, 0.5], np.array([True, False]))


# ------------------------------------------------------------------ one seed helper
SEEDED = {
    "IIDSource.sample": lambda s: IIDSource([0.5, 0.5]).sample(5, seed=s),
    "MarkovSource.sample": lambda s: MarkovSource([[0.5, 0.5], [0.5, 0.5]]).sample(5, seed=s),
    "MarkovSource.random": lambda s: MarkovSource.random(2, seed=s),
    "HiddenMarkovSource.sample": lambda s: HMM.sample(5, seed=s),
    "FeedbackChannel.sample": lambda s: CH.sample(5, seed=s),
    "ConfoundedSCM.sample": lambda s: ConfoundedSCM().sample(5, seed=s),
    "surrogate_test": lambda s: surrogate_test(lambda a, b: 0.0, XS, YS, n_surrogates=2, seed=s),
    "transfer_entropy": lambda s: transfer_entropy(XS, YS, surrogates=2, seed=s),
    "estimate_directed_information": lambda s: estimate_directed_information(XS, YS, surrogates=2, seed=s),
    "granger": lambda s: granger(XS, YS, surrogates=2, seed=s),
}


@pytest.mark.parametrize("func", list(SEEDED), ids=list(SEEDED))
@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_every_seed_goes_through_the_one_helper(func, seed):
    with pytest.raises(InputError, match=rf"The `seed` parameter of {func} must be None, a non-negative "
                                         r"integer or a numpy Generator"):
        SEEDED[func](seed)


def test_as_rng_reproduces_and_passes_generators_through():
    g = np.random.default_rng(3)
    assert as_rng(g, "f") is g
    assert as_rng(7, "f").random() == np.random.default_rng(7).random()
    a, b = ConfoundedSCM().sample(50, seed=4), ConfoundedSCM().sample(50, seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


# ------------------------------------------------------------------ entropy rate: one return type
@pytest.mark.parametrize("src", [IIDSource([0.5, 0.25, 0.25]), MarkovSource([[0.9, 0.1], [0.2, 0.8]]), HMM],
                         ids=["iid", "markov", "hmm"])
def test_entropy_rate_is_a_float_and_the_interval_encloses_it(src):
    rate, iv = src.entropy_rate(), src.entropy_rate_interval()
    assert isinstance(rate, float) and isinstance(iv, Interval)
    assert iv.lower <= rate <= iv.upper and rate == pytest.approx(iv.midpoint, abs=1e-15)
    assert iv.units == "bits/symbol"
    if not isinstance(src, HiddenMarkovSource):
        assert iv.width == 0.0 and iv.lower == rate


def test_hmm_entropy_rate_is_the_midpoint_of_the_certified_enclosure():
    iv = HMM.entropy_rate_interval(horizon=6, base=math.e)
    rate = HMM.entropy_rate(horizon=6, base=math.e)
    assert type(rate + 0.0) is float and rate == iv.midpoint and 0 < iv.width < 0.05


def test_reading_interval_attributes_of_the_hmm_rate_is_deprecated_but_works():
    rate, iv = HMM.entropy_rate(horizon=5), HMM.entropy_rate_interval(horizon=5)
    with pytest.warns(DeprecationWarning, match=r"entropy_rate\(\) now returns a float .* entropy_rate_interval"):
        assert (rate.lower, rate.upper, rate.width) == (iv.lower, iv.upper, iv.width)
    with pytest.warns(DeprecationWarning, match=r"`x in` on its result is deprecated"):
        assert iv.midpoint in rate


def test_estimators_check_base_before_doing_work():
    # a bad base is reported before the counting, not after it
    with pytest.raises(InputError, match=r"The `base` parameter of estimate_mutual_information must be > 1"):
        estimate_mutual_information(XS, YS, base=1)


def test_ragged_sequences_give_shape_errors():
    ragged = [[0.5], [0.5, 0.5]]
    with pytest.raises(ShapeError, match=r"The `x` parameter of estimate_entropy_rate must be a 1-D sequence"):
        estimate_entropy_rate(ragged)
    with pytest.raises(ShapeError, match=r"must be sequences of equal length"):
        surrogate_test(lambda a, b: 0.0, ragged, ragged)


def test_linear_granger_design_matrix_is_size_checked():
    t = np.arange(40000.0)
    x, y = np.sin(t), np.cos(0.3 * t)
    with pytest.raises(InputError, match=r"The `order` parameter of linear_granger would need \d+ cells"):
        linear_granger(x, y, order=13000)


def test_granger_refuses_complex_predictor_output():
    ok = lambda y, x: np.full(len(y), -math.log(2))                                   # noqa: E731
    with pytest.raises(InputError, match=r"restricted predictor returns 40 log-probabilities \(real numbers\)\. "
                                         r"Got complex values"):
        granger(XS, YS, surrogates=0, predictors=(lambda y, x: np.full(len(y), -0.5 + 0j), ok))


def test_every_error_message_is_one_line_even_when_it_quotes_an_array():
    from seminfo import ShapeError, stationary_transfer_entropy
    with pytest.raises(ShapeError) as e:
        stationary_transfer_entropy(transition=np.full((4, 4), 0.25), pair_shape=np.full((3, 3), 1 / 9))
    assert "\n" not in str(e.value) and "array([[0.11111111, 0.11111111, 0.11111111], [0.1" in str(e.value)
