"""Every failure caused by the command line: exit status 2, exactly one line on stderr in the user's
terms (flags, not Python parameters), no traceback, nothing on stdout and no file left behind."""

import pytest

from seminfo.cli.main import main

NG = ["--model", "builtin:ngram"]
FLOW = ["flow", *NG, "--prompt", "a", "--response", " b"]
SCORE = ["score", *NG, "--text", "notes.txt"]

CASES = [
    # argparse: one line, no usage block
    (["score"], "the following arguments are required: --model, --text (see seminfo score --help)"),
    (["demo", "-n", "abc"], "argument -n/--samples: invalid int value: 'abc'"),
    (["nosuch"], "argument COMMAND: invalid choice: 'nosuch'"),
    (["flow", "--prompt", "x", "--response", "y", "--generate", "3"], "not allowed with argument"),
    # report: models, corpus and output folder checked before any section is built
    (["report", "--model", "builtin:nope", "--out", "r"], "`--model` option of seminfo report names a "
                                                          "model that cannot be used: Unknown built-in "
                                                          "model 'builtin:nope'"),
    (["report", *NG, "--text", "empty.txt", "--out", "r"],
     "must name a non-empty file. Got 'empty.txt', which is empty."),
    (["report", *NG, "--text", "latin1.txt", "--out", "r"],
     "must name a UTF-8 text file. Got 'latin1.txt', whose byte 3 is b'\\xe9'."),
    (["report", *NG, "--text", "missing.txt", "--out", "r"], "'missing.txt', which does not exist"),
    (["report", *NG, "--out", "notes.txt"], "`--out` option of seminfo report names 'notes.txt', which "
                                            "is a file"),
    (["report", *NG, "--out", "nodir/r"], "names a folder in 'nodir', which does not exist"),
    (["report", *NG, "--section", "nope", "--out", "r"], "`--section` option of seminfo report must be "
                                                         "one of"),
    # output paths checked before the work
    (["demo", "-n", "200", "--out", "adir"], "`--out` option of seminfo demo names a folder, 'adir'"),
    (["demo", "-n", "200", "--out", "nodir/d.json"], "names a file in 'nodir', which does not exist"),
    ([*SCORE, "--per-token", "adir"], "`--per-token` option of seminfo score names a folder"),
    ([*SCORE, "--per-token", "nodir/t.csv"], "`--per-token` option of seminfo score names a file in "
                                             "'nodir'"),
    ([*SCORE, "--resume", "adir"], "`--resume` option of seminfo score names a folder"),
    ([*SCORE, "--resume", "nodir/r.jsonl"], "`--resume` option of seminfo score names a file in 'nodir'"),
    (["rd", "p.json", "--plot", "nodir/rd.png"], "`--plot` option of seminfo rd names a file in 'nodir'"),
    ([*FLOW, "--plot", "notes.txt"], "`--plot` option of seminfo flow names 'notes.txt', which is a file"),
    ([*FLOW, "--plot", "nodir/figs"], "`--plot` option of seminfo flow names a folder in 'nodir'"),
    (["compress", "notes.txt", "-o", "adir", *NG], "`--output` option of seminfo compress names a folder"),
    (["decompress", "notes.txt", "-o", "nodir/x"], "`--output` option of seminfo decompress names a file in"),
    # input files
    ([*FLOW, "--prompt-set", "latin1.txt"], "`--prompt-set` option of seminfo flow must name a UTF-8 text "
                                            "file. Got 'latin1.txt'"),
    ([*FLOW, "--prompt-set", "missing.jsonl"], "'missing.jsonl', which does not exist"),
    ([*FLOW, "--prompt-set", "adir"],
     "`--prompt-set` option of seminfo flow must name a readable file. Got 'adir', which is a folder."),
    ([*FLOW, "--prompt-set", "heavy.jsonl"], "the weights must sum to 1 (tolerance 1e-09). Got a sum of 1.4"),
    ([*FLOW, "--prompt-set", "words.jsonl"], "the weight on line 1 is 'half'"),
    (["score", *NG, "--text", "missing.txt"], "`--text` option of seminfo score must name a file, a folder "
                                              "or a .jsonl file. Got 'missing.txt', which does not exist."),
    (["score", *NG, "--text", "empty.txt"], "Got 'empty.txt', which is empty."),
    (["rd", "missing.json"],
     "`FILE` argument of seminfo rd must name a readable file. Got 'missing.json', which does not exist."),
    (["rd", "adir"], "`FILE` argument of seminfo rd must name a readable file. Got 'adir', which is a "
                     "folder."),
    (["rd", "p.json", "--distortion", "missing.json"], "`--distortion` option of seminfo rd must name a "
                                                       "readable file. Got 'missing.json'"),
    (["compress", "missing.txt", "-o", "x.smz", *NG], "`IN` argument of seminfo compress must name a "
                                                      "readable file. Got 'missing.txt'"),
    (["decompress", "adir", "-o", "x.txt"],
     "`IN` argument of seminfo decompress names a directory with no *.smz files: 'adir'."),
    (["decompress", "notes.txt", "-o", "x.txt"], "not a seminfo archive"),
    (["compare", *NG, "--text", "adir"],
     "`--text` option of seminfo compare must name a readable file. Got 'adir', which is a folder."),
    # seeds, for every command that takes one
    (["demo", "-n", "200", "--seed", "-1"], "`--seed` option of seminfo demo must be an integer from 0"),
    ([*FLOW, "--seed", "-1"], "`--seed` option of seminfo flow must be an integer from 0"),
    ([*FLOW, "--seed", str(2**40)], "`--seed` option of seminfo flow must be an integer from 0"),
    (["compare", *NG, "--seed", "-1"], "`--seed` option of seminfo compare must be an integer from 0"),
    (["report", *NG, "--seed", "-3", "--out", "r"], "`--seed` option of seminfo report must be an "
                                                    "integer from 0"),
    # sizes refused before the work
    (["demo", "-n", "1000000000000"], "`-n` option of seminfo demo must be at most 10,000,000"),
    (["flow", *NG, "--prompt", "x", "--generate", "100000000000"], "`--generate` option of seminfo flow "
                                                                    "must be at most 4,096"),
    ([*FLOW, "--samples", "1000000"], "`--samples` option of seminfo flow must be at most 4,096"),
    (["compare", *NG, "--samples", "3"], "`--samples` option of seminfo compare must be even"),
    # models and devices
    (["score", "--model", "builtin:nope", "--text", "notes.txt"], "Unknown built-in model 'builtin:nope'"),
    (["score", "--model", "notes.txt", "--text", "notes.txt"], "'notes.txt' is a file, not a model "
                                                               "directory"),
    (["flow", "--model", "./no/such/model", "--prompt", "a", "--generate", "2"], "is neither a built-in "
                                                                                 "model nor an existing"),
    (["compare", "--model", "builtin:ngram", "--model", "adir"], "'adir' has no config.json"),
    ([*SCORE, "--device", "meta"], "`--device` option of seminfo score must be one of auto, cpu, cuda, "
                                   "cuda:N (N a GPU index) or mps. Got 'meta'."),
    ([*FLOW, "--device", "cuda:99"], "`--device` option of seminfo flow asks for 'cuda:99', but this "
                                     "machine has"),
    # library errors in the user's terms
    (["flow", *NG, "--prompt", "", "--generate", "3"], "`--prompt` option of seminfo flow must not be empty"),
    (["flow", *NG, "--prompt", "x", "--generate", "3", "--answer", " a", "--answer", ""],
     "`--answer` option of seminfo flow must not be empty"),
    (["flow", *NG, "--prompt", "x"], "seminfo flow needs --response TEXT or --generate N"),
    ([*SCORE, "--stride", "3"], "`--stride` option of seminfo score needs a `--window`"),
    (["rd", "p.json", "--tol", "-1"], "`--tol` option of seminfo rd must be > 0. Got -1."),
    (["rd", "p.json", "--D", "-0.5"], "`--D` option of seminfo rd must be >= 0. Got -0.5."),
    (["rd", "bad_p.json"], "`FILE` argument of seminfo rd must sum to 1"),
    (["score", *NG, "--text", "notes.txt", "--window", "0"], "`--window` option of seminfo score must be "
                                                             "a positive integer. Got 0."),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("The list type is mutable. " * 20)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"))
    (tmp_path / "adir").mkdir()
    (tmp_path / "p.json").write_text("[0.5, 0.3, 0.2]")
    (tmp_path / "bad_p.json").write_text("[0.5, 0.3, 0.3]")
    (tmp_path / "heavy.jsonl").write_text('{"text": "a", "weight": 0.7}\n{"text": "b", "weight": 0.7}\n')
    (tmp_path / "words.jsonl").write_text('{"text": "a", "weight": "half"}\n{"text": "b", "weight": 0.5}\n')
    return tmp_path


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_invocation_is_one_line_exit_2(argv, expected, workdir, capsys):
    before = _tree(workdir)
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err            # exactly one line
    assert err.startswith(f"seminfo{' ' + argv[0] if argv[0] != 'nosuch' else ''}: error: ")
    assert expected in err, err
    assert "Traceback" not in err and "parameter of" not in err, err   # flags, not Python names
    assert out == ""
    assert _tree(workdir) == before                                    # nothing written or created
