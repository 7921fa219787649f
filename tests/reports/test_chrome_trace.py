"""The Chrome trace-event JSON: valid per the Trace Event Format, one track per core and pipe,
instructions by mnemonic with their layer and bytes, flag waits as flows, and capping."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from trace_format import check_trace_format

from archsim.simulate import simulate
from reports import trace_events, write_trace


def test_trace_is_valid_and_loads_back(mlp_traced, tmp_path) -> None:
    path = write_trace(tmp_path / "sub" / "trace.json", mlp_traced)
    data = json.loads(path.read_text())
    check_trace_format(data)
    assert data["otherData"]["model"] == "mlp"
    assert data["otherData"]["aggregated_kernels"] == []


def test_one_track_per_core_and_pipe(mlp_traced) -> None:
    data = trace_events(mlp_traced)
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in data["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    processes = {e["pid"]: e["args"]["name"] for e in data["traceEvents"]
                 if e["ph"] == "M" and e["name"] == "process_name"}
    expected = {(ev.core + 1, ev.pipe) for k in mlp_traced.kernels for ev in k.run.events}
    assert {(pid, name) for (pid, _), name in names.items() if pid} == expected
    assert processes[0] == "kernels"
    assert {processes[pid] for pid, _ in expected} == {
        f"core {c}" for c in {ev.core for k in mlp_traced.kernels for ev in k.run.events}}


def test_instruction_events_carry_mnemonic_layer_and_bytes(mlp_traced) -> None:
    data = trace_events(mlp_traced)
    slices = [e for e in data["traceEvents"] if e["ph"] == "X" and e["pid"] > 0]
    instructions = [e for e in slices if e["name"] != "flag wait"]
    assert len(instructions) == sum(len(k.run.events) for k in mlp_traced.kernels)
    mnemonics = Counter(e["name"] for e in instructions)
    expected = Counter(ev.name for k in mlp_traced.kernels for ev in k.run.events)
    assert mnemonics == expected
    layers = {k.layer for k in mlp_traced.kernels}
    assert all(e["args"]["layer"] in layers for e in instructions)
    moved = sum(e["args"]["bytes"] for e in instructions)
    assert moved == sum(ev.nbytes for k in mlp_traced.kernels for ev in k.run.events) > 0


def test_kernels_follow_each_other_with_their_launch(mlp_traced) -> None:
    data = trace_events(mlp_traced)
    kernels = [e for e in data["traceEvents"] if e["pid"] == 0 and e["ph"] == "X"]
    assert [e["name"] for e in kernels if e["cat"] == "kernel"] == [
        k.name for k in mlp_traced.kernels]
    end = kernels[-1]["ts"] + kernels[-1]["dur"]
    assert end == pytest.approx(mlp_traced.seconds * 1e6)


def test_flag_waits_become_slices_and_flows(mlp_traced) -> None:
    data = trace_events(mlp_traced)
    waits = [e for e in data["traceEvents"] if e.get("name") == "flag wait"]
    expected = sum(1 for k in mlp_traced.kernels for ev in k.run.events
                   if ev.flag_wait_from is not None)
    assert len(waits) == expected > 0
    flows = [e for e in data["traceEvents"] if e["ph"] in ("s", "f")]
    assert flows and len(flows) <= 2 * expected
    assert "inferred" in data["otherData"]["flag_flows"]


def test_large_runs_are_capped_and_say_so(mlp_traced) -> None:
    smallest = min(len(k.run.events) for k in mlp_traced.kernels)
    data = trace_events(mlp_traced, max_events=smallest)
    check_trace_format(data)
    other = data["otherData"]
    assert other["detailed_kernels"] <= 1
    assert len(other["aggregated_kernels"]) >= len(mlp_traced.kernels) - 1
    assert "aggregated" in other["note"]
    instructions = [e for e in data["traceEvents"]
                    if e["ph"] == "X" and e["pid"] > 0 and e["cat"] != "aggregated"
                    and e["name"] != "flag wait"]
    assert len(instructions) <= smallest


def test_separated_chip_tracks_name_their_unit() -> None:
    result = simulate("mlp", hw="ascend910b", trace=True)
    data = trace_events(result)
    check_trace_format(data)
    names = {e["args"]["name"] for e in data["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] > 0}
    expected = {ev.pipe if ev.unit in ("core", "") else f"{ev.unit} {ev.pipe}"
                for k in result.kernels for ev in k.run.events}
    assert names == expected


def test_untraced_run_says_it_has_no_events(resnet_910) -> None:
    data = trace_events(resnet_910)
    check_trace_format(data)
    assert "no timeline events" in data["otherData"]["note"]
