"""GPU configs: presets reproduce the facts' peaks, bad values are one-line ConfigErrors, and
load_hw reads GPU preset names and GPU config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw import load_hw
from hw.errors import ConfigError
from hw.simt import PRESETS, GpuConfig, get_preset


@pytest.mark.parametrize("name, tensor_tflops, fp32_tflops, dram_gbs", [
    ("v100", 125, 15.7, 900), ("a100", 312, 19.5, 1555), ("a100_80gb", 312, 19.5, 2039),
    ("h100", 989.4, 61.8, 3350),  # fp32 at the 1.83 GHz tensor clock (presets.py)
])
def test_presets_reproduce_vendor_peaks(name: str, tensor_tflops: float, fp32_tflops: float,
                                        dram_gbs: float) -> None:
    cfg = PRESETS[name]
    assert cfg.peak_tensor_flops / 1e12 == pytest.approx(tensor_tflops, rel=0.01)
    assert cfg.peak_fp32_flops / 1e12 == pytest.approx(fp32_tflops, rel=0.01)
    assert cfg.dram_bytes_per_s / 1e9 == pytest.approx(dram_gbs, rel=0.001)
    assert 0 < cfg.dram_efficiency <= 1


def test_l1_is_what_the_carveout_leaves() -> None:
    a100 = PRESETS["a100"]
    assert a100.carveout_bytes(0) == 0 and a100.l1_bytes(0) == 192 * 1024
    assert a100.carveout_bytes(40_000) == 64 * 1024
    assert a100.l1_bytes(40_000) == 128 * 1024


@pytest.mark.parametrize("changes, message", [
    ({"sms": 0}, "sms: 0 must be a positive integer"),
    ({"dram_efficiency": 1.5}, "dram_efficiency: 1.5 must be in (0, 1]"),
    ({"pipes": {"int": {"latency_cycles": 4, "ii_cycles": 2}}}, "pipes: needs exactly"),
    ({"max_shared_per_cta_bytes": 10**7}, "max_shared_per_cta_bytes: 10000000 exceeds"),
    ({"warp_size": 64}, "warp_size: unknown field"),
])
def test_bad_values_name_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_preset("a100").replace(**changes)
    assert str(info.value).startswith(message)


def test_unknown_preset_lists_every_preset() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'a200' \(known: .*a100.*h100"):
        load_hw("a200")


def test_load_hw_reads_gpu_presets_and_files(tmp_path: Path) -> None:
    assert load_hw("h100") is PRESETS["h100"]
    path = tmp_path / "half_a100.toml"
    path.write_text('preset = "a100"\nsms = 54\n[pipes.tensor]\nlatency_cycles = 20\n'
                    'ii_cycles = 16\n')
    cfg = load_hw(path)
    assert isinstance(cfg, GpuConfig) and cfg.name == "half_a100" and cfg.sms == 54
    assert cfg.pipes["tensor"].ii_cycles == 16 and cfg.pipes["fp32"].ii_cycles == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: a100\nsmz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'smz' \(did you mean 'sms'\?\)"):
        load_hw(bad)
