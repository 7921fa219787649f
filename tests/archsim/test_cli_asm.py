"""`archsim asm`, `archsim step` and `archsim run`: output, and one clear error for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archsim.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_asm_prints_cycles_and_pipes() -> None:
    result = invoke("asm", "matmul_128x256x512_db", "--hw", "ascend910")
    assert result.exit_code == 0, result.output
    assert "cycles: 4" in result.output and "MTE1" in result.output and "busy %" in result.output


def test_asm_functional_reports_the_checks() -> None:
    result = invoke("asm", "conv3x3_img2col", "--functional")
    assert result.exit_code == 0, result.output
    assert "PASS Y = conv2d(X, W, pad=1)" in result.output


def test_run_takes_a_built_in_program_and_prints_json() -> None:
    result = invoke("run", "matmul_128x256x512_db", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["cycles"] > 0 and 0.85 <= record["utilization"]["cube"] <= 1.0


def test_step_script_steps_and_shows_buffers() -> None:
    result = invoke("step", "mmad_16x16x16", "--script", "next; show L0C 0 2x4; flags; run")
    assert result.exit_code == 0, result.output
    assert "line 15: mmad" in result.output and "L0C[0x0] as 2x4 fp32" in result.output


def _assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.output.strip()
    assert message.startswith("error:") and message.count("\n") == 0, message
    for fragment in fragments:
        assert fragment in message


def test_bad_assembly_names_file_line_and_field(tmp_path: Path) -> None:
    program = tmp_path / "bad.s"
    program.write_text("mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=16 k=16 n=16\nvadd dtyp=fp16\n")
    _assert_clean_error(invoke("asm", str(program)), "bad.s:2", "dtyp")


def test_unknown_mnemonic_is_a_clean_error(tmp_path: Path) -> None:
    program = tmp_path / "typo.s"
    program.write_text("vaad dtype=fp16 dst=UB[0x0] src0=UB[0x0] src1=UB[0x0]\n")
    _assert_clean_error(invoke("asm", str(program)), "typo.s:1", "vadd")


def test_out_of_range_field_is_a_clean_error(tmp_path: Path) -> None:
    program = tmp_path / "range.s"
    program.write_text("copy dst=L1[0x0] src=GM[0x0] n_burst=5000 burst_len=1\n")
    _assert_clean_error(invoke("asm", str(program)), "n_burst", "5000")


def test_over_capacity_is_a_clean_error(tmp_path: Path) -> None:
    program = tmp_path / "big.s"
    program.write_text("mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=1024 k=1024 n=16\n")
    _assert_clean_error(invoke("asm", str(program)), "L0A")


@pytest.mark.parametrize("content, fragment", [
    ('preset = "ascend910"\nl1_bytes = -5\n', "l1_bytes"),
    ('preset = "ascend910"\nl1_bytez = 5\n', "l1_bytez"),
    ('preset = "ascend910"\nl1_bytes = [\n', "chip.toml"),
])
def test_bad_config_is_a_clean_error(tmp_path: Path, content: str, fragment: str) -> None:
    config = tmp_path / "chip.toml"
    config.write_text(content)
    _assert_clean_error(invoke("asm", "mmad_16x16x16", "--hw", str(config)), fragment)


def test_unknown_preset_and_missing_program_are_clean_errors() -> None:
    _assert_clean_error(invoke("run", "--hw", "ascend999"), "ascend999")
    _assert_clean_error(invoke("asm", "no_such_program"), "no_such_program")


def test_a_deadlock_is_a_clean_error(tmp_path: Path) -> None:
    program = tmp_path / "cycle.s"
    program.write_text("wait_flag src=MTE1 dst=M event=0\nset_flag src=M dst=MTE1 event=0\n"
                       "wait_flag src=M dst=MTE1 event=0\nset_flag src=MTE1 dst=M event=0\n")
    _assert_clean_error(invoke("asm", str(program)), "deadlock", "cycle.s" if False else "line 1")
