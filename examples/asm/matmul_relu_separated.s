# Matmul + ReLU on a SEPARATED core (ascend910b): the cube core (AIC) and a vector core (AIV)
# each run their own instruction stream and exchange data only through GM (facts §6, §4).
#
#   Y (64x64, fp16) = relu(A (64x64) . B (64x64))
#
# AIC: MTE2 loads A and B from GM into L1, converting row-major (ND) to NZ fractals on the way
# (copy_nd2nz); MTE1 moves them into L0A (FRACTAL_ZZ) and L0B (FRACTAL_ZN, transposing each
# fractal); the Cube multiplies; FixPipe writes L0C back to GM as a row-major fp16 matrix
# (nz2nd) and then raises cross-core flag 0 for aiv0.
# AIV0: waits for the cross-core flag, loads the product into UB, applies ReLU on the vector
# unit and stores Y.
.kernel matmul_relu_separated
.note hw ascend910b
.input A GM[0x0] fp16 (64, 64)
.input B GM[0x2000] fp16 (64, 64)
.output Y GM[0x6000] fp16 (64, 64)
.expect Y = relu(A @ B)

.core 0 aic
copy_nd2nz dst=L1[0x0] src=GM[0x0] rows=64 cols=64 src_row_stride=64 dtype=fp16
copy_nd2nz dst=L1[0x2000] src=GM[0x2000] rows=64 cols=64 src_row_stride=64 dtype=fp16
set_flag src=MTE2 dst=MTE1 event=0
wait_flag src=MTE2 dst=MTE1 event=0
load2d dst=L0A[0x0] src=L1[0x0] repeat=4 src_stride=1 dst_stride=4
load2d dst=L0A[0x200] src=L1[0x800] repeat=4 src_stride=1 dst_stride=4
load2d dst=L0A[0x400] src=L1[0x1000] repeat=4 src_stride=1 dst_stride=4
load2d dst=L0A[0x600] src=L1[0x1800] repeat=4 src_stride=1 dst_stride=4
load2d dst=L0B[0x0] src=L1[0x2000] repeat=4 src_stride=4 dst_stride=1 transpose=true
load2d dst=L0B[0x800] src=L1[0x2200] repeat=4 src_stride=4 dst_stride=1 transpose=true
load2d dst=L0B[0x1000] src=L1[0x2400] repeat=4 src_stride=4 dst_stride=1 transpose=true
load2d dst=L0B[0x1800] src=L1[0x2600] repeat=4 src_stride=4 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=64 k=64 n=64 dtype=fp16 init=true
set_flag src=M dst=FIX event=0
wait_flag src=M dst=FIX event=0
fixpipe dst=GM[0x4000] src=L0C[0x0] m=64 n=64 src_dtype=fp32 dst_dtype=fp16 nz2nd=true dst_row_stride=64
cross_set_flag src=FIX target=aiv0 flag=0

.core 0 aiv0
cross_wait_flag dst=MTE2 flag=0
copy dst=UB[0x0] src=GM[0x4000] n_burst=1 burst_len=256
set_flag src=MTE2 dst=V event=0
wait_flag src=MTE2 dst=V event=0
vrelu dtype=fp16 dst=UB[0x2000] src=UB[0x0] repeat=32
set_flag src=V dst=MTE3 event=0
wait_flag src=V dst=MTE3 event=0
copy dst=GM[0x6000] src=UB[0x2000] n_burst=1 burst_len=256
