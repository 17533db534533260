"""The report's sections, declared once, in page order.

Each entry is ``(key, builder)``; a builder takes the shared :class:`~seminfo.report.core.ReportContext`
and returns a :class:`~seminfo.report.core.Section`. Adding a section means writing its module in this
package and adding one line here.
"""

from __future__ import annotations

from typing import Callable

from . import architectures, capacity, coding, embedding, energy, flow, foundation, models, rd
from .core import ReportContext, Section

SECTIONS: list[tuple[str, Callable[[ReportContext], Section]]] = [
    ("models", models.build),
    ("architectures", architectures.build),
    ("foundation", foundation.build),
    ("rate-distortion", rd.build),
    ("flow", flow.build),
    ("embedding", embedding.build),
    ("energy", energy.build),
    ("capacity", capacity.build),
    ("compression", coding.build),
]
