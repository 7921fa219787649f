"""Data-movement DaVinci kernels (row-major values) against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check

CASES = {
    "transpose_rows": (lambda gb, x: gb.transpose(x, (0, 2, 1, 3)), {"x": (2, 5, 3, 20)}),
    "transpose_heads": (lambda gb, x: gb.transpose(x, (2, 0, 1, 3)), {"x": (2, 5, 3, 64)}),
    "slice": (lambda gb, x: gb.slice(x, [1, 3], [4, 30], [0, 2]), {"x": (5, 3, 40)}),
    "slice_negative_step": (lambda gb, x: gb.slice(x, [4, 0], [0, 40], [0, 2], [-2, 1]),
                            {"x": (5, 3, 40)}),
    "split_last": (lambda gb, x: gb.split(x, [7, 13, 20], axis=1), {"x": (3, 40)}),
    "split_first": (lambda gb, x: gb.split(x, [2, 3], axis=0), {"x": (5, 3, 20)}),
    "concat_rows": (lambda gb, x, y: gb.concat([x, y], axis=1), {"x": (2, 3, 20), "y": (2, 4, 20)}),
    "concat_last": (lambda gb, x, y: gb.concat([x, y], axis=-1),
                    {"x": (2, 3, 32), "y": (2, 3, 20)}),
    "pad": (lambda gb, x: gb.pad(gb.relu(x), [1, 3, 2, 5], value=1.5), {"x": (4, 20)}),
    "pad_wide": (lambda gb, x: gb.pad(gb.relu(x), [0, 17, 0, 20]), {"x": (4, 20)}),
    "pad_reflect_rows": (lambda gb, x: gb.pad(x, [1, 2, 0, 2, 1, 0], mode="reflect"),
                         {"x": (3, 4, 20)}),
    "pad_edge_rows": (lambda gb, x: gb.pad(x, [1, 2, 0, 2, 1, 0], mode="edge"),
                      {"x": (3, 4, 20)}),
    "gather_const": (lambda gb, x: gb.gather(x, gb.constant(np.array([3, 0, 2, 2])), axis=0),
                     {"x": (5, 20)}),
    "expand_lanes": (lambda gb, x: gb.expand(x, (4, 3, 20)), {"x": (3, 1)}),
    "expand_rows": (lambda gb, x: gb.expand(x, (4, 3, 20)), {"x": (1, 20)}),
    "reshape_view": (lambda gb, x: gb.relu(gb.reshape(x, (2, 3, 4, 32))), {"x": (6, 128)}),
    "flatten_pooled": (lambda gb, x: gb.flatten(gb.global_avg_pool(x)), {"x": (2, 20, 3, 3)}),
    "fill": (lambda gb, x: gb.add(x, gb.fill((4, 20), 2.0)), {"x": (4, 20)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_movement(name: str) -> None:
    fn, shapes = CASES[name]
    check(build(fn, **shapes))


SHIFTING = {
    "flatten_rows": (lambda gb, x: gb.reshape(gb.relu(x), (3, 100)), {"x": (3, 5, 20)}),
    "regroup": (lambda gb, x: gb.reshape(gb.relu(x), (5, 24)), {"x": (6, 20)}),
    "unflatten": (lambda gb, x: gb.reshape(gb.relu(x), (3, 5, 20)), {"x": (3, 100)}),
    "to_column": (lambda gb, x: gb.reshape(gb.relu(x), (6, 20, 1)), {"x": (6, 20)}),
    "concat_unaligned": (lambda gb, x, y, z: gb.concat([gb.relu(x), y, z], axis=-1),
                         {"x": (4, 7), "y": (4, 20), "z": (4, 5)}),
}


@pytest.mark.parametrize("name", sorted(SHIFTING))
def test_moves_that_shift_lanes(name: str) -> None:
    # pieces starting inside a 32 B block are read shifted from GM and merged under masks
    fn, shapes = SHIFTING[name]
    check(build(fn, **shapes))


def test_flatten_is_one_piece_per_source_row_position() -> None:
    graph = build(lambda gb, x: gb.reshape(gb.relu(x), (3, 100)), x=(3, 5, 20))
    outcome = check(graph)
    assert "5 pieces" in outcome.exe.kernels[1].tiling


def test_attention_transpose_uses_strided_bursts() -> None:
    graph = build(lambda gb, x: gb.transpose(x, (0, 2, 1, 3)), x=(2, 64, 4, 32))
    outcome = check(graph)
    kernel = outcome.exe.kernels[0].program
    copies = sum(1 for core in kernel.cores for s in core.values() for i in s.instructions
                 if i.mnemonic == "copy")
    assert copies < 2 * 64 * 4  # far fewer than one copy per row in and out


LANE_CASES = {
    "attention_key_transpose": ((0, 2, 3, 1), (1, 40, 3, 20)),
    "matrix_transpose": ((1, 0), (37, 50)),
    "rotate_axes": ((2, 0, 1), (3, 5, 20)),
}


@pytest.mark.parametrize("name", sorted(LANE_CASES))
def test_transposes_moving_the_last_axis(name: str) -> None:
    perm, shape = LANE_CASES[name]
    check(build(lambda gb, x: gb.transpose(x, perm), x=shape))


@pytest.mark.parametrize("target", [(2, 1960), (2, 40, 49), (2, 40, 7, 7), (2, 20, 98)])
def test_nc1hwc0_to_row_major_reshape(target: tuple) -> None:
    graph = build(lambda gb, x: gb.reshape(x, target), x=(2, 40, 7, 7))
    check(graph, fmap=["x"])


FMAP_CASES = {
    "concat_channels": (lambda gb, x, y: gb.concat([x, y], axis=1),
                        {"x": (2, 32, 3, 5), "y": (2, 20, 3, 5)}),
    "concat_rows": (lambda gb, x, y: gb.concat([x, y], axis=2),
                    {"x": (2, 20, 3, 5), "y": (2, 20, 4, 5)}),
    "concat_columns": (lambda gb, x, y: gb.concat([x, y], axis=3),
                       {"x": (2, 20, 3, 5), "y": (2, 20, 3, 2)}),
    "concat_batch": (lambda gb, x, y: gb.concat([x, y], axis=0),
                     {"x": (2, 20, 3, 5), "y": (1, 20, 3, 5)}),
    "slice_channels": (lambda gb, x: gb.slice(x, [16], [40], [1]), {"x": (2, 40, 3, 5)}),
    "slice_pixels": (lambda gb, x: gb.slice(x, [1, 2], [3, 5], [2, 3]), {"x": (2, 20, 4, 6)}),
    "split_channels": (lambda gb, x: gb.split(x, [32, 8], axis=1), {"x": (2, 40, 3, 5)}),
}


@pytest.mark.parametrize("name", sorted(FMAP_CASES))
def test_feature_map_movement_by_block_views(name: str) -> None:
    # NC1HWC0 maps move as whole channel blocks, rows and pixels (SqueezeNet's fire concat)
    fn, shapes = FMAP_CASES[name]
    graph = build(fn, **shapes)
    check(graph, fmap=[v for v in (*graph.inputs, *graph.outputs) if graph.types[v].rank == 4])


def test_lrn_style_channel_view_round_trip() -> None:
    # (N, C, H, W) -> (N, 1, C, H W) -> pool over the channel window -> back (ONNX LRN import)
    def fn(gb, x):
        view = gb.reshape(x, (1, 1, 40, 49))
        pooled = gb.avg_pool2d(view, (5, 1), 1, (2, 0, 2, 0), count_include_pad=True)
        return gb.reshape(pooled, (1, 40, 7, 7))

    graph = build(fn, x=(1, 40, 7, 7))
    check(graph, fmap=[v for v, t in graph.types.items() if t.rank == 4])
