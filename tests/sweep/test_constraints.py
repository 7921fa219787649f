"""Constraints are safe expressions over config fields; expansion drops points that break them."""

from __future__ import annotations

import re

import pytest

from archsim.sweep import expand, load_spec
from archsim.sweep.constraints import ConstraintError, parse_constraint

FIELDS = frozenset({"a", "b", "c"})


@pytest.mark.parametrize("text,values,expected", [
    ("a <= b", {"a": 1, "b": 2}, True),
    ("a <= b", {"a": 3, "b": 2}, False),
    ("a < b < c", {"a": 1, "b": 2, "c": 2}, False),
    ("a + b <= 2 * c and not a == c", {"a": 1, "b": 1, "c": 2}, True),
    ("max(a, b) // 2 == min(c, 9) or abs(a) > 100", {"a": 4, "b": 2, "c": 2}, True),
    ("a if b else c", {"a": 0, "b": 1, "c": 1}, False),
    ("a % 3 == 1 and b ** 2 == 4", {"a": 4, "b": -2, "c": 0}, True),
])
def test_constraint_evaluates(text, values, expected):
    assert parse_constraint(text, FIELDS).holds(values) is expected


@pytest.mark.parametrize("text,problem", [
    ("a.real > 0", "Attribute"),
    ("[a][0] > 0", "Subscript"),
    ("(lambda: 1)() > 0", "may be called"),
    ("(lambda: 1) == 0", "Lambda"),
    ("open('x') == 1", "only min(), max() and abs()"),
    ("a == 'x'", "numeric constants"),
    ("d > 1", "'d'"),
    ("a >", "not an expression"),
])
def test_unsafe_or_unknown_constraints_are_rejected(text, problem):
    with pytest.raises(ConstraintError, match=re.escape(problem)):
        parse_constraint(text, FIELDS)


def test_expansion_excludes_points_breaking_constraints(write_spec):
    spec = load_spec(write_spec("""
        constraints = ["l0a_bytes * 4 <= l1_bytes"]
        workloads = ["gemm:m=64,n=64,k=64"]
        [parameters]
        l1_bytes = [131072, 262144, 524288]
        l0a_bytes = [32768, 65536]
    """))
    expansion = expand(spec)
    kept = [(p.params["l1_bytes"], p.params["l0a_bytes"]) for p in expansion.points]
    assert kept == [(131072, 32768), (262144, 32768), (262144, 65536), (524288, 32768),
                    (524288, 65536)]
    assert expansion.excluded == 1


def test_invalid_configs_are_reported_not_run(write_spec):
    spec = load_spec(write_spec("""
        workloads = ["gemm:m=64,n=64,k=64"]
        [parameters]
        l0a_bytes = [65536, 1000]
    """))
    expansion = expand(spec)
    assert [p.params["l0a_bytes"] for p in expansion.points] == [65536]
    (params, error), = expansion.invalid
    assert params == {"l0a_bytes": 1000} and "l0a_bytes" in error


def test_gpu_presets_sweep_their_own_fields(write_spec):
    from archsim.sweep.points import onchip_sram_bytes

    spec = load_spec(write_spec("""
        base = "a100"
        constraints = ["sms * 2 >= 100"]
        workloads = ["gemm:m=64,n=64,k=64"]
        [parameters]
        sms = [40, 54, 108]
    """))
    expansion = expand(spec)
    assert [p.config.sms for p in expansion.points] == [54, 108] and expansion.excluded == 1
    small, big = expansion.points
    per_sm = spec.base.unified_l1_shared_bytes
    assert big.sram_bytes - small.sram_bytes == 54 * per_sm == (
        onchip_sram_bytes(big.config) - onchip_sram_bytes(small.config))
    assert small.target is small.config and small.note == ""  # no reuse masking on the GPU
