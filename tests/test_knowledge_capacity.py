"""Knowledge capacity (seminfo.capacity): exact corpus entropy, stored bits of the oracle, uniform and
partly-knowing models, the corpus tokenizer, bad input, a tiny training run, save/load, the shipped results
and the `seminfo capacity` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import seminfo
from seminfo.capacity import fact_corpus, stored_bits
from seminfo.capacity.facts import NAME_POOL, TEMPLATES
from seminfo.cli.main import main
from seminfo.errors import InputError, ModelMismatchError, ModelNotAvailableError


@pytest.fixture(scope="module")
def corpus():
    # a domain of 100 is not a power of the base: the uniform model must still cost exactly log2 100
    return fact_corpus(n_people=24, attributes={"birthday": 256, "city": 100, "job": 3}, seed=5, base=16)


@pytest.fixture(scope="module")
def trained():
    from seminfo.capacity import train_capacity_model
    c = fact_corpus(n_people=16, attributes={"city": 16, "job": 16}, seed=1, base=16)
    return train_capacity_model(c, n_layer=1, n_embd=16, exposures=150, batch_size=16, lr=1e-2, seed=0,
                                progress=False, threads=1)


def test_entropy_is_exact(corpus):
    assert corpus.entropy_bits == pytest.approx(24 * (8 + math.log2(100) + math.log2(3)), rel=1e-15)
    assert fact_corpus(7, {"a": 2}, seed=0).entropy_bits == 7.0
    assert corpus.code_lengths == [2, 2, 1]
    assert len(set(corpus.names)) == 24                              # unique names
    for a, d in enumerate(corpus.domain_sizes):
        assert corpus.values[:, a].min() >= 0 and corpus.values[:, a].max() < d


def test_oracle_stores_the_entropy_and_uniform_stores_nothing(corpus):
    o = stored_bits(corpus.oracle_model(), corpus)
    assert o.bits == pytest.approx(corpus.entropy_bits, rel=1e-12)
    assert float(o) == o.bits and o.n_exact == corpus.n_facts and o.units == "bits"
    assert o.per_attribute["city"] == pytest.approx(24 * math.log2(100), rel=1e-12)
    assert o.bits_per_parameter is None and o.n_parameters is None   # a reference model has no parameters
    u = stored_bits(corpus.uniform_model(), corpus)
    assert u.bits == pytest.approx(0.0, abs=1e-9) and u.net_bits == pytest.approx(0.0, abs=1e-9)
    assert u.loss_bits["job"] == pytest.approx(math.log2(3), rel=1e-12)
    assert u.n_exact == 0


def test_partly_knowing_model_stores_exactly_what_it_knows(corpus):
    known = np.arange(0, 24, 3)                                      # 8 of the 24 people
    r = stored_bits(corpus.oracle_model(known=known), corpus)
    assert r.bits == pytest.approx(8 * (8 + math.log2(100) + math.log2(3)), rel=1e-12)
    mask = np.zeros(24, dtype=bool)
    mask[:12] = True
    assert stored_bits(corpus.oracle_model(known=mask), corpus).bits == pytest.approx(corpus.entropy_bits / 2)


def test_reference_models_read_every_template(corpus):
    """The oracle knows the value in each of the five templates, not only after the probe."""
    tok = corpus.tokenizer
    model = corpus.oracle_model()
    rng = np.random.default_rng(0)
    rows = corpus.render_ids(np.arange(24), rng)
    for row, person in zip(rows, range(24)):
        ids = row[row >= 0][None]
        sur, _ = model.token_stats(ids, entropy=False)
        digits = np.isin(ids[0], corpus.digit_ids)
        assert np.all(sur[0, digits] == 0.0)                         # every value token is certain
        assert tok.decode(ids[0]).decode().count(corpus.names[person]) == 3
    # incremental calls agree with the parallel one
    ids = rows[:2, :20]
    lp = model.next_log_probs(ids)
    state = model.begin(2)
    state, out = model.feed(state, ids)
    assert np.array_equal(lp[:, 0], model.begin(2).log_probs) and np.array_equal(lp[:, 1:], out)


def test_tokenizer_round_trip_and_vocabulary_errors(corpus, tmp_path):
    tok = corpus.tokenizer
    docs = corpus.documents(exposures=2, seed=3)
    assert len(docs) == 48
    for d in docs:
        assert tok.decode(tok.encode(d)).decode() == d
        assert tok.decode(tok.encode(d.encode())) == d.encode()
    assert {len(t) for t in TEMPLATES} == {5, 6, 7}
    with pytest.raises(ModelMismatchError, match=r"'Alice' \(word 0\), which is not in the fact-corpus"):
        tok.encode("Alice is 3")
    with pytest.raises(ModelMismatchError, match="word 1"):
        tok.encode(corpus.names[0].split()[0] + "  is")               # a double space
    with pytest.raises(ModelMismatchError, match="not UTF-8"):
        tok.encode(b"\xff")
    assert tok.encode("") == []
    path = corpus.write(tmp_path / "bios.jsonl", seed=3)
    lines = path.read_text().splitlines()
    assert [json.loads(x)["text"] for x in lines] == docs[:24]
    folder = corpus.write(tmp_path / "bios")
    assert len(list(folder.glob("*.txt"))) == 24


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_people=0), r"The `n_people` parameter of fact_corpus must be a positive integer. Got 0."),
    (dict(n_people=5, attributes={"a": 1}),
     r"`attributes\['a'\]` parameter of fact_corpus must be an integer >= 2"),
    (dict(n_people=NAME_POOL ** 3 + 1), r"must be at most .* \(the name space"),
    (dict(n_people=5, seed=-1), r"The `seed` parameter of fact_corpus must be None, a non-negative"),
    (dict(n_people=5, attributes={"City": 4}), r"lowercase word names"),
    (dict(n_people=5, attributes={}), r"non-empty dict"),
    (dict(n_people=5, base=1), r"The `base` parameter of fact_corpus must be an integer >= 2"),
    (dict(n_people=5, base=65), r"must be an integer <= 64"),
])
def test_bad_input_is_one_line_input_error(kwargs, match):
    with pytest.raises(InputError, match=match) as exc:
        fact_corpus(**kwargs)
    assert "\n" not in str(exc.value)


def test_stored_bits_refuses_a_model_of_another_corpus(corpus):
    other = fact_corpus(24, {"birthday": 256}, seed=6)
    with pytest.raises(ModelMismatchError, match="does not use the corpus's tokenizer"):
        stored_bits(other.oracle_model(), corpus)
    with pytest.raises(InputError, match="must be a FactCorpus"):
        stored_bits(corpus.oracle_model(), "corpus")


def test_a_tiny_trained_model_stores_some_bits(trained):
    c, r = trained.corpus, stored_bits(trained.model, trained.corpus)
    assert 0 < r.net_bits <= r.bits <= c.entropy_bits
    assert r.n_parameters == trained.record.n_params == trained.model.n_parameters()
    assert r.bits_per_parameter == pytest.approx(r.bits / r.n_parameters)
    # parameters: tied token table once, position table, one block of 12 d^2 + 13 d, final norm
    d, K, P = 16, c.tokenizer.vocab_size, trained.model.max_context
    assert trained.record.n_params == K * d + P * d + (12 * d * d + 13 * d) + 2 * d
    assert trained.record.n_params_non_embedding == trained.record.n_params - K * d - P * d


def test_save_and_load_round_trip(trained, tmp_path):
    from seminfo.capacity import load_capacity_model, save_capacity_model
    from seminfo.capacity.facts import FactCorpus
    folder = save_capacity_model(trained, tmp_path / "m")
    model = load_capacity_model(folder)
    corpus = FactCorpus.from_description(model.capacity["corpus"])
    assert np.array_equal(corpus.values, trained.corpus.values)
    assert model.fingerprint() == trained.model.fingerprint()
    assert stored_bits(model, corpus).bits == stored_bits(trained.model, trained.corpus).bits
    docs = corpus.write(tmp_path / "bios.jsonl")
    score = seminfo.score_text(model, docs)
    assert len(score.documents) == 16 and 0 < score.bits_per_token < math.log2(corpus.tokenizer.vocab_size)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelNotAvailableError, match="has no tokenizer.json"):
        load_capacity_model(folder)


def test_shipped_results_cover_four_sizes_and_two_exposures(tmp_path):
    from seminfo.capacity import load_results, plot_capacity
    res = load_results()
    sizes = {(r["n_layer"], r["n_embd"]) for r in res.runs}
    assert len(sizes) >= 4 and {r["exposures"] for r in res.runs} >= {100, 1000}
    H = res.corpus["attributes"]
    entropy = res.corpus["n_people"] * sum(math.log2(v) for v in H.values())
    for r in res.runs:
        assert r["entropy_bits"] == pytest.approx(entropy)
        assert 0 <= r["stored_bits"] <= r["entropy_bits"]
        assert r["bits_per_parameter"] == pytest.approx(r["stored_bits"] / r["n_params"])
        assert r["n_params_non_embedding"] < r["n_params"] and r["device"] and r["seconds"] > 0
    assert res.machine["cpu"] and res.command.startswith("python scripts/capacity_experiment.py")
    plot_capacity(res, tmp_path / "cap.png")
    assert (tmp_path / "cap.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_prints_the_shipped_results(capsys):
    assert main(["capacity"]) == 0
    out = capsys.readouterr().out
    assert "bits_per_param" in out and "L1 d8" in out and "Allen-Zhu & Li ~2 bit/param at 1,000" in out
    assert main(["capacity", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) >= 8


def test_cli_bad_flags_are_one_line(capsys):
    assert main(["capacity", "--sizes", "1x8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "The `--sizes` option of seminfo capacity applies to --run only" in err
    assert main(["capacity", "--run", "--people", "0"]) == 2
    assert "The `--people` option of seminfo capacity must be a positive integer" in capsys.readouterr().err


def test_run_experiment_writes_results_that_load_back(tmp_path):
    from seminfo.capacity import load_results, run_experiment
    out = tmp_path / "cap.json"
    res = run_experiment(sizes=[(1, 8)], exposures=[2, 3], n_people=10, out=out, progress=False, threads=1,
                         command="test")
    back = load_results(out)
    assert back.runs == json.loads(json.dumps(res.runs)) and back.command == "test"
    assert [r["exposures"] for r in back.runs] == [2, 3] and back.corpus["n_people"] == 10
    assert [r["steps"] for r in back.runs] == [2, 3]                 # 10 people fit one batch of 128
    with pytest.raises(InputError, match="The `sizes` parameter of run_experiment must be an integer"):
        run_experiment(sizes=[(1, 8.5)], exposures=[1], n_people=10)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not a capacity results file"):
        load_results(tmp_path / "bad.json")
