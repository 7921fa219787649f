"""The vector instruction cost table shared by the DaVinci presets.

Each entry is ``startup_cycles + slope x repeats`` (one repeat = 256 B). The figures are PTO's
measured fits on the 910B (facts/davinci.md §1.2, [PTO] `cce_cycle_profiles.csv`); "est." marks
an entry with no fit of its own, with the op whose figures it borrows. No per-op figures exist
for the 910, 310 or 310P, so those presets use this same table: an estimate for them (they share
the 256 B vector datapath, facts §1.2 and §9.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hw.davinci.config_fields import VectorCost


def cost(startup: float, slope: float, slope_b32: float | None = None) -> VectorCost:
    """A `VectorCost` of `startup` cycles plus `slope` (`slope_b32` on 32-bit types) per repeat."""
    return VectorCost(
        startup_cycles=startup, cycles_per_repeat=slope, cycles_per_repeat_b32=slope_b32
    )


PTO_HEAD_CYCLES = 6.0  # vector/cube head when the pipe queue is empty [PTO] facts §3.2

PTO_910B_VECTOR_COSTS: Mapping[str, VectorCost] = MappingProxyType(
    {
        # binary elementwise: ~2 cycles/repeat measured (UB bank-group ports; the docs say 1,
        # facts §9.4 -- the measurement is taken)
        "vadd": cost(5.9, 2.07),  # [PTO]
        "vsub": cost(5.9, 2.07),  # est.: vadd (same adder datapath)
        "vmul": cost(6.9, 2.13),  # [PTO]
        "vdiv": cost(13.0, 8.0, 4.0),  # [PTO] 8 r fp16 / 4 r fp32
        "vmax": cost(4.0, 2.0),  # [PTO]
        "vmin": cost(4.0, 2.0),  # [PTO]
        "vand": cost(4.0, 2.0),  # est.: vmax (two-source op, same port limit)
        "vor": cost(4.0, 2.0),  # est.: vmax
        "vaxpy": cost(18.0, 2.0),  # [PTO]
        # vector-scalar: one UB source, 1 repeat/cycle
        "vadds": cost(6.0, 1.0),  # [PTO]
        "vmuls": cost(6.0, 1.0),  # est.: vadds
        "vmaxs": cost(6.0, 1.0),  # est.: vadds
        "vmins": cost(6.0, 1.0),  # est.: vadds
        # unary
        "vabs": cost(4.0, 1.0),  # [PTO]
        "vrelu": cost(4.0, 1.0),  # [PTO]
        "vnot": cost(4.0, 1.0),  # est.: vabs
        "vexp": cost(12.0, 4.0, 2.0),  # [PTO] 4 r fp16 / 2 r fp32
        "vln": cost(14.0, 4.0, 2.0),  # [PTO]
        "vsqrt": cost(13.0, 4.0, 2.0),  # [PTO]
        "vrsqrt": cost(13.0, 4.0, 2.0),  # est.: vsqrt (documented 32 elem/cycle class, §1.2)
        "vrec": cost(13.0, 4.0, 2.0),  # est.: vsqrt
        # conversion: PTO's general vconv fit (14 + 2 r; its 18-cycle tail is folded away and
        # vconv_f162f32's cheaper 5 + 2 r is not separated) [PTO EstimateVconvCycles]
        "vconv": cost(14.0, 2.0),
        # reductions: intra-repeat (vc*) measured; per-block (vcg*) have no fit
        "vcadd": cost(23.0, 7.0),  # [PTO]; documented ReduceRepeat 128/7 elem/cycle agrees
        "vcmax": cost(9.0, 7.0),  # [PTO]
        "vcmin": cost(9.0, 7.0),  # est.: vcmax
        "vcgadd": cost(9.0, 7.0),  # est.: vcmax
        "vcgmax": cost(9.0, 7.0),  # est.: vcmax
        "vcgmin": cost(9.0, 7.0),  # est.: vcmax
        # data movement on the vector pipe
        "vector_dup": cost(1.0, 1.0),  # [PTO]
        # UB -> UB at 594 B/cycle (PTO 1024 GiB/s @ 1.85 GHz, facts §3.2): 256 / 594 per repeat
        "copy_ubuf_to_ubuf": cost(PTO_HEAD_CYCLES, round(256 / 594, 3)),
        # copy_matrix_cc_to_ubuf (L0C -> UB, coupled cores only) is added per preset from its
        # l0c_to_ub bandwidth: see presets.py
        # anything else: PTO head + the documented 1 repeat/cycle (facts §10 fallback)
        "default": cost(PTO_HEAD_CYCLES, 1.0),
    }
)
"""Vector op -> cost, PTO's 910B fits (facts/davinci.md §1.2); used by every preset."""
