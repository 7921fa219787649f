"""A convolution sweeps its rows against the order its input was last read or written in
(serpentine), so it starts with the rows touched last, which the L2 (LRU) still holds."""

from __future__ import annotations

import dataclasses

import numpy as np
from davinci_harness import build

from archsim.simulate import compile_model
from compiler.compile import default_options
from hw import load_hw
from isa.davinci import Copy, Space


def _net(gb, x):
    rng = np.random.default_rng(0)
    for _ in range(2):
        w = gb.constant((rng.standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float32))
        x = gb.relu(gb.conv2d(x, w, None))
    return x


def _first_store_row(launch, out_offset: int, width: int) -> int:
    """The output row of the first GM store of core 0 (channel block 0 of image 0)."""
    for ins in launch.program.cores[0]["core"].instructions:
        if type(ins) is Copy and ins.dst.space is Space.GM:
            return (ins.dst.offset - out_offset) // (width * 32)
    raise AssertionError("no store")


def test_chained_convolutions_sweep_rows_in_opposite_directions() -> None:
    graph = build(_net, x=(1, 16, 32, 32))
    exe = compile_model(graph, load_hw("ascend910"), merge_launches=False)
    convs = [k for k in exe.kernels if k.op == "conv2d"]  # each with its ReLU fused
    assert len(convs) == 2 and exe.kernels.index(convs[1]) == exe.kernels.index(convs[0]) + 1
    rows = [_first_store_row(k, exe.placements[k.outputs[0]].offset, 32) for k in convs]
    assert rows[0] > 16 and rows[1] == 0, rows  # the first from the bottom, the next down


def _two_readers(gb, x):
    rng = np.random.default_rng(1)
    w1, w2 = (gb.constant((rng.standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float32))
              for _ in range(2))
    return gb.add(gb.conv2d(x, w1, None), gb.conv2d(x, w2, None))


def test_a_second_reader_sweeps_against_the_first_reader() -> None:
    """Both convolutions read x; the first sweeps it bottom up, so the second, whose largest
    feature map is x, starts at the top rows the first read last. (Not folded in as a
    shortcut: conv_plan.shortcut_reader.)"""
    graph = build(_two_readers, x=(1, 16, 32, 32))
    config = load_hw("ascend910")
    options = dataclasses.replace(default_options(config), fold_shortcuts=False)
    exe = compile_model(graph, config, options, merge_launches=False)
    convs = [k for k in exe.kernels if k.op == "conv2d"]
    assert len(convs) == 2
    rows = [_first_store_row(k, exe.placements[k.outputs[0]].offset, 32) for k in convs]
    assert rows[0] > 16 and rows[1] == 0, rows
