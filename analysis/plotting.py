"""Matplotlib plumbing shared by the report modules: a headless pyplot and PNG bytes.

Imported lazily (only when a report draws), so that the pure data functions
of the analysis work without matplotlib.
"""
from __future__ import annotations

import io


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def png(fig) -> bytes:
    """The figure as PNG bytes, reproducible (no software tag), and closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return buffer.getvalue()
