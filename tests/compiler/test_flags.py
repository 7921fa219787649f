"""Automatic flag insertion: flag-free streams become race-free with the fewest flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.davinci.flags import insert_flags
from hw.davinci import get_preset
from hw.davinci.run import SimOptions, run_kernel
from isa.davinci import Kernel, SetFlag, Stream, WaitFlag
from isa.davinci.asm import load_kernel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "asm"
CFG = get_preset("ascend910")


def _strip(name: str) -> tuple[Kernel, tuple, int]:
    kernel = load_kernel(EXAMPLES / f"{name}.s")
    stream = kernel.cores[0]["core"].instructions
    bare = tuple(i for i in stream if not isinstance(i, (SetFlag, WaitFlag)))
    pairs = sum(isinstance(i, SetFlag) for i in stream)
    return kernel, bare, pairs


def _with(kernel: Kernel, instructions) -> Kernel:
    return Kernel(kernel.name, ({"core": Stream(tuple(instructions))},), kernel.inputs,
                  kernel.outputs, kernel.checks, kernel.tolerance)


@pytest.mark.parametrize("name", ["matmul_128x256x512_db", "matmul_128x256x512_sb",
                                  "conv3x3_img2col", "vector_add_masked_tail"])
def test_inserted_flags_match_the_hand_written_ones(name: str) -> None:
    kernel, bare, hand_pairs = _strip(name)
    flagged, stats = insert_flags(bare, CFG.event_ids)
    assert stats.barriers == 0
    assert stats.pairs == hand_pairs
    auto = run_kernel(_with(kernel, flagged), CFG, SimOptions(mode="functional"))
    hand = run_kernel(kernel, CFG)
    assert auto.cycles == hand.cycles
    for out in kernel.outputs:
        assert out.name in auto.outputs


def test_without_flags_the_stream_races() -> None:
    kernel, bare, _ = _strip("matmul_128x256x512_db")
    with pytest.raises(Exception, match="race"):
        run_kernel(_with(kernel, bare), CFG)


def test_event_ids_run_out_gracefully() -> None:
    kernel, bare, _ = _strip("matmul_128x256x512_db")
    flagged, stats = insert_flags(bare, event_ids=1)
    run_kernel(_with(kernel, flagged), CFG)  # race-free and no flag set twice
    assert stats.pairs > 0


def test_consecutive_loads_into_one_buffer_share_a_flag() -> None:
    """A run of copies refilling a buffer after several reads needs one pair, not one each."""
    from isa.davinci import Addr, Copy, Load2D, Space

    reads = [Load2D(Addr(Space.L0A, 512 * i), Addr(Space.L1, 512 * i)) for i in range(8)]
    refills = [Copy(Addr(Space.L1, 512 * i), Addr(Space.GM, 512 * i), 1, 16) for i in range(8)]
    flagged, stats = insert_flags(reads + refills, CFG.event_ids)
    assert stats == type(stats)(pairs=1, barriers=0)
    waits = [i for i in flagged if isinstance(i, WaitFlag)]
    assert len(waits) == 1 and flagged.index(waits[0]) == 9  # after 8 reads and their set


def test_streams_of_one_shape_share_a_plan_and_get_their_own_flags(monkeypatch) -> None:
    """Cores doing the same work on other parts of a tensor share one flag plan, and every
    stream still carries exactly the flags `insert_flags` gives it alone."""
    import compiler.davinci.builder as builder_module
    from archsim.simulate import compile_model, load_model

    built: list[tuple[builder_module.KernelBuilder, Kernel]] = []
    plans = []
    real_build, real_plan = builder_module.KernelBuilder.build, builder_module.plan_flags

    def build(self):
        kernel = real_build(self)
        built.append((self, kernel))
        return kernel

    def plan(*args, **kwargs):
        plans.append(1)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(builder_module.KernelBuilder, "build", build)
    monkeypatch.setattr(builder_module, "plan_flags", plan)
    compile_model(load_model("resnet18:image=32", 2)[1], CFG)
    streams = 0
    for builder, kernel in built:
        for units, core in zip(builder.streams, kernel.cores, strict=True):
            for source, stream in zip(units.values(), core.values(), strict=True):
                alone, _ = insert_flags(source.instructions, CFG.event_ids)
                assert tuple(alone) == stream.instructions, builder.name
                streams += 1
    assert len(plans) < streams / 3  # shared, not recomputed per core


def test_a_gm_region_across_two_buffers_shares_no_plan() -> None:
    from compiler.davinci.flags import flag_shape
    from isa.davinci import Addr, Copy, Space

    def territory(address: int) -> int:
        return address // 4096

    inside = [Copy(Addr(Space.UB, 0), Addr(Space.GM, 1024), 1, 16)]
    across = [Copy(Addr(Space.UB, 0), Addr(Space.GM, 4000), 1, 16)]
    shifted = [Copy(Addr(Space.UB, 0), Addr(Space.GM, 4096 + 2048), 1, 16)]
    assert flag_shape(inside, territory) == flag_shape(shifted, territory)
    assert flag_shape(across, territory) is None


def test_streams_of_one_shape_are_race_checked_once_and_still_caught() -> None:
    """The engine checks one unit per stream shape (the verdict is logical, the same for
    all): a racy stream is still reported when every core shares its shape."""
    import dataclasses

    kernel, bare, _ = _strip("matmul_128x256x512_db")
    racy = Stream(bare, shape=0)
    two = dataclasses.replace(kernel, cores=({"core": racy}, {"core": racy}))
    with pytest.raises(Exception, match="race"):
        run_kernel(two, CFG)
    flagged, _ = insert_flags(bare, CFG.event_ids)
    fine = Stream(tuple(flagged), shape=0)
    shared = run_kernel(dataclasses.replace(kernel, cores=({"core": fine}, {"core": fine})), CFG)
    alone = run_kernel(dataclasses.replace(kernel, cores=({"core": Stream(tuple(flagged))},
                                                          {"core": Stream(tuple(flagged))})),
                       CFG)
    assert shared.cycles == alone.cycles
