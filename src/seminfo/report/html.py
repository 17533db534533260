"""Assemble the self-contained HTML report from the section builders.

Each builder in :data:`seminfo.report.core.SECTION_BUILDERS` is called with the shared
:class:`ReportContext`. A builder whose module is not installed is listed as unavailable; a builder that
raises is shown as an error box (its message escaped) and counted in ``ReportResult.failed``, so a broken
section is visible, never silently dropped.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import pathlib
import time
import traceback
from dataclasses import dataclass, field

from .core import SECTION_BUILDERS, ReportContext, Section, esc, timed

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
    unavailable: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _load(spec: str):
    module, func = spec.split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def write_report(out_dir: str | pathlib.Path, ctx: ReportContext, *,
                 builders: list[str] | None = None) -> ReportResult:
    """Build every section and write ``out_dir/index.html`` (and ``report.json`` with the numbers)."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = ReportResult(path=out / "index.html")
    sections: list[Section] = []
    for spec in builders or SECTION_BUILDERS:
        try:
            builder = _load(spec)
        except Exception as exc:                          # a section's import error is its own failure
            builder, err = None, exc
            sections.append(Section(f"Section {spec} failed to import", _error_box(err), key=spec))
            result.failed.append(spec)
            continue
        if builder is None:
            result.unavailable.append(spec)
            continue
        ctx.log(f"building {spec} ...")
        try:
            section = timed(builder, ctx)
            result.sections.append(spec)
        except Exception as exc:
            section = Section(f"Section {spec} failed", _error_box(exc), key=spec)
            result.failed.append(spec)
        sections.append(section)
        ctx.log(f"  {spec} done in {section.seconds:.1f} s")
    result.seconds = time.perf_counter() - t0
    out.joinpath("index.html").write_text(_page(ctx, sections, result), encoding="utf-8")
    out.joinpath("report.json").write_text(json.dumps(
        {"models": ctx.models, "fast": ctx.fast, "seconds": result.seconds,
         "sections": {s.key or s.title: {"title": s.title, "seconds": s.seconds, "data": s.data}
                      for s in sections}}, indent=1, default=_jsonable), encoding="utf-8")
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
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    return f'<div class="error">{esc(type(exc).__name__)}: {esc(exc)}\n\n{esc(tb)}</div>'


def _page(ctx: ReportContext, sections: list[Section], result: ReportResult) -> str:
    from .. import __version__
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    corpus = "embedded validation split (Python 3.11 documentation, PSF licence)" \
        if ctx.text_path is None else str(ctx.text_path)
    toc = "".join(f'<li><a href="#s{i}">{esc(s.title)}</a></li>' for i, s in enumerate(sections))
    body = "".join(f'<section id="s{i}"><h2>{esc(s.title)}</h2>{s.html}'
                   f'<p class="note">built in {s.seconds:.1f} s</p></section>'
                   for i, s in enumerate(sections))
    missing = ""
    if result.unavailable:
        missing = ('<p class="note">Sections not installed: '
                   + esc(", ".join(result.unavailable)) + "</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>seminfo report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>seminfo report</h1>
<p class="meta">seminfo {esc(__version__)} · {esc(now)} · models: {esc(", ".join(ctx.models))} ·
corpus: {esc(corpus)}{" · fast mode" if ctx.fast else ""} · {result.seconds:.0f} s</p>
<p>The unit of semantic information is the token. All figures are in bits; each table says whether per
token, per byte, per symbol or total.</p>
<ol>{toc}</ol>{missing}{body}
</body></html>
"""
