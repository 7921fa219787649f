"""Reports render GPU (SIMT) runs the same way: a RunResult built from a real `GpuKernelRun`
(the hand-written fp16 GEMM on the a100 preset) gets DRAM/L2/L1/shared roofs with every point
under its roof, a lossless result.json, warp-stall reasons in the issue row, a valid trace and
a full HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_format import check_trace_format

from hw.results import KernelRecord, RunResult, roofline_seconds
from hw.simt import PRESETS
from hw.simt.run import SimOptions, run_kernel
from hw.simt.stats import GpuKernelRun
from isa.simt import parse_kernel
from reports import ceilings_for, load_result, render_report, save_result, trace_events
from reports.roofline import roofline_points
from reports.utilization import layer_breakdowns

_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simt" / "gemm_fp16.s"


@pytest.fixture(scope="module")
def gpu_result() -> RunResult:
    config = PRESETS["a100"]
    kernel = parse_kernel(_EXAMPLE.read_text())
    run = run_kernel(kernel, config, SimOptions(trace=True))
    min_bytes = sum(d.nbytes for d in (*kernel.inputs, *kernel.outputs))
    record = KernelRecord(kernel.name, "gemm", "matmul", ("gemm",), run.flops, min_bytes,
                          roofline_seconds(run.flops, min_bytes, config.peak_tensor_flops,
                                           config.dram_bytes_per_s), run)
    return RunResult("gemm_fp16", "a100", 1, "timing", config.freq_hz,
                     config.peak_tensor_flops, config.dram_bytes_per_s, (record,))


def test_points_lie_under_the_gpu_roofs(gpu_result) -> None:
    roofs = ceilings_for(PRESETS["a100"])
    points = roofline_points(gpu_result, roofs)
    assert {p.level for p in points} >= {"DRAM", "L2", "shared"}
    for p in points:
        assert p.flops_per_s <= p.roof_flops_per_s * (1 + 1e-9), p


def test_gpu_run_round_trips(gpu_result, tmp_path) -> None:
    roofs = ceilings_for(PRESETS["a100"])
    saved = load_result(save_result(tmp_path / "r.json", gpu_result, roofs))
    (before,), (after,) = gpu_result.kernels, saved.result.kernels
    assert isinstance(after.run, GpuKernelRun)
    assert after.run.stall_cycles == before.run.stall_cycles
    assert after.run.achieved_occupancy == before.run.achieved_occupancy
    assert after == KernelRecord(**{**before.__dict__, "run": after.run})
    assert saved.result.to_json() == gpu_result.to_json()


def test_issue_row_shows_warp_stall_reasons(gpu_result) -> None:
    (row,) = layer_breakdowns(gpu_result)
    run = gpu_result.kernels[0].run
    reasons = {r for r, n in run.stall_cycles.items() if n and r != "idle"}
    assert set(row.issue) == reasons
    for reason in reasons:
        assert row.issue[reason] == pytest.approx(run.stall_cycles[reason] / run.subcore_cycles)


def test_gpu_trace_has_sm_sub_core_pipe_tracks(gpu_result) -> None:
    data = trace_events(gpu_result)
    check_trace_format(data)
    names = {e["args"]["name"] for e in data["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] > 0}
    assert any(name.startswith("sub0 ") for name in names)


def test_gpu_report_renders(gpu_result) -> None:
    html = render_report(gpu_result, ceilings_for(PRESETS["a100"]))
    assert html.count('src="data:image/svg+xml;base64,') == 4
    assert "DRAM" in html and "gemm_fp16 on a100" in html
