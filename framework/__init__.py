"""framework: tensors, nn modules, tracing to a static Graph, autodiff, ONNX import and the
NumPy reference interpreter (the golden model for every numeric test).

Core IR: `OpCode`, `TensorType`, `Node`, `Graph`, built with `GraphBuilder`, checked by
`verify_graph`, run by `interpret`; `grad` and `train_step` build backward and training graphs;
`graph_flops` / `graph_params` count cost and size.
"""

from .autodiff import grad
from .builder import GraphBuilder
from .errors import FrameworkError
from .flops import graph_flops, graph_params
from .interpreter import interpret
from .ir import Graph, Node, TensorType, topological
from .ops import OpCode
from .train import train_step
from .verify import verify_graph

__all__ = [
    "FrameworkError",
    "Graph",
    "GraphBuilder",
    "Node",
    "OpCode",
    "TensorType",
    "grad",
    "graph_flops",
    "graph_params",
    "interpret",
    "topological",
    "train_step",
    "verify_graph",
]

# eager front end: Tensor, nn modules and tracing (appended by the front-end owner)
from . import nn  # noqa: E402
from .tensor import Tensor  # noqa: E402
from .trace import trace  # noqa: E402

__all__ += ["Tensor", "nn", "trace"]
