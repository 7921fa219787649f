"""Field-level verification rules of the DaVinci ISA: integer ranges, operand spaces and
data paths, alignment and capacity, as tables keyed by field and instruction format.

Each check yields Problems naming the field at fault. Figures cite shared/facts/davinci.md
(section and source tag). Semantic rules (dtypes, shapes, unit placement) and
``check_instruction`` are in ``isa.davinci.verify_checks``; stream and kernel checks in
``isa.davinci.verify``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from isa.davinci.asm_values import format_value
from isa.davinci.base import Instruction
from isa.davinci.cube import Mmad
from isa.davinci.dma import (
    COPY_PATHS,
    Copy,
    CopyGather,
    CopyL0cToUb,
    CopyNd2Nz,
    Fixpipe,
    Img2Col,
    Load2D,
)
from isa.davinci.types import Addr, Space
from isa.davinci.vector import (
    VectorInstruction,
    VReduce,
)

if TYPE_CHECKING:
    from isa.davinci.verify import HwConfig


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an instruction: the field at fault (None for the instruction as a
    whole), what is wrong, and the offending value."""

    field: str | None
    message: str
    value: Any = None

    def render(self, mnemonic: str) -> str:
        if self.field is None:
            return f"{mnemonic}: {self.message}"
        return f"{mnemonic}: field '{self.field}': {self.message} (value {_text(self.value)})"


def _text(value: Any) -> str:
    try:
        return format_value(value)
    except TypeError:
        return str(value)


# ------------------------------------------------------------------ field ranges


@dataclass(frozen=True, slots=True)
class RangeRule:
    """Integer fields matching ``pattern`` (of class ``cls``, or any class when None) must lie
    in ``lo..hi``; ``hi`` may depend on the chip."""

    cls: type[Instruction] | None
    pattern: str
    lo: int
    hi: int | Callable[[HwConfig], int]
    source: str


_U64 = (1 << 64) - 1
RANGE_RULES: tuple[RangeRule, ...] = (
    RangeRule(None, "n_burst", 1, 4095, "nBurst < 4096 (12 bit) [AKG-PARAMS] facts §3.3"),
    RangeRule(None, "burst_len", 1, 65535, "lenBurst < 65536 [AKG-PARAMS] facts §3.3"),
    RangeRule(None, "src_gap|dst_gap", 0, 65535, "strides < 65536 [AKG-PARAMS] facts §3.3"),
    # unsourced: ND->NZ sizes assumed to be 16-bit fields like the other DMA parameters
    RangeRule(CopyNd2Nz, "rows|cols|src_row_stride", 1, 65535, "assumed 16-bit (unsourced)"),
    # unsourced: the gather loop's counts are scalar-register values, assumed 16/32-bit
    RangeRule(CopyGather, "rows|table_rows", 1, 65535, "assumed 16-bit (unsourced)"),
    RangeRule(CopyGather, "row_bytes|src_pitch|dst_pitch", 32, (1 << 31) - 1,
              "one 32 B block or more per row, assumed 32-bit (unsourced)"),
    RangeRule(Load2D, "repeat", 1, 255, "8-bit repeat like vector ops [AKG-CSIM] facts §3.4"),
    RangeRule(Load2D, "src_stride|dst_stride", 0, 65535, "assumed 16-bit (unsourced)"),
    RangeRule(Img2Col, "fmap_h|fmap_w", 1, 32767, "l1H/l1W <= 32767 [ASC-LOAD3D] facts §3.4"),
    RangeRule(Img2Col, "c1", 1, 4095, "c1 index is 12 bits [AKG-CSIM xm] facts §3.4"),
    RangeRule(Img2Col, "kernel_h|kernel_w", 1, 255, "filter <= 255 [ASC-LOAD3D] facts §3.4"),
    RangeRule(Img2Col, "stride_h|stride_w", 1, 63, "stride 1-63 [ASC-LOAD3D] facts §3.4"),
    RangeRule(Img2Col, "dilation_h|dilation_w", 1, 255, "dilation <= 255 [ASC-LOAD3D] §3.4"),
    RangeRule(Img2Col, "pad_.*", 0, 255, "pad 0-255 [ASC-LOAD3D] facts §3.4"),
    RangeRule(Img2Col, "m_start|k_start", 0, 65535, "position <= 65535 [ASC-LOAD3D] §3.4"),
    # m/k extension <= 65535 elements [ASC-LOAD3D]: 4095 fractals of 16 rows
    RangeRule(Img2Col, "m_steps|k_steps", 1, 4095, "extension <= 65535 [ASC-LOAD3D] §3.4"),
    RangeRule(CopyL0cToUb, "n_fractals", 1, 4095, "burst count < 4096 [AKG-CSIM] facts §3.3"),
    # m, n, k in [0, 4095] [ASC-MMAD] facts §1.1; 0 is an empty instruction and rejected
    RangeRule(Mmad, "m|k|n", 1, 4095, "m, k, n <= 4095 [ASC-MMAD] facts §1.1"),
    RangeRule(Fixpipe, "m|n", 1, 4095, "m, n <= 4095 like mad [ASC-MMAD] facts §1.1"),
    RangeRule(Fixpipe, "dst_row_stride", 0, 65535, "assumed 16-bit (unsourced)"),
    RangeRule(None, "repeat", 0, 255, "repeatTime in [0, 255] [ASC-HIDIM] facts §1.2"),
    RangeRule(None, ".*_blk_stride", 0, 255, "MAX_STRIDE_M0 = 256 [AKG-PARAMS] facts §1.2"),
    RangeRule(None, ".*_rep_stride", 0, 255, "MAX_STRIDE_M1 = 256 [AKG-PARAMS] facts §1.2"),
    RangeRule(None, "event", 0, lambda c: c.event_ids - 1, "event ids per pipe pair facts §4"),
    RangeRule(None, "flag", 0, 10, "cross-core flag ids 0-10 [ASC-2201] facts §4"),
    RangeRule(None, "hi|lo", 0, _U64, "64-bit mask register halves facts §1.2"),
)


def typed_fields(cls: type[Instruction]) -> tuple[tuple[str, Any], ...]:
    """(name, annotated type) of every dataclass field of ``cls``, in declaration order."""
    return _typed_fields(cast(Hashable, cls))


@cache
def _typed_fields(cls: Any) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def range_rule(cls: type[Instruction], name: str) -> RangeRule | None:
    """The first rule of RANGE_RULES covering integer field ``name`` of ``cls``."""
    return _range_rule(cast(Hashable, cls), name)


@cache
def _range_rule(cls: Any, name: str) -> RangeRule | None:
    for rule in RANGE_RULES:
        if (rule.cls is None or issubclass(cls, rule.cls)) and re.fullmatch(rule.pattern, name):
            return rule
    return None


def check_ranges(instr: Instruction, config: HwConfig) -> Iterator[Problem]:
    for name, value_type in typed_fields(type(instr)):
        value = getattr(instr, name)
        if value_type is float and math.isnan(value):
            yield Problem(name, "not a number", value)
        if value_type is not int:
            continue
        rule = range_rule(type(instr), name)
        if rule is None:
            raise TypeError(f"{type(instr).__name__}.{name}: no entry in RANGE_RULES")
        hi = rule.hi(config) if callable(rule.hi) else rule.hi
        if not rule.lo <= value <= hi:
            yield Problem(name, f"out of range {rule.lo}..{hi} ({rule.source})", value)


# ------------------------------------------------------------------ operand spaces and paths

_CUBE_SPACES = frozenset({Space.L0A, Space.L0B})
OPERAND_SPACES: dict[tuple[type[Instruction], str], frozenset[Space]] = {
    # Copy may name any space of COPY_PATHS; the path itself is checked below
    (Copy, "dst"): frozenset(dst for _, dst in COPY_PATHS),
    (Copy, "src"): frozenset(src for src, _ in COPY_PATHS),
    (CopyNd2Nz, "dst"): frozenset({Space.L1}),  # GM -> L1 only [facts §3.1]
    (CopyNd2Nz, "src"): frozenset({Space.GM}),
    (Load2D, "dst"): _CUBE_SPACES,  # load_cbuf_to_ca/cb [facts §3.4]
    (Load2D, "src"): frozenset({Space.L1}),
    (Img2Col, "dst"): _CUBE_SPACES,  # img2col_cbuf_to_ca/cb [facts §3.4]
    (Img2Col, "src"): frozenset({Space.L1}),
    (CopyL0cToUb, "dst"): frozenset({Space.UB}),  # copy_matrix_cc_to_ubuf [facts §1.4]
    (CopyL0cToUb, "src"): frozenset({Space.L0C}),
    (Fixpipe, "dst"): frozenset({Space.GM, Space.L1}),  # L0C -> GM/L1 [facts §1.4]
    (Fixpipe, "src"): frozenset({Space.L0C}),
    (CopyGather, "dst"): frozenset({Space.UB}),  # GM -> UB rows (MTE2)
    (CopyGather, "src"): frozenset({Space.GM}),
    (CopyGather, "index"): frozenset({Space.UB}),  # read by the scalar unit
    (Mmad, "dst"): frozenset({Space.L0C}),  # facts §1.1, §5
    (Mmad, "a"): frozenset({Space.L0A}),
    (Mmad, "b"): frozenset({Space.L0B}),
}
"""Spaces each address field may name; every operand of a vector instruction is in UB
(facts §1.2)."""


def operand_spaces(cls: type[Instruction], name: str) -> frozenset[Space]:
    """Spaces address field ``name`` of ``cls`` may name."""
    if issubclass(cls, VectorInstruction):
        return frozenset({Space.UB})
    return OPERAND_SPACES[(cls, name)]


def addr_fields(instr: Instruction) -> list[tuple[str, Addr]]:
    return [(n, getattr(instr, n)) for n, t in typed_fields(type(instr)) if t is Addr]


def _names(items: Any) -> str:
    return ", ".join(sorted(item.name for item in items))


def check_spaces(instr: Instruction, config: HwConfig) -> Iterator[Problem]:
    for name, addr in addr_fields(instr):
        allowed = operand_spaces(type(instr), name)
        if addr.space not in allowed:
            yield Problem(name, f"must be in {_names(allowed)}", addr)
    names = {name for name, _ in addr_fields(instr)}
    if isinstance(instr, VectorInstruction) or not {"src", "dst"} <= names:
        return
    src, dst = instr.src.space, instr.dst.space  # type: ignore[attr-defined]
    if isinstance(instr, Copy) and (src, dst) not in COPY_PATHS:
        yield Problem("dst", f"copy has no {src.name} -> {dst.name} path", instr.dst)
    elif getattr(config, f"{src.name.lower()}_to_{dst.name.lower()}_bytes_per_cycle", 0) <= 0:
        yield Problem(
            "dst",
            f"no {src.name} -> {dst.name} data path on this {config.organisation} chip "
            "(facts §2.3, §3.1)",
            instr.dst,  # type: ignore[attr-defined]
        )


def space_size(config: HwConfig, space: Space) -> int | None:
    """Bytes of ``space`` on one core (None = unbounded GM; 0 = absent on this chip)."""
    if space is Space.GM:
        return None
    return int(getattr(config, f"{space.name.lower()}_bytes", 0))


def space_align(config: HwConfig, space: Space) -> int:
    """Required start-address alignment in ``space`` (GM has none, facts §2.2)."""
    if space is Space.GM:
        return 1
    return int(getattr(config, f"{space.name.lower()}_align_bytes", 1))


def check_alignment(instr: Instruction, config: HwConfig) -> Iterator[Problem]:
    for name, addr in addr_fields(instr):
        align = space_align(config, addr.space)
        if isinstance(instr, VReduce) and name == "dst":
            # reductions write one element per repeat: the destination needs element
            # alignment only (AscendC WholeReduceSum: 2 B for half, 4 B for float)
            align = instr.dtype.itemsize
        if addr.offset < 0:
            yield Problem(name, "negative address", addr)
        elif addr.offset % align:
            yield Problem(name, f"not aligned to {align} B ({addr.space.name}, facts §2.2)", addr)


def check_capacity(instr: Instruction, config: HwConfig) -> Iterator[Problem]:
    fields = addr_fields(instr)
    for region in instr.reads() + instr.writes():
        size = space_size(config, region.space)
        if size is None or region.stop <= size:
            continue
        name, addr = next(
            ((n, a) for n, a in fields if a.space == region.space and a.offset == region.start),
            (None, None),
        )
        if size == 0:
            problem = f"{region.space.name} does not exist on this chip"
        else:
            problem = f"region {region} exceeds {region.space.name} capacity of {size} B"
        yield Problem(name, problem, addr)
