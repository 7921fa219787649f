"""`archsim presets [NAME]`: list the hardware presets, or every field of one config."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hw.davinci import PRESETS, DaVinciConfig, load_config

_KIB = 1024
_MIB = 1024 * 1024
_NUMERIC_HEADERS = (
    "cores",
    "clock GHz",
    "fp16 TFLOPS",
    *(f"{buffer} KiB" for buffer in ("L1", "L0A", "L0B", "L0C", "UB")),
    "HBM GB/s",
    "L2 MiB",
)
_WIDTH_WHEN_PIPED = 160  # rich wraps at 80 columns off a terminal; keep table rows whole


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=_WIDTH_WHEN_PIPED)


def _cores(config: DaVinciConfig) -> str:
    if config.organisation == "separated":
        return f"{config.cores} AIC + {config.vector_cores} AIV"
    return str(config.cores)


def _summary_table() -> Table:
    table = Table(title="DaVinci presets (sources: shared/facts/davinci.md)")
    table.add_column("preset")
    table.add_column("organisation")
    for header in _NUMERIC_HEADERS:
        table.add_column(header, justify="right")
    for config in PRESETS.values():
        table.add_row(
            escape(config.name),
            config.organisation,
            _cores(config),
            f"{config.freq_hz / 1e9:.3g}",
            f"{config.peak_flops('fp16') / 1e12:.1f}",
            *(
                f"{getattr(config, f'{b}_bytes') / _KIB:g}"
                for b in ("l1", "l0a", "l0b", "l0c", "ub")
            ),
            f"{config.hbm_bytes_per_s / 1e9:g}",
            f"{config.l2_bytes / _MIB:g}",
        )
    return table


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return escape(str(value))  # a name from a file may hold rich markup such as "[x]"


def _detail_table(config: DaVinciConfig) -> Table:
    table = Table(title=escape(f"{config.name} ({config.organisation})"))
    table.add_column("field")
    table.add_column("value")
    for field in type(config).model_fields:
        if field == "vector_costs":
            continue
        table.add_row(field, _format(getattr(config, field)))
    for op, cost in config.vector_costs.items():
        slope = f"{cost.cycles_per_repeat:g} r"
        if cost.cycles_per_repeat_b32 is not None:
            slope += f" ({cost.cycles_per_repeat_b32:g} r on 32-bit types)"
        table.add_row(f"vector_costs.{op}", f"{cost.startup_cycles:g} + {slope}")
    table.add_section()
    for dtype in config.cube_dtypes:
        table.add_row(f"peak {dtype} TFLOPS (derived)", f"{config.peak_flops(dtype) / 1e12:.1f}")
    table.add_row("hbm_bytes_per_cycle (derived)", f"{config.hbm_bytes_per_cycle:.1f}")
    table.add_row("l2_bytes_per_cycle (derived)", f"{config.l2_bytes_per_cycle:.1f}")
    table.add_row("kernel_launch_cycles (derived)", str(config.kernel_launch_cycles))
    return table


@click.command(name="presets")
@click.argument("name", required=False)
def presets(name: str | None) -> None:
    """List the hardware presets, or show every field of NAME (a preset or a config file)."""
    table = _summary_table() if name is None else _detail_table(load_config(name))
    _console().print(table)
