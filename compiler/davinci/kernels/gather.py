"""Embedding lookups: GATHER along axis 0 of a 2-D table with run-time indices.

MTE2 loads a chunk of int32 indices into UB; ``copy_gather`` (the scalar unit reading each
index and issuing one burst per row) brings the table rows into UB; MTE3 stores them as
consecutive output rows. Chunks alternate between two UB buffers so the next chunk's loads
overlap this chunk's store. Gathers with constant indices keep the row-map kernel of
movement.py.
"""

from __future__ import annotations

import math

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.gemm import _copies
from compiler.davinci.kernels.movement import lower_gather as lower_constant_gather
from compiler.davinci.kernels.tiling import ceil_to
from compiler.errors import CompileError
from framework import Node
from isa.davinci import Addr, CopyGather, Space


def lower_gather(ctx: LoweringContext, node: Node) -> None:
    """Registered for GATHER by lower._load_rules (it dispatches both kinds of gather)."""
    table, indices = node.inputs
    if ctx.is_constant(indices):
        lower_constant_gather(ctx, node)
        return
    t_type, i_type = ctx.type_of(table), ctx.type_of(indices)
    if t_type.rank != 2 or node.attrs.axis not in (0, -2):
        raise CompileError(f"{node.name}: run-time gather needs a 2-D table and axis 0 "
                           f"(table {t_type.shape}, axis {node.attrs.axis})")
    vocab, width = t_type.shape
    pitch = ceil_to(width, 16) * 2
    if ctx.is_constant(table):
        t_place = ctx.place_constant(table, ctx.constant(table), "ndp", key=f"{table}:ndp")
    else:
        t_place = ctx.place(table)
    i_place = ctx.place(indices)
    out = node.outputs[0]
    o_place = ctx.place(out)
    if i_place.layout != "ndp" or o_place.layout != "ndp":
        raise CompileError(f"{node.name}: gather indices and output must be row-major")
    per_row = i_type.shape[-1] if i_type.rank else 1
    lines = math.prod(i_type.shape[:-1]) if i_type.rank > 1 else 1
    index_pitch = ceil_to(per_row, 8) * 4
    chunk = max(8, min(ceil_to(per_row, 8), (ctx.target.ub_bytes // 4) // (pitch + 4) // 8 * 8))
    tasks = [(line, s0) for line in range(lines) for s0 in range(0, per_row, chunk)]
    cores = min(ctx.target.cores, len(tasks))
    builder = ctx.builder(node.name, cores)
    for core in range(cores):
        sb = builder.stream(core)
        rows_buf = [sb.alloc(Space.UB, chunk * pitch, "gathered rows") for _ in range(2)]
        index_buf = [sb.alloc(Space.UB, chunk * 4, "indices") for _ in range(2)]
        for n, (line, s0) in enumerate(tasks[core::cores]):
            count = min(chunk, per_row - s0)
            idx_src = Addr(Space.GM, i_place.offset + line * index_pitch + s0 * 4)
            sb.emit(*_copies(index_buf[n % 2], idx_src, 1, -(-count * 4 // 32), 0, 0))
            sb.emit(CopyGather(rows_buf[n % 2], Addr(Space.GM, t_place.offset), index_buf[n % 2],
                               count, pitch, pitch, pitch, vocab))
            dst = Addr(Space.GM, o_place.offset + (line * per_row + s0) * pitch)
            sb.emit(*_copies(dst, rows_buf[n % 2], 1, count * pitch // 32, 0, 0))
    n_rows = lines * per_row
    ctx.launch(builder, node, "gather", 0, n_rows * (pitch + 4) * 2, (table, indices), (out,),
               f"{len(tasks)} chunks of up to {chunk} rows on {cores} cores")
