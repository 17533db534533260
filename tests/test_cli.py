"""The command-line layer: every command has help with an example, and errors are one clean line."""

import json
import subprocess
import sys

import pytest

from seminfo.cli.main import COMMANDS, build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_listed_command_is_registered():
    names = set(_subcommands())
    assert set(COMMANDS) <= names
    assert "decompress" in names


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_has_help_with_description(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"seminfo {name}" in out
    assert len(out.splitlines()) > 3


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


def test_input_error_is_one_line_with_exit_2(capsys):
    assert main(["demo", "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert "The `samples` parameter of seminfo demo must be an integer >= 100. Got 3." in err
    assert "Traceback" not in err


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "seminfo.cli.main", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("seminfo ")


def test_report_bounds_its_corpus_by_default(tmp_path, capsys):
    from seminfo.cli.report import DEFAULT_MAX_BYTES
    args = build_parser().parse_args(["report"])
    assert args.max_bytes == DEFAULT_MAX_BYTES > 0          # a few minutes on 2 cores, not the whole split
    assert main(["report", "--out", str(tmp_path / "r"), "--max-bytes", "-1"]) == 2
    err = capsys.readouterr().err
    assert "The `--max-bytes` option of seminfo report must be >= 0 (0 = the whole corpus). Got -1." in err
    assert not (tmp_path / "r").exists()
