"""Assembly vocabulary shared by the printer and the parser: how each field type is written as
text and read back, and the table of mnemonics built from the instruction dataclasses.

Everything here is derived from the dataclass fields and their type hints, so a new instruction
format (or a new member of an op enum) needs no assembler code: add it to INSTRUCTION_CLASSES.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from types import MappingProxyType
from typing import Any

from isa.davinci.base import Instruction
from isa.davinci.types import Addr, Space

OP_FIELD = "op"
"""Instruction formats with an enum field of this name register one mnemonic per enum member
(``vadd``, ``vsub``, ...); the field itself is implied by the mnemonic and never printed."""

_ADDR_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\[(-?(?:0[xX][0-9a-fA-F]+|[0-9]+))\]$")


class ValueTextError(ValueError):
    """A field value that does not parse; the parser adds the source, line and field."""


@dataclass(frozen=True, slots=True)
class InstructionForm:
    """One mnemonic: the dataclass it builds, the fields the mnemonic fixes (``op``) and the
    fields written as ``name=value`` in declaration order, with their resolved types."""

    mnemonic: str
    cls: type[Instruction]
    fixed: Mapping[str, Any]
    fields: tuple[dataclasses.Field[Any], ...]
    types: Mapping[str, Any]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """Fields without a default: the text must give them."""
        return tuple(
            f.name
            for f in self.fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )


def enum_text(member: Enum) -> str:
    """The assembly spelling of an enum member: DType by its text (``fp16``), string-valued
    enums by value (Unit ``aiv0``, ops ``vadd``), others (Pipe, Space) by name (``MTE2``)."""
    text = getattr(member, "text", None)
    if isinstance(text, str):
        return text
    if isinstance(member.value, str):
        return member.value
    return member.name


def format_value(value: Any) -> str:
    """Assembly text of one field value (bool, int, float, Addr or enum member)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Addr):
        return str(value)
    if isinstance(value, Enum):  # before int: Pipe is an IntEnum
        return enum_text(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no assembly text for {type(value).__name__} value {value!r}")


def _parse_int(text: str) -> int:
    for base in (0, 10):  # base 0 takes 0x.. / 0b..; base 10 takes leading zeros ("010")
        try:
            return int(text, base)
        except ValueError:
            continue
    raise ValueTextError(f"expected an integer, got {text!r}")


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueTextError(f"expected a number, got {text!r}") from None


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueTextError(f"expected true or false, got {text!r}")


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


def parse_enum(enum_type: type[Enum], text: str) -> Enum:
    """Read an enum member by its assembly spelling (case-insensitive)."""
    for member in enum_type:
        if enum_text(member) == text:
            return member
    for member in enum_type:
        if enum_text(member).lower() == text.lower():
            return member
    kind = enum_type.__name__.lower()
    known = ", ".join(enum_text(m) for m in enum_type)
    raise ValueTextError(f"unknown {kind} {text!r} ({kind}s: {known})")


def parse_value(value_type: Any, text: str) -> Any:
    """Read the text of a field whose annotation is ``value_type``."""
    if value_type is bool:
        return _parse_bool(text)
    if value_type is int:
        return _parse_int(text)
    if value_type is float:
        return _parse_float(text)
    if value_type is Addr:
        return parse_addr(text)
    if isinstance(value_type, type) and issubclass(value_type, Enum):
        return parse_enum(value_type, text)
    raise TypeError(f"no assembly syntax for fields of type {value_type!r}")


def _forms_of(cls: type[Instruction]) -> list[InstructionForm]:
    hints = typing.get_type_hints(cls)
    all_fields = dataclasses.fields(cls)
    fields = tuple(f for f in all_fields if f.name != OP_FIELD)
    types = MappingProxyType({f.name: hints[f.name] for f in all_fields})
    op_type = types.get(OP_FIELD)
    if op_type is None:
        return [InstructionForm(cls.MNEMONIC, cls, MappingProxyType({}), fields, types)]
    return [
        InstructionForm(enum_text(op), cls, MappingProxyType({OP_FIELD: op}), fields, types)
        for op in op_type
    ]


@cache
def mnemonic_table() -> Mapping[str, InstructionForm]:
    """Every mnemonic of INSTRUCTION_CLASSES -> its form (built once; read-only)."""
    from isa.davinci import INSTRUCTION_CLASSES  # late: the package imports this module

    table: dict[str, InstructionForm] = {}
    for cls in INSTRUCTION_CLASSES:
        for form in _forms_of(cls):
            if not form.mnemonic or form.mnemonic in table:
                raise RuntimeError(f"{cls.__name__}: empty or duplicate mnemonic {form.mnemonic!r}")
            table[form.mnemonic] = form
    return MappingProxyType(table)


def form_of(instr: Instruction) -> InstructionForm:
    """The form that prints ``instr`` (looked up by its mnemonic)."""
    form = mnemonic_table().get(instr.mnemonic)
    if form is None or not isinstance(instr, form.cls):
        raise TypeError(f"{type(instr).__name__} is not in INSTRUCTION_CLASSES")
    return form
