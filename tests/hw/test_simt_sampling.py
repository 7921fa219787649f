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


@pytest.mark.slow
def test_sampled_gemm_on_a_full_a100_matches_full_simulation() -> None:
    # 256 CTAs over 108 SMs share A and B tiles through L2: shadow CTAs keep that reuse
    cfg = PRESETS["a100"]
    kernel, gmem = _gemm(1024, 1024, 256)
    full = run_kernel(kernel, cfg, SimOptions(sample="full"), gmem=gmem)
    sampled = run_kernel(kernel, cfg, SimOptions(sample="waves"), gmem=gmem)
    assert sampled.sampled and sampled.ctas_simulated == 6
    assert sampled.cycles == pytest.approx(full.cycles, rel=0.05)
    assert sampled.l2_hit_rate == pytest.approx(full.l2_hit_rate, abs=0.03)
    assert sampled.bytes_read["dram"] == pytest.approx(full.bytes_read["dram"], rel=0.1)


def test_shadow_ctas_carry_the_wave_traffic() -> None:
    cfg = PRESETS["a100"]
    kernel, gmem = _gemm(1024, 1024, 128)
    shadowed = run_kernel(kernel, cfg, SimOptions(sample="waves"), gmem=gmem)
    alone = run_kernel(kernel, cfg, SimOptions(sample="waves", shadow_ctas=False), gmem=gmem)
    # without shadows the sample loses the other SMs' L2 reuse and goes to DRAM far more
    assert shadowed.l2_hit_rate > 0.9 > alone.l2_hit_rate
    assert shadowed.cycles < alone.cycles
