"""Building blocks of the HTML report: sections, the shared context, figures and tables.

A report is a list of sections. Each section is a module of this package with a builder
``build(ctx: ReportContext) -> Section``; :data:`seminfo.report.sections.SECTIONS` lists them in page
order. The report sits on top: it imports the domain packages (models, rd, flow, coding), and none of
them imports the report. Everything user-supplied that is
written into the page goes through :func:`esc`; figures are inlined as base64 PNG, so the page is a
single self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import pathlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable



def esc(text: Any) -> str:
    """HTML-escape any text that reaches the page (quotes included)."""
    return html.escape(str(text), quote=True)


@dataclass
class Section:
    """One part of the report. `html` is trusted markup built with :func:`esc` and helpers."""

    title: str
    html: str
    key: str = ""
    seconds: float = 0.0
    data: dict = field(default_factory=dict)       # numbers also written to report.json


@dataclass
class ReportContext:
    """What every section builder receives.

    Attributes
    ----------
    models : list of str
        Model specs to compare (the first is the main model of the report).
    text_path : pathlib.Path or None
        Corpus to score; None means the embedded validation split.
    fast : bool
        Smaller samples everywhere (used by the tests).
    seed : int
    """

    models: list[str]
    text_path: pathlib.Path | None = None
    fast: bool = False
    seed: int = 0
    max_bytes: int | None = None
    #: device, trust_remote_code, allow_unsafe_weights for seminfo.load_model
    load_options: dict = field(default_factory=dict)
    #: print progress lines on stderr
    progress: bool = True
    _cache: dict = field(default_factory=dict, repr=False)

    def model(self, spec: str):
        """Load a token model once per report (cached)."""
        if spec not in self._cache:
            from ..models import load_model
            self._cache[spec] = load_model(spec, **self.load_options)
        return self._cache[spec]

    def text(self) -> bytes:
        """The corpus bytes of the report (truncated to `max_bytes` when set)."""
        if "text" not in self._cache:
            if self.text_path is None:
                from ..models.builtin import corpus_path
                path = corpus_path("valid")
            else:
                path = self.text_path
            self._cache["text"] = pathlib.Path(path).read_bytes()
        data = self._cache["text"]
        return data[: self.max_bytes] if self.max_bytes else data

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"[report] {msg}", file=sys.stderr, flush=True)


def figure_html(fig, *, alt: str = "figure", width: int | None = None) -> str:
    """Inline a matplotlib figure as a base64 PNG <img> and close it."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    w = f' width="{int(width)}"' if width else ""
    return f'<img alt="{esc(alt)}"{w} src="data:image/png;base64,{data}">'


def table_html(rows: Iterable[dict], *, caption: str = "", digits: int = 6) -> str:
    """Rows of dicts as an HTML table (floats to `digits` significant digits); all text escaped."""
    rows = list(rows)
    if not rows:
        return "<p><em>(no rows)</em></p>"
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return esc(f"{v:.{digits}g}")
        return esc("" if v is None else v)
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def timed(builder: Callable[[ReportContext], Section], ctx: ReportContext) -> Section:
    t0 = time.perf_counter()
    section = builder(ctx)
    section.seconds = time.perf_counter() - t0
    return section
