"""Grid, list, random and Latin-hypercube sampling: counts, order, ranges and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from archsim.sweep.sampling import Method, Parameter, Sampling, sample

A = Parameter("a", values=(1, 2, 3))
B = Parameter("b", values=("x", "y"))
R = Parameter("r", low=1024.0, high=65536.0, log=True, integer=True, multiple_of=1024)
U = Parameter("u", low=0.0, high=1.0)


def test_grid_is_cartesian_product_first_parameter_slowest():
    points = sample((A, B), Sampling(Method.GRID))
    assert points == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]


def test_grid_range_is_spaced_and_rounded():
    values = sample((Parameter("r", low=1024, high=65536, num=4, log=True, integer=True,
                               multiple_of=1024),), Sampling(Method.GRID))
    assert [p["r"] for p in values] == [1024, 4096, 16384, 65536]
    linear = Parameter("l", low=0.0, high=1.0, num=3)
    assert linear.grid_values() == (0.0, 0.5, 1.0)


def test_list_zips_values():
    c = Parameter("c", values=(10, 20, 30))
    assert sample((A, c), Sampling(Method.LIST)) == [
        {"a": 1, "c": 10}, {"a": 2, "c": 20}, {"a": 3, "c": 30}]


def test_no_parameters_is_one_point():
    assert sample((), Sampling(Method.GRID)) == [{}]


@pytest.mark.parametrize("method", [Method.RANDOM, Method.LHS])
def test_random_and_lhs_are_deterministic_per_seed(method):
    first = sample((A, R, U), Sampling(method, 16, seed=3))
    again = sample((A, R, U), Sampling(method, 16, seed=3))
    other = sample((A, R, U), Sampling(method, 16, seed=4))
    assert first == again and first != other and len(first) == 16
    for p in first:
        assert p["a"] in (1, 2, 3)
        assert 1024 <= p["r"] <= 65536 and p["r"] % 1024 == 0
        assert 0.0 <= p["u"] < 1.0


def test_lhs_puts_one_sample_in_each_stratum():
    n = 10
    points = sample((U, Parameter("v", low=0.0, high=1.0)), Sampling(Method.LHS, n, seed=0))
    for name in ("u", "v"):
        strata = sorted(int(p[name] * n) for p in points)
        assert strata == list(range(n))


def test_random_differs_from_lhs_and_covers_choices():
    points = sample((A,), Sampling(Method.RANDOM, 60, seed=1))
    assert {p["a"] for p in points} == {1, 2, 3}


def test_log_range_quantiles():
    p = Parameter("f", low=1.0, high=100.0, log=True)
    assert p.at(0.5) == pytest.approx(10.0)
    assert np.isclose(p.at(0.0), 1.0)
