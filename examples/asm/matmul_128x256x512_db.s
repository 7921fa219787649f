# A 128x256 output tile over K = 512 in steps of 64 (the Ascend C base block (128, 256, 64),
# facts/davinci.md §5), with DOUBLE-BUFFERED L1 -> L0 loads: while the Cube multiplies
# slice k out of one L0A/L0B buffer, MTE1 fills the other buffer with slice k + 1.
#
# A (128x512) and B (512x256) start in L1 in NZ form, as MTE2's ND->NZ load would leave them:
# column blocks of 16 fp16 outermost, each a column of 16x16 fractals.
# - A slice k (128x64): 4 column blocks x 8 fractals. The Cube wants FRACTAL_ZZ (row blocks
#   outermost), so each column block is loaded with dst_stride=4 to interleave them.
# - B slice k (64x256): 4 row blocks x 16 fractals. The Cube wants FRACTAL_ZN (16 columns per
#   fractal), so each fractal is transposed on the way (transpose=true), src_stride=32 walks
#   the 32 k-fractals of one column block.
# - C (128x256, fp32) accumulates in L0C: init=true on the first slice, accumulate after.
# Flags: MTE1 -> M says a buffer is full, M -> MTE1 says the Cube has finished with it.
.kernel matmul_128x256x512_db
.input A L1[0x0] fp16 (128, 512) layout=nz
.input B L1[0x20000] fp16 (512, 256) layout=nz
.output C L0C[0x0] fp32 (128, 256) layout=nz_c
.expect C = A @ B

# --- K slice 0: columns 0..63 of A, rows of B, buffer 0
load2d dst=L0A[0x0] src=L1[0x0] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x200] src=L1[0x1000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x400] src=L1[0x2000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x600] src=L1[0x3000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x0] src=L1[0x20000] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x2000] src=L1[0x20200] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x4000] src=L1[0x20400] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x6000] src=L1[0x20600] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=128 k=64 n=256 dtype=fp16 init=true
set_flag src=M dst=MTE1 event=0
# --- K slice 1: columns 64..127 of A, rows of B, buffer 1
load2d dst=L0A[0x4000] src=L1[0x4000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4200] src=L1[0x5000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4400] src=L1[0x6000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4600] src=L1[0x7000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x8000] src=L1[0x20800] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xa000] src=L1[0x20a00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xc000] src=L1[0x20c00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xe000] src=L1[0x20e00] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=1
wait_flag src=MTE1 dst=M event=1
mmad dst=L0C[0x0] a=L0A[0x4000] b=L0B[0x8000] m=128 k=64 n=256 dtype=fp16 init=false
set_flag src=M dst=MTE1 event=1
# --- K slice 2: columns 128..191 of A, rows of B, buffer 0
wait_flag src=M dst=MTE1 event=0                # buffer 0 free again
load2d dst=L0A[0x0] src=L1[0x8000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x200] src=L1[0x9000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x400] src=L1[0xa000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x600] src=L1[0xb000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x0] src=L1[0x21000] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x2000] src=L1[0x21200] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x4000] src=L1[0x21400] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x6000] src=L1[0x21600] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=128 k=64 n=256 dtype=fp16 init=false
set_flag src=M dst=MTE1 event=0
# --- K slice 3: columns 192..255 of A, rows of B, buffer 1
wait_flag src=M dst=MTE1 event=1                # buffer 1 free again
load2d dst=L0A[0x4000] src=L1[0xc000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4200] src=L1[0xd000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4400] src=L1[0xe000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4600] src=L1[0xf000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x8000] src=L1[0x21800] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xa000] src=L1[0x21a00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xc000] src=L1[0x21c00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xe000] src=L1[0x21e00] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=1
wait_flag src=MTE1 dst=M event=1
mmad dst=L0C[0x0] a=L0A[0x4000] b=L0B[0x8000] m=128 k=64 n=256 dtype=fp16 init=false
set_flag src=M dst=MTE1 event=1
# --- K slice 4: columns 256..319 of A, rows of B, buffer 0
wait_flag src=M dst=MTE1 event=0                # buffer 0 free again
load2d dst=L0A[0x0] src=L1[0x10000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x200] src=L1[0x11000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x400] src=L1[0x12000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x600] src=L1[0x13000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x0] src=L1[0x22000] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x2000] src=L1[0x22200] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x4000] src=L1[0x22400] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x6000] src=L1[0x22600] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=128 k=64 n=256 dtype=fp16 init=false
set_flag src=M dst=MTE1 event=0
# --- K slice 5: columns 320..383 of A, rows of B, buffer 1
wait_flag src=M dst=MTE1 event=1                # buffer 1 free again
load2d dst=L0A[0x4000] src=L1[0x14000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4200] src=L1[0x15000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4400] src=L1[0x16000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4600] src=L1[0x17000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x8000] src=L1[0x22800] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xa000] src=L1[0x22a00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xc000] src=L1[0x22c00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xe000] src=L1[0x22e00] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=1
wait_flag src=MTE1 dst=M event=1
mmad dst=L0C[0x0] a=L0A[0x4000] b=L0B[0x8000] m=128 k=64 n=256 dtype=fp16 init=false
set_flag src=M dst=MTE1 event=1
# --- K slice 6: columns 384..447 of A, rows of B, buffer 0
wait_flag src=M dst=MTE1 event=0                # buffer 0 free again
load2d dst=L0A[0x0] src=L1[0x18000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x200] src=L1[0x19000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x400] src=L1[0x1a000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x600] src=L1[0x1b000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x0] src=L1[0x23000] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x2000] src=L1[0x23200] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x4000] src=L1[0x23400] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0x6000] src=L1[0x23600] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=0
wait_flag src=MTE1 dst=M event=0
mmad dst=L0C[0x0] a=L0A[0x0] b=L0B[0x0] m=128 k=64 n=256 dtype=fp16 init=false
# --- K slice 7: columns 448..511 of A, rows of B, buffer 1
wait_flag src=M dst=MTE1 event=1                # buffer 1 free again
load2d dst=L0A[0x4000] src=L1[0x1c000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4200] src=L1[0x1d000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4400] src=L1[0x1e000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0A[0x4600] src=L1[0x1f000] repeat=8 src_stride=1 dst_stride=4
load2d dst=L0B[0x8000] src=L1[0x23800] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xa000] src=L1[0x23a00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xc000] src=L1[0x23c00] repeat=16 src_stride=32 dst_stride=1 transpose=true
load2d dst=L0B[0xe000] src=L1[0x23e00] repeat=16 src_stride=32 dst_stride=1 transpose=true
set_flag src=MTE1 dst=M event=1
wait_flag src=MTE1 dst=M event=1
mmad dst=L0C[0x0] a=L0A[0x4000] b=L0B[0x8000] m=128 k=64 n=256 dtype=fp16 init=false
