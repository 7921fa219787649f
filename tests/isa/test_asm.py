"""The DaVinci text assembly: printing, parsing, error messages and hypothesis round trips."""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isa.davinci import (
    INSTRUCTION_CLASSES,
    Addr,
    Barrier,
    Copy,
    DataDecl,
    DType,
    Instruction,
    Kernel,
    Pipe,
    SetFlag,
    Space,
    Stream,
    VBinary,
    VBinOp,
    format_instruction,
    format_kernel,
    load_kernel,
    mnemonic_table,
    parse_instruction,
    parse_kernel,
)
from isa.davinci.asm_values import OP_FIELD
from isa.errors import AsmError

# ------------------------------------------------------------------ strategies

ADDRS = st.builds(Addr, st.sampled_from(Space), st.integers(0, 2**40))
FLOATS = st.floats(allow_nan=False)
_SCALARS: dict[object, st.SearchStrategy[typing.Any]] = {
    int: st.integers(-(2**63), 2**64),
    float: FLOATS,
    bool: st.booleans(),
    Addr: ADDRS,
}


def _strategy(value_type: object) -> st.SearchStrategy[typing.Any]:
    if value_type in _SCALARS:
        return _SCALARS[value_type]
    assert isinstance(value_type, type) and issubclass(value_type, Enum), value_type
    return st.sampled_from(value_type)


def instructions_of(cls: type) -> st.SearchStrategy[typing.Any]:
    """Any instance of ``cls`` with arbitrary (not necessarily verifiable) field values."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


INSTRUCTIONS = st.one_of([instructions_of(cls) for cls in INSTRUCTION_CLASSES])
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_TEXT_RE = r"[A-Za-z0-9_=@+*(),.\-][A-Za-z0-9_ =@+*(),.\-]{0,15}"
FREE_TEXT = st.from_regex(_TEXT_RE, fullmatch=True).map(str.strip).filter(bool)
DECLS = st.builds(
    DataDecl,
    name=NAMES,
    addr=ADDRS,
    dtype=st.sampled_from(DType),
    shape=st.lists(st.integers(0, 4096), max_size=4).map(tuple),
    layout=st.sampled_from(["nd", "nz", "zz", "zn", "nc1hwc0", "fractal_z"]),
    init=st.sampled_from(["random", "zeros", "ones", "arange"]),
    core=st.integers(0, 3),
)
STREAMS = st.lists(INSTRUCTIONS, max_size=4).map(lambda xs: Stream(tuple(xs)))


@st.composite
def kernels(draw: st.DrawFn) -> Kernel:
    block_dim = draw(st.integers(1, 3))
    units = draw(st.sampled_from([("core",), ("aic", "aiv0", "aiv1")]))
    spmd = draw(st.booleans())
    shared = {u: draw(STREAMS) for u in units}
    cores = tuple(
        dict(shared) if spmd else {u: draw(STREAMS) for u in units if draw(st.booleans())}
        for _ in range(block_dim)
    )
    return Kernel(
        name=draw(NAMES),
        cores=cores,
        inputs=tuple(draw(st.lists(DECLS, max_size=2))),
        outputs=tuple(draw(st.lists(DECLS, max_size=2))),
        checks=tuple(draw(st.lists(FREE_TEXT, max_size=2))),
        tolerance=draw(st.floats(1e-6, 1.0)),
        notes=draw(st.dictionaries(NAMES, FREE_TEXT, max_size=2)),
    )


# ------------------------------------------------------------------ round trips


@given(INSTRUCTIONS)
def test_instruction_round_trip(instr: Instruction) -> None:
    assert parse_instruction(format_instruction(instr)) == instr
    assert parse_instruction(format_instruction(instr, full=True)) == instr


@pytest.mark.parametrize("cls", INSTRUCTION_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=10)
@given(data=st.data())
def test_every_class_round_trips(cls: type[Instruction], data: st.DataObject) -> None:
    instr = data.draw(instructions_of(cls))
    assert parse_instruction(format_instruction(instr)) == instr


@given(kernels())
def test_kernel_round_trip(kernel: Kernel) -> None:
    text = format_kernel(kernel)
    parsed = parse_kernel(text)
    assert parsed == kernel
    assert format_kernel(parsed) == text


def test_every_class_and_op_has_a_mnemonic() -> None:
    table = mnemonic_table()
    for cls in INSTRUCTION_CLASSES:
        forms = [f for f in table.values() if f.cls is cls]
        op_type = typing.get_type_hints(cls).get(OP_FIELD)
        assert len(forms) == (len(op_type) if op_type else 1), cls.__name__


# ------------------------------------------------------------------ printer


def test_printer_examples_from_the_spec() -> None:
    copy = Copy(Addr(Space.L1, 0), Addr(Space.GM, 0x1000), n_burst=1, burst_len=512)
    assert format_instruction(copy, full=True).startswith(
        "copy dst=L1[0x0] src=GM[0x1000] n_burst=1 burst_len=512"
    )
    assert format_instruction(copy) == "copy dst=L1[0x0] src=GM[0x1000] burst_len=512"
    vadd = VBinary(
        VBinOp.ADD, DType.FP16, Addr(Space.UB, 0), Addr(Space.UB, 0x100), Addr(Space.UB, 0x200), 4
    )
    assert format_instruction(vadd) == (
        "vadd dtype=fp16 dst=UB[0x0] src0=UB[0x100] src1=UB[0x200] repeat=4"
    )
    assert format_instruction(SetFlag(Pipe.MTE2, Pipe.MTE1, 0)) == (
        "set_flag src=MTE2 dst=MTE1 event=0"
    )
    assert format_instruction(Barrier(Pipe.ALL)) == "barrier target=ALL"


def test_parser_accepts_hex_case_and_comments() -> None:
    instr = parse_instruction("vmul dtype=FP16 dst=ub[256] src0=UB[0x0] src1=UB[0] # scale")
    assert instr == VBinary(
        VBinOp.MUL, DType.FP16, Addr(Space.UB, 256), Addr(Space.UB, 0), Addr(Space.UB, 0)
    )
    assert parse_instruction("set_mask_mode counter=TRUE").counter is True  # type: ignore[attr-defined]


# ------------------------------------------------------------------ kernels

KERNEL = """\
# a tiny SPMD kernel
.kernel add_tile
.cores 2
.input A GM[0x0] fp16 (128,) init=arange
.input B GM[0x100] fp16 (128) layout=nd
.output C GM[0x200] fp16 (128)
.expect C = A + B   # checked with numpy
.tolerance 0.001
.note author   a student
copy dst=UB[0x0] src=GM[0x0] burst_len=8
.core *
copy dst=UB[0x100] src=GM[0x100] burst_len=8
set_flag src=MTE2 dst=V event=0
wait_flag src=MTE2 dst=V event=0
.core 1
barrier target=ALL
"""


def test_parse_kernel_directives_and_streams() -> None:
    kernel = parse_kernel(KERNEL, source="add.s")
    assert kernel.name == "add_tile"
    assert kernel.block_dim == 2
    assert [d.name for d in kernel.inputs] == ["A", "B"]
    assert kernel.inputs[0] == DataDecl("A", Addr(Space.GM, 0), DType.FP16, (128,), init="arange")
    assert kernel.checks == ("C = A + B",)
    assert kernel.tolerance == 0.001
    assert kernel.notes == {"author": "a student"}
    # lines before any .core are core 0's; '.core *' and '.core 1' sections merge in line order
    assert kernel.cores[0]["core"].lines == (10, 12, 13, 14)
    assert kernel.cores[1]["core"].lines == (12, 13, 14, 16)
    assert kernel.cores[1]["core"].instructions[-1] == Barrier(Pipe.ALL)


def test_kernel_spmd_streams_print_once() -> None:
    kernel = parse_kernel(".cores 3\n.core * aiv0\nbarrier target=V\n")
    assert all(core["aiv0"] == kernel.cores[0]["aiv0"] for core in kernel.cores)
    assert format_kernel(kernel).count("barrier") == 1
    assert ".core * aiv0" in format_kernel(kernel)


def test_stream_lines_record_source_lines() -> None:
    kernel = parse_kernel("\n# c\nbarrier target=V\n\n.core 0\nbarrier target=M\n")
    assert kernel.cores[0]["core"].lines == (3, 6)


def test_default_kernel_name_and_block_dim_from_core_index(tmp_path: typing.Any) -> None:
    path = tmp_path / "tile.s"
    path.write_text(".core 2 aic\nbarrier target=M\n")
    kernel = load_kernel(path)
    assert kernel.name == "tile"
    assert kernel.block_dim == 3
    assert kernel.cores[0] == {} and "aic" in kernel.cores[2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vadd rpt=4", r"m\.s:1: vadd: unknown field 'rpt' \(fields: dtype, dst, src0,"),
        (
            "copy dst=L1[0] src=GM[0] n_burst=x",
            r"m\.s:1: copy: field 'n_burst': expected an integer, got 'x'",
        ),
        ("vaad dtype=fp16", r"m\.s:1: unknown mnemonic 'vaad' \(did you mean .*'vadd'"),
        ("copy dst=L1[0x0]", r"m\.s:1: copy: missing required field 'src' \(required: dst, src\)"),
        ("copy dst=L3[0x0] src=GM[0]", r"copy: field 'dst': unknown space 'L3'"),
        ("copy dst=L1 src=GM[0]", r"field 'dst': expected an address like L1\[0x400\], got 'L1'"),
        ("vexp dtype=fp8 dst=UB[0] src=UB[0]", r"vexp: field 'dtype': unknown dtype 'fp8'"),
        ("set_flag src=MTE9 dst=V event=0", r"set_flag: field 'src': unknown pipe 'MTE9'"),
        ("load2d dst=L0A[0] src=L1[0] transpose=yes", r"field 'transpose': expected true or false"),
        ("vadds dtype=fp16 dst=UB[0] src=UB[0] scalar=two", r"field 'scalar': expected a number"),
        ("barrier target=V target=M", r"barrier: field 'target' given twice"),
        ("barrier V", r"barrier: expected field=value, got 'V'"),
        (".kernal x", r"m\.s:1: unknown directive '\.kernal' \(did you mean '\.kernel'\?\)"),
        (".cores zero", r"\.cores: expected a positive integer, got 'zero'"),
        (".core 0 aiv2", r"\.core: unknown unit 'aiv2'"),
        (".input A L1[0] fp16 128", r"\.input: expected 'NAME SPACE\[addr\] DTYPE \(d0, d1"),
        (".input A L1[0] fp17 (4)", r"\.input A: unknown dtype 'fp17'"),
        (".output C L1[0] fp16 (4) colour=red", r"\.output C: unknown option 'colour=red'"),
        (".tolerance tight", r"\.tolerance: expected a number"),
        (".cores 1\n.core 1\nbarrier target=V", r"m\.s:2: \.core 1: core index out of range"),
    ],
)
def test_parse_errors_name_source_line_and_token(text: str, message: str) -> None:
    with pytest.raises(AsmError, match=message):
        parse_kernel(text, source="m.s")


def test_error_line_number_counts_comments_and_blank_lines() -> None:
    with pytest.raises(AsmError, match=r"^x\.s:4: vadd: unknown field 'rpt'"):
        parse_kernel("# header\n\nbarrier target=V\nvadd rpt=1\n", source="x.s")


def test_load_kernel_missing_file_is_an_asm_error(tmp_path: typing.Any) -> None:
    with pytest.raises(AsmError, match=r"nope\.s: cannot read"):
        load_kernel(tmp_path / "nope.s")
