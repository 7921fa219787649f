"""Run a hand-written DaVinci assembly file: parse, verify against the chip, simulate and, in
functional mode, check the outputs against NumPy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archsim.checks import CheckResult, evaluate_checks
from archsim.errors import InputError
from hw import load_hw
from hw.davinci.run import SimOptions, Simulation
from hw.davinci.stats import KernelRun
from isa.davinci import Kernel
from isa.davinci.asm import load_kernel
from isa.davinci.verify import verify_kernel

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples" / "asm"


def resolve_program(path_or_name: str) -> Path:
    """A path to a ``.s`` file, or the name of a built-in example in examples/asm/."""
    path = Path(path_or_name)
    if path.exists():
        return path
    example = EXAMPLES_DIR / f"{path_or_name.removesuffix('.s')}.s"
    if example.exists():
        return example
    known = ", ".join(sorted(p.stem for p in EXAMPLES_DIR.glob("*.s")))
    raise InputError(f"no such program: {path_or_name} (a .s file, or a built-in example: {known})")


DEFAULT_HW = "ascend910"


def prepare(path_or_name: str, hw: str | None,
            options: SimOptions) -> tuple[Kernel, Simulation]:
    """Load and verify a program and set it up on a chip, ready to run or step.

    Without ``hw`` the program's ``.note hw NAME`` line chooses the chip (default ascend910).
    """
    kernel = load_kernel(resolve_program(path_or_name))
    config = load_hw(hw or kernel.notes.get("hw", DEFAULT_HW))
    verify_kernel(kernel, config)
    return kernel, Simulation(kernel, config, options)


@dataclass(frozen=True)
class AsmRun:
    """The outcome of ``archsim asm``: the run and, in functional mode, the checks."""

    kernel: Kernel
    hw: str | None
    run: KernelRun
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def run_asm(path_or_name: str, hw: str | None = None, functional: bool = False,
            trace: bool = False) -> AsmRun:
    """Run one program; in functional mode evaluate its ``.expect`` checks."""
    options = SimOptions(mode="functional" if functional else "timing", trace=trace)
    kernel, simulation = prepare(path_or_name, hw, options)
    run = simulation.finish()
    checks = evaluate_checks(kernel.checks, run.outputs, kernel.tolerance) if functional else []
    return AsmRun(kernel, hw, run, checks)
