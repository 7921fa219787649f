"""The assembly printer: one line per instruction, a kernel as directives plus per-unit streams.

The format is described in ``isa.davinci.asm``; ``parse_kernel(format_kernel(k)) == k``.
"""

from __future__ import annotations

from isa.asm_fields import format_fields
from isa.davinci.asm_values import SYNTAX, form_of
from isa.davinci.base import Instruction
from isa.davinci.program import COUPLED_UNITS, SEPARATED_UNITS, DataDecl, Kernel, Stream

DEFAULT_TOLERANCE = 1e-2
"""Kernel.tolerance when ``.tolerance`` is absent (same as the dataclass default)."""

_DECL_DEFAULTS = {"layout": "nd", "init": "random", "core": 0}
_UNIT_ORDER = COUPLED_UNITS + SEPARATED_UNITS


def format_instruction(instr: Instruction, *, full: bool = False) -> str:
    """``mnemonic field=value ...`` in field declaration order.

    Fields equal to their default are left out unless ``full`` is set; fields without a
    default are always written. The ``op`` field of VBinary/VUnary/VScalar/VReduce is the
    mnemonic itself.
    """
    return format_fields(instr, form_of(instr), SYNTAX, full=full)


def format_decl(directive: str, decl: DataDecl) -> str:
    """``.input NAME ADDR DTYPE (d0, d1) [layout=..] [init=..] [core=N]``."""
    shape = "(" + ", ".join(str(d) for d in decl.shape) + ")"
    text = f"{directive} {decl.name} {decl.addr} {decl.dtype.text} {shape}"
    for key, default in _DECL_DEFAULTS.items():
        value = getattr(decl, key)
        if value != default:
            text += f" {key}={value}"
    return text


def _unit_order(kernel: Kernel) -> list[str]:
    units = {unit for core in kernel.cores for unit in core}
    return [u for u in _UNIT_ORDER if u in units] + sorted(units.difference(_UNIT_ORDER))


def _core_header(core: str, unit: str) -> str:
    return f".core {core}" if unit == "core" else f".core {core} {unit}"


def _stream_lines(stream: Stream) -> list[str]:
    return [format_instruction(instr) for instr in stream.instructions]


def format_kernel(kernel: Kernel) -> str:
    """The kernel as assembly text. A unit whose stream is the same on every core (SPMD) is
    written once under ``.core *``; other streams under ``.core N [unit]``."""
    lines = [f".kernel {kernel.name}"]
    if kernel.block_dim != 1:
        lines.append(f".cores {kernel.block_dim}")
    if kernel.tolerance != DEFAULT_TOLERANCE:
        lines.append(f".tolerance {kernel.tolerance!r}")
    lines += [f".note {key} {text}".rstrip() for key, text in kernel.notes.items()]
    lines += [format_decl(".input", decl) for decl in kernel.inputs]
    lines += [format_decl(".output", decl) for decl in kernel.outputs]
    lines += [f".expect {check}" for check in kernel.checks]
    per_core: list[list[str]] = [[] for _ in kernel.cores]
    for unit in _unit_order(kernel):
        streams = [core.get(unit) for core in kernel.cores]
        first = streams[0]
        if kernel.block_dim > 1 and first is not None and all(s == first for s in streams):
            lines.append(_core_header("*", unit))
            lines += _stream_lines(first)
            continue
        for index, stream in enumerate(streams):
            if stream is not None:
                per_core[index].append(_core_header(str(index), unit))
                per_core[index] += _stream_lines(stream)
    for core_lines in per_core:
        lines += core_lines
    return "\n".join(lines) + "\n"
