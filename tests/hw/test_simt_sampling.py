"""Large grids: wave/SM sampling says so in the result and lands within 5 % of simulating
every CTA on a mid-size hand-written GEMM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hw.simt import PRESETS
from hw.simt.run import SimOptions, run_kernel
from isa.simt import Kernel, Launch, load_kernel

GEMM = Path(__file__).parents[2] / "examples" / "simt" / "gemm_fp16.s"


def _gemm(m: int, n: int, k: int) -> tuple[Kernel, np.ndarray]:
    kernel = load_kernel(GEMM)
    a, b = m * k * 2, n * k * 2
    launch = Launch(grid=(n // 64, m // 64, 1), block=(128, 1, 1),
                    params=(0, a, a + b, m, n, k))
    return Kernel(kernel.program, launch), np.zeros(a + b + m * n * 4, dtype=np.uint8)


def test_sampled_gemm_is_within_5_percent_of_full() -> None:
    cfg = PRESETS["a100"].replace(sms=4)  # 64 CTAs = 16 per SM, 3+ waves of 5
    kernel, gmem = _gemm(512, 512, 128)
    full = run_kernel(kernel, cfg, SimOptions(sample="full"), gmem=gmem)
    sampled = run_kernel(kernel, cfg, SimOptions(sample="waves", sample_sms=1), gmem=gmem)
    assert not full.sampled and full.sampled_fraction == 1.0
    assert sampled.sampled and sampled.sampled_fraction == pytest.approx(10 / 64)
    assert sampled.cycles == pytest.approx(full.cycles, rel=0.05)
    assert sampled.flops == full.flops
    assert sampled.utilization("tensor") == pytest.approx(full.utilization("tensor"), rel=0.05)


def test_auto_simulates_small_grids_fully() -> None:
    kernel, gmem = _gemm(128, 128, 64)
    run = run_kernel(kernel, PRESETS["a100"], gmem=gmem)
    assert not run.sampled and run.ctas_simulated == run.ctas == 4


def test_auto_samples_grids_beyond_the_budget() -> None:
    kernel, gmem = _gemm(1024, 1024, 128)
    run = run_kernel(kernel, PRESETS["a100"], SimOptions(full_budget_instructions=10_000),
                     gmem=gmem)
    assert run.sampled and run.ctas == 256 and run.ctas_simulated == 6  # 2 SMs x 3 CTAs
