"""Assemble the self-contained HTML report from the section builders.

Each builder in :data:`seminfo.report.sections.SECTIONS` is called with the shared
:class:`ReportContext`. A builder that raises is shown as a one-line error box (the exception's type and
message, escaped; no traceback or paths) and counted in ``ReportResult.failed``, so a broken section is
visible, never silently dropped; the command line then exits 2.
"""

from __future__ import annotations

import datetime as _dt
import json
import pathlib
import time
from dataclasses import dataclass, field
from typing import Callable

from .core import ReportContext, Section, esc, timed

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em} caption{text-align:left;font-weight:600;
padding:.3em 0} th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} .meta{color:#555;font-size:.9em}
.error{background:#fde8e8;border:1px solid #e99;padding:.6em;white-space:pre-wrap;font-family:monospace}
.note{color:#555;font-size:.9em} img{max-width:100%} code{background:#f4f4f4;padding:0 .2em}
.tok{white-space:pre-wrap;font-family:monospace;line-height:1.9}
"""


@dataclass
class ReportResult:
    """Where the report went and what happened to each section."""

    path: pathlib.Path
    sections: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_report(out_dir: str | pathlib.Path, ctx: ReportContext, *,
                 sections: list[tuple[str, Callable[[ReportContext], Section]]] | None = None) -> ReportResult:
    """Build every section and write ``out_dir/index.html`` (and ``report.json`` with the numbers).

    `sections` defaults to :data:`seminfo.report.sections.SECTIONS`; pass a sub-list of it to build
    only some sections.
    """
    if sections is None:
        from .sections import SECTIONS as sections
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = ReportResult(path=out / "index.html")
    built: list[Section] = []
    for key, builder in sections:
        ctx.log(f"building {key} ...")
        try:
            section = timed(builder, ctx)
            result.sections.append(key)
        except Exception as exc:
            section = Section(f"Section {key} failed", _error_box(exc), key=key)
            result.failed.append(key)
        section.key = section.key or key
        built.append(section)
        ctx.log(f"  {key} done in {section.seconds:.1f} s")
    result.seconds = time.perf_counter() - t0
    out.joinpath("index.html").write_text(_page(ctx, built, result), encoding="utf-8")
    out.joinpath("report.json").write_text(json.dumps(
        {"models": ctx.models, "fast": ctx.fast, "seconds": result.seconds,
         "failed": result.failed,
         "sections": {s.key or s.title: {"title": s.title, "seconds": s.seconds, "data": s.data}
                      for s in built}}, indent=1, default=_jsonable), encoding="utf-8")
    return result


def _jsonable(o):
    try:
        import numpy as np
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
    except ImportError:                                    # pragma: no cover
        pass
    if hasattr(o, "as_dict"):
        return o.as_dict()
    return str(o)


def _error_box(exc: BaseException) -> str:
    """One line for the reader: the error's type and the first line of its message (no traceback, no paths)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f'<div class="error">{esc(type(exc).__name__)}: {esc(first)}</div>'


def _page(ctx: ReportContext, sections: list[Section], result: ReportResult) -> str:
    from .. import __version__
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    corpus = "embedded validation split (Python 3.11 documentation, PSF licence)" \
        if ctx.text_path is None else str(ctx.text_path)
    toc = "".join(f'<li><a href="#s{i}">{esc(s.title)}</a></li>' for i, s in enumerate(sections))
    body = "".join(f'<section id="s{i}"><h2>{esc(s.title)}</h2>{s.html}'
                   f'<p class="note">built in {s.seconds:.1f} s</p></section>'
                   for i, s in enumerate(sections))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>seminfo report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>seminfo report</h1>
<p class="meta">seminfo {esc(__version__)} · {esc(now)} · models: {esc(", ".join(ctx.models))} ·
corpus: {esc(corpus)}{" · fast mode" if ctx.fast else ""} · {result.seconds:.0f} s</p>
<p>The unit of semantic information is the token. All figures are in bits; each table says whether per
token, per byte, per symbol or total.</p>
<ol>{toc}</ol>{body}
</body></html>
"""
