# Vector add of 1000 fp16 values with a masked tail.
#
# One vector repeat covers 256 B = 128 fp16 lanes, so 1000 elements are 7 full repeats
# (896 elements) plus a tail of 104 lanes. The tail runs as one more repeat under a mask that
# enables lanes 0..103: the 64 bits of `lo` plus the low 40 bits of `hi`. Masked-off lanes of the
# destination are left as they were. (Counter mode, `set_mask_mode counter=true` with
# `set_mask lo=1000`, would do the same in one instruction: see the comment at the end.)
#
# Data flow: MTE2 copies X and Y from GM into UB, the vector unit adds, MTE3 copies Z back.
# Flags order the pipes: MTE2 -> V (inputs landed), V -> MTE3 (result ready).
.kernel vector_add_masked_tail
.input X GM[0x0] fp16 (1000,)
.input Y GM[0x800] fp16 (1000,)
.output Z GM[0x1000] fp16 (1000,)
.expect Z = X + Y

copy dst=UB[0x0] src=GM[0x0] n_burst=1 burst_len=63        # 63 blocks of 32 B = 2016 B >= 2000 B
copy dst=UB[0x800] src=GM[0x800] n_burst=1 burst_len=63
set_flag src=MTE2 dst=V event=0
wait_flag src=MTE2 dst=V event=0
vadd dtype=fp16 dst=UB[0x1000] src0=UB[0x0] src1=UB[0x800] repeat=7
set_mask hi=0xffffffffff lo=0xffffffffffffffff             # lanes 0..103 of the tail repeat
vadd dtype=fp16 dst=UB[0x1700] src0=UB[0x700] src1=UB[0xf00] repeat=1
set_mask hi=0xffffffffffffffff lo=0xffffffffffffffff       # restore the full mask
set_flag src=V dst=MTE3 event=0
wait_flag src=V dst=MTE3 event=0
copy dst=GM[0x1000] src=UB[0x1000] n_burst=1 burst_len=63
# Counter-mode alternative for the two vadds above:
#   set_mask_mode counter=true
#   set_mask hi=0 lo=1000
#   vadd dtype=fp16 dst=UB[0x1000] src0=UB[0x0] src1=UB[0x800] repeat=1
#   set_mask_mode counter=false
