"""The DaVinci verifier: one test per check with its message, and clean passes."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from isa.davinci import (
    INSTRUCTION_CLASSES,
    Addr,
    Instruction,
    Kernel,
    Stream,
    VectorInstruction,
    kernel_problems,
    parse_instruction,
    parse_kernel,
    verify_kernel,
)
from isa.davinci.verify_checks import CONVERSIONS, VECTOR_DTYPES
from isa.davinci.verify_rules import operand_spaces, range_rule
from isa.errors import VerifyError

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FakeConfig:
    """A minimal HwConfig: 910-like (coupled) unless told otherwise."""

    organisation: str = "coupled"
    l1_bytes: int = 1 << 20
    l0a_bytes: int = 64 << 10
    l0b_bytes: int = 64 << 10
    l0c_bytes: int = 256 << 10
    ub_bytes: int = 256 << 10
    bt_bytes: int = 0
    fb_bytes: int = 0
    l1_align_bytes: int = 32
    l0a_align_bytes: int = 512
    l0b_align_bytes: int = 512
    l0c_align_bytes: int = 1024
    ub_align_bytes: int = 32
    event_ids: int = 4
    cube_dtypes: tuple[str, ...] = ("fp16", "int8")
    paths: tuple[str, ...] = field(
        default=("gm_to_l1", "gm_to_ub", "gm_to_l0a", "gm_to_l0b", "l1_to_l0a", "l1_to_l0b",
                 "ub_to_gm", "ub_to_ub", "l1_to_ub", "ub_to_l1", "l0c_to_ub")
    )

    def __getattr__(self, name: str) -> float:
        if name.endswith("_bytes_per_cycle"):
            return 64.0 if name.removesuffix("_bytes_per_cycle") in self.paths else 0.0
        raise AttributeError(name)


COUPLED = FakeConfig()
SEPARATED = FakeConfig(
    organisation="separated", l1_bytes=512 << 10, l0c_bytes=128 << 10, ub_bytes=192 << 10,
    bt_bytes=1024, fb_bytes=7168, event_ids=8, cube_dtypes=("fp16", "bf16", "int8", "fp32"),
    paths=("gm_to_l1", "gm_to_ub", "gm_to_l0a", "gm_to_l0b", "l1_to_l0a", "l1_to_l0b",
           "l1_to_bt", "l1_to_gm", "ub_to_gm", "ub_to_ub", "l0c_to_gm", "l0c_to_l1"),
)


def problems(text: str, config: FakeConfig = COUPLED, unit: str = "core") -> str:
    """All verifier messages for ``text`` placed in core 0's ``unit`` stream."""
    header = "" if unit == "core" else f".core 0 {unit}\n"
    return "\n".join(kernel_problems(parse_kernel(header + text, "t.s"), config))


# ------------------------------------------------------------------ clean passes

MATMUL_16 = """\
.kernel mm16
.input A GM[0x0] fp16 (16, 16)
.input B GM[0x200] fp16 (16, 16)
.output C GM[0x400] fp16 (16, 16)
copy dst=L1[0x0] src=GM[0x0] burst_len=16
copy dst=L1[0x200] src=GM[0x200] burst_len=16
set_flag src=MTE2 dst=MTE1 event=0
wait_flag src=MTE2 dst=MTE1 event=0
load2d dst=L0A[0x0] src=L1[0x0]
load2d dst=L0B[0x0] src=L1[0x200] transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=16 k=16 n=16
set_flag src=M dst=V event=0
wait_flag src=M dst=V event=0
copy_l0c_to_ub dst=UB[0x0] src=L0C[0x0]
set_flag src=V dst=MTE3 event=1
wait_flag src=V dst=MTE3 event=1
copy dst=GM[0x400] src=UB[0x0] burst_len=16
"""

SEPARATED_MIX = """\
.kernel mix
.cores 2
.core * aic
copy dst=L1[0x0] src=GM[0x0] burst_len=16
set_flag src=MTE2 dst=MTE1 event=0
wait_flag src=MTE2 dst=MTE1 event=0
load2d dst=L0A[0x0] src=L1[0x0]
load2d dst=L0B[0x0] src=L1[0x0]
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=16 k=16 n=16 dtype=bf16
set_flag src=M dst=FIX event=0
wait_flag src=M dst=FIX event=0
fixpipe dst=GM[0x1000] src=L0C[0x0] m=16 n=16 nz2nd=true dst_row_stride=16 relu=true
cross_set_flag src=FIX target=aiv0 flag=1
.core * aiv0
cross_wait_flag dst=MTE2 flag=1
copy dst=UB[0x0] src=GM[0x1000] burst_len=16
set_flag src=MTE2 dst=V event=0
wait_flag src=MTE2 dst=V event=0
set_mask_mode counter=true
set_mask hi=0 lo=200
vmuls dtype=fp16 dst=UB[0x200] src=UB[0x0] scalar=0.5
set_mask_mode counter=false
vconv dst_dtype=fp32 src_dtype=fp16 dst=UB[0x400] src=UB[0x200] repeat=2
set_flag src=V dst=MTE3 event=0
wait_flag src=V dst=MTE3 event=0
copy dst=GM[0x2000] src=UB[0x400] burst_len=16
"""


def test_clean_coupled_matmul_passes() -> None:
    verify_kernel(parse_kernel(MATMUL_16), COUPLED)


def test_clean_separated_mix_kernel_passes() -> None:
    verify_kernel(parse_kernel(SEPARATED_MIX), SEPARATED)


def test_real_presets_and_examples_pass() -> None:
    hw = pytest.importorskip("hw.davinci")
    verify_kernel(parse_kernel(SEPARATED_MIX), hw.get_preset("ascend910b"))
    for path in sorted((ROOT / "examples" / "asm").glob("*.s")):
        kernel = parse_kernel(path.read_text(), str(path))
        if not kernel.separated:
            verify_kernel(kernel, hw.get_preset("ascend910"))


# ------------------------------------------------------------------ message format


def test_message_names_kernel_core_unit_line_field_and_value() -> None:
    text = ".kernel k\n\ncopy dst=L1[0x0] src=GM[0x0] n_burst=0\n"
    with pytest.raises(VerifyError) as info:
        verify_kernel(parse_kernel(text), COUPLED)
    assert str(info.value) == (
        "k: core 0 unit core line 3: copy: field 'n_burst': out of range 1..4095 "
        "(nBurst < 4096 (12 bit) [AKG-PARAMS] facts §3.3) (value 0)"
    )


def test_all_errors_are_reported_one_per_line() -> None:
    text = "copy dst=L1[0] src=GM[0] n_burst=0\nvadd dtype=fp16 dst=UB[0x1] src0=UB[0] src1=UB[0]"
    lines = problems(text).splitlines()
    assert len(lines) == 2
    assert "line 1: copy" in lines[0] and "line 2: vadd: field 'dst'" in lines[1]


def test_spmd_stream_is_checked_once_naming_all_cores() -> None:
    text = ".cores 3\n.core *\nbarrier target=FIX\n"
    assert problems(text).splitlines() == [
        "t: core 0,1,2 unit core line 3: barrier: field 'target': unit core has no pipe FIX "
        "(M, MTE1, MTE2, MTE3, S, V) (value FIX)"
    ]


# ------------------------------------------------------------------ ranges

_V = "dst=UB[0x0] src=UB[0x100]"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("copy dst=L1[0] src=GM[0] n_burst=4096", "field 'n_burst': out of range 1..4095"),
        ("copy dst=L1[0] src=GM[0] burst_len=0", "field 'burst_len': out of range 1..65535"),
        ("copy dst=L1[0] src=GM[0] src_gap=65536", "field 'src_gap': out of range 0..65535"),
        (f"vabs dtype=fp16 {_V} repeat=256", "field 'repeat': out of range 0..255"),
        (f"vabs dtype=fp16 {_V} src_blk_stride=256", "field 'src_blk_stride': out of range 0..255"),
        (f"vabs dtype=fp16 {_V} dst_rep_stride=-1", "field 'dst_rep_stride': out of range 0..255"),
        ("load2d dst=L0A[0] src=L1[0] repeat=0", "field 'repeat': out of range 1..255"),
        ("mmad dst=L0C[0] a=L0A[0] b=L0B[0] m=4096 k=16 n=16", "field 'm': out of range 1..4095"),
        ("set_flag src=MTE2 dst=V event=4", "field 'event': out of range 0..3"),
        ("set_mask hi=-1 lo=0", "field 'hi': out of range 0..18446744073709551615"),
        (f"vadds dtype=fp16 {_V} scalar=nan", "field 'scalar': not a number"),
    ],
)
def test_field_ranges(line: str, message: str) -> None:
    assert message in problems(line)


_IMG2COL = "img2col dst=L0A[0] src=L1[0] fmap_h=8 fmap_w=8 c1=1 kernel_h=3 kernel_w=3"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("stride_h=64", "field 'stride_h': out of range 1..63"),
        ("dilation_w=256", "field 'dilation_w': out of range 1..255"),
        ("pad_left=256", "field 'pad_left': out of range 0..255"),
        ("m_steps=0", "field 'm_steps': out of range 1..4095"),
    ],
)
def test_img2col_ranges(extra: str, message: str) -> None:
    assert message in problems(f"{_IMG2COL} {extra}")


def test_cross_core_flag_range() -> None:
    text = "cross_set_flag src=MTE3 target=aiv0 flag=11"
    assert "field 'flag': out of range 0..10" in problems(text, SEPARATED, "aic")


# ------------------------------------------------------------------ spaces, paths, alignment


@pytest.mark.parametrize(
    ("line", "config", "unit", "message"),
    [
        ("mmad dst=L0C[0] a=L0B[0] b=L0B[0] m=16 k=16 n=16", COUPLED, "core",
         "mmad: field 'a': must be in L0A (value L0B[0x0])"),
        ("vadd dtype=fp16 dst=L1[0] src0=UB[0] src1=UB[0]", COUPLED, "core",
         "vadd: field 'dst': must be in UB"),
        ("copy dst=L0C[0] src=GM[0]", COUPLED, "core", "copy has no GM -> L0C path"),
        ("copy_l0c_to_ub dst=UB[0] src=L0C[0]", SEPARATED, "aiv0",
         "no L0C -> UB data path on this separated chip"),
        ("fixpipe dst=GM[0] src=L0C[0] m=16 n=16", COUPLED, "core",
         "no L0C -> GM data path on this coupled chip"),
        ("copy dst=UB[0] src=L1[0]", SEPARATED, "aic", "no L1 -> UB data path"),
        ("copy dst=GM[0] src=L1[0]", COUPLED, "core", "no L1 -> GM data path"),
    ],
)
def test_operand_spaces_and_paths(line: str, config: FakeConfig, unit: str, message: str) -> None:
    assert message in problems(line, config, unit)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("vadd dtype=fp16 dst=UB[0x10] src0=UB[0] src1=UB[0]", "field 'dst': not aligned to 32 B"),
        ("load2d dst=L0A[0x100] src=L1[0]", "field 'dst': not aligned to 512 B"),
        ("mmad dst=L0C[0x200] a=L0A[0] b=L0B[0] m=16 k=16 n=16", "not aligned to 1024 B"),
        ("copy dst=L1[0x8] src=GM[0x3]", "field 'dst': not aligned to 32 B (L1"),
        ("copy dst=L1[-32] src=GM[0]", "field 'dst': negative address"),
    ],
)
def test_alignment(line: str, message: str) -> None:
    assert message in problems(line)


def test_gm_needs_no_alignment() -> None:
    assert problems("copy dst=L1[0x0] src=GM[0x3]") == ""


def test_capacity() -> None:
    text = "copy dst=L1[0xff000] src=GM[0] burst_len=256"  # 8 KiB from 1 MiB - 4 KiB
    assert (
        "copy: field 'dst': region L1[0xff000:0x101000] exceeds L1 capacity of 1048576 B"
        in problems(text)
    )


def test_bias_table_is_absent_on_coupled_chips() -> None:
    assert "field 'dst': no L1 -> BT data path on this coupled chip" in problems(
        "copy dst=BT[0] src=L1[0]"
    )
    assert problems("copy dst=BT[0] src=L1[0]", SEPARATED, "aic") == ""


# ------------------------------------------------------------------ dtypes and shapes


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("mmad dst=L0C[0] a=L0A[0] b=L0B[0] m=16 k=16 n=16 dtype=bf16",
         "field 'dtype': not a Cube type of this chip (fp16, int8)"),
        ("load2d dst=L0A[0] src=L1[0] transpose=true dtype=int8",
         "transposing load2d takes 2-byte types only"),
        ("vconv dst_dtype=bf16 src_dtype=fp16 dst=UB[0] src=UB[0x400]",
         "field 'dst_dtype': no fp16 -> bf16 conversion"),
        ("copy_l0c_to_ub dst=UB[0] src=L0C[0] src_dtype=int8 dst_dtype=fp16",
         "no int8 -> fp16 conversion"),
        (f"vexp dtype=int16 {_V}", "field 'dtype': vexp takes fp16, fp32"),
        (f"vnot dtype=fp16 {_V}", "vnot takes int16, int32, int8, uint8"),
        ("img2col dst=L0A[0] src=L1[0] fmap_h=2 fmap_w=8 c1=1 kernel_h=3 kernel_w=3",
         "field 'kernel_h': dilated kernel larger than the padded"),
        (f"{_IMG2COL} k_start=8 k_steps=2", "k_start + k_steps exceeds the 9 K fractals"),
        ("copy_nd2nz dst=L1[0] src=GM[0] rows=16 cols=32 src_row_stride=16",
         "field 'src_row_stride': smaller than cols (32)"),
    ],
)
def test_dtypes_and_shapes(line: str, message: str) -> None:
    assert message in problems(line)


def test_fixpipe_conversion_and_nd_stride() -> None:
    base = "fixpipe dst=GM[0] src=L0C[0] m=16 n=32"
    assert "no fp16 -> fp16 conversion" in problems(f"{base} src_dtype=fp16", SEPARATED, "aic")
    assert "field 'dst_row_stride': smaller than n (32)" in problems(
        f"{base} nz2nd=true dst_row_stride=16", SEPARATED, "aic"
    )


# ------------------------------------------------------------------ units and flags


@pytest.mark.parametrize(
    ("line", "unit", "message"),
    [
        ("mmad dst=L0C[0] a=L0A[0] b=L0B[0] m=16 k=16 n=16", "aiv0",
         "mmad: runs on pipe M, which unit aiv0 does not have"),
        ("vadd dtype=fp16 dst=UB[0] src0=UB[0] src1=UB[0]", "aic",
         "vadd: field 'dst': unit aic cannot reach UB"),
        ("load2d dst=L0A[0] src=L1[0]", "aiv1", "field 'src': unit aiv1 cannot reach L1"),
        ("barrier target=V", "aic", "field 'target': unit aic has no pipe V"),
        ("set_flag src=M dst=V event=0\nwait_flag src=M dst=V event=0", "aiv0",
         "field 'src': unit aiv0 has no pipe M"),
        ("cross_set_flag src=MTE3 target=aiv1 flag=0", "aiv1", "field 'target': a unit cannot"),
    ],
)
def test_unit_placement_on_separated_chips(line: str, unit: str, message: str) -> None:
    assert message in problems(line, SEPARATED, unit)


def test_units_must_match_the_organisation() -> None:
    line = "barrier target=M"
    assert "core 0 unit aic: not a unit of a coupled chip" in problems(line, COUPLED, "aic")
    assert "core 0 unit core: not a unit of a separated chip" in problems(line, SEPARATED)


def test_cross_core_flags_only_on_separated_chips() -> None:
    text = "cross_set_flag src=MTE3 target=aiv0 flag=0"
    assert "cross-core flags exist only on separated chips" in problems(text)


def test_flag_to_the_same_pipe_is_invalid_except_v_and_fix() -> None:
    text = "set_flag src=MTE2 dst=MTE2 event=0\nwait_flag src=MTE2 dst=MTE2 event=0"
    assert "set_flag: field 'dst': a flag from a pipe to itself is invalid" in problems(text)
    assert problems("set_flag src=V dst=V event=0\nwait_flag src=V dst=V event=0") == ""


def test_all_pipe_only_in_barrier() -> None:
    text = "set_flag src=ALL dst=V event=0\nwait_flag src=ALL dst=V event=0"
    assert "field 'src': ALL is only valid as a barrier target" in problems(text)
    assert problems("barrier target=ALL") == ""


def test_wait_without_set_names_the_wait_line() -> None:
    text = "barrier target=V\nwait_flag src=MTE2 dst=V event=1"
    assert problems(text) == (
        "t: core 0 unit core line 2: wait_flag: flag src=MTE2 dst=V event=1 is never set in "
        "this stream"
    )


def test_unbalanced_flags() -> None:
    twice = "set_flag src=MTE2 dst=V event=0\nwait_flag src=MTE2 dst=V event=0\n"
    assert "line 3: wait_flag: flag src=MTE2 dst=V event=0 is waited 2 times but set 1" in (
        problems(twice + "wait_flag src=MTE2 dst=V event=0")
    )
    assert "line 3: set_flag: flag src=MTE2 dst=V event=0 is set 2 times but waited 1" in (
        problems(twice + "set_flag src=MTE2 dst=V event=0")
    )


def test_cross_core_wait_without_set() -> None:
    text = ".core 0 aic\nbarrier target=M\n.core 0 aiv0\ncross_wait_flag dst=V flag=2\n"
    assert "line 4: cross_wait_flag: flag 2 of aiv0 is never set" in problems(text, SEPARATED)


# ------------------------------------------------------------------ mask mode


def test_counter_mode_mask_takes_the_count_in_lo() -> None:
    text = "set_mask_mode counter=true\nset_mask hi=1 lo=5"
    assert "set_mask: field 'hi': must be 0 in counter mode" in problems(text)
    assert "count of 0 elements" in problems("set_mask_mode counter=true\nset_mask hi=0 lo=0")
    assert problems("set_mask hi=1 lo=0") == ""  # normal mode: lane 64 only


def test_empty_normal_mask() -> None:
    assert "set_mask: field 'lo': the mask selects no lanes" in problems("set_mask hi=0 lo=0")


# ------------------------------------------------------------------ declarations


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        (".input A L1[0xff000] fp16 (64, 64)", ".input A: field 'shape': 8192 B at L1[0xff000]"),
        (".output C UB[0x4] fp16 (16)", ".output C: field 'addr': not aligned to 32 B"),
        (".input A GM[0] fp16 (16) core=2", ".input A: field 'core': no such core (1 cores)"),
        (".input A FB[0] fp16 (16)", "FB does not exist on this chip"),
        (".input A L1[0x0] fp16 (4, 4) layout=blocked",
         "field 'layout': unknown layout (nd, ndp, nz"),
        (".input A L1[0x0] fp16 (4, 4) init=noise", "field 'init': unknown init (random, zeros"),
        (".input A L1[0x0] fp16 (64) layout=nz", "field 'shape': layout nz: expected a 2-D array"),
        # nz pads 20 x 20 fp16 to 2 column blocks x 32 rows x 32 B = 2048 B
        (".input A L1[0xff900] fp16 (20, 20) layout=nz", "2048 B at L1[0xff900] exceeds"),
    ],
)
def test_declarations_fit_their_space(decl: str, message: str) -> None:
    assert message in problems(decl)


# ------------------------------------------------------------------ rule tables cover the ISA


def test_rule_tables_cover_every_field_and_op() -> None:
    for cls in INSTRUCTION_CLASSES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] is int:
                assert range_rule(cls, f.name) is not None, f"{cls.__name__}.{f.name}"
            if hints[f.name] is Addr:
                assert operand_spaces(cls, f.name), f"{cls.__name__}.{f.name}"
        op_type = hints.get("op")
        for op in op_type or ():
            assert op in VECTOR_DTYPES, op
        if issubclass(cls, VectorInstruction) and not op_type:
            assert cls in VECTOR_DTYPES or cls in CONVERSIONS, cls.__name__


def test_generated_streams_without_lines_use_positions() -> None:
    instr: Instruction = parse_instruction("barrier target=FIX")
    kernel = Kernel("gen", ({"core": Stream((instr, instr))},))
    assert "gen: core 0 unit core line 2: barrier" in "\n".join(kernel_problems(kernel, COUPLED))
