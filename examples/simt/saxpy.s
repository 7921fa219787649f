# z = 2 x + y over n = 4096 floats, one element per thread.
.kernel saxpy
.grid 16
.block 256
.regs 12
.param 0x0        # x
.param 0x4000     # y
.param 0x8000     # z
.param 4096       # n
.input x 0x0 f32 (4096,)
.input y 0x4000 f32 (4096,)
.output z 0x8000 f32 (4096,)
.expect z = 2.0 * x + y
    mov.sreg d=r0 s=tid.x
    mov.sreg d=r1 s=ctaid.x
    mov.sreg d=r2 s=ntid.x
    mad type=u32 d=r3 a=r1 b=r2 c=r0          # i = ctaid * ntid + tid
    ld.param d=r4 index=3
    setp cmp=ge type=u32 p=p0 a=r3 b=r4
    @p0 exit
    shl type=u32 d=r5 a=r3 b=2                # byte offset
    ld.param d=r6 index=0
    add type=u32 d=r6 a=r6 b=r5
    ld.param d=r7 index=1
    add type=u32 d=r7 a=r7 b=r5
    ld.global d=r8 addr=r6
    ld.global d=r9 addr=r7
    fma type=f32 d=r10 a=r8 b=2.0 c=r9
    ld.param d=r11 index=2
    add type=u32 d=r11 a=r11 b=r5
    st.global a=r10 addr=r11
    exit
