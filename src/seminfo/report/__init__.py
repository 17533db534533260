"""The self-contained HTML report (`seminfo report`)."""

from .core import ReportContext, Section, esc, figure_html, table_html
from .html import write_report

__all__ = ["ReportContext", "Section", "esc", "figure_html", "table_html", "write_report"]
