"""Generic ``mnemonic field=value`` assembly built from frozen instruction dataclasses.

Shared by the instruction sets: an ISA names its instruction classes and a `Syntax` (how its
own operand types are written); the mnemonic table, the printer of one instruction and the
parser of one instruction line all follow from the dataclass fields and their type hints. A
format with an enum field named ``op`` registers one mnemonic per enum member (``add``,
``ld.global``, ...) and never prints that field. Unions (``Reg | int | float``) and optionals
are read by trying each member type in order.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

OP_FIELD = "op"


class ValueTextError(ValueError):
    """A field value or token that does not parse; callers add the source and line."""


@dataclass(frozen=True, slots=True)
class Codec:
    """How one operand type is written: ``format(value) -> text`` and ``parse(text) -> value``
    (raising ValueTextError)."""

    format: Callable[[Any], str]
    parse: Callable[[str], Any]


def enum_text(member: Enum) -> str:
    """Assembly spelling of an enum member: its ``text`` attribute, else a string value, else
    its name."""
    text = getattr(member, "text", None)
    if isinstance(text, str):
        return text
    if isinstance(member.value, str):
        return member.value
    return member.name


def parse_int(text: str) -> int:
    """Decimal, 0x/0b/0o, or decimal with leading zeros."""
    for base in (0, 10):
        try:
            return int(text, base)
        except ValueError:
            continue
    raise ValueTextError(f"expected an integer, got {text!r}")


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueTextError(f"expected a number, got {text!r}") from None


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueTextError(f"expected true or false, got {text!r}")


def parse_enum(enum_type: type[Enum], text: str) -> Enum:
    """An enum member by its assembly spelling (exact first, then case-insensitive)."""
    for member in enum_type:
        if enum_text(member) == text:
            return member
    for member in enum_type:
        if enum_text(member).lower() == text.lower():
            return member
    kind = enum_type.__name__.lower()
    known = ", ".join(enum_text(m) for m in enum_type)
    raise ValueTextError(f"unknown {kind} {text!r} ({kind}s: {known})")


_BUILTIN_CODECS: Mapping[type, Codec] = MappingProxyType({
    bool: Codec(lambda v: "true" if v else "false", parse_bool),
    int: Codec(str, parse_int),
    float: Codec(repr, parse_float),  # repr: the shortest text that reads back exactly
    str: Codec(str, lambda text: text),
})


@dataclass(frozen=True, slots=True)
class Syntax:
    """An ISA's operand types beyond bool/int/float/str/enums, each with its `Codec`."""

    codecs: Mapping[type, Codec] = dataclasses.field(default_factory=dict)

    def codec(self, value_type: type) -> Codec | None:
        return self.codecs.get(value_type) or _BUILTIN_CODECS.get(value_type)

    def format_value(self, value: Any) -> str:
        """Text of one field value, chosen by the value's own type."""
        if value is None:
            return "none"
        for value_type in type(value).__mro__:
            if value_type in self.codecs:
                return self.codecs[value_type].format(value)
        if isinstance(value, Enum):  # before int: IntEnums print by name
            return enum_text(value)
        codec = _BUILTIN_CODECS.get(type(value))
        if codec is None:
            raise TypeError(f"no assembly text for {type(value).__name__} value {value!r}")
        return codec.format(value)

    def parse_value(self, value_type: Any, text: str) -> Any:
        """Read the text of a field annotated ``value_type`` (unions tried in order)."""
        members = _union_members(value_type)
        if members is not None:
            if text == "none" and type(None) in members:
                return None
            errors = []
            for member in members:
                if member is type(None):
                    continue
                try:
                    return self.parse_value(member, text)
                except ValueTextError as err:
                    errors.append(str(err))
            raise ValueTextError(" or ".join(dict.fromkeys(errors)))
        if isinstance(value_type, type) and issubclass(value_type, Enum):
            return parse_enum(value_type, text)
        codec = self.codec(value_type)
        if codec is None:
            raise TypeError(f"no assembly syntax for fields of type {value_type!r}")
        return codec.parse(text)


def _union_members(value_type: Any) -> tuple[Any, ...] | None:
    if isinstance(value_type, types.UnionType) or typing.get_origin(value_type) is typing.Union:
        return typing.get_args(value_type)
    return None


@dataclass(frozen=True, slots=True)
class InstructionForm:
    """One mnemonic: the class it builds, the fields the mnemonic fixes (``op``) and the
    fields written as ``name=value`` in declaration order, with their resolved types."""

    mnemonic: str
    cls: type
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


def forms_of(cls: type, skip: Iterable[str] = ()) -> list[InstructionForm]:
    """The mnemonic forms of one instruction class; ``skip`` names fields written elsewhere
    (e.g. a guard prefix) and left out of ``name=value`` text."""
    hints = typing.get_type_hints(cls)
    skipped = set(skip)
    all_fields = dataclasses.fields(cls)
    fields = tuple(f for f in all_fields if f.name != OP_FIELD and f.name not in skipped)
    field_types = MappingProxyType({f.name: hints[f.name] for f in all_fields})
    op_type = field_types.get(OP_FIELD)
    if op_type is None:
        return [InstructionForm(cls.MNEMONIC, cls, MappingProxyType({}), fields, field_types)]  # type: ignore[attr-defined]
    return [
        InstructionForm(enum_text(op), cls, MappingProxyType({OP_FIELD: op}), fields, field_types)
        for op in op_type
    ]


def build_table(classes: Iterable[type], skip: Iterable[str] = ()) -> Mapping[str, InstructionForm]:
    """Every mnemonic of ``classes`` -> its form; duplicates are a programming error."""
    table: dict[str, InstructionForm] = {}
    skipped = tuple(skip)
    for cls in classes:
        for form in forms_of(cls, skipped):
            if not form.mnemonic or form.mnemonic in table:
                raise RuntimeError(f"{cls.__name__}: empty or duplicate mnemonic {form.mnemonic!r}")
            table[form.mnemonic] = form
    return MappingProxyType(table)


def format_fields(instr: Any, form: InstructionForm, syntax: Syntax, *, full: bool = False) -> str:
    """``mnemonic field=value ...``; fields at their default are left out unless ``full``."""
    parts = [form.mnemonic]
    for f in form.fields:
        value = getattr(instr, f.name)
        if not full and f.default is not dataclasses.MISSING and value == f.default:
            continue
        parts.append(f"{f.name}={syntax.format_value(value)}")
    return " ".join(parts)


def suggest(word: str, choices: list[str]) -> str:
    """``did you mean ...?`` with the closest choices, else the full list."""
    close = difflib.get_close_matches(word, choices, n=3)
    if not close:
        return f"known: {', '.join(choices)}"

    def score(choice: str) -> float:
        return difflib.SequenceMatcher(None, word, choice).ratio()

    best = [c for c in close if score(c) == score(close[0])]
    return f"did you mean {' or '.join(repr(c) for c in best)}?"


def build_fields(
    form: InstructionForm, tokens: list[str], syntax: Syntax, extra: Mapping[str, Any] = {}
) -> Any:
    """Build ``form``'s instruction from ``name=value`` tokens (plus ``extra`` fields already
    read, e.g. a guard); ValueTextError names the mnemonic and the field."""
    where = form.mnemonic
    values = dict(form.fixed)
    names = form.field_names
    for token in tokens:
        name, sep, text = token.partition("=")
        if not sep or not name or not text:
            raise ValueTextError(f"{where}: expected field=value, got {token!r}")
        if name not in names:
            raise ValueTextError(f"{where}: unknown field {name!r} (fields: {', '.join(names)})")
        if name in values:
            raise ValueTextError(f"{where}: field {name!r} given twice")
        try:
            values[name] = syntax.parse_value(form.types[name], text)
        except ValueTextError as err:
            raise ValueTextError(f"{where}: field {name!r}: {err}") from None
    missing = [name for name in form.required if name not in values]
    if missing:
        raise ValueTextError(
            f"{where}: missing required field {missing[0]!r} (required: {', '.join(form.required)})"
        )
    values.update(extra)
    try:
        return form.cls(**values)
    except (ValueError, TypeError) as err:
        raise ValueTextError(f"{where}: {err}") from None
