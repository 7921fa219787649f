"""result.json: the run's keys, and a lossless round trip of every kernel record."""

from __future__ import annotations

import json

import pytest

from archsim.simulate import simulate
from reports import ResultFileError, load_result, save_result
from reports.serialize import FORMAT

DESIGN_KEYS = {"model", "hw", "batch", "mode", "cycles", "seconds", "throughput_per_s", "flops",
               "hbm_bytes", "roofline_seconds", "utilization", "layers"}


def test_round_trip_keeps_every_record(resnet_910, roofs_910, tmp_path) -> None:
    path = save_result(tmp_path / "result.json", resnet_910, roofs_910)
    saved = load_result(path)
    assert saved.ceilings == roofs_910
    assert saved.result.to_json() == resnet_910.to_json()
    for before, after in zip(resnet_910.kernels, saved.result.kernels, strict=True):
        assert after == before  # KernelRecord and KernelRun equality, field by field


def test_file_has_the_run_json_keys(mlp_traced, roofs_910, tmp_path) -> None:
    data = json.loads(save_result(tmp_path / "r.json", mlp_traced, roofs_910).read_text())
    assert DESIGN_KEYS <= set(data)
    assert data["format"] == FORMAT
    assert len(data["records"]) == len(mlp_traced.kernels)
    record = data["records"][0]["run"]
    assert record["kind"] == "davinci"
    assert "events" not in record and "outputs" not in record


def test_functional_outputs_are_not_saved(roofs_910, tmp_path) -> None:
    result = simulate("mlp", hw="ascend910", mode="functional")
    saved = load_result(save_result(tmp_path / "r.json", result, roofs_910))
    assert saved.result.mode == "functional" and not saved.result.outputs
    assert saved.result.cycles == result.cycles


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ("[1, 2]", "not a saved archsim result"),
    ('{"format": "other"}', "not a saved archsim result"),
    ('{"format": "' + FORMAT + '", "model": "m"}', "missing field"),
])
def test_bad_files_name_the_problem(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=message) as info:
        load_result(path)
    assert str(path) in str(info.value)
