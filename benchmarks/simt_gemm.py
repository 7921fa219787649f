"""The hand-written tiled fp16 GEMM (examples/simt/gemm_fp16.s: 64 x 64 x 32 CTA tiles, mma,
cp.async double buffering) on the GPU presets: predicted time and TFLOPS, and how long the
simulation took (wave/SM sampling for large grids, as the result reports).

    python benchmarks/simt_gemm.py [--hw a100] [--shapes 4096x4096x4096,8192x256x256]

Reference points (facts/gpu.md §6, PyTorch on A100 80 GB, host-timed): 8192x4096x4096 ~269,
8192x8192x8192 ~278, 8192x256x256 ~30 TFLOPS. This small-tile kernel is not tuned to reach
them; it shows what the model predicts for it and the simulator's speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hw import load_hw
from hw.simt.run import SimOptions, run_kernel
from isa.simt import Kernel, Launch, load_kernel

GEMM = Path(__file__).parents[1] / "examples" / "simt" / "gemm_fp16.s"


def gemm_kernel(m: int, n: int, k: int) -> tuple[Kernel, np.ndarray]:
    """The example GEMM launched for an m x n x k problem, with a global memory that fits."""
    program = load_kernel(GEMM).program
    a, b = m * k * 2, n * k * 2
    launch = Launch(grid=(n // 64, m // 64, 1), block=(128, 1, 1),
                    params=(0, a, a + b, m, n, k))
    return Kernel(program, launch), np.zeros(a + b + m * n * 4, dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default="a100,a100_80gb")
    parser.add_argument("--shapes", default="1024x1024x1024,4096x4096x4096,8192x4096x4096,"
                        "8192x256x256")
    args = parser.parse_args()
    cols = ["hw", "m x n x k", "cycles", "us (+launch)", "TFLOPS", "TFLOPS+launch",
            "tensor util", "sampled", "warp instr", "wall s", "instr/s"]
    widths = [10, 16, 10, 14, 8, 14, 12, 8, 11, 7, 9]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for hw in args.hw.split(","):
        cfg = load_hw(hw)
        for shape in args.shapes.split(","):
            m, n, k = (int(x) for x in shape.split("x"))
            kernel, gmem = gemm_kernel(m, n, k)
            start = time.perf_counter()
            run = run_kernel(kernel, cfg, SimOptions(), gmem=gmem)
            wall = time.perf_counter() - start
            flops = 2 * m * n * k
            simulated = run.issue_cycles * run.sampled_fraction  # issued in the simulation
            cells = [
                hw, shape, run.cycles, f"{run.cycles / cfg.freq_hz * 1e6:.0f} "
                f"({run.seconds * 1e6:.0f})", f"{flops / (run.cycles / cfg.freq_hz) / 1e12:.1f}",
                f"{flops / run.seconds / 1e12:.1f}", f"{run.utilization('tensor'):.2f}",
                f"{run.sampled_fraction:.3f}" if run.sampled else "full",
                f"{simulated:.0f}", f"{wall:.1f}", f"{simulated / wall:.0f}",
            ]
            print("  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    main()
