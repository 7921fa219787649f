"""The assembly parser: instruction lines and whole kernels back into dataclasses.

Every error is an AsmError whose one-line message names the source, the line number and the
token or field at fault (``matmul.s:12: vadd: unknown field 'rpt' (fields: dtype, dst, ...)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from isa.asm_fields import ValueTextError, build_fields, parse_enum, suggest
from isa.davinci.asm_print import DEFAULT_TOLERANCE
from isa.davinci.asm_values import SYNTAX, mnemonic_table, parse_addr
from isa.davinci.base import Instruction
from isa.davinci.program import COUPLED_UNITS, SEPARATED_UNITS, DataDecl, Kernel, Stream
from isa.davinci.types import DType
from isa.errors import AsmError

UNITS = COUPLED_UNITS + SEPARATED_UNITS
_DECL_RE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*(.*)$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _instruction(text: str) -> Instruction:
    mnemonic, *tokens = text.split()
    table = mnemonic_table()
    form = table.get(mnemonic)
    if form is None:
        raise ValueTextError(f"unknown mnemonic {mnemonic!r} ({suggest(mnemonic, list(table))})")
    instr: Instruction = build_fields(form, tokens, SYNTAX)
    return instr


def parse_instruction(line: str, source: str = "<string>", lineno: int = 1) -> Instruction:
    """Parse one instruction line (``vadd dtype=fp16 dst=UB[0x0] ...``; ``#`` comments ok)."""
    text = _strip_comment(line)
    if not text:
        raise AsmError(f"{source}:{lineno}: expected an instruction, got an empty line")
    try:
        return _instruction(text)
    except ValueTextError as err:
        raise AsmError(f"{source}:{lineno}: {err}") from None


@dataclass
class _KernelText:
    """Parser state for one kernel text (local to one parse_kernel call)."""

    source: str
    name: str = ""
    block_dim: int | None = None
    tolerance: float = DEFAULT_TOLERANCE
    notes: dict[str, str] = field(default_factory=dict)
    inputs: list[DataDecl] = field(default_factory=list)
    outputs: list[DataDecl] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    # (core index or "*", unit) -> (directive line, instructions, their lines)
    streams: dict[tuple[int | str, str], tuple[int, list[Instruction], list[int]]] = field(
        default_factory=dict
    )
    current: tuple[int | str, str] = (0, "core")

    def select(self, key: tuple[int | str, str], lineno: int) -> None:
        self.current = key
        self.streams.setdefault(key, (lineno, [], []))

    def add(self, instr: Instruction, lineno: int) -> None:
        _, instrs, lines = self.streams.setdefault(self.current, (lineno, [], []))
        instrs.append(instr)
        lines.append(lineno)


def _directive_kernel(state: _KernelText, args: str) -> None:
    if not args or len(args.split()) != 1:
        raise ValueTextError(f".kernel: expected one name, got {args!r}")
    state.name = args


def _directive_cores(state: _KernelText, args: str) -> None:
    try:
        count = int(args)
    except ValueError:
        raise ValueTextError(f".cores: expected a positive integer, got {args!r}") from None
    if count < 1:
        raise ValueTextError(f".cores: expected a positive integer, got {args!r}")
    state.block_dim = count


def _parse_core(state: _KernelText, args: str, lineno: int) -> None:
    parts = args.split()
    if not 1 <= len(parts) <= 2:
        raise ValueTextError(f".core: expected 'N|* [unit]', got {args!r}")
    unit = parts[1] if len(parts) == 2 else "core"
    if unit not in UNITS:
        raise ValueTextError(f".core: unknown unit {unit!r} (units: {', '.join(UNITS)})")
    core: int | str = parts[0]
    if core != "*":
        if not parts[0].isdigit():
            raise ValueTextError(f".core: expected a core index or '*', got {parts[0]!r}")
        core = int(parts[0])
    state.select((core, unit), lineno)


def _parse_decl(directive: str, args: str) -> DataDecl:
    match = _DECL_RE.match(args)
    if match is None:
        raise ValueTextError(
            f"{directive}: expected 'NAME SPACE[addr] DTYPE (d0, d1, ...) [key=value ...]', "
            f"got {args!r}"
        )
    name, addr_text, dtype_text, shape_text, rest = match.groups()
    if not _NAME_RE.match(name):
        raise ValueTextError(f"{directive}: bad tensor name {name!r}")
    try:
        addr = parse_addr(addr_text)
        dtype = parse_enum(DType, dtype_text)
    except ValueTextError as err:
        raise ValueTextError(f"{directive} {name}: {err}") from None
    dims = [d.strip() for d in shape_text.split(",")]
    if dims and dims[-1] == "":
        dims.pop()  # "(128,)"
    if not all(d.isdigit() for d in dims):
        raise ValueTextError(f"{directive} {name}: shape: expected integers, got ({shape_text})")
    options: dict[str, str | int] = {}
    for token in rest.split():
        key, sep, value = token.partition("=")
        if key not in ("layout", "init", "core") or not sep or not value:
            raise ValueTextError(
                f"{directive} {name}: unknown option {token!r} (options: layout=, init=, core=)"
            )
        if key == "core":
            if not value.isdigit():
                raise ValueTextError(
                    f"{directive} {name}: core: expected an integer, got {value!r}"
                )
            options[key] = int(value)
        elif _NAME_RE.match(value):
            options[key] = value
        else:
            raise ValueTextError(f"{directive} {name}: {key}: bad name {value!r}")
    return DataDecl(name, addr, dtype, tuple(int(d) for d in dims), **options)  # type: ignore[arg-type]


def _directive_tolerance(state: _KernelText, args: str) -> None:
    try:
        state.tolerance = float(args)
    except ValueError:
        raise ValueTextError(f".tolerance: expected a number, got {args!r}") from None


def _directive_note(state: _KernelText, args: str) -> None:
    if not args:
        raise ValueTextError(".note: expected 'key free text'")
    key, *text = args.split(None, 1)
    state.notes[key] = text[0].strip() if text else ""


def _directive_expect(state: _KernelText, args: str) -> None:
    if not args:
        raise ValueTextError(".expect: expected a check such as 'C = A @ B'")
    state.checks.append(args)


_DIRECTIVES: dict[str, Callable[[_KernelText, str], None]] = {
    ".kernel": _directive_kernel,
    ".cores": _directive_cores,
    ".input": lambda state, args: state.inputs.append(_parse_decl(".input", args)),
    ".output": lambda state, args: state.outputs.append(_parse_decl(".output", args)),
    ".expect": _directive_expect,
    ".tolerance": _directive_tolerance,
    ".note": _directive_note,
}


def _assemble(state: _KernelText) -> Kernel:
    """Expand ``.core *`` sections over every core and build the Kernel. A unit named by both
    ``.core *`` and ``.core N`` sections gets their instructions merged in source order."""
    indices = [core for core, _ in state.streams if isinstance(core, int)]
    block_dim = state.block_dim or max(indices, default=0) + 1
    merged: list[dict[str, list[tuple[int, Instruction]]]] = [{} for _ in range(block_dim)]
    for (core, unit), (lineno, instrs, lines) in state.streams.items():
        targets = range(block_dim) if core == "*" else [int(core)]
        for index in targets:
            if index >= block_dim:
                raise AsmError(
                    f"{state.source}:{lineno}: .core {index}: core index out of range "
                    f"(.cores {block_dim})"
                )
            merged[index].setdefault(unit, []).extend(zip(lines, instrs, strict=True))
    cores = tuple(
        {
            unit: Stream(
                tuple(instr for _, instr in sorted(pairs, key=lambda p: p[0])),
                tuple(sorted(line for line, _ in pairs)),
            )
            for unit, pairs in core.items()
        }
        for core in merged
    )
    return Kernel(
        name=state.name,
        cores=cores,
        inputs=tuple(state.inputs),
        outputs=tuple(state.outputs),
        checks=tuple(state.checks),
        tolerance=state.tolerance,
        notes=state.notes,
    )


def _default_name(source: str) -> str:
    stem = Path(source).stem
    return stem if _NAME_RE.match(stem) else "kernel"


def parse_kernel(text: str, source: str = "<string>") -> Kernel:
    """Parse a kernel text (directives, ``.core`` sections and instruction lines)."""
    state = _KernelText(source)
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        try:
            if line.startswith("."):
                directive, *rest = line.split(None, 1)
                args = rest[0].strip() if rest else ""
                if directive == ".core":
                    _parse_core(state, args, lineno)
                elif directive in _DIRECTIVES:
                    _DIRECTIVES[directive](state, args)
                else:
                    known = sorted([*_DIRECTIVES, ".core"])
                    raise ValueTextError(
                        f"unknown directive {directive!r} ({suggest(directive, known)})"
                    )
            else:
                state.add(_instruction(line), lineno)
        except ValueTextError as err:
            raise AsmError(f"{source}:{lineno}: {err}") from None
    if not state.name:
        state.name = _default_name(source)
    return _assemble(state)


def load_kernel(path: str | Path) -> Kernel:
    """Read and parse an assembly file; its path is the source named in error messages."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise AsmError(f"{path}: cannot read: {err.strerror or err}") from None
    return parse_kernel(text, source=str(path))
