"""The Trace Event Format's rules that a viewer relies on, as one assertion helper."""

from __future__ import annotations

import json
from collections import Counter

_PHASES = {"X", "M", "s", "f"}
_METADATA = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def check_trace_format(data: dict) -> None:
    """Assert ``data`` follows the JSON Object Format of the Trace Event Format document."""
    assert isinstance(data["traceEvents"], list)
    assert data.get("displayTimeUnit", "ms") in ("ms", "ns")
    flows: dict[int, Counter] = {}
    for e in data["traceEvents"]:
        assert e["ph"] in _PHASES, e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int), e
        assert isinstance(e["name"], str), e
        if e["ph"] == "M":
            assert e["name"] in _METADATA and isinstance(e["args"], dict), e
            continue
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
            assert isinstance(e.get("args", {}), dict)
        else:
            flows.setdefault(e["id"], Counter())[e["ph"]] += 1
    for counts in flows.values():
        assert counts == Counter({"s": 1, "f": 1})
    # complete events on one thread must nest, never partly overlap (viewers drop them)
    tracks: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            tracks.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in tracks.values():
        spans.sort(key=lambda s: (s[0], -s[1]))
        open_ends: list[float] = []
        for start, end in spans:
            while open_ends and open_ends[-1] <= start + 1e-9:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1] + 1e-9, (start, end, open_ends[-1])
            open_ends.append(end)
    json.dumps(data)  # serialisable as is
