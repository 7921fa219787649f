"""Constant folding: a node whose inputs are all constants becomes constants, computed by the
reference interpreter's rules (so folding can never disagree with the golden model)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from framework import Graph
from framework.evaluate import EVAL_RULES

from ..options import CompileOptions
from ..rewrite import ALL_OPS, Match, Pat, Rewrite, Rule, rewrite_graph


def _widen(a: np.ndarray) -> np.ndarray:
    # the interpreter's precision policy: float16 computes in float32 (framework/interpreter.py)
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _fold(max_new_elements: int) -> Callable[[Match], Rewrite | None]:
    def fold(m: Match) -> Rewrite | None:
        node = m.root
        out_elements = sum(math.prod(m.type_of(o).shape) for o in node.outputs)
        in_elements = sum(m.array(v).size for v in set(node.inputs))
        if out_elements > max(max_new_elements, in_elements):
            return None  # e.g. expand(scalar) to a big tensor: cheaper as a node
        with np.errstate(all="ignore"):
            results = EVAL_RULES[node.op]([_widen(m.array(v)) for v in node.inputs], node.attrs)
        constants = {}
        for out, value in zip(node.outputs, results, strict=True):
            want = m.type_of(out)
            constants[out] = np.asarray(value).astype(want.dtype).reshape(want.shape)
        return Rewrite(constants=constants)
    return fold


def fold_constants(graph: Graph, options: CompileOptions | None = None) -> Graph:
    """Replace every node whose inputs are all constants (including input-less FILL) by
    constants of the same names and types; repeats until nothing folds.

    A node is left alone when its results would hold more than
    ``options.fold_max_elements`` elements and more than the constants it reads.
    """
    limit = (options or CompileOptions()).fold_max_elements
    rule = Rule("fold_constant", Pat(ops=ALL_OPS, each=Pat.constant()),
                _fold(limit))
    return rewrite_graph(graph, [rule])
