"""`CompileOptions`: every knob of the compiler in one explicit, immutable record."""

from __future__ import annotations

from dataclasses import dataclass

from framework.attrs import DTYPES

from .errors import CompileError

TARGETS = ("davinci", "simt")
"""Code-generation targets: the DaVinci AI Core and the SIMT (GPU-style) model."""

EPILOGUE_OPERANDS = ("tile", "any")
"""Values of CompileOptions.epilogue_operands."""

EPILOGUES = ("vector", "fixpipe")
"""Values of CompileOptions.epilogue: what may follow a Cube op inside its kernel."""


@dataclass(frozen=True)
class CompileOptions:
    """How to compile a graph. No globals and no environment variables: options travel here.

    ``dtype`` is the device compute and storage dtype of floating-point tensors (float16 by
    default, as on the Cube unit); integer and bool tensors keep their own dtype
    (`storage_dtype`). ``fold_max_elements`` bounds how large a constant the constant folder
    may create beyond the size of the constants it consumes (so ``expand(scalar)`` to a huge
    tensor stays a node). ``max_epilogue_ops`` bounds a fusion group's epilogue chain.
    ``epilogue_operands`` says which outside operands a conv/matmul epilogue may read: "tile"
    (the default) allows what a tile-streaming epilogue can fetch per output tile (a
    full-size tensor, a one-element value or a per-channel vector); "any" allows every operand
    that broadcasts into the result. Elementwise chains accept any broadcasting operand.
    ``epilogue`` is "vector" when the core that runs the Cube also has the vector unit
    (coupled chips: any element-wise epilogue), or "fixpipe" on separated chips, where the
    Cube kernel can only add a per-channel bias and apply ReLU on the way out (FixPipe,
    facts/davinci.md §1.4); the rest of a chain becomes its own vector kernel.
    ``merge_launches`` (DaVinci) runs consecutive kernels whose cores exchange no data as one
    launch (compiler/davinci/core_local.py), paying the fixed launch cost once per run; with
    a batch that is a multiple of the core count, convolutions then prefer tilings that give
    each core its own images, so a network runs batch-parallel in few launches.
    ``keep_on_chip`` (DaVinci, coupled chips, with ``merge_launches``) keeps a feature map
    that a batch-parallel convolution writes and only later convolutions read in each
    core's L1 instead of GM (compiler/davinci/kernels/conv.py, "resident feature maps").
    ``fold_shortcuts`` (DaVinci, coupled chips) computes a 1x1 projection shortcut in the
    accumulator of the 1x1 convolution whose output it is added to, as one convolution over
    both inputs (compiler/davinci/kernels/conv_plan.py, `shortcut_reader`).
    """

    target: str = "davinci"
    dtype: str = "float16"
    fuse: bool = True
    fold_batch_norm: bool = True
    fold_max_elements: int = 1 << 16
    max_epilogue_ops: int = 8
    epilogue_operands: str = "tile"
    epilogue: str = "vector"  # "fixpipe": separated cores keep only bias + ReLU in the kernel
    gm_alignment_bytes: int = 512  # GM cache-line alignment, facts/davinci.md (MTE2: 512 B)
    merge_launches: bool = True
    keep_on_chip: bool = True
    fold_shortcuts: bool = True

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise CompileError(f"CompileOptions: target must be one of {TARGETS}, "
                               f"got {self.target!r}")
        if self.dtype not in DTYPES:
            raise CompileError(f"CompileOptions: unknown dtype {self.dtype!r}")
        if self.epilogue not in EPILOGUES:
            raise CompileError(f"CompileOptions: epilogue must be one of {EPILOGUES}, "
                               f"got {self.epilogue!r}")
        if self.fold_max_elements < 0:
            raise CompileError(f"CompileOptions: fold_max_elements must be >= 0, "
                               f"got {self.fold_max_elements}")
        if self.max_epilogue_ops < 1:
            raise CompileError(f"CompileOptions: max_epilogue_ops must be >= 1, "
                               f"got {self.max_epilogue_ops}")
        if self.epilogue_operands not in EPILOGUE_OPERANDS:
            raise CompileError(f"CompileOptions: epilogue_operands must be one of "
                               f"{EPILOGUE_OPERANDS}, got {self.epilogue_operands!r}")
        align = self.gm_alignment_bytes
        if align < 1 or align & (align - 1):
            raise CompileError(f"CompileOptions: gm_alignment_bytes must be a power of two, "
                               f"got {align}")

    def storage_dtype(self, dtype: str) -> str:
        """The dtype a value of ``dtype`` is stored in on the device."""
        return self.dtype if dtype in ("float16", "float32", "float64") else dtype
