"""The tensor-core GEMM kernel generator: ``C[b] = act(A[b] @ B[b] + bias)`` in fp16 with fp32
accumulation, the structure of examples/simt/gemm_fp16.s parameterised by its tile.

A is row-major (M x K). B is either row-major K x N (``b_layout="kn"``, fragments read with
``ldmatrix.trans``) or given as the rows of B^T, N x K (``"nk"``: LINEAR weights, fragments
read with plain ``ldmatrix``). Each CTA computes a BM x BN tile with WM x WN warps; a warp
holds MI x NI mma.m16n8k16 accumulators (MI*16 x NI*8 outputs). K is walked in BK steps through
``stages`` shared-memory buffers filled by cp.async (16 B per lane), so the loads of tile
k + stages - 1 overlap the mma of tile k (CUTLASS multistage mainloop). Shared rows are padded
by 16 B so the eight row addresses of every ldmatrix fall in distinct bank groups.

Edges: rows of A (and of B^T) beyond M (N) are clamped to the last row, so every load reads
valid finite data; those outputs are never stored (the epilogue stores under row/column
predicates). K must be a multiple of BK (16 or 32), so no K tail is summed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import CompileError
from compiler.simt.builder import KernelBuilder, thread_indices
from isa.simt import Kernel, Launch

ACTIVATIONS = ("none", "relu", "relu6", "gelu")


@dataclass(frozen=True, slots=True)
class GemmTile:
    """CTA tile BM x BN x BK, WM x WN warps, ``stages`` shared buffers."""

    bm: int
    bn: int
    bk: int
    wm: int
    wn: int
    stages: int = 2

    @property
    def threads(self) -> int:
        return 32 * self.wm * self.wn

    @property
    def mi(self) -> int:
        return self.bm // self.wm // 16

    @property
    def ni(self) -> int:
        return self.bn // self.wn // 8

    def a_row_bytes(self) -> int:
        return (self.bk + 8) * 2

    def b_row_bytes(self, b_layout: str) -> int:
        return (self.bk + 8) * 2 if b_layout == "nk" else (self.bn + 8) * 2

    def stage_bytes(self, b_layout: str) -> tuple[int, int]:
        """(A, B) bytes of one shared-memory stage."""
        b_rows = self.bn if b_layout == "nk" else self.bk
        return self.bm * self.a_row_bytes(), b_rows * self.b_row_bytes(b_layout)

    def shared_bytes(self, b_layout: str) -> int:
        return self.stages * sum(self.stage_bytes(b_layout))

    def regs_estimate(self) -> int:
        """Registers per thread: accumulators, fragments and about 40 for addresses."""
        return 4 * self.mi * self.ni + 4 * self.mi + 2 * self.ni + 40

    def describe(self) -> str:
        return (f"CTA {self.bm}x{self.bn}x{self.bk}, {self.wm}x{self.wn} warps of "
                f"{self.mi * 16}x{self.ni * 8}, {self.stages} cp.async stages")


@dataclass(frozen=True, slots=True)
class GemmSpec:
    """One (batched) matrix product. Strides between batch items are in elements (0 for a
    broadcast operand); ``bias`` adds a per-column fp16 vector; ``activation`` follows it."""

    name: str
    m: int
    n: int
    k: int
    batch: int = 1
    b_layout: str = "kn"
    a_batch_stride: int = 0
    b_batch_stride: int = 0
    c_batch_stride: int = 0
    bias: bool = False
    activation: str = "none"
    row_stride: int = 0  # elements between rows of A (and of B^T); 0: K (split-K uses more)

    @property
    def lda(self) -> int:
        return self.row_stride or self.k


def check_tile(spec: GemmSpec, tile: GemmTile) -> str | None:
    """Why ``tile`` cannot run ``spec`` (None when it can)."""
    t = tile.threads
    if tile.bm % (tile.wm * 16) or tile.bn % (tile.wn * 16):
        return "warp tile must be a multiple of 16 x 16"
    if spec.k % tile.bk:
        return f"K={spec.k} is not a multiple of BK={tile.bk}"
    if (tile.bm * tile.bk // 8) % t or (tile.bn * tile.bk // 8) % t:
        return "tile chunks do not divide among the threads"
    if spec.b_layout == "kn" and (spec.n % 8 or tile.bn // 8 > t):
        return f"N={spec.n} is not a multiple of 8 (row-major B)"
    return None


def emit_gemm(spec: GemmSpec, tile: GemmTile, addrs: tuple[int, int, int, int],
              max_regs: int = 255) -> Kernel:
    """The kernel for ``spec`` with ``tile``; ``addrs`` = byte addresses of A, B, C and bias
    (0 without bias) in global memory, passed as parameters 0-3."""
    why = check_tile(spec, tile)
    if why:
        raise CompileError(f"{spec.name}: GEMM tile {tile.describe()}: {why}")
    if spec.activation not in ACTIVATIONS:
        raise CompileError(f"{spec.name}: unknown GEMM activation {spec.activation!r}")
    b = KernelBuilder(spec.name)
    acc = b.reg(4 * tile.mi * tile.ni)
    afrag = b.reg(4 * tile.mi)
    bfrag = b.reg(2 * tile.ni)
    tid, lane, warp = thread_indices(b)
    m0, n0, bz = b.reg(), b.reg(), b.reg()
    b.emit(f"mov.sreg d=r{n0} s=ctaid.x")
    b.emit(f"mov.sreg d=r{m0} s=ctaid.y")
    b.emit(f"mov.sreg d=r{bz} s=ctaid.z")
    b.emit(f"mul type=u32 d=r{n0} a=r{n0} b={tile.bn}")
    b.emit(f"mul type=u32 d=r{m0} a=r{m0} b={tile.bm}")
    a_stage, b_stage = tile.stage_bytes(spec.b_layout)
    stage_bytes = a_stage + b_stage
    ra, rb = tile.a_row_bytes(), tile.b_row_bytes(spec.b_layout)
    t = tile.threads
    tmp, tmp2 = b.reg(), b.reg()

    def base(param: int, stride: int) -> int:
        r = b.reg()
        b.emit(f"ld.param d=r{r} index={param}")
        if stride and spec.batch > 1:
            b.emit(f"mad type=u32 d=r{r} a=r{bz} b={stride * 2} c=r{r}")
        return r

    # ---- copy sources (one pointer per 16 B chunk a thread copies per stage)
    a_ptrs, b_ptrs = [], []
    ga = base(0, spec.a_batch_stride)
    ca = tile.bk // 8
    a_copies = tile.bm * ca // t
    b.emit(f"and type=u32 d=r{tmp2} a=r{tid} b={ca - 1}")
    b.emit(f"shl type=u32 d=r{tmp2} a=r{tmp2} b=4")  # chunk byte offset within the K tile
    for i in range(a_copies):
        p = b.reg()
        b.emit(f"shr type=u32 d=r{tmp} a=r{tid} b={ca.bit_length() - 1}")
        b.emit(f"add type=u32 d=r{tmp} a=r{tmp} b={i * (t // ca)}")
        b.emit(f"add type=u32 d=r{tmp} a=r{tmp} b=r{m0}")
        b.emit(f"min type=u32 d=r{tmp} a=r{tmp} b={spec.m - 1}")
        b.emit(f"mad type=u32 d=r{p} a=r{tmp} b={spec.lda * 2} c=r{ga}")
        b.emit(f"add type=u32 d=r{p} a=r{p} b=r{tmp2}")
        a_ptrs.append(p)
    a_dst = b.reg()  # shared destination of copy 0 in stage 0 (row tid / ca, chunk tid % ca)
    b.emit(f"shr type=u32 d=r{tmp} a=r{tid} b={ca.bit_length() - 1}")
    b.emit(f"mad type=u32 d=r{a_dst} a=r{tmp} b={ra} c=r{tmp2}")
    gb = base(1, spec.b_batch_stride)
    b_dst = b.reg()
    if spec.b_layout == "nk":
        b_copies = tile.bn * ca // t
        for i in range(b_copies):
            p = b.reg()
            b.emit(f"shr type=u32 d=r{tmp} a=r{tid} b={ca.bit_length() - 1}")
            b.emit(f"add type=u32 d=r{tmp} a=r{tmp} b={i * (t // ca)}")
            b.emit(f"add type=u32 d=r{tmp} a=r{tmp} b=r{n0}")
            b.emit(f"min type=u32 d=r{tmp} a=r{tmp} b={spec.n - 1}")
            b.emit(f"mad type=u32 d=r{p} a=r{tmp} b={spec.lda * 2} c=r{gb}")
            b.emit(f"add type=u32 d=r{p} a=r{p} b=r{tmp2}")
            b_ptrs.append(p)
        b.emit(f"shr type=u32 d=r{tmp} a=r{tid} b={ca.bit_length() - 1}")
        b.emit(f"mad type=u32 d=r{b_dst} a=r{tmp} b={rb} c=r{tmp2}")
        b_rows_step = t // ca
        b_advance = tile.bk * 2
    else:
        cb = tile.bn // 8
        b_copies = tile.bk * cb // t
        b.emit(f"rem type=u32 d=r{tmp2} a=r{tid} b={cb}")
        b.emit(f"shl type=u32 d=r{tmp2} a=r{tmp2} b=3")  # column of the chunk in the tile
        b.emit(f"add type=u32 d=r{tmp} a=r{tmp2} b=r{n0}")
        b.emit(f"min type=u32 d=r{tmp} a=r{tmp} b={spec.n - 8}")
        b.emit(f"shl type=u32 d=r{tmp} a=r{tmp} b=1")
        col_bytes = b.reg()
        b.emit(f"add type=u32 d=r{col_bytes} a=r{tmp} b=r{gb}")
        for i in range(b_copies):
            p = b.reg()
            b.emit(f"div type=u32 d=r{tmp} a=r{tid} b={cb}")
            b.emit(f"add type=u32 d=r{tmp} a=r{tmp} b={i * (t // cb)}")
            b.emit(f"mad type=u32 d=r{p} a=r{tmp} b={spec.n * 2} c=r{col_bytes}")
            b_ptrs.append(p)
        b.emit(f"div type=u32 d=r{tmp} a=r{tid} b={cb}")
        b.emit(f"shl type=u32 d=r{tmp2} a=r{tmp2} b=1")
        b.emit(f"mad type=u32 d=r{b_dst} a=r{tmp} b={rb} c=r{tmp2}")
        b_rows_step = t // cb
        b_advance = tile.bk * spec.n * 2
    b.emit(f"add type=u32 d=r{b_dst} a=r{b_dst} b={a_stage}")

    # ---- fragment addresses (stage 0) for this lane
    wm_i, wn_i, g, tq = b.reg(), b.reg(), b.reg(), b.reg()
    b.emit(f"div type=u32 d=r{wm_i} a=r{warp} b={tile.wn}")
    b.emit(f"rem type=u32 d=r{wn_i} a=r{warp} b={tile.wn}")
    b.emit(f"shr type=u32 d=r{g} a=r{lane} b=2")
    b.emit(f"and type=u32 d=r{tq} a=r{lane} b=3")
    l7, l8, l16 = b.reg(), b.reg(), b.reg()
    b.emit(f"and type=u32 d=r{l7} a=r{lane} b=7")
    b.emit(f"shr type=u32 d=r{l8} a=r{lane} b=3")
    b.emit(f"and type=u32 d=r{l8} a=r{l8} b=1")      # (lane / 8) % 2
    b.emit(f"shr type=u32 d=r{l16} a=r{lane} b=4")   # lane / 16
    a_off = b.reg()  # row wm*MI*16 + lane%8 + 8*((lane/8)%2), 16 B column (lane/16)
    b.emit(f"mul type=u32 d=r{a_off} a=r{wm_i} b={tile.mi * 16}")
    b.emit(f"add type=u32 d=r{a_off} a=r{a_off} b=r{l7}")
    b.emit(f"mad type=u32 d=r{a_off} a=r{l8} b=8 c=r{a_off}")
    b.emit(f"mul type=u32 d=r{a_off} a=r{a_off} b={ra}")
    b.emit(f"mad type=u32 d=r{a_off} a=r{l16} b=16 c=r{a_off}")
    b_off = b.reg()
    b.emit(f"mul type=u32 d=r{b_off} a=r{wn_i} b={tile.ni * 8}")
    if spec.b_layout == "nk":  # n row wn*NI*8 + lane%8 + 8*(lane/16), k chunk (lane/8)%2
        b.emit(f"add type=u32 d=r{b_off} a=r{b_off} b=r{l7}")
        b.emit(f"mad type=u32 d=r{b_off} a=r{l16} b=8 c=r{b_off}")
        b.emit(f"mul type=u32 d=r{b_off} a=r{b_off} b={rb}")
        b.emit(f"mad type=u32 d=r{b_off} a=r{l8} b=16 c=r{b_off}")
    else:  # k row lane%8 + 8*((lane/8)%2), n column wn*NI*8 + 8*(lane/16)
        b.emit(f"mad type=u32 d=r{b_off} a=r{l16} b=8 c=r{b_off}")
        b.emit(f"shl type=u32 d=r{b_off} a=r{b_off} b=1")
        b.emit(f"mad type=u32 d=r{tmp} a=r{l8} b=8 c=r{l7}")
        b.emit(f"mad type=u32 d=r{b_off} a=r{tmp} b={rb} c=r{b_off}")
    b.emit(f"add type=u32 d=r{b_off} a=r{b_off} b={a_stage}")
    for r in range(acc, acc + 4 * tile.mi * tile.ni):
        b.emit(f"mov type=u32 d=r{r} a=0")

    k_tiles = spec.k // tile.bk
    kt, st = b.reg(), b.reg()

    # B copies address relative to b_dst; A copies relative to a_dst: two destination regs.
    def issue(guard: str, stage_reg: int | None) -> None:
        da, db = b.reg(), b.reg()
        if stage_reg is None:
            b.emit(f"mov type=u32 d=r{da} a=r{a_dst}")
            b.emit(f"mov type=u32 d=r{db} a=r{b_dst}")
        else:
            b.emit(f"add type=u32 d=r{da} a=r{a_dst} b=r{stage_reg}")
            b.emit(f"add type=u32 d=r{db} a=r{b_dst} b=r{stage_reg}")
        for i, p in enumerate(a_ptrs):
            b.emit(f"{guard}cp.async dst=r{da} src=r{p} dst_offset={i * (t // ca) * ra}")
        for i, p in enumerate(b_ptrs):
            b.emit(f"{guard}cp.async dst=r{db} src=r{p} dst_offset={i * b_rows_step * rb}")
        b.emit("cp.async.commit_group")
        for p in a_ptrs:
            b.emit(f"add type=u32 d=r{p} a=r{p} b={tile.bk * 2}")
        for p in b_ptrs:
            b.emit(f"add type=u32 d=r{p} a=r{p} b={b_advance}")

    # ---- prologue: tiles 0 .. stages-2
    pre = b.reg()
    for s in range(tile.stages - 1):
        if s == 0:
            issue("", None)
        else:
            b.emit(f"setp cmp=lt type=u32 p=p1 a={s} b={k_tiles}")
            b.emit(f"mov type=u32 d=r{pre} a={s * stage_bytes}")
            issue("@p1 ", pre)
    b.emit(f"mov type=u32 d=r{kt} a=0")
    b.label("LOOP")
    nxt = b.reg()
    b.emit(f"add type=u32 d=r{nxt} a=r{kt} b={tile.stages - 1}")
    b.emit(f"setp cmp=lt type=u32 p=p1 a=r{nxt} b={k_tiles}")
    b.emit(f"rem type=u32 d=r{st} a=r{nxt} b={tile.stages}")
    b.emit(f"mul type=u32 d=r{st} a=r{st} b={stage_bytes}")
    issue("@p1 ", st)
    b.emit(f"cp.async.wait_group n={tile.stages - 1}")
    b.emit("bar.sync")
    b.emit(f"rem type=u32 d=r{st} a=r{kt} b={tile.stages}")
    b.emit(f"mul type=u32 d=r{st} a=r{st} b={stage_bytes}")
    fa, fb = b.reg(), b.reg()
    b.emit(f"add type=u32 d=r{fa} a=r{st} b=r{a_off}")
    b.emit(f"add type=u32 d=r{fb} a=r{st} b=r{b_off}")
    for s in range(tile.bk // 16):
        for mi in range(tile.mi):
            b.emit(f"ldmatrix d=r{afrag + 4 * mi} addr=r{fa} offset={mi * 16 * ra + s * 32}")
        for np_ in range(tile.ni // 2):
            if spec.b_layout == "nk":
                b.emit(f"ldmatrix d=r{bfrag + 4 * np_} addr=r{fb} "
                       f"offset={np_ * 16 * rb + s * 32}")
            else:
                b.emit(f"ldmatrix d=r{bfrag + 4 * np_} addr=r{fb} trans=true "
                       f"offset={s * 16 * rb + np_ * 32}")
        for mi in range(tile.mi):
            for ni in range(tile.ni):
                c = acc + 4 * (mi * tile.ni + ni)
                b.emit(f"mma.m16n8k16 d=r{c} a=r{afrag + 4 * mi} b=r{bfrag + 2 * ni} c=r{c}")
    b.emit("bar.sync")
    b.emit(f"add type=u32 d=r{kt} a=r{kt} b=1")
    b.emit(f"setp cmp=lt type=u32 p=p2 a=r{kt} b={k_tiles}")
    b.emit("@p2 bra target=LOOP")
    _epilogue(b, spec, tile, acc, (m0, n0, bz, wm_i, wn_i, g, tq))
    b.emit("exit")
    grid = (-(-spec.n // tile.bn), -(-spec.m // tile.bm), spec.batch)
    launch = Launch(grid=grid, block=(t, 1, 1), params=addrs)
    return b.build(launch, tile.shared_bytes(spec.b_layout), max_regs)


def _epilogue(b: KernelBuilder, spec: GemmSpec, tile: GemmTile, acc: int,
              ids: tuple[int, ...]) -> None:
    """Bias, activation, fp32 -> fp16 and predicated stores of every accumulator."""
    m0, n0, bz, wm_i, wn_i, g, tq = ids
    row, col, addr, x, y, t1 = (b.reg() for _ in range(6))
    b.emit(f"mad type=u32 d=r{row} a=r{wm_i} b={tile.mi * 16} c=r{m0}")
    b.emit(f"add type=u32 d=r{row} a=r{row} b=r{g}")
    b.emit(f"mad type=u32 d=r{col} a=r{wn_i} b={tile.ni * 8} c=r{n0}")
    b.emit(f"mad type=u32 d=r{col} a=r{tq} b=2 c=r{col}")
    b.emit(f"ld.param d=r{addr} index=2")
    if spec.batch > 1 and spec.c_batch_stride:
        b.emit(f"mad type=u32 d=r{addr} a=r{bz} b={spec.c_batch_stride * 2} c=r{addr}")
    b.emit(f"mad type=u32 d=r{t1} a=r{row} b={spec.n} c=r{col}")
    b.emit(f"mad type=u32 d=r{addr} a=r{t1} b=2 c=r{addr}")
    full = spec.m % tile.bm == 0 and spec.n % tile.bn == 0
    bias_base = b.reg()
    if spec.bias:
        b.emit(f"ld.param d=r{bias_base} index=3")
        b.emit(f"mad type=u32 d=r{bias_base} a=r{col} b=2 c=r{bias_base}")
    bias0, bias1, rr, cc = b.reg(), b.reg(), b.reg(), b.reg()
    pair = spec.n % 2 == 0
    for ni in range(tile.ni):
        if not full:
            b.emit(f"add type=u32 d=r{cc} a=r{col} b={ni * 8}")
            b.emit(f"setp cmp=lt type=u32 p=p2 a=r{cc} b={spec.n}")
            b.emit(f"add type=u32 d=r{t1} a=r{cc} b=1")
            b.emit(f"setp cmp=lt type=u32 p=p5 a=r{t1} b={spec.n}")
        if spec.bias:
            guard = "" if full else "@p2 "
            b.emit(f"mov type=u32 d=r{bias0} a=0")
            b.emit(f"mov type=u32 d=r{bias1} a=0")
            b.emit(f"{guard}ld.global d=r{bias0} addr=r{bias_base} width=16 offset={ni * 16}")
            if not full:
                guard = "@p5 "
            b.emit(f"{guard}ld.global d=r{bias1} addr=r{bias_base} width=16 "
                   f"offset={ni * 16 + 2}")
            b.emit(f"cvt dst=f32 src=f16 d=r{bias0} a=r{bias0}")
            b.emit(f"cvt dst=f32 src=f16 d=r{bias1} a=r{bias1}")
        for mi in range(tile.mi):
            for half in range(2):
                c = acc + 4 * (mi * tile.ni + ni) + 2 * half
                offset = ((mi * 16 + 8 * half) * spec.n + ni * 8) * 2
                if not full:
                    b.emit(f"add type=u32 d=r{rr} a=r{row} b={mi * 16 + 8 * half}")
                    b.emit(f"setp cmp=lt type=u32 p=p1 a=r{rr} b={spec.m}")
                    b.emit("and.pred d=p3 a=p1 b=p2")
                    b.emit("and.pred d=p4 a=p1 b=p5")
                for j in range(2):
                    if spec.bias:
                        b.emit(f"add type=f32 d=r{c + j} a=r{c + j} b=r{bias0 + j}")
                    activation_code(b, spec.activation, c + j, t1)
                b.emit(f"cvt dst=f16 src=f32 d=r{x} a=r{c}")
                b.emit(f"cvt dst=f16 src=f32 d=r{y} a=r{c + 1}")
                if pair:
                    b.emit(f"shl type=u32 d=r{y} a=r{y} b=16")
                    b.emit(f"or type=u32 d=r{x} a=r{x} b=r{y}")
                    guard = "" if full else "@p3 "
                    b.emit(f"{guard}st.global a=r{x} addr=r{addr} offset={offset}")
                else:
                    guard = "" if full else "@p3 "
                    b.emit(f"{guard}st.global a=r{x} addr=r{addr} width=16 offset={offset}")
                    guard = "" if full else "@p4 "
                    b.emit(f"{guard}st.global a=r{y} addr=r{addr} width=16 "
                           f"offset={offset + 2}")


def activation_code(b: KernelBuilder, activation: str, r: int, t: int) -> None:
    """Apply ``activation`` (ACTIVATIONS) to fp32 register ``r`` (``t``: scratch)."""
    if activation in ("relu", "relu6"):
        b.emit(f"max type=f32 d=r{r} a=r{r} b=0.0")
        if activation == "relu6":
            b.emit(f"min type=f32 d=r{r} a=r{r} b=6.0")
    elif activation == "gelu":  # tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        b.emit(f"mul type=f32 d=r{t} a=r{r} b=r{r}")
        b.emit(f"fma type=f32 d=r{t} a=r{t} b=0.044715 c=1.0")
        b.emit(f"mul type=f32 d=r{t} a=r{t} b=r{r}")
        b.emit(f"mul type=f32 d=r{t} a=r{t} b=0.7978845608")
        b.emit(f"tanh d=r{t} a=r{t}")
        b.emit(f"fma type=f32 d=r{t} a=r{t} b=0.5 c=0.5")
        b.emit(f"mul type=f32 d=r{r} a=r{r} b=r{t}")
