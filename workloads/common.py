"""Helpers shared by the zoo models: tracing a module at a batch size and dtype."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from framework import FrameworkError, Graph, TensorType, trace
from framework.nn import Module


def trace_model(module: Module, name: str, inputs: Mapping[str, TensorType], dtype: str,
                output_names: Sequence[str] | None = None) -> Graph:
    """Put ``module`` in eval mode, convert it to ``dtype`` and trace it on ``inputs`` (name ->
    type, passed to forward as keyword arguments)."""
    module.eval()
    if dtype != "float32":
        module.to(dtype)
    return trace(module, dict(inputs), name=name, output_names=output_names)


def image_input(batch: int, channels: int, image: int, dtype: str) -> dict[str, TensorType]:
    """The NCHW ``image`` input of a vision model."""
    return {"image": TensorType((batch, channels, image, image), dtype)}


def require(cond: bool, workload: str, message: str) -> None:
    """FrameworkError naming the workload unless ``cond``."""
    if not cond:
        raise FrameworkError(f"workload {workload!r}: {message}")
