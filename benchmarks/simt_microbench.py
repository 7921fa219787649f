"""Calibration tables of the SIMT GPU presets, measured by hand-written SIMT microbenchmarks
(hw.simt.microbench) against the figures the presets take from shared/facts/gpu.md.

    python benchmarks/simt_microbench.py [--presets v100,a100,a100_80gb,h100] [--quick]

Tables: pointer-chase latencies (L1 via ld.global.ca, L2 via ld.global.cg, DRAM on a cold
pass; facts §3.2), the dependent-FMA latency (§3.1), the shared-memory stride sweep (n-way bank
conflicts, §4.2) and a streaming copy's DRAM bandwidth (§5.1).
"""

from __future__ import annotations

import argparse
import math
import time

from hw.simt import PRESETS
from hw.simt.microbench import fma_chain, pointer_chase, shared_stride, stream_copy


def _row(cells: list[object], widths: list[int]) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))


def latency_table(names: list[str]) -> None:
    print("Load-to-use latency (cycles): measured by pointer chase / preset")
    widths = [10, 14, 14, 14, 12]
    print(_row(["preset", "L1 (ca)", "L2 (cg)", "DRAM (cold)", "FFMA dep."], widths))
    for name in names:
        cfg = PRESETS[name]
        ca, cg = pointer_chase(cfg, cache="ca"), pointer_chase(cfg, cache="cg")
        print(_row([
            name,
            f"{ca.warm_cycles:.1f}/{cfg.l1_latency_cycles}",
            f"{cg.warm_cycles:.1f}/{cfg.l2_latency_cycles}",
            f"{cg.dram_cycles:.1f}/{cfg.dram_latency_cycles}",
            f"{fma_chain(cfg):.2f}/{cfg.pipes['fp32'].latency_cycles}",
        ], widths))
    print()


def stride_table(name: str) -> None:
    cfg = PRESETS[name]
    print(f"Shared-memory stride sweep on {name}: cycles per warp load (8 warps)")
    widths = [14, 10, 10, 14]
    print(_row(["stride (words)", "cycles", "slowdown", "expected n-way"], widths))
    base = shared_stride(cfg, 1)
    for stride in (1, 2, 3, 4, 8, 16, 32, 33):
        cycles = shared_stride(cfg, stride)
        ways = math.gcd(stride, 32)
        print(_row([stride, f"{cycles:.2f}", f"{cycles / base:.2f}x", ways], widths))
    print()


def stream_table(names: list[str], bytes_per_sm: int) -> None:
    print("Streaming copy (128-bit, full occupancy, 2 sampled SMs): DRAM bandwidth")
    widths = [10, 12, 12, 12, 12, 8]
    print(_row(["preset", "peak GB/s", "DRAM GB/s", "fraction", "configured", "wall s"],
               widths))
    for name in names:
        cfg = PRESETS[name]
        start = time.perf_counter()
        result = stream_copy(cfg, bytes_per_sm=bytes_per_sm)
        wall = time.perf_counter() - start
        print(_row([
            name, f"{cfg.dram_bytes_per_s / 1e9:.0f}",
            f"{result.dram_fraction * cfg.dram_bytes_per_s / 1e9:.0f}",
            f"{result.dram_fraction:.3f}", f"{cfg.dram_efficiency:.3f}", f"{wall:.1f}",
        ], widths))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--quick", action="store_true", help="smaller streaming copy")
    args = parser.parse_args()
    names = args.presets.split(",")
    latency_table(names)
    stride_table(names[0] if "a100" not in names else "a100")
    stream_table(names, (1 << 20) if args.quick else (4 << 20))


if __name__ == "__main__":
    main()
