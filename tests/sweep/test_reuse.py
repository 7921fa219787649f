"""Compile reuse: points differing only in timing fields share one compiled program."""

from __future__ import annotations

from archsim.simulate import compile_model, load_model, run_executable
from archsim.sweep import load_spec, results_frame, run_sweep
from archsim.sweep.reuse import DAVINCI_TILING_COST_INPUTS, DAVINCI_TIMING_ONLY, compile_config
from hw import load_hw

TINY_CONV = "resnet18:image=32,width=4,classes=10"

BANDWIDTH = f"""
name = "bw"
workloads = ["{TINY_CONV}"]
[parameters]
hbm_bytes_per_s = [1.2e12, 6.0e11, 3.0e11]
l2_bytes_per_s = [2.0e12, 1.0e12]
"""


def test_timing_only_points_compile_once(write_spec, tmp_path):
    spec = load_spec(write_spec(BANDWIDTH))
    summary = run_sweep(spec, tmp_path / "r.db", workers=0)
    assert summary.ran == 6 and summary.compilations == 1
    frame = results_frame(tmp_path / "r.db")
    assert frame["compile_id"].nunique() == 1
    # points say their tiling is approximate for each tiling-cost input that differs from the
    # base: every point's L2 bandwidth does (the preset's is 4 TB/s), HBM only off 1.2 TB/s
    base_hbm = frame["param.hbm_bytes_per_s"] == 1.2e12
    assert frame["notes"].str.contains("l2_bytes_per_s=").all()
    assert not frame.loc[base_hbm, "notes"].str.contains("hbm_bytes_per_s").any()
    assert frame.loc[~base_hbm, "notes"].str.contains("hbm_bytes_per_s=1.2e\\+12").all()
    # and bandwidth still changes the time: the run uses each point's own config
    assert frame["cycles"].nunique() > 1


def test_reuse_off_compiles_every_point(write_spec, tmp_path):
    spec = load_spec(write_spec(BANDWIDTH + "[compile]\nreuse = false\n"))
    summary = run_sweep(spec, tmp_path / "r.db", workers=0)
    assert summary.compilations == 6
    assert (results_frame(tmp_path / "r.db")["notes"] == "").all()


def test_buffer_sizes_compile_per_value(write_spec, tmp_path):
    spec = load_spec(write_spec(f"""
        workloads = ["{TINY_CONV}"]
        [parameters]
        ub_bytes = [131072, 262144]
        hbm_bytes_per_s = [1.2e12, 6.0e11]
    """))
    assert run_sweep(spec, tmp_path / "r.db", workers=0).compilations == 2


def test_reused_point_is_base_program_on_own_config(write_spec, tmp_path):
    spec = load_spec(write_spec(BANDWIDTH))
    run_sweep(spec, tmp_path / "r.db", workers=0)
    frame = results_frame(tmp_path / "r.db")
    row = frame[(frame["param.hbm_bytes_per_s"] == 3.0e11)
                & (frame["param.l2_bytes_per_s"] == 1.0e12)].iloc[0]
    base = load_hw("ascend910")
    own = base.replace(hbm_bytes_per_s=3.0e11, l2_bytes_per_s=1.0e12)
    _, graph = load_model(TINY_CONV)
    expected = run_executable(compile_model(graph, base), own, "timing")
    assert row["cycles"] == expected.to_json()["cycles"]


def test_fields_outside_the_tiling_cost_model_leave_programs_identical():
    """The exact part of the policy: timing fields no compiler code reads."""
    base = load_hw("ascend910")
    _, graph = load_model(TINY_CONV)
    exact = sorted(DAVINCI_TIMING_ONLY - DAVINCI_TILING_COST_INPUTS - {"vector_costs"})
    changed = base.replace(l2_ways=8, cube_head_cycles=40, barrier_drain_cycles=2,
                           l2_line_bytes=256, scalar_issue_cycles=2)
    assert {"l2_ways", "cube_head_cycles", "scalar_issue_cycles"} <= set(exact)
    a, b = compile_model(graph, base), compile_model(graph, changed)
    assert all(x.program == y.program for x, y in zip(a.kernels, b.kernels, strict=True))
    target, note = compile_config(changed, base, reuse=True)
    assert target == base and note == ""


def test_tiling_cost_inputs_can_change_programs_hence_the_note():
    """The approximate part: the cost model may tile differently for another bandwidth."""
    base = load_hw("ascend910")
    slow = base.replace(hbm_bytes_per_s=1e10, gm_latency_cycles=2000)
    _, graph = load_model(TINY_CONV)
    a, b = compile_model(graph, base), compile_model(graph, slow)
    assert any(x.program != y.program for x, y in zip(a.kernels, b.kernels, strict=True))
    target, note = compile_config(slow, base, reuse=True)
    assert target == base and "gm_latency_cycles=" in note and "hbm_bytes_per_s=" in note
