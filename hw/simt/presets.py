"""GPU presets: V100 (SXM2), A100 (SXM4 40 GB), A100 80 GB (SXM4) and H100 (SXM5).

Every figure cites shared/facts/gpu.md by section (§n) and tag ([V] vendor, [M] measured, [C]
simulator config, [D] derived, est. = a modelling choice without a source).

Policies, applied to every preset so the GPUs compare like for like:
* Latencies are load-to-use pointer-chase figures of one tool where it covers the GPU
  (te42kyfo/gpu-benches `gpu-latency`, §3.2), not Accel-Sim stage adders (§7.3 warns against
  those). H100 uses the public H100 SXM report (§3.2) since gpu-benches measured the PCIe part.
  The A100/H100 far L2 half (+150-250 clk) is not modelled: L2 hits cost the near figure.
* DRAM efficiency is the STREAM triad fraction of peak (§5.1): a copy kernel mixes reads and
  writes, and the triad is the mixed figure.
* L2 bandwidth is the measured aggregate where one exists (§5.2), the spec otherwise.
* Pipe initiation intervals are 32 / lanes per sub-core (§9.4 item 1); dependent latencies §3.1.
* ``launch_overhead_s`` is the host-timed per-op overhead that the calibration measurements
  include (LLMCompass matmul overhead 21 us on A100, §3.1 "Kernel launch overhead"); est. for
  the other GPUs, which have no such figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hw.errors import ConfigError
from hw.simt.config import GpuConfig

KIB = 1024
MIB = 1024 * KIB
_LAUNCH_OVERHEAD_S = 21e-6  # [C] LLMCompass overhead_dict matmul 21 us (A100), §3.1


def _pipes(*, fp32_ii: int, fp16_lat: int, tensor: tuple[int, int], sfu_lat: int,
           shfl_lat: int) -> dict[str, dict[str, int]]:
    return {
        "int": {"latency_cycles": 4, "ii_cycles": 2},  # IADD/IMAD 4 clk [M]/[C] §3.1; 64 INT/SM §1
        "fp32": {"latency_cycles": 4, "ii_cycles": fp32_ii},  # FFMA 4 clk §3.1; lanes §0
        "fp16": {"latency_cycles": fp16_lat, "ii_cycles": fp32_ii},  # HFMA2 §3.1, rate est.
        "sfu": {"latency_cycles": sfu_lat, "ii_cycles": 8},  # 16 SFU/SM = 4 per sub-core §1
        "tensor": {"latency_cycles": tensor[0], "ii_cycles": tensor[1]},
        "lsu": {"latency_cycles": shfl_lat, "ii_cycles": 4},  # 32 LD/ST per SM = 8 per sub-core §1
        "branch": {"latency_cycles": 4, "ii_cycles": 4},  # [C] Accel-Sim spec_op_1 4,4 §3.1
    }


_COMMON: dict[str, Any] = dict(
    subcores_per_sm=4,  # [V] 4 warp schedulers per SM §1
    max_warps_per_sm=64, max_threads_per_sm=2048, max_ctas_per_sm=32,  # [V] CUDA PG §1
    max_threads_per_cta=1024,  # [V] CUDA PG
    regs_per_sm=65536, max_regs_per_thread=255,  # [V] 64 K x 32 bit, 255 per thread §1
    reg_alloc_unit=256,  # [V] CUDA occupancy calculator: 256 registers per warp allocation unit
    shared_banks=32, shared_bank_bytes=4,  # [V] 32 banks x 4 B §1, §4.2
    l1_bytes_per_cycle=128.0,  # 128 B/clk/SM (measured 116-128) §0, §5.2
    l1_ways=4,  # est.: Accel-Sim S:4:128:64 uses 4 sets x 64 ways; we keep 4 ways, more sets
    l2_ways=16,  # [C] Accel-Sim dl2 S:x:128:16 (A100) §4.3
    launch_overhead_s=_LAUNCH_OVERHEAD_S,
)


V100 = GpuConfig(
    **_COMMON,
    name="v100",
    sms=80,  # [V] V100 SXM2 80 of 84 SMs §1
    freq_hz=1530e6,  # [V] boost 1530 MHz SXM2 §1
    unified_l1_shared_bytes=128 * KIB,  # [V] §1
    shared_carveouts_kib=(0, 8, 16, 32, 64, 96),  # [V] CUDA PG §1
    max_shared_per_cta_bytes=96 * KIB, shared_reserved_per_cta_bytes=0,  # [V] §1
    # FP32 16 lanes/sub-core -> II 2 §0; HFMA2 6.2 clk [M] tuner; wmma latency 35 clk [M] tuner,
    # 512 FMA/clk/SM = 128/sub-core -> mma.m16n8k16 (2048 FMA) every 16 clk §2.1 (V100 has no
    # m16n8k16; we price it at the HMMA.884 rate); MUFU 21 clk [M]; shfl at shared latency (est.)
    pipes=_pipes(fp32_ii=2, fp16_lat=6, tensor=(35, 16), sfu_lat=21, shfl_lat=19),
    shared_latency_cycles=19,  # Jia et al. p-chase §3.2 (tuner: 27)
    l1_latency_cycles=30,  # [M] gpu-benches V100-PCIe 29.9 §3.2
    l2_latency_cycles=215,  # [M] gpu-benches §3.2
    dram_latency_cycles=430,  # [M] gpu-benches 47-125 MB footprint §3.2
    l2_bytes=6 * MIB,  # [V] §1
    l2_bytes_per_cycle=1843.0,  # [D] 2048 B/clk x 0.90 measured fraction (TITAN V) §0, §5.2
    dram_bytes_per_s=900e9,  # [V] HBM2 §1
    dram_efficiency=0.90,  # [M] STREAM triad 814/900 §5.1
)

A100 = GpuConfig(
    **_COMMON,
    name="a100",
    sms=108,  # [V] §1
    freq_hz=1410e6,  # [V] §1
    unified_l1_shared_bytes=192 * KIB,  # [V] §1
    shared_carveouts_kib=(0, 8, 16, 32, 64, 100, 132, 164),  # [V] CUDA PG §1
    max_shared_per_cta_bytes=163 * KIB, shared_reserved_per_cta_bytes=1024,  # [V] §1
    # FP32 II 2 §0; FP16->FP16 5 clk (NAK) §3.1; m16n8k16 ~18 clk to use (NAK, §2/§9.4 item 2),
    # 1024 FMA/clk/SM = 256/sub-core -> II 8 §2.1; MUFU 23 [C] §3.1; shfl at shared latency
    pipes=_pipes(fp32_ii=2, fp16_lat=5, tensor=(18, 8), sfu_lat=23, shfl_lat=23),
    shared_latency_cycles=23,  # [S] Abdelkhalik Table IV §3.2
    l1_latency_cycles=36,  # [M] gpu-benches A100-40 36.0 §3.2
    l2_latency_cycles=210,  # [M] gpu-benches near half 210-211 §3.2
    dram_latency_cycles=570,  # [M] gpu-benches 125 MB-1.5 GB ~570-575 §3.2
    l2_bytes=40 * MIB,  # [V] §1
    l2_bytes_per_cycle=3830.0,  # [D] ~5.4 TB/s measured / 1.41 GHz §5.2
    dram_bytes_per_s=1555e9,  # [V] HBM2 40 GB §1
    dram_efficiency=0.87,  # [M] triad 1360/1555 §5.1
)

A100_80GB = A100.replace(
    name="a100_80gb",
    dram_bytes_per_s=2039e9,  # [V] A100 80 GB SXM §1
    dram_efficiency=0.86,  # [M] triad 1759/2039 (gpu-benches A100-80, SKU not stated) §5.1
    l1_latency_cycles=36,  # [M] gpu-benches a100_80 §3.2
    l2_latency_cycles=211,  # [M] gpu-benches A100-80 210-211 §3.2
)

H100 = GpuConfig(
    **_COMMON,
    name="h100",
    sms=132,  # [V] SXM5 §1
    freq_hz=1830e6,  # [V] clock of the tensor spec (989.4 TF = 132 x 2048 x 2 x 1.83 GHz) §1;
    # FP32 peak is quoted at 1980 MHz, so fp32 FLOP/s here are 8 % below that spec
    unified_l1_shared_bytes=256 * KIB,  # [V] §1
    shared_carveouts_kib=(0, 8, 16, 32, 64, 100, 132, 164, 196, 228),  # [V] §1
    max_shared_per_cta_bytes=227 * KIB, shared_reserved_per_cta_bytes=1024,  # [V] §1
    # FP32 32 lanes/sub-core -> II 1 §0; FP16 ~4 [C]; 2048 FMA/clk/SM = 512/sub-core -> II 4
    # §2.1 (real Hopper reaches this only with wgmma, §2.2; mma.sync is priced at the full rate,
    # est.), latency est. as A100's 18; MUFU 23 [C]
    pipes=_pipes(fp32_ii=1, fp16_lat=4, tensor=(18, 4), sfu_lat=23, shfl_lat=30),
    shared_latency_cycles=30,  # [M] H100 SXM report 29.9 §3.2
    l1_latency_cycles=38,  # [M] H100 SXM report §3.2
    l2_latency_cycles=219,  # [M] H100 SXM report mean §3.2
    dram_latency_cycles=834,  # [M] H100 SXM report mean §3.2
    l2_bytes=50 * MIB,  # [V] 50 MB enabled §1
    l2_bytes_per_cycle=3825.0,  # [D] ~7.0 TB/s measured (PCIe part) / 1.83 GHz §5.2
    dram_bytes_per_s=3.35e12,  # [V] HBM3 §1
    dram_efficiency=0.86,  # [D] mean of SXM read 82 % and write 90 % (public report) §5.1
)

PRESETS: Mapping[str, GpuConfig] = MappingProxyType(
    {c.name: c for c in (V100, A100, A100_80GB, H100)}
)
"""Every GPU preset by name."""


def get_preset(name: str) -> GpuConfig:
    """The GPU preset called `name`; an unknown name raises ConfigError listing the known."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown GPU preset {name!r} (known: {', '.join(PRESETS)})") from None
