"""What the DaVinci assembly adds to the generic field syntax of `isa.asm_fields`: the
``SPACE[offset]`` address codec and the mnemonic table of INSTRUCTION_CLASSES.

Everything else is derived from the dataclass fields and their type hints, so a new instruction
format (or a new member of an op enum) needs no assembler code: add it to INSTRUCTION_CLASSES.
Enum spellings follow `isa.asm_fields.enum_text`: DType by its text (``fp16``), string-valued
enums by value (Unit ``aiv0``, ops ``vadd``), others (Pipe, Space) by name (``MTE2``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from isa.asm_fields import OP_FIELD, Codec, InstructionForm, Syntax, ValueTextError, build_table
from isa.davinci.base import Instruction
from isa.davinci.types import Addr, Space

_ADDR_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\[(-?(?:0[xX][0-9a-fA-F]+|[0-9]+))\]$")


def parse_addr(text: str) -> Addr:
    """Read ``SPACE[offset]`` (offset decimal or 0x hex), e.g. ``L1[0x400]``."""
    match = _ADDR_RE.match(text)
    if match is None:
        raise ValueTextError(f"expected an address like L1[0x400], got {text!r}")
    space_name, offset = match.groups()
    try:
        space = Space[space_name.upper()]
    except KeyError:
        known = ", ".join(s.name for s in Space)
        raise ValueTextError(
            f"unknown space {space_name!r} in {text!r} (spaces: {known})"
        ) from None
    return Addr(space, int(offset, 0))


SYNTAX = Syntax({Addr: Codec(str, parse_addr)})
"""How DaVinci operand types are written (bool/int/float/enums are `isa.asm_fields` builtins)."""

format_value = SYNTAX.format_value
"""Assembly text of one field value (bool, int, float, Addr or enum member)."""


@cache
def mnemonic_table() -> Mapping[str, InstructionForm]:
    """Every mnemonic of INSTRUCTION_CLASSES -> its form (built once; read-only)."""
    from isa.davinci import INSTRUCTION_CLASSES  # late: the package imports this module

    return build_table(INSTRUCTION_CLASSES)


def form_of(instr: Instruction) -> InstructionForm:
    """The form that prints ``instr`` (looked up by its mnemonic)."""
    form = mnemonic_table().get(instr.mnemonic)
    if form is None or not isinstance(instr, form.cls):
        raise TypeError(f"{type(instr).__name__} is not in INSTRUCTION_CLASSES")
    return form


__all__ = ["OP_FIELD", "SYNTAX", "form_of", "format_value", "mnemonic_table", "parse_addr"]
