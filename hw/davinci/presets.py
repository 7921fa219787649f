"""Presets for real DaVinci chips: Ascend 910, 910B, 310 and 310P.

Every figure cites its tag in shared/facts/davinci.md (section given as §n). "derived" means
computed from sourced figures (the arithmetic is in the code); "est." means no source was found
and the value is a modelling choice. Where sources disagree (facts §9) the comment says which
value was taken and why.

Policy for the clock: a clock found in configuration data is taken (910B ini, 310P platform
config, 310 test fixture); only the 910 has none, so its clock is derived from its peak.
Policy for per-core GM bandwidth: the core's L2 port rate from the ini files (GM traffic goes
through L2) or PTO's measured 910B rates; the chip-wide HBM/DRAM figure caps the sum of cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hw.davinci.config import DaVinciConfig
from hw.davinci.presets_vector import PTO_910B_VECTOR_COSTS, PTO_HEAD_CYCLES, cost
from hw.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_GM_LATENCY_S = 250e-9  # est.: fixed latency of a DMA touching GM (facts §10: "pick ΔT
# yourself"; PTO has none). ~250 ns, the order of an idle DRAM round trip; converted per clock.
_KERNEL_LAUNCH_S = 10e-6  # ~10 us fixed overhead per small kernel measured on a 910C die
# [NOTES-A3] facts §7; applied to every preset (est. for 910/310/310P, no other figure exists)


def _gm_latency_cycles(freq_hz: float) -> int:
    return round(_GM_LATENCY_S * freq_hz)


def _gib_per_s_to_bytes_per_cycle(gib_per_s: float, freq_hz: float) -> float:
    """PTO states bandwidths in GiB/s at 1.85 GHz (facts §3.2); convert to B/cycle."""
    return round(gib_per_s * GIB / freq_hz, 2)


def _vector_costs(l0c_to_ub_bytes_per_cycle: float) -> dict[str, Any]:
    """PTO's table plus, on coupled cores, L0C -> UB priced from that chip's path bandwidth."""
    costs = dict(PTO_910B_VECTOR_COSTS)
    if l0c_to_ub_bytes_per_cycle > 0:
        slope = 256 / l0c_to_ub_bytes_per_cycle  # cycles per 256 B repeat
        costs["copy_matrix_cc_to_ubuf"] = cost(PTO_HEAD_CYCLES, slope)  # head est. [PTO]
    return costs


# Figures every DaVinci generation here shares.
_DAVINCI_CORE: dict[str, Any] = dict(
    # 16 x 16 x k0 fractal per cycle, k0 = 32 B / itemsize [AISYS-CUBE, HC31, ASC-CUBEPERF] §1.1
    cube_m=16,
    cube_n=16,
    cube_k_bytes=32,
    cube_head_cycles=6,  # [PTO] 910B §1.1; est. for the others
    cube_fp32_cycles_per_step=2,  # fp32 = 1/4 fp16 rate [ASC-HWC2201, PTO] §1.1
    vector_repeat_bytes=256,  # [ASC-CONST ONE_REPEAT_BYTE_SIZE, HC31 2048-bit] §1.2
    vector_block_bytes=32,  # [ASC-CONST ONE_BLK_SIZE] §1.2
    l0a_bytes=64 * KIB,  # every generation [ASC-CONST TOTAL_L0A_SIZE, AKG-CONF, CATLASS] §2.1
    l0b_bytes=64 * KIB,  # same sources §2.1
    # Alignments: documented for 910B/310P [ASC-2201, ASC-2002] §2.2; applied to 910/310 (est.)
    l1_align_bytes=32,  # current docs; CANN 8.0 said 512 (§9.5): the current docs are taken
    l0a_align_bytes=512,  # one fractal [ASC-2201, ASC-MMAD]
    l0b_align_bytes=512,  # one fractal [ASC-2201, ASC-MMAD]
    l0c_align_bytes=64,  # minimum [ASC-2201]; Mmad's own dst needs 1024 B (an ISA rule)
    ub_align_bytes=32,  # one DataBlock [ASC-2201, ASC-2002, ASC-ARCH]
    bt_align_bytes=64,  # [ASC-2201, ASC-MMAD]
    fb_align_bytes=128,  # 64 (spec page) vs 128 (constraints page) §9.5: the stricter is taken
    local_latency_cycles=20,  # est.: fixed cost of an on-chip DMA (unsourced, facts §10)
    queue_depth=32,  # M and MTE1 on 910B [ASC-HWC2201] §4; est. for other pipes and chips
    scalar_issue_cycles=1,  # est. (facts §10); PTO charges scalar ops 1 cycle §1.3
    flag_cycles=1,  # set_flag/wait_flag 1 cycle [PTO] §4
    barrier_drain_cycles=16,  # pipe_barrier(PIPE_V) drain [PTO tilesim 910B1 calibration] §4
    kernel_launch_s=_KERNEL_LAUNCH_S,
)

# ---------------------------------------------------------------------------- Ascend 910
_FREQ_910 = 256e12 / (32 * 8192)  # derived: 256 TFLOPS / (32 cores x 8192 FLOP/cycle) §6
_L0C_TO_UB_910 = 256.0  # est.: 310's figure [FIX-310] (same generation, no 910 figure)
ASCEND910 = DaVinciConfig(
    **_DAVINCI_CORE,
    name="ascend910",
    organisation="coupled",  # [ASC-NPUARCH] 1001 / dav-c100
    cores=32,  # [AISYS-SOC, TBE-SOC] §6
    vector_cores_per_core=0,
    freq_hz=_FREQ_910,  # derived 0.977 GHz (no sourced clock) §6
    cube_dtypes=("fp16", "int8"),  # mmad u8/s8/f16 [AKG-CONF cloud] §1.1
    vector_costs=_vector_costs(_L0C_TO_UB_910),
    l1_bytes=1 * MIB,  # [AKG-CONF, ASC-CONST] §2.1
    l0c_bytes=256 * KIB,  # [AKG-CONF, ASC-CONST] §2.1
    ub_bytes=256 * KIB,  # 256 KiB physical [AKG-CONF, ASC-CONST] §2.1; 248 KiB usable after
    # the toolchain's 8 KiB TMP: the physical size is taken (no toolchain reserves it here)
    bt_bytes=0,  # no BiasTable before 910B §2.1
    fb_bytes=0,  # no FixPipe before 910B §1.4
    # No bandwidth figure exists for the 910 (facts §3.2): every path is est. from the 310
    # fixture [FIX-310], the same c100/m100 core generation.
    gm_to_l1_bytes_per_cycle=128.0,  # est.: 310 L2 read 128
    gm_to_ub_bytes_per_cycle=128.0,  # est.: 310 L2 read 128
    gm_to_l0a_bytes_per_cycle=128.0,  # est.: as GM -> L1 (same MTE2 engine)
    gm_to_l0b_bytes_per_cycle=128.0,  # est.: as GM -> L1
    l1_to_l0a_bytes_per_cycle=512.0,  # est.: 310 512 (ini value; 910B docs say 256, §9.2)
    l1_to_l0b_bytes_per_cycle=256.0,  # est.: 310 256
    l1_to_ub_bytes_per_cycle=128.0,  # est.: 310 128
    l1_to_bt_bytes_per_cycle=0.0,
    l1_to_fb_bytes_per_cycle=0.0,
    l1_to_gm_bytes_per_cycle=0.0,  # MTE3 L1 -> GM exists from 910B on §3.1
    ub_to_gm_bytes_per_cycle=64.0,  # est.: 310 UB -> L2 64
    ub_to_l1_bytes_per_cycle=128.0,  # est.: 310 128
    ub_to_ub_bytes_per_cycle=594.0,  # est.: 910B PTO 1024 GiB/s (no coupled-core figure)
    l0c_to_ub_bytes_per_cycle=_L0C_TO_UB_910,
    l0c_to_gm_bytes_per_cycle=0.0,  # no FixPipe: results leave through UB [AISYS-CUBE] §9.9
    l0c_to_l1_bytes_per_cycle=0.0,
    gm_latency_cycles=_gm_latency_cycles(_FREQ_910),
    event_ids=4,  # QUE_MAX_EVENT=4 [ASC-EVT] §4
    hbm_bytes=32 * GIB,  # unsourced: 4 HBM stacks [AISYS-SOC]; 32 GB is the public card spec
    hbm_bytes_per_s=1.2e12,  # 4 HBM, 1.2 TB/s [AISYS-SOC] §6
    l2_bytes=32 * MIB,  # [AKG-CONF] §6
    l2_bytes_per_s=128 * 32 * _FREQ_910,  # est.: 310's 128 B/cycle/core L2 read x 32 cores
)

# ---------------------------------------------------------------------------- Ascend 910B
_FREQ_910B = 1.85e9  # cube_freq 1850 MHz [NOTES-A3 ini; PTO kMainFrequencyHz] §6
ASCEND910B = DaVinciConfig(
    **_DAVINCI_CORE,
    name="ascend910b",
    organisation="separated",  # AIC : AIV = 1 : 2 [ASC-2201, ASC-NPUARCH] 2201 / dav-c220
    cores=24,  # B1/B2 ini ai_core_cnt [NOTES-A3, SOCCFG] §6; 25 physical on B1 (§9.7): the
    # usable count is taken
    vector_cores_per_core=2,  # [ASC-2201, NOTES-A3] §6
    freq_hz=_FREQ_910B,
    cube_dtypes=("fp16", "bf16", "int8", "fp32"),  # [ASC-CUBEPERF, ASC-MMAD] §1.1
    vector_costs=_vector_costs(0.0),
    l1_bytes=512 * KIB,  # [ASC-CONST, CATLASS, NOTES-A3] §2.1
    l0c_bytes=128 * KIB,  # [ASC-CONST, ASC-HWC2201] §2.1
    ub_bytes=192 * KIB,  # per AIV [ASC-CONST, ASC-BANK] §2.1 (184 KiB vector-local: the
    # physical size is taken)
    bt_bytes=1 * KIB,  # [ASC-HWC2201, CATLASS] §2.1
    fb_bytes=7 * KIB,  # [CATLASS FIXBUF_SIZE] §2.1
    # GM paths: PTO's measured rates (GiB/s @ 1.85 GHz) [PTO] §3.2
    gm_to_l1_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(135, _FREQ_910B),  # 78.35
    gm_to_ub_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(100.9, _FREQ_910B),  # 58.56
    gm_to_l0a_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(135, _FREQ_910B),  # est.: GM->L1
    gm_to_l0b_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(135, _FREQ_910B),  # est.: GM->L1
    # L1 -> L0: documented 256/128 [ASC-CUBEPERF], PTO agrees; the ini's 512 (§9.2) is not taken
    l1_to_l0a_bytes_per_cycle=256.0,
    l1_to_l0b_bytes_per_cycle=128.0,
    l1_to_ub_bytes_per_cycle=0.0,  # separated: AIC and AIV share data only through GM §4
    l1_to_bt_bytes_per_cycle=32.0,  # documented [ASC-CUBEPERF]; PTO models 18.6
    l1_to_fb_bytes_per_cycle=32.0,  # documented [ASC-CUBEPERF]; PTO models 18.6
    l1_to_gm_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(32, _FREQ_910B),  # [PTO] 18.57
    ub_to_gm_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(188.46, _FREQ_910B),  # [PTO] 109.38
    ub_to_l1_bytes_per_cycle=0.0,  # separated
    ub_to_ub_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(1024, _FREQ_910B),  # [PTO] 594.3
    l0c_to_ub_bytes_per_cycle=0.0,  # separated: FixPipe writes GM/L1 instead §1.4
    l0c_to_gm_bytes_per_cycle=_gib_per_s_to_bytes_per_cycle(70, _FREQ_910B),  # [PTO] 40.63
    l0c_to_l1_bytes_per_cycle=128.0,  # fp32->fp16 documented [ASC-CUBEPERF]; PTO 74.3
    gm_latency_cycles=_gm_latency_cycles(_FREQ_910B),
    event_ids=8,  # [ASC-EVT] §4 (the toolchain reserves ids 6 and 7 [ASC-2201]; the hardware
    # has 8)
    hbm_bytes=64 * GIB,  # [NOTES-A3] §6
    hbm_bytes_per_s=1.6e12,  # public ~1.6 TB/s; the ini's ddr_rate gives 1.42 (§9.7): the
    # public figure is taken, matching the facts' ridge point (227 FLOP/B)
    l2_bytes=192 * MIB,  # B1-B3 ini [NOTES-A3, SOCCFG]; tiling fixtures say 32 MiB (§9.6)
    l2_bytes_per_s=110 * 24 * _FREQ_910B,  # derived: ini L2 read 110 B/cycle/core x 24 cores
)

# ---------------------------------------------------------------------------- Ascend 310
_FREQ_310 = 680e6  # cube_freq of the 310 fixture [FIX-310] §6; the 8 TFLOPS headline implies
# 0.49 GHz (§9.11): the configuration value is taken (it matches Atlas 300I's 22 TOPS/chip)
_L0C_TO_UB_310 = 256.0  # [FIX-310] §3.2
ASCEND310 = DaVinciConfig(
    **_DAVINCI_CORE,
    name="ascend310",
    organisation="coupled",  # dav-m100 [ASC-NPUARCH]
    cores=2,  # [TBE-SOC, AKG-CONF] §6
    vector_cores_per_core=0,
    freq_hz=_FREQ_310,
    cube_dtypes=("fp16", "int8"),  # [AKG-CONF mini] §1.1; 16x16x16 shape taken over m=4 (§9.1)
    vector_costs=_vector_costs(_L0C_TO_UB_310),
    l1_bytes=1 * MIB,  # [AKG-CONF, FIX-310] §2.1
    l0c_bytes=256 * KIB,  # [AKG-CONF] §2.1
    ub_bytes=248 * KIB,  # 253952 [AKG-CONF, FIX-310] §2.1 (the only figure)
    bt_bytes=0,
    fb_bytes=0,
    gm_to_l1_bytes_per_cycle=128.0,  # L2 read 128 [FIX-310] §3.2
    gm_to_ub_bytes_per_cycle=128.0,  # L2 read 128 [FIX-310]
    gm_to_l0a_bytes_per_cycle=128.0,  # est.: as GM -> L1
    gm_to_l0b_bytes_per_cycle=128.0,  # est.: as GM -> L1
    l1_to_l0a_bytes_per_cycle=512.0,  # [FIX-310] (910B docs say 256, §9.2)
    l1_to_l0b_bytes_per_cycle=256.0,  # [FIX-310]
    l1_to_ub_bytes_per_cycle=128.0,  # [FIX-310]
    l1_to_bt_bytes_per_cycle=0.0,
    l1_to_fb_bytes_per_cycle=0.0,
    l1_to_gm_bytes_per_cycle=0.0,
    ub_to_gm_bytes_per_cycle=64.0,  # UB -> L2 64 [FIX-310]
    ub_to_l1_bytes_per_cycle=128.0,  # [FIX-310]
    ub_to_ub_bytes_per_cycle=594.0,  # est.: 910B PTO 1024 GiB/s (no coupled-core figure)
    l0c_to_ub_bytes_per_cycle=_L0C_TO_UB_310,
    l0c_to_gm_bytes_per_cycle=0.0,
    l0c_to_l1_bytes_per_cycle=0.0,
    gm_latency_cycles=_gm_latency_cycles(_FREQ_310),
    event_ids=4,  # EVENT_ID0-3 [AKG-CSIM] §4 (Ascend C, whose tables say 8, has no 310)
    hbm_bytes=8 * GIB,  # unsourced est. (LPDDR4x [AISYS-SOC], capacity not found)
    hbm_bytes_per_s=67 * 2 * _FREQ_310,  # derived: ddr_read 67 B/cycle/core [FIX-310] x 2 cores
    # (the ini's per-core DRAM share; the same rule gives 910B's 1.42 TB/s) = 91 GB/s
    l2_bytes=8 * MIB,  # [AKG-CONF, FIX-310] §2.1
    l2_bytes_per_s=128 * 2 * _FREQ_310,  # derived: L2 read 128 B/cycle/core x 2 cores
)

# ---------------------------------------------------------------------------- Ascend 310P
_FREQ_310P = 1.06e9  # cube 1060 MHz [GE-PLAT] §6 (its vector cores run at 1000 MHz)
_L0C_TO_UB_310P = 512.0  # [GE-PLAT] vs 256 [FIX-310P] (§9.3): GE-PLAT loads the platform
# config itself, the fixture is a copy, so 512 is taken
ASCEND310P = DaVinciConfig(
    **_DAVINCI_CORE,
    name="ascend310p",
    organisation="coupled",  # AI cores are coupled; its 7 separate vector cores [GE-PLAT] are
    # not modelled (vector_cores_per_core counts AIV per AIC, which a coupled core lacks)
    cores=8,  # [GE-PLAT, TBE-SOC] §6
    vector_cores_per_core=0,
    freq_hz=_FREQ_310P,
    cube_dtypes=("fp16", "int8"),  # [ASC-MMAD] §1.1 (int4 also exists; not modelled)
    vector_costs=_vector_costs(_L0C_TO_UB_310P),
    l1_bytes=1 * MIB,  # [ASC-CONST, GE-PLAT] §2.1
    l0c_bytes=256 * KIB,  # [ASC-CONST, GE-PLAT] §2.1
    ub_bytes=256 * KIB,  # [GE-PLAT, ASC-CONST] §2.1
    bt_bytes=0,
    fb_bytes=0,
    gm_to_l1_bytes_per_cycle=114.0,  # L2 read 114 [GE-PLAT / FIX-310P] §3.2
    gm_to_ub_bytes_per_cycle=114.0,  # L2 read 114
    gm_to_l0a_bytes_per_cycle=114.0,  # est.: as GM -> L1
    gm_to_l0b_bytes_per_cycle=114.0,  # est.: as GM -> L1
    l1_to_l0a_bytes_per_cycle=512.0,  # [GE-PLAT / FIX-310P] (910B docs say 256, §9.2)
    l1_to_l0b_bytes_per_cycle=256.0,  # [GE-PLAT / FIX-310P]
    l1_to_ub_bytes_per_cycle=128.0,  # [GE-PLAT / FIX-310P]
    l1_to_bt_bytes_per_cycle=0.0,
    l1_to_fb_bytes_per_cycle=0.0,
    l1_to_gm_bytes_per_cycle=0.0,
    ub_to_gm_bytes_per_cycle=114.0,  # UB -> L2 114 [GE-PLAT / FIX-310P]
    ub_to_l1_bytes_per_cycle=256.0,  # [GE-PLAT / FIX-310P]
    ub_to_ub_bytes_per_cycle=594.0,  # est.: 910B PTO 1024 GiB/s (no coupled-core figure)
    l0c_to_ub_bytes_per_cycle=_L0C_TO_UB_310P,
    l0c_to_gm_bytes_per_cycle=0.0,
    l0c_to_l1_bytes_per_cycle=0.0,
    gm_latency_cycles=_gm_latency_cycles(_FREQ_310P),
    event_ids=8,  # [ASC-EVT] §4
    hbm_bytes=48 * GIB,  # derived: Atlas 300I Duo, 96 GB for 2 chips [DUO] §6
    hbm_bytes_per_s=204e9,  # derived: Duo 408 GB/s for 2 chips [DUO] §6
    l2_bytes=16 * MIB,  # [GE-PLAT] §6
    l2_bytes_per_s=114 * 8 * _FREQ_310P,  # derived: L2 read 114 B/cycle/core x 8 cores
)

PRESETS: Mapping[str, DaVinciConfig] = MappingProxyType(
    {cfg.name: cfg for cfg in (ASCEND310, ASCEND310P, ASCEND910, ASCEND910B)}
)
"""Read-only mapping preset name -> config."""


def get_preset(name: str) -> DaVinciConfig:
    """The preset called `name`; an unknown name raises ConfigError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
