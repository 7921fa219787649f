"""Calibration: hand-written microbenchmarks reproduce each preset's figures (facts/gpu.md)."""

from __future__ import annotations

import pytest

from hw.simt import PRESETS
from hw.simt.microbench import fma_chain, pointer_chase, shared_stride, stream_copy


@pytest.mark.parametrize("name", list(PRESETS))
def test_pointer_chase_reproduces_the_latencies(name: str) -> None:
    cfg = PRESETS[name]
    ca, cg = pointer_chase(cfg, cache="ca"), pointer_chase(cfg, cache="cg")
    # loop overhead hides under the load; one clock read per pass adds < 1 cycle per step
    assert ca.warm_cycles == pytest.approx(cfg.l1_latency_cycles, abs=1)
    assert cg.warm_cycles == pytest.approx(cfg.l2_latency_cycles, abs=1)
    assert ca.dram_cycles == pytest.approx(cfg.dram_latency_cycles, abs=1)
    assert cg.dram_cycles == pytest.approx(cfg.dram_latency_cycles, abs=1)


@pytest.mark.parametrize("name", list(PRESETS))
def test_dependent_fma_chain_shows_the_alu_latency(name: str) -> None:
    cfg = PRESETS[name]
    assert fma_chain(cfg) == pytest.approx(cfg.pipes["fp32"].latency_cycles, abs=0.1)


def test_shared_stride_sweep_shows_n_way_conflicts() -> None:
    cfg = PRESETS["a100"]
    base = shared_stride(cfg, 1)
    for stride, ways in ((2, 2), (4, 4), (8, 8), (16, 16), (32, 32), (3, 1), (17, 1)):
        assert shared_stride(cfg, stride) / base == pytest.approx(ways, rel=0.1)


def test_stream_copy_reaches_the_configured_dram_fraction() -> None:
    cfg = PRESETS["a100"]
    result = stream_copy(cfg, bytes_per_sm=2 << 20)
    assert result.run.sampled
    assert cfg.dram_efficiency * 0.95 <= result.dram_fraction <= cfg.dram_efficiency * 1.01
    assert result.run.utilization("dram") == pytest.approx(result.dram_fraction
                                                           / cfg.dram_efficiency, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["v100", "a100_80gb", "h100"])
def test_stream_copy_on_every_preset(name: str) -> None:
    cfg = PRESETS[name]
    result = stream_copy(cfg)
    assert cfg.dram_efficiency * 0.95 <= result.dram_fraction <= cfg.dram_efficiency * 1.01
