"""SIMT assembly: every format round-trips through text (hypothesis), examples round-trip,
and malformed text fails with one AsmError naming the line and the token."""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isa.errors import AsmError
from isa.simt import (
    INSTRUCTION_CLASSES,
    Instruction,
    Label,
    Pred,
    Reg,
    format_instruction,
    format_kernel,
    load_kernel,
    mnemonic_table,
    parse_instruction,
    parse_kernel,
)

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "simt").glob("*.s"))

_BASIC: dict[object, st.SearchStrategy] = {
    Reg: st.builds(Reg, st.integers(0, 254)),
    Pred: st.builds(Pred, st.integers(0, 7), st.booleans()),
    Label: st.sampled_from(["L0", "LOOP", "end_1", "a.b"]).map(Label),
    int: st.integers(-(2**31), 2**32 - 1),
    float: st.floats(allow_nan=False, allow_infinity=False, width=32),
    bool: st.booleans(),
    type(None): st.none(),
}


def _strategy(value_type: object) -> st.SearchStrategy:
    args = typing.get_args(value_type)
    if args:  # a union
        return st.one_of(*(_strategy(arg) for arg in args))
    if isinstance(value_type, type) and issubclass(value_type, Enum):
        return st.sampled_from(list(value_type))
    return _BASIC[value_type]


def _instructions(cls: type[Instruction]) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


@pytest.mark.parametrize("cls", INSTRUCTION_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_format_round_trips(cls: type[Instruction], data: st.DataObject) -> None:
    instr = data.draw(_instructions(cls))
    text = format_instruction(instr)
    assert parse_instruction(text) == instr
    assert parse_instruction(format_instruction(instr, full=True)) == instr


def test_every_format_has_a_mnemonic() -> None:
    covered = {form.cls for form in mnemonic_table().values()}
    assert covered == set(INSTRUCTION_CLASSES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    kernel = load_kernel(path)
    assert parse_kernel(format_kernel(kernel)) == kernel


def test_kernel_directives_are_read() -> None:
    kernel = parse_kernel(
        ".kernel k\n.grid 4 2\n.block 64\n.regs 10\n.shared 256\n.param 0x40\n.param 7\n"
        ".input A 0x40 f16 (4, 8) init=ones\n.output B 0x100 f32 (4,)\n.expect B = A.sum(1)\n"
        ".tolerance 0.5\nTOP:\n    @!p1 bra target=TOP\n    exit\n"
    )
    assert kernel.launch.grid == (4, 2, 1) and kernel.launch.params == (0x40, 7)
    assert kernel.program.regs == 10 and kernel.program.shared_bytes == 256
    assert kernel.program.labels == {"TOP": 0}
    assert kernel.program.instructions[0].guard == Pred(1, neg=True)
    assert kernel.inputs[0].init == "ones" and kernel.outputs[0].shape == (4,)
    assert kernel.program.line(1) == 14


@pytest.mark.parametrize("text, message", [
    ("    addd type=u32 d=r1 a=r2 b=r3", "k.s:3: unknown mnemonic 'addd' (did you mean 'add'?)"),
    ("    add type=u32 d=r1 a=r2 c=r3", "k.s:3: add: unknown field 'c'"),
    ("    add type=u32 d=x1 a=r2 b=r3", "k.s:3: add: field 'd': expected a register like r3"),
    ("    add type=u32 d=r1 a=r2", "k.s:3: add: missing required field 'b'"),
    ("    add type=f64 d=r1 a=r2 b=r3", "k.s:3: add: field 'type': unknown dtype 'f64'"),
    ("    @q1 exit", "k.s:3: guard: expected a predicate like p1"),
    (".grid 0", "k.s:3: .grid: dimensions must be positive"),
    (".gird 2", "k.s:3: unknown directive '.gird' (did you mean '.grid'?)"),
    ("L:\nL:", "k.s:4: label 'L' defined twice"),
])
def test_errors_name_line_and_field(text: str, message: str) -> None:
    with pytest.raises(AsmError) as info:
        parse_kernel(".kernel k\n.regs 8\n" + text + "\n    exit\n", source="k.s")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
