"""Errors for malformed programs: assembly that does not parse and instructions that do not
verify."""


class IsaError(ValueError):
    """Base class of every instruction-set error; messages name the line and the field at fault."""


class AsmError(IsaError):
    """Assembly text that does not parse."""


class VerifyError(IsaError):
    """A well-formed instruction whose fields are out of range, misaligned or over capacity."""
