"""SIMT kernel generators; importing this package registers their lowering rules."""

from compiler.simt.kernels import conv, elementwise, matmul, rows  # noqa: F401
