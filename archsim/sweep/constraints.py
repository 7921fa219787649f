"""Constraints between parameters, such as ``l0a_bytes <= l1_bytes``, evaluated safely.

A constraint is a Python-syntax boolean expression over config field names, parsed once with
`ast` and checked against a whitelist of node types: numbers, names, arithmetic, comparisons,
``and``/``or``/``not``, conditional expressions and calls of ``min``/``max``/``abs``. Nothing
else (attributes, subscripts, lambdas, other calls) is accepted, so a spec cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}


class ConstraintError(ValueError):
    """An expression that is not a valid constraint; the message names the problem."""


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint: its source text, its syntax tree and the field names it reads."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the constraint is true for ``values`` (field name -> value)."""
        return bool(_eval(self.tree.body, values))


def parse_constraint(text: str, known: frozenset[str]) -> Constraint:
    """Parse ``text``; raise ConstraintError on bad syntax, a disallowed construct or a name
    outside ``known`` (the config's field names)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConstraintError(f"{text!r} is not an expression ({exc.msg})") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        _check_node(node, text)
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            names.add(node.id)
    unknown = sorted(names - known)
    if unknown:
        raise ConstraintError(f"{text!r} names {unknown[0]!r}, which is not a config field")
    return Constraint(text, tree, frozenset(names))


_ALLOWED = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp,
            ast.Name, ast.Constant, ast.Load, ast.And, ast.Or, ast.Call,
            *_BINARY, *_COMPARE, *_UNARY)


def _check_node(node: ast.AST, text: str) -> None:
    if not isinstance(node, _ALLOWED):
        raise ConstraintError(f"{text!r} uses {type(node).__name__}, which constraints do not "
                              "allow (only arithmetic, comparisons, and/or/not, min/max/abs)")
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | bool):
        raise ConstraintError(f"{text!r}: only numeric constants are allowed")
    if isinstance(node, ast.Call):
        if (not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS
                or node.keywords):
            raise ConstraintError(f"{text!r}: only min(), max() and abs() may be called")


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))
    if isinstance(node, ast.BoolOp):
        parts = (_eval(v, values) for v in node.values)
        return all(parts) if isinstance(node.op, ast.And) else any(parts)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, values) else node.orelse
        return _eval(branch, values)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_eval(a, values) for a in node.args))
    raise ConstraintError(f"cannot evaluate {type(node).__name__}")  # excluded by _check_node
