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

Tiles of ``bco`` output channels x ``bkf`` K fractals are spread over the cores.
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
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode
from isa.davinci import Addr, CopyL0cToUb, DType, Fixpipe, Img2Col, Mmad, Space


@dataclass(frozen=True, slots=True)
class GradTiling:
    """Output tiles of ``bco`` channels x ``bkf`` K fractals; chunks of ``rows`` output rows."""

    bco: int
    bkf: int
    rows: int
    cores: int
    tiles: int
    estimate_cycles: int

    def explain(self) -> str:
        return (f"tiles of {self.bco} channels x {self.bkf * 16} K over {self.tiles} tiles on "
                f"{self.cores} cores, chunks of {self.rows} output rows; estimate "
                f"{self.estimate_cycles} cycles")


@dataclass(frozen=True, slots=True)
class GradProblem:
    shape: ConvShape
    x: int  # GM offsets: input (NC1HWC0), output gradient (NC1HWC0), weight gradient
    dy: int
    dw: int
    separated: bool


def _slices(s: ConvShape, kf0: int, nkf: int) -> tuple[int, int]:
    """The C1 slices [lo, hi) K fractals [kf0, kf0 + nkf) read."""
    taps = s.kh * s.kw
    return kf0 // taps, (kf0 + nkf - 1) // taps + 1


def choose_grad_tiling(target, s: ConvShape) -> GradTiling:
    """The tiling with the lowest estimated time among those that fit every buffer."""
    k1 = s.c1 * s.kh * s.kw
    co1 = -(-s.cout // 16)
    rate = target.gm_to_l1_bytes_per_cycle
    best: GradTiling | None = None
    for bco in (16, 32, 64, 128, 256):
        if bco // 2 >= co1 * 16 and bco > 16:
            continue
        for bkf in (1, 2, 4, 8, 9, 16, 18, 32):
            if bkf > k1 and bkf > 1:
                continue
            bkf_v = min(bkf, k1)
            if bco * bkf_v * 16 * 4 > target.l0c_bytes or bco * bkf_v * 16 * 2 > target.ub_bytes:
                continue
            lo, hi = 0, min(s.c1, -(-bkf_v // (s.kh * s.kw)) + 1)
            for rows in sorted({1, 2, 4, 7, 8, 14, 16, 28, 32, 56, s.ho} & set(range(1, s.ho + 1))):
                pc16 = ceil_to(rows * s.wo, 16)
                if 4 * bco * pc16 > target.l0a_bytes or 4 * pc16 * bkf_v * 16 > target.l0b_bytes:
                    continue
                window = (hi - lo) * s.window_rows(rows) * s.w * BLOCK
                if 2 * (window + bco * pc16 * 2) > target.l1_bytes:
                    continue
                tiles = -(-co1 * 16 // bco) * -(-k1 // bkf_v)
                cores = min(target.cores, tiles)
                chunks = s.n * math.ceil(s.ho / rows)
                cube = (bco // 16) * bkf_v * (pc16 // 16)
                mte2 = (window + bco * rows * s.wo * 2) / rate
                mte1 = pc16 * bkf_v * 32 / target.l1_to_l0a_bytes_per_cycle
                per_chunk = max(cube, mte2, mte1) + 24  # issue and flag hand-overs
                est = int(math.ceil(tiles / cores) * (chunks * per_chunk + bco * bkf_v * 16 * 6
                                                      / target.ub_to_gm_bytes_per_cycle))
                if best is None or est < best.estimate_cycles:
                    best = GradTiling(bco, bkf_v, rows, cores, tiles, est)
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
    problem = GradProblem(shape, places[0].offset, places[1].offset, places[2].offset,
                          ctx.target.organisation == "separated")
    tiling = choose_grad_tiling(ctx.target, shape)
    k1 = shape.c1 * kh * kw
    tiles = [(co0, kf0) for kf0 in range(0, k1, tiling.bkf)
             for co0 in range(0, ceil_to(cout, 16), tiling.bco)]
    per_core = -(-len(tiles) // tiling.cores)
    cores = -(-len(tiles) // per_core)
    builder = ctx.builder(node.name, cores)
    for core in range(cores):
        _emit(builder.stream(core), problem, tiling, tiles[core * per_core:(core + 1) * per_core])
    flops = 2 * n * ho * wo * cout * c * kh * kw
    min_bytes = (n * c * h * w + n * cout * ho * wo + cout * c * kh * kw) * 2
    ctx.launch(builder, node, "conv2d_grad_weight", flops, min_bytes, (x_name, dy_name), (out,),
               tiling.explain())


def _emit(sb: StreamBuilder, p: GradProblem, t: GradTiling,
          tiles: list[tuple[int, int]]) -> None:
    s = p.shape
    co1 = -(-s.cout // 16)
    k1 = s.c1 * s.kh * s.kw
    taps = s.kh * s.kw
    pc16 = ceil_to(t.rows * s.wo, 16)
    slices_max = min(s.c1, -(-t.bkf // taps) + 1)
    window_bytes = slices_max * s.window_rows(t.rows) * s.w * BLOCK
    l1_x = [sb.alloc(Space.L1, window_bytes, "input rows") for _ in range(2)]
    l1_dy = [sb.alloc(Space.L1, t.bco * pc16 * 2, "output-gradient rows") for _ in range(2)]
    l0a = [sb.alloc(Space.L0A, t.bco * pc16 * 2, "dy^T chunk") for _ in range(2)]
    l0b = [sb.alloc(Space.L0B, pc16 * t.bkf * 16 * 2, "img2col^T chunk") for _ in range(2)]
    acc = sb.alloc(Space.L0C, t.bco * t.bkf * 16 * 4, "weight-gradient tile")
    ub = None if p.separated else sb.alloc(Space.UB, t.bco * t.bkf * 16 * 2, "tile in UB")
    hw = s.ho * s.wo
    chunks = [(img, oh0) for img in range(s.n) for oh0 in range(0, s.ho, t.rows)]
    step = 0
    for co0, kf0 in tiles:
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
            sb.emit(Img2Col(l0b[b], l1_x[b], r1 - r0, s.w, hi - lo, s.kh, s.kw, s.sh, s.sw,
                            s.dh, s.dw, ptop, pbot, s.pl, s.pr, 0, m16 // 16,
                            kf0 - lo * taps, nkf))
            sb.emit(Mmad(acc, l0a[b], l0b[b], nco * 16, pixels, nkf * 16, DType.FP16, ci == 0))
        _store(sb, p, acc, ub, co0, kf0, nco, nkf, co1)


def _store(sb: StreamBuilder, p: GradProblem, acc: Addr, ub: Addr | None, co0: int, kf0: int,
           nco: int, nkf: int, co1: int) -> None:
    """L0C (nkf K blocks x nco Cout blocks of [co][k] fractals) -> FRACTAL_Z in GM."""
    dst = Addr(Space.GM, p.dw + (kf0 * co1 + co0 // 16) * FRACTAL)
    if ub is not None:
        sb.emit(CopyL0cToUb(ub, acc, nkf * nco, DType.FP32, DType.FP16))
        sb.emit(*_copies(dst, ub, nkf, nco * 16, 0, (co1 - nco) * 16))
    elif nco == co1:
        sb.emit(Fixpipe(dst, acc, nco * 16, nkf * 16, DType.FP32, DType.FP16))
    else:
        for j in range(nkf):
            sb.emit(Fixpipe(dst + j * co1 * FRACTAL, acc + j * nco * 1024, nco * 16, 16,
                            DType.FP32, DType.FP16))
