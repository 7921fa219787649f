"""Text assembly of the DaVinci ISA: a printer and a parser that round-trip.

One instruction per line: the mnemonic, then ``field=value`` for its dataclass fields in
declaration order (fields at their default may be left out)::

    copy dst=L1[0x0] src=GM[0x1000] n_burst=1 burst_len=512
    vadd dtype=fp16 dst=UB[0x0] src0=UB[0x100] src1=UB[0x200] repeat=4
    set_flag src=MTE2 dst=MTE1 event=0
    barrier target=ALL

Values: addresses ``SPACE[offset]``, pipes by name (``MTE2``), units by value (``aiv0``),
dtypes by text (``fp16``), ``true``/``false``, decimal (or 0x hex) integers, floats as Python
writes them. ``#`` starts a comment anywhere. A kernel adds directives::

    .kernel matmul_tile              # Kernel.name
    .cores 2                         # block_dim (default 1, or the highest .core index + 1)
    .core 0                          # following lines are core 0's stream (unit "core")
    .core 1 aiv0                     # separated chips: unit aic / aiv0 / aiv1
    .core *                          # the same stream on every core (SPMD); may name a unit
    .input A L1[0x0] fp16 (128, 512) layout=nz init=random core=0
    .output C L0C[0x0] fp32 (128, 256) layout=nz
    .expect C = A @ B                # Kernel.checks, verbatim
    .tolerance 0.01
    .note key free text              # Kernel.notes

Instructions before any ``.core`` belong to core 0, unit ``core``. Errors are AsmError with one
message naming the source, line and token: ``matmul.s:12: vadd: unknown field 'rpt' (...)``.
"""

from isa.davinci.asm_parse import load_kernel, parse_instruction, parse_kernel
from isa.davinci.asm_print import format_instruction, format_kernel
from isa.davinci.asm_values import mnemonic_table

__all__ = [
    "format_instruction", "format_kernel", "load_kernel", "mnemonic_table", "parse_instruction",
    "parse_kernel",
]
