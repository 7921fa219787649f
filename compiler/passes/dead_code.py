"""Dead-code elimination: drop nodes and constants no graph output depends on."""

from __future__ import annotations

from framework import Graph


def eliminate_dead_code(graph: Graph) -> Graph:
    """Keep only the nodes and constants some graph output (transitively) reads.

    Graph inputs are part of the interface and always stay, even if unused. A multi-output
    node stays whole if any of its outputs is needed.
    """
    needed = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):  # nodes are stored in topological order
        if needed.intersection(node.outputs):
            kept.append(node)
            needed.update(node.inputs)
    live = needed | set(graph.inputs) | {o for n in kept for o in n.outputs}
    constants = {k: v for k, v in graph.constants.items() if k in needed}
    types = {k: t for k, t in graph.types.items() if k in live}
    return graph.replace(nodes=tuple(kept[::-1]), constants=constants, types=types)
