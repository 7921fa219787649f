"""The SIMT lowering's GM plan: graph intermediates with disjoint lifetimes share bytes and
the run still matches the reference; a reshape (an alias of its source) keeps its source
alive; temporaries and whole-run values stay out of the shared workspace."""

from __future__ import annotations

import numpy as np

from compiler.simt.gm_plan import plan_intermediates, value_nbytes
from framework import GraphBuilder
from tests.compiler.simt_harness import check_model


def _matmul_chain() -> GraphBuilder:
    rng = np.random.default_rng(1)
    b = GraphBuilder("chain")
    x = b.input("x", (32, 48))
    for _ in range(4):
        x = b.matmul(x, b.constant((rng.standard_normal((48, 48)) * 0.2).astype(np.float32)))
    b.output(x)
    return b


def test_values_with_disjoint_lifetimes_share_bytes_and_the_run_matches() -> None:
    exe, _ = check_model(_matmul_chain().build())
    values = [k.outputs[0] for k in exe.kernels]
    assert len(values) == 4
    offsets = [exe.placements[v].offset for v in values[:3]]
    assert offsets[0] == offsets[2] != offsets[1]
    plan = exe.memory
    assert plan.workspace_bytes < plan.naive_workspace_bytes and not plan.conflicts()
    assert exe.gm_bytes == plan.peak_bytes
    for v in values[:3]:  # planned with exactly the bytes the lowering placed
        assert plan.allocations[v].nbytes >= exe.placements[v].nbytes == 32 * 48 * 2


def test_a_reshape_keeps_its_source_alive_and_outputs_are_not_shared() -> None:
    b = GraphBuilder("alias")
    x = b.input("x", (4, 64))
    a = b.exp(x)
    r = b.reshape(a, (16, 16))
    c = b.exp(x)
    b.output(b.add(r, b.reshape(c, (16, 16))))
    graph = b.build()
    plan = plan_intermediates(graph, 256)
    order = list(plan.order)
    last_use = max(i for i, n in enumerate(order) if r in graph.node(n).inputs)
    assert plan.allocations[a].end >= last_use
    assert plan.allocations[a].offset != plan.allocations[c].offset
    assert plan.allocations[a].nbytes == value_nbytes(graph.types[a]) == 4 * 64 * 2
    b.output(r)  # now the reshape is an output: its source must not be shared
    assert a not in plan_intermediates(b.build(), 256).allocations
