"""The command-line layer: every command's help ends with examples that run, errors are one line,
output says what it means."""

import csv
import io
import json
import re
import shlex
import subprocess
import sys

import pytest

from seminfo.cli.main import COMMANDS, build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def _examples(name):
    """The example lines at the end of `seminfo NAME --help`."""
    text = _subcommands()[name].format_help()
    head, sep, block = text.rpartition("\nExamples:\n")
    assert sep, f"`seminfo {name} --help` has no Examples block"
    lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
    assert lines and all(ln.startswith(f"seminfo {name} ") for ln in lines), lines
    return lines


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """The files the examples name, in a fresh working directory."""
    from seminfo.models.builtin import corpus_path
    monkeypatch.chdir(tmp_path)
    text = corpus_path("valid").read_bytes()[:1500]
    (tmp_path / "notes.txt").write_bytes(text)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_bytes(text[:600])
    (tmp_path / "corpus" / "b.md").write_bytes(text[600:1200])
    (tmp_path / "p.json").write_text("[0.5, 0.3, 0.2]")
    (tmp_path / "prompts.jsonl").write_text('{"text": "The list type", "weight": 0.5}\n'
                                            '{"text": "import os", "weight": 0.5}\n')
    return tmp_path


def _run(line, capsys):
    capsys.readouterr()
    rc = main(shlex.split(line)[1:])
    out, err = capsys.readouterr()
    assert rc == 0, (line, err)
    # nothing but progress on stderr: no traceback, no warnings, no transformers "Loading weights" bar
    # (the flow example loads builtin:gpt)
    assert "Traceback" not in err and not re.search(r"Loading|Warning", err), (line, err)
    return out


def _check_demo(runs, d):
    table, js = runs
    assert "entropy rate (order-1 plug-in)" in table and "z = distance of the estimate" in table
    printed = json.loads(js)
    assert printed == json.loads((d / "demo.json").read_text()) and printed["seed"] == 1
    assert len(printed["rows"]) == 6 and "z" in printed["legend"]


def _check_score(runs, d):
    one, many = runs
    s = json.loads(one)
    assert s["n_bytes"] == 1500 and 0.5 < s["bits_per_byte"] < 4
    assert None not in s.values() and s["units"] == "bits" and set(s["field_units"]) <= set(s)
    assert "a.txt" in many and "b.md" in many
    rows = list(csv.DictReader(io.StringIO((d / "tokens.csv").read_text())))
    assert len(rows) > 100 and float(rows[0]["surprisal_bits"]) > 0
    assert (d / "run.jsonl").stat().st_size > 0


def _check_compare(runs, d):
    table, js = runs
    assert "builtin:ngram:3" in table and "1,500 bytes of notes.txt" in table
    assert [m["name"] for m in json.loads(js)["models"]] == ["builtin:ngram", "builtin:ngram:2"]


def _check_report(runs, d):
    assert "report written to" in runs[0]
    page = (d / "report" / "index.html").read_text()
    assert "rate-distortion" in page.lower()
    built = json.loads((d / "report" / "report.json").read_text())
    assert len(built["sections"]) == 2 and built["failed"] == []


def _check_rd(runs, d):
    table, rows = runs
    assert "rate_lower_bits" in table and "0.1" in table
    assert (d / "rd.png").stat().st_size > 0
    assert list(csv.DictReader(io.StringIO(rows)))[0]["converged"] == "True"


def _check_flow(runs, d):
    table, js, full = runs
    assert "S_n = " in table and "expected_density_bits: E[iota_t" in table
    out = json.loads(js)
    assert out["marginal"] == "prompt-set mixture (2 prompts)" and out["submartingale"]["n_samples"] == 4
    assert "answer posteriors" in full and "top1_agreement" in full
    assert sorted(p.name for p in (d / "figures").iterdir()) == ["answers.png", "density.png", "lens.png"]


def _check_compress(runs, d):
    assert "archive_bits_per_byte" in runs[0]
    assert json.loads(runs[1])["blocks"] == 2 and (d / "notes.smz").stat().st_size > 0
    assert "a.txt" in runs[2] and "compressed" in runs[2] and (d / "corpus.smz.d" / "b.md.smz").is_file()


def _check_decompress(runs, d):
    assert (d / "notes.out.txt").read_bytes() == (d / "notes.txt").read_bytes()


def _check_energy(runs, d):
    js, table, cap = runs
    b = json.loads(js)["boltzmann"]
    assert b["model"] == "builtin:ngram" and abs(b["mean_free_energy_nats"][20]) < 1e-9   # T = 1
    assert "S_bits" in table and "pure update non-increasing in 1.0000" in table
    rows = json.loads(cap)["capacity"]["rows"]
    assert [r["network"] for r in rows] == ["classical", "modern", "classical", "modern"]
    assert (d / "energy.png").stat().st_size > 0


def _check_embed(runs, d):
    pmi, model, gw, dims = runs
    assert "captured" in pmi and (d / "pmi.png").stat().st_size > 0
    m = json.loads(model)
    assert m["model"] == "builtin:gpt" and m["embedding_dim"] == 192 and m["tied"]
    assert all(r["share"] <= m["optimum"] + 1e-12 for r in m["rows"])
    g = json.loads(gw)
    assert g["paired"] and g["rows"][0]["points"] == "100 x 100" and len(g["rows"]) == 2
    assert "hidden states, layer 4" in dims and (d / "dims.png").stat().st_size > 0


def _check_capacity(runs, d):
    table, js, run = runs
    assert "L1 d8" in table and "Allen-Zhu & Li ~2 bit/param at 1,000 exposures" in table
    assert len(json.loads(js)["runs"]) >= 8 and (d / "capacity.png").read_bytes()[:4] == b"\x89PNG"
    r = json.loads(run)["runs"][0]
    assert (r["n_layer"], r["n_embd"], r["exposures"]) == (1, 8, 3) and 0 <= r["stored_bits"] <= r["entropy_bits"]
    assert json.loads((d / "cap.json").read_text())["runs"] == json.loads(run)["runs"]


def _check_bound(runs, d):
    table, js = runs
    assert "complexity term" in table and "VACUOUS" in table and "the complexity term dominates" in table
    s = json.loads(js)
    assert s["kind"] == "document" and s["m"] == 2 and s["vacuous"] and s["log2_vocab"] == 12.0
    assert abs(s["bound"] - (s["empirical"] + s["complexity_term"] + s["sampling_term"])) < 1e-9


CHECKS = {"demo": _check_demo, "score": _check_score, "compare": _check_compare, "report": _check_report,
          "rd": _check_rd, "flow": _check_flow, "embed": _check_embed, "energy": _check_energy, "bound": _check_bound, "capacity": _check_capacity,
          "compress": _check_compress,
          "decompress": _check_decompress}


def test_every_listed_command_is_registered():
    names = set(_subcommands())
    assert set(COMMANDS) <= names
    assert set(CHECKS) == names


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_examples_run(name, inputs, capsys):
    """Every line of the Examples block at the end of `--help` runs and prints what it promises."""
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.rstrip().endswith(_examples(name)[-1])
    if name == "decompress":
        assert main(["compress", "notes.txt", "-o", "notes.smz", "--model", "builtin:ngram"]) == 0
    CHECKS[name]([_run(line, capsys) for line in _examples(name)], inputs)


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score"])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("seminfo score: error: the following arguments are required: --model, --text "
                   "(see seminfo score --help)\n")


def test_demo_json_rows_agree_with_truth(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert main(["demo", "-n", "20000", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    assert written["units"] == "bits/symbol"
    assert len(written["rows"]) >= 5
    for row in written["rows"]:
        assert row["stderr"] > 0
        # estimates sit within a few standard errors of the exact value or certified interval
        assert row["z"] < 5, row


def test_demo_writes_nothing_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "-n", "200"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert "written to" not in capsys.readouterr().out


def test_input_error_is_one_line_with_exit_2(capsys):
    assert main(["demo", "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "seminfo demo: error: The `-n` option of seminfo demo must be an integer >= 100. Got 3.\n"


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "seminfo.cli.main", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith("seminfo ")


def test_report_bounds_its_corpus_by_default(tmp_path, capsys):
    from seminfo.cli.report import DEFAULT_MAX_BYTES
    args = build_parser().parse_args(["report"])
    assert args.max_bytes == DEFAULT_MAX_BYTES > 0          # a few minutes on 2 cores, not the whole split
    assert main(["report", "--out", str(tmp_path / "r"), "--max-bytes", "-1"]) == 2
    err = capsys.readouterr().err
    assert "The `--max-bytes` option of seminfo report must be >= 0 (0 = the whole corpus). Got -1." in err
    assert not (tmp_path / "r").exists()


def test_report_fails_with_exit_2_when_a_section_fails(tmp_path, monkeypatch, capsys):
    import seminfo.report.sections as sections
    from seminfo.report.core import Section

    def boom(ctx):
        raise RuntimeError("section exploded")

    monkeypatch.setattr(sections, "SECTIONS", [
        ("fine", lambda ctx: Section("Fine", "<p>ok</p>", key="fine")), ("boom", boom)])
    rc = main(["report", "--out", str(tmp_path / "r"), "--model", "builtin:ngram", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and "1 of 2 section(s) failed: boom" in err and "Traceback" not in err
    assert "report written" not in out
    assert "section exploded" in (tmp_path / "r" / "index.html").read_text()     # kept for diagnosis


def test_report_checks_every_model_before_building(tmp_path, monkeypatch, capsys):
    import seminfo.report
    monkeypatch.setattr(seminfo.report, "write_report", lambda *a, **k: pytest.fail("built a report"))
    assert main(["report", "--out", str(tmp_path / "r"), "--model", "builtin:ngram",
                 "--model", "builtin:nope"]) == 2
    err = capsys.readouterr().err
    assert ("The `--model` option of seminfo report names a model that cannot be used: Unknown built-in "
            "model 'builtin:nope'") in err
    assert not (tmp_path / "r").exists()


def test_score_json_prints_no_nulls_and_units_only_for_its_fields(inputs, capsys):
    assert main(["score", "--model", "builtin:ngram", "--text", "notes.txt", "--no-progress",
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert "stride" not in s and "window" not in s          # the n-gram scores whole documents
    assert s["units"] == "bits"
    assert set(s["field_units"]) == {"bits_per_token", "bits_per_byte", "perplexity", "total_bits"}


def test_rd_table_shows_the_certified_interval(inputs, capsys):
    from seminfo.cli.rd import interval_text
    assert main(["rd", "p.json", "--D", "0.1"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    cells = dict(zip(header.split(), row.split()))
    lower, upper = float(cells["rate_lower_bits"]), float(cells["rate_upper_bits"])
    assert cells["rate_lower_bits"] != cells["rate_upper_bits"] and lower < upper
    assert upper - lower <= 1e-9                                      # the certified width, visible
    assert interval_text(0.5, 0.5 - 3e-12, 0.5 + 3e-12)[1:] == ("0.4999999999970", "0.5000000000030")


def test_user_message_turns_parameters_into_flags():
    from seminfo.cli._common import user_message
    flags = {"p_x": "FILE", "tol": "--tol"}
    assert user_message(ValueError("The `p_x` parameter of rate_distortion_curve must sum to 1.\n"
                                   "Got 0.9."), "seminfo rd", flags) == (
        "The `FILE` argument of seminfo rd must sum to 1. Got 0.9.")
    assert user_message(ValueError("The `level` parameter of f is bad."), "seminfo rd", flags) == (
        "The `level` parameter of f is bad.")



def test_report_help_lists_every_section(capsys):
    """The --section help is written out (the parser does not import the report); it must name every
    section of seminfo.report.sections.SECTIONS, in page order."""
    import re

    from seminfo.report.sections import SECTIONS
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    listed = re.search(r"build only this section \(repeatable\): (.*?) \(default: all\)", text).group(1)
    assert listed.split(", ") == [key for key, _ in SECTIONS]
