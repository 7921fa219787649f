"""The student examples in examples/asm/: numerics, closed forms, overlap, races, deadlocks."""

from __future__ import annotations

import pytest

from archsim.asm_runner import EXAMPLES_DIR, run_asm
from hw import load_hw
from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from hw.errors import DeadlockError, RaceError
from isa.davinci.asm import load_kernel, parse_kernel

EXAMPLES = sorted(p.stem for p in EXAMPLES_DIR.glob("*.s"))
CFG = get_preset("ascend910")


def test_the_required_examples_exist() -> None:
    assert {"mmad_16x16x16", "matmul_128x256x512_db", "vector_add_masked_tail",
            "conv3x3_img2col"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_functional_output_matches_numpy(name: str) -> None:
    result = run_asm(name, functional=True)
    assert result.checks, f"{name} declares no .expect check"
    for check in result.checks:
        assert check.passed, f"{name}: {check}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_timing_and_functional_cycles_agree_and_repeat(name: str) -> None:
    kernel = load_kernel(EXAMPLES_DIR / f"{name}.s")
    cfg = load_hw(kernel.notes.get("hw", "ascend910"))
    timing = run_kernel(kernel, cfg)
    functional = run_kernel(kernel, cfg, SimOptions(mode="functional"))
    again = run_kernel(kernel, cfg)
    assert timing.cycles == functional.cycles == again.cycles
    assert timing.pipes == functional.pipes == again.pipes


def test_single_mmad_is_head_plus_one_step() -> None:
    run = run_asm("mmad_16x16x16", "ascend910").run
    assert run.cycles == CFG.cube_head_cycles + 1


def test_double_buffering_keeps_the_cube_busy() -> None:
    double = run_asm("matmul_128x256x512_db", "ascend910").run
    single = run_asm("matmul_128x256x512_sb", "ascend910").run
    assert double.utilization("M") >= 0.85
    assert single.cycles > 1.2 * double.cycles
    assert double.flops == single.flops == 2 * 128 * 256 * 512


def _without_first(text: str, *lines: str) -> str:
    for line in lines:
        assert line in text
        text = text.replace(line + "\n", "", 1)
    return text


def test_deleting_a_flag_pair_is_reported_as_a_race() -> None:
    text = (EXAMPLES_DIR / "matmul_128x256x512_db.s").read_text()
    broken = _without_first(text, "set_flag src=MTE1 dst=M event=0",
                            "wait_flag src=MTE1 dst=M event=0")
    kernel = parse_kernel(broken, "broken.s")
    with pytest.raises(RaceError, match=r"race on L0A.*MTE1 write by line \d+ `load2d.*"
                                        r"M read by line \d+ `mmad"):
        run_kernel(kernel, CFG)


def test_deleting_a_vector_to_mte3_flag_pair_is_reported_as_a_race() -> None:
    text = (EXAMPLES_DIR / "vector_add_masked_tail.s").read_text()
    broken = _without_first(text, "set_flag src=V dst=MTE3 event=0",
                            "wait_flag src=V dst=MTE3 event=0")
    with pytest.raises(RaceError, match=r"UB\[0x1000:.*V write.*MTE3 read"):
        run_kernel(parse_kernel(broken, "broken.s"), CFG)


def test_a_wait_with_no_matching_set_is_a_deadlock() -> None:
    text = (EXAMPLES_DIR / "conv3x3_img2col.s").read_text()
    broken = _without_first(text, "set_flag src=M dst=V event=0")
    with pytest.raises(DeadlockError, match=r"V is blocked at line \d+ `wait_flag src=M dst=V "
                                            r"event=0`.*never set"):
        run_kernel(parse_kernel(broken, "broken.s"), CFG)


def test_circular_waits_are_a_deadlock_naming_both() -> None:
    kernel = parse_kernel(
        "wait_flag src=MTE1 dst=M event=0\nset_flag src=M dst=MTE1 event=0\n"
        "wait_flag src=M dst=MTE1 event=0\nset_flag src=MTE1 dst=M event=0\n", "cycle.s")
    with pytest.raises(DeadlockError, match=r"M is blocked at line 1.*MTE1 is blocked at line 3"):
        run_kernel(kernel, CFG)


def test_separated_example_exchanges_through_gm_with_cross_core_flags() -> None:
    result = run_asm("matmul_relu_separated", functional=True)
    assert result.run.chip == "ascend910b" and result.passed
    assert result.run.bytes_by_path["l0c->gm"] == 64 * 64 * 2
    broken = (EXAMPLES_DIR / "matmul_relu_separated.s").read_text().replace(
        "cross_set_flag src=FIX target=aiv0 flag=0\n", "")
    with pytest.raises(DeadlockError, match=r"aiv0: .*MTE2 is blocked at line \d+ "
                                            r"`cross_wait_flag.*cross-core flag 0 is never set"):
        run_kernel(parse_kernel(broken, "broken.s"), get_preset("ascend910b"))
