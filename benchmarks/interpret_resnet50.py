"""Wall time of the reference interpreter on the traced ResNet-50 (issue 3: under 10 s at batch 1).

Builds the zoo graph (seeded random weights, symbolic trace), then runs `framework.interpret`
``--repeat`` times on one seeded image and prints a table: build time, each run's wall time,
and the time per op type of the last run (each node timed with its rule). Optionally also the
eager module on the same input, which must give the same logits.

    python benchmarks/interpret_resnet50.py [--batch 1] [--dtype float32] [--repeat 3] [--eager]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import workloads
from framework import Graph, interpret, topological
from framework.evaluate import EVAL_RULES


def per_op_seconds(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Seconds spent in each op type's rule, evaluating the graph node by node."""
    env = dict(graph.constants) | inputs
    spent: dict[str, float] = defaultdict(float)
    for node in topological(graph):
        args = [env[i].astype(np.float32) if env[i].dtype == np.float16 else env[i]
                for i in node.inputs]
        start = time.perf_counter()
        results = EVAL_RULES[node.op](args, node.attrs)
        spent[node.op.value] += time.perf_counter() - start
        for out, value in zip(node.outputs, results, strict=True):
            env[out] = np.asarray(value).astype(graph.types[out].dtype, copy=False)
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--eager", action="store_true", help="also time the eager module")
    args = parser.parse_args()

    spec = f"resnet50:dtype={args.dtype}"
    start = time.perf_counter()
    model = workloads.instantiate(spec, args.batch)
    graph = model.trace()
    build_s = time.perf_counter() - start
    inputs = model.example_inputs(np.random.default_rng(0))

    rows = [("build + trace", build_s)]
    logits = None
    for i in range(args.repeat):
        start = time.perf_counter()
        logits = interpret(graph, inputs)["logits"]
        rows.append((f"interpret run {i + 1}", time.perf_counter() - start))
    if args.eager:
        start = time.perf_counter()
        eager = model.run(inputs)["logits"]
        rows.append(("eager forward", time.perf_counter() - start))
        if logits is not None and not np.array_equal(eager, logits):
            raise SystemExit("eager and interpreted logits differ")

    print(f"ResNet-50, batch {args.batch}, {args.dtype}, {len(graph.nodes)} nodes")
    print(f"{'step':<22} {'wall s':>8}")
    for name, seconds in rows:
        print(f"{name:<22} {seconds:>8.3f}")
    runs = [s for n, s in rows if n.startswith("interpret")]
    if runs:
        print(f"{'interpret best':<22} {min(runs):>8.3f}   (target < 10 s)")
    print()
    print(f"{'op':<22} {'wall s':>8} {'share':>7}")
    spent = per_op_seconds(graph, inputs)
    total = sum(spent.values())
    for op, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"{op:<22} {seconds:>8.3f} {seconds / total:>7.1%}")


if __name__ == "__main__":
    main()
