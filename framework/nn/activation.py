"""Parameter-free modules: activations, softmax and pooling, each a thin wrapper of one
functional call."""

from __future__ import annotations

from ..builder_ops import IntOr2
from ..tensor import Tensor
from . import functional as F
from .module import Module


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.relu(x)


class ReLU6(Module):
    """min(max(x, 0), 6)."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.relu6(x)


class GELU(Module):
    """GELU, exact (approximate="none") or "tanh"."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.gelu(x, self.approximate)


class SiLU(Module):
    """x * sigmoid(x)."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.silu(x)


class Sigmoid(Module):
    """Logistic function."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return x.sigmoid()


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return x.tanh()


class LeakyReLU(Module):
    """x if x >= 0 else alpha * x."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.leaky_relu(x, self.alpha)


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return F.elu(x, self.alpha)


class Softmax(Module):
    """Softmax along ``axis``."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        """Apply."""
        return x.softmax(self.axis)


class MaxPool2d(Module):
    """Max pooling (stride defaults to the kernel)."""

    def __init__(self, kernel_size: IntOr2, stride: IntOr2 | None = None, padding: IntOr2 = 0,
                 dilation: IntOr2 = 1, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        """Pool."""
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode)


class AvgPool2d(Module):
    """Average pooling (count_include_pad defaults to True, as in PyTorch)."""

    def __init__(self, kernel_size: IntOr2, stride: IntOr2 | None = None, padding: IntOr2 = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        """Pool."""
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Adaptive average pooling to ``output_size`` (1 = global average pooling; other sizes
    must divide the input)."""

    def __init__(self, output_size: IntOr2 = 1) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """Pool."""
        return F.adaptive_avg_pool2d(x, self.output_size)
