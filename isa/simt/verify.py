"""The SIMT verifier: every problem names the program, the line, the mnemonic and the field.

`kernel_problems` lists them all; `verify_kernel` raises the first as a VerifyError. Rules are
per format (`_RULES`); resource limits that depend on the GPU come in `Limits`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

from isa.errors import VerifyError
from isa.simt.instructions import (
    BITWISE_OPS,
    Binary,
    BinOp,
    Bra,
    CpAsync,
    CpAsyncWait,
    Cvt,
    Exit,
    Fma,
    FmaOp,
    Instruction,
    Ld,
    LdMatrix,
    LdOp,
    LdParam,
    Mma,
    Setp,
    Shfl,
    St,
    Unary,
    UnOp,
)
from isa.simt.memory_ops import LDMATRIX_COUNTS
from isa.simt.program import DATA_DTYPES, Kernel, Program
from isa.simt.types import (
    CP_ASYNC_WIDTHS_BITS,
    LANES,
    MAX_PREDS,
    MAX_REGS,
    MEM_WIDTHS_BITS,
    CacheOp,
    DType,
    Pred,
    Reg,
    regs_for_width,
)

Problem = tuple[str, str]
"""(field, message) of one instruction problem."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-GPU limits (CUDA compute-capability table, facts/gpu.md §1)."""

    max_threads_per_cta: int = 1024
    max_shared_per_cta_bytes: int = 48 * 1024
    max_regs_per_thread: int = MAX_REGS
    max_cp_async_groups: int = 8


_ALU_TYPES = (DType.U32, DType.S32, DType.F32, DType.F16X2)
_F16X2_OPS = frozenset({BinOp.ADD, BinOp.SUB, BinOp.MUL, BinOp.MIN, BinOp.MAX})


def _operand_type(name: str, value: object, dtype: DType) -> Iterator[Problem]:
    if isinstance(value, float) and not dtype.is_float:
        yield name, f"float immediate {value!r} in a {dtype.value} op"
    if isinstance(value, int) and not isinstance(value, bool) and not dtype.is_float:
        if not -(2**31) <= value < 2**32:
            yield name, f"immediate {value} does not fit 32 bits"
    if dtype is DType.F16X2 and not isinstance(value, Reg):
        yield name, "f16x2 ops take registers only"


def _alu_type(dtype: DType) -> Iterator[Problem]:
    if dtype not in _ALU_TYPES:
        yield "type", f"{dtype.value} is not an ALU type (u32, s32, f32, f16x2)"


def _binary(instr: Binary) -> Iterator[Problem]:
    yield from _alu_type(instr.type)
    if instr.op in BITWISE_OPS and instr.type.is_float:
        yield "type", f"{instr.op.value} needs an integer type, got {instr.type.value}"
    if instr.type is DType.F16X2 and instr.op not in _F16X2_OPS:
        yield "type", f"{instr.op.value} has no f16x2 form"
    for name in ("a", "b"):
        yield from _operand_type(name, getattr(instr, name), instr.type)


def _unary(instr: Unary) -> Iterator[Problem]:
    yield from _alu_type(instr.type)
    if instr.op is UnOp.NOT and instr.type.is_float:
        yield "type", f"not needs an integer type, got {instr.type.value}"
    if instr.type is DType.F16X2 and instr.op is not UnOp.MOV:
        yield "type", f"{instr.op.value} has no f16x2 form"
    yield from _operand_type("a", instr.a, instr.type)


def _fma(instr: Fma) -> Iterator[Problem]:
    yield from _alu_type(instr.type)
    if (instr.op is FmaOp.FMA) != instr.type.is_float:
        want = "a float type (f32, f16x2)" if instr.op is FmaOp.FMA else "an integer type"
        yield "type", f"{instr.op.value} needs {want}, got {instr.type.value}"
    for name in ("a", "b", "c"):
        yield from _operand_type(name, getattr(instr, name), instr.type)


def _cvt(instr: Cvt) -> Iterator[Problem]:
    for name in ("dst", "src"):
        if getattr(instr, name) is DType.F16X2:
            yield name, "cvt converts scalars: use f16 for one half"


def _setp(instr: Setp) -> Iterator[Problem]:
    if instr.type not in (DType.U32, DType.S32, DType.F32):
        yield "type", f"setp compares u32, s32 or f32, got {instr.type.value}"
    for name in ("a", "b"):
        yield from _operand_type(name, getattr(instr, name), instr.type)


def _aligned(name: str, offset: int, width_bits: int) -> Iterator[Problem]:
    if offset % (width_bits // 8):
        yield name, f"offset {offset} is not a multiple of the access size {width_bits // 8} B"


def _ld(instr: Ld) -> Iterator[Problem]:
    if instr.width not in MEM_WIDTHS_BITS:
        yield "width", f"width {instr.width} not in {MEM_WIDTHS_BITS}"
        return
    yield from _aligned("offset", instr.offset, instr.width)
    if instr.op is LdOp.SHARED and instr.cache is not CacheOp.CA:
        yield "cache", "cache operators apply to global loads only"


def _st(instr: Instruction) -> Iterator[Problem]:
    width, offset = instr.width, instr.offset  # type: ignore[attr-defined]
    if width not in MEM_WIDTHS_BITS:
        yield "width", f"width {width} not in {MEM_WIDTHS_BITS}"
        return
    yield from _aligned("offset", offset, width)


def _cp_async(instr: CpAsync) -> Iterator[Problem]:
    if instr.width not in CP_ASYNC_WIDTHS_BITS:
        yield "width", f"width {instr.width} not in {CP_ASYNC_WIDTHS_BITS}"
        return
    if instr.cache is CacheOp.CG and instr.width != 128:
        yield "cache", "cp.async with cache=cg copies 16 bytes (width=128) only, as in PTX"
    yield from _aligned("dst_offset", instr.dst_offset, instr.width)
    yield from _aligned("src_offset", instr.src_offset, instr.width)


def _shfl(instr: Shfl) -> Iterator[Problem]:
    if isinstance(instr.b, int) and not 0 <= instr.b < LANES:
        yield "b", f"lane {instr.b} out of range 0..{LANES - 1}"


def _ldmatrix(instr: LdMatrix) -> Iterator[Problem]:
    if instr.num not in LDMATRIX_COUNTS:
        yield "num", f"num {instr.num} not in {LDMATRIX_COUNTS}"
    yield from _aligned("offset", instr.offset, 128)


def _cp_wait(instr: CpAsyncWait) -> Iterator[Problem]:
    if instr.n < 0:
        yield "n", f"expected a non-negative group count, got {instr.n}"


_RULES: dict[type, Callable[..., Iterator[Problem]]] = {
    Binary: _binary, Unary: _unary, Fma: _fma, Cvt: _cvt, Setp: _setp, Ld: _ld,
    CpAsync: _cp_async, Shfl: _shfl, CpAsyncWait: _cp_wait, LdMatrix: _ldmatrix,
}
"""Format-specific checks; formats without an entry need only the generic operand checks."""


def _field_span(instr: Instruction, name: str) -> int:
    """Registers a register field covers (wide loads/stores and mma fragments span several)."""
    if isinstance(instr, Mma):
        return {"b": 2}.get(name, 4)
    if isinstance(instr, Ld | St) and name in ("d", "a"):
        return regs_for_width(instr.width)
    if isinstance(instr, LdMatrix) and name == "d":
        return instr.num
    return 1


def _operands(instr: Instruction, program: Program, params: int) -> Iterator[Problem]:
    for f in fields(instr):
        value = getattr(instr, f.name)
        if isinstance(value, Reg):
            top = value.index + _field_span(instr, f.name) - 1
            if top >= program.regs:
                yield f.name, f"register r{top} beyond .regs {program.regs}"
        if isinstance(value, Pred) and value.index >= MAX_PREDS:
            yield f.name, f"predicate {value} beyond p{MAX_PREDS - 1}"
    for pred in instr.pred_dsts():
        if pred.neg:
            yield ("p" if isinstance(instr, Setp) else "d"), f"cannot write a negated {pred}"
    if isinstance(instr, Bra) and instr.target not in program.labels:
        yield "target", f"unknown label {instr.target!r}"
    if isinstance(instr, LdParam) and not 0 <= instr.index < params:
        yield "index", f"parameter {instr.index} not given (.param count {params})"


def _program_problems(kernel: Kernel, limits: Limits) -> Iterator[str]:
    program, launch = kernel.program, kernel.launch
    where = program.name
    if not program.instructions:
        yield f"{where}: empty program"
        return
    last = program.instructions[-1]
    if not isinstance(last, Exit | Bra) or last.guard is not None:
        yield f"{where}:{program.line(len(program) - 1)}: the program must end with an " \
            "unguarded exit or bra"
    if not 1 <= program.regs <= limits.max_regs_per_thread:
        yield f"{where}: .regs {program.regs} outside 1..{limits.max_regs_per_thread}"
    if program.shared_bytes > limits.max_shared_per_cta_bytes:
        yield f"{where}: .shared {program.shared_bytes} B exceeds the " \
            f"{limits.max_shared_per_cta_bytes} B per CTA limit"
    if launch.threads_per_cta > limits.max_threads_per_cta:
        yield f"{where}: .block {launch.block} has {launch.threads_per_cta} threads, limit " \
            f"{limits.max_threads_per_cta}"
    for name, index in program.labels.items():
        if not 0 <= index <= len(program):
            yield f"{where}: label {name!r} points outside the program"
    for decl in (*kernel.inputs, *kernel.outputs):
        if decl.dtype not in DATA_DTYPES:
            yield f"{where}: data {decl.name!r}: dtype {decl.dtype.value} not in " \
                f"{', '.join(d.value for d in DATA_DTYPES)}"


def kernel_problems(kernel: Kernel, limits: Limits = Limits()) -> list[str]:
    """Every problem of the kernel, one line each: ``name:line: mnemonic: field 'f': ...``."""
    program = kernel.program
    problems = list(_program_problems(kernel, limits))
    params = len(kernel.launch.params)
    for index, instr in enumerate(program.instructions):
        rule = _RULES.get(type(instr))
        found = [*_operands(instr, program, params), *(rule(instr) if rule else ())]
        for name, message in found:
            problems.append(
                f"{program.name}:{program.line(index)}: {instr.mnemonic}: field {name!r}: "
                f"{message}"
            )
    return problems


def verify_kernel(kernel: Kernel, limits: Limits = Limits()) -> Kernel:
    """The kernel unchanged, or VerifyError with its first problem (and how many more)."""
    problems = kernel_problems(kernel, limits)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VerifyError(problems[0] + more)
    return kernel
