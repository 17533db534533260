"""The HTML report end to end in fast mode: every installed section builds, user text is escaped."""

import json

import pytest

from seminfo.report import ReportContext, write_report


def test_report_fast_mode_builds_every_section(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The <script>alert('x')</script> tag must be escaped. " * 40
                      + "Tokens carry semantic information; bits do not.\n" * 40)
    ctx = ReportContext(models=["builtin:gpt", "builtin:ngram"], text_path=corpus, fast=True, max_bytes=4000)
    result = write_report(tmp_path / "out", ctx)
    html = (tmp_path / "out" / "index.html").read_text()
    assert result.failed == [], html[:2000]
    from seminfo.report.sections import SECTIONS
    assert result.sections == [key for key, _ in SECTIONS] and len(SECTIONS) >= 7
    assert "<script>" not in html
    assert "&lt;script&gt;" in html                          # the corpus text is shown, escaped
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["models"] == ["builtin:gpt", "builtin:ngram"]
    assert html.count('<section id="s') == len(SECTIONS)
    arch = data["sections"]["architectures"]["data"]
    assert "Three architectures in one frame" in html
    rows = {m["name"]: m for m in arch["compare"]["models"]}
    assert set(rows) == {"builtin:gpt", "builtin:mamba", "builtin:diffusion"}
    assert rows["builtin:gpt"]["exact"] and not rows["builtin:diffusion"]["exact"]
    assert rows["builtin:diffusion"]["stderr"] > 0 and rows["builtin:gpt"]["stderr"] == 0
    assert max(arch["var_reconstruction_error"].values()) < 1e-3
    assert set(arch["flow_total_bits"]) == {"builtin:gpt", "builtin:mamba", "builtin:diffusion"}
    row = next(r for r in data["sections"]["compression"]["data"]["rows"] if r["compressor"].startswith("seminfo"))
    whole, ce = row["bits/byte (whole file)"], row["model cross-entropy (bits/byte)"]
    assert row["whole file over cross-entropy (%)"] == pytest.approx(100 * (whole / ce - 1))
    assert 0 <= row["payload over cross-entropy (%)"] < row["whole file over cross-entropy (%)"]


def test_compression_section_codes_large_models_in_batched_blocks():
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from seminfo.report.coding import BLOCK_BYTES, LARGE_PARAMETERS, _blocks
    small = SimpleNamespace(hf_model=torch.nn.Linear(100, 100))
    large = SimpleNamespace(hf_model=torch.nn.Linear(5000, 5000))              # 25M parameters
    assert sum(p.numel() for p in large.hf_model.parameters()) > LARGE_PARAMETERS
    assert _blocks(small, 16_000) is None and _blocks(object(), 16_000) is None   # n-grams, sources
    assert _blocks(large, 16_000) == 16_000 // BLOCK_BYTES
    assert _blocks(large, 1) == 1


def test_domain_packages_never_import_the_report():
    """The report sits on top: no module outside seminfo.report (and the CLI) imports it."""
    import pathlib
    import re

    import seminfo
    root = pathlib.Path(seminfo.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.parts[len(root.parts)] not in ("report", "cli")
                 and re.search(r"^\s*from \.+report\b|^\s*import seminfo\.report|seminfo\.report\.",
                               p.read_text(), re.M)]
    assert offenders == []


def test_a_failing_section_is_one_line_without_traceback(tmp_path):
    from seminfo.report.core import Section

    def broken(ctx):
        raise RuntimeError(f"disk at {tmp_path} is full\nsecond line")

    def fine(ctx):
        return Section("Fine", "<p>ok</p>")
    result = write_report(tmp_path / "out", ReportContext(models=["builtin:ngram"]),
                          sections=[("broken", broken), ("fine", fine)])
    html = (tmp_path / "out" / "index.html").read_text()
    assert result.failed == ["broken"] and result.sections == ["fine"]
    assert "RuntimeError: disk at" in html and "second line" not in html
    assert "Traceback" not in html and 'File "' not in html
