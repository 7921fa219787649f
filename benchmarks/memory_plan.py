"""Peak global memory of the liveness plan against a naive plan (every buffer its own bytes),
for zoo models compiled for a DaVinci chip. The figures are the compiled executable's own
(`Executable.memory`: the buffers the kernels really use, in their device layouts and dtypes,
kernel scratch and compiler images included); the graph-level estimate (`plan_memory` over
the optimised graph with fp16 device sizes) is printed beside them for comparison.

    python benchmarks/memory_plan.py [--batch 1] [--models resnet50,bert_base] [--hw ascend910]
"""

from __future__ import annotations

import argparse
import time

import workloads
from compiler import CompileOptions, device_nbytes, plan_memory, run_pipeline
from compiler.compile import compile_graph
from hw import load_hw

MIB = 1 << 20


def graph_estimate_bytes(graph, options: CompileOptions) -> int:
    """Peak of the graph-level plan (values sized in their device layouts, fp16 storage)."""
    compiled = run_pipeline(graph, options)
    plan = plan_memory(compiled, lambda t: device_nbytes(t, options.storage_dtype(t.dtype)),
                       options.gm_alignment_bytes).check()
    return plan.peak_bytes


def measure(spec: str, batch: int, hw: str) -> dict[str, float | int | str]:
    """Compile ``spec`` for ``hw``; the row of the table."""
    graph = workloads.build(spec, batch)
    start = time.perf_counter()
    exe = compile_graph(graph, load_hw(hw))
    compile_s = time.perf_counter() - start
    plan = exe.memory
    return {
        "model": spec, "batch": batch, "kernels": len(exe.kernels),
        "weights_mib": plan.region_bytes("constant") / MIB,
        "act_naive_mib": plan.naive_workspace_bytes / MIB,
        "act_peak_mib": plan.workspace_bytes / MIB,
        "total_naive_mib": plan.naive_bytes / MIB, "total_peak_mib": plan.peak_bytes / MIB,
        "graph_peak_mib": graph_estimate_bytes(graph, CompileOptions()) / MIB,
        "saving": plan.saving, "compile_s": compile_s,
    }


def main() -> None:
    """Parse arguments, measure each model, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", default="resnet50,mobilenet_v2,bert_base:seq=128")
    parser.add_argument("--hw", default="ascend910")
    args = parser.parse_args()
    rows = [measure(spec, args.batch, args.hw) for spec in args.models.split(",")]
    header = (f"{'model':22} {'batch':>5} {'kernels':>7} {'weights':>9} {'act naive':>10} "
              f"{'act peak':>9} {'GM naive':>9} {'GM peak':>9} {'saved':>6} {'graph est':>9} "
              f"{'compile':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:22} {r['batch']:>5} {r['kernels']:>7} {r['weights_mib']:>8.1f}M "
              f"{r['act_naive_mib']:>9.1f}M {r['act_peak_mib']:>8.1f}M "
              f"{r['total_naive_mib']:>8.1f}M {r['total_peak_mib']:>8.1f}M "
              f"{r['saving']:>6.1%} {r['graph_peak_mib']:>8.1f}M {r['compile_s']:>7.2f}s")
    print(f"on {args.hw}. act = activations and kernel scratch (workspace region); GM = constant "
          "images + inputs + outputs + workspace; sizes in device layouts, 512 B alignment. "
          "graph est = plan_memory over the optimised graph (no scratch or compiler images)")


if __name__ == "__main__":
    main()
