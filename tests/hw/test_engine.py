"""The DaVinci engine: closed-form costs, overlap, queues, flags, deadlocks, races, HBM sharing."""

from __future__ import annotations

import math

import pytest

from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from hw.errors import DeadlockError, RaceError, SimulationError
from isa.davinci import (
    Addr,
    Barrier,
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

CFG = get_preset("ascend910")


def kernel(*instructions, cores: int = 1) -> Kernel:
    stream = Stream(tuple(instructions))
    return Kernel("test", tuple({"core": stream} for _ in range(cores)))


def mmad(m=64, k=64, n=64, dtype=DType.FP16, dst=0) -> Mmad:
    return Mmad(Addr(Space.L0C, dst), Addr(Space.L0A, 0), Addr(Space.L0B, 0), m, k, n, dtype)


def load_gm_l1(nbytes: int, dst: int = 0, src: int = 0) -> Copy:
    return Copy(Addr(Space.L1, dst), Addr(Space.GM, src), 1, nbytes // 32)


def test_mmad_is_head_plus_fractal_steps() -> None:
    run = run_kernel(kernel(mmad()), CFG)
    assert run.cycles == CFG.cube_head_cycles + 64
    assert run.utilization("M") == 1.0
    odd = run_kernel(kernel(mmad(20, 40, 24)), CFG)
    assert odd.cycles == CFG.cube_head_cycles + 2 * 3 * 2


def test_fp32_mmad_costs_two_cycles_per_step_on_910b() -> None:
    cfg = get_preset("ascend910b")
    run = run_kernel(kernel(mmad(64, 64, 64, DType.FP32)), cfg)
    assert run.cycles == cfg.cube_head_cycles + 4 * 8 * 4 * cfg.cube_fp32_cycles_per_step


def test_back_to_back_mmads_pay_the_head_once() -> None:
    run = run_kernel(kernel(mmad(), mmad()), CFG)
    assert run.cycles == CFG.cube_head_cycles + 2 * 64


@pytest.mark.parametrize("nbytes", [32, 4096, 100_000 // 32 * 32])
def test_dma_is_latency_plus_bytes_over_bandwidth(nbytes: int) -> None:
    run = run_kernel(kernel(load_gm_l1(nbytes)), CFG)
    expected = CFG.gm_latency_cycles + math.ceil(nbytes / CFG.gm_to_l1_bytes_per_cycle)
    assert run.cycles == expected
    assert run.bytes_by_path["gm->l1"] == nbytes


def test_vector_op_is_startup_plus_slope_times_repeats() -> None:
    ub = lambda off: Addr(Space.UB, off)  # noqa: E731
    op = VBinary(VBinOp.ADD, DType.FP16, ub(0), ub(8192), ub(16384), repeat=10)
    run = run_kernel(kernel(op), CFG)
    startup, slope = CFG.vector_cost("vadd", False)
    assert run.cycles == math.ceil(startup + slope * 10)


def test_flags_order_pipes_and_pipes_overlap() -> None:
    load = load_gm_l1(8192)
    to_l0 = Load2D(Addr(Space.L0A, 0), Addr(Space.L1, 0), repeat=16)
    program = kernel(
        load, SetFlag(Pipe.MTE2, Pipe.MTE1, 0), WaitFlag(Pipe.MTE2, Pipe.MTE1, 0), to_l0,
    )
    run = run_kernel(program, CFG)
    t_load = CFG.gm_latency_cycles + math.ceil(8192 / CFG.gm_to_l1_bytes_per_cycle)
    t_l0 = CFG.local_latency_cycles + math.ceil(8192 / CFG.l1_to_l0a_bytes_per_cycle)
    # set_flag's own cycle overlaps the load's landing; the wait costs one more cycle
    assert run.cycles == t_load + CFG.flag_cycles + t_l0
    assert run.pipes["MTE1"].flag_wait_cycles > 0
    # independent work on two pipes overlaps
    both = run_kernel(kernel(load_gm_l1(8192), mmad()), CFG)
    assert both.cycles == max(t_load, CFG.cube_head_cycles + 64 + 1)


def test_full_queue_stalls_issue() -> None:
    cfg = CFG.replace(queue_depth=2)
    program = kernel(*[mmad() for _ in range(6)], load_gm_l1(32))
    run = run_kernel(program, cfg)
    assert run.pipes["M"].queue_full_cycles > 0
    # with a deep queue the load issues at once and hides under the Cube work
    deep = run_kernel(program, CFG)
    assert deep.pipes["M"].queue_full_cycles == 0
    assert deep.cycles < run.cycles or deep.cycles == run.cycles


def test_wait_without_set_is_a_deadlock_naming_the_wait() -> None:
    program = kernel(load_gm_l1(64), WaitFlag(Pipe.MTE2, Pipe.MTE1, 3), mmad())
    with pytest.raises(DeadlockError, match=r"line 2 `wait_flag.*event 3\) is never set"):
        run_kernel(program, CFG)


def test_missing_flag_is_a_race_naming_both_instructions() -> None:
    load = load_gm_l1(8192)
    to_l0 = Load2D(Addr(Space.L0A, 0), Addr(Space.L1, 0), repeat=16)
    with pytest.raises(RaceError, match=r"L1\[0x0:0x2000\].*line 1 `copy.*line 2 `load2d"):
        run_kernel(kernel(load, to_l0), CFG)


def test_barrier_all_orders_every_pipe() -> None:
    load = load_gm_l1(8192)
    to_l0 = Load2D(Addr(Space.L0A, 0), Addr(Space.L1, 0), repeat=16)
    run = run_kernel(kernel(load, Barrier(Pipe.ALL), to_l0), CFG)
    assert run.cycles > CFG.gm_latency_cycles


def test_setting_a_set_flag_is_an_error() -> None:
    program = kernel(SetFlag(Pipe.MTE2, Pipe.M, 0), SetFlag(Pipe.MTE2, Pipe.M, 0))
    with pytest.raises(SimulationError, match="already set"):
        run_kernel(program, CFG)


def _per_core_loads(cores: int, nbytes: int) -> Kernel:
    return Kernel("loads", tuple({"core": Stream((load_gm_l1(nbytes, src=c * nbytes),))}
                                 for c in range(cores)))


def test_cores_share_hbm_bandwidth() -> None:
    cfg = CFG.replace(hbm_bytes_per_s=CFG.freq_hz * 64.0)  # 64 B/cycle for the whole chip
    one = run_kernel(_per_core_loads(1, 65536), cfg)
    four = run_kernel(_per_core_loads(4, 65536), cfg)
    assert four.cycles > 3 * (one.cycles - cfg.gm_latency_cycles)
    assert four.bytes_read["hbm"] == 4 * 65536


def test_l2_serves_repeated_reads() -> None:
    cfg = CFG.replace(hbm_bytes_per_s=CFG.freq_hz * 16.0)  # a slow HBM makes hits visible
    cold = run_kernel(kernel(load_gm_l1(65536)), cfg)
    warm = run_kernel(kernel(load_gm_l1(65536), load_gm_l1(65536, dst=65536)), cfg)
    assert warm.bytes_read["hbm"] == cold.bytes_read["hbm"] == 65536
    assert warm.bytes_read["gm"] == 2 * 65536
    assert warm.cycles < 1.5 * cold.cycles


def test_dma_latency_overlaps_between_transfers() -> None:
    one = run_kernel(kernel(load_gm_l1(4096)), CFG)
    two = run_kernel(kernel(load_gm_l1(4096), load_gm_l1(4096, dst=4096, src=4096)), CFG)
    transfer = math.ceil(4096 / CFG.gm_to_l1_bytes_per_cycle)
    assert one.cycles == CFG.gm_latency_cycles + transfer
    assert two.cycles == CFG.gm_latency_cycles + 2 * transfer


def test_runs_are_deterministic_and_modes_agree() -> None:
    program = kernel(load_gm_l1(4096), SetFlag(Pipe.MTE2, Pipe.M, 0),
                     WaitFlag(Pipe.MTE2, Pipe.M, 0), mmad(), cores=2)
    first = run_kernel(program, CFG, SimOptions(trace=True))
    second = run_kernel(program, CFG, SimOptions(trace=True))
    assert first.cycles == second.cycles and first.events == second.events
    assert first.pipes == second.pipes
