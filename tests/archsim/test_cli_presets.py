"""`archsim presets`: the preset table, one preset's fields, and the unknown-name error path."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from archsim.cli import main
from hw.davinci import PRESETS, DaVinciConfig


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["presets", *args])
    return result.exit_code, result.output


def test_table_lists_every_preset_with_key_figures() -> None:
    code, out = _run()
    assert code == 0, out
    for name in PRESETS:
        assert name in out
    for header in ("organisation", "fp16 TFLOPS", "L1 KiB", "L0C KiB", "UB KiB", "HBM GB/s"):
        assert header in out
    row_910b = next(line for line in out.splitlines() if "ascend910b" in line)
    for figure in ("separated", "24 AIC + 48 AIV", "1.85", "363.7", "512", "192", "1600"):
        assert figure in row_910b
    row_910 = next(line for line in out.splitlines() if "ascend910 " in line)
    assert "256.0" in row_910 and "1200" in row_910


def test_one_preset_prints_every_field() -> None:
    code, out = _run("ascend310p")
    assert code == 0, out
    for field in DaVinciConfig.model_fields:
        if field != "vector_costs":
            assert field in out
    assert "vector_costs.vexp" in out and "12 + 4 r (2 r on 32-bit types)" in out
    assert "peak fp16 TFLOPS (derived)" in out and "69.5" in out


def test_config_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "wide.toml"
    path.write_text('preset = "ascend910b"\ncores = 48\n')
    code, out = _run(str(path))
    assert code == 0, out
    assert "wide (separated)" in out and "727.4" in out  # 48 cores: twice the 910B peak


def test_unknown_preset_exits_2_without_traceback() -> None:
    result = CliRunner().invoke(main, ["presets", "ascend999"])
    assert result.exit_code == 2
    assert "error: unknown preset 'ascend999' (known: ascend310, ascend310p, ascend910, " in (
        result.output
    )
    assert "Traceback" not in result.output


def test_bad_config_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("preset: ascend910\nl0a_bytes: 100\n")
    result = CliRunner().invoke(main, ["presets", str(path)])
    assert result.exit_code == 2
    assert "l0a_bytes: 100 must be a multiple of l0a_align_bytes (512)" in result.output
    assert "Traceback" not in result.output
