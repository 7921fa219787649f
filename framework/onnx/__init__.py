"""ONNX import: `load(model) -> Graph`, and `framework.onnx.backend` (the onnx backend API).

`load` accepts a path, serialized bytes or an `onnx.ModelProto` (default-domain opsets 6 up to
the newest the installed onnx package knows). Graph inputs get static shapes: pass
``input_shapes={name: shape}`` for inputs with symbolic dims; any symbolic dim left is set to 1.
Initializers become constants, and nodes computable from constants alone (shape arithmetic,
generated weights) are folded at import with the reference interpreter. Unsupported ops are
refused in one FrameworkError listing each op with its node name.
"""

from . import backend
from .converters import SUPPORTED_OPS
from .importer import load

__all__ = ["SUPPORTED_OPS", "backend", "load"]
