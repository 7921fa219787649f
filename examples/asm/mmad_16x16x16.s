# The smallest Cube program: one 16x16x16 fractal step.
#
#   C (16x16, fp32, L0C) = A (16x16, fp16, L0A) . B (16x16, fp16, L0B)
#
# A sits in L0A as one FRACTAL_ZZ fractal (16 rows x 16 fp16 = 512 B), B in L0B as one
# FRACTAL_ZN fractal (16 columns of B, each with its 16 k values), C comes out of the Cube in
# FRACTAL_NZ order in L0C, accumulated in fp32. The run costs the Cube's head (6 cycles, paid
# when the pipe was idle) plus one cycle per 16x16x16 step: 7 cycles.
.kernel mmad_16x16x16
.input A L0A[0x0] fp16 (16, 16) layout=zz
.input B L0B[0x0] fp16 (16, 16) layout=zn
.output C L0C[0x0] fp32 (16, 16) layout=nz_c
.expect C = A @ B

mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=16 k=16 n=16 dtype=fp16 init=true
