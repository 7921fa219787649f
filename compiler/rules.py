"""Lowering rule tables shared by the targets: an op (or a fused node's kind) maps to the
function that lowers it, and kernel modules register themselves with a decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from framework import Node, OpCode


def rule_key(node: Node) -> Any:
    """The rule-table key of ``node``: its op, or ("fused", kind) for a fused node."""
    if node.op is OpCode.FUSED:
        return ("fused", node.attrs.kind)
    return node.op


def registrar(table: dict[Any, Callable[..., None]]) -> Callable[..., Callable]:
    """A ``@rule(key, ...)`` decorator that registers a function in ``table``."""

    def rule(*keys: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
        def register(fn: Callable[..., None]) -> Callable[..., None]:
            for key in keys:
                table[key] = fn
            return fn

        return register

    return rule
