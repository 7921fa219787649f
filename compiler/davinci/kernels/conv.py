"""Convolution on the Cube through img2col (implicit GEMM), with fused epilogues.

Feature maps are NC1HWC0 in GM; weights are FRACTAL_Z (the Cube's L0B form): a constant image,
or a run-time value already stored that way (training: see context.assign_layouts).
Per tile (``rows`` output rows x ``bn`` output channels of one image):

- MTE2 loads the input rows the tile reads, every C1 slice (one strided copy), when the tile
  changes rows; weight chunks stream through L1 one chunk ahead of the Cube.
- MTE1 builds each K slice of the img2col matrix straight into L0A (load3d: padding, stride and
  dilation in hardware) and copies the matching weight fractals into L0B.
- The Cube accumulates into L0C; the epilogue (bias, activation, residual) runs in UB and MTE3
  writes the tile back as NC1HWC0 (each output-channel block is a contiguous run of pixels).

`launch_conv` also runs convolutions prepared elsewhere: the transposed convolution reads its
weights flipped and transposed (`_load_flipped`, conv_transpose.py).

Depthwise convolutions (groups == C == Cout) run the same way with C0-block-diagonal weights:
each output block reads only its own input block, at a 16x FLOP overhead on the Cube.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.conv_plan import (
    conv_geometry,
    folded_geometry,
    keep_on_chip,
    shortcut_bias,
    shortcut_reader,
    shortcut_weights,
)
from compiler.davinci.kernels.conv_tiling import ConvShape, ConvTiling, choose_conv_tiling
from compiler.davinci.kernels.epilogue import (
    Step,
    ub_bytes_per_element,
    ub_scratch_bytes,
)
from compiler.davinci.kernels.gemm import (
    BLOCK,
    FRACTAL,
    _copies,
    _emit_scalar,
    _load2d,
    check_fixpipe_steps,
    cube_bias_buffers,
    emit_cube_bias,
)
from compiler.davinci.kernels.tiling import ceil_to
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode
from isa.davinci import Addr, CopyL0cToUb, DType, Fixpipe, Img2Col, Mmad, Space
from isa.davinci.layouts import space_to_depth


@dataclass(frozen=True)
class ConvProblem:
    shape: ConvShape
    x: int  # GM offsets
    w: int
    y: int
    steps: tuple[Step, ...]
    bias: int | None
    residual: int | None
    relu_on_move: bool
    separated: bool = False
    ones: int | None = None  # separated chips: ones block and bias as ZN (gemm.emit_cube_bias)
    bias_zn: int | None = None
    flip: bool = False  # read the weights as a transposed convolution's (see `_load_weights`)
    # resident feature maps (`ResidentFmap`): L1 offsets of the input, output and residual
    # held in every core's L1 instead of GM, and the images each core holds of them
    x_l1: int | None = None
    y_l1: int | None = None
    residual_l1: int | None = None
    images: int = 1
    shortcut: int | None = None  # GM offset of a folded shortcut's input (shape.shortcut)


@rule(OpCode.CONV2D, ("fused", "conv"))
def lower_conv(ctx: LoweringContext, node: Node) -> None:
    if shortcut_reader(ctx, node) is not None:
        return  # computed in the accumulator of the convolution that adds it
    inputs, steps, shape, shortcut = folded_geometry(ctx, node)
    x_name, w_name = inputs[0], inputs[1]
    c = ctx.type_of(x_name).shape[1]
    out = node.outputs[0]
    resident_in = ctx.live_l1.get(x_name)  # kept in L1 by the convolution that wrote it
    s2d = False
    if resident_in is None:
        x_place = ctx.place(x_name)
        s2d = x_place.layout == "nc1hwc0_s2d"
        if x_place.layout != "nc1hwc0" and not (s2d and shape.sh == shape.sw == 2):
            raise CompileError(f"{node.name}: input {x_name} is {x_place.layout}, "
                               "expected nc1hwc0")
    if s2d:
        if shape.depthwise or not ctx.is_constant(w_name):
            raise CompileError(f"{node.name}: a space-to-depth input needs a dense convolution "
                               "with constant weights")
        shape, weight = space_to_depth_conv(shape, c, ctx.constant(w_name))
        w_place = ctx.place_constant(w_name, weight, "fractal_z", key=f"{w_name}:s2d")
    elif not ctx.is_constant(w_name):
        # run-time weights (training) live in GM as FRACTAL_Z already (assign_layouts)
        if shape.depthwise:
            raise CompileError(f"{node.name}: depthwise convolution with run-time weights "
                               f"{w_name} has no DaVinci lowering")
        w_place = ctx.place(w_name)
        if w_place.layout != "fractal_z":
            raise CompileError(f"{node.name}: weights {w_name} are {w_place.layout}, "
                               "expected fractal_z")
    elif shortcut is not None:
        sc_w = conv_geometry(ctx, shortcut)[0][1]
        w_place = ctx.place_constant(f"{w_name}+{sc_w}", shortcut_weights(ctx, node, shortcut),
                                     "fractal_z", key=f"{w_name}+{sc_w}:fz")
    elif shape.depthwise:
        w_place = ctx.place_constant(w_name, _depthwise_matrix(ctx.constant(w_name)), "zn",
                                     key=f"{w_name}:dw")
    else:
        w_place = ctx.place_constant(w_name, ctx.constant(w_name), "fractal_z",
                                     key=f"{w_name}:fz")
    bias = residual = residual_l1 = None
    for step in steps:
        if step.kind == "bias" and step.value is None:  # the biases of a folded shortcut's sum
            bias = ctx.place_constant(f"{node.name}:bias", shortcut_bias(ctx, node, shortcut),
                                      "ndp").offset
        elif step.kind == "bias":
            from compiler.davinci.kernels.matmul import _bias

            bias = _bias(ctx, step, shape.cout).offset
        elif step.kind == "binary" and step.value in ctx.live_l1:
            residual_l1 = ctx.live_l1[step.value].offset
        elif step.kind == "binary":
            placement = ctx.place(step.value)  # coupled chips only (separated: own kernel)
            if placement.layout != "nc1hwc0":
                raise CompileError(f"{node.name}: residual {step.value} is {placement.layout}")
            residual = placement.offset
    relu_first = bool(steps) and steps[0].kind == "unary" and steps[0].op is OpCode.RELU
    separated = ctx.target.organisation == "separated"
    ones = bias_zn = None
    if separated:
        from compiler.davinci.kernels.matmul import separated_bias_images

        check_fixpipe_steps(tuple(steps))
        if bias is not None:
            ones, bias_zn = separated_bias_images(ctx, steps, shape.cout)
    sc_x = None
    if shortcut is not None:
        sc_x = ctx.place(conv_geometry(ctx, shortcut)[0][0], "nc1hwc0")
    resident_out = None if s2d else keep_on_chip(ctx, node, shape, steps,
                                                 resident_in is not None)
    y = 0
    if resident_out is None:
        y_place = ctx.place(out)
        if y_place.layout != "nc1hwc0":
            raise CompileError(f"{node.name}: output {out} is {y_place.layout}, "
                               "expected nc1hwc0")
        y = y_place.offset
    problem = ConvProblem(shape, 0 if resident_in else x_place.offset, w_place.offset, y,
                          tuple(steps), bias, residual, relu_first, separated, ones, bias_zn,
                          x_l1=resident_in.offset if resident_in else None,
                          y_l1=resident_out.offset if resident_out else None,
                          residual_l1=residual_l1, images=max(1, shape.n // ctx.target.cores),
                          shortcut=sc_x.offset if shortcut is not None else None)
    extra = sum(ctx.type_of(step.value).numel * 2 for step in steps
                if step.value is not None and step.value not in ctx.live_l1)
    note = (f"input read space-to-depth ({x_name} in nc1hwc0_s2d: {4 * c} channels, "
            f"{shape.kh}x{shape.kw} taps at stride 1); ") if s2d else ""
    if sc_x is not None:
        note += (f"shortcut {shortcut.name} folded in (its input {sc_x.name} gives K rows "
                 f"{shape.k - shape.shortcut.k}..{shape.k}); ")
    if resident_in:
        note += f"input {x_name} read from L1 (resident); "
    if resident_out:
        note += f"output {out} kept in L1 for {resident_out.consumer}; "
    residuals = tuple(step.value for step in steps if step.kind == "binary")
    if sc_x is not None:
        inputs, residuals = [*inputs, sc_x.name], (*residuals, sc_x.name)
    launch_conv(ctx, node, problem, tuple(inputs), (out,), extra, note=note,
                feature_maps=(x_name, *residuals), folded=(shortcut,) if shortcut else ())
    for value, resident in list(ctx.live_l1.items()):
        if resident.consumer == node.name:  # read for the last time: L1 free again
            del ctx.live_l1[value]


def launch_conv(ctx: LoweringContext, node: Node, problem: ConvProblem,
                inputs: tuple[str, ...], outputs: tuple[str, ...], extra_bytes: int = 0,
                op: str = "conv2d", flops: int | None = None, note: str = "",
                feature_maps: tuple[str, ...] = (), folded: tuple[Node, ...] = ()) -> None:
    """Tile ``problem`` over the cores, emit every core's stream and record the launch (also
    used by the transposed convolution, on GM placements it prepared; ``flops`` overrides
    the count of the convolution as run, e.g. to leave out products with inserted zeros;
    ``note`` starts the tiling record; ``feature_maps``: the values read row by row, the
    input first, if not just ``inputs[0]``; ``folded``: further nodes the kernel computes)."""
    feature_maps = feature_maps or inputs[:1]
    shape = problem.shape
    # with a feature map resident, every kernel until its reader is image-aligned, so that
    # they all share one launch (`conv_plan.keep_on_chip` checked that such tilings fit)
    tiling = choose_conv_tiling(ctx.target, shape, ub_bytes_per_element(list(problem.steps)),
                                bias_in_cube=problem.ones is not None,
                                image_parallel=ctx.merge_launches, l1_bytes=ctx.l1_limit(),
                                resident_input=problem.x_l1 is not None,
                                aligned=bool(ctx.live_l1))
    # Serpentine order: the rows are swept against the order in which the largest feature map
    # read was last swept (read or written: both refresh the LRU L2), so the kernel starts with
    # the rows touched last, which the L2 still holds
    largest = max(feature_maps, key=lambda v: ctx.type_of(v).numel)
    upward = largest not in ctx.swept_upward
    swept = {*feature_maps, *outputs}
    if upward:
        ctx.swept_upward |= swept
    else:
        ctx.swept_upward -= swept
    tiles = _tiles(shape, tiling, upward)
    per_core = -(-len(tiles) // tiling.cores)
    cores = -(-len(tiles) // per_core)
    builder = ctx.builder(node.name, cores)
    bm16 = ceil_to(tiling.rows * shape.wo, 16)
    scratch = ub_scratch_bytes(list(problem.steps), bm16 * tiling.bn)
    for core in range(cores):
        # contiguous blocks: a core's channel tiles share the input rows it loaded
        _emit(builder.stream(core), problem, tiling,
              tiles[core * per_core:(core + 1) * per_core], scratch)
    c = shape.c1 * 16
    pixels = shape.n * shape.ho * shape.wo
    # products per output element: the taps of every input channel (one for depthwise), and
    # a folded shortcut's input channels
    taps = (1 if shape.depthwise else c) * shape.kh * shape.kw \
        + (shape.shortcut.k if shape.shortcut else 0)
    if flops is None:
        flops = 2 * pixels * shape.cout * taps
    # a resident input or output never crosses GM
    x_bytes = shape.input_bytes(own=problem.x_l1 is None) // 2
    y_bytes = 0 if problem.y_l1 is not None else pixels * shape.cout
    min_bytes = (x_bytes + y_bytes + shape.cout * taps) * 2 + extra_bytes
    ctx.launch(builder, [node, *folded], op, flops, min_bytes, inputs, outputs,
               note + tiling.explain())


def space_to_depth_conv(s: ConvShape, channels: int, weight: np.ndarray
                        ) -> tuple[ConvShape, np.ndarray]:
    """The stride-1 convolution of an ``nc1hwc0_s2d`` input equal to the stride-2 ``s``.

    Input pixel 2i + u - p (tap u, padding p before) is channel dy of space-to-depth pixel
    i + a - q with u + 2q - p = 2a + dy, q = ceil(p / 2): the weights shifted down by
    2q - p (0 or 1) zero taps and taken space-to-depth the same way as the input, padding q
    before."""
    qt, ql = -(-s.pt // 2), -(-s.pl // 2)
    shifted = np.pad(weight, ((0, 0), (0, 0), (2 * qt - s.pt, 0), (2 * ql - s.pl, 0)))
    deep = space_to_depth(shifted)
    kh2, kw2 = deep.shape[2:]
    h2, w2 = -(-s.h // 2), -(-s.w // 2)
    shape = ConvShape(s.n, -(-4 * channels // 16), h2, w2, s.cout, kh2, kw2, 1, 1, 1, 1,
                      qt, ql, max(0, s.ho + kh2 - qt - 1 - h2), max(0, s.wo + kw2 - ql - 1 - w2),
                      s.ho, s.wo, False)
    return shape, deep


def _depthwise_matrix(weight: np.ndarray) -> np.ndarray:
    """(K = C1*Kh*Kw*16, 16): block cb's K rows hold diag(w[cb*16 + i, 0, kh, kw])."""
    cout, _, kh, kw = weight.shape
    c1 = -(-cout // 16)
    out = np.zeros((c1, 16, kh, kw, 16), dtype=np.float32)  # (c1, c0, kh, kw, n)
    for i in range(cout):
        out[i // 16, i % 16, :, :, i % 16] = weight[i, 0]
    # K order is (c1, kh, kw, c0) as img2col emits it
    return out.transpose(0, 2, 3, 1, 4).reshape(c1 * kh * kw * 16, 16)


def _tiles(s: ConvShape, t: ConvTiling, upward: bool = False) -> list[tuple[int, int, int]]:
    """(image, first output row, first output channel) in the tiling's loop order; rows from
    the bottom of each image up when ``upward``."""
    step = 16 if s.depthwise else t.bn
    rows = list(range(0, s.ho, t.rows))
    if upward:
        rows.reverse()
    if t.order == "pixels":
        return [(img, oh0, c0) for c0 in range(0, s.cout, step) for img in range(s.n)
                for oh0 in rows]
    return [(img, oh0, c0) for img in range(s.n) for oh0 in rows
            for c0 in range(0, s.cout, step)]


def _reuse_index(keys: list) -> list[int]:
    """Per tile, a counter that advances whenever its key differs from the previous tile's:
    tiles with the same counter share one load (buffer = counter % buffers)."""
    out, count, last = [], -1, object()
    for key in keys:
        if key != last:
            count, last = count + 1, key
        out.append(count)
    return out


def _emit(sb: StreamBuilder, p: ConvProblem, t: ConvTiling, tiles: list[tuple[int, int, int]],
          scratch: int) -> None:
    s = p.shape
    sc = s.shortcut  # a folded shortcut: its input's rows give the K rows after k_own
    k_own = s.k - (sc.k if sc else 0)
    bm16_max = ceil_to(t.rows * s.wo, 16)
    window_bytes = s.c1 * s.window_rows(t.rows) * s.w * BLOCK
    resident = p.x_l1 is not None  # the whole input image is in L1: no rows to load
    windows = [] if resident else [sb.alloc(Space.L1, window_bytes, "input rows")
                                   for _ in range(2)]
    sc_windows = [sb.alloc(Space.L1, sc.window_bytes(t.rows), "shortcut input rows")
                  for _ in range(2)] if sc else []
    l1b = [sb.alloc(Space.L1, t.kc * t.bn * 2, "weight chunk") for _ in range(t.weight_buffers)]
    l0a = [sb.alloc(Space.L0A, bm16_max * t.bk * 2, "img2col slice") for _ in range(2)]
    l0b = [sb.alloc(Space.L0B, t.bk * t.bn * 2, "weight slice") for _ in range(2)]
    l0c = [sb.alloc(Space.L0C, bm16_max * t.bn * 4, "output tile")
           for _ in range(t.l0c_buffers)]
    coupled = not p.separated
    ub: list[Addr] = []
    bias_ub = res_ub = scratch_ub = ones = bias_l0b = None
    if coupled:
        ub = [sb.alloc(Space.UB, bm16_max * t.bn * 2, "output tile in UB") for _ in range(2)]
        bias_ub = sb.alloc(Space.UB, t.bn * 2, "bias") if p.bias is not None else None
        res_ub = sb.alloc(Space.UB, bm16_max * t.bn * 2, "residual") \
            if p.residual is not None or p.residual_l1 is not None else None
        scratch_ub = sb.alloc(Space.UB, scratch, "epilogue scratch") if scratch else None
    elif p.bias is not None:
        ones, bias_l0b = cube_bias_buffers(sb, bm16_max, t.bn)
        sb.emit(*_copies(ones, Addr(Space.GM, p.ones), 1, bm16_max, 0, 0))

    k_total = s.k
    chunks = [(ti, ks) for ti in range(len(tiles)) for ks in range(0, k_total, t.kc)]
    window_of = _reuse_index([(img, oh0) for img, oh0, _ in tiles])
    # a whole weight block (one chunk) stays in L1 while consecutive tiles use it
    whole = t.kc >= k_total
    weight_of = _reuse_index([c0 for _, _, c0 in tiles]) if whole else list(range(len(chunks)))

    def weights(i: int) -> Addr:
        return l1b[weight_of[chunks[i][0] if whole else i] % len(l1b)]

    def load(i: int) -> None:
        ti, ks = chunks[i]
        img, oh0, c0 = tiles[ti]
        if ks == 0 and (ti == 0 or window_of[ti] != window_of[ti - 1]):
            rows = min(t.rows, s.ho - oh0)
            if not resident:
                _load_rows(sb, windows[window_of[ti] % 2], p.x, s, img, oh0, rows)
            if sc:
                _load_rows(sb, sc_windows[window_of[ti] % 2], p.shortcut, sc, img, oh0, rows)
        if whole and ti > 0 and weight_of[ti] == weight_of[ti - 1]:
            return
        kcv = min(t.kc, k_total - ks)
        nblk = 1 if s.depthwise else -(-min(t.bn, s.cout - c0) // 16)
        if p.flip:
            _load_flipped(sb, p, weights(i), ks, kcv, c0, nblk)
            return
        n1 = 1 if s.depthwise else -(-s.cout // 16)
        kbase = (c0 // 16) * s.kh * s.kw if s.depthwise else 0
        src = Addr(Space.GM, p.w + ((kbase + ks // 16) * n1 + (0 if s.depthwise else c0 // 16))
                   * FRACTAL)
        sb.emit(*_copies(weights(i), src, kcv // 16, nblk * 16, (n1 - nblk) * 16, 0))

    load(0)
    slices = 0
    for i, (ti, ks) in enumerate(chunks):
        if i + 1 < len(chunks):
            load(i + 1)
        img, oh0, c0 = tiles[ti]
        rows = min(t.rows, s.ho - oh0)
        pixels = rows * s.wo
        bm16 = ceil_to(pixels, 16)
        nblk = 1 if s.depthwise else -(-min(t.bn, s.cout - c0) // 16)
        r0, r1, ptop, pbot = _window(s, oh0, rows)
        kbase = (c0 // 16) * s.kh * s.kw if s.depthwise else 0
        kcv = min(t.kc, k_total - ks)
        acc = l0c[ti % len(l0c)]
        # K slices of ``bk``, each from one input (split where the shortcut's rows begin)
        cuts = sorted({*range(ks, ks + kcv, t.bk), *([k_own] if ks < k_own < ks + kcv else [])})
        for k0, k1 in zip(cuts, [*cuts[1:], ks + kcv], strict=True):
            a, b = l0a[slices % 2], l0b[slices % 2]
            slices += 1
            if k0 >= k_own:  # the shortcut's input rows (1x1, unpadded)
                r0s, r1s, _, _ = _window(sc, oh0, rows)
                sb.emit(Img2Col(a, sc_windows[window_of[ti] % 2], r1s - r0s, sc.w, sc.c1, 1, 1,
                                sc.sh, sc.sw, m_steps=bm16 // 16, k_start=(k0 - k_own) // 16,
                                k_steps=(k1 - k0) // 16))
            else:
                if resident:  # the whole image, from output pixel oh0 * wo on
                    src = Addr(Space.L1, p.x_l1 + (img % p.images) * s.c1 * s.h * s.w * BLOCK)
                    rows_in, top, bottom, m_start = s.h, s.pt, s.pb, oh0 * s.wo
                else:
                    src = windows[window_of[ti] % 2]
                    rows_in, top, bottom, m_start = r1 - r0, ptop, pbot, 0
                sb.emit(Img2Col(a, src, rows_in, s.w, s.c1, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                                top, bottom, s.pl, s.pr, m_start, bm16 // 16,
                                kbase + k0 // 16, (k1 - k0) // 16))
            bkv = k1 - k0
            sb.emit(*_load2d(b, weights(i) + ((k0 - ks) // 16) * nblk * FRACTAL,
                             (bkv // 16) * nblk, 1, 1, transpose=p.flip))
            first = k0 == 0
            if first and ones is not None:
                emit_cube_bias(sb, ones, bias_l0b, acc, p.bias_zn, c0, bm16, nblk)
                first = False
            sb.emit(Mmad(acc, a, b, bm16, bkv, nblk * 16, DType.FP16, first))
        if ks + t.kc >= k_total:
            if coupled:
                _epilogue(sb, p, acc, ub[ti % 2], bias_ub, res_ub, scratch_ub, img, oh0, c0,
                          pixels, bm16, nblk)
            else:
                _fixpipe_out(sb, p, acc, img, oh0, c0, pixels, bm16, nblk)


def _load_flipped(sb: StreamBuilder, p: ConvProblem, dst: Addr, ks: int, kcv: int, c0: int,
                  nblk: int) -> None:
    """Weight chunk of a transposed convolution, read from the forward weights W (FRACTAL_Z
    of a (C1 * 16, Cout, kh, kw) convolution, C1 = this convolution's input blocks).

    This convolution's weights are W'[o, i, a, b] = W[i, o, kh-1-a, kw-1-b], so its FRACTAL_Z
    fractal (k1' = (i1 * kh + a) * kw + b, n1' = o1) is the transpose of W's fractal
    (k1 = (o1 * kh + kh-1-a) * kw + kw-1-b, n1 = i1). One strided copy per K fractal row puts
    the untransposed fractals in L1 in W' order; the Load2D into L0B transposes them."""
    s = p.shape
    taps = s.kh * s.kw
    for r in range(kcv // 16):
        k1 = ks // 16 + r
        i1, a, b = k1 // taps, (k1 // s.kw) % s.kh, k1 % s.kw
        src_k1 = ((c0 // 16) * s.kh + s.kh - 1 - a) * s.kw + s.kw - 1 - b
        src = Addr(Space.GM, p.w + (src_k1 * s.c1 + i1) * FRACTAL)
        sb.emit(*_copies(dst + r * nblk * FRACTAL, src, nblk, 16, (taps * s.c1 - 1) * 16, 0))


def _load_rows(sb: StreamBuilder, dst: Addr, x: int, s: ConvShape, img: int, oh0: int,
               rows: int) -> None:
    """MTE2: the input rows output rows oh0.. of image ``img`` read (every C1 slice) from the
    NC1HWC0 feature map at GM offset ``x``."""
    r0, r1, _, _ = _window(s, oh0, rows)
    src = Addr(Space.GM, x + ((img * s.c1) * s.h + r0) * s.w * BLOCK)
    sb.emit(*_copies(dst, src, s.c1, (r1 - r0) * s.w, (s.h - (r1 - r0)) * s.w, 0))


def _window(s: ConvShape, oh0: int, rows: int) -> tuple[int, int, int, int]:
    """Input rows [r0, r1) output rows oh0.. read, and the padding img2col adds above/below."""
    span = s.dh * (s.kh - 1) + 1
    first = oh0 * s.sh - s.pt
    last = (oh0 + rows - 1) * s.sh - s.pt + span  # one past the last input row read
    r0, r1 = max(0, first), min(s.h, last)
    return r0, r1, max(0, -first), max(0, last - s.h)


def _fixpipe_out(sb: StreamBuilder, p: ConvProblem, acc: Addr, img: int, oh0: int, c0: int,
                 pixels: int, bm16: int, nblk: int) -> None:
    """Separated chips: FixPipe writes each output-channel block (ReLU on the way) as the
    ``pixels`` x 16 rows it occupies in NC1HWC0."""
    s = p.shape
    relu = any(step.kind == "unary" for step in p.steps)
    for j in range(nblk):
        tile_gm = _tile_offset(s, img, oh0, c0 + 16 * j)
        sb.emit(Fixpipe(Addr(Space.GM, p.y + tile_gm), acc + j * bm16 * 16 * 4, pixels, 16,
                        DType.FP32, DType.FP16, relu=relu, nz2nd=True, dst_row_stride=16))


def _epilogue(sb: StreamBuilder, p: ConvProblem, acc: Addr, out: Addr, bias_ub, res_ub,
              scratch_ub, img: int, oh0: int, c0: int, pixels: int, bm16: int,
              nblk: int) -> None:
    s = p.shape
    hw = s.ho * s.wo
    sb.emit(CopyL0cToUb(out, acc, nblk * (bm16 // 16), DType.FP32, DType.FP16, p.relu_on_move))
    count = nblk * bm16 * 16
    steps = p.steps[1:] if p.relu_on_move else p.steps
    if any(step.kind in ("bias", "unary", "binary") for step in steps):
        from compiler.davinci.kernels import vector_ops
    tile_gm = _tile_offset(s, img, oh0, c0)
    tile_l1 = _tile_offset(s, img % p.images, oh0, c0)  # among the core's resident images
    for step in steps:
        if step.kind == "bias":
            sb.emit(*_copies(bias_ub, Addr(Space.GM, p.bias + c0 * 2), 1, nblk, 0, 0))
            vector_ops.emit_channel_add(sb, out, out, bias_ub, bm16, nblk)
        elif step.kind == "unary":
            vector_ops.emit_unary(sb, step.op, step.attrs, out, out, count, scratch_ub)
        elif step.kind == "scalar":
            _emit_scalar(sb, step, out, count)
        elif step.kind == "binary":
            src = Addr(Space.GM, p.residual + tile_gm) if p.residual_l1 is None else \
                Addr(Space.L1, p.residual_l1 + tile_l1)  # MTE1 L1 -> UB
            sb.emit(*_copies(res_ub, src, nblk, pixels, hw - pixels, bm16 - pixels))
            a, b = (res_ub, out) if step.swap else (out, res_ub)
            vector_ops.emit_binary(sb, step.op, out, a, b, count)
    if p.y_l1 is None:
        dst = Addr(Space.GM, p.y + tile_gm)
    else:  # this core's images of the output, resident in L1 (MTE3 UB -> L1)
        dst = Addr(Space.L1, p.y_l1 + tile_l1)
    sb.emit(*_copies(dst, out, nblk, pixels, bm16 - pixels, hw - pixels))


def _tile_offset(s: ConvShape, image: int, oh0: int, c0: int) -> int:
    """Byte offset of output tile (image, row oh0, channel c0) in an NC1HWC0 output-shaped
    feature map (GM; in L1 ``image`` counts the core's own images)."""
    return ((image * -(-s.cout // 16) + c0 // 16) * s.ho * s.wo + oh0 * s.wo) * BLOCK
