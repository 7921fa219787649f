"""Building DaVinci kernels: per-core instruction streams, on-chip buffer allocation and the
final flag insertion.

A generator asks a `KernelBuilder` for one `StreamBuilder` per core (and unit), emits
flag-free instructions into it, allocates on-chip buffers with `alloc`, and calls `build()`,
which inserts the flags (`flags.plan_flags`) and returns an isa `Kernel`. Identical streams
are shared so the engine decodes them once, and streams of the same shape (the same work on
other parts of the same tensors, `flags.flag_shape`) share one flag plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from compiler.davinci.flags import FlagPlan, FlagStats, flag_shape, plan_flags
from compiler.errors import CompileError
from isa.davinci import Addr, Instruction, Kernel, Pipe, Space, Stream

# Alignment the generators use for their own buffers: one fractal (512 B) everywhere keeps
# L0A/L0B legal, and 32 B suffices in UB/L1 but 512 B keeps DMA bursts whole (facts §2.2).
_CUBE_PIPES = frozenset({Pipe.M, Pipe.MTE1, Pipe.FIX})

ALIGN = {Space.L1: 512, Space.L0A: 512, Space.L0B: 512, Space.L0C: 1024, Space.UB: 32}


@dataclass
class StreamBuilder:
    """The instructions of one core unit, with bump allocators for its buffers."""

    capacity: dict[Space, int]
    instructions: list[Instruction] = field(default_factory=list)
    _next: dict[Space, int] = field(default_factory=dict)

    def emit(self, *instructions: Instruction) -> None:
        self.instructions.extend(instructions)

    def alloc(self, space: Space, nbytes: int, what: str = "buffer") -> Addr:
        """Reserve ``nbytes`` of ``space`` for the whole kernel; CompileError if it does not fit."""
        align = ALIGN.get(space, 32)
        start = -(-self._next.get(space, 0) // align) * align
        if start + nbytes > self.capacity[space]:
            raise CompileError(
                f"{what}: {nbytes} B does not fit in {space.name} "
                f"({self.capacity[space] - start} of {self.capacity[space]} B free)"
            )
        self._next[space] = start + nbytes
        return Addr(space, start)

    def free_bytes(self, space: Space) -> int:
        align = ALIGN.get(space, 32)
        start = -(-self._next.get(space, 0) // align) * align
        return self.capacity[space] - start


class KernelBuilder:
    """Streams for every core of one kernel launch."""

    def __init__(self, name: str, target, cores: int, units: tuple[str, ...] = ("core",),
                 gm_territory: Callable[[int], int] | None = None,
                 l1_bytes: int | None = None) -> None:
        """``gm_territory`` maps a virtual GM address to the buffer it belongs to (see
        `flags.flag_shape`); without it only identical streams share their flags.
        ``l1_bytes``: the L1 the kernel may use (less than the chip's while feature maps of
        other kernels stay resident above it)."""
        if cores < 1 or cores > target.cores:
            raise CompileError(f"{name}: {cores} cores requested, {target.cores} available")
        self.name, self.target = name, target
        capacity = {
            Space.L1: target.l1_bytes if l1_bytes is None else l1_bytes,
            Space.L0A: target.l0a_bytes, Space.L0B: target.l0b_bytes,
            Space.L0C: target.l0c_bytes, Space.UB: target.ub_bytes,
        }
        self.streams = [{unit: StreamBuilder(dict(capacity)) for unit in units}
                        for _ in range(cores)]
        self.flag_stats = FlagStats(0, 0)
        self.gm_territory = gm_territory

    def stream(self, core: int, unit: str = "core") -> StreamBuilder:
        return self.streams[core][unit]

    def build(self) -> Kernel:
        """Insert flags into every stream and return the kernel (identical streams shared).

        On separated chips a stream that uses the Cube side (L1, L0, Cube, FixPipe) runs on
        the core's AIC and any other stream on its first AIV.
        """
        cores = []
        # Equal instructions become one object (streams of several cores repeat them), so
        # the stream cache, flag shapes, GM relocation and decode look at each one once.
        interned: dict[Instruction, Instruction] = {}
        cache: dict[tuple[int, ...], Stream] = {}  # by the ids of interned instructions
        plans: dict[tuple, tuple[FlagPlan, int]] = {}
        shape_memo: dict[int, tuple] = {}  # `flag_shape`'s per-instruction parts
        pairs = barriers = 0
        separated = self.target.organisation == "separated"
        for units in self.streams:
            built = {}
            for unit, builder in units.items():
                if separated and unit == "core":
                    unit = "aic" if any(i.pipe in _CUBE_PIPES for i in builder.instructions) \
                        else "aiv0"
                key = tuple([interned.setdefault(i, i) for i in builder.instructions])
                ids = tuple(map(id, key))
                stream = cache.get(ids)
                if stream is None:
                    plan, shape = shared_plan(key, self.target.event_ids, self.gm_territory,
                                              plans, shape_memo)
                    stream = cache[ids] = Stream(tuple(plan.apply(key)), shape=shape)
                    pairs += plan.stats.pairs
                    barriers += plan.stats.barriers
                built[unit] = stream
            cores.append(built)
        self.flag_stats = FlagStats(pairs, barriers)
        return Kernel(self.name, tuple(cores))


def shared_plan(instructions: Sequence[Instruction], event_ids: int,
                territory: Callable[[int], int] | None,
                plans: dict[tuple, tuple[FlagPlan, int]], shape_memo: dict[int, tuple]
                ) -> tuple[FlagPlan, int | None]:
    """The flag plan of a stream, shared through ``plans`` with the streams of the same shape
    (`flags.flag_shape`; ``territory`` None: none), and the shape's number among ``plans``
    (None: a shape of its own)."""
    shape = flag_shape(instructions, territory, shape_memo) if territory else None
    if shape is None:
        return plan_flags(instructions, event_ids), None
    known = plans.get(shape)
    if known is None:
        known = plans[shape] = (plan_flags(instructions, event_ids), len(plans))
    return known
