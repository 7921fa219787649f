"""framework.nn: every layer gives the same numbers eagerly and traced (interpreted), matches an
independent NumPy formula, and Module bookkeeping (names, state, modes, dtype, seeding) works."""

from __future__ import annotations

import math

import numpy as np
import pytest

from framework import FrameworkError, Tensor, interpret, nn, trace
from framework.nn import functional as F


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def data(*shape: int, seed: int = 1) -> np.ndarray:
    return rng(seed).standard_normal(shape).astype(np.float32)


def eager_equals_traced(module: object, *inputs: np.ndarray) -> np.ndarray:
    """Run ``module`` eagerly and traced+interpreted; assert identical outputs; return eager."""
    eager = module(*(Tensor(x) for x in inputs))  # type: ignore[operator]
    graph = trace(module, list(inputs))  # type: ignore[arg-type]
    names = ["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]
    out = interpret(graph, dict(zip(names, inputs, strict=True)))["output"]
    np.testing.assert_array_equal(out, eager.numpy())
    return eager.numpy()


LAYERS = [
    ("conv", lambda r: nn.Conv2d(4, 6, 3, rng=r, padding=1), (2, 4, 7, 7)),
    ("conv_strided_dilated", lambda r: nn.Conv2d(4, 6, 3, rng=r, stride=2, dilation=2,
                                                 padding=(2, 1)), (1, 4, 9, 8)),
    ("conv_grouped", lambda r: nn.Conv2d(4, 8, 3, rng=r, groups=2, bias=False), (1, 4, 6, 6)),
    ("conv_depthwise", lambda r: nn.Conv2d(4, 4, 3, rng=r, groups=4, padding=1), (1, 4, 5, 5)),
    ("conv_transpose", lambda r: nn.ConvTranspose2d(4, 3, 3, rng=r, stride=2, padding=1,
                                                    output_padding=1), (1, 4, 5, 5)),
    ("linear", lambda r: nn.Linear(5, 3, rng=r), (2, 4, 5)),
    ("batchnorm_eval", lambda r: nn.BatchNorm2d(4).eval(), (2, 4, 3, 3)),
    ("layernorm", lambda r: nn.LayerNorm(6), (2, 3, 6)),
    ("layernorm_2d", lambda r: nn.LayerNorm((3, 6)), (2, 3, 6)),
    ("mha", lambda r: nn.MultiHeadAttention(8, 2, rng=r), (2, 5, 8)),
    ("maxpool", lambda r: nn.MaxPool2d(3, 2, padding=1), (1, 2, 7, 7)),
    ("maxpool_ceil", lambda r: nn.MaxPool2d(2, ceil_mode=True), (1, 2, 5, 5)),
    ("avgpool", lambda r: nn.AvgPool2d(3, 2, padding=1), (1, 2, 7, 7)),
    ("adaptive1", lambda r: nn.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    ("adaptive2", lambda r: nn.AdaptiveAvgPool2d(2), (2, 3, 4, 6)),
    ("flatten", lambda r: nn.Flatten(), (2, 3, 4)),
    ("dropout_eval", lambda r: nn.Dropout(0.5).eval(), (2, 3)),
    ("identity", lambda r: nn.Sequential(nn.Identity(), nn.ReLU()), (2, 3)),
    ("sequential",
     lambda r: nn.Sequential(nn.Linear(4, 8, rng=r), nn.GELU(), nn.Linear(8, 2, rng=r)), (3, 4)),
]
ACTIVATIONS = [nn.ReLU, nn.ReLU6, nn.GELU, lambda: nn.GELU("tanh"), nn.SiLU, nn.Sigmoid,
               nn.Tanh, nn.LeakyReLU, nn.ELU, nn.Softmax]


@pytest.mark.parametrize("make, shape", [(m, s) for _, m, s in LAYERS],
                         ids=[n for n, _, _ in LAYERS])
def test_layer_eager_equals_traced(make: object, shape: tuple[int, ...]) -> None:
    eager_equals_traced(make(rng()), data(*shape))  # type: ignore[operator]


@pytest.mark.parametrize("make", ACTIVATIONS)
def test_activation_eager_equals_traced(make: object) -> None:
    eager_equals_traced(make(), data(3, 7) * 4)  # type: ignore[operator]


def test_embedding_eager_equals_traced() -> None:
    emb = nn.Embedding(10, 4, rng=rng())
    ids = np.array([[1, 9, 0], [3, 3, 2]])
    out = eager_equals_traced(emb, ids)
    np.testing.assert_array_equal(out, emb.weight.numpy()[ids])


def test_linear_and_conv_match_numpy_formulas() -> None:
    lin = nn.Linear(5, 3, rng=rng())
    x = data(4, 5)
    np.testing.assert_allclose(lin(Tensor(x)).numpy(),
                               x @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-5)
    conv = nn.Conv2d(2, 3, 2, rng=rng(), bias=False)
    img = data(1, 2, 3, 3)
    w = conv.weight.numpy()
    ref = np.einsum("cij,ocij->o", img[0, :, 1:3, 0:2], w)  # output pixel (1, 0)
    np.testing.assert_allclose(conv(Tensor(img)).numpy()[0, :, 1, 0], ref, rtol=1e-5)


def test_layernorm_matches_formula() -> None:
    ln = nn.LayerNorm(6, eps=1e-5)
    x = data(2, 6)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(Tensor(x)).numpy(), ref, rtol=1e-4, atol=1e-6)


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_multihead_attention_matches_numpy_reference() -> None:
    mha = nn.MultiHeadAttention(8, 2, rng=rng())
    x = data(2, 5, 8)

    def proj(lin: nn.Linear, v: np.ndarray) -> np.ndarray:
        return v @ lin.weight.numpy().T + lin.bias.numpy()

    def heads(v: np.ndarray) -> np.ndarray:
        return v.reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)

    q, k, v = (heads(proj(m, x)) for m in (mha.q_proj, mha.k_proj, mha.v_proj))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(4)
    mask = np.tril(np.ones((5, 5), bool))
    for causal in (False, True):
        s = np.where(mask, scores, -np.inf) if causal else scores
        ctx = (_softmax(s) @ v).transpose(0, 2, 1, 3).reshape(2, 5, 8)
        ref = proj(mha.out_proj, ctx)
        np.testing.assert_allclose(mha(Tensor(x), causal=causal).numpy(), ref, rtol=1e-4,
                                   atol=1e-5)


def test_attention_cache_equals_full_causal_attention() -> None:
    """Attending one new token after a cache equals the last row of full causal attention."""
    mha = nn.MultiHeadAttention(8, 2, rng=rng())
    x = data(1, 6, 8)
    full = mha(Tensor(x), causal=True).numpy()
    _, k, v = mha.self_attend_cached(Tensor(x[:, :5]))
    last, k2, v2 = mha.self_attend_cached(Tensor(x[:, 5:]), k, v)
    np.testing.assert_allclose(last.numpy(), full[:, 5:], rtol=1e-4, atol=1e-6)
    assert k2.shape == (1, 2, 6, 4) and v2.shape == (1, 2, 6, 4)


def test_cross_attention_with_mask_traced() -> None:
    mha = nn.MultiHeadAttention(8, 2, rng=rng())
    mask = Tensor(np.array([[True, True, False]]))  # key 2 is padding
    q, kv = data(2, 4, 8), data(2, 3, 8, seed=2)
    eager_equals_traced(lambda a, b: mha(a, b, mask=mask), q, kv)
    kv_changed = kv.copy()
    kv_changed[:, 2] += 10.0  # a masked key cannot change the output
    np.testing.assert_allclose(mha(Tensor(q), Tensor(kv), mask=mask).numpy(),
                               mha(Tensor(q), Tensor(kv_changed), mask=mask).numpy(), rtol=1e-5)


def test_batchnorm_training_updates_running_stats() -> None:
    bn = nn.BatchNorm2d(3, momentum=0.1)
    x = data(4, 3, 2, 2) * 2 + 1
    y = bn(Tensor(x)).numpy()
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * var, rtol=1e-5)


def test_dropout_training_masks_and_scales() -> None:
    drop = nn.Dropout(0.5, rng=rng())
    out = drop(Tensor(np.ones((100, 100), np.float32))).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6
    with pytest.raises(FrameworkError, match="eval"):
        trace(drop, np.ones((2, 2), np.float32))
    with pytest.raises(FrameworkError, match="rng"):
        nn.Dropout(0.5)(Tensor(np.ones(3, np.float32)))


class Tiny(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        r = rng(seed)
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, rng=r), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 2, rng=r)
        self.tied = self.head  # the same module twice: its parameters count once

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.adaptive_avg_pool2d(self.body(x), 1).flatten(1))


def test_parameter_names_order_and_sharing() -> None:
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                     "head.weight", "head.bias"]
    assert [n for n, _ in m.named_buffers()] == ["body.1.running_mean", "body.1.running_var"]
    assert m.num_parameters() == 4 * 3 * 9 + 4 + 4 + 4 + 8 + 2
    assert [p for p, _ in m.named_modules()] == ["", "body", "body.0", "body.1", "body.2", "head"]


def test_state_dict_round_trip_and_errors() -> None:
    a, b = Tiny(0), Tiny(1)
    x = data(1, 3, 5, 5)
    assert not np.array_equal(a(Tensor(x)).numpy(), b(Tensor(x)).numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(Tensor(x)).numpy(), b(Tensor(x)).numpy())
    state = a.state_dict()
    state["head.weight"] = np.zeros((3, 3))
    with pytest.raises(FrameworkError, match="head.weight"):
        b.load_state_dict(state)
    del state["head.weight"]
    state["extra"] = np.zeros(1)
    with pytest.raises(FrameworkError, match=r"missing keys \['head.weight'\].*extra"):
        b.load_state_dict(state)


def test_same_seed_same_weights() -> None:
    for (na, pa), (nb, pb) in zip(Tiny(3).named_parameters(), Tiny(3).named_parameters(),
                                  strict=True):
        assert na == nb
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())


def test_train_eval_modes_and_to_float16() -> None:
    m = Tiny()
    assert all(mod.training for _, mod in m.named_modules())
    m.eval()
    assert not any(mod.training for _, mod in m.named_modules())
    m.to("float16")
    assert {p.dtype for p in m.parameters()} == {"float16"}
    out = eager_equals_traced(m, data(1, 3, 5, 5).astype(np.float16))
    assert out.dtype == np.float16
    with pytest.raises(FrameworkError, match="float dtype"):
        m.to("int8")


def test_module_without_forward_and_bad_config() -> None:
    with pytest.raises(FrameworkError, match="does not define forward"):
        nn.Module()(Tensor([1.0]))
    with pytest.raises(FrameworkError, match="groups"):
        nn.Conv2d(3, 4, 3, rng=rng(), groups=2)
    with pytest.raises(FrameworkError, match="num_heads"):
        nn.MultiHeadAttention(10, 3, rng=rng())
    with pytest.raises(FrameworkError, match="multiple"):
        F.adaptive_avg_pool2d(Tensor(data(1, 1, 5, 5)), 2)
