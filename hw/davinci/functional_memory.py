"""The bytes of one AI Core in functional mode: a uint8 array per local buffer plus the GM
array shared by every core, with bounds-checked byte windows and typed views."""

from __future__ import annotations

from typing import Any

import numpy as np

from hw.errors import HwError, SimulationError
from isa.davinci import DType, Instruction, Region, Space

SPACE_SIZE_FIELDS: dict[Space, str] = {
    Space.L1: "l1_bytes",
    Space.L0A: "l0a_bytes",
    Space.L0B: "l0b_bytes",
    Space.L0C: "l0c_bytes",
    Space.UB: "ub_bytes",
    Space.BT: "bt_bytes",
    Space.FB: "fb_bytes",
}
"""Config field giving the size of each core-local space (DaVinciConfig names)."""


def _who(instr: Instruction | None) -> str:
    return f"{instr.mnemonic}: " if instr is not None else ""


class CoreMemory:
    """Every buffer of one core as a NumPy uint8 array; GM is the shared ``gm`` array.

    ``config`` is any object with the ``*_bytes`` attributes of ``SPACE_SIZE_FIELDS`` (a
    ``DaVinciConfig``); a space of size 0 (e.g. no bias table) exists but holds nothing, so
    any access to it is out of bounds. Local buffers start zeroed.
    """

    def __init__(self, config: Any, gm: np.ndarray) -> None:
        if not isinstance(gm, np.ndarray) or gm.dtype != np.uint8 or gm.ndim != 1:
            raise HwError("CoreMemory: gm must be a 1-D uint8 NumPy array")
        self._spaces: dict[Space, np.ndarray] = {Space.GM: gm}
        for space, field in SPACE_SIZE_FIELDS.items():
            self._spaces[space] = np.zeros(int(getattr(config, field)), dtype=np.uint8)

    @property
    def gm(self) -> np.ndarray:
        """The global memory shared by all cores."""
        return self._spaces[Space.GM]

    def buffer(self, space: Space) -> np.ndarray:
        """The whole byte array of ``space`` (writes through)."""
        return self._spaces[space]

    def size(self, space: Space) -> int:
        """Bytes in ``space``."""
        return int(self._spaces[space].size)

    def window(self, space: Space, offset: int, nbytes: int,
               instr: Instruction | None = None) -> np.ndarray:
        """The writable uint8 view of bytes [offset, offset + nbytes) of ``space``; raises
        SimulationError naming ``instr`` and the region when it is not inside the space."""
        buf = self._spaces[space]
        if offset < 0 or nbytes < 0 or offset + nbytes > buf.size:
            where = Region(space, offset, offset + nbytes)
            raise SimulationError(
                f"{_who(instr)}{where} is outside {space.name} ({buf.size} bytes)"
            )
        return buf[offset:offset + nbytes]

    def view(self, space: Space, offset: int, dtype: DType | np.dtype | str, count: int,
             instr: Instruction | None = None) -> np.ndarray:
        """A writable typed view of ``count`` elements at byte ``offset`` of ``space``
        (``DType`` gives its storage type: bf16 is uint16 bits)."""
        np_dtype = dtype.np_dtype if isinstance(dtype, DType) else np.dtype(dtype)
        return self.window(space, offset, count * np_dtype.itemsize, instr).view(np_dtype)

    def read(self, space: Space, offset: int, dtype: DType | np.dtype | str,
             shape: tuple[int, ...]) -> np.ndarray:
        """A copy of the elements at ``offset`` shaped ``shape``."""
        count = int(np.prod(shape))
        return self.view(space, offset, dtype, count).reshape(shape).copy()

    def write(self, space: Space, offset: int, data: np.ndarray) -> None:
        """Store the bytes of ``data`` (C order) at ``offset``."""
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        self.window(space, offset, raw.size)[:] = raw


def strided_rows(window: np.ndarray, rows: int, row_bytes: int, pitch_bytes: int) -> np.ndarray:
    """A (rows, row_bytes) view of a 1-D uint8 ``window`` whose row r starts at
    ``r * pitch_bytes`` (bursts with gaps, fractal strides, padded matrix rows)."""
    if rows == 0:
        return window[:0].reshape(0, row_bytes)
    return np.lib.stride_tricks.as_strided(
        window, shape=(rows, row_bytes), strides=(pitch_bytes, 1)
    )


def strided_extent_bytes(rows: int, row_bytes: int, pitch_bytes: int) -> int:
    """Bytes from the first row's start to the last row's end."""
    return 0 if rows == 0 else (rows - 1) * pitch_bytes + row_bytes
