"""The fast (numba) DaVinci engine gives the simpy engine's numbers: every kernel of every
test-tier workload on both organisations, and random programs, including the broken ones
(the same deadlock and flag errors, word for word; the same race verdicts)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archsim.simulate import compile_model, load_model
from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from hw.errors import DeadlockError, RaceError, SimulationError
from isa.davinci import (
    Addr,
    Barrier,
    Copy,
    CrossCoreSetFlag,
    CrossCoreWaitFlag,
    DType,
    Kernel,
    Load2D,
    Mmad,
    Pipe,
    SetFlag,
    Space,
    Stream,
    Unit,
    VBinary,
    VBinOp,
    WaitFlag,
)
from tests.compiler.test_zoo_davinci import REDUCED

SIMPY = SimOptions(engine="simpy")
FAST = SimOptions(engine="fast")


def _outcome(kernel: Kernel, cfg, options: SimOptions):
    try:
        return run_kernel(kernel, cfg, options)
    except SimulationError as error:  # DeadlockError and RaceError included
        return type(error), str(error)


@pytest.mark.parametrize("hw", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("spec", REDUCED)
def test_every_kernel_of_the_zoo_times_the_same(spec: str, hw: str) -> None:
    cfg = get_preset(hw)
    _name, graph = load_model(spec)
    exe = compile_model(graph, cfg)
    for launch in exe.kernels:
        reference = run_kernel(launch.program, cfg, SIMPY)
        assert run_kernel(launch.program, cfg, FAST) == reference, launch.name


def test_timing_runs_take_the_fast_engine_unless_told() -> None:
    assert SimOptions().fast
    assert not SimOptions(mode="functional").fast
    assert not SimOptions(trace=True).fast
    assert not SimOptions(engine="simpy").fast
    with pytest.raises(SimulationError, match="fast engine only times"):
        SimOptions(mode="functional", engine="fast")
    with pytest.raises(SimulationError, match="unknown engine 'numba'"):
        SimOptions(engine="numba")  # type: ignore[arg-type]


# ---------------------------------------------------------------- random programs

_PIPES = (Pipe.V, Pipe.M, Pipe.MTE1, Pipe.MTE2, Pipe.MTE3)


def _work(kind: int, size: int, offset: int) -> object:
    nbytes = 32 * size
    if kind == 0:
        return Copy(Addr(Space.L1, 32 * offset), Addr(Space.GM, 512 * offset), 1, size)
    if kind == 1:
        return Load2D(Addr(Space.L0A, 512 * offset), Addr(Space.L1, 512 * offset),
                      repeat=1 + size % 8)
    if kind == 2:
        m = 16 * (1 + size % 4)
        return Mmad(Addr(Space.L0C, 0), Addr(Space.L0A, 0), Addr(Space.L0B, 0), m, 32, m,
                    DType.FP16)
    if kind == 3:
        return VBinary(VBinOp.ADD, DType.FP16, Addr(Space.UB, 256 * offset), Addr(Space.UB, 0),
                       Addr(Space.UB, 4096), repeat=1 + size % 4)
    if kind == 4:
        return Copy(Addr(Space.GM, 1 << 20 | 256 * offset), Addr(Space.UB, 256 * offset), 1,
                    size)
    return Copy(Addr(Space.UB, 32 * offset), Addr(Space.GM, nbytes * offset), 1, size)


_work_instruction = st.builds(_work, st.integers(0, 5), st.integers(1, 256), st.integers(0, 7))
_pipe = st.sampled_from(_PIPES)
_event = st.integers(0, 1)
# a stream is made of chunks: mostly work and matched set/wait pairs, some lone flags
# (deadlocks, flags set twice), barriers and, on separated cores, cross-core flags
_CHUNKS = {
    "work": (12, st.tuples(_work_instruction)),
    "pair": (6, st.tuples(_pipe, _pipe, _event).map(lambda f: (SetFlag(*f), WaitFlag(*f)))),
    "set": (1, st.tuples(st.builds(SetFlag, _pipe, _pipe, _event))),
    "wait": (1, st.tuples(st.builds(WaitFlag, _pipe, _pipe, _event))),
    "barrier": (1, st.tuples(st.builds(Barrier, st.sampled_from((*_PIPES, Pipe.ALL))))),
    "cross set": (2, st.tuples(st.builds(
        CrossCoreSetFlag, _pipe, st.sampled_from((Unit.AIC, Unit.AIV0, Unit.AIV0, Unit.AIV1)),
        _event))),
    "cross wait": (1, st.tuples(st.builds(CrossCoreWaitFlag, st.sampled_from(
        (Pipe.S, *_PIPES)), _event))),
}


@st.composite
def _stream(draw, separated: bool) -> Stream:
    kinds = [k for k, (weight, _) in _CHUNKS.items() for _ in range(weight)
             if separated or not k.startswith("cross")]
    chunks = [draw(_CHUNKS[kind][1]) for kind in draw(st.lists(st.sampled_from(kinds),
                                                               max_size=12))]
    return Stream(tuple(i for chunk in chunks for i in chunk))


@st.composite
def _kernels(draw, separated: bool) -> Kernel:
    units = ("aic", "aiv0") if separated else ("core",)
    return Kernel("random", tuple({unit: draw(_stream(separated)) for unit in units}
                                  for _ in range(draw(st.integers(1, 3)))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), depth=st.sampled_from((2, 32)), hw=st.sampled_from(("ascend910",
                                                                           "ascend910b")))
def test_random_programs_have_the_same_outcome(data, depth: int, hw: str) -> None:
    cfg = get_preset(hw).replace(queue_depth=depth)
    kernel = data.draw(_kernels(separated=hw == "ascend910b"))
    unchecked = SimOptions(check_races=False)
    reference = _outcome(kernel, cfg, SimOptions(check_races=False, engine="simpy"))
    assert _outcome(kernel, cfg, unchecked) == reference
    if not isinstance(reference, tuple):
        # the race verdict too (only for programs that finish: a race and a deadlock may be
        # found in either order)
        raced = isinstance(_outcome(kernel, cfg, SIMPY), tuple)
        assert isinstance(_outcome(kernel, cfg, FAST), tuple) == raced


def test_errors_read_the_same() -> None:
    cfg = get_preset("ascend910")
    load = Copy(Addr(Space.L1, 0), Addr(Space.GM, 0), 1, 256)
    to_l0 = Load2D(Addr(Space.L0A, 0), Addr(Space.L1, 0), repeat=16)
    cases = {
        DeadlockError: Kernel("k", ({"core": Stream((WaitFlag(Pipe.MTE2, Pipe.MTE1, 3),))},)),
        RaceError: Kernel("k", ({"core": Stream((load, to_l0))},)),
        SimulationError: Kernel("k", ({"core": Stream((SetFlag(Pipe.MTE2, Pipe.M, 0),) * 2)},)),
    }
    for error, kernel in cases.items():
        with pytest.raises(error) as fast:
            run_kernel(kernel, cfg, FAST)
        with pytest.raises(error) as reference:
            run_kernel(kernel, cfg, SIMPY)
        assert str(fast.value) == str(reference.value)
    overflow = Kernel("k", ({"aic": Stream((CrossCoreSetFlag(Pipe.MTE2, Unit.AIV0, 1),) * 16),
                             "aiv0": Stream(())},))
    separated = get_preset("ascend910b")
    with pytest.raises(SimulationError, match="more than 15 pending sets") as fast:
        run_kernel(overflow, separated, FAST)
    with pytest.raises(SimulationError) as reference:
        run_kernel(overflow, separated, SIMPY)
    assert str(fast.value) == str(reference.value)
