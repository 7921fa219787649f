"""compiler: graph passes, tiling and lowering of framework Graphs to the isa instruction sets.

The graph level: `run_pipeline` runs the passes of `default_pipeline(CompileOptions)` (shape
inference, constant folding, dead-code and common-subexpression elimination, batch-norm
folding, fusion into FUSED groups, layout assignment), verifying the graph after each;
`plan_memory` assigns global-memory offsets by liveness; `device_nbytes` sizes a value in its
device layout. Rewrites are written as `Rule`s for `rewrite_graph`.
"""

from .errors import CompileError
from .layouts import device_nbytes
from .memory_plan import Allocation, MemoryPlan, plan_memory
from .options import CompileOptions
from .pipeline import Pass, default_pipeline, run_pipeline
from .rewrite import Pat, Rule, rewrite_graph

__all__ = [
    "Allocation",
    "CompileError",
    "CompileOptions",
    "MemoryPlan",
    "Pass",
    "Pat",
    "Rule",
    "default_pipeline",
    "device_nbytes",
    "plan_memory",
    "rewrite_graph",
    "run_pipeline",
]
