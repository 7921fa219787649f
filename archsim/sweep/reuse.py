"""Which config fields a compiled program depends on, so sweeps can reuse compilations.

The DaVinci code generator reads cores, organisation, buffer sizes, event ids, cube dtypes and
queue depth (compiler/davinci/target.py); bandwidths, latencies, the clock and the chip-level
memory figures never change *which instructions* are emitted except through one door: the
tiling cost models (compiler/davinci/kernels/tiling.py, conv_tiling.py) read the clock, HBM
bandwidth, path bandwidths and DMA latencies to rank candidate tilings.

Policy (a deliberate, stated approximation, chosen so bandwidth sweeps compile once): with
``reuse`` on, a point is compiled for its config with every `TIMING_ONLY` field reset to the
*base* config's value, and then simulated on its own full config. Points that differ only in
timing fields therefore share one compiled program. When a point's own value differs from the
base in a `TILING_COST_INPUTS` field, the tiling it runs is the one the cost model chose for
the base figures, which may not be the one it would choose for the point's own figures; the
point's notes say so. Fields in ``TIMING_ONLY - TILING_COST_INPUTS`` are read by no compiler
code, so reuse across them is exact (tests/sweep/test_reuse.py checks that the programs are
identical). With ``reuse = false`` every point compiles for its own config.

Configs of other types (the SIMT GPU) get no masking: every distinct config compiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hw.davinci import DaVinciConfig

_DAVINCI_PATHS = frozenset(f for f in DaVinciConfig.model_fields if f.endswith("_bytes_per_cycle"))

DAVINCI_TILING_COST_INPUTS: frozenset[str] = frozenset({
    "freq_hz", "hbm_bytes_per_s", "l2_bytes_per_s", "gm_latency_cycles", "local_latency_cycles",
    "gm_to_l1_bytes_per_cycle", "l1_to_l0a_bytes_per_cycle", "l1_to_l0b_bytes_per_cycle",
    "l0c_to_ub_bytes_per_cycle", "l0c_to_gm_bytes_per_cycle", "ub_to_gm_bytes_per_cycle",
    "gm_to_ub_bytes_per_cycle", "kernel_launch_s",  # split reductions weigh a second launch
})
"""Timing fields the DaVinci tiling cost models read (grep of compiler/davinci/kernels)."""

DAVINCI_TIMING_ONLY: frozenset[str] = frozenset({
    "freq_hz", "cube_head_cycles", "cube_fp32_cycles_per_step", "vector_costs",
    "gm_latency_cycles", "local_latency_cycles", "scalar_issue_cycles", "flag_cycles",
    "barrier_drain_cycles", "hbm_bytes", "hbm_bytes_per_s", "l2_bytes", "l2_bytes_per_s",
    "l2_line_bytes", "l2_ways", "kernel_launch_s",
}) | _DAVINCI_PATHS
"""DaVinci fields that no code-generation decision reads except the tiling cost models."""

TIMING_ONLY: Mapping[type, frozenset[str]] = {DaVinciConfig: DAVINCI_TIMING_ONLY}
TILING_COST_INPUTS: Mapping[type, frozenset[str]] = {DaVinciConfig: DAVINCI_TILING_COST_INPUTS}


def compile_config(config: Any, base: Any, reuse: bool) -> tuple[Any, str]:
    """The config to compile ``config``'s program for, and a note ("" when exact).

    See the module docstring for the policy. If resetting the timing fields gives an invalid
    config (e.g. the organisation was swept, so the base's path bandwidths do not fit it), the
    point compiles for its own config.
    """
    masked = TIMING_ONLY.get(type(config), frozenset())
    if not reuse or not masked or type(base) is not type(config):
        return config, ""
    changes = {f: getattr(base, f) for f in masked if getattr(config, f) != getattr(base, f)}
    if not changes:
        return config, ""
    try:
        target = config.replace(**changes)
    except ValueError:
        return config, ""
    approximated = sorted(set(changes) & TILING_COST_INPUTS.get(type(config), frozenset()))
    if not approximated:
        return target, ""
    return target, ("compiled program reused: tiling chosen for the base config's "
                    + ", ".join(f"{f}={getattr(base, f):g}" for f in approximated))
