"""`Module`, `Parameter`, `Buffer` and the containers `Sequential` and `ModuleList`.

Modules are plain Python objects: parameters, buffers and submodules are discovered by walking
the instance attributes in assignment order, so names are stable ("layer1.0.conv1.weight") and
no registration calls are needed. Initialisation takes an explicit ``np.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import numpy as np

from ..attrs import FLOAT_DTYPES
from ..errors import FrameworkError
from ..ir import TensorType
from ..tensor import TRACING, Tensor


class Parameter(Tensor):
    """A trainable Tensor owned by a Module (a graph constant when traced)."""

    __slots__ = ()

    def assign(self, value: np.ndarray) -> None:
        """Replace the data with ``value`` (same shape; converted to this dtype)."""
        value = np.asarray(value)
        if tuple(value.shape) != self.shape:
            raise FrameworkError(f"assign: shape {tuple(value.shape)} does not match {self.shape}")
        self._data = np.array(value, dtype=self.dtype)

    def _cast(self, dtype: str) -> None:
        self._data = self.numpy().astype(dtype)
        self._type = TensorType.of(self._data)


class Buffer(Parameter):
    """Non-trainable state of a Module (batch-norm running statistics)."""

    __slots__ = ()


class Module:
    """Base class of layers and models: override ``forward``; call the module to run it.

    ``training`` selects train or eval behaviour (dropout, batch-norm statistics); `eval` and
    `train` set it on the whole tree. Calling a module inside ``framework.trace`` names the
    recorded nodes after the module's path.
    """

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise FrameworkError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = TRACING.get()
        if tracer is None:
            return self.forward(*args, **kwargs)
        with tracer.scope(self):
            return self.forward(*args, **kwargs)

    # ----- tree walks -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules, in attribute order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all below it, each once, as (dotted path, module)."""
        seen: set[int] = set()

        def walk(module: Module, path: str) -> Iterator[tuple[str, Module]]:
            if id(module) in seen:
                return
            seen.add(id(module))
            yield path, module
            for name, child in module.named_children():
                yield from walk(child, f"{path}.{name}" if path else name)
        yield from walk(self, prefix)

    def _named_tensors(self, kind: type) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for path, module in self.named_modules():
            for name, value in vars(module).items():
                if type(value) is kind and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{path}.{name}" if path else name), cast(Parameter, value)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter once (shared ones under their first path)."""
        return self._named_tensors(Parameter)

    def named_buffers(self) -> Iterator[tuple[str, Parameter]]:
        """Every Buffer once."""
        return self._named_tensors(Buffer)

    def parameters(self) -> list[Parameter]:
        """Every Parameter once."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """Total number of trainable elements."""
        return sum(p.numel() for p in self.parameters())

    # ----- modes and state ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on the whole tree; returns self."""
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Set eval (inference) mode on the whole tree; returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by path."""
        items = list(self.named_parameters()) + list(self.named_buffers())
        return {name: t.numpy().copy() for name, t in items}

    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Assign parameters and buffers from ``state``; strict mode rejects missing or extra
        keys, naming them. Shapes must match."""
        own = dict(self.named_parameters()) | dict(self.named_buffers())
        if strict:
            missing = sorted(set(own) - set(state))
            extra = sorted(set(state) - set(own))
            if missing or extra:
                raise FrameworkError(f"load_state_dict: missing keys {missing}, "
                                     f"unexpected keys {extra}")
        for name, value in state.items():
            if name in own:
                try:
                    own[name].assign(value)
                except FrameworkError as exc:
                    raise FrameworkError(f"load_state_dict: {name!r}: {exc}") from None

    def to(self, dtype: str) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype``; returns self."""
        if dtype not in FLOAT_DTYPES:
            raise FrameworkError(f"Module.to: {dtype!r} is not a float dtype "
                                 f"{sorted(FLOAT_DTYPES)}")
        for _, t in list(self.named_parameters()) + list(self.named_buffers()):
            if t.type.is_float:
                t._cast(dtype)
        return self

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + (")" if not lines else "\n" + "\n".join(lines) + "\n)")


class ModuleList(Module):
    """A list of submodules named "0", "1", ... (no forward of its own)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._count = 0
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> None:
        """Add a submodule at the end."""
        if not isinstance(module, Module):
            raise FrameworkError(f"{type(self).__name__}: {type(module).__name__} is not a Module")
        setattr(self, str(self._count), module)
        self._count += 1

    def __getitem__(self, index: int) -> Module:
        if not -self._count <= index < self._count:
            raise FrameworkError(f"{type(self).__name__}: index {index} out of range")
        return getattr(self, str(index % self._count))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Module]:
        return (getattr(self, str(i)) for i in range(self._count))


class Sequential(ModuleList):
    """Submodules applied in order, each to the previous one's output."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        """Run each submodule in turn."""
        for module in self:
            x = module(x)
        return x
