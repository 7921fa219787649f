"""Element arithmetic of the functional model: stored bits <-> compute values, and conversions.

Values are computed in a wide NumPy type and rounded once to the stored type, which is how the
functional model approximates the hardware:

- fp16 and bf16 are computed in float32 and rounded to nearest-even on store (the Cube
  accumulates fp16/bf16 in fp32 [facts §1.1]; for vector ops one fp32 evaluation rounded to
  fp16 is an approximation of the fp16 datapath, within 1 ulp for the basic ops).
- bf16 is stored as raw uint16 bit patterns (isa ``DType.np_dtype``); it is widened by a 16-bit
  shift and narrowed with round-to-nearest-even on the bit pattern.
- Integers are computed in int64 and saturate to the stored type's range; conversions to
  integers round to nearest-even and saturate, NaN becoming 0 (isa ``VConv`` docstring).
"""

from __future__ import annotations

import numpy as np

from isa.davinci import DType

_INT_TYPES = (DType.INT8, DType.UINT8, DType.INT16, DType.INT32)


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bf16 bit patterns (uint16) -> float32 values: the high half of an fp32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16(values: np.ndarray) -> np.ndarray:
    """float32 values -> bf16 bit patterns (uint16), rounded to nearest-even; NaN stays NaN."""
    f32 = np.ascontiguousarray(values, dtype=np.float32)
    bits = f32.view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    return np.where(np.isnan(f32), np.uint16(0x7FC0), rounded)


def is_int(dtype: DType) -> bool:
    """True for the integer element types."""
    return dtype in _INT_TYPES


def decode(stored: np.ndarray, dtype: DType) -> np.ndarray:
    """Stored elements of ``dtype`` -> compute values (float32 for floats, int64 for ints)."""
    if dtype is DType.BF16:
        return bf16_to_float32(stored)
    if dtype.is_float:
        return np.asarray(stored).astype(np.float32)
    return np.asarray(stored).astype(np.int64)


def encode(values: np.ndarray, dtype: DType) -> np.ndarray:
    """Compute values -> stored elements of ``dtype``: floats round to nearest-even (fp16
    overflow gives inf, as a float conversion does); integers round and saturate."""
    values = np.asarray(values)
    if dtype is DType.BF16:
        return float32_to_bf16(values.astype(np.float32))
    if dtype.is_float:
        with np.errstate(over="ignore", invalid="ignore"):
            return values.astype(dtype.np_dtype)
    info = np.iinfo(dtype.np_dtype)
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            rounded = np.nan_to_num(np.rint(values.astype(np.float64)), nan=0.0)
        return np.clip(rounded, info.min, info.max).astype(dtype.np_dtype)
    return np.clip(values, info.min, info.max).astype(dtype.np_dtype)


def convert(stored: np.ndarray, src: DType, dst: DType) -> np.ndarray:
    """Element-wise conversion of stored ``src`` elements to stored ``dst`` elements."""
    if src is dst:
        return np.asarray(stored).copy()
    return encode(decode(stored, src), dst)


def scalar_value(scalar: float, dtype: DType) -> np.ndarray:
    """An immediate operand as the hardware sees it: rounded to ``dtype``, then widened."""
    return decode(encode(np.array([scalar]), dtype), dtype)[0]


def unsigned_view(stored: np.ndarray) -> np.ndarray:
    """The raw bits of ``stored`` as an unsigned integer array of the same item size (for the
    bitwise ops vand/vor/vnot)."""
    return np.ascontiguousarray(stored).view(f"u{np.asarray(stored).dtype.itemsize}")
