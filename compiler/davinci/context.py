"""The lowering context: chip, options, global-memory placement of every value, and the
kernels emitted so far. Kernel generators receive it and add launches to it."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.davinci.builder import KernelBuilder
from compiler.davinci.gm_plan import GmBuffer
from compiler.davinci.target import DaVinciTarget
from compiler.errors import CompileError
from compiler.executable import KernelLaunch, TensorPlacement
from framework import Graph, Node, OpCode, TensorType
from framework.ops import BINARY_ELEMENTWISE, UNARY_ELEMENTWISE
from isa.davinci.layouts import layout_shape, to_layout

GM_ALIGN = 512  # bytes: GM transfers split into 512 B pieces are fastest (facts §2.2)
GM_GUARD = 2 * GM_ALIGN  # virtual bytes between buffers before planning (see `_allocate`)
DEVICE_FLOAT = "float16"  # the Cube and most vector ops compute on fp16


def device_dtype(tensor_type: TensorType) -> str:
    """Floats run in fp16 on the device; integers as int32 (indices)."""
    return DEVICE_FLOAT if tensor_type.is_float else "int32"


def activation_layout(tensor_type: TensorType) -> str:
    """The layout a value of this type gets when nothing else is known (4-D floats as feature
    maps); values of a graph take theirs from `assign_layouts` via `LoweringContext.layout_of`."""
    return "nc1hwc0" if tensor_type.rank == 4 and tensor_type.is_float else "ndp"


_FMAP_OPS = {OpCode.CONV2D, OpCode.CONV_TRANSPOSE2D, OpCode.MAX_POOL2D, OpCode.AVG_POOL2D,
             OpCode.GLOBAL_AVG_POOL, OpCode.BATCH_NORM, OpCode.BATCH_NORM_GRAD,
             OpCode.CONV2D_GRAD_WEIGHT}


def _is_fmap_node(node: Node) -> bool:
    if node.op is OpCode.FUSED:
        return node.attrs.kind == "conv"
    return node.op in _FMAP_OPS


def conv_weight_input(node: Node) -> str | None:
    """The outer name of the weight a (fused) convolution or transposed convolution reads."""
    if node.op in (OpCode.CONV2D, OpCode.CONV_TRANSPOSE2D):
        return node.inputs[1]
    if node.op is OpCode.FUSED and node.attrs.kind == "conv":
        body = node.attrs.body
        outer = dict(zip(body.inputs, node.inputs, strict=True))
        return outer[body.nodes[0].inputs[1]]
    return None


def _fmap_values(node: Node) -> tuple[str, ...]:
    """The feature maps a feature-map node reads and writes (weights and weight gradients
    excluded: those are FRACTAL_Z)."""
    if node.op is OpCode.CONV2D_GRAD_WEIGHT:
        return tuple(node.inputs[:2])
    weight = conv_weight_input(node)
    return tuple(v for v in (*node.inputs, *node.outputs[:1]) if v != weight)


def _weight_values(graph: Graph) -> set[str]:
    """Run-time convolution weights and weight gradients (stored FRACTAL_Z)."""
    weights = {n.outputs[0] for n in graph.nodes if n.op is OpCode.CONV2D_GRAD_WEIGHT}
    for node in graph.nodes:
        weight = conv_weight_input(node)
        if weight is not None and weight not in graph.constants:
            weights.add(weight)
    return weights


def _propagate(graph: Graph, seeds: set[str], elementwise: list[Node], same_shape: bool) -> None:
    """Grow ``seeds`` through element-wise nodes to their other rank-4 non-constant values
    (of the same shape as the seed met, when ``same_shape``)."""
    changed = True
    while changed:
        changed = False
        for node in elementwise:
            values = [v for v in (*node.inputs, *node.outputs)
                      if v not in graph.constants and graph.types[v].rank == 4]
            met = [v for v in values if v in seeds]
            if not met:
                continue
            if same_shape:
                values = [v for v in values if graph.types[v].shape == graph.types[met[0]].shape]
            if not all(v in seeds for v in values):
                seeds.update(values)
                changed = True


def assign_layouts(graph: Graph) -> dict[str, str]:
    """GM layout of every value: feature maps (4-D floats that meet a convolution, pooling or
    batch norm, directly or through element-wise ops) in NC1HWC0; run-time convolution weights,
    weight gradients and the same-shape values element-wise ops combine them with (the SGD
    update chain, velocities) in FRACTAL_Z; everything else row-major with padded rows
    ("ndp"). Constants are placed by the kernels that read them."""
    fmap: set[str] = set()
    for node in graph.nodes:
        if _is_fmap_node(node):
            fmap.update(v for v in _fmap_values(node)
                        if graph.types[v].rank == 4 and v not in graph.constants)
    elementwise = [n for n in graph.nodes if n.op in UNARY_ELEMENTWISE | BINARY_ELEMENTWISE
                   or (n.op is OpCode.FUSED and n.attrs.kind == "elementwise")]
    weights = _weight_values(graph)
    _propagate(graph, weights, elementwise, same_shape=True)
    fmap -= weights
    _propagate(graph, fmap, elementwise, same_shape=False)
    layouts = {}
    for v, t in graph.types.items():
        if v in weights and t.is_float:
            layouts[v] = "fractal_z"
        else:
            layouts[v] = "nc1hwc0" if v in fmap and t.is_float else "ndp"
    for v in _space_to_depth_inputs(graph):
        layouts[v] = "nc1hwc0_s2d"
    return layouts


def _stride2_conv(node: Node) -> bool:
    """Whether ``node`` is a (fused) convolution with stride 2 both ways, no dilation and no
    groups: given a space-to-depth input it becomes a stride-1 convolution with a quarter of
    the taps (`compiler.davinci.kernels.conv.space_to_depth_conv`)."""
    anchor = node.attrs.body.nodes[0] if node.op is OpCode.FUSED and \
        node.attrs.kind == "conv" else node
    if anchor.op is not OpCode.CONV2D:
        return False
    at = anchor.attrs
    return tuple(at.stride) == (2, 2) and tuple(at.dilation) == (1, 1) and at.groups == 1


def _conv_operands(node: Node) -> list[str]:
    """The outer names a (fused) convolution's anchor reads, in the anchor's order, then the
    fused epilogue's operands."""
    if node.op is not OpCode.FUSED:
        return list(node.inputs)
    body = node.attrs.body
    outer = dict(zip(body.inputs, node.inputs, strict=True))
    anchor = [outer[v] for v in body.nodes[0].inputs]
    return anchor + [v for v in node.inputs if v not in anchor]


def _space_to_depth_inputs(graph: Graph) -> set[str]:
    """Graph inputs with at most 4 channels read only, as input 0, by stride-2 convolutions
    with constant weights (a network's stem): the input pipeline lays them out
    ``nc1hwc0_s2d``, so the 16-channel block holds 4x the channels (ResNet-50: 12 of 16
    used instead of 3, a third of the Cube work)."""
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for v in set(node.inputs):
            readers.setdefault(v, []).append(node)
    chosen = set()
    for v in graph.inputs:
        t = graph.types[v]
        if t.rank != 4 or not t.is_float or t.shape[1] > 4 or v in graph.outputs:
            continue
        nodes = readers.get(v, [])
        if nodes and all(_stride2_conv(n) and _conv_operands(n)[0] == v
                         and v not in _conv_operands(n)[1:]
                         and conv_weight_input(n) in graph.constants for n in nodes):
            chosen.add(v)
    return chosen


@dataclass(frozen=True)
class ResidentFmap:
    """A feature map that never goes to GM: each core keeps its own whole images of it
    (NC1HWC0, ``nbytes`` in all) at ``offset`` in its L1, from the convolution that writes it
    (node ``producer``) to the last one that reads it (``consumer``); all of them must share a
    launch."""

    value: str
    offset: int
    nbytes: int
    producer: str
    consumer: str


@dataclass
class LoweringContext:
    """Everything a kernel generator needs, and what it produces."""

    graph: Graph
    target: DaVinciTarget
    options: Any
    placements: dict[str, TensorPlacement] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    kernels: list[KernelLaunch] = field(default_factory=list)
    gm_top: int = 0
    buffers: list[GmBuffer] = field(default_factory=list)  # every allocation, in GM order
    layouts: dict[str, str] = field(default_factory=dict)
    views: dict[str, Any] = field(default_factory=dict)  # transposes read in place (views.py)
    # feature maps last read or written bottom row first (conv.py's serpentine order)
    swept_upward: set[str] = field(default_factory=set)
    # feature maps kept in L1 between the convolutions that write and read them (conv.py):
    # every one made, and the ones whose L1 is still reserved
    resident: dict[str, ResidentFmap] = field(default_factory=dict)
    live_l1: dict[str, ResidentFmap] = field(default_factory=dict)
    # shortcut convolution -> the convolution it folds into, or None (conv_plan.shortcut_reader)
    folds: dict[str, Node | None] = field(default_factory=dict)
    order: list[Node] = field(default_factory=list)  # the nodes in lowering order
    position: dict[str, int] = field(default_factory=dict)  # node name -> index in ``order``
    _readers: dict[str, list[Node]] | None = field(default=None, repr=False)
    _writers: dict[str, Node] | None = field(default=None, repr=False)
    _territory_bounds: list[int] = field(default_factory=list, repr=False)  # `gm_territory`

    def __post_init__(self) -> None:
        if not self.layouts:
            self.layouts = assign_layouts(self.graph)

    @property
    def merge_launches(self) -> bool:
        """Whether kernels whose cores exchange no data share launches (core_local.py)."""
        return getattr(self.options, "merge_launches", True)

    @property
    def keep_on_chip(self) -> bool:
        """Whether feature maps may stay in L1 between convolutions (`ResidentFmap`)."""
        return self.merge_launches and getattr(self.options, "keep_on_chip", True) \
            and self.target.organisation == "coupled"

    def readers(self, value: str) -> list[Node]:
        """The nodes that read ``value`` (each once)."""
        if self._readers is None:
            self._readers = {}
            for node in self.graph.nodes:
                for v in dict.fromkeys(node.inputs):
                    self._readers.setdefault(v, []).append(node)
        return self._readers.get(value, [])

    def writer(self, value: str) -> Node | None:
        """The node that writes ``value`` (None for graph inputs and constants)."""
        if self._writers is None:
            self._writers = {v: node for node in self.graph.nodes for v in node.outputs}
        return self._writers.get(value)

    def l1_limit(self) -> int:
        """L1 bytes below the feature maps held resident now: what a kernel may use."""
        return min((r.offset for r in self.live_l1.values()), default=self.target.l1_bytes)

    def reserve_l1(self, value: str, nbytes: int, producer: str,
                   consumer: str) -> ResidentFmap:
        """Hold ``nbytes`` at the top of the free L1 of every core for ``value``."""
        offset = (self.l1_limit() - nbytes) // 512 * 512
        resident = ResidentFmap(value, offset, nbytes, producer, consumer)
        self.resident[value] = self.live_l1[value] = resident
        return resident

    def layout_of(self, value: str) -> str:
        return self.layouts.get(value, "ndp")

    # ------------------------------------------------------------------ placement

    def type_of(self, value: str) -> TensorType:
        return self.graph.types[value]

    def is_constant(self, value: str) -> bool:
        return value in self.graph.constants

    def constant(self, value: str) -> np.ndarray:
        return np.asarray(self.graph.constants[value])

    def _allocate(self, key: str, nbytes: int, kind: str, layout: str) -> int:
        """Bump-allocate a buffer in the virtual GM space (never shared); `gm_plan` gives
        the buffers their planned offsets once every kernel exists. A guard gap before each
        buffer keeps accesses that start a little before a buffer (unaligned row reads) or
        end a little past it apart from its neighbours, so each is attributed to its own."""
        offset = -(-(self.gm_top + GM_GUARD) // GM_ALIGN) * GM_ALIGN
        if self.buffers:  # the gap is split between the buffers on either side
            self._territory_bounds.append((self.gm_top + offset) // 2)
        self.gm_top = offset + max(nbytes, 1)
        self.buffers.append(GmBuffer(key, offset, nbytes, kind, layout))
        return offset

    def gm_territory(self, address: int) -> int:
        """The buffer a virtual GM address belongs to: the one holding it, or the nearer one
        in the gap between two (`flags.flag_shape` keys shared flag plans on it)."""
        return bisect.bisect_right(self._territory_bounds, address)

    def place(self, value: str, layout: str | None = None, dtype: str | None = None,
              shape: tuple[int, ...] | None = None) -> TensorPlacement:
        """The placement of ``value``, allocating it on first use (default layout for its
        type). Asking again with a different layout is an error: use `place_constant` for a
        constant needed in a special layout, or a relayout kernel."""
        existing = self.placements.get(value)
        tensor_type = self.type_of(value)
        layout = layout or (existing.layout if existing else self.layout_of(value))
        if existing is not None:
            if existing.layout != layout:
                raise CompileError(f"{value}: placed as {existing.layout}, requested {layout}")
            return existing
        dtype = dtype or device_dtype(tensor_type)
        shape = tuple(shape if shape is not None else tensor_type.shape)
        itemsize = np.dtype(dtype).itemsize
        nbytes = math.prod(layout_shape(shape or (1,), layout, itemsize)) * itemsize
        kind = ("constant" if self.is_constant(value)
                else "input" if value in self.graph.inputs else "value")
        placement = TensorPlacement(value, self._allocate(value, nbytes, kind, layout), nbytes,
                                    shape, dtype, layout)
        self.placements[value] = placement
        return placement

    def alias(self, value: str, source: str, shape: tuple[int, ...] | None = None) -> None:
        """``value`` shares ``source``'s bytes (a reshape that moves no data)."""
        src = self.placements[source]
        self.placements[value] = TensorPlacement(
            value, src.offset, src.nbytes, tuple(shape or self.type_of(value).shape),
            src.dtype, src.layout)

    def place_constant(self, value: str, array: np.ndarray, layout: str,
                       key: str | None = None, dtype: str = DEVICE_FLOAT) -> TensorPlacement:
        """Place a (transformed) constant image in GM, e.g. conv weights as FRACTAL_Z."""
        key = key or value
        existing = self.placements.get(key)
        if existing is not None:
            return existing
        stored = np.ascontiguousarray(to_layout(np.asarray(array).astype(dtype), layout))
        offset = self._allocate(key, stored.nbytes, "constant", layout)
        placement = TensorPlacement(key, offset, stored.nbytes,
                                    tuple(np.shape(array)), dtype, layout)
        self.placements[key] = placement
        self.constants[key] = stored
        return placement

    def workspace(self, key: str, nbytes: int, dtype: str = "float32") -> TensorPlacement:
        """GM scratch without initial contents (e.g. partial sums one kernel writes and the
        next reduces), allocated once under ``key``. The GM plan keeps it live only from the
        first to the last kernel that touches it (`gm_plan`)."""
        existing = self.placements.get(key)
        if existing is not None:
            return existing
        count = nbytes // np.dtype(dtype).itemsize
        placement = TensorPlacement(key, self._allocate(key, nbytes, "scratch", "nd"), nbytes,
                                    (count,), dtype, "nd")
        self.placements[key] = placement
        return placement

    # ------------------------------------------------------------------ kernels

    def builder(self, name: str, cores: int) -> KernelBuilder:
        return KernelBuilder(name, self.target, cores, gm_territory=self.gm_territory,
                             l1_bytes=self.l1_limit())

    def launch(self, builder: KernelBuilder, nodes: Node | list[Node], op: str, flops: int,
               min_bytes: int, inputs: tuple[str, ...], outputs: tuple[str, ...],
               tiling: str = "") -> KernelLaunch:
        """Finish ``builder`` (flags inserted) and record the launch."""
        nodes = nodes if isinstance(nodes, list) else [nodes]
        program = builder.build()
        launch = KernelLaunch(
            name=builder.name, target="davinci", program=program, layer=nodes[0].name, op=op,
            origin=tuple(_origin(nodes)), flops=int(flops), min_bytes=int(min_bytes),
            inputs=inputs, outputs=outputs, tiling=tiling,
        )
        self.kernels.append(launch)
        return launch


def _origin(nodes: list[Node]) -> list[str]:
    """The graph nodes a kernel came from: a fused node stands for the nodes of its body."""
    names: list[str] = []
    for node in nodes:
        if node.op is OpCode.FUSED:
            names += [n.name for n in node.attrs.body.nodes]
        else:
            names.append(node.name)
    return names
