"""Peak global memory of the liveness-based plan against a naive plan (every value in its own
buffer), for zoo models compiled for DaVinci with fp16 storage in device layouts (padding
included). Prints one table; also the graph sizes before and after the pass pipeline.

    python benchmarks/memory_plan.py [--batch 1] [--models resnet50,bert_base]
"""

from __future__ import annotations

import argparse
import time

import workloads
from compiler import CompileOptions, device_nbytes, plan_memory, run_pipeline

MIB = 1 << 20


def measure(spec: str, batch: int, options: CompileOptions) -> dict[str, float | int | str]:
    """Compile ``spec`` and plan its memory; the row of the table."""
    graph = workloads.build(spec, batch)
    start = time.perf_counter()
    compiled = run_pipeline(graph, options)
    compile_s = time.perf_counter() - start
    plan = plan_memory(compiled, lambda t: device_nbytes(t, options.storage_dtype(t.dtype)),
                       options.gm_alignment_bytes).check()
    return {
        "model": spec, "batch": batch, "nodes": len(graph.nodes), "fused": len(compiled.nodes),
        "weights_mib": plan.region_bytes("constant") / MIB,
        "act_naive_mib": plan.naive_workspace_bytes / MIB,
        "act_peak_mib": plan.workspace_bytes / MIB,
        "total_naive_mib": plan.naive_bytes / MIB, "total_peak_mib": plan.peak_bytes / MIB,
        "saving": plan.saving, "compile_s": compile_s,
    }


def main() -> None:
    """Parse arguments, measure each model, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", default="resnet50,mobilenet_v2,bert_base:seq=128")
    args = parser.parse_args()
    options = CompileOptions()
    rows = [measure(spec, args.batch, options) for spec in args.models.split(",")]
    header = (f"{'model':22} {'batch':>5} {'nodes':>6} {'after':>6} {'weights':>9} "
              f"{'act naive':>10} {'act peak':>9} {'GM naive':>9} {'GM peak':>9} "
              f"{'saved':>6} {'compile':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:22} {r['batch']:>5} {r['nodes']:>6} {r['fused']:>6} "
              f"{r['weights_mib']:>8.1f}M {r['act_naive_mib']:>9.1f}M {r['act_peak_mib']:>8.1f}M "
              f"{r['total_naive_mib']:>8.1f}M {r['total_peak_mib']:>8.1f}M "
              f"{r['saving']:>6.1%} {r['compile_s']:>7.2f}s")
    print("act = intermediate activations (workspace region); GM = weights + inputs + outputs"
          " + workspace; fp16 storage, device layouts, 512 B alignment")


if __name__ == "__main__":
    main()
