"""Every op appears in every rule table it needs: adding an OpCode without its shape rule,
NumPy rule, FLOP rule, builder method or VJP rule (or an explicit non-differentiable
declaration) fails here."""

from __future__ import annotations

import dataclasses

import pytest

from framework import GraphBuilder, OpCode
from framework.evaluate import EVAL_RULES
from framework.flops import FLOPS_RULES
from framework.ops import OP_INFO
from framework.shapes import SHAPE_RULES
from framework.vjp import NON_DIFFERENTIABLE, VJP_RULES, ZERO_GRADIENT

TABLES = {"OP_INFO": OP_INFO, "SHAPE_RULES": SHAPE_RULES, "EVAL_RULES": EVAL_RULES,
          "FLOPS_RULES": FLOPS_RULES}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_op_has_an_entry(table: str) -> None:
    missing = [str(op) for op in OpCode if op not in TABLES[table]]
    assert not missing, f"{table} lacks {missing}"
    assert set(TABLES[table]) <= set(OpCode)


def test_every_op_is_differentiable_or_declared_not() -> None:
    both = set(VJP_RULES) & NON_DIFFERENTIABLE
    neither = [str(op) for op in OpCode if op not in VJP_RULES and op not in NON_DIFFERENTIABLE]
    assert not both, f"ops with a VJP rule declared non-differentiable: {both}"
    assert not neither, f"ops with no VJP rule and no declaration: {neither}"
    assert ZERO_GRADIENT <= NON_DIFFERENTIABLE


def test_every_op_has_a_builder_method_named_after_it() -> None:
    missing = [op.value for op in OpCode if not callable(getattr(GraphBuilder, op.value, None))]
    assert not missing, f"GraphBuilder lacks methods {missing}"


def test_attrs_records_are_frozen_dataclasses() -> None:
    for op, info in OP_INFO.items():
        assert info.min_inputs <= info.max_inputs, op
        if info.attrs is not None:
            assert dataclasses.is_dataclass(info.attrs), op
            assert info.attrs.__dataclass_params__.frozen, op  # type: ignore[attr-defined]
