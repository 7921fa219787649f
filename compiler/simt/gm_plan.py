"""Global-memory planning for the SIMT lowering: graph intermediates by liveness, before any
kernel is generated.

SIMT kernels receive buffer addresses as launch parameters, among sizes and strides of the
same type, so addresses cannot be told apart and moved after lowering (the DaVinci lowering
relocates its instruction operands instead, `compiler.davinci.gm_plan`). The plan is therefore
made from the graph, with exactly the bytes `SimtContext.place` allocates (every value
unpadded, row-major or NHWC, floats as fp16 and integers as int32): the intermediates occupy
the workspace at the bottom of GM, and everything else -- inputs, outputs, constant images and
the lowering's temporaries (im2col matrices, GEMM results an epilogue kernel reads) -- is
bump-allocated above it, never shared. Temporaries stay out of the plan on purpose: the
im2col matrix and padded GEMM operands leave their K padding unwritten and rely on GM's
initial zeros, which reused bytes would not provide.

A node's kernels only touch the node's inputs and outputs (and its temporaries), and lifetimes
are inclusive node ranges, so a kernel never writes bytes another live value holds. A
row-major reshape is an alias of its source (no kernel), so a source lives as long as any
reshape of it; a source whose reshape is a graph output is not planned at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from compiler.memory_plan import (
    REGIONS,
    Allocation,
    Block,
    MemoryPlan,
    pack_blocks,
    value_lifetimes,
)
from compiler.simt.context import device_dtype
from framework import Graph, OpCode, TensorType, topological

_ALIASING_OPS = frozenset({OpCode.RESHAPE, OpCode.FLATTEN})
"""Ops whose output may share its input's bytes (`kernels.elementwise.lower_reshape`)."""


def value_nbytes(tensor_type: TensorType) -> int:
    """The bytes `SimtContext.place` allocates for a value of this type."""
    return math.prod(tensor_type.shape) * np.dtype(device_dtype(tensor_type)).itemsize


def _lifetimes(graph: Graph) -> tuple[tuple[str, ...], dict[str, tuple[int, int]]]:
    """Node order and [defining node, last reader] of every plannable intermediate, extended
    over the reshapes that may alias it."""
    order = list(topological(graph))
    life = value_lifetimes(order)
    pinned = set(graph.outputs) | set(graph.inputs) | set(graph.constants)
    for node in reversed(order):  # consumers first: an alias's own life is final here
        if node.op in _ALIASING_OPS and node.inputs[0] in life:
            source, alias = node.inputs[0], node.outputs[0]
            if alias in pinned:
                pinned.add(source)
            else:
                life[source] = (life[source][0], max(life[source][1], life[alias][1]))
    return tuple(n.name for n in order), {v: span for v, span in life.items()
                                          if v not in pinned}


def plan_intermediates(graph: Graph, alignment: int) -> MemoryPlan:
    """The workspace plan of ``graph``'s intermediates, at offsets from 0 (lifetimes index
    the nodes in ``order``)."""
    order, life = _lifetimes(graph)
    blocks = [Block(v, value_nbytes(graph.types[v]), "nd", "workspace", *span)
              for v, span in life.items()]
    return pack_blocks(blocks, alignment, order)


def executable_plan(planned: MemoryPlan, used: Sequence[tuple[str, int, int, str]],
                    gm_top: int, alignment: int) -> MemoryPlan:
    """The plan as lowered: the planned intermediates that were placed, plus every
    bump-allocated buffer (``used``: key, offset, bytes, region) as whole-run."""
    allocations: dict[str, Allocation] = {}
    for key, offset, nbytes, region in used:
        slot = planned.allocations.get(key)
        if slot is not None and slot.offset == offset:
            allocations[key] = slot
            continue
        size = -(-max(nbytes, 1) // alignment) * alignment
        # temporaries sit in the bump area, live throughout: whole-run workspace blocks
        allocations[key] = Allocation(offset, size, "nd", region, 0,
                                      max(len(planned.order) - 1, 0))
    firsts = {r: min((a.offset for a in allocations.values() if a.region == r),
                     default=gm_top) for r in REGIONS}
    firsts["workspace"] = 0
    temporaries = sum(a.nbytes for key, a in allocations.items()
                      if a.region == "workspace" and key not in planned.allocations)
    return MemoryPlan(MappingProxyType(allocations), MappingProxyType(firsts), gm_top,
                      planned.workspace_bytes + temporaries,
                      sum(a.nbytes for a in allocations.values()), alignment, planned.order)
