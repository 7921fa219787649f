"""The compiler's error type."""

from __future__ import annotations


class CompileError(ValueError):
    """A graph the compiler cannot handle, or a pass that broke a graph invariant.

    The message names what failed and where: the pass (and the passes that ran before it), the
    node, or the option.
    """
