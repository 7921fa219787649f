"""The pattern rewriter: (pattern, callback) rules applied to a Graph until none fires.

In the style of tinygrad's ``PatternMatcher``: a `Pat` describes a node (its op, a predicate,
patterns for its inputs, whether its result may have other users) and binds names; a `Rule`'s
callback receives the `Match` and returns a `Rewrite` (nodes and constants that take over the
root node's outputs) or None to decline. `rewrite_graph` sweeps the nodes in order, applies the
first rule that fires at each node, deletes whatever became dead, and repeats until a sweep
changes nothing. Output types of new nodes are inferred with the framework's shape rules, and a
rewrite may not change the type of a value that already exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from framework import Graph, Node, OpCode, TensorType
from framework.shapes import infer_types

from .errors import CompileError

ALL_OPS = frozenset(OpCode)


@dataclass(frozen=True)
class Pat:
    """A pattern over values. With ``ops`` None it matches any value (``const``: constants
    only); otherwise it matches a value produced by a node whose op is in ``ops``, that
    satisfies ``where``, whose outputs have exactly one consumer and are no graph output when
    ``single_use``, and whose inputs match ``src`` in order (tried in both orders when
    ``commutative``) or each match ``each``. ``name`` binds the node (and its first output)."""

    ops: frozenset[OpCode] | None = None
    src: tuple[Pat, ...] | None = None
    each: Pat | None = None
    name: str | None = None
    const: bool = False
    single_use: bool = False
    commutative: bool = False
    where: Callable[[Node], bool] | None = None

    @staticmethod
    def op(ops: OpCode | frozenset[OpCode], *src: Pat, **kw: Any) -> Pat:
        """A node pattern: ``Pat.op(OpCode.RELU, Pat.any("x"), name="r")``; with no ``src``
        patterns the node's inputs are not constrained."""
        opset = frozenset({ops}) if isinstance(ops, OpCode) else frozenset(ops)
        return Pat(ops=opset, src=tuple(src) or None, **kw)

    @staticmethod
    def any(name: str | None = None) -> Pat:
        """Any value (graph input, constant or node output)."""
        return Pat(name=name)

    @staticmethod
    def constant(name: str | None = None) -> Pat:
        """A graph constant."""
        return Pat(name=name, const=True)


@dataclass
class Match:
    """What a pattern bound: ``nodes`` by name, ``values`` by name, plus read access to the
    graph being rewritten (types, constant arrays, fresh names)."""

    root: Node
    nodes: dict[str, Node]
    values: dict[str, str]
    _editor: _Editor = field(repr=False)

    def type_of(self, value: str) -> TensorType:
        """The current TensorType of a value."""
        return self._editor.types[value]

    def array(self, value: str) -> np.ndarray:
        """The array of a constant value."""
        return self._editor.constants[value]

    def is_constant(self, value: str) -> bool:
        """True if ``value`` is a graph constant."""
        return value in self._editor.constants

    def fresh(self, prefix: str) -> str:
        """A value/node name unused in the graph."""
        return self._editor.fresh(prefix)

    def is_output(self, value: str) -> bool:
        """True if ``value`` is a graph output."""
        return value in self._editor.outputs


@dataclass(frozen=True)
class Rewrite:
    """Replacement for a match's root: ``nodes`` (in order) and ``constants`` that together
    define every output of the root (under the same names), plus any new values they need;
    or ``aliases`` (root output -> an existing value of the same type) whose readers are
    redirected to that value (not allowed for graph outputs, whose names are the interface)."""

    nodes: tuple[Node, ...] = ()
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A named (pattern, callback) pair."""

    name: str
    pattern: Pat
    fn: Callable[[Match], Rewrite | None]


class _Editor:
    """Mutable working copy of a graph with producer/consumer indexes (private to a rewrite)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.constants: dict[str, np.ndarray] = dict(graph.constants)
        self.types: dict[str, TensorType] = dict(graph.types)
        self.outputs = set(graph.outputs)
        self.nodes: dict[str, Node] = {}
        self.keys: dict[str, tuple[int, ...]] = {}
        self.producer: dict[str, str] = {}
        self.consumers: dict[str, set[str]] = {}
        self.counter = 0
        for index, node in enumerate(graph.nodes):
            self._add(node, (index,))

    def fresh(self, prefix: str) -> str:
        while True:
            self.counter += 1
            name = f"{prefix}_{self.counter}"
            if name not in self.types and name not in self.nodes:
                return name

    def _add(self, node: Node, key: tuple[int, ...]) -> None:
        if node.name in self.nodes:
            raise CompileError(f"rewrite: node name {node.name!r} is already used")
        self.nodes[node.name] = node
        self.keys[node.name] = key
        for out in node.outputs:
            self.producer[out] = node.name
        for value in node.inputs:
            self.consumers.setdefault(value, set()).add(node.name)

    def _remove(self, name: str) -> Node:
        node = self.nodes.pop(name)
        del self.keys[name]
        for out in node.outputs:
            del self.producer[out]
        for value in node.inputs:
            self.consumers[value].discard(name)
        return node

    def single_use(self, node: Node) -> bool:
        users = set().union(*(self.consumers.get(o, set()) for o in node.outputs))
        return len(users) == 1 and not self.outputs.intersection(node.outputs)

    def _dead(self, value: str) -> bool:
        return not self.consumers.get(value) and value not in self.outputs

    def _sweep_dead(self, values: Sequence[str]) -> None:
        """Delete producers and constants that no longer feed anything (transitively)."""
        stack = list(values)
        while stack:
            value = stack.pop()
            if not self._dead(value):
                continue
            if value in self.constants:
                del self.constants[value]
                del self.types[value]
            elif value in self.producer:
                node = self.nodes[self.producer[value]]
                if all(self._dead(o) for o in node.outputs):
                    self._remove(node.name)
                    for out in node.outputs:
                        del self.types[out]
                    stack.extend(node.inputs)

    def apply(self, rule: Rule, root: Node, rewrite: Rewrite) -> None:
        where = f"rule {rule.name!r} at node {root.name!r}"
        key = self.keys[root.name]
        old_types = {o: self.types[o] for o in root.outputs}
        self._remove(root.name)
        for out in root.outputs:
            del self.types[out]
        for name, array in rewrite.constants.items():
            self._define(name, TensorType.of(np.asarray(array)), old_types, where)
            self.constants[name] = np.asarray(array)
        for j, node in enumerate(rewrite.nodes):
            missing = [v for v in node.inputs if v not in self.types]
            if missing:
                raise CompileError(f"{where}: new node {node.name!r} reads undefined {missing}")
            inferred = infer_types(node.op, [self.types[v] for v in node.inputs], node.attrs,
                                   f"{where}: node {node.name!r} ({node.op})")
            for out, t in zip(node.outputs, inferred, strict=True):
                self._define(out, t, old_types, where)
            self._add(node, key + (j,))
        for out, target in rewrite.aliases.items():
            self._alias(out, target, old_types, where)
        undefined = [o for o in root.outputs if o not in self.types
                     and o not in rewrite.aliases]
        if undefined:
            raise CompileError(f"{where}: the rewrite does not define {undefined}")
        self._sweep_dead(list(root.inputs))

    def _alias(self, value: str, target: str, old: Mapping[str, TensorType], where: str) -> None:
        """Point every reader of the root output ``value`` at ``target`` instead."""
        if value not in old or value in self.outputs:
            raise CompileError(f"{where}: can only alias a root output that is no graph output, "
                               f"not {value!r}")
        t = self.types.get(target)
        if t is None or (t.shape, t.dtype) != (old[value].shape, old[value].dtype):
            raise CompileError(f"{where}: alias {value!r} -> {target!r} changes its type")
        for user in sorted(self.consumers.pop(value, set())):
            node = self.nodes[user]
            self.nodes[user] = node.replace(
                inputs=tuple(target if v == value else v for v in node.inputs))
            self.consumers.setdefault(target, set()).add(user)

    def _define(self, value: str, t: TensorType, old: Mapping[str, TensorType],
                where: str) -> None:
        if value in self.types:
            raise CompileError(f"{where}: value {value!r} is defined twice")
        if value in old:
            if (old[value].shape, old[value].dtype) != (t.shape, t.dtype):
                raise CompileError(f"{where}: changes the type of {value!r} from {old[value]} "
                                   f"to {t}")
            t = old[value]  # keep the layout tag
        self.types[value] = t

    def match(self, pat: Pat, value: str, m: Match) -> bool:
        if pat.ops is None:
            if pat.const and value not in self.constants:
                return False
            return self._bind(m.values, pat.name, value)
        if value not in self.producer:
            return False
        node = self.nodes[self.producer[value]]
        return self.match_node(pat, node, m)

    def match_node(self, pat: Pat, node: Node, m: Match) -> bool:
        if pat.ops is not None and node.op not in pat.ops:
            return False
        if pat.where is not None and not pat.where(node):
            return False
        if pat.single_use and not self.single_use(node):
            return False
        if pat.each is not None and not all(self.match(pat.each, v, m) for v in node.inputs):
            return False
        if pat.src is not None:
            if len(pat.src) != len(node.inputs):
                return False
            orders = [node.inputs]
            if pat.commutative and len(node.inputs) == 2:
                orders.append(node.inputs[::-1])
            for inputs in orders:
                trial = Match(m.root, dict(m.nodes), dict(m.values), self)
                if all(self.match(p, v, trial) for p, v in zip(pat.src, inputs, strict=True)):
                    m.nodes, m.values = trial.nodes, trial.values
                    break
            else:
                return False
        if pat.name is not None:
            if not self._bind(m.values, pat.name, node.outputs[0]):
                return False
            m.nodes[pat.name] = node
        return True

    @staticmethod
    def _bind(binds: dict[str, str], name: str | None, value: str) -> bool:
        if name is None:
            return True
        return binds.setdefault(name, value) == value

    def build(self) -> Graph:
        order = sorted(self.nodes, key=self.keys.__getitem__)
        live = set(self.graph.inputs) | set(self.constants)
        live.update(o for n in self.nodes.values() for o in n.outputs)
        types = {k: t for k, t in self.types.items() if k in live}
        return self.graph.replace(nodes=tuple(self.nodes[n] for n in order),
                                  constants=self.constants, types=types)


def rewrite_graph(graph: Graph, rules: Sequence[Rule], max_sweeps: int = 64) -> Graph:
    """Apply ``rules`` to ``graph`` until a full sweep fires none; returns the new Graph.

    Each sweep visits the nodes in their stored order; at each node the first rule whose
    pattern matches and whose callback returns a Rewrite is applied. Nodes and constants that
    no longer feed an output are deleted as soon as they become dead. Raises CompileError if a
    rewrite is malformed or the rules have not converged after ``max_sweeps`` sweeps.
    """
    editor = _Editor(graph)
    for _ in range(max_sweeps):
        changed = False
        for name in sorted(editor.nodes, key=editor.keys.__getitem__):
            node = editor.nodes.get(name)
            if node is None:
                continue
            for rule in rules:
                m = Match(node, {}, {}, editor)
                if not editor.match_node(rule.pattern, node, m):
                    continue
                rewrite = rule.fn(m)
                if rewrite is not None:
                    editor.apply(rule, node, rewrite)
                    changed = True
                    break
        if not changed:
            return editor.build()
    raise CompileError(f"rewrite of graph {graph.name!r}: rules {[r.name for r in rules]} did "
                       f"not converge in {max_sweeps} sweeps")
