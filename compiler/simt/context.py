"""The SIMT lowering context: GPU, options, global-memory placement of every value and the
kernels emitted so far.

Layouts (DESIGN.md, GPU side): every value row-major ("nd"), 4-D activations NHWC ("nhwc");
floats stored as fp16, integers as int32. Constants are placed by the kernels that read them,
in the form those kernels want (e.g. LINEAR weights as the rows of B^T).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.errors import CompileError
from compiler.executable import KernelLaunch, TensorPlacement
from compiler.memory_plan import Allocation
from compiler.simt.target import GpuTarget
from framework import Graph, OpCode, TensorType
from isa.simt import Kernel

GM_ALIGN = 256  # bytes: two 128 B lines, so every tensor starts on a line and sector
DEVICE_FLOAT = "float16"
_FMAP_OPS = frozenset({OpCode.CONV2D, OpCode.MAX_POOL2D, OpCode.AVG_POOL2D,
                       OpCode.GLOBAL_AVG_POOL, OpCode.BATCH_NORM})


def device_dtype(tensor_type: TensorType) -> str:
    """Floats are stored in fp16 (tensor-core inputs); integers as int32."""
    return DEVICE_FLOAT if tensor_type.is_float else "int32"


def logical_to_stored(array: np.ndarray, layout: str) -> np.ndarray:
    """The stored form of a logical (NCHW / row-major) array in ``layout``."""
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)) if layout == "nhwc" else array


def stored_to_logical(stored: np.ndarray, layout: str, shape: tuple[int, ...]) -> np.ndarray:
    """The logical array of ``shape`` held in flat ``stored``."""
    if layout == "nhwc":
        n, c, h, w = shape
        return stored.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return stored.reshape(shape)


@dataclass
class SimtContext:
    """Everything a SIMT kernel generator needs, and what it produces."""

    graph: Graph
    target: GpuTarget
    options: Any
    placements: dict[str, TensorPlacement] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    kernels: list[KernelLaunch] = field(default_factory=list)
    gm_top: int = 0  # bump allocation starts above the planned workspace (gm_plan.py)
    temporaries: dict[str, TensorType] = field(default_factory=dict)
    planned: Mapping[str, Allocation] = field(default_factory=dict)  # intermediates' slots
    used: list[tuple[str, int, int, str]] = field(default_factory=list)  # key, offset, B, region
    _fmaps: frozenset[str] | None = None

    def type_of(self, value: str) -> TensorType:
        return self.temporaries[value] if value in self.temporaries else self.graph.types[value]

    def temporary(self, name: str, like: str, layout: str = "nd") -> str:
        """A new intermediate value shaped like ``like`` (e.g. a GEMM result before an
        epilogue that runs as its own kernel) stored in ``layout``; returns its name."""
        self.temporaries[name] = self.type_of(like)
        if layout == "nhwc":
            self._fmaps = self.feature_maps | {name}
        return name

    def is_constant(self, value: str) -> bool:
        return value in self.graph.constants

    def constant(self, value: str) -> np.ndarray:
        return np.asarray(self.graph.constants[value])

    def layout_of(self, value: str) -> str:
        """NHWC for feature maps (rank-4 values a convolution or pooling reads or writes),
        row-major for everything else."""
        return "nhwc" if value in self.feature_maps else "nd"

    @property
    def feature_maps(self) -> frozenset[str]:
        if self._fmaps is None:
            found = set()
            for node in self.graph.nodes:
                kind = node.attrs.kind if node.op is OpCode.FUSED else None
                if node.op in _FMAP_OPS or kind == "conv":
                    found.update(v for v in (*node.inputs, node.outputs[0])
                                 if v in self.graph.types and self.graph.types[v].rank == 4
                                 and not self.is_constant(v))
            self._fmaps = frozenset(found)
        return self._fmaps

    def _allocate(self, key: str, nbytes: int, region: str) -> int:
        """Bump-allocate ``nbytes`` above everything so far (never shared)."""
        offset = -(-self.gm_top // GM_ALIGN) * GM_ALIGN
        self.gm_top = offset + max(nbytes, 1)
        self.used.append((key, offset, nbytes, region))
        return offset

    def _offset(self, value: str, nbytes: int) -> int:
        """A graph value's offset: its planned workspace slot when it has one that fits,
        else a bump allocation in its region."""
        slot = self.planned.get(value)
        if slot is not None and nbytes <= slot.nbytes:
            self.used.append((value, slot.offset, nbytes, "workspace"))
            return slot.offset
        region = ("input" if value in self.graph.inputs else
                  "output" if value in self.graph.outputs else "workspace")
        return self._allocate(value, nbytes, region)

    def place(self, value: str) -> TensorPlacement:
        """The placement of ``value`` (allocated on first use)."""
        existing = self.placements.get(value)
        if existing is not None:
            return existing
        t = self.type_of(value)
        if self.is_constant(value):
            return self.place_constant(value, logical_to_stored(self.constant(value),
                                                                self.layout_of(value)))
        dtype = device_dtype(t)
        nbytes = math.prod(t.shape) * np.dtype(dtype).itemsize
        placement = TensorPlacement(value, self._offset(value, nbytes), nbytes, tuple(t.shape),
                                    dtype, self.layout_of(value))
        self.placements[value] = placement
        return placement

    def place_constant(self, value: str, image: np.ndarray, key: str | None = None,
                       dtype: str | None = None) -> TensorPlacement:
        """Place a constant's device image (already in the form its reader wants) under
        ``key`` (default: the value's name); placed once per key."""
        key = key or value
        if key in self.placements:
            return self.placements[key]
        t = self.type_of(value)
        dtype = dtype or device_dtype(t)
        image = np.ascontiguousarray(np.asarray(image).astype(dtype))
        placement = TensorPlacement(key, self._allocate(key, image.nbytes, "constant"),
                                    image.nbytes,
                                    tuple(image.shape), dtype, "nd")
        self.placements[key] = placement
        self.constants[key] = image
        return placement

    def alias(self, value: str, source: str) -> None:
        """``value`` shares ``source``'s bytes (a reshape of a row-major value)."""
        src = self.place(source)
        if src.layout != "nd" or self.layout_of(value) != "nd":
            raise CompileError(f"{value}: reshape of a {src.layout} value needs a copy kernel")
        self.placements[value] = TensorPlacement(value, src.offset, src.nbytes,
                                                 tuple(self.type_of(value).shape), src.dtype,
                                                 "nd")

    def add_kernel(self, kernel: Kernel, node_name: str, op: str, origin: tuple[str, ...],
                   flops: int, inputs: tuple[str, ...], outputs: tuple[str, ...],
                   tiling: str = "") -> None:
        """Record one launch; its minimum traffic is every input and output once."""
        min_bytes = sum(self.placements[v].nbytes for v in (*inputs, *outputs)
                        if v in self.placements)
        self.kernels.append(KernelLaunch(
            name=kernel.name, target="simt", program=kernel, layer=node_name, op=op,
            origin=origin, flops=flops, min_bytes=min_bytes, inputs=inputs, outputs=outputs,
            tiling=tiling))
