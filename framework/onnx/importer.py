"""`load`: an ONNX model (file, bytes or ModelProto) -> a verified framework Graph.

Steps: read and check the model (any failure is one FrameworkError naming the file); list every
node whose op has no converter and refuse them all in one message; declare the graph inputs with
static shapes; then convert the nodes in order through `CONVERTERS`. A node whose inputs are all
known constants is *folded*: its converter runs on a scratch builder and the scratch graph is
evaluated at once by the reference interpreter, so shape subgraphs (Shape -> Gather -> Concat ->
Reshape) and generated weights (ConstantOfShape) become constants with exactly the IR's
semantics. Nodes no output depends on are pruned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx

from ..builder import GraphBuilder
from ..errors import FrameworkError
from ..interpreter import interpret
from ..ir import Graph
from .context import ImportContext, Result, describe, node_label, onnx_dtype, tensor_to_array
from .converters import CONVERTERS

ModelSource = str | os.PathLike[str] | bytes | onnx.ModelProto
_ONNX_DOMAINS = ("", "ai.onnx")


def read_model(model: ModelSource) -> tuple[onnx.ModelProto, str]:
    """The ModelProto and a label for messages (the file path, or the graph's name)."""
    if isinstance(model, onnx.ModelProto):
        return model, f"model {model.graph.name or '<unnamed>'!r}"
    if isinstance(model, bytes):
        source = "<bytes>"
        try:
            return onnx.load_model_from_string(model), source
        except Exception as exc:  # noqa: BLE001 -- protobuf raises several types
            raise FrameworkError(f"{source}: not a valid ONNX model ({exc})") from None
    path = Path(model)
    source = str(path)
    if not path.is_file():
        raise FrameworkError(f"{source}: no such ONNX file")
    try:
        return onnx.load(str(path)), source
    except Exception as exc:  # noqa: BLE001 -- DecodeError, OSError, external-data errors
        raise FrameworkError(f"{source}: not a valid ONNX model ({type(exc).__name__}: "
                             f"{exc})") from None


def check_model(model: onnx.ModelProto | str, source: str) -> None:
    """Run onnx.checker on a model or a path (a path also works for models over 2 GB),
    raising FrameworkError with the checker's first message line."""
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FrameworkError(f"{source}: fails the ONNX checker: {first}") from None


def model_opset(model: onnx.ModelProto) -> int:
    """The model's version of the default ONNX domain (1 when it imports none, as ONNX says)."""
    for entry in model.opset_import:
        if entry.domain in _ONNX_DOMAINS:
            return int(entry.version)
    return 1


def unsupported_ops(graph: onnx.GraphProto) -> list[str]:
    """``OpType (node 'name')`` for every node no converter handles, in graph order."""
    found = []
    for node in graph.node:
        if node.domain not in _ONNX_DOMAINS:
            found.append(f"{node.domain}.{node.op_type} ({node_label(node)})")
        elif node.op_type not in CONVERTERS:
            found.append(f"{node.op_type} ({node_label(node)})")
    return found


def _input_shape(value: onnx.ValueInfoProto, override: Sequence[int] | None,
                 source: str) -> tuple[int, ...]:
    """Static shape of a graph input: the override, else its dims with symbolic ones set to 1."""
    if override is not None:
        return tuple(int(d) for d in override)
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        raise FrameworkError(f"{source}: input {value.name!r} has no shape; pass "
                             f"input_shapes={{{value.name!r}: (...)}}")
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1
                 for d in tensor.shape.dim)


def load(model: ModelSource, input_shapes: Mapping[str, Sequence[int]] | None = None,
         check: bool = True, bind: Mapping[str, npt.ArrayLike] | None = None) -> Graph:
    """Import an ONNX model as a verified Graph.

    ``model`` is a path, serialized bytes or an `onnx.ModelProto` (default-domain opsets 6..the
    installed onnx package's newest). ``input_shapes`` fixes the shape of named inputs; any
    other symbolic or unknown dimension (``batch``, ``seq``, ``?``) becomes 1. Initializers
    become graph constants (also when, as in IR version < 4 models, they are listed as graph
    inputs: they are then not inputs of the Graph). ``bind`` fixes the values of named graph
    inputs, which then become constants too (for models that feed shape parameters, such as a
    Reshape target, as inputs). ``check`` runs onnx.checker first.

    Raises FrameworkError for a missing or malformed file, a model the checker rejects, a
    model with unsupported ops (one message listing each op type with its node name), or a
    node the importer cannot express (the message names the file and the node).
    """
    proto, source = read_model(model)
    if check:
        check_model(str(model) if isinstance(model, (str, os.PathLike)) else proto, source)
    graph_proto = proto.graph
    missing = unsupported_ops(graph_proto)
    if missing:
        raise FrameworkError(f"{source}: unsupported ONNX ops: {', '.join(missing)}")
    ctx = ImportContext(GraphBuilder(graph_proto.name or Path(source).stem or "onnx"),
                        model_opset(proto), source)
    _declare_values(ctx, graph_proto, dict(input_shapes or {}), dict(bind or {}))
    consumed = {name for node in graph_proto.node for name in node.input} | \
        {out.name for out in graph_proto.output}
    for node in graph_proto.node:
        _convert_node(ctx, node, consumed)
    outputs = [_graph_output(ctx, out.name) for out in graph_proto.output]
    ctx.b.set_outputs(outputs)
    try:
        return ctx.b.build(verify=True, prune=True)
    except FrameworkError as exc:
        raise FrameworkError(f"{source}: {exc}") from None


def _declare_values(ctx: ImportContext, graph: onnx.GraphProto,
                    input_shapes: dict[str, Sequence[int]],
                    bind: dict[str, npt.ArrayLike]) -> None:
    initializers = {t.name for t in graph.initializer}
    for tensor in graph.initializer:
        ctx.define_const(tensor.name, tensor_to_array(tensor, f"{ctx.source}: initializer"))
    names = [v.name for v in graph.input if v.name not in initializers]
    for what, given in (("input_shapes", input_shapes), ("bind", bind)):
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise FrameworkError(f"{ctx.source}: {what} names {unknown}, but the model's "
                                 f"inputs are {names}")
    for value in graph.input:
        if value.name in initializers:
            continue
        where = f"{ctx.source}: input {value.name!r}"
        if not value.type.HasField("tensor_type"):
            raise FrameworkError(f"{where} is not a tensor")
        dtype = onnx_dtype(value.type.tensor_type.elem_type, where)
        if value.name in bind:
            array = np.array(bind[value.name], dtype=dtype)
            array.flags.writeable = False
            ctx.define_const(value.name, array)
            continue
        shape = _input_shape(value, input_shapes.get(value.name), ctx.source)
        ctx.define(value.name, ctx.b.input(value.name, shape, dtype))


def _convert_node(ctx: ImportContext, node: onnx.NodeProto, consumed: set[str]) -> None:
    for name in node.input:
        if name and not ctx.is_known(name):
            raise FrameworkError(f"{ctx.source}: {describe(node)}: input {name!r} is not "
                                 f"defined before the node")
    ctx.start(node)
    present = [name for name in node.input if name]
    foldable = all(ctx.known_const(name) is not None for name in present)
    try:
        results = _fold(ctx, node) if foldable else _run(ctx)
    except FrameworkError as exc:
        message = str(exc)
        if not message.startswith(ctx.source):
            message = f"{ctx.source}: {describe(node)}: {message}"
        raise FrameworkError(message) from None
    for k, name in enumerate(node.output):
        if not name:
            continue
        if k >= len(results):
            if name in consumed:
                raise ctx.error(f"output {k} ({name!r}) is not supported")
            continue
        result = results[k]
        if isinstance(result, np.ndarray):
            ctx.define_const(name, result)
        else:
            ctx.define(name, result)


def _as_list(results: Result | Sequence[Result]) -> list[Result]:
    if isinstance(results, (str, np.ndarray)):
        return [results]
    return list(results)


def _run(ctx: ImportContext) -> list[Result]:
    return _as_list(CONVERTERS[ctx.node.op_type](ctx))


def _fold(ctx: ImportContext, node: onnx.NodeProto) -> list[Result]:
    """Convert ``node`` on a scratch builder holding its constant inputs, then evaluate it."""
    scratch = ImportContext(GraphBuilder(f"fold_{node.op_type}"), ctx.opset, ctx.source)
    for name in node.input:
        array = ctx.known_const(name) if name else None
        if array is not None:
            scratch.define_const(name, array)
    scratch.start(node)
    results = _run(scratch)
    pending = [r for r in results if isinstance(r, str) and not scratch.b.is_constant(r)]
    if pending:
        scratch.b.set_outputs(pending)
        values = interpret(scratch.b.build(verify=False), {})
    folded: list[Result] = []
    for r in results:
        if isinstance(r, np.ndarray):
            array = r
        elif scratch.b.is_constant(r):
            array = scratch.b.constant_value(r)
        else:
            array = values[r]
        array = np.asarray(array)
        array.flags.writeable = False
        folded.append(array)
    return folded


def _graph_output(ctx: ImportContext, name: str) -> str:
    """The IR value of an ONNX graph output, named as in the model where possible."""
    value = ctx.value(name)
    if value != name and ctx.is_free(name):
        value = ctx.b.identity(value, name=name)
    return value
