"""The SIMT GEMM lowering: tensor-core kernels for MATMUL / LINEAR / fused matmul groups match
the reference interpreter; tiles come from the cost model within occupancy limits."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.errors import CompileError
from compiler.simt.gemm import GemmSpec, GemmTile, emit_gemm
from compiler.simt.gemm_tiling import choose_tile
from framework import GraphBuilder
from hw import load_hw
from hw.simt import SimOptions, run_kernel
from tests.compiler.simt_harness import check_model


@pytest.mark.parametrize("spec", ["gemm:m=40,n=24,k=64", "gemm:m=64,n=64,k=32",
                                  "mlp:features=16,hidden=32,out=4"])
def test_zoo_gemm_workloads_match_the_reference(spec: str) -> None:
    exe, result = check_model(spec)
    assert all(k.program.launch.block[0] % 32 == 0 for k in exe.kernels)
    assert result.utilization()["tensor"] > 0


def test_batched_matmul_with_bias_and_gelu() -> None:
    b = GraphBuilder("attn")
    x = b.input("x", (2, 24, 32))
    y = b.input("y", (2, 32, 16))
    z = b.matmul(x, y)
    bias = b.constant(np.linspace(-1, 1, 16, dtype=np.float32), name="bias")
    b.output(b.gelu(b.add(z, bias)))
    check_model(b.build())


def test_linear_epilogue_and_odd_n() -> None:
    b = GraphBuilder("lin")
    x = b.input("x", (5, 48))
    weight = np.random.default_rng(1).standard_normal((7, 48)).astype(np.float32)
    w = b.constant(weight, name="w")
    bias = b.constant(np.arange(7, dtype=np.float32) / 7, name="bias")
    b.output(b.relu(b.linear(x, w, bias)))
    check_model(b.build())


def test_generated_kernel_on_tile_edges() -> None:
    """A kernel with clamped rows (M, N not tile multiples) and row-major B, run directly."""
    m, n, k = 70, 72, 48
    spec = GemmSpec("edge", m, n, k, b_layout="kn")
    kernel = emit_gemm(spec, GemmTile(64, 64, 16, 2, 2, 3), (0, 8192, 16384, 0))
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float16)
    bm = rng.uniform(-1, 1, (k, n)).astype(np.float16)
    gm = np.zeros(16384 + m * n * 2 + 256, np.uint8)
    gm[:a.nbytes] = a.view(np.uint8).ravel()
    gm[8192:8192 + bm.nbytes] = bm.view(np.uint8).ravel()
    run_kernel(kernel, load_hw("a100"), SimOptions(mode="functional"), gmem=gm)
    c = gm[16384:16384 + m * n * 2].view(np.float16).reshape(m, n).astype(np.float32)
    ref = a.astype(np.float32) @ bm.astype(np.float32)
    assert np.abs(c - ref).max() < 2e-2


def test_tile_choice_respects_occupancy_and_prefers_big_tiles_for_big_gemms() -> None:
    cfg = load_hw("a100")
    big = choose_tile(cfg, GemmSpec("big", 4096, 4096, 4096))
    assert big.tile.bm * big.tile.bn >= 128 * 128 and big.ctas_per_sm >= 1
    small = choose_tile(cfg, GemmSpec("small", 1, 1024, 784))
    assert small.tile.bm <= 32
    with pytest.raises(CompileError, match="K must be a multiple of 16"):
        choose_tile(cfg, GemmSpec("odd", 16, 16, 30))


def test_gpu_and_davinci_share_one_entry_point() -> None:
    from archsim.simulate import compile_model, load_model

    _, graph = load_model("gemm:m=64,n=64,k=64")
    assert compile_model(graph, load_hw("a100")).target == "simt"
    assert compile_model(graph, load_hw("ascend910")).target == "davinci"


def test_skinny_long_k_product_uses_split_k_and_matches() -> None:
    b = GraphBuilder("skinny")
    x = b.input("x", (4, 16384))
    weight = np.random.default_rng(2).standard_normal((32, 16384)).astype(np.float32) / 128
    bias = b.constant(np.ones(32, dtype=np.float32), name="bias")
    b.output(b.relu(b.linear(x, b.constant(weight, name="w"), bias)))
    exe, _ = check_model(b.build())
    assert any(k.tiling.startswith("split-K") for k in exe.kernels)
