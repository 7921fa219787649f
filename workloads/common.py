"""The `Model` record every zoo builder returns (an eval-mode module, its input types and output
names), which the registry traces into a Graph and tests also run eagerly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from framework import FrameworkError, Graph, Tensor, TensorType, trace
from framework.nn import Module


@dataclass(frozen=True)
class Model:
    """A zoo model ready to run: ``module`` (eval mode, weights in the workload's dtype), the
    keyword inputs of its forward with their types, and the graph's output names (None: the
    keys of the dict forward returns). Integer inputs are token ids in [0, ``id_limit``)."""

    name: str
    module: Module = field(repr=False)
    inputs: Mapping[str, TensorType]
    output_names: tuple[str, ...] | None = None
    id_limit: int = 1

    def trace(self) -> Graph:
        """The traced Graph (symbolic: no arithmetic is done)."""
        return trace(self.module, dict(self.inputs), name=self.name,
                     output_names=self.output_names)

    def example_inputs(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Seeded random inputs: N(0, 1) floats, uniform ids for integer inputs."""
        out = {}
        for name, t in self.inputs.items():
            if t.is_float:
                out[name] = rng.standard_normal(t.shape).astype(t.dtype)
            else:
                out[name] = rng.integers(0, self.id_limit, t.shape).astype(t.dtype)
        return out

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the module eagerly on ``inputs`` and return outputs named as in the graph."""
        result = self.module(**{k: Tensor(v) for k, v in inputs.items()})
        if isinstance(result, Tensor):
            result = [result]
        if isinstance(result, Mapping):
            return {k: v.numpy() for k, v in result.items()}
        names = self.output_names or [f"output_{i}" for i in range(len(result))]
        return {n: t.numpy() for n, t in zip(names, result, strict=True)}


def make_model(module: Module, name: str, inputs: Mapping[str, TensorType], dtype: str,
               output_names: Sequence[str] | None = None, id_limit: int = 1) -> Model:
    """Put ``module`` in eval mode, convert it to ``dtype`` and wrap it as a `Model`."""
    module.eval()
    if dtype != "float32":
        module.to(dtype)
    return Model(name, module, MappingProxyType(dict(inputs)),
                 tuple(output_names) if output_names is not None else None, id_limit)


def image_input(batch: int, channels: int, image: int, dtype: str) -> dict[str, TensorType]:
    """The NCHW ``image`` input of a vision model."""
    return {"image": TensorType((batch, channels, image, image), dtype)}


def require(cond: bool, workload: str, message: str) -> None:
    """FrameworkError naming the workload unless ``cond``."""
    if not cond:
        raise FrameworkError(f"workload {workload!r}: {message}")
