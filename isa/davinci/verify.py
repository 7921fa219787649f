"""The DaVinci kernel verifier: every instruction's fields, spaces, alignment, capacity and
placement (``isa.davinci.verify_rules``), plus the checks that need a whole stream or kernel:
units that match the chip's organisation, flags that are set as often as they are waited,
cross-core flags that some other unit sets, the vector mask mode, and data declarations that
fit their space.

The hardware configuration is any object with the attributes of ``HwConfig`` (isa imports no
other project package; hw.davinci.DaVinciConfig satisfies it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Protocol

from isa.davinci.asm_values import format_value
from isa.davinci.layouts import LAYOUTS, layout_shape
from isa.davinci.program import COUPLED_UNITS, SEPARATED_UNITS, DataDecl, Kernel, Stream
from isa.davinci.sync import (
    CrossCoreSetFlag,
    CrossCoreWaitFlag,
    SetFlag,
    SetMask,
    SetMaskMode,
    WaitFlag,
)
from isa.davinci.verify_checks import check_instruction
from isa.davinci.verify_rules import Problem, space_align, space_size
from isa.errors import IsaError, VerifyError


class HwConfig(Protocol):
    """What the verifier reads from a hardware configuration.

    Buffer sizes and alignments are bytes per core; a path ``src -> dst`` exists when
    ``<src>_to_<dst>_bytes_per_cycle`` (lower-case space names, e.g. ``l0c_to_ub``) is
    positive. Optional: ``bt_align_bytes`` and ``fb_align_bytes`` (default 1). Members are
    read-only properties so frozen dataclasses and pydantic models satisfy the protocol.
    """

    @property
    def organisation(self) -> str: ...  # "coupled" (910/310/310P) or "separated" (910B)
    @property
    def l1_bytes(self) -> int: ...
    @property
    def l0a_bytes(self) -> int: ...
    @property
    def l0b_bytes(self) -> int: ...
    @property
    def l0c_bytes(self) -> int: ...
    @property
    def ub_bytes(self) -> int: ...
    @property
    def bt_bytes(self) -> int: ...  # 0 = absent
    @property
    def fb_bytes(self) -> int: ...  # 0 = absent
    @property
    def l1_align_bytes(self) -> int: ...
    @property
    def l0a_align_bytes(self) -> int: ...
    @property
    def l0b_align_bytes(self) -> int: ...
    @property
    def l0c_align_bytes(self) -> int: ...
    @property
    def ub_align_bytes(self) -> int: ...
    @property
    def event_ids(self) -> int: ...  # event ids per (src, dst) pipe pair
    @property
    def cube_dtypes(self) -> tuple[str, ...]: ...  # dtype texts the Cube takes ("fp16", ...)


_ORGANISATION_UNITS = {"coupled": COUPLED_UNITS, "separated": SEPARATED_UNITS}


def _stream_problems(stream: Stream, unit: str, config: HwConfig) -> Iterator[tuple[int, str]]:
    """(instruction index, message) for every problem of one stream."""
    counter_mode = False  # the mask starts in normal mode (facts §1.2)
    flags: dict[tuple[object, ...], list[int]] = {}
    waits: dict[tuple[object, ...], list[int]] = {}
    for index, instr in enumerate(stream.instructions):
        for problem in check_instruction(instr, config, unit):
            yield index, problem.render(instr.mnemonic)
        if isinstance(instr, SetMaskMode):
            counter_mode = instr.counter
        elif isinstance(instr, SetMask):
            for problem in _mask_problems(instr, counter_mode):
                yield index, problem.render(instr.mnemonic)
        elif isinstance(instr, SetFlag):
            flags.setdefault((instr.src, instr.dst, instr.event), []).append(index)
        elif isinstance(instr, WaitFlag):
            waits.setdefault((instr.src, instr.dst, instr.event), []).append(index)
    yield from _flag_balance(flags, waits)


def _mask_problems(instr: SetMask, counter_mode: bool) -> Iterator[Problem]:
    if counter_mode and instr.hi != 0:
        # counter mode: set_vector_mask(0, count) (facts §1.2, asc-devkit)
        yield Problem("hi", "must be 0 in counter mode (the count goes in lo)", instr.hi)
    elif counter_mode and instr.lo == 0:
        yield Problem("lo", "a count of 0 elements in counter mode processes nothing", instr.lo)
    elif not counter_mode and instr.hi == 0 and instr.lo == 0:
        yield Problem("lo", "the mask selects no lanes (hi and lo both 0)", instr.lo)


def _flag_text(key: tuple[object, ...]) -> str:
    src, dst, event = key
    return f"src={format_value(src)} dst={format_value(dst)} event={event}"


def _flag_balance(
    sets: dict[tuple[object, ...], list[int]], waits: dict[tuple[object, ...], list[int]]
) -> Iterator[tuple[int, str]]:
    """Each (src, dst, event) must be set exactly as often as it is waited: a wait without a
    set deadlocks, a set without a wait leaves a flag that corrupts the next kernel (facts §4)."""
    for key, wait_at in waits.items():
        set_at = sets.get(key, [])
        if not set_at:
            yield wait_at[0], f"wait_flag: flag {_flag_text(key)} is never set in this stream"
        elif len(wait_at) > len(set_at):
            yield wait_at[len(set_at)], (
                f"wait_flag: flag {_flag_text(key)} is waited {len(wait_at)} times but set "
                f"{len(set_at)} times: this wait never completes"
            )
    for key, set_at in sets.items():
        wait_count = len(waits.get(key, []))
        if len(set_at) > wait_count:
            yield set_at[wait_count], (
                f"set_flag: flag {_flag_text(key)} is set {len(set_at)} times but waited "
                f"{wait_count} times: a flag left set corrupts the next kernel"
            )


def _cross_core_problems(core: dict[str, Stream]) -> Iterator[tuple[str, int, str]]:
    """(unit, index, message) for cross-core waits no other unit of the core ever signals."""
    signalled = Counter(
        (instr.target.value, instr.flag)
        for stream in core.values()
        for instr in stream.instructions
        if isinstance(instr, CrossCoreSetFlag)
    )
    for unit, stream in core.items():
        for index, instr in enumerate(stream.instructions):
            if isinstance(instr, CrossCoreWaitFlag) and not signalled[(unit, instr.flag)]:
                yield unit, index, (
                    f"cross_wait_flag: flag {instr.flag} of {unit} is never set by a "
                    "cross_set_flag of another unit of this core"
                )


DECL_INITS = ("random", "zeros", "ones", "arange")
"""Initialisers a ``.input`` may name (DataDecl.init)."""


def _decl_bytes(decl: DataDecl, limit: int) -> int:
    """Stored bytes of ``decl`` in its layout (fractal layouts pad); the logical size when
    that already exceeds ``limit``, to avoid building a huge probe array."""
    logical = math.prod(decl.shape) * decl.dtype.itemsize
    if logical > limit:
        return logical
    stored = layout_shape(decl.shape, decl.layout, decl.dtype.itemsize)
    return math.prod(stored) * decl.dtype.itemsize


def _decl_problems(kind: str, decl: DataDecl, kernel: Kernel, config: HwConfig) -> Iterator[str]:
    where = f"{kernel.name}: {kind} {decl.name}"
    if not 0 <= decl.core < kernel.block_dim:
        yield f"{where}: field 'core': no such core ({kernel.block_dim} cores) (value {decl.core})"
    if decl.layout not in LAYOUTS:
        known = ", ".join(LAYOUTS)
        yield f"{where}: field 'layout': unknown layout ({known}) (value {decl.layout})"
        return
    if kind == ".input" and decl.init not in DECL_INITS:
        yield f"{where}: field 'init': unknown init ({', '.join(DECL_INITS)}) (value {decl.init})"
    space = decl.addr.space
    size = space_size(config, space)
    align = space_align(config, space)
    addr = format_value(decl.addr)
    try:
        # GM is unbounded: still probe the layout (shape errors) up to a 16 MiB logical size
        nbytes = _decl_bytes(decl, size if size is not None else 1 << 24)
    except IsaError as err:
        yield f"{where}: field 'shape': {err} (value {decl.shape})"
        return
    if decl.addr.offset < 0:
        yield f"{where}: field 'addr': negative address (value {addr})"
    elif decl.addr.offset % align:
        yield f"{where}: field 'addr': not aligned to {align} B (value {addr})"
    elif size == 0:
        yield f"{where}: field 'addr': {space.name} does not exist on this chip (value {addr})"
    elif size is not None and decl.addr.offset + nbytes > size:
        yield (
            f"{where}: field 'shape': {nbytes} B at {addr} exceeds {space.name} capacity of "
            f"{size} B (value {decl.shape})"
        )


def kernel_problems(kernel: Kernel, config: HwConfig) -> list[str]:
    """Every problem of ``kernel`` on ``config``, one message per problem, in kernel order.

    Instruction messages read ``<kernel>: core N unit U line L: <mnemonic>: field '<f>':
    <problem> (value V)``. A stream shared by several cores (SPMD) is checked once and names
    all of them (``core 0,1,2``).
    """
    units = _ORGANISATION_UNITS.get(config.organisation, ())
    errors: list[str] = []
    groups: dict[tuple[str, Stream], list[int]] = {}
    for index, core in enumerate(kernel.cores):
        for unit, stream in core.items():
            if unit not in units:
                errors.append(
                    f"{kernel.name}: core {index} unit {unit}: not a unit of a "
                    f"{config.organisation} chip (units: {', '.join(units)})"
                )
            else:
                groups.setdefault((unit, stream), []).append(index)
    for (unit, stream), indices in groups.items():
        label = ",".join(str(i) for i in indices)
        for position, message in _stream_problems(stream, unit, config):
            errors.append(
                f"{kernel.name}: core {label} unit {unit} line {stream.line(position)}: {message}"
            )
    for index, core in enumerate(kernel.cores):
        for unit, position, message in _cross_core_problems(core):
            line = core[unit].line(position)
            errors.append(f"{kernel.name}: core {index} unit {unit} line {line}: {message}")
    for decl in kernel.inputs:
        errors += _decl_problems(".input", decl, kernel, config)
    for decl in kernel.outputs:
        errors += _decl_problems(".output", decl, kernel, config)
    return errors


def verify_kernel(kernel: Kernel, config: HwConfig) -> None:
    """Raise VerifyError listing every problem of ``kernel`` (one per line), or return."""
    errors = kernel_problems(kernel, config)
    if errors:
        raise VerifyError("\n".join(errors))
