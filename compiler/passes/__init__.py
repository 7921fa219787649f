"""The graph passes, one small module each; every pass is a pure ``Graph -> Graph`` function
(options, where a pass needs them, are bound by the pipeline)."""

from .batch_norm_folding import fold_batch_norm
from .constant_folding import fold_constants
from .cse import eliminate_common_subexpressions
from .dead_code import eliminate_dead_code
from .expand_batch_norm_grad import expand_batch_norm_grad
from .fusion import fuse
from .layout_assignment import assign_layouts
from .relu_grad_into_batch_norm_grad import fold_relu_grad_into_batch_norm_grad
from .shape_inference import infer_shapes
from .simplify import simplify
from .split_bias import split_runtime_bias

__all__ = [
    "assign_layouts",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "expand_batch_norm_grad",
    "fold_batch_norm",
    "fold_constants",
    "fold_relu_grad_into_batch_norm_grad",
    "fuse",
    "infer_shapes",
    "simplify",
    "split_runtime_bias",
]
