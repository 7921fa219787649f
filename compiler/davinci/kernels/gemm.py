"""The Cube matrix-product kernel: C[M, N] (+epilogue) = A[M, K] . B[K, N], batched.

GM layouts: A and C are row-major with rows padded to 16 elements ("ndp", fp16); B is either a
constant pre-arranged as FRACTAL_ZN ("zn": the Cube's L0B form, so its tiles load contiguously)
or an activation in "ndp" rows. Per output tile (see tiling.py):

- MTE2 loads a K chunk of A into L1 as NZ column blocks (one strided copy per 16 columns) and
  the matching chunk of B (one copy for ZN; one strided copy per 16 columns for rows).
- MTE1 moves K slices into L0A (FRACTAL_ZZ) and L0B (FRACTAL_ZN, transposing row-form B).
- The Cube accumulates the slices into L0C (fp32); L1, L0A/L0B and (when it fits) L0C are
  double-buffered so loads, products and the epilogue of the previous tile overlap.
- The epilogue moves the tile to UB (fp16), applies bias / activation / residual steps and
  MTE3 stores it. Flags come from the automatic insertion pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.kernels.epilogue import Step
from compiler.davinci.kernels.tiling import Tiling, ceil_to
from compiler.errors import CompileError
from framework import OpCode
from isa.davinci import (
    Addr,
    Copy,
    CopyL0cToUb,
    DType,
    Fixpipe,
    Load2D,
    Mmad,
    Space,
    VScalar,
    VScalarOp,
)

BLOCK = 32
FRACTAL = 512
MAX_BURST = 4095
MAX_REPEAT = 255


@dataclass(frozen=True)
class Operand:
    """A matrix in GM: ``offsets[i]`` is the byte offset of batch item i, ``pitch`` the row
    pitch in elements (ndp) or the number of N fractals per K row of fractals (zn)."""

    form: str  # "rows", "rows_t" (read as the rows of the transpose) or "zn"
    offsets: tuple[int, ...]
    pitch: int
    n_rows: int = 0  # rows_t: rows of B^T (= N)


@dataclass(frozen=True)
class GemmProblem:
    """Everything the emitter needs besides the tiling."""

    m: int
    n: int
    k: int
    a: Operand
    b: Operand
    c: Operand
    steps: tuple[Step, ...] = ()
    bias_offset: int | None = None  # GM byte offset of an ndp bias of N elements
    residual: Operand | None = None
    relu_on_move: bool = False  # the first step is a ReLU folded into the L0C -> UB move
    ones_offset: int = 0  # separated chips: GM image of ones and of the bias as ZN (below)
    bias_zn_offset: int = 0
    operand_offsets: dict[str, Operand] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return len(self.c.offsets)


def check_fixpipe_steps(steps: tuple[Step, ...]) -> None:
    """Separated chips: only a bias then a ReLU can ride along a Cube kernel (FixPipe)."""
    kinds = [(st.kind, st.op) for st in steps]
    allowed = [[], [("bias", OpCode.ADD)], [("unary", OpCode.RELU)],
               [("bias", OpCode.ADD), ("unary", OpCode.RELU)]]
    if kinds not in allowed:
        raise CompileError(f"epilogue {kinds} needs the vector unit, which a separated chip's "
                           "Cube kernel does not have (compile with epilogue='fixpipe')")


def cube_bias_buffers(sb: StreamBuilder, bm: int, bn: int) -> tuple[Addr, Addr]:
    """L0A room for a bm x 16 block of ones and L0B room for a 16 x bn bias block."""
    return (sb.alloc(Space.L0A, bm * 16 * 2, "ones for the bias"),
            sb.alloc(Space.L0B, bn * 16 * 2, "bias block"))


def emit_cube_bias(sb: StreamBuilder, ones: Addr, bias_l0b: Addr, l0c: Addr, bias_zn: int,
                   n0: int, bm16: int, nblk: int) -> None:
    """Start a tile's accumulator at the bias: C = ones(bm x 16) . B, where B's first row is
    the bias (the other 15 rows zero). Separated chips add bias in the Cube this way (in place
    of the BiasTable initialisation of mmad, facts §1.1) at the cost of one K step."""
    sb.emit(*_copies(bias_l0b, Addr(Space.GM, bias_zn + (n0 // 16) * FRACTAL), 1, nblk * 16,
                     0, 0))
    sb.emit(Mmad(l0c, ones, bias_l0b, bm16, 16, nblk * 16, DType.FP16, True))


def _copies(dst: Addr, src: Addr, n_burst: int, burst_len: int, src_gap: int, dst_gap: int):
    """Strided copies, split where n_burst exceeds the 12-bit field."""
    done = 0
    while done < n_burst:
        count = min(MAX_BURST, n_burst - done)
        yield Copy(dst + done * (burst_len + dst_gap) * BLOCK,
                   src + done * (burst_len + src_gap) * BLOCK, count, burst_len, src_gap, dst_gap)
        done += count


def _load2d(dst: Addr, src: Addr, repeat: int, src_stride: int, dst_stride: int,
            transpose: bool = False):
    done = 0
    while done < repeat:
        count = min(MAX_REPEAT, repeat - done)
        yield Load2D(dst + done * dst_stride * FRACTAL, src + done * src_stride * FRACTAL,
                     count, src_stride, dst_stride, transpose)
        done += count


class _Buffers:
    """The on-chip buffers of one core for a tiling."""

    def __init__(self, sb: StreamBuilder, t: Tiling, problem: GemmProblem, scratch: int,
                 coupled: bool) -> None:
        self.l1a = [sb.alloc(Space.L1, t.bm * t.kc * 2, "A chunk") for _ in range(2)]
        self.l1b = [sb.alloc(Space.L1, t.kc * t.bn * 2, "B chunk") for _ in range(2)]
        self.l0a = [sb.alloc(Space.L0A, t.bm * t.bk * 2, "A slice") for _ in range(2)]
        self.l0b = [sb.alloc(Space.L0B, t.bk * t.bn * 2, "B slice") for _ in range(2)]
        self.l0c = [sb.alloc(Space.L0C, t.bm * t.bn * 4, "C tile")
                    for _ in range(t.l0c_buffers)]
        tile_bytes = t.bm * t.bn * 2
        self.out: list[Addr] = []
        self.bias = self.residual = self.scratch = None
        self.ones = self.bias_l0b = None
        if coupled:
            self.out = [sb.alloc(Space.UB, tile_bytes, "C tile in UB") for _ in range(2)]
            self.bias = (sb.alloc(Space.UB, t.bn * 2, "bias")
                         if problem.bias_offset is not None else None)
            self.residual = (sb.alloc(Space.UB, tile_bytes, "residual tile")
                             if problem.residual is not None else None)
            self.scratch = sb.alloc(Space.UB, scratch, "epilogue scratch") if scratch else None
        elif problem.bias_offset is not None:
            self.ones, self.bias_l0b = cube_bias_buffers(sb, t.bm, t.bn)


def emit_gemm(sb: StreamBuilder, problem: GemmProblem, t: Tiling, tiles: list[tuple[int, int, int]],
              coupled: bool, scratch: int) -> None:
    """Emit the tiles ``(batch, m0, n0)`` of one core into ``sb``.

    The K chunks of all tiles form one sequence; chunk i + 1 is loaded before chunk i is
    computed (software pipelining), so the scalar unit issues the next loads before the
    in-order Cube and MTE1 queues fill up with work that waits on the current ones.
    """
    if not coupled:
        check_fixpipe_steps(problem.steps)
    buf = _Buffers(sb, t, problem, scratch, coupled)
    if buf.ones is not None:
        sb.emit(*_copies(buf.ones, Addr(Space.GM, problem.ones_offset), 1, t.bm, 0, 0))
    kp = ceil_to(problem.k, 16)
    chunks = [(tile_index, kstart) for tile_index in range(len(tiles))
              for kstart in range(0, kp, t.kc)]
    if not chunks:
        return
    _load_chunk(sb, problem, t, buf, tiles, chunks, 0)
    slice_count = 0
    for i, (tile_index, kstart) in enumerate(chunks):
        if i + 1 < len(chunks):
            _load_chunk(sb, problem, t, buf, tiles, chunks, i + 1)
        bi, m0, n0 = tiles[tile_index]
        bm_v = min(t.bm, problem.m - m0)
        bm16 = ceil_to(bm_v, 16)
        nblk = -(-min(t.bn, problem.n - n0) // 16)
        l0c = buf.l0c[tile_index % len(buf.l0c)]
        kcv = min(t.kc, kp - kstart)
        l1a, l1b = buf.l1a[i % 2], buf.l1b[i % 2]
        for s in range(0, kcv, t.bk):
            bkv = min(t.bk, kcv - s)
            l0a, l0b = buf.l0a[slice_count % 2], buf.l0b[slice_count % 2]
            slice_count += 1
            if problem.a.form == "rows_t":
                # L1 holds A^T's rows (k) in NZ column blocks over m: transposing each
                # fractal gives the ZZ fractals of A
                for i in range(bm16 // 16):
                    sb.emit(*_load2d(l0a + i * (bkv // 16) * FRACTAL,
                                     l1a + (i * (kcv // 16) + s // 16) * FRACTAL, bkv // 16,
                                     1, 1, transpose=True))
            else:
                for j in range(bkv // 16):
                    sb.emit(*_load2d(l0a + j * FRACTAL, l1a + ((s // 16 + j) * (t.bm // 16))
                                     * FRACTAL, bm16 // 16, 1, bkv // 16))
            _slice_b(sb, problem.b, l0b, l1b, s, bkv, kcv, nblk)
            k_valid = min(bkv, problem.k - kstart - s)
            first = kstart == 0 and s == 0
            if first and buf.ones is not None:
                emit_cube_bias(sb, buf.ones, buf.bias_l0b, l0c, problem.bias_zn_offset, n0,
                               bm16, nblk)
                first = False
            sb.emit(Mmad(l0c, l0a, l0b, bm16, k_valid, nblk * 16, DType.FP16, first))
        if kstart + t.kc >= kp:
            if coupled:
                out = buf.out[tile_index % 2]
                emit_epilogue(sb, problem, buf, l0c, out, bi, m0, n0, bm_v, bm16, nblk)
            else:
                c = problem.c
                dst = Addr(Space.GM, c.offsets[bi] + (m0 * c.pitch + n0) * 2)
                sb.emit(Fixpipe(dst, l0c, bm_v, nblk * 16, DType.FP32, DType.FP16,
                                relu=any(st.kind == "unary" for st in problem.steps),
                                nz2nd=True, dst_row_stride=c.pitch))


def _load_chunk(sb: StreamBuilder, problem: GemmProblem, t: Tiling, buf: _Buffers,
                tiles: list[tuple[int, int, int]], chunks: list[tuple[int, int]], i: int) -> None:
    """MTE2: chunk ``i``'s slice of A (NZ column blocks) and of B into L1 buffer i % 2."""
    tile_index, kstart = chunks[i]
    bi, m0, n0 = tiles[tile_index]
    bm_v = min(t.bm, problem.m - m0)
    nblk = -(-min(t.bn, problem.n - n0) // 16)
    kcv = min(t.kc, ceil_to(problem.k, 16) - kstart)
    l1a, l1b = buf.l1a[i % 2], buf.l1b[i % 2]
    if problem.a.form == "rows_t":
        # A = X^T with X's rows (k) in GM: NZ column blocks of X over m, kcv rows each
        base = problem.a.offsets[bi] + (kstart * problem.a.pitch + m0) * 2
        k_valid = min(kcv, problem.k - kstart)
        for mb in range(-(-bm_v // 16)):
            sb.emit(*_copies(l1a + mb * kcv * BLOCK, Addr(Space.GM, base + mb * BLOCK), k_valid,
                             1, problem.a.pitch // 16 - 1, 0))
    else:
        a_base = Addr(Space.GM, problem.a.offsets[bi] + (m0 * problem.a.pitch + kstart) * 2)
        for kb in range(kcv // 16):
            sb.emit(*_copies(l1a + kb * t.bm * BLOCK, a_base + kb * BLOCK, bm_v, 1,
                             problem.a.pitch // 16 - 1, 0))
    _load_b_chunk(sb, problem.b, bi, l1b, kstart, kcv, n0, nblk)


def _load_b_chunk(sb: StreamBuilder, b: Operand, bi: int, l1b: Addr, kstart: int, kcv: int,
                  n0: int, nblk: int) -> None:
    if b.form == "zn":
        src = Addr(Space.GM, b.offsets[bi] + ((kstart // 16) * b.pitch + n0 // 16) * FRACTAL)
        sb.emit(*_copies(l1b, src, kcv // 16, nblk * 16, (b.pitch - nblk) * 16, 0))
    elif b.form == "rows_t":
        # rows of B^T (n) hold K contiguously: NZ column blocks of B^T are ZN fractals of B
        base = b.offsets[bi] + (n0 * b.pitch + kstart) * 2
        n_valid = min(nblk * 16, b.n_rows - n0)
        for kb in range(kcv // 16):
            sb.emit(*_copies(l1b + kb * nblk * FRACTAL, Addr(Space.GM, base + kb * BLOCK),
                             n_valid, 1, b.pitch // 16 - 1, 0))
    else:
        base = b.offsets[bi] + (kstart * b.pitch + n0) * 2
        for nb in range(nblk):
            sb.emit(*_copies(l1b + nb * kcv * BLOCK, Addr(Space.GM, base + nb * BLOCK), kcv, 1,
                             b.pitch // 16 - 1, 0))


def _slice_b(sb: StreamBuilder, b: Operand, l0b: Addr, l1b: Addr, s: int, bkv: int, kcv: int,
             nblk: int) -> None:
    if b.form in ("zn", "rows_t"):
        sb.emit(*_load2d(l0b, l1b + (s // 16) * nblk * FRACTAL, (bkv // 16) * nblk, 1, 1))
    else:
        for j in range(bkv // 16):
            sb.emit(*_load2d(l0b + j * nblk * FRACTAL, l1b + (s // 16 + j) * FRACTAL, nblk,
                             kcv // 16, 1, transpose=True))


def emit_epilogue(sb: StreamBuilder, problem: GemmProblem, buf, l0c: Addr, out: Addr, bi: int,
                  m0: int, n0: int, bm_v: int, bm16: int, nblk: int) -> None:
    """L0C -> UB (fp16), the epilogue steps, UB -> GM (ndp rows)."""
    fractals = nblk * (bm16 // 16)
    sb.emit(CopyL0cToUb(out, l0c, fractals, DType.FP32, DType.FP16, problem.relu_on_move))
    count = fractals * 256
    steps = problem.steps[1:] if problem.relu_on_move else problem.steps
    if any(step.kind in ("bias", "unary", "binary") for step in steps):
        from compiler.davinci.kernels import vector_ops
    for step in steps:
        if step.kind == "bias":
            sb.emit(*_copies(buf.bias, Addr(Space.GM, problem.bias_offset + n0 * 2), 1, nblk, 0, 0))
            vector_ops.emit_channel_add(sb, out, out, buf.bias, bm16, nblk)
        elif step.kind == "unary":
            vector_ops.emit_unary(sb, step.op, step.attrs, out, out, count, buf.scratch)
        elif step.kind == "scalar":
            _emit_scalar(sb, step, out, count)
        elif step.kind == "binary":
            res = problem.residual
            base = Addr(Space.GM, res.offsets[bi] + (m0 * res.pitch + n0) * 2)
            for nb in range(nblk):
                sb.emit(*_copies(buf.residual + nb * bm16 * BLOCK, base + nb * BLOCK, bm_v, 1,
                                 res.pitch // 16 - 1, 0))
            a, b = (buf.residual, out) if step.swap else (out, buf.residual)
            vector_ops.emit_binary(sb, step.op, out, a, b, count)
    c = problem.c
    base = Addr(Space.GM, c.offsets[bi] + (m0 * c.pitch + n0) * 2)
    for nb in range(nblk):
        sb.emit(*_copies(base + nb * BLOCK, out + nb * bm16 * BLOCK, bm_v, 1, 0,
                         c.pitch // 16 - 1))


_SCALAR = {OpCode.ADD: VScalarOp.ADDS, OpCode.MUL: VScalarOp.MULS, OpCode.MAXIMUM: VScalarOp.MAXS,
           OpCode.MINIMUM: VScalarOp.MINS}


def _emit_scalar(sb: StreamBuilder, step: Step, tile: Addr, count: int) -> None:
    op, value = step.op, step.scalar
    if op is OpCode.SUB:
        op, value = OpCode.ADD, -value
    elif op is OpCode.DIV:
        op, value = OpCode.MUL, 1.0 / value
    repeats = count // 128
    done = 0
    while done < repeats:
        r = min(MAX_REPEAT, repeats - done)
        at = tile + done * 256
        sb.emit(VScalar(_SCALAR[op], DType.FP16, at, at, value, r))
        done += r
