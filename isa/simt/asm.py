"""Text assembly of the SIMT ISA: a printer and a parser that round-trip.

One instruction per line, an optional guard, the mnemonic, then ``field=value`` in the
dataclass's field order (fields at their default may be left out); ``NAME:`` lines are labels::

    .kernel saxpy
    .grid 64 1 1                 # CTAs (x y z)
    .block 256 1 1               # threads per CTA (x y z)
    .regs 16                     # registers per thread
    .shared 0                    # static shared memory per CTA, bytes
    .param 0x0                   # kernel parameters in order (read with ld.param)
    .input x 0x0 f32 (16384,) init=random
    .output y 0x10000 f32 (16384,)
    .expect y = 2 * x
    .tolerance 0.001
    .note key free text
        mov.sreg d=r0 s=tid.x
    LOOP:
        setp cmp=lt type=u32 p=p0 a=r0 b=100
        @p0 bra target=LOOP
        @!p0 add type=u32 d=r1 a=r0 b=4
        exit

Values: registers ``r3``, predicates ``p1`` / ``!p1``, enums by their text (``f32``,
``tid.x``, ``lt``), integers (decimal or 0x hex), floats as Python writes them, labels by name.
``#`` starts a comment. Errors are AsmError naming the source, line and token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from isa.asm_fields import (
    Codec,
    InstructionForm,
    Syntax,
    ValueTextError,
    build_fields,
    build_table,
    format_fields,
    parse_enum,
    parse_int,
    suggest,
)
from isa.errors import AsmError
from isa.simt.instructions import INSTRUCTION_CLASSES, Instruction
from isa.simt.program import DataDecl, Kernel, Launch, Program
from isa.simt.types import DType, Label, Pred, Reg

SYNTAX = Syntax({
    Reg: Codec(str, Reg.parse),
    Pred: Codec(str, Pred.parse),
    Label: Codec(str, Label.parse),
})
"""How SIMT operand types are written."""

GUARD_FIELD = "guard"
DEFAULT_TOLERANCE = 1e-2
_LABEL_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.$]*):\s*(.*)$")
_DECL_RE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*(.*)$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_INITS = ("random", "zeros", "ones", "arange")


@cache
def mnemonic_table() -> Mapping[str, InstructionForm]:
    """Every SIMT mnemonic -> its form (built once from INSTRUCTION_CLASSES)."""
    return build_table(INSTRUCTION_CLASSES, skip=(GUARD_FIELD,))


def format_instruction(instr: Instruction, *, full: bool = False) -> str:
    """``[@p] mnemonic field=value ...``."""
    form = mnemonic_table()[instr.mnemonic]
    text = format_fields(instr, form, SYNTAX, full=full)
    return f"@{instr.guard} {text}" if instr.guard is not None else text


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _instruction(text: str) -> Instruction:
    extra = {}
    if text.startswith("@"):
        guard_text, _, text = text[1:].partition(" ")
        try:
            extra[GUARD_FIELD] = Pred.parse(guard_text)
        except ValueTextError as err:
            raise ValueTextError(f"guard: {err}") from None
        text = text.strip()
        if not text:
            raise ValueTextError("expected an instruction after the guard")
    mnemonic, *tokens = text.split()
    table = mnemonic_table()
    form = table.get(mnemonic)
    if form is None:
        raise ValueTextError(f"unknown mnemonic {mnemonic!r} ({suggest(mnemonic, list(table))})")
    instr: Instruction = build_fields(form, tokens, SYNTAX, extra)
    return instr


def parse_instruction(line: str, source: str = "<string>", lineno: int = 1) -> Instruction:
    """Parse one instruction line (guard, mnemonic and fields; ``#`` comments allowed)."""
    text = _strip_comment(line)
    if not text:
        raise AsmError(f"{source}:{lineno}: expected an instruction, got an empty line")
    try:
        return _instruction(text)
    except ValueTextError as err:
        raise AsmError(f"{source}:{lineno}: {err}") from None


def _format_decl(directive: str, decl: DataDecl) -> str:
    shape = "(" + ", ".join(str(d) for d in decl.shape) + ("," if len(decl.shape) == 1 else "")
    text = f"{directive} {decl.name} {decl.addr:#x} {decl.dtype.value} {shape})"
    return text + (f" init={decl.init}" if decl.init != "random" else "")


def format_program(program: Program) -> list[str]:
    """The instruction lines of a program, labels on their own lines."""
    at: dict[int, list[str]] = {}
    for name, index in program.labels.items():
        at.setdefault(index, []).append(name)
    lines = []
    for index, instr in enumerate(program.instructions):
        lines += [f"{name}:" for name in at.get(index, [])]
        lines.append("    " + format_instruction(instr))
    lines += [f"{name}:" for name in at.get(len(program.instructions), [])]
    return lines


def format_kernel(kernel: Kernel) -> str:
    """The kernel as assembly text; ``parse_kernel(format_kernel(k)) == k``."""
    program, launch = kernel.program, kernel.launch
    lines = [
        f".kernel {program.name}",
        ".grid " + " ".join(map(str, launch.grid)),
        ".block " + " ".join(map(str, launch.block)),
        f".regs {program.regs}",
        f".shared {program.shared_bytes}",
    ]
    lines += [f".param {value:#x}" for value in launch.params]
    if kernel.tolerance != DEFAULT_TOLERANCE:
        lines.append(f".tolerance {kernel.tolerance!r}")
    lines += [f".note {key} {text}".rstrip() for key, text in kernel.notes.items()]
    lines += [_format_decl(".input", d) for d in kernel.inputs]
    lines += [_format_decl(".output", d) for d in kernel.outputs]
    lines += [f".expect {check}" for check in kernel.checks]
    return "\n".join(lines + format_program(program)) + "\n"


@dataclass
class _State:
    """Parser state of one kernel text."""

    source: str
    name: str = ""
    grid: tuple[int, int, int] = (1, 1, 1)
    block: tuple[int, int, int] = (32, 1, 1)
    regs: int = 32
    shared: int = 0
    params: list[int] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    notes: dict[str, str] = field(default_factory=dict)
    inputs: list[DataDecl] = field(default_factory=list)
    outputs: list[DataDecl] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


def _dims(directive: str, args: str) -> tuple[int, int, int]:
    parts = args.split()
    if not 1 <= len(parts) <= 3:
        raise ValueTextError(f"{directive}: expected 1 to 3 positive integers, got {args!r}")
    values = [parse_int(p) for p in parts] + [1] * (3 - len(parts))
    if min(values) < 1:
        raise ValueTextError(f"{directive}: dimensions must be positive, got {args!r}")
    return values[0], values[1], values[2]


def _count(directive: str, args: str) -> int:
    value = parse_int(args.strip())
    if value < 0:
        raise ValueTextError(f"{directive}: expected a non-negative integer, got {args!r}")
    return value


def _decl(directive: str, args: str) -> DataDecl:
    match = _DECL_RE.match(args)
    if match is None:
        raise ValueTextError(
            f"{directive}: expected 'NAME ADDR DTYPE (d0, d1, ...) [init=...]', got {args!r}"
        )
    name, addr_text, dtype_text, shape_text, rest = match.groups()
    if not _NAME_RE.match(name):
        raise ValueTextError(f"{directive}: bad tensor name {name!r}")
    dims = [d.strip() for d in shape_text.split(",") if d.strip()]
    if not all(d.isdigit() for d in dims):
        raise ValueTextError(f"{directive} {name}: shape: expected integers, got ({shape_text})")
    init = "random"
    for token in rest.split():
        key, _, value = token.partition("=")
        if key != "init" or value not in _INITS:
            raise ValueTextError(
                f"{directive} {name}: unknown option {token!r} (init={'|'.join(_INITS)})"
            )
        init = value
    try:
        dtype = parse_enum(DType, dtype_text)
        addr = parse_int(addr_text)
    except ValueTextError as err:
        raise ValueTextError(f"{directive} {name}: {err}") from None
    return DataDecl(name, addr, dtype, tuple(int(d) for d in dims), init)  # type: ignore[arg-type]


def _note(state: _State, args: str) -> None:
    key, *text = args.split(None, 1)
    state.notes[key] = text[0].strip() if text else ""


def _set(attr: str, parse: Callable[[str, str], object]) -> Callable[[_State, str, str], None]:
    return lambda state, directive, args: setattr(state, attr, parse(directive, args))


_DIRECTIVES: dict[str, Callable[[_State, str, str], None]] = {
    ".kernel": _set("name", lambda d, a: Label.parse(a)),
    ".grid": _set("grid", _dims),
    ".block": _set("block", _dims),
    ".regs": _set("regs", _count),
    ".shared": _set("shared", _count),
    ".param": lambda s, d, a: s.params.append(parse_int(a)),
    ".tolerance": _set("tolerance", lambda d, a: float(a)),
    ".note": lambda s, d, a: _note(s, a),
    ".input": lambda s, d, a: s.inputs.append(_decl(d, a)),
    ".output": lambda s, d, a: s.outputs.append(_decl(d, a)),
    ".expect": lambda s, d, a: s.checks.append(a),
}


def _line(state: _State, line: str, lineno: int) -> None:
    if line.startswith("."):
        directive, *rest = line.split(None, 1)
        handler = _DIRECTIVES.get(directive)
        if handler is None:
            raise ValueTextError(
                f"unknown directive {directive!r} ({suggest(directive, sorted(_DIRECTIVES))})"
            )
        args = rest[0].strip() if rest else ""
        if not args:
            raise ValueTextError(f"{directive}: expected a value")
        try:
            handler(state, directive, args)
        except ValueError as err:
            message = str(err)
            prefix = "" if message.startswith(directive) else f"{directive}: "
            raise ValueTextError(prefix + message) from None
        return
    label = _LABEL_LINE.match(line)
    if label is not None:
        name, line = label.groups()
        if name in state.labels:
            raise ValueTextError(f"label {name!r} defined twice")
        state.labels[name] = len(state.instructions)
        if not line:
            return
    state.instructions.append(_instruction(line))
    state.lines.append(lineno)


def parse_kernel(text: str, source: str = "<string>") -> Kernel:
    """Parse a kernel text: directives, labels and instruction lines."""
    state = _State(source)
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        try:
            _line(state, line, lineno)
        except ValueTextError as err:
            raise AsmError(f"{source}:{lineno}: {err}") from None
    name = state.name or (Path(source).stem if _NAME_RE.match(Path(source).stem) else "kernel")
    program = Program(
        name, tuple(state.instructions), state.labels, state.regs, state.shared,
        tuple(state.lines),
    )
    return Kernel(
        program, Launch(state.grid, state.block, tuple(state.params)), tuple(state.inputs),
        tuple(state.outputs), tuple(state.checks), state.tolerance, state.notes,
    )


def load_kernel(path: str | Path) -> Kernel:
    """Read and parse an assembly file; its path is the source named in errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise AsmError(f"{path}: cannot read: {err.strerror or err}") from None
    return parse_kernel(text, source=str(path))
