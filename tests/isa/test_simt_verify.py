"""The SIMT verifier names the program, line, mnemonic and field; fragments match PTX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isa.errors import VerifyError
from isa.simt import Limits, fragments, kernel_problems, load_kernel, parse_kernel, verify_kernel

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "simt").glob("*.s"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_verify(path: Path) -> None:
    assert kernel_problems(load_kernel(path)) == []


def _problem(body: str, header: str = ".regs 8\n.param 0\n") -> str:
    kernel = parse_kernel(".kernel k\n" + header + body + "\n    exit\n")
    with pytest.raises(VerifyError) as info:
        verify_kernel(kernel)
    return str(info.value)


@pytest.mark.parametrize("body, expected", [
    ("    add type=u32 d=r8 a=r1 b=r2", "k:4: add: field 'd': register r8 beyond .regs 8"),
    ("    ld.global d=r6 addr=r1 width=128", "k:4: ld.global: field 'd': register r9 beyond"),
    ("    mma.m16n8k16 d=r0 a=r6 b=r4 c=r0", "k:4: mma.m16n8k16: field 'a': register r9 beyond"),
    ("    add type=u32 d=r1 a=r2 b=1.5", "k:4: add: field 'b': float immediate 1.5 in a u32 op"),
    ("    and type=f32 d=r1 a=r2 b=r3", "k:4: and: field 'type': and needs an integer type"),
    ("    div type=f16x2 d=r1 a=r2 b=r3", "k:4: div: field 'type': div has no f16x2 form"),
    ("    fma type=u32 d=r1 a=r2 b=r3 c=r4", "k:4: fma: field 'type': fma needs a float type"),
    ("    ld.global d=r1 addr=r2 width=48", "k:4: ld.global: field 'width': width 48 not in"),
    ("    ld.shared d=r1 addr=r2 offset=2", "k:4: ld.shared: field 'offset': offset 2 is not"),
    ("    cp.async dst=r1 src=r2 width=64", "k:4: cp.async: field 'cache': cp.async with cache=cg"),
    ("    bra target=NOWHERE", "k:4: bra: field 'target': unknown label 'NOWHERE'"),
    ("    ld.param d=r1 index=3", "k:4: ld.param: field 'index': parameter 3 not given"),
    ("    shfl.idx d=r1 a=r2 b=40", "k:4: shfl.idx: field 'b': lane 40 out of range"),
    ("    setp cmp=lt type=u32 p=!p1 a=r1 b=r2", "k:4: setp: field 'p': cannot write a negated"),
])
def test_problems_name_line_and_field(body: str, expected: str) -> None:
    assert _problem(body).startswith(expected)


def test_program_level_problems() -> None:
    kernel = parse_kernel(".kernel k\n.block 2048\n.shared 65536\n    add type=u32 d=r1 a=r1 b=1\n")
    problems = kernel_problems(kernel, Limits(max_shared_per_cta_bytes=48 * 1024))
    assert any("must end with an unguarded exit or bra" in p for p in problems)
    assert any(".shared 65536 B exceeds the 49152 B per CTA limit" in p for p in problems)
    assert any("has 2048 threads, limit 1024" in p for p in problems)


def test_fragments_round_trip_and_multiply() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 8)).astype(np.float16)
    c = rng.standard_normal((16, 8)).astype(np.float32)
    assert np.array_equal(fragments.unpack_a(fragments.pack_a(a)), a)
    assert np.array_equal(fragments.unpack_b(fragments.pack_b(b)), b)
    assert np.array_equal(fragments.unpack_c(fragments.pack_c(c)), c)
    d = fragments.unpack_c(fragments.mma_m16n8k16(
        fragments.pack_a(a), fragments.pack_b(b), fragments.pack_c(c)))
    expected = a.astype(np.float32) @ b.astype(np.float32) + c
    assert np.allclose(d, expected, atol=1e-4)


def test_fragment_layout_is_ptx() -> None:
    # PTX: lane 5 (g=1, t=1) holds A elements (1,2),(1,3),(9,2),(9,3),(1,10),(1,11),(9,10),(9,11)
    rows, cols = fragments.A_ROWS[5], fragments.A_COLS[5]
    assert list(zip(rows, cols, strict=True)) == [
        (1, 2), (1, 3), (9, 2), (9, 3), (1, 10), (1, 11), (9, 10), (9, 11)]
    assert list(zip(fragments.C_ROWS[5], fragments.C_COLS[5], strict=True)) == [
        (1, 2), (1, 3), (9, 2), (9, 3)]
    assert list(fragments.B_ROWS[5]) == [2, 3, 10, 11] and set(fragments.B_COLS[5]) == {1}
