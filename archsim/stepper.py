"""Step through a DaVinci program instruction by instruction (``archsim step``).

A `Stepper` wraps a functional `Simulation` and answers text commands; the CLI feeds it lines
from the terminal or from ``--script``. Commands::

    next [N]                 complete N more instructions (default 1) and show them
    run                      run to the end and show the summary
    queues                   what each pipe is executing and what waits in its queue
    flags                    the flags that are set
    show SPACE OFF RxC [DT]  a buffer region as a matrix (e.g. show L0C 0 16x16 fp32)
    time                     the current cycle
    help                     this list
"""

from __future__ import annotations

import numpy as np

from archsim.asm_runner import prepare
from archsim.render import summary_lines
from hw.davinci.run import SimOptions
from hw.errors import SimulationError
from isa.davinci import DType, Pipe, Space
from isa.davinci.asm_print import format_instruction

HELP = __doc__.split("Commands::", 1)[1].rstrip()
_DEFAULT_DTYPE = {Space.L0C: DType.FP32}


class Stepper:
    """A program loaded for stepping; ``execute(command)`` returns the text to show."""

    def __init__(self, program: str, hw: str | None, core: int = 0) -> None:
        self.kernel, self.sim = prepare(program, hw, SimOptions(mode="functional", trace=True))
        self.core = core
        self.finished = False

    def execute(self, command: str) -> str:
        words = command.split()
        if not words:
            return ""
        name, args = words[0].lower(), words[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return f"unknown command {name!r}; commands:\n{HELP}"
        try:
            return handler(args)
        except (ValueError, IndexError) as exc:
            return f"{name}: {exc}"

    # ------------------------------------------------------------------ commands

    def _cmd_help(self, args: list[str]) -> str:
        return HELP

    def _cmd_time(self, args: list[str]) -> str:
        return f"cycle {self.sim.now}"

    def _cmd_next(self, args: list[str]) -> str:
        count = int(args[0]) if args else 1
        events = self.sim.step(count)
        lines = [self._event_line(e) for e in events]
        if self.sim.done:
            lines.append(self._finish())
        return "\n".join(lines) if lines else "nothing left to run"

    def _cmd_run(self, args: list[str]) -> str:
        return self._finish()

    def _cmd_queues(self, args: list[str]) -> str:
        lines = [f"cycle {self.sim.now}"]
        for (core, unit_name), unit in self.sim.units.items():
            for pipe, queue in unit.queues.items():
                current = unit.current.get(pipe)
                if current is None and not queue:
                    continue
                lines.append(f"core {core} {unit_name} {pipe.name}:")
                if current is not None:
                    lines.append(f"  executing {self._text(core, unit_name, current)}")
                for _, index, _ in list(queue)[:8]:
                    lines.append(f"  queued    {self._text(core, unit_name, index)}")
                if len(queue) > 8:
                    lines.append(f"  ... and {len(queue) - 8} more")
        return "\n".join(lines) if len(lines) > 1 else f"cycle {self.sim.now}: all queues empty"

    def _cmd_flags(self, args: list[str]) -> str:
        lines = []
        for (core, unit_name), unit in self.sim.units.items():
            for src, dst, event in sorted(unit.flags):
                lines.append(f"core {core} {unit_name}: flag {Pipe(src).name} -> "
                             f"{Pipe(dst).name} event {event} is set")
        return "\n".join(lines) if lines else "no flag is set"

    def _cmd_show(self, args: list[str]) -> str:
        if len(args) < 3:
            raise ValueError("usage: show SPACE OFFSET RxC [DTYPE]")
        space = Space[args[0].upper()]
        offset = int(args[1], 0)
        rows, cols = (int(v) for v in args[2].lower().split("x"))
        dtype = DType.from_text(args[3]) if len(args) > 3 else _DEFAULT_DTYPE.get(space, DType.FP16)
        memory = self.sim.memories[self.core, next(iter(self.kernel.cores[self.core]))]
        buffer = memory.buffer(space)
        nbytes = rows * cols * dtype.itemsize
        if offset < 0 or offset + nbytes > buffer.size:
            raise ValueError(f"{space.name}[{offset:#x}] + {nbytes} B is outside the "
                             f"{buffer.size} B buffer")
        values = buffer[offset:offset + nbytes].view(dtype.np_dtype).reshape(rows, cols)
        if dtype is DType.BF16:
            values = (values.astype(np.uint32) << 16).view(np.float32)
        with np.printoptions(precision=3, suppress=True, linewidth=160, threshold=4096):
            return f"{space.name}[{offset:#x}] as {rows}x{cols} {dtype.text}:\n{values}"

    # ------------------------------------------------------------------ helpers

    def _finish(self) -> str:
        if self.finished:
            return "the program has finished"
        self.finished = True
        try:
            run = self.sim.finish()
        except SimulationError as exc:
            return f"error: {exc}"
        return "finished: " + "\n".join(summary_lines(run))

    def _text(self, core: int, unit: str, index: int) -> str:
        stream = self.kernel.cores[core][unit]
        return f"line {stream.line(index)}: {format_instruction(stream.instructions[index])}"

    def _event_line(self, event) -> str:
        stream = self.kernel.cores[event.core][event.unit]
        lines = stream.lines or tuple(range(1, len(stream) + 1))
        index = lines.index(event.line)
        text = format_instruction(stream.instructions[index])
        return (f"[{event.start:>6}-{event.end:>6}] core {event.core} {event.pipe:<4} "
                f"line {event.line}: {text}")
