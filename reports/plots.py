"""Shared plotting helpers: matplotlib figures without pyplot (no global figure state), a stable
colour per op, and figures embedded as self-contained SVG data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

import matplotlib
from matplotlib.figure import Figure

# A colour-blind-safe qualitative palette (Okabe & Ito 2008) then tab20's for many ops.
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a")

STYLE: dict[str, Any] = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
                         "legend.fontsize": 8, "svg.fonttype": "none", "svg.hashsalt": "archsim"}
"""rcParams for every report figure (applied with ``matplotlib.rc_context``); a fixed hash salt
keeps SVG output deterministic."""


def style() -> AbstractContextManager[None]:
    """The report style (`STYLE`) for the duration of a ``with`` block."""
    return matplotlib.rc_context(STYLE)  # type: ignore[arg-type]  # keys are valid rcParams


def colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per name, assigned in sorted order so the same ops get the same colours."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(set(names)))}


def new_figure(width_in: float, height_in: float, rows: int = 1, cols: int = 1,
               **kwargs: Any) -> tuple[Figure, Any]:
    """A figure and its axes (as ``Figure.subplots`` returns them), laid out tightly."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    return fig, fig.subplots(rows, cols, **kwargs)


def svg_bytes(fig: Figure) -> bytes:
    """The figure as SVG."""
    buffer = io.BytesIO()
    with style():  # the hash salt is read when saving
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def data_uri(fig: Figure) -> str:
    """The figure as an ``data:image/svg+xml;base64,`` URI for an ``<img>`` element."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_bytes(fig)).decode("ascii")


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix: ``si(1.5e12, 'FLOP/s')`` -> ``'1.5 TFLOP/s'``."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".rstrip()
