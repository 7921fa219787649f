"""The DaVinci compiler targets of issue 4, measured: prints a table.

    python benchmarks/davinci_targets.py            # gemm 4096^3 and resnet50 batch 1
    python benchmarks/davinci_targets.py --all      # also resnet50 batch 32 (a few minutes)
    python benchmarks/davinci_targets.py --train    # also a resnet50 batch-32 training step
                                                    # (about 5 minutes, 5 GB)
    python benchmarks/davinci_targets.py --all --unmerged  # one launch per kernel, for
                                                    # comparison (CompileOptions.merge_launches)

Wall time and peak memory of `archsim run resnet50 --hw ascend910` are measured on the real
command in a subprocess (`/usr/bin/time -v` where available).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time

from archsim.parallel import default_workers
from archsim.simulate import compile_model, load_model, run_executable, training_graph
from framework.flops import graph_flops
from hw import load_hw


def _cube(result) -> float:
    return result.utilization().get("cube", 0.0)


def measure(spec: str, hw: str = "ascend910", batch: int = 1, train: bool = False,
            merge: bool = True) -> dict:
    config = load_hw(hw)
    start = time.perf_counter()
    name, graph = load_model(spec, batch)
    if train:
        graph = training_graph(graph)
    exe = compile_model(graph, config, merge_launches=merge)
    compiled = time.perf_counter()
    result = run_executable(exe, config, "timing", graph=graph, model=name, batch=batch,
                            workers=default_workers())
    done = time.perf_counter()
    # Cube shares over every Cube of the chip (a kernel on fewer cores leaves the rest idle)
    busy = sum(k.run.pipes["M"].busy_cycles for k in result.kernels if "M" in k.run.pipes)
    cores = config.cores
    cores_cycles = sum(k.run.cycles for k in result.kernels) * cores
    launch_s = sum(k.run.total_cycles - k.run.cycles for k in result.kernels) / result.freq_hz
    # the best any layer-at-a-time schedule can do on this chip: every kernel at its roofline
    # bound plus its launch; the Cube busy share it would give with this code's Cube work
    # (never below the Cube's own busy time: the code pads channels and tiles, so the Cube
    # does more than the model's FLOPs the roofline counts)
    floor_s = max(result.roofline_seconds, busy / cores / result.freq_hz) + launch_s
    return {
        "workload": f"{spec}{' train' if train else ''} b{batch}", "hw": hw,
        "launches": len(exe.kernels),
        "sim ms": result.seconds * 1e3,
        "per s": result.throughput_per_s, "cube util": _cube(result),
        "cube util (no launch)": busy / cores_cycles if cores_cycles else 0.0,
        # the model's FLOPs (framework.flops), not the padded work the Cube did
        "model FLOP/peak": graph_flops(graph) / (result.seconds * result.peak_flops),
        "roofline ms": result.roofline_seconds * 1e3, "launch ms": launch_s * 1e3,
        "cube util at roofline+launch": busy / cores / result.freq_hz / floor_s,
        "compile s": compiled - start, "simulate s": done - compiled,
        "instructions": exe.instruction_count,
    }


def run_command_cost() -> tuple[float, float | None]:
    """Wall seconds and peak RSS (MB) of `archsim run resnet50 --hw ascend910`."""
    command = [shutil.which("archsim") or "archsim", "run", "resnet50", "--hw", "ascend910"]
    timer = shutil.which("time") or ("/usr/bin/time" if shutil.os.path.exists("/usr/bin/time")
                                     else None)
    start = time.perf_counter()
    if timer:
        done = subprocess.run([timer, "-v", *command], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        return wall, int(peak.group(1)) / 1024 if peak else None
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also resnet50 at batch 32")
    parser.add_argument("--train", action="store_true",
                        help="also one resnet50 training step at batch 32")
    parser.add_argument("--unmerged", action="store_true",
                        help="one launch per kernel (no core-local runs, core_local.py)")
    args = parser.parse_args()
    merge = not args.unmerged
    rows = [measure("gemm:m=4096,n=4096,k=4096", merge=merge), measure("resnet50", merge=merge)]
    if args.all:
        rows.append(measure("resnet50", batch=32, merge=merge))
    if args.train:
        rows.append(measure("resnet50", batch=32, train=True, merge=merge))
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k])
                         for k in keys))
    wall, peak = run_command_cost()
    print(f"`archsim run resnet50 --hw ascend910`: {wall:.1f} s wall, "
          f"peak memory {peak:.0f} MB" if peak else f"{wall:.1f} s wall")
    if args.train:
        print("published: 2115 images/s training ResNet-50 v1.5 on one Ascend 910 (MindSpore "
              "0.5, mixed precision, batch 256; facts/davinci.md section 7, MS-BENCH)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
