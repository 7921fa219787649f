"""The DaVinci lowering's GM plan by liveness: buffers with disjoint lifetimes share bytes,
every GM access of every kernel stays inside a buffer live during that kernel (kernel scratch
included), buffers that rely on GM's initial zeros are never given reused bytes, and compiled
programs still match the reference interpreter."""

from __future__ import annotations

import numpy as np
from davinci_harness import UNMERGED, build, check

from compiler.davinci.gm_plan import GmBuffer, plan_gm, relocate_kernel
from compiler.executable import Executable, KernelLaunch
from isa.davinci import Addr, Copy, Kernel, Space, Stream


def _bad_accesses(exe: Executable) -> list[str]:
    """GM accesses that do not lie inside the slot of a buffer live during their kernel
    (lifetimes index kernels; whole-run regions are always live)."""
    allocations = exe.memory.allocations.values()
    bad = []
    for index, launch in enumerate(exe.kernels):
        live = [a for a in allocations if a.region != "workspace" or a.start <= index <= a.end]
        for core in launch.program.cores:
            for stream in core.values():
                for ins in stream.instructions:
                    for r in (*ins.reads(), *ins.writes()):
                        if r.space is Space.GM and not any(
                                a.offset <= r.start and r.stop <= a.stop for a in live):
                            bad.append(f"{launch.name}: {r}")
    return bad


def _matmul_chain(gb, x):
    """Four matrix products in a row: h1 and h3 have disjoint lifetimes and equal sizes."""
    rng = np.random.default_rng(1)
    for _ in range(4):
        w = gb.constant((rng.standard_normal((48, 48)) * 0.2).astype(np.float32))
        x = gb.matmul(x, w)
    return x


def test_values_with_disjoint_lifetimes_share_bytes_and_the_run_matches() -> None:
    graph = build(_matmul_chain, x=(32, 48))
    outcome = check(graph)
    exe = outcome.exe
    kernels = [k for k in exe.kernels if k.op == "matmul"]
    assert len(kernels) == 4
    h1, h2, h3 = (k.outputs[0] for k in kernels[:3])
    offset = {v: exe.placements[v].offset for v in (h1, h2, h3)}
    assert offset[h1] == offset[h3] != offset[h2]
    plan = exe.memory
    assert plan.workspace_bytes < plan.naive_workspace_bytes
    assert plan.peak_bytes < plan.naive_bytes
    assert exe.gm_bytes == plan.peak_bytes + 512  # the slack the lowering keeps at the end
    assert not plan.conflicts() and not _bad_accesses(exe)


def test_kernel_scratch_is_live_only_in_its_kernels_and_never_overlaps_a_live_value() -> None:
    rng = np.random.default_rng(2)

    def net(gb, x):
        y = gb.exp(x)
        for _ in range(2):  # stride 2: each dilates its input into GM scratch first
            w = gb.constant((rng.standard_normal((16, 16, 3, 3)) * 0.2).astype(np.float32))
            y = gb.relu(gb.conv_transpose2d(y, w, None, 2, 1, 1))
        return y

    outcome = check(build(net, x=(1, 16, 4, 4)), atol_frac=2e-2, options=UNMERGED)
    plan = outcome.exe.memory
    scratch = {k: a for k, a in plan.allocations.items() if k.endswith(":dilated")}
    assert len(scratch) == 2
    for name, a in scratch.items():
        assert a.region == "workspace" and a.end - a.start == 1, (name, a)  # dilate + conv
        users = {k.layer for k in outcome.exe.kernels[a.start:a.end + 1]}
        assert users == {name.split(":")[0]}, (name, users)
    # the second scratch reuses bytes of buffers dead by then (the first one among them)
    last = max(scratch.values(), key=lambda a: a.start)
    assert any(a.offset < last.stop and last.offset < a.stop and a.end < last.start
               for a in plan.allocations.values() if a.region == "workspace")
    assert not plan.conflicts() and not _bad_accesses(outcome.exe)


# ------------------------------------------------------------------ synthetic programs

def _copy(dst: int, src: int, blocks: int, to_gm: bool) -> Copy:
    gm, ub = Addr(Space.GM, dst if to_gm else src), Addr(Space.UB, 0)
    return Copy(gm, ub, 1, blocks) if to_gm else Copy(ub, gm, 1, blocks)


def _launch(name: str, *instructions: Copy) -> KernelLaunch:
    kernel = Kernel(name, ({"core": Stream(tuple(instructions))},))
    return KernelLaunch(name, "davinci", kernel, name, "copy", (name,), 0, 0)


def _buffers(*sizes: int) -> list[GmBuffer]:
    return [GmBuffer(f"v{i}", 1024 * i, n, "value", "nd") for i, n in enumerate(sizes)]


def test_lifetimes_come_from_kernel_accesses_and_addresses_are_relocated() -> None:
    buffers = _buffers(1024, 1024, 1024, 1024)
    launches = [_launch("k0", _copy(0, 0, 32, to_gm=True))] + [
        _launch(f"k{i}", _copy(1024 * (i - 1), 1024 * (i - 1), 32, to_gm=False),
                _copy(1024 * i, 0, 32, to_gm=True)) for i in range(1, 4)]
    plan, translate = plan_gm(buffers, launches, [3072], 512)
    lives = {k: (a.start, a.end) for k, a in plan.allocations.items() if a.region == "workspace"}
    assert lives == {"v0": (0, 1), "v1": (1, 2), "v2": (2, 3)}
    assert plan.allocations["v3"].region == "output"
    assert plan.allocations["v0"].offset == plan.allocations["v2"].offset
    moved = relocate_kernel(launches[3].program, translate)
    read = moved.cores[0]["core"].instructions[0]
    assert read.src == Addr(Space.GM, plan.allocations["v2"].offset)
    assert translate(2048 + 100) == plan.allocations["v2"].offset + 100


def test_a_buffer_read_before_it_is_written_keeps_its_bytes_from_the_start() -> None:
    buffers = _buffers(1024, 1024, 1024)
    launches = [
        _launch("k0", _copy(0, 0, 32, to_gm=True)),
        _launch("k1", _copy(0, 0, 32, to_gm=False), _copy(1024, 0, 16, to_gm=True)),
        _launch("k2", _copy(1024, 1024, 32, to_gm=False), _copy(2048, 0, 32, to_gm=True)),
    ]
    plan, _ = plan_gm(buffers, launches, [2048], 512)
    # k2 reads v1's second half, which nothing wrote: v1 relies on GM's initial zeros
    assert plan.allocations["v1"].start == 0
    assert plan.allocations["v1"].offset != plan.allocations["v0"].offset


def test_a_slot_covers_reads_past_the_end_of_its_buffer() -> None:
    buffers = _buffers(100, 1024)
    launches = [_launch("k0", _copy(0, 0, 4, to_gm=True)),
                _launch("k1", _copy(0, 0, 40, to_gm=False), _copy(1024, 0, 32, to_gm=True))]
    plan, _ = plan_gm(buffers, launches, [1024], 512)
    assert plan.allocations["v0"].nbytes == 1536  # 40 blocks = 1280 B, rounded up to 512 B


def test_a_read_starting_just_before_a_buffer_belongs_to_it_and_gets_room() -> None:
    # as the lowering lays buffers out: a guard gap between them
    buffers = [GmBuffer("v0", 0, 256, "value", "nd"), GmBuffer("v1", 1536, 256, "value", "nd")]
    launches = [_launch("k0", _copy(0, 0, 8, to_gm=True), _copy(1536, 0, 8, to_gm=True)),
                _launch("k1", _copy(0, 1530, 2, to_gm=False), _copy(0, 0, 8, to_gm=True))]
    plan, translate = plan_gm(buffers, launches, [0], 512)
    v1 = plan.allocations["v1"]
    assert v1.nbytes == 1024  # 512 B of room before its 256 B (rounded up)
    assert translate(1536) == v1.offset + 512 and translate(1530) == v1.offset + 506
