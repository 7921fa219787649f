"""How good is the convolution tiling cost model? Prints a table over ResNet-50's conv shapes.

For each distinct convolution of ResNet-50 (batch 32 by default, ascend910) the table gives
the tiling the cost model chose, its estimate and its simulated cycles, and the best simulated
cycles among the chosen tiling and the ``--top`` best-estimated tilings of each loop order
(channels / pixels innermost). ``lost`` is how much slower the choice is than that best; the
last row weighs each shape by how often ResNet-50 uses it. A kernel here is the bare
convolution (the network's fused residual adds and ReLUs are left out).

    python benchmarks/conv_tiling.py                  # about 10 minutes here
    python benchmarks/conv_tiling.py --top 1 --batch 8
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager

from archsim.simulate import compile_model, load_model, run_executable
from compiler.davinci.kernels import conv, conv_tiling
from hw import load_hw

# (uses in ResNet-50, input channels, input size, output channels, kernel, stride, padding)
RESNET50_CONVS = [
    (1, 64, 56, 64, 1, 1, 0), (3, 64, 56, 64, 3, 1, 1), (4, 64, 56, 256, 1, 1, 0),
    (2, 256, 56, 64, 1, 1, 0), (1, 256, 56, 128, 1, 1, 0), (1, 128, 56, 128, 3, 2, 1),
    (4, 128, 28, 512, 1, 1, 0), (1, 256, 56, 512, 1, 2, 0), (3, 512, 28, 128, 1, 1, 0),
    (3, 128, 28, 128, 3, 1, 1), (1, 512, 28, 256, 1, 1, 0), (1, 256, 28, 256, 3, 2, 1),
    (6, 256, 14, 1024, 1, 1, 0), (1, 512, 28, 1024, 1, 2, 0), (5, 1024, 14, 256, 1, 1, 0),
    (5, 256, 14, 256, 3, 1, 1), (1, 1024, 14, 512, 1, 1, 0), (1, 512, 14, 512, 3, 2, 1),
    (3, 512, 7, 2048, 1, 1, 0), (1, 1024, 14, 2048, 1, 2, 0), (2, 2048, 7, 512, 1, 1, 0),
    (2, 512, 7, 512, 3, 1, 1),
]


@contextmanager
def _forced(tiling):
    """Compile convolutions with ``tiling`` (None: the cost model's choice), recording the
    problem the cost model was asked about."""
    seen = {}
    choose = conv_tiling.choose_conv_tiling

    def pick(target, shape, *args, **kwargs):
        seen["problem"] = (target, shape, args, kwargs)
        return tiling or choose(target, shape, *args, **kwargs)

    conv.choose_conv_tiling = pick
    try:
        yield seen
    finally:
        conv.choose_conv_tiling = choose


def _cycles(graph, name, config, tiling=None):
    with _forced(tiling) as seen:
        exe = compile_model(graph, config)
    result = run_executable(exe, config, "timing", graph=graph, model=name, batch=1)
    return result.kernels[0].run.cycles, seen["problem"]


def measure(spec: str, config, top: int) -> dict:
    name, graph = load_model(spec, 1)
    chosen_cycles, (target, shape, args, kwargs) = _cycles(graph, name, config)
    chosen = conv_tiling.choose_conv_tiling(target, shape, *args, **kwargs)
    options = {k: v for k, v in kwargs.items() if k != "image_parallel"}  # a choice rule
    ranked = sorted(conv_tiling._candidates(target, shape, *args, **options),
                    key=lambda t: t.estimate_cycles)
    best, best_tiling = chosen_cycles, chosen
    for order in ("channels", "pixels"):
        for tiling in [t for t in ranked if t.order == order and t != chosen][:top]:
            cycles = _cycles(graph, name, config, tiling)[0]
            if cycles < best:
                best, best_tiling = cycles, tiling
    return {"chosen": chosen, "estimate": chosen.estimate_cycles, "cycles": chosen_cycles,
            "best": best, "best tiling": best_tiling}


def _describe(t) -> str:
    return f"{t.rows}r x {t.bn}c, k {t.bk}/{t.kc}, {t.order}, {t.bound}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default="ascend910")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--top", type=int, default=3,
                        help="best-estimated tilings of each loop order to simulate besides "
                             "the chosen one")
    args = parser.parse_args()
    config = load_hw(args.hw)
    print("conv | uses | chosen tiling | estimate | cycles | best cycles | lost | best tiling")
    total = best_total = 0
    for uses, c, h, k, r, stride, pad in RESNET50_CONVS:
        spec = (f"conv:n={args.batch},c={c},h={h},w={h},k={k},r={r},s={r},stride={stride},"
                f"pad={pad}")
        row = measure(spec, config, args.top)
        total += uses * row["cycles"]
        best_total += uses * row["best"]
        print(f"{c}->{k} {r}x{r}/{stride} {h}x{h} | {uses} | {_describe(row['chosen'])} | "
              f"{row['estimate']} | {row['cycles']} | {row['best']} | "
              f"{row['cycles'] / row['best'] - 1:.1%} | {_describe(row['best tiling'])}",
              flush=True)
    print(f"all (weighted by uses) | | | | {total} | {best_total} | {total / best_total - 1:.1%} |")


if __name__ == "__main__":
    main()
