"""Weight gradient of a convolution on the Cube: dW = sum over images and output pixels of
dy^T . img2col(x), written straight into the FRACTAL_Z layout of the weights.

As a matrix product C[M = Cout, N = K] with K = (c1, kh, kw, c0) (the FRACTAL_Z K order) and
the reduction over every output pixel p of every image:

- A = dy^T: dy is NC1HWC0, so a chunk of output rows of one Cout block is ``pixels`` rows of
  16 channel values in GM. MTE2 copies them into L1 (rows padded to 16 pixels per block) and a
  transposing Load2D turns each [p][co] fractal into the [co][p] FRACTAL_ZZ fractal of L0A.
- B = img2col(x): MTE2 copies the input rows (and the C1 slices) the chunk and the tile's K
  range read into L1; img2col into L0B writes each fractal transposed ([k][p], facts §3.4),
  which in the same fractal order is the FRACTAL_ZN form of B[p, k]. Padding, stride and
  dilation are done by img2col; pixels past the output read as zero and the Mmad's k (the
  chunk's true pixel count) makes the padded columns of A count as zero.
- C accumulates in L0C over all chunks. L0C's NZ fractal (n1 = k1, m1 = co1) holds [co][k],
  which is FRACTAL_Z's fractal (k1, co1): the tile is stored as one run of Cout blocks per K
  block (through UB as fp16 on coupled chips, by FixPipe on separated ones).

Tiles of ``bco`` output channels x ``bkf`` K fractals are spread over the cores. When there
are too few tiles to fill the chip (early layers: small Cout x K, many pixels), the images are
also split into ``groups``: each (tile, group) writes its fp32 partial sum to a GM workspace and
a vector kernel adds the groups' partials and converts them to fp16 (`_reduce_partials`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.conv import _window
from compiler.davinci.kernels.conv_tiling import ConvShape
from compiler.davinci.kernels.gemm import BLOCK, FRACTAL, _copies, _load2d
from compiler.davinci.kernels.tiling import ceil_to
from compiler.davinci.kernels.vector_common import split, vector_builder, vector_units
from compiler.davinci.kernels.vector_ops import Geometry, vbin, vconv_flat
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci import Addr, CopyL0cToUb, DType, Fixpipe, Img2Col, Mmad, Space, VBinOp


@dataclass(frozen=True, slots=True)
class GradTiling:
    """Output tiles of ``bco`` channels x ``bkf`` K fractals; chunks of ``rows`` output rows,
    whose input rows are loaded once per tile and cut into img2col slices of ``bks`` K
    fractals (L0B holds a slice for every pixel of the chunk)."""

    bco: int
    bkf: int
    bks: int
    rows: int
    groups: int
    cores: int
    tiles: int
    estimate_cycles: int

    def explain(self) -> str:
        return (f"tiles of {self.bco} channels x {self.bkf * 16} K (slices of {self.bks * 16})"
                f" x {self.groups} image groups over {self.tiles} tiles on {self.cores} cores, "
                f"chunks of {self.rows} output rows; estimate {self.estimate_cycles} cycles")


@dataclass(frozen=True, slots=True)
class GradProblem:
    shape: ConvShape
    x: int  # GM offsets: input (NC1HWC0), output gradient (NC1HWC0), weight gradient
    dy: int
    dw: int
    separated: bool
    partials: int | None = None  # GM fp32 workspace, one FRACTAL_Z-ordered image per group


def _slices(s: ConvShape, kf0: int, nkf: int) -> tuple[int, int]:
    """The C1 slices [lo, hi) K fractals [kf0, kf0 + nkf) read."""
    taps = s.kh * s.kw
    return kf0 // taps, (kf0 + nkf - 1) // taps + 1


def choose_grad_tiling(target, s: ConvShape) -> GradTiling:
    """The tiling with the lowest estimated time among those that fit every buffer."""
    k1 = s.c1 * s.kh * s.kw
    co1 = -(-s.cout // 16)
    rate = target.gm_to_l1_bytes_per_cycle
    img2col_rate = target.l1_to_l0a_bytes_per_cycle
    if s.sw > 1:  # strided img2col reads more than it writes (as in conv_tiling)
        img2col_rate = min(img2col_rate, max(32, 512 // (2 * s.sw + 1)))
    best: GradTiling | None = None
    for bco in (16, 32, 64, 128, 256):
        if bco // 2 >= co1 * 16 and bco > 16:
            continue
        for bkf in sorted({1, 2, 4, 8, 9, 16, 18, 32, 36, 64, 72, 128, 144, k1}):
            if bkf > k1 or bco * bkf * 16 * 4 > target.l0c_bytes \
                    or bco * bkf * 16 * 2 > target.ub_bytes:
                continue
            slices = min(s.c1, -(-bkf // (s.kh * s.kw)) + 1)
            for rows in sorted({1, 2, 4, 7, 8, 14, 16, 28, 32, 56, s.ho} & set(range(1, s.ho + 1))):
                pc16 = ceil_to(rows * s.wo, 16)
                bks = min(bkf, target.l0b_bytes // (4 * pc16 * 16))
                if 4 * bco * pc16 > target.l0a_bytes or bks < 1:
                    continue
                window = slices * s.window_rows(rows) * s.w * BLOCK
                if 2 * (window + bco * pc16 * 2) > target.l1_bytes:
                    continue
                tiles = -(-co1 * 16 // bco) * -(-k1 // bkf)
                cube = (bco // 16) * bkf * (pc16 // 16)
                mte2 = (window + bco * rows * s.wo * 2) / rate
                mte1 = pc16 * bkf * 32 / img2col_rate + bco * pc16 * 2 / img2col_rate
                per_chunk = max(cube, mte2, mte1) + 24 + 8 * -(-bkf // bks)  # issue, flags
                for groups in (g for g in (1, 2, 4, 8, 16, 32) if g <= s.n):
                    if groups > 1 and (tiles >= target.cores
                                       or bco * bkf * 16 * 4 > target.ub_bytes):
                        break
                    items = tiles * groups
                    cores = min(target.cores, items)
                    chunks = -(-s.n // groups) * math.ceil(s.ho / rows)
                    store = bco * bkf * 16 * (2 if groups == 1 else 4) \
                        / target.ub_to_gm_bytes_per_cycle
                    est = math.ceil(items / cores) * (chunks * per_chunk + store)
                    if groups > 1:  # the reduction kernel: partials in, fp16 out
                        est += (groups * 4 + 2) * k1 * co1 * 256 / target.hbm_bytes_per_cycle \
                            + target.kernel_launch_cycles
                    if best is None or est < best.estimate_cycles:
                        best = GradTiling(bco, bkf, bks, rows, groups, cores, items, int(est))
    if best is None:
        raise CompileError(f"conv weight gradient {s}: no tiling fits the buffers of "
                           f"{target.name}")
    return best


@rule(OpCode.CONV2D_GRAD_WEIGHT)
def lower_conv_grad_weight(ctx: LoweringContext, node: Node) -> None:
    """dW (FRACTAL_Z) of conv2d(x, W) from x and dy (both NC1HWC0)."""
    at = node.attrs.conv
    if at.groups != 1:
        raise CompileError(f"{node.name}: weight gradient of a grouped convolution "
                           f"(groups={at.groups}) has no DaVinci lowering")
    x_name, dy_name = node.inputs
    out = node.outputs[0]
    n, c, h, w = ctx.type_of(x_name).shape
    _, cout, ho, wo = ctx.type_of(dy_name).shape
    kh, kw = node.attrs.weight_shape[2:]
    pt, pl, pb, pr = at.padding
    shape = ConvShape(n, -(-c // 16), h, w, cout, kh, kw, at.stride[0], at.stride[1],
                      at.dilation[0], at.dilation[1], pt, pl, pb, pr, ho, wo)
    places = [ctx.place(v) for v in (x_name, dy_name, out)]
    for place, want in zip(places, ("nc1hwc0", "nc1hwc0", "fractal_z"), strict=True):
        if place.layout != want:
            raise CompileError(f"{node.name}: {place.name} is {place.layout}, expected {want}")
    tiling = choose_grad_tiling(ctx.target, shape)
    k1 = shape.c1 * kh * kw
    co1 = -(-cout // 16)
    partials = None
    if tiling.groups > 1:
        partials = ctx.workspace(f"{node.name}:partials", tiling.groups * k1 * co1 * 1024)
    problem = GradProblem(shape, places[0].offset, places[1].offset, places[2].offset,
                          ctx.target.organisation == "separated",
                          partials.offset if partials is not None else None)
    items = [(co0, kf0, g) for g in range(tiling.groups) for kf0 in range(0, k1, tiling.bkf)
             for co0 in range(0, co1 * 16, tiling.bco)]
    per_core = -(-len(items) // tiling.cores)
    cores = -(-len(items) // per_core)
    builder = ctx.builder(node.name, cores)
    for core in range(cores):
        _emit(builder.stream(core), problem, tiling, items[core * per_core:(core + 1) * per_core])
    flops = 2 * n * ho * wo * cout * c * kh * kw
    min_bytes = (n * c * h * w + n * cout * ho * wo + cout * c * kh * kw) * 2
    ctx.launch(builder, node, "conv2d_grad_weight", flops, min_bytes, (x_name, dy_name),
               (out if partials is None else partials.name,), tiling.explain())
    if partials is not None:
        _reduce_partials(ctx, node, partials, tiling.groups, k1 * co1, places[2].offset)


def _emit(sb: StreamBuilder, p: GradProblem, t: GradTiling,
          items: list[tuple[int, int, int]]) -> None:
    s = p.shape
    co1 = -(-s.cout // 16)
    k1 = s.c1 * s.kh * s.kw
    taps = s.kh * s.kw
    pc16 = ceil_to(t.rows * s.wo, 16)
    slices_max = min(s.c1, -(-t.bkf // taps) + 1)  # C1 slices a K range of bkf can touch
    window_bytes = slices_max * s.window_rows(t.rows) * s.w * BLOCK
    l1_x = [sb.alloc(Space.L1, window_bytes, "input rows") for _ in range(2)]
    l1_dy = [sb.alloc(Space.L1, t.bco * pc16 * 2, "output-gradient rows") for _ in range(2)]
    l0a = [sb.alloc(Space.L0A, t.bco * pc16 * 2, "dy^T chunk") for _ in range(2)]
    l0b = [sb.alloc(Space.L0B, pc16 * t.bks * 16 * 2, "img2col^T slice") for _ in range(2)]
    acc = sb.alloc(Space.L0C, t.bco * t.bkf * 16 * 4, "weight-gradient tile")
    out_size = 2 if p.partials is None else 4
    ub = None if p.separated else sb.alloc(Space.UB, t.bco * t.bkf * 16 * out_size, "tile in UB")
    hw = s.ho * s.wo
    step = slices = 0
    for co0, kf0, group in items:
        images = range(group * s.n // t.groups, (group + 1) * s.n // t.groups)
        chunks = [(img, oh0) for img in images for oh0 in range(0, s.ho, t.rows)]
        nco = min(t.bco, co1 * 16 - co0) // 16
        nkf = min(t.bkf, k1 - kf0)
        lo, hi = _slices(s, kf0, nkf)
        for ci, (img, oh0) in enumerate(chunks):
            rows = min(t.rows, s.ho - oh0)
            pixels = rows * s.wo
            m16 = ceil_to(pixels, 16)
            r0, r1, ptop, pbot = _window(s, oh0, rows)
            b = step % 2
            step += 1
            src = Addr(Space.GM, p.dy + ((img * co1 + co0 // 16) * hw + oh0 * s.wo) * BLOCK)
            sb.emit(*_copies(l1_dy[b], src, nco, pixels, hw - pixels, m16 - pixels))
            src = Addr(Space.GM, p.x + ((img * s.c1 + lo) * s.h + r0) * s.w * BLOCK)
            sb.emit(*_copies(l1_x[b], src, hi - lo, (r1 - r0) * s.w, (s.h - (r1 - r0)) * s.w, 0))
            # [p][co] fractals, Cout block-major, become the [co][p] ZZ fractals of dy^T
            sb.emit(*_load2d(l0a[b], l1_dy[b], nco * (m16 // 16), 1, 1, transpose=True))
            for ks in range(0, nkf, t.bks):
                nks = min(t.bks, nkf - ks)
                dst = l0b[slices % 2]
                slices += 1
                sb.emit(Img2Col(dst, l1_x[b], r1 - r0, s.w, hi - lo, s.kh, s.kw, s.sh, s.sw,
                                s.dh, s.dw, ptop, pbot, s.pl, s.pr, 0, m16 // 16,
                                kf0 + ks - lo * taps, nks))
                # the slice's L0C fractals (n1 = its K blocks) are a contiguous run
                sb.emit(Mmad(acc + ks * nco * 1024, l0a[b], dst, nco * 16, pixels, nks * 16,
                             DType.FP16, ci == 0))
        if p.partials is None:
            _store(sb, p, acc, ub, p.dw + (kf0 * co1 + co0 // 16) * FRACTAL, nco, nkf, co1,
                   DType.FP16)
        else:
            part = p.partials + ((group * k1 + kf0) * co1 + co0 // 16) * FRACTAL * 2
            _store(sb, p, acc, ub, part, nco, nkf, co1, DType.FP32)


def _store(sb: StreamBuilder, p: GradProblem, acc: Addr, ub: Addr | None, offset: int,
           nco: int, nkf: int, co1: int, dtype: DType) -> None:
    """L0C (nkf K blocks x nco Cout blocks of [co][k] fractals) -> FRACTAL_Z order in GM at
    ``offset`` (one run of Cout blocks per K block, ``co1`` blocks apart), as ``dtype``."""
    dst = Addr(Space.GM, offset)
    blocks = 16 * dtype.itemsize // 2  # 32 B blocks in one 16 x 16 fractal of dtype
    if ub is not None:
        sb.emit(CopyL0cToUb(ub, acc, nkf * nco, DType.FP32, dtype))
        sb.emit(*_copies(dst, ub, nkf, nco * blocks, 0, (co1 - nco) * blocks))
    elif nco == co1:
        sb.emit(Fixpipe(dst, acc, nco * 16, nkf * 16, DType.FP32, dtype))
    else:
        for j in range(nkf):
            sb.emit(Fixpipe(dst + j * co1 * blocks * BLOCK, acc + j * nco * 1024, nco * 16, 16,
                            DType.FP32, dtype))


def _reduce_partials(ctx: LoweringContext, node: Node, partials: TensorPlacement, groups: int,
                     fractals: int, dw: int) -> None:
    """dW = fp16(sum of the groups' fp32 partial images), split over the vector units in
    runs of 64-element (256 B) repeats."""
    repeats = fractals * 4  # 256 fp32 values per fractal, 64 per repeat
    per_repeat = 256 * 2 + 128  # fp32 accumulator and operand, fp16 result
    tile = max(1, min(-(-repeats // vector_units(ctx)), (ctx.target.ub_bytes - 4096)
                      // (per_repeat + 256)))
    ranges = split(-(-repeats // tile), vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}:reduce", len(ranges))
    image = fractals * FRACTAL * 2
    for sb, (first, last) in zip(streams, ranges, strict=True):
        acc = sb.alloc(Space.UB, tile * 256, "sum")
        operands = [sb.alloc(Space.UB, tile * 256, "partial") for _ in range(2)]
        out = sb.alloc(Space.UB, tile * 128, "fp16 sum")
        for u0 in range(first * tile, min(repeats, last * tile), tile):
            count = min(tile, repeats - u0) * 64
            src = partials.offset + u0 * 256
            sb.emit(*_copies(acc, Addr(Space.GM, src), 1, count // 8, 0, 0))
            for g in range(1, groups):
                operand = operands[g % 2]
                sb.emit(*_copies(operand, Addr(Space.GM, src + g * image), 1, count // 8, 0, 0))
                vbin(sb, Geometry.flat(count, DType.FP32), VBinOp.ADD, acc, acc, operand)
            vconv_flat(sb, out, acc, count, DType.FP16, DType.FP32)
            sb.emit(*_copies(Addr(Space.GM, dw + u0 * 128), out, 1, count // 16, 0, 0))
    ctx.launch(builder, node, "conv2d_grad_weight_reduce", fractals * 256 * (groups - 1),
               (groups * 4 + 2) * fractals * 256, (partials.name,), (node.outputs[0],),
               f"{groups} partial sums over {len(ranges)} vector units, {tile} repeats a tile")
