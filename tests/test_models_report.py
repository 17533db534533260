"""Tests of the report section on token models (seminfo.report.models)."""

from __future__ import annotations

import html.parser
import math

import numpy as np
import pytest

from seminfo.errors import ModelNotAvailableError
from seminfo.models.ngram import KneserNeyModel
from seminfo.report.models import surprisal_heatmap_html
from seminfo.report.core import ReportContext

PASSAGE = (b'Before <script>alert("x")</script> & after.\n'
           b"Python's <b>bold</b> claim: 1 < 2 > 0.\n") * 3


class _Spans(html.parser.HTMLParser):
    """Collects the heat-map spans: (title, text) pairs."""

    def __init__(self):
        super().__init__()
        self.spans, self._title, self._text, self.tags = [], None, None, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "span" and "title" in dict(attrs):
            self._title, self._text = dict(attrs)["title"], ""

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "span" and self._text is not None:
            self.spans.append((self._title, self._text))
            self._title = self._text = None


def _byte_model() -> KneserNeyModel:
    rng = np.random.default_rng(0)
    return KneserNeyModel.fit([np.frombuffer(PASSAGE, dtype=np.uint8), rng.integers(32, 127, 500)],
                              order=3, vocab_size=256, name="bytes-3gram")


def test_heatmap_escapes_text_and_reports_bits():
    model = _byte_model()
    out = surprisal_heatmap_html(model, PASSAGE)
    assert "<script" not in out and "<b>" not in out
    assert "&lt;script&gt;" not in out          # one byte per token: the pieces are escaped one by one
    assert "&lt;" in out and "&amp;" in out and "&quot;" in out
    parser = _Spans()
    parser.feed(out)
    assert set(parser.tags) <= {"div", "span"}                   # no markup from the passage survives
    assert "".join(text for _, text in parser.spans).encode() == PASSAGE
    s, _ = model.token_stats(np.frombuffer(PASSAGE, dtype=np.uint8).astype(np.int64)[None])
    shown = [float(title.split(": ")[-1].split(" bits")[0]) for title, _ in parser.spans]
    np.testing.assert_allclose(shown, s[0] / math.log(2), atol=0.005 + 1e-9)
    assert "0 bits" in out and "&ge; 16 bits" in out                           # the legend


def test_section_with_given_models(tmp_path):
    from seminfo.models import scoring
    from seminfo.report.models import build
    path = tmp_path / "passage.txt"
    path.write_bytes(PASSAGE * 4)
    ctx = ReportContext(models=["bytes", "missing"], text_path=path, fast=True)
    ctx._cache["bytes"] = _byte_model()

    def unavailable(spec, _model=ctx.model):
        if spec == "missing":
            raise ModelNotAvailableError("The model 'missing' is not available offline.")
        return _model(spec)
    ctx.model = unavailable
    sec = build(ctx)
    assert "<script" not in sec.html and "<b>bold" not in sec.html
    row = sec.data["models"]["bytes"]
    direct = scoring.score_bytes(ctx._cache["bytes"], PASSAGE * 4)
    assert row["bits_per_byte"] == pytest.approx(float(direct.bits_per_byte), rel=1e-12)
    assert row["n_tokens"] == row["n_bytes"] == len(PASSAGE) * 4
    assert row["perplexity"] == pytest.approx(2 ** row["bits_per_token"], rel=1e-12)
    assert sec.data["models"]["missing"] == {"available": False,
                                             "reason": "The model 'missing' is not available offline."}
    assert "not available offline" in sec.html and 'src="data:image/png;base64,' in sec.html


def test_section_builtin_models_fast():
    import seminfo.models.registry  # noqa: F401
    from seminfo.report.models import build
    ctx = ReportContext(models=["builtin:gpt", "builtin:ngram"], fast=True)
    sec = build(ctx)
    for spec in ctx.models:
        row = sec.data["models"][spec]
        assert row["available"] and row["n_bytes"] == sec.data["n_bytes"] > 0
        # totals: bits/token x tokens = bits/byte x bytes
        assert row["bits_per_token"] * row["n_tokens"] == pytest.approx(row["bits_per_byte"] * row["n_bytes"])
        assert 0.5 < row["bits_per_byte"] < 4.0
    assert sec.data["heatmap"]["model"] == "builtin:gpt"
    assert sec.html.count("<span style=\"background:") > 100
