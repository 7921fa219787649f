"""Lowering a framework Graph to a SIMT (GPU) Executable.

Each node is handled by the rule registered for its op in `LOWERING_RULES` (fused nodes by
their kind): tensor-core GEMMs for matrix products, one-thread-per-element kernels for
element-wise chains, warp-shuffle reductions, and aliases for reshapes. A node without a rule
is refused with a CompileError naming every such op (progressive lowering with declared
legality), before any kernel is generated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from compiler.errors import CompileError
from compiler.executable import Executable
from compiler.rules import registrar, rule_key
from compiler.simt.context import GM_ALIGN, SimtContext
from compiler.simt.gm_plan import executable_plan, plan_intermediates
from compiler.simt.target import GpuTarget
from framework import Graph, Node, topological

Rule = Callable[[SimtContext, Node], None]
LOWERING_RULES: dict[Any, Rule] = {}
"""OpCode (or ("fused", kind)) -> rule; kernel modules register themselves with `rule`."""

rule = registrar(LOWERING_RULES)


def kernel_name(node: Node, suffix: str = "") -> str:
    """A kernel name (assembler identifier) derived from the node's name."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", node.name + suffix)
    return name if re.match(r"[A-Za-z_]", name) else f"k_{name}"


def _load_rules() -> None:
    from compiler.simt import kernels  # noqa: F401  (importing registers the rules)


def lower_graph(graph: Graph, target: GpuTarget, options: Any = None,
                name: str = "graph") -> Executable:
    """Lower every node of ``graph`` into SIMT kernels for ``target``."""
    _load_rules()
    missing: dict[str, list[str]] = {}
    for n in graph.nodes:
        if rule_key(n) not in LOWERING_RULES:
            missing.setdefault(str(rule_key(n)), []).append(n.name)
    if missing:
        listed = ", ".join(f"{op} ({len(nodes)} node{'s' if len(nodes) > 1 else ''}, e.g. "
                           f"'{nodes[0]}')" for op, nodes in sorted(missing.items()))
        raise CompileError(f"{name}: no SIMT (GPU) lowering for: {listed}")
    planned = plan_intermediates(graph, GM_ALIGN)
    ctx = SimtContext(graph, target, options, gm_top=planned.workspace_bytes,
                      planned=planned.allocations)
    for value in graph.inputs:
        ctx.place(value)
    for node in topological(graph):
        LOWERING_RULES[rule_key(node)](ctx, node)
    for value in graph.outputs:
        if value not in ctx.placements:
            raise CompileError(f"{name}: output {value} was never produced")
    return Executable(
        name=name, target="simt", hw=target.name, kernels=tuple(ctx.kernels),
        placements=dict(ctx.placements), gm_bytes=ctx.gm_top, inputs=tuple(graph.inputs),
        outputs=tuple(graph.outputs), constants=dict(ctx.constants),
        memory=executable_plan(planned, ctx.used, ctx.gm_top, GM_ALIGN).check(),
    )
