"""Layout transforms: element placement checked against the definitions, round trips, padding
and the img2col/fractal_z convolution identity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isa.davinci import layouts as L
from isa.errors import IsaError

RNG = np.random.default_rng(0)


def _mat(rows: int, cols: int, dtype: str = "float16") -> np.ndarray:
    return RNG.standard_normal((rows, cols)).astype(dtype)


def test_nz_places_column_blocks_outermost() -> None:
    mat = _mat(20, 40)  # fp16: C0 = 16 -> 3 column blocks, 32 padded rows
    nz = L.to_nz(mat)
    assert nz.shape == (3, 32, 16)
    for m, n in [(0, 0), (19, 39), (5, 17), (16, 31)]:
        assert nz[n // 16, m, n % 16] == mat[m, n]
    assert not nz[:, 20:, :].any() and not nz[2, :, 8:].any()


def test_nz_c0_follows_itemsize() -> None:
    assert L.to_nz(np.ones((16, 64), np.int8)).shape == (2, 16, 32)
    assert L.to_nz(np.ones((16, 64), np.float32)).shape == (8, 16, 8)
    assert L.to_nz(np.ones((16, 64), np.float32), 2).shape == (4, 16, 16)


def test_zz_and_zn_placement() -> None:
    a = _mat(20, 40)
    zz = L.to_zz(a)
    assert zz.shape == (2, 3, 16, 16)
    assert zz[1, 2, 3, 5] == a[19, 37]
    b = _mat(40, 24)
    zn = L.to_zn(b)
    assert zn.shape == (3, 2, 16, 16)
    # fractal (k1, n1) row r holds column n1*16 + r with its K0 values
    assert np.array_equal(zn[1, 1, 2, :], b[16:32, 18])


def test_zz_times_zn_fractals_is_the_matmul() -> None:
    a, b = _mat(32, 48, "float32"), _mat(48, 32, "float32")
    zz, zn = L.to_zz(a, 2), L.to_zn(b, 2)
    # C fractal (m1, n1) = sum_k1 A(m1,k1) . B(k1,n1)^T with B fractals stored n-major
    c = np.einsum("akmx,knyx->namy", zz, zn)
    assert np.allclose(L.from_nz_c(c, (32, 32)), a @ b, atol=1e-4)


def test_nz_c_placement() -> None:
    c = _mat(20, 24, "float32")
    nzc = L.to_nz_c(c)
    assert nzc.shape == (2, 2, 16, 16)
    assert nzc[1, 1, 3, 7] == c[19, 23]


def test_nc1hwc0_matches_the_facts_reshape() -> None:
    x = RNG.standard_normal((2, 32, 3, 5)).astype(np.float16)
    expect = x.reshape(2, 2, 16, 3, 5).transpose(0, 1, 3, 4, 2)
    assert np.array_equal(L.to_nc1hwc0(x), expect)
    assert L.to_nc1hwc0(x[:, :20]).shape == (2, 2, 3, 5, 16)


def test_fractal_z_matches_the_facts_reshape() -> None:
    w = RNG.standard_normal((32, 32, 2, 2)).astype(np.float16)
    # facts §5: reshape(N1, N0, C1, C0, H, W) -> transpose(2, 4, 5, 0, 1, 3)
    expect = w.reshape(2, 16, 2, 16, 2, 2).transpose(2, 4, 5, 0, 1, 3).reshape(8, 2, 16, 16)
    assert np.array_equal(L.to_fractal_z(w), expect)


def _conv_direct(x: np.ndarray, w: np.ndarray, stride: int, pad: int, dil: int) -> np.ndarray:
    cout, cin, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho = (xp.shape[1] - dil * (kh - 1) - 1) // stride + 1
    wo = (xp.shape[2] - dil * (kw - 1) - 1) // stride + 1
    out = np.zeros((cout, ho, wo))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dil, i * dil + stride * ho, stride)
            patch = xp[:, rows, j * dil: j * dil + stride * wo: stride]
            out += np.einsum("chw,oc->ohw", patch, w[:, :, i, j])
    return out


def test_conv_weight_matrix_is_the_img2col_k_order() -> None:
    x = RNG.standard_normal((20, 6, 7))
    w = RNG.standard_normal((5, 20, 3, 3))
    xs = L.to_nc1hwc0(x[None], 2)[0]  # (C1, H, W, C0)
    xp = np.pad(xs, ((0, 0), (1, 1), (1, 1), (0, 0)))
    # img2col rows: m = oh*Wo + ow, k = ((c1*Kh + i)*Kw + j)*C0 + c0
    cols = np.stack([xp[:, i: i + 6, j: j + 7, :] for i in range(3) for j in range(3)], axis=1)
    a = cols.reshape(2, 3, 3, 6, 7, 16).transpose(3, 4, 0, 1, 2, 5).reshape(42, -1)
    got = (a @ L.conv_weight_matrix(w, 2)).T.reshape(5, 6, 7)
    assert np.allclose(got, _conv_direct(x, w, 1, 1, 1))
    assert np.array_equal(L.to_fractal_z(w, 2), L.to_zn(L.conv_weight_matrix(w, 2), 2))


_SHAPES = {
    "nd": st.tuples(st.integers(1, 9), st.integers(1, 9)),
    "ndp": st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 40)),
    "nz": st.tuples(st.integers(1, 40), st.integers(1, 40)),
    "zz": st.tuples(st.integers(1, 40), st.integers(1, 40)),
    "zn": st.tuples(st.integers(1, 40), st.integers(1, 40)),
    "nz_c": st.tuples(st.integers(1, 40), st.integers(1, 40)),
    "nc1hwc0": st.tuples(st.integers(1, 2), st.integers(1, 40), st.integers(1, 4),
                         st.integers(1, 4)),
    "nc1hwc0_s2d": st.tuples(st.integers(1, 2), st.integers(1, 10), st.integers(1, 7),
                             st.integers(1, 7)),
    "fractal_z": st.tuples(st.integers(1, 20), st.integers(1, 40), st.integers(1, 3),
                           st.integers(1, 3)),
}


def test_space_to_depth_places_each_pixel_of_a_2x2_block_in_its_own_channel() -> None:
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float32).reshape(2, 3, 5, 6) + 1
    deep = L.space_to_depth(x)
    assert deep.shape == (2, 12, 3, 3)
    for c, dy, dx, i, j in [(0, 0, 0, 0, 0), (2, 1, 0, 1, 2), (1, 1, 1, 1, 2), (2, 0, 1, 2, 1)]:
        assert deep[1, c * 4 + dy * 2 + dx, i, j] == x[1, c, 2 * i + dy, 2 * j + dx]
    assert (deep[:, [1 * 4 + 2, 1 * 4 + 3], 2, :] == 0).all()  # row 5 is past the edge


@pytest.mark.parametrize("layout", L.LAYOUTS)
@pytest.mark.parametrize("dtype", ["float16", "int8", "float32"])
@given(data=st.data())
def test_round_trip(layout: str, dtype: str, data: st.DataObject) -> None:
    shape = data.draw(_SHAPES[layout])
    array = (np.arange(int(np.prod(shape))) % 101 + 1).astype(dtype).reshape(shape)
    stored = L.to_layout(array, layout)
    assert stored.shape == L.layout_shape(shape, layout, array.dtype.itemsize)
    assert stored.flags.c_contiguous
    assert np.array_equal(L.from_layout(stored, layout, shape), array)
    # the flat byte image (what a buffer holds) also reads back
    assert np.array_equal(L.from_layout(stored.reshape(-1), layout, shape), array)
    # padding is zeros: the stored sum equals the logical sum
    assert stored.astype(np.int64).sum() == array.astype(np.int64).sum()


def test_bad_layout_and_shape_are_named() -> None:
    with pytest.raises(IsaError, match="unknown layout 'nhwc'"):
        L.to_layout(np.zeros((2, 2)), "nhwc")
    with pytest.raises(IsaError, match="layout zz: expected a 2-D array"):
        L.to_layout(np.zeros((2, 2, 2)), "zz")
