"""SIMT kernel generators; importing this package registers their lowering rules."""

from compiler.simt.kernels import matmul  # noqa: F401
