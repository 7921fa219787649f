"""Element-wise kernels: unary and binary ops (NumPy broadcasting) and fused element-wise
chains, as ONE kernel that streams tiles GM -> UB -> (every op of the chain) -> GM.

The work is split over the cores in contiguous ranges; each core walks its range in tiles,
alternating between two UB buffer sets so MTE2 (loads), V (the chain) and MTE3 (stores) of
consecutive tiles overlap (the flags come from reads()/writes()). Tiles are as large as UB
allows, so instructions carry long repeats. Broadcasting follows `elementwise_plan`; padding
follows the rule in `vector_common`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext, device_dtype
from compiler.davinci.kernels.chain_select import SELECT_RULES
from compiler.davinci.kernels.elementwise_plan import (
    ACC,
    ChainOp,
    Ext,
    chain_of,
    classify,
    maps_zero_to_zero,
)
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_in,
    copy_out,
    copy_rows,
    dtype_of,
    gm,
    numel,
    place_output,
    plan_tiles,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_math import SCRATCH_TILES, binary, binary_scalar, unary
from compiler.davinci.kernels.vector_ops import (
    Geometry,
    Opnd,
    broadcast_lane0,
    fill_row_lanes,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from framework.ops import BINARY_ELEMENTWISE, COMPARISONS, UNARY_ELEMENTWISE
from isa.davinci import Addr, Space
from isa.davinci.types import BLOCK_BYTES


@dataclass
class ChainKernel:
    """One element-wise kernel: the op chain, how each outside operand arrives
    (elementwise_plan.Ext), the output, the walk ("flat" over blocks, "rows" of an ndp value,
    "chan" over NC1HWC0 slices), whether padded lanes must be re-zeroed, and the scratch tiles
    the chain's composed ops need. Other kernels (batch norm, where, expand, casts) build one
    and call `emit_elementwise`. A ``prologue`` (called with each stream and its index before
    the tiles) may compute per-channel operands in UB itself: it returns them by name (exts of
    kind "chan" with no placement) and uses at most ``prologue_ub_bytes`` of UB."""

    chain: list[ChainOp]
    exts: dict[str, Ext]
    out: TensorPlacement
    mode: str  # "flat", "rows" or "chan"
    zero_fix: bool
    scratch_tiles: int
    row_range: tuple[int, int] | None = None  # rows mode: write only these output rows
    prologue: Callable[[StreamBuilder, int], dict[str, Opnd]] | None = None
    prologue_ub_bytes: int = 0


def _scratch_tiles(chain: list[ChainOp], exts: dict[str, Ext]) -> int:
    need = 0
    for step in chain:
        need = max(need, SCRATCH_TILES.get(step.op, 0) if isinstance(step.op, OpCode) else 2)
        if step.op is OpCode.POW:
            need = max(need, 1)
    return need


def place_mask(ctx: LoweringContext, node: Node) -> TensorPlacement:
    """A comparison's boolean result, stored as fp16 0.0 / 1.0 lanes in the layout of its
    tensor input, so it lines up lane for lane with the floats it later selects between."""
    for value in node.inputs:
        if ctx.is_constant(value):
            continue
        if not ctx.type_of(value).is_float:
            raise CompileError(f"{node.name}: {node.op.value} of integer values has no DaVinci "
                               "lowering (comparisons compute on fp16 lanes)")
    return place_output(ctx, node.outputs[0], node.inputs, "float16")


@rule(*sorted(UNARY_ELEMENTWISE | BINARY_ELEMENTWISE | COMPARISONS, key=lambda op: op.value),
      ("fused", "elementwise"))
def lower_elementwise(ctx: LoweringContext, node: Node) -> None:
    """One streaming kernel for a unary/binary node or a fused element-wise chain."""
    if _identity_view(ctx, node):
        return
    chain = chain_of(node)
    out_value = node.outputs[0]
    if node.op in COMPARISONS:
        out = place_mask(ctx, node)
    else:
        out = place_output(ctx, out_value, node.inputs)
    if not ctx.type_of(out_value).is_float and node.op not in COMPARISONS:
        raise CompileError(f"{node.name}: integer element-wise {chain[0].op} has no "
                           "DaVinci lowering (the vector kernels compute in fp16)")
    exts: dict[str, Ext] = {}
    for step in chain:
        for arg in step.args:
            if arg != ACC and arg not in exts:
                exts[arg] = classify(ctx, arg, out, node.name)
    kinds = {e.kind for e in exts.values()}
    mode = ("rows" if kinds & {"row", "rows"} else "chan" if "chan" in kinds else "flat")
    zero_fix = _has_padding(out) and not maps_zero_to_zero(chain, exts)
    if zero_fix and out.layout not in ("ndp", "nc1hwc0"):
        raise CompileError(f"{node.name}: the chain turns zero padding non-zero, which the "
                           f"padded {out.layout} output cannot take (no DaVinci lowering)")
    kernel = ChainKernel(chain, exts, out, mode, zero_fix, _scratch_tiles(chain, exts))
    emit_elementwise(ctx, node, kernel)


def _identity_view(ctx: LoweringContext, node: Node) -> bool:
    """An IDENTITY the simplifier kept (it names a graph output, e.g. a training step's next
    running statistics) reads its input's bytes in place: no copy kernel, no launch. The GM
    plan keeps a buffer a graph output names live for the whole run."""
    if node.op is not OpCode.IDENTITY:
        return False
    source, out = node.inputs[0], node.outputs[0]
    placed = ctx.placements.get(source)
    if placed is None or ctx.is_constant(source) or out in ctx.placements:
        return False
    if placed.layout != ctx.layout_of(out) or placed.dtype != device_dtype(ctx.type_of(out)):
        return False
    ctx.alias(out, source)
    return True


def _has_padding(out: TensorPlacement) -> bool:
    shape = out.shape or (1,)
    if out.layout == "fractal_z":  # weights: Cout and Cin are padded to 16
        return shape[0] % 16 != 0 or shape[1] % 16 != 0
    channels = shape[1] if out.layout == "nc1hwc0" else shape[-1]
    return channels % 16 != 0


def _geometry(out: TensorPlacement) -> tuple[int, int]:
    """(rows, row blocks) of the output's stored image (rows of the ndp layout; for
    nc1hwc0 and flat walks, 32 B blocks)."""
    shape = out.shape or (1,)
    if out.layout == "ndp":
        return numel(shape[:-1]), blocks(shape[-1] * 2)
    return out.nbytes // BLOCK_BYTES, 1


def emit_elementwise(ctx: LoweringContext, node: Node, k: ChainKernel) -> None:
    """Plan tiles, split them over cores and emit every core's stream."""
    rows, row_blocks = _geometry(k.out)
    tile_exts = [e for e in k.exts.values() if e.kind in ("flat", "rows")]
    if k.mode == "rows":
        units, unit_bytes = rows, row_blocks * BLOCK_BYTES
        per_set = 1 + k.scratch_tiles + sum(
            1 if e.kind == "flat" or not e.lane_bcast and not e.prebcast else
            2 * BLOCK_BYTES / unit_bytes for e in tile_exts)
        align = 1
    else:
        units, unit_bytes = k.out.nbytes // BLOCK_BYTES, BLOCK_BYTES
        per_set = 1 + k.scratch_tiles + len(tile_exts)
        align = 8
        if k.mode == "chan":
            hw = k.out.shape[2] * k.out.shape[3]
            align = hw if hw * BLOCK_BYTES * per_set * 2 < ctx.target.ub_bytes // 4 else 8
    persistent = sum(ub_bytes(e.placement.nbytes) + 2 * BLOCK_BYTES
                     for e in k.exts.values()
                     if e.kind in ("row", "chan", "scalar") and e.placement is not None)
    budget = ctx.target.ub_bytes - persistent - k.prologue_ub_bytes - 4096
    plan = plan_tiles(budget, units, unit_bytes, per_set, vector_units(ctx), align)
    first, last = k.row_range if k.row_range is not None else (0, units)
    ranges = [(first + a * align, min(last, first + b * align))
              for a, b in split(-(-(last - first) // align), vector_units(ctx))]
    builder, streams = vector_builder(ctx, f"{node.name}", len(ranges))
    for core, (start, stop) in enumerate(ranges):
        fixed = k.prologue(streams[core], core) if k.prologue is not None else {}
        _emit_core(streams[core], k, plan.tile_units, start, stop, unit_bytes, rows,
                   row_blocks, fixed)
    in_bytes = sum(e.placement.nbytes for e in k.exts.values()
                   if e.kind != "imm" and e.placement is not None)
    out_numel = numel(k.out.shape)
    lead = k.chain[0].op
    name = lead.value if isinstance(lead, OpCode) else lead
    ctx.launch(builder, node, op=name if len(k.chain) == 1 else "elementwise",
               flops=out_numel * len(k.chain), min_bytes=in_bytes + out_numel * 2,
               inputs=tuple(v for v, e in k.exts.items()
                            if e.kind != "imm" and v in ctx.graph.types),
               outputs=(node.outputs[0],),
               tiling=f"{k.mode}: {len(ranges)} cores, {plan.tile_units} "
                      f"{'rows' if k.mode == 'rows' else 'blocks'} per tile, double-buffered")


def _emit_core(sb: StreamBuilder, k: ChainKernel, tile_units: int, start: int, stop: int,
               unit_bytes: int, rows: int, row_blocks: int, computed: dict[str, Opnd]) -> None:
    fixed = {**computed, **_load_persistent(sb, k)}
    tile_bytes = ub_bytes(tile_units * unit_bytes)
    sets = []
    for _ in range(2):
        bufs: dict[str, Addr] = {ACC: sb.alloc(Space.UB, tile_bytes, "element-wise tile")}
        for index in range(k.scratch_tiles):
            bufs["\0tmp" if index == 0 else f"\0tmp{index + 1}"] = sb.alloc(
                Space.UB, tile_bytes, "scratch")
        for value, ext in k.exts.items():
            if ext.kind == "flat" or (ext.kind == "rows" and not ext.lane_bcast
                                      and not ext.prebcast):
                bufs[value] = sb.alloc(Space.UB, tile_bytes, f"operand {value}")
            elif ext.kind == "rows":
                raw = ub_bytes(tile_units * BLOCK_BYTES)
                bufs[value] = sb.alloc(Space.UB, raw, f"operand {value}")
                if ext.lane_bcast:
                    bufs[value + "\0x"] = sb.alloc(Space.UB, raw, f"broadcast {value}")
        sets.append(bufs)
    for index, u0 in enumerate(range(start, stop, tile_units)):
        u1 = min(stop, u0 + tile_units)
        bufs = sets[index % 2]
        _load_tile(sb, k, bufs, u0, u1, unit_bytes, row_blocks)
        for geo, offset, chan_opnds in _segments(k, u0, u1, row_blocks):
            _emit_chain(sb, k, geo, offset, bufs, fixed, chan_opnds)
        if k.zero_fix:
            _zero_padding(sb, k, bufs[ACC], u0, u1, row_blocks)
        copy_out(sb, gm(k.out, u0 * unit_bytes), bufs[ACC], (u1 - u0) * unit_bytes)


def _load_persistent(sb: StreamBuilder, k: ChainKernel) -> dict[str, Opnd]:
    """Row vectors, channel vectors and broadcast scalars: loaded once per core."""
    fixed: dict[str, Opnd] = {}
    for value, ext in k.exts.items():
        if ext.kind not in ("row", "chan", "scalar") or ext.placement is None:
            continue  # a prologue's operand
        nbytes = BLOCK_BYTES if ext.kind == "scalar" else ext.placement.nbytes
        buf = sb.alloc(Space.UB, ub_bytes(nbytes), f"operand {value}")
        copy_in(sb, buf, gm(ext.placement), nbytes)
        if ext.kind == "scalar":
            wide = sb.alloc(Space.UB, BLOCK_BYTES * 8, f"broadcast {value}")
            broadcast_lane0(sb, wide, buf, 1, 0)
            fixed[value] = Opnd(wide, row_stride=0, blk_stride=0)
        elif ext.kind == "row":
            fixed[value] = Opnd(buf, row_stride=0)
        else:
            fixed[value] = Opnd(buf, row_stride=1, blk_stride=0)
    return fixed


def _runs(row_map: Any, r0: int, r1: int) -> list[tuple[int, int, int, int]]:
    """(first output row, first operand row, count, operand row step >= 1) of the arithmetic
    runs of ``row_map`` over output rows r0..r1-1 (one burst copy each)."""
    runs: list[tuple[int, int, int, int]] = []
    r = r0
    while r < r1:
        base = int(row_map[r])
        step = int(row_map[r + 1]) - base if r + 1 < r1 else 1
        if step < 1:
            step = 1
        count = 1
        while r + count < r1 and int(row_map[r + count]) == base + count * step:
            count += 1
        runs.append((r, base, count, step))
        r += count
    return runs


def _load_tile(sb: StreamBuilder, k: ChainKernel, bufs: dict[str, Addr], u0: int, u1: int,
               unit_bytes: int, out_row_blocks: int) -> None:
    for value, ext in k.exts.items():
        if ext.placement is None:
            continue
        if ext.kind == "flat":
            copy_in(sb, bufs[value], gm(ext.placement, u0 * unit_bytes), (u1 - u0) * unit_bytes)
        elif ext.kind == "rows":
            width = 1 if ext.lane_bcast or ext.prebcast else out_row_blocks
            for first, base, count, step in _runs(ext.row_map, u0, u1):
                src = gm(ext.placement, base * ext.row_blocks * BLOCK_BYTES + ext.col_offset * 2)
                copy_rows(sb, bufs[value] + (first - u0) * width * BLOCK_BYTES, src, count,
                          width, step * ext.row_blocks, width)
            if ext.lane_bcast:
                broadcast_lane0(sb, bufs[value + "\0x"], bufs[value], u1 - u0, 1)


def _segments(k: ChainKernel, u0: int, u1: int, row_blocks: int
              ) -> list[tuple[Geometry, int, dict[str, Opnd]]]:
    """(geometry, byte offset in the tile, per-segment operands) of each compute region."""
    if k.mode == "flat":
        return [(Geometry.flat((u1 - u0) * 16), 0, {})]
    if k.mode == "rows":
        return [(Geometry(u1 - u0, row_blocks * 16, row_blocks), 0, {})]
    n, c, h, w = k.out.shape
    c1, hw = -(-c // 16), h * w
    segments = []
    b = u0
    while b < u1:
        slice_index = b // hw
        whole = b % hw == 0 and b + hw <= u1
        if whole:  # a run of whole slices whose channel blocks are consecutive
            last = u1 // hw
            per_n = {ext.chan_batch for ext in k.exts.values() if ext.kind == "chan"}
            if 1 in per_n and n > 1:
                last = min(last, (slice_index // c1 + 1) * c1)
            count = last - slice_index
            geo = Geometry(count, hw * 16, hw)
            end = b + count * hw
        else:
            end = min(u1, (slice_index + 1) * hw)
            geo = Geometry(1, (end - b) * 16, end - b)
        opnds = {}
        for value, ext in k.exts.items():
            if ext.kind == "chan":
                index = slice_index if ext.chan_batch == n else slice_index % c1
                opnds[value] = Opnd(Addr(Space.UB, 0) + index * BLOCK_BYTES, row_stride=1,
                                    blk_stride=0)
        segments.append((geo, (b - u0) * BLOCK_BYTES, opnds))
        b = end
    return segments


def _operand(k: ChainKernel, arg: str, bufs: dict[str, Addr], offset: int, fixed: dict[str, Opnd],
             chan: dict[str, Opnd]) -> Opnd | float:
    if arg == ACC:
        return Opnd(bufs[ACC] + offset)
    ext = k.exts[arg]
    if ext.kind == "imm":
        return ext.imm
    if ext.kind == "chan":
        base = fixed[arg]
        rel = chan[arg]
        return Opnd(base.addr + rel.addr.offset, rel.row_stride, 0)
    if ext.kind in ("row", "scalar"):
        return fixed[arg]
    if ext.kind == "rows" and ext.lane_bcast:
        return Opnd(bufs[arg + "\0x"], row_stride=1, blk_stride=0)
    if ext.kind == "rows" and ext.prebcast:
        return Opnd(bufs[arg], row_stride=1, blk_stride=0)
    return Opnd(bufs[arg] + offset)


def _emit_chain(sb: StreamBuilder, k: ChainKernel, geo: Geometry, offset: int,
                bufs: dict[str, Addr], fixed: dict[str, Opnd], chan: dict[str, Opnd]) -> None:
    geo = Geometry(geo.rows, geo.cols, geo.row_stride, dtype_of(k.out), geo.tail)
    acc = Opnd(bufs[ACC] + offset)
    tmp = Opnd(bufs["\0tmp"] + offset) if "\0tmp" in bufs else None
    for step in k.chain:
        if isinstance(step.op, str):  # bit-select steps of where (chain_select.py)
            operands = [None if not a else _operand(k, a, bufs, offset, fixed, chan)
                        for a in step.args]
            scratch = [Opnd(bufs[n] + offset) for n in ("\0tmp", "\0tmp2") if n in bufs]
            SELECT_RULES[step.op](sb, geo, acc, operands, scratch)
            continue
        args = [_operand(k, a, bufs, offset, fixed, chan) for a in step.args]
        if len(args) == 1:
            if isinstance(args[0], float):
                raise CompileError(f"{step.op.value}: a constant operand should have been folded")
            unary(sb, geo, step.op, step.attrs, acc, args[0], tmp)
        elif isinstance(args[0], float) and isinstance(args[1], float):
            raise CompileError(f"{step.op.value}: two constant operands should have been folded")
        elif isinstance(args[1], float):
            binary_scalar(sb, geo, step.op, acc, args[0], args[1], False, tmp)  # type: ignore[arg-type]
        elif isinstance(args[0], float):
            binary_scalar(sb, geo, step.op, acc, args[1], args[0], True, tmp)
        else:
            binary(sb, geo, step.op, acc, args[0], args[1], tmp)


def _zero_padding(sb: StreamBuilder, k: ChainKernel, acc: Addr, u0: int, u1: int,
                  row_blocks: int) -> None:
    """Write zeros into the padded lanes of the tile (see vector_common's padding rule)."""
    shape = k.out.shape or (1,)
    if k.out.layout == "nc1hwc0":
        n, c, h, w = shape
        c1, hw = -(-c // 16), h * w
        for batch in range(n):
            first = (batch * c1 + c1 - 1) * hw
            lo, hi = max(u0, first), min(u1, first + hw)
            if lo < hi:
                fill_row_lanes(sb, acc + (lo - u0) * BLOCK_BYTES, hi - lo, 1, c % 16, 16, 0.0)
        return
    valid = shape[-1] % 16
    if k.mode == "rows":
        fill_row_lanes(sb, acc + (row_blocks - 1) * BLOCK_BYTES, u1 - u0, row_blocks, valid, 16,
                       0.0)
        return
    # flat walk over blocks: the rows whose last block lies in [u0, u1)
    first_row = max(0, -(-(u0 + 1) // row_blocks) - 1)
    while first_row * row_blocks + row_blocks - 1 < u0:
        first_row += 1
    last_row = (u1 - row_blocks) // row_blocks if u1 >= row_blocks else -1
    while (last_row + 1) * row_blocks + row_blocks - 1 < u1:
        last_row += 1
    if last_row >= first_row:
        pad_block = first_row * row_blocks + row_blocks - 1
        fill_row_lanes(sb, acc + (pad_block - u0) * BLOCK_BYTES, last_row - first_row + 1,
                       row_blocks, valid, 16, 0.0)
