"""Lowering a framework Graph to a DaVinci Executable.

Each node is handled by the rule registered for its op in `LOWERING_RULES` (fused nodes by
their kind): cube kernels for convolution and matrix products, vector kernels for the rest,
and data-movement kernels or plain aliases for layout ops. A node without a rule is refused
with a message naming it (progressive lowering with declared legality).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from compiler.davinci.batching import batch_launches
from compiler.davinci.context import GM_ALIGN, LoweringContext
from compiler.davinci.core_local import merge_core_local
from compiler.davinci.gm_plan import plan_gm, relocate_kernel
from compiler.davinci.target import DaVinciTarget
from compiler.davinci.views import find_views
from compiler.errors import CompileError
from compiler.executable import Executable
from compiler.options import CompileOptions
from compiler.rules import registrar, rule_key
from framework import Graph, Node, OpCode, topological

Rule = Callable[[LoweringContext, Node], None]
LOWERING_RULES: dict[Any, Rule] = {}
"""OpCode (or ("fused", kind)) -> rule; kernel modules register themselves with `rule`."""

rule = registrar(LOWERING_RULES)


def _load_rules() -> None:
    # Importing the kernel modules registers their rules; gather dispatches on its indices.
    from compiler.davinci import kernels  # noqa: F401
    from compiler.davinci.kernels.gather import lower_gather

    LOWERING_RULES[OpCode.GATHER] = lower_gather


def lower_graph(graph: Graph, target: DaVinciTarget, options: Any = None,
                name: str = "graph") -> Executable:
    """Lower every node of ``graph`` into kernels for ``target``.

    Feature maps kept in L1 between convolutions (`ResidentFmap`) need their writer and
    reader in one launch; should the launches split them, or a kernel lowered while one is
    held not fit the L1 left, the graph is lowered again with every feature map in GM."""
    _load_rules()
    ctx = None
    try:
        ctx = _lowered(graph, target, options, name)
    except CompileError:
        if not getattr(options or CompileOptions(), "keep_on_chip", False):
            raise
    if ctx is None or _split_residents(ctx):  # a genuine error is raised again here
        in_gm = dataclasses.replace(options or CompileOptions(), keep_on_chip=False)
        ctx = _lowered(graph, target, in_gm, name)
    return _planned_executable(ctx, name)


def _split_residents(ctx: LoweringContext) -> list[str]:
    """The resident feature maps whose writer and reader ended in different launches."""
    launch_of = {}
    for index, launch in enumerate(ctx.kernels):
        for origin in launch.origin:
            launch_of[origin] = index
    first = {node.name: _origin_of(node) for node in ctx.order}
    return [r.value for r in ctx.resident.values()
            if launch_of.get(first[r.producer]) != launch_of.get(first[r.consumer])]


def _origin_of(node: Node) -> str:
    return node.attrs.body.nodes[0].name if node.op is OpCode.FUSED else node.name


def _lowered(graph: Graph, target: DaVinciTarget, options: Any,
             name: str) -> LoweringContext:
    """The context with every node lowered and the launches batched and merged."""
    ctx = LoweringContext(graph, target, options)
    ctx.views = find_views(graph)
    absorbed = {v for v in ctx.views}
    missing: dict[str, list[str]] = {}
    for n in graph.nodes:
        if rule_key(n) not in LOWERING_RULES and \
                not (n.op is OpCode.TRANSPOSE and n.outputs[0] in absorbed):
            missing.setdefault(str(rule_key(n)), []).append(n.name)
    if missing:
        listed = ", ".join(f"{op} ({len(nodes)} node{'s' if len(nodes) > 1 else ''}, e.g. "
                           f"'{nodes[0]}')" for op, nodes in sorted(missing.items()))
        raise CompileError(f"{name}: no DaVinci lowering for: {listed}")
    for value in graph.inputs:
        ctx.place(value)
    ctx.order = list(topological(graph))
    ctx.position = {node.name: index for index, node in enumerate(ctx.order)}
    for node in ctx.order:
        if node.op is OpCode.TRANSPOSE and node.outputs[0] in absorbed:
            continue  # read in place by the matmuls that consume it (views.py)
        LOWERING_RULES[rule_key(node)](ctx, node)
    for value in graph.outputs:
        if value not in ctx.placements:
            raise CompileError(f"{name}: output {value} was never produced")
    ctx.kernels = batch_launches(ctx.kernels, ctx.target)
    if ctx.merge_launches:
        ctx.kernels = merge_core_local(ctx.kernels, ctx.target.event_ids, ctx.gm_territory)
    return ctx


def _planned_executable(ctx: LoweringContext, name: str) -> Executable:
    """The executable with every GM buffer at its liveness-planned offset (gm_plan.py)."""
    graph = ctx.graph
    plan, translate = plan_gm(ctx.buffers, ctx.kernels,
                              [ctx.placements[v].offset for v in graph.outputs], GM_ALIGN)
    kernels = tuple(dataclasses.replace(k, program=relocate_kernel(k.program, translate))
                    for k in ctx.kernels)
    placements = {key: dataclasses.replace(p, offset=translate(p.offset))
                  for key, p in ctx.placements.items()}
    return Executable(
        name=name, target="davinci", hw=ctx.target.name, kernels=kernels,
        # 512 B of slack at the end: some vector kernels read whole 32 B blocks a little past
        # the end of a source tensor (the bytes are fetched, never used)
        placements=placements, gm_bytes=plan.peak_bytes + GM_ALIGN,
        inputs=tuple(graph.inputs),
        outputs=tuple(graph.outputs), constants=dict(ctx.constants), memory=plan,
    )
