"""batch_norm_grad with ``relu_mask``: the reference semantics are those of the unmasked op fed
where(y > 0, dy, 0) (the ReLU backward it absorbs), and the extra input is checked by name."""

from __future__ import annotations

import numpy as np
import pytest

from framework import FrameworkError, GraphBuilder, OpCode, interpret
from framework.attrs import BatchNormGradAttrs
from framework.flops import node_flops

RNG = np.random.default_rng(11)
SHAPE = (3, 4, 5, 2)


def test_masked_reference_equals_relu_backward_then_batch_norm_grad() -> None:
    x, dy, y = (RNG.standard_normal(SHAPE) for _ in range(3))
    y[0, 0, 0, 0] = 0.0  # relu's gradient at 0 is 0, as where(greater(y, 0), dy, 0)
    scale = RNG.standard_normal(4)
    b = GraphBuilder()
    xn, dyn, sn, yn = (b.input(k, v.shape, "float64")
                       for k, v in (("x", x), ("dy", dy), ("s", scale), ("y", y)))
    fused = b.batch_norm_grad(xn, dyn, sn, eps=1e-3, relu_y=yn)
    masked = b.where(b.greater(yn, 0.0), dyn, 0.0)
    plain = b.batch_norm_grad(xn, masked, sn, eps=1e-3)
    b.output(*fused, *plain)
    g = b.build()
    node = next(n for n in g.nodes if n.op is OpCode.BATCH_NORM_GRAD)
    assert node.attrs.relu_mask and node.inputs[3] == "y"
    got = interpret(g, {"x": x, "dy": dy, "s": scale, "y": y})
    for a, c in zip(fused, plain, strict=True):
        np.testing.assert_allclose(got[a], got[c], rtol=1e-12, atol=1e-14)
    assert not np.allclose(got[fused[1]], interpret(g, {"x": x, "dy": dy, "s": scale,
                                                        "y": np.ones(SHAPE)})[fused[1]])
    assert node_flops(g, node) == 11 * x.size


def test_mask_input_shape_and_arity_are_checked() -> None:
    b = GraphBuilder()
    x, dy, s = b.input("x", SHAPE), b.input("dy", SHAPE), b.input("s", (4,))
    with pytest.raises(FrameworkError, match=r"relu mask input \(3, 4, 5, 1\) does not match"):
        b.batch_norm_grad(x, dy, s, relu_y=b.input("y", (3, 4, 5, 1)))
    with pytest.raises(FrameworkError, match=r"takes 3 inputs with relu_mask=False, got 4"):
        b.node(OpCode.BATCH_NORM_GRAD, [x, dy, s, x], BatchNormGradAttrs())
