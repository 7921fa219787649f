"""Tiling of a convolution on the Cube (implicit GEMM through img2col).

Per image, the output is the matrix Y[pixels, Cout] = img2col(X)[pixels, K] . W[K, Cout] with
K = C1 * Kh * Kw * 16. A tile is ``rows`` whole output rows by ``bn`` output channels; L1 holds
the input rows that tile reads (all C1 slices) and a chunk of the FRACTAL_Z weights; L0A/L0B
slices of ``bk`` are double-buffered as in the matrix product (see tiling.py for the cost
model's reasoning).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from compiler.davinci.kernels.tiling import FP16, FP32, ceil_to
from compiler.errors import CompileError


@dataclass(frozen=True, slots=True)
class ConvShape:
    """Geometry of one convolution (fp16, NC1HWC0)."""

    n: int
    c1: int
    h: int
    w: int
    cout: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int
    pb: int
    pr: int
    ho: int
    wo: int
    depthwise: bool = False
    # a 1x1 shortcut convolution computed in the same accumulator (conv_plan.fold_shortcut):
    # its input's geometry; its K rows follow this convolution's
    shortcut: ConvShape | None = None

    @property
    def k(self) -> int:
        """The K of one output block: every C1 slice (and the shortcut's), or one slice for
        depthwise."""
        own = (1 if self.depthwise else self.c1) * self.kh * self.kw * 16
        return own + (self.shortcut.k if self.shortcut else 0)

    def input_bytes(self, own: bool = True) -> int:
        """The bytes of the input feature maps (NC1HWC0, fp16): the shortcut's, and this
        convolution's own input unless ``own`` is False (it is resident in L1)."""
        mine = self.n * self.c1 * self.h * self.w * 32 if own else 0
        return mine + (self.shortcut.input_bytes() if self.shortcut else 0)

    def window_bytes(self, rows: int, own: bool = True) -> int:
        """The L1 bytes of the input rows ``rows`` output rows read (every C1 slice): the
        shortcut's, and this convolution's own unless ``own`` is False."""
        mine = self.c1 * self.window_rows(rows) * self.w * 32 if own else 0
        return mine + (self.shortcut.window_bytes(rows) if self.shortcut else 0)

    def window_rows(self, rows: int) -> int:
        """Input rows ``rows`` output rows read (at most)."""
        return min(self.h, (rows - 1) * self.sh + self.dh * (self.kh - 1) + 1)


# GM transfers above 16 KB reach the best bandwidth [HIASCEND-ALIGN] (facts §3.1): weight
# chunks smaller than that are not considered unless they are the whole weight block
_BEST_TRANSFER = 16 * 1024


@dataclass(frozen=True, slots=True)
class ConvTiling:
    """A convolution tiling with the estimate that chose it.

    ``order`` is the loop order of a core's block of tiles: "channels" (output-channel blocks
    innermost, so the input rows loaded once serve every channel block) or "pixels" (images
    and rows innermost, so a weight block held whole in L1 serves every tile: the weights are
    loaded once per channel block). ``weight_buffers`` is 2 when weight chunks stream
    double-buffered, 1 when a whole weight block stays in L1."""

    rows: int
    bn: int
    bk: int
    kc: int
    cores: int
    tiles: int
    l0c_buffers: int
    estimate_cycles: int
    bound: str
    order: str = "channels"
    weight_buffers: int = 2
    k: int = 0  # the whole K, to say whether a weight chunk is a whole block

    def explain(self) -> str:
        kept = ", weights kept in L1" if self.order == "pixels" and self.kc == self.k else ""
        return (f"tiles of {self.rows} output rows x {self.bn} channels (k slice {self.bk}, "
                f"weight chunk {self.kc}) over {self.tiles} tiles on {self.cores} cores, "
                f"{self.order} innermost{kept}, L0C x{self.l0c_buffers}; "
                f"estimate {self.estimate_cycles} cycles, {self.bound}-bound")


# Among tilings within this fraction of the best estimate, the one with the fewest tiles per
# core wins: fewer instructions, flag hand-overs and epilogues than the estimate resolves
# (an estimate: the model's error is of this order)
_NEAR_BEST = 0.03


@functools.lru_cache(maxsize=1024)  # a network repeats its convolution shapes (ResNet-50: 53 -> 24)
def choose_conv_tiling(target, s: ConvShape, ub_extra_per_element: int = 0,
                       bias_in_cube: bool = False, image_parallel: bool = False,
                       l1_bytes: int | None = None, resident_input: bool = False,
                       aligned: bool = False) -> ConvTiling:
    """The tiling with the lowest estimated time; among those within ``_NEAR_BEST`` of it,
    the one with the fewest (then largest) tiles per core.

    ``image_parallel``: when the batch is a multiple of the core count, a tiling that gives
    each core its own images is taken if it comes within one launch of the best, since it
    lets the kernel share a launch with its neighbours (core_local.py). ``aligned``: only
    such tilings. ``l1_bytes``: the L1 the kernel may use (default: all of it);
    ``resident_input``: the input is already in L1 whole (no input rows to load)."""
    l1 = target.l1_bytes if l1_bytes is None else l1_bytes
    candidates = [t for t in _candidates(target, s, ub_extra_per_element, bias_in_cube, l1,
                                         resident_input)
                  if not aligned or image_aligned(s, t)]
    if not candidates:
        raise CompileError(f"conv {s}: no tiling fits the buffers of {target.name}")
    best = min(t.estimate_cycles for t in candidates)
    if image_parallel and s.n % target.cores == 0:
        aligned = [t for t in candidates if image_aligned(s, t)]
        if aligned and min(t.estimate_cycles for t in aligned) \
                <= best + target.kernel_launch_cycles:
            candidates = aligned
            best = min(t.estimate_cycles for t in candidates)
    near = [t for t in candidates if t.estimate_cycles <= best * (1 + _NEAR_BEST)]
    return min(near, key=lambda t: (-(-t.tiles // t.cores), -t.rows * t.bn, -t.bk,
                                    t.estimate_cycles))


def image_aligned(s: ConvShape, t: ConvTiling) -> bool:
    """Whether every core of ``t`` computes whole images (and so reads only those): channel
    blocks innermost, or one channel block, over a batch that is a multiple of the cores."""
    return t.cores > 0 and s.n % t.cores == 0 and t.tiles % s.n == 0 \
        and (t.order == "channels" or t.tiles == s.n * math.ceil(s.ho / t.rows))


def _candidates(target, s: ConvShape, ub_extra_per_element: int, bias_in_cube: bool,
                l1_bytes: int, resident_input: bool):
    """Every tiling that fits the buffers (``l1_bytes`` of L1), with its estimate."""
    kp = s.k
    cout16 = ceil_to(s.cout, 16)
    bns = (16,) if s.depthwise else tuple(b for b in (16, 32, 64, 128, 256)
                                          if b == 16 or b // 2 < cout16)
    orders = ("channels",) if s.depthwise else ("channels", "pixels")
    for rows in sorted({1, 2, 4, 7, 8, 14, 16, 28, 32, 56, s.ho} & set(range(1, s.ho + 1))):
        bm16 = ceil_to(rows * s.wo, 16)
        if bm16 > 4096:
            continue
        # (a resident input has no rows to load; a shortcut's input is never resident)
        window = s.window_bytes(rows, own=not resident_input)
        for bn in bns:
            for bk in (16, 32, 64, 128, 144, 256, 288, 576):
                if bk < min(32, kp):
                    continue  # 16-deep slices: a flag hand-over per 16-step mmad
                reserve_a, reserve_b = (bm16 * 32, bn * 32) if bias_in_cube else (0, 0)
                if bk % 16 or bk > kp or 2 * bm16 * bk * FP16 + reserve_a > target.l0a_bytes:
                    continue
                if 2 * bk * bn * FP16 + reserve_b > target.l0b_bytes:
                    continue
                for kc in sorted({min(kp, ceil_to(c, bk)) for c in (bk, 4 * bk, kp)}):
                    if kc < kp and kc * bn * FP16 < _BEST_TRANSFER:
                        continue
                    for order in orders:
                        fit = _fits(target, s, bm16, bn, kc, kp, window, ub_extra_per_element,
                                    order, l1_bytes)
                        if not fit:
                            continue
                        buffers, weight_buffers = fit
                        est = _estimate(target, s, rows, bm16, bn, bk, kc, kp, window,
                                        buffers, order, resident_input)
                        yield ConvTiling(rows, bn, bk, kc, est[2], est[3], buffers, est[0],
                                         est[1], order, weight_buffers, kp)


def _fits(target, s: ConvShape, bm16: int, bn: int, kc: int, kp: int, window: int,
          ub_extra: int, order: str, l1_bytes: int) -> tuple[int, int] | None:
    """(L0C buffers, L1 weight buffers) if the tiling fits, else None. Weight chunks stream
    double-buffered; in pixel order a whole weight block (``kc == kp``) may take one buffer,
    since it is reloaded only when the core moves to the next channel block."""
    weight_buffers = 2
    if 2 * window + 2 * kc * bn * FP16 > l1_bytes:
        if order != "pixels" or kc != kp or 2 * window + kc * bn * FP16 > l1_bytes:
            return None
        weight_buffers = 1
    if 2 * bm16 * bn * FP16 + bm16 * bn * ub_extra + bn * FP16 > target.ub_bytes:
        return None
    if 2 * bm16 * bn * FP32 <= target.l0c_bytes:
        return 2, weight_buffers
    return (1, weight_buffers) if bm16 * bn * FP32 <= target.l0c_bytes else None


def _estimate(target, s: ConvShape, rows, bm16, bn, bk, kc, kp, window, buffers, order,
              resident_input):
    row_tiles = math.ceil(s.ho / rows)
    col_tiles = math.ceil(s.cout / bn) if not s.depthwise else s.c1
    pixel_tiles = s.n * row_tiles
    tiles = pixel_tiles * col_tiles
    cores = min(target.cores, tiles)
    per_core = math.ceil(tiles / cores)
    cube = (bm16 // 16) * (bn // 16) * (kp // 16)
    # What one core's MTE2 moves: input rows are reloaded only when its next tile reads other
    # rows, a weight block only when its next tile uses another one (whole blocks in L1).
    weight_block = kp * bn * FP16
    if order == "channels":
        window_loads = math.ceil(per_core / col_tiles) + (per_core % col_tiles > 0)
        weight_loads = 1 if col_tiles == 1 and kc == kp else per_core
    else:
        window_loads = 1 if pixel_tiles == 1 else per_core
        weight_loads = (math.ceil(per_core / pixel_tiles) + (per_core % pixel_tiles > 0)) \
            if kc == kp else per_core
    window_loads, weight_loads = min(window_loads, per_core), min(weight_loads, per_core)
    core_bytes = window * window_loads + weight_block * weight_loads
    mte2 = core_bytes / target.gm_to_l1_bytes_per_cycle
    # Every core's loads cross the shared L2; what the chip reads for the first time (input,
    # weights) and the output it writes cross HBM once (the weights and input rows several
    # cores read are L2 hits after the first).
    chip_l2 = cores * core_bytes / target.l2_bytes_per_cycle
    out_bytes = s.n * ceil_to(s.cout, 16) * s.ho * s.wo * FP16
    # (no input rows when the input is resident in L1)
    inputs = s.input_bytes(own=not resident_input)
    unique = inputs + kp * ceil_to(s.cout, 16) * FP16 + out_bytes
    chip_hbm = unique / target.hbm_bytes_per_cycle
    mte1 = _img2col_cycles(target, s, bm16) + kp * bn * FP16 / target.l1_to_l0b_bytes_per_cycle
    out_rate = target.l0c_to_ub_bytes_per_cycle or target.l0c_to_gm_bytes_per_cycle
    epilogue = bm16 * bn * FP32 / out_rate + bm16 * bn * FP16 / target.ub_to_gm_bytes_per_cycle
    if buffers == 1:
        cube += epilogue
    # the scalar unit issues one instruction per cycle, and every slice and chunk costs a
    # flag hand-over between pipes (an estimate of a few cycles each)
    instructions = 3 * math.ceil(kp / bk) + 2 * math.ceil(kp / kc) + 8
    parts = {"cube": cube, "mte1": mte1, "epilogue": epilogue, "issue": 4 * instructions}
    tile = _overlapped(parts.values())
    bound = max(parts, key=lambda name: parts[name])
    if weight_loads >= per_core:
        # Weights stream chunk by chunk for every tile through two L1 buffers: a buffer is
        # loaded again only once the Cube has used it, so unless one chunk's use covers the
        # next chunk's transfer and GM latency, each chunk takes (transfer + latency + use)
        # over the two buffers, a floor under the tile's time (measured: small chunks ran
        # up to 1.4x over the estimate without it, e.g. ResNet-50's 3x3 512-channel
        # stride-2 layer at batch 32)
        chunks = math.ceil(kp / kc)
        chunk_cycles = kc * bn * FP16 / target.gm_to_l1_bytes_per_cycle
        latency = chunks * (chunk_cycles + target.gm_latency_cycles
                            + max(cube, mte1) / chunks) / 2
        if latency > tile:
            tile, bound = latency, "latency"
    compute = per_core * (tile + instructions)
    chip = {"mte2": mte2, "l2": chip_l2, "hbm": chip_hbm}
    if max(chip.values()) > compute:
        bound = max(chip, key=lambda name: chip[name])
    # issue and hand-overs overlap the pipes only partly (charged once more per tile); the
    # first loads and the last epilogue do not overlap anything
    first = (window + min(kc, kp) * bn * FP16) / target.gm_to_l1_bytes_per_cycle
    total = _overlapped((compute, *chip.values())) + first + epilogue \
        + target.gm_latency_cycles
    return int(total), bound, cores, tiles


def _img2col_cycles(target, s: ConvShape, bm16: int) -> float:
    """MTE1 cycles of one tile's img2col (strided reads are slower), the shortcut's included."""
    rate = target.l1_to_l0a_bytes_per_cycle
    if s.sw > 1:
        rate = min(rate, max(32, 512 // (2 * s.sw + 1)))
    own = bm16 * (s.k - (s.shortcut.k if s.shortcut else 0)) * FP16 / rate
    return own + (_img2col_cycles(target, s.shortcut, bm16) if s.shortcut else 0)


def _overlapped(times) -> float:
    """Time of pipes that overlap through double buffering: the longest, plus part of the
    second-longest when it comes within 2/3 of the longest, since near-equal pipes overlap
    only imperfectly (flag hand-overs, contention between cores): a quarter of the longest
    when equal. An estimate, fitted by eye to a few simulated convolutions (ResNet-50 7x7
    and 14x14 layers at batch 32)."""
    ranked = sorted(times, reverse=True) + [0.0]
    return ranked[0] + max(0.0, ranked[1] - 2 * ranked[0] / 3) * 3 / 4
