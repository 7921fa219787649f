# Tiled fp16 GEMM on tensor cores: C (f32, M x N) = A (f16, M x K) @ B, with B given
# transposed as Bt (f16, N x K) so each B fragment register is two adjacent k of one column.
# CTA tile 64 x 64 x 32, 4 warps of 32 x 32 (2 x 4 mma.m16n8k16 tiles each); A and B tiles
# double-buffered in shared memory with cp.async (16 B per lane); shared rows padded from 64 to
# 80 B so fragment loads are conflict-free. Needs M, N multiples of 64 and K of 32.
# Params: A, Bt, C, M, N, K. Grid (N / 64, M / 64), 128 threads.
.kernel gemm_fp16
.grid 2 2 1
.block 128 1 1
.regs 96
.shared 20480
.param 0x0        # A  (128 x 64 f16)
.param 0x4000     # Bt (128 x 64 f16)
.param 0x8000     # C  (128 x 128 f32)
.param 128        # M
.param 128        # N
.param 64         # K
.input A 0x0 f16 (128, 64)
.input Bt 0x4000 f16 (128, 64)
.output C 0x8000 f32 (128, 128)
.expect C = A @ Bt.T
# ---- per-thread setup
    mov.sreg d=r48 s=tid.x
    mov.sreg d=r49 s=ctaid.x                    # n block
    mov.sreg d=r50 s=ctaid.y                    # m block
    ld.param d=r51 index=5                      # K
    ld.param d=r52 index=4                      # N
    shr type=u32 d=r53 a=r48 b=2                # copy row 0..31 (and +32)
    and type=u32 d=r54 a=r48 b=3                # 16 B chunk within the 64 B tile row
    shl type=u32 d=r57 a=r54 b=3                # chunk * 8 halves
    shl type=u32 d=r59 a=r51 b=6                # 32 rows of K halves, in bytes
    shl type=u32 d=r55 a=r50 b=6
    add type=u32 d=r55 a=r55 b=r53
    mad type=u32 d=r56 a=r55 b=r51 c=r57
    shl type=u32 d=r56 a=r56 b=1
    ld.param d=r58 index=0
    add type=u32 d=r58 a=r58 b=r56              # A source, rows 0..31
    add type=u32 d=r60 a=r58 b=r59              # A source, rows 32..63
    shl type=u32 d=r61 a=r49 b=6
    add type=u32 d=r61 a=r61 b=r53
    mad type=u32 d=r61 a=r61 b=r51 c=r57
    shl type=u32 d=r61 a=r61 b=1
    ld.param d=r62 index=1
    add type=u32 d=r62 a=r62 b=r61              # Bt source, rows 0..31
    add type=u32 d=r63 a=r62 b=r59              # Bt source, rows 32..63
    mul type=u32 d=r64 a=r53 b=80
    shl type=u32 d=r65 a=r54 b=4
    add type=u32 d=r64 a=r64 b=r65              # shared destination in stage 0
    shr type=u32 d=r66 a=r48 b=5                # warp
    and type=u32 d=r67 a=r48 b=31               # lane
    shr type=u32 d=r68 a=r67 b=2                # g = lane / 4
    and type=u32 d=r69 a=r67 b=3                # t = lane % 4
    shr type=u32 d=r70 a=r66 b=1                # warp row wm
    and type=u32 d=r71 a=r66 b=1                # warp column wn
    shl type=u32 d=r72 a=r70 b=5
    add type=u32 d=r72 a=r72 b=r68
    mul type=u32 d=r72 a=r72 b=80
    shl type=u32 d=r73 a=r69 b=2
    add type=u32 d=r72 a=r72 b=r73              # A fragment offset (row wm*32+g, col 2t)
    shl type=u32 d=r74 a=r71 b=5
    add type=u32 d=r74 a=r74 b=r68
    mul type=u32 d=r74 a=r74 b=80
    add type=u32 d=r74 a=r74 b=r73
    add type=u32 d=r74 a=r74 b=5120             # B fragment offset (n wn*32+g, k 2t)
    shr type=u32 d=r75 a=r51 b=5                # k tiles
    mov type=u32 d=r76 a=0                      # kt
    mov type=u32 d=r0 a=0
    mov type=u32 d=r1 a=0
    mov type=u32 d=r2 a=0
    mov type=u32 d=r3 a=0
    mov type=u32 d=r4 a=0
    mov type=u32 d=r5 a=0
    mov type=u32 d=r6 a=0
    mov type=u32 d=r7 a=0
    mov type=u32 d=r8 a=0
    mov type=u32 d=r9 a=0
    mov type=u32 d=r10 a=0
    mov type=u32 d=r11 a=0
    mov type=u32 d=r12 a=0
    mov type=u32 d=r13 a=0
    mov type=u32 d=r14 a=0
    mov type=u32 d=r15 a=0
    mov type=u32 d=r16 a=0
    mov type=u32 d=r17 a=0
    mov type=u32 d=r18 a=0
    mov type=u32 d=r19 a=0
    mov type=u32 d=r20 a=0
    mov type=u32 d=r21 a=0
    mov type=u32 d=r22 a=0
    mov type=u32 d=r23 a=0
    mov type=u32 d=r24 a=0
    mov type=u32 d=r25 a=0
    mov type=u32 d=r26 a=0
    mov type=u32 d=r27 a=0
    mov type=u32 d=r28 a=0
    mov type=u32 d=r29 a=0
    mov type=u32 d=r30 a=0
    mov type=u32 d=r31 a=0
# ---- prologue: tile 0 into stage 0
    cp.async dst=r64 src=r58
    cp.async dst=r64 src=r60 dst_offset=2560
    cp.async dst=r64 src=r62 dst_offset=5120
    cp.async dst=r64 src=r63 dst_offset=7680
    cp.async.commit_group
    add type=u32 d=r58 a=r58 b=64
    add type=u32 d=r60 a=r60 b=64
    add type=u32 d=r62 a=r62 b=64
    add type=u32 d=r63 a=r63 b=64
LOOP:
    add type=u32 d=r78 a=r76 b=1
    setp cmp=lt type=u32 p=p1 a=r78 b=r75         # is there a next tile?
    and type=u32 d=r79 a=r78 b=1
    mul type=u32 d=r79 a=r79 b=10240
    add type=u32 d=r79 a=r79 b=r64              # its stage
    @p1 cp.async dst=r79 src=r58
    @p1 cp.async dst=r79 src=r60 dst_offset=2560
    @p1 cp.async dst=r79 src=r62 dst_offset=5120
    @p1 cp.async dst=r79 src=r63 dst_offset=7680
    cp.async.commit_group
    cp.async.wait_group n=1                     # tile kt has landed
    bar.sync
    and type=u32 d=r80 a=r76 b=1
    mul type=u32 d=r80 a=r80 b=10240
    add type=u32 d=r81 a=r80 b=r72
    add type=u32 d=r82 a=r80 b=r74
# k16 step 0
    ld.shared d=r32 addr=r81 offset=0
    ld.shared d=r33 addr=r81 offset=640
    ld.shared d=r34 addr=r81 offset=16
    ld.shared d=r35 addr=r81 offset=656
    ld.shared d=r36 addr=r81 offset=1280
    ld.shared d=r37 addr=r81 offset=1920
    ld.shared d=r38 addr=r81 offset=1296
    ld.shared d=r39 addr=r81 offset=1936
    ld.shared d=r40 addr=r82 offset=0
    ld.shared d=r41 addr=r82 offset=16
    ld.shared d=r42 addr=r82 offset=640
    ld.shared d=r43 addr=r82 offset=656
    ld.shared d=r44 addr=r82 offset=1280
    ld.shared d=r45 addr=r82 offset=1296
    ld.shared d=r46 addr=r82 offset=1920
    ld.shared d=r47 addr=r82 offset=1936
    mma.m16n8k16 d=r0 a=r32 b=r40 c=r0
    mma.m16n8k16 d=r4 a=r32 b=r42 c=r4
    mma.m16n8k16 d=r8 a=r32 b=r44 c=r8
    mma.m16n8k16 d=r12 a=r32 b=r46 c=r12
    mma.m16n8k16 d=r16 a=r36 b=r40 c=r16
    mma.m16n8k16 d=r20 a=r36 b=r42 c=r20
    mma.m16n8k16 d=r24 a=r36 b=r44 c=r24
    mma.m16n8k16 d=r28 a=r36 b=r46 c=r28
# k16 step 1
    ld.shared d=r32 addr=r81 offset=32
    ld.shared d=r33 addr=r81 offset=672
    ld.shared d=r34 addr=r81 offset=48
    ld.shared d=r35 addr=r81 offset=688
    ld.shared d=r36 addr=r81 offset=1312
    ld.shared d=r37 addr=r81 offset=1952
    ld.shared d=r38 addr=r81 offset=1328
    ld.shared d=r39 addr=r81 offset=1968
    ld.shared d=r40 addr=r82 offset=32
    ld.shared d=r41 addr=r82 offset=48
    ld.shared d=r42 addr=r82 offset=672
    ld.shared d=r43 addr=r82 offset=688
    ld.shared d=r44 addr=r82 offset=1312
    ld.shared d=r45 addr=r82 offset=1328
    ld.shared d=r46 addr=r82 offset=1952
    ld.shared d=r47 addr=r82 offset=1968
    mma.m16n8k16 d=r0 a=r32 b=r40 c=r0
    mma.m16n8k16 d=r4 a=r32 b=r42 c=r4
    mma.m16n8k16 d=r8 a=r32 b=r44 c=r8
    mma.m16n8k16 d=r12 a=r32 b=r46 c=r12
    mma.m16n8k16 d=r16 a=r36 b=r40 c=r16
    mma.m16n8k16 d=r20 a=r36 b=r42 c=r20
    mma.m16n8k16 d=r24 a=r36 b=r44 c=r24
    mma.m16n8k16 d=r28 a=r36 b=r46 c=r28
    bar.sync                                    # stage kt is free again
    add type=u32 d=r58 a=r58 b=64
    add type=u32 d=r60 a=r60 b=64
    add type=u32 d=r62 a=r62 b=64
    add type=u32 d=r63 a=r63 b=64
    add type=u32 d=r76 a=r76 b=1
    setp cmp=lt type=u32 p=p2 a=r76 b=r75
    @p2 bra target=LOOP
# ---- epilogue: c0,c1 (row g) and c2,c3 (row g+8) are adjacent columns: 64-bit stores
    shl type=u32 d=r83 a=r50 b=6
    shl type=u32 d=r84 a=r70 b=5
    add type=u32 d=r83 a=r83 b=r84
    add type=u32 d=r83 a=r83 b=r68              # row m0 + wm*32 + g
    shl type=u32 d=r85 a=r49 b=6
    shl type=u32 d=r86 a=r71 b=5
    add type=u32 d=r85 a=r85 b=r86
    shl type=u32 d=r87 a=r69 b=1
    add type=u32 d=r85 a=r85 b=r87              # column n0 + wn*32 + 2t
    mad type=u32 d=r88 a=r83 b=r52 c=r85
    shl type=u32 d=r88 a=r88 b=2
    ld.param d=r89 index=2
    add type=u32 d=r88 a=r88 b=r89              # rows +0
    shl type=u32 d=r90 a=r52 b=5
    add type=u32 d=r91 a=r88 b=r90              # rows +8
    shl type=u32 d=r92 a=r52 b=6
    add type=u32 d=r93 a=r88 b=r92              # rows +16
    add type=u32 d=r94 a=r93 b=r90              # rows +24
    st.global a=r0 addr=r88 width=64 offset=0
    st.global a=r2 addr=r91 width=64 offset=0
    st.global a=r4 addr=r88 width=64 offset=32
    st.global a=r6 addr=r91 width=64 offset=32
    st.global a=r8 addr=r88 width=64 offset=64
    st.global a=r10 addr=r91 width=64 offset=64
    st.global a=r12 addr=r88 width=64 offset=96
    st.global a=r14 addr=r91 width=64 offset=96
    st.global a=r16 addr=r93 width=64 offset=0
    st.global a=r18 addr=r94 width=64 offset=0
    st.global a=r20 addr=r93 width=64 offset=32
    st.global a=r22 addr=r94 width=64 offset=32
    st.global a=r24 addr=r93 width=64 offset=64
    st.global a=r26 addr=r94 width=64 offset=64
    st.global a=r28 addr=r93 width=64 offset=96
    st.global a=r30 addr=r94 width=64 offset=96
    exit
