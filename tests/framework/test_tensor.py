"""The eager Tensor: NumPy semantics of its ops, dtype rules, indexing, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from framework import FrameworkError, Tensor, TensorType, interpret, trace
from framework.tensor import concat, maximum, where

RNG = np.random.default_rng(0)


def arr(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def test_construction_dtypes() -> None:
    assert Tensor([1.0, 2.0]).dtype == "float32"  # Python floats default to float32
    assert Tensor([1, 2]).dtype == "int64"
    assert Tensor(np.zeros(3, np.float64)).dtype == "float64"  # arrays keep their dtype
    assert Tensor(np.zeros(3), dtype="float16").dtype == "float16"
    t = Tensor(np.ones((2, 3), np.float32))
    assert (t.shape, t.ndim, t.numel(), t.type) == ((2, 3), 2, 6, TensorType((2, 3)))


def test_constructor_copies_and_numpy_is_read_only() -> None:
    a = np.ones(3, np.float32)
    t = Tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 1.0
    with pytest.raises(ValueError):
        t.numpy()[0] = 2.0


def test_arithmetic_matches_numpy_with_broadcasting_and_scalars() -> None:
    a, b = arr(2, 3), arr(3)
    ta, tb = Tensor(a), Tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - 1.5).numpy(), a - np.float32(1.5))
    np.testing.assert_allclose((2.0 - ta).numpy(), np.float32(2.0) - a)
    np.testing.assert_allclose((ta * tb / 3.0).numpy(), a * b / np.float32(3.0), rtol=1e-6)
    np.testing.assert_allclose((1.0 / (ta.abs() + 1.0)).numpy(), 1 / (np.abs(a) + 1), rtol=1e-6)
    np.testing.assert_allclose((-ta).numpy(), -a)
    np.testing.assert_allclose((ta.abs() ** 2.0).numpy(), np.abs(a) ** 2, rtol=1e-6)
    assert (ta * 2.0).dtype == "float32"  # scalars take the tensor's dtype
    assert (ta > 0.0).dtype == "bool"
    np.testing.assert_array_equal((ta < tb).numpy(), a < b)


def test_matmul_and_ndarray_operands() -> None:
    a, b = arr(2, 4, 3), arr(3, 5)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose((a @ Tensor(b)).numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose((b[:1] + Tensor(b)).numpy(), b[:1] + b)  # ndarray + Tensor


def test_unary_ops() -> None:
    a = arr(4, 5)
    t = Tensor(a)
    np.testing.assert_allclose(t.relu().numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(t.exp().numpy(), np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(t.tanh().numpy(), np.tanh(a), rtol=1e-6)
    np.testing.assert_allclose(t.sigmoid().numpy(), 1 / (1 + np.exp(-a)), rtol=1e-6)
    np.testing.assert_allclose(t.abs().sqrt().numpy(), np.sqrt(np.abs(a)), rtol=1e-6)
    np.testing.assert_allclose((t.abs() + 1.0).log().numpy(), np.log(np.abs(a) + 1), rtol=1e-6)
    np.testing.assert_allclose(t.clip(-0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))
    assert t.astype("float16").dtype == "float16"


def test_shape_ops() -> None:
    a = arr(2, 3, 4)
    t = Tensor(a)
    assert t.reshape(-1, 4).shape == (6, 4)
    assert t.reshape((4, 6)).shape == (4, 6)
    assert t.reshape(2, 3, 4) is t  # a no-op reshape adds no op
    assert t.flatten().shape == (24,)
    assert t.flatten(1).shape == (2, 12)
    np.testing.assert_array_equal(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.transpose(0, 2).numpy(), a.swapaxes(0, 2))
    assert t.unsqueeze(1).shape == (2, 1, 3, 4)
    assert t.unsqueeze(-1).shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(Tensor(a[:, :1]).expand(2, 5, 4).numpy(),
                                  np.broadcast_to(a[:, :1], (2, 5, 4)))
    parts = t.split(3, axis=1)
    assert [p.shape for p in parts] == [(2, 1, 4)] * 3
    x, y = t.split([1, 3], axis=-1)
    np.testing.assert_array_equal(y.numpy(), a[..., 1:])
    np.testing.assert_array_equal(concat([x, y], axis=-1).numpy(), a)


def test_reductions_and_softmax() -> None:
    a = arr(3, 4)
    t = Tensor(a)
    np.testing.assert_allclose(t.sum().numpy(), a.sum(), rtol=1e-5)
    np.testing.assert_allclose(t.mean(axis=0).numpy(), a.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(t.max(axis=1, keepdims=True).numpy(), a.max(1, keepdims=True))
    np.testing.assert_array_equal(t.argmax(-1).numpy(), a.argmax(-1))
    sm = t.softmax(-1).numpy()
    np.testing.assert_allclose(sm.sum(-1), np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(t.log_softmax(-1).numpy(), np.log(sm), rtol=1e-5, atol=1e-6)


def test_where_and_maximum() -> None:
    a, b = arr(3, 4), arr(3, 4)
    np.testing.assert_array_equal(where(Tensor(a > 0), Tensor(a), 0.0).numpy(),
                                  np.where(a > 0, a, 0))
    np.testing.assert_array_equal(maximum(Tensor(a), Tensor(b)).numpy(), np.maximum(a, b))


INDICES = [
    (1,), (slice(None), 2), (slice(1, 3),), (slice(None, None, -1),), (Ellipsis, 0),
    (None, 0), (slice(None), None, slice(0, 4, 2)), (-1, slice(-3, None), 1),
    (slice(None), slice(None), slice(None, None, -2)),
]


@pytest.mark.parametrize("index", INDICES)
def test_getitem_matches_numpy(index: tuple) -> None:
    a = arr(3, 4, 5)
    np.testing.assert_array_equal(Tensor(a)[index].numpy(), a[index])


@given(st.integers(-4, 4), st.integers(-4, 4), st.sampled_from([1, 2, -1, -2]))
def test_getitem_slices_property(start: int, stop: int, step: int) -> None:
    a = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(Tensor(a)[start:stop:step].numpy(), a[start:stop:step])


def test_getitem_with_int_tensor_gathers() -> None:
    a = arr(5, 3)
    ids = np.array([[0, 4], [2, 2]])
    np.testing.assert_array_equal(Tensor(a)[Tensor(ids)].numpy(), a[ids])


def test_float16_computes_like_the_interpreter() -> None:
    """fp16 ops widen to fp32 and round back once, exactly as `interpret` does."""
    a = arr(4, 8).astype(np.float16)
    t = Tensor(a)
    eager = ((t @ t.transpose()).softmax(-1) * 3.0).numpy()
    assert eager.dtype == np.float16
    graph = trace(lambda x: (x @ x.transpose()).softmax(-1) * 3.0, a)
    np.testing.assert_array_equal(interpret(graph, {"input": a})["output"], eager)


def test_errors_are_framework_errors() -> None:
    t = Tensor(arr(2, 3))
    with pytest.raises(FrameworkError, match="cannot infer -1"):
        t.reshape(-1, 4)
    with pytest.raises(FrameworkError, match="more than one -1"):
        t.reshape(-1, -1)
    with pytest.raises(FrameworkError, match="dtypes differ"):
        _ = t + Tensor(np.ones(3, np.float64))
    with pytest.raises(FrameworkError, match="do not broadcast"):
        _ = t + Tensor(arr(4))
    with pytest.raises(FrameworkError, match="out of range"):
        _ = t[5]
    with pytest.raises(FrameworkError, match="not divisible"):
        t.split(2, axis=1)


def test_python_protocols() -> None:
    t = Tensor(np.array([1.5, -2.0], np.float32))
    np.testing.assert_array_equal(np.asarray(t), [1.5, -2.0])
    assert Tensor(t, dtype="float16").dtype == "float16"
    assert bool(t.sum() < 0.0) and not bool(t.max() < 0.0)
    with pytest.raises(ValueError):
        bool(t)  # more than one element, as in NumPy
