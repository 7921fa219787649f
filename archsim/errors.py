"""The error types that mean "bad user input" across the layers; the CLI turns them into exit 2."""

from compiler.errors import CompileError
from framework.errors import FrameworkError
from hw.errors import HwError
from isa.errors import IsaError


class InputError(ValueError):
    """A command-line argument that names nothing usable (a missing file or example)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    FrameworkError, CompileError, IsaError, HwError, InputError,
)
