"""`KernelBuilder`: assembles a SIMT kernel as text lines with a bump register allocator, then
parses it with the ISA's assembler (so every generated program is also valid assembly that
round-trips and can be printed with `archsim asm`-style tools)."""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.errors import CompileError
from isa.simt import Kernel, Launch, parse_kernel


@dataclass
class KernelBuilder:
    """Lines of one kernel body plus its resources. ``reg()`` hands out fresh registers
    (``count`` consecutive ones for fragments and accumulators)."""

    name: str
    lines: list[str] = field(default_factory=list)
    next_reg: int = 0

    def reg(self, count: int = 1) -> int:
        """The first of ``count`` fresh consecutive registers (by number)."""
        first = self.next_reg
        self.next_reg += count
        return first

    def emit(self, text: str) -> None:
        """Append one instruction (or ``LABEL:``) line."""
        self.lines.append(text)

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def build(self, launch: Launch, shared_bytes: int = 0, max_regs: int = 255) -> Kernel:
        """Parse the text into a Kernel launched with ``launch``."""
        regs = max(self.next_reg, 1)
        if regs > max_regs:
            raise CompileError(f"{self.name}: needs {regs} registers per thread "
                               f"(limit {max_regs})")
        head = [f".kernel {self.name}", f".grid {' '.join(map(str, launch.grid))}",
                f".block {' '.join(map(str, launch.block))}", f".regs {regs}",
                f".shared {shared_bytes}"]
        head += [f".param {p}" for p in launch.params]
        return parse_kernel("\n".join(head + self.lines), source=f"<{self.name}>")


def thread_indices(b: KernelBuilder) -> tuple[int, int, int]:
    """Registers holding tid.x, the lane and the warp index (emitted at the top)."""
    tid, lane, warp = b.reg(), b.reg(), b.reg()
    b.emit(f"mov.sreg d=r{tid} s=tid.x")
    b.emit(f"and type=u32 d=r{lane} a=r{tid} b=31")
    b.emit(f"shr type=u32 d=r{warp} a=r{tid} b=5")
    return tid, lane, warp
