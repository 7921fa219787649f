"""The pass pipeline: one explicit list of named passes, the graph verified after each.

A failing pass (one that raises, or returns a graph `framework.verify_graph` rejects) is
reported as a CompileError naming it and the passes that ran before it, in the manner of
torch.fx's PassManager and MLIR's verify-each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from framework import Graph, verify_graph

from .errors import CompileError
from .options import CompileOptions
from .passes import (
    assign_layouts,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    expand_batch_norm_grad,
    fold_batch_norm,
    fold_constants,
    fold_relu_grad_into_batch_norm_grad,
    fuse,
    infer_shapes,
    simplify,
    split_runtime_bias,
)


@dataclass(frozen=True)
class Pass:
    """A named pure graph transformation."""

    name: str
    fn: Callable[[Graph], Graph]

    def __call__(self, graph: Graph) -> Graph:
        return self.fn(graph)


def default_pipeline(options: CompileOptions) -> tuple[Pass, ...]:
    """The standard pass list for ``options``: clean up, fold batch norms, fuse, assign
    layouts, and re-check every type at the end."""
    passes = [
        Pass("shape_inference", infer_shapes),
        Pass("constant_folding", partial(fold_constants, options=options)),
        Pass("simplify", simplify),
        Pass("dead_code_elimination", eliminate_dead_code),
        Pass("common_subexpression_elimination", eliminate_common_subexpressions),
    ]
    if options.fold_batch_norm:
        passes.append(Pass("batch_norm_folding", fold_batch_norm))
    if options.target == "simt":  # no fused batch-norm backward kernel on the GPU
        passes.append(Pass("batch_norm_grad_expansion", expand_batch_norm_grad))
    else:  # DaVinci's batch_norm_grad kernels mask dy by a ReLU's input as they stream it
        passes.append(Pass("relu_grad_into_batch_norm_grad",
                           fold_relu_grad_into_batch_norm_grad))
    if options.epilogue == "fixpipe":  # FixPipe adds constant biases only
        passes.append(Pass("split_runtime_bias", split_runtime_bias))
    if options.fuse:
        passes.append(Pass("fusion", partial(fuse, options=options)))
    passes += [
        Pass("layout_assignment", partial(assign_layouts, target=options.target)),
        Pass("shape_inference", infer_shapes),
    ]
    return tuple(passes)


def run_pipeline(graph: Graph, options: CompileOptions | None = None,
                 passes: Sequence[Pass] | None = None,
                 on_pass: Callable[[Pass, Graph], None] | None = None) -> Graph:
    """Run ``passes`` (default: `default_pipeline(options)`) over ``graph`` in order.

    The input graph is verified first, and each pass's result after it; ``on_pass`` (if given)
    sees every intermediate graph, e.g. to print or snapshot it. Raises CompileError naming
    the failing pass and those that ran before it; the original error is the cause.
    """
    options = options or CompileOptions()
    passes = default_pipeline(options) if passes is None else tuple(passes)
    try:
        verify_graph(graph)
    except ValueError as exc:
        raise CompileError(f"input graph {graph.name!r} is invalid: {exc}") from exc
    ran: list[str] = []
    for p in passes:
        try:
            result = p(graph)
            if not isinstance(result, Graph):
                raise CompileError(f"returned {type(result).__name__}, not a Graph")
            verify_graph(result)
        except Exception as exc:  # any failure inside a pass is reported with its name
            before = ", ".join(ran) if ran else "none"
            raise CompileError(f"pass {p.name!r} failed on graph {graph.name!r} "
                               f"(passes before it: {before}): {exc}") from exc
        graph = result
        ran.append(p.name)
        if on_pass is not None:
            on_pass(p, graph)
    return graph
