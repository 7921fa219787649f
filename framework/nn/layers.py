"""Parameterised layers: Linear, Embedding, Conv2d, ConvTranspose2d, BatchNorm2d, LayerNorm,
and the parameter-free Flatten, Dropout and Identity."""

from __future__ import annotations

import numpy as np

from ..builder_ops import IntOr2, pair
from ..errors import FrameworkError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Buffer, Module


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), PyTorch's default init."""

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.fan_in_uniform(rng, (out_features, in_features), in_features)
        self.bias = init.fan_in_uniform(rng, (out_features,), in_features) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Apply the affine map to the last dim."""
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A (num_embeddings, dim) table looked up by integer ids; init N(0, std^2)."""

    def __init__(self, num_embeddings: int, dim: int, *, rng: np.random.Generator,
                 std: float = 1.0) -> None:
        super().__init__()
        self.num_embeddings, self.dim = num_embeddings, dim
        self.weight = init.normal(rng, (num_embeddings, dim), std)

    def forward(self, ids: Tensor) -> Tensor:
        """Rows for ``ids``: shape ids.shape + (dim,)."""
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"


class Conv2d(Module):
    """NCHW convolution; weight (out, in/groups, kh, kw) drawn N(0, 2/fan_in) (He et al. 2015),
    which keeps untrained deep ReLU networks' activations near unit scale."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOr2, *,
                 rng: np.random.Generator, stride: IntOr2 = 1, padding: IntOr2 = 0,
                 dilation: IntOr2 = 1, groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise FrameworkError(f"Conv2d: channels {in_channels}->{out_channels} not divisible "
                                 f"by groups={groups}")
        kh, kw = pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        fan_in = in_channels // groups * kh * kw
        self.weight = init.kaiming_normal(rng, (out_channels, in_channels // groups, kh, kw),
                                          fan_in)
        self.bias = init.fan_in_uniform(rng, (out_channels,), fan_in) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Convolve."""
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        o, i, kh, kw = self.weight.shape
        return (f"{i * self.groups}, {o}, kernel=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, groups={self.groups}")


class ConvTranspose2d(Module):
    """Transposed convolution; weight (in, out/groups, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOr2, *,
                 rng: np.random.Generator, stride: IntOr2 = 1, padding: IntOr2 = 0,
                 output_padding: IntOr2 = 0, dilation: IntOr2 = 1, groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        kh, kw = pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation, self.groups = dilation, groups
        fan_in = out_channels // groups * kh * kw  # PyTorch computes fan-in from weight dim 1
        self.weight = init.fan_in_uniform(rng, (in_channels, out_channels // groups, kh, kw),
                                          fan_in)
        self.bias = init.fan_in_uniform(rng, (out_channels,), fan_in) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Transposed convolution."""
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.dilation, self.groups)


class BatchNorm2d(Module):
    """Batch norm over channels. Eval uses the running statistics; eager training uses batch
    statistics and updates them with PyTorch's ``momentum`` (weight of the new batch)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = init.constant((num_features,), 1.0)
        self.bias = init.constant((num_features,), 0.0)
        self.running_mean = Buffer._wrap(np.zeros(num_features, np.float32))
        self.running_var = Buffer._wrap(np.ones(num_features, np.float32))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise; in training mode eagerly also update the running statistics."""
        out = F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                           self.training, self.momentum, self.eps)
        if not self.training:
            return out  # type: ignore[return-value]
        y, mean, var = out  # type: ignore[misc]
        # eagerly, keep the new statistics; a traced graph computes them but has nowhere to
        # store them (constants are immutable), so tracing keeps only y
        if not y.is_symbolic:
            self.running_mean.assign(mean.numpy())
            self.running_var.assign(var.numpy())
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class LayerNorm(Module):
    """Normalise over the last ``len(shape)`` dims, then scale and shift."""

    def __init__(self, shape: int | tuple[int, ...], eps: float = 1e-5) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.eps = eps
        self.weight = init.constant(self.shape, 1.0)
        self.bias = init.constant(self.shape, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        """Layer norm over the trailing dims."""
        return F.layer_norm(x, self.weight, self.bias, -len(self.shape), self.eps)

    def extra_repr(self) -> str:
        return f"{self.shape}, eps={self.eps}"


class Flatten(Module):
    """Merge dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """Reshape."""
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    """Identity in eval mode. In eager training, zeroes elements with probability ``p`` (mask
    drawn from ``rng``) and scales the rest by 1/(1-p); the graph has no random op, so tracing a
    training-mode Dropout with p > 0 is an error."""

    def __init__(self, p: float = 0.1, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise FrameworkError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self._rng = p, rng

    def forward(self, x: Tensor) -> Tensor:
        """Identity in eval, random masking in eager training."""
        if not self.training or self.p == 0.0:
            return x
        if x.is_symbolic:
            raise FrameworkError("Dropout: cannot trace training-mode dropout; call eval() first")
        if self._rng is None:
            raise FrameworkError("Dropout: training mode needs rng= for its masks")
        keep = self._rng.random(x.shape) >= self.p
        return x * Tensor(keep.astype(x.dtype) / np.asarray(1.0 - self.p, x.dtype))


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Tensor) -> Tensor:
        """x."""
        return x

