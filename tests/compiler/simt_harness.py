"""Shared helpers of the SIMT lowering tests: compile a graph for a GPU preset, run it in
functional mode and compare with the reference interpreter (fp16 tolerance)."""

from __future__ import annotations

from framework import Graph
from tests.compiler.model_check import TOLERANCE, inputs_for
from tests.compiler.model_check import check_model as _check_model

__all__ = ["TOLERANCE", "check_model", "inputs_for"]


def check_model(model: str | Graph, hw: str = "a100", tolerance: float = TOLERANCE):
    """`model_check.check_model` on a GPU preset, asserting the SIMT lowering ran."""
    return _check_model(model, hw, tolerance, target="simt")
