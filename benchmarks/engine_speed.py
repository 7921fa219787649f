"""Simulated instructions per host second of the DaVinci engines (simpy, fast) on a mixed stream.

The stream is a software-pipelined matmul + vector epilogue loop on one core: MTE2 loads,
MTE1 fractal loads, Cube mmads, vector ops and MTE3 stores, with the flags that order them,
repeated until it holds the requested number of instructions. Prints a table.

    python benchmarks/engine_speed.py [--instructions 100000] [--preset ascend910]
"""

from __future__ import annotations

import argparse
import time

from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from isa.davinci import (
    Addr,
    Copy,
    DType,
    Kernel,
    Load2D,
    Mmad,
    Pipe,
    SetFlag,
    Space,
    Stream,
    VBinary,
    VBinOp,
    WaitFlag,
)


def mixed_stream(n: int) -> Stream:
    """About ``n`` instructions of a double-buffered matmul/vector pipeline."""
    out = []
    buf = 0
    while len(out) < n:
        b = buf % 2
        l1 = Addr(Space.L1, b * 65536)
        out += [
            WaitFlag(Pipe.MTE1, Pipe.MTE2, b) if buf >= 2 else SetFlag(Pipe.S, Pipe.S, 0),
            Copy(l1, Addr(Space.GM, buf * 16384 % (1 << 24)), 1, 512),
            SetFlag(Pipe.MTE2, Pipe.MTE1, b),
            WaitFlag(Pipe.MTE2, Pipe.MTE1, b),
            WaitFlag(Pipe.M, Pipe.MTE1, b) if buf >= 2 else SetFlag(Pipe.S, Pipe.S, 1),
            Load2D(Addr(Space.L0A, b * 16384), l1, repeat=32),
            Load2D(Addr(Space.L0B, b * 16384), l1 + 16384, repeat=32),
            SetFlag(Pipe.MTE1, Pipe.MTE2, b),
            SetFlag(Pipe.MTE1, Pipe.M, b),
            WaitFlag(Pipe.MTE1, Pipe.M, b),
            Mmad(Addr(Space.L0C, b * 65536), Addr(Space.L0A, b * 16384),
                 Addr(Space.L0B, b * 16384), 128, 64, 128),
            SetFlag(Pipe.M, Pipe.MTE1, b),
            VBinary(VBinOp.ADD, DType.FP16, Addr(Space.UB, b * 32768),
                    Addr(Space.UB, 65536), Addr(Space.UB, 98304), repeat=64),
            SetFlag(Pipe.V, Pipe.MTE3, b),
            WaitFlag(Pipe.V, Pipe.MTE3, b),
            Copy(Addr(Space.GM, (1 << 24) + b * 32768), Addr(Space.UB, b * 32768), 1, 512),
            SetFlag(Pipe.MTE3, Pipe.V, b),
            WaitFlag(Pipe.MTE3, Pipe.V, b),
        ]
        buf += 1
    # drop the self-flags used as placeholders in the first two iterations
    out = [i for i in out if not (isinstance(i, SetFlag) and i.src is Pipe.S)]
    # leave no flag set at the end: consume the last WAR flags
    for b in range(2):
        out += [WaitFlag(Pipe.MTE1, Pipe.MTE2, b), WaitFlag(Pipe.M, Pipe.MTE1, b)]
    return Stream(tuple(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=int, default=100_000)
    parser.add_argument("--preset", default="ascend910")
    args = parser.parse_args()
    cfg = get_preset(args.preset)
    kernel = Kernel("mixed", ({"core": mixed_stream(args.instructions)},))
    n = kernel.instruction_count()
    run_kernel(Kernel("warm-up", ({"core": mixed_stream(200)},)), cfg)  # numba loads once
    print(f"{'engine':>6} {'races':>6} {'instructions':>12} {'sim cycles':>12} {'wall s':>8} "
          f"{'instr/s':>10}")
    for engine in ("simpy", "fast"):
        for races in (False, True):
            options = SimOptions(check_races=races, engine=engine)
            start = time.perf_counter()
            run = run_kernel(kernel, cfg, options)
            wall = time.perf_counter() - start
            print(f"{engine:>6} {str(races):>6} {n:>12} {run.cycles:>12} {wall:>8.2f} "
                  f"{n / wall:>10.0f}")

if __name__ == "__main__":
    main()
