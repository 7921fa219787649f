# A 3x3 convolution of one NC1HWC0 tile on the Cube, through img2col.
#
#   Y (1, 16, 8, 8) = conv2d(X (1, 16, 8, 8), W (16, 16, 3, 3), stride 1, pad 1)
#
# Layouts (facts/davinci.md §5):
# - X is NC1HWC0: C = 16 channels form one C1 slice of 8 x 8 pixels x C0 = 16 fp16 (2 KiB).
# - W is FRACTAL_Z: (C1 * Kh * Kw, N1, N0, C0) = (9, 1, 16, 16), nine 512 B fractals. Read as a
#   K x N matrix with K = (c1, kh, kw, c0) = 144 and N = 16 output channels, it is exactly the
#   FRACTAL_ZN operand the Cube wants in L0B.
#
# Steps:
# 1. MTE2 copies X and W from GM into L1.
# 2. MTE1 runs img2col: the 8x8 = 64 output pixels are the M dimension (4 fractal rows), the
#    144 values each output pixel needs (3 x 3 taps x 16 channels) are K (9 fractal columns).
#    Padding is produced by the hardware as zeros. MTE1 also copies W's 9 fractals into L0B.
# 3. The Cube computes the 64 x 144 x 16 matrix product into L0C (fp32).
# 4. The vector pipe moves the 4 result fractals L0C -> UB, converting fp32 -> fp16 (coupled
#    cores: ascend910, ascend310, ascend310p; the 910B would use fixpipe instead).
# 5. MTE3 copies the result to GM. In NZ order the 64 x 16 result is already NC1HWC0.
.kernel conv3x3_img2col
.input X GM[0x0] fp16 (1, 16, 8, 8) layout=nc1hwc0
.input W GM[0x1000] fp16 (16, 16, 3, 3) layout=fractal_z
.output Y GM[0x4000] fp16 (1, 16, 8, 8) layout=nc1hwc0
.expect Y = conv2d(X, W, pad=1)

copy dst=L1[0x0] src=GM[0x0] n_burst=1 burst_len=64               # X: 2 KiB
copy dst=L1[0x1000] src=GM[0x1000] n_burst=1 burst_len=144        # W: 9 fractals = 4.5 KiB
set_flag src=MTE2 dst=MTE1 event=0
wait_flag src=MTE2 dst=MTE1 event=0
img2col dst=L0A[0x0] src=L1[0x0] fmap_h=8 fmap_w=8 c1=1 kernel_h=3 kernel_w=3 pad_top=1 pad_bottom=1 pad_left=1 pad_right=1 m_start=0 m_steps=4 k_start=0 k_steps=9
load2d dst=L0B[0x0] src=L1[0x1000] repeat=9
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=64 k=144 n=16 dtype=fp16 init=true
set_flag src=M dst=V event=0
wait_flag src=M dst=V event=0
copy_l0c_to_ub dst=UB[0x0] src=L0C[0x0] n_fractals=4 src_dtype=fp32 dst_dtype=fp16
set_flag src=V dst=MTE3 event=0
wait_flag src=V dst=MTE3 event=0
copy dst=GM[0x4000] src=UB[0x0] n_burst=1 burst_len=64
