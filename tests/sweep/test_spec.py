"""Spec validation: every bad spec gets one SpecError naming the key and the problem."""

from __future__ import annotations

import pytest

from archsim.errors import InputError
from archsim.sweep import SpecError, load_spec
from archsim.sweep.sampling import Method

GOOD = """
name = "ok"
base = "ascend910"
metrics = ["seconds", "utilization.cube"]
constraints = ["l0a_bytes <= l1_bytes"]
[sampling]
method = "grid"
[parameters]
l1_bytes = [524288, 1048576]
hbm_bytes_per_s = { min = 6e11, max = 1.2e12, num = 3, log = true }
[[workloads]]
model = "gemm:m=64,n=64,k=64"
batch = [1, 2]
train = [false, true]
[compile]
reuse = false
dtype = "float16"
"""


def test_good_spec_parses(write_spec):
    spec = load_spec(write_spec(GOOD))
    assert spec.name == "ok" and spec.base.name == "ascend910"
    assert [p.name for p in spec.parameters] == ["l1_bytes", "hbm_bytes_per_s"]
    assert spec.sampling.method is Method.GRID
    assert spec.workloads[0].batches == (1, 2) and spec.workloads[0].train == (False, True)
    assert spec.metrics == ("seconds", "utilization.cube")
    assert spec.reuse is False and spec.options.dtype == "float16"


def test_yaml_spec_equals_toml(write_spec):
    yaml_text = """
    name: ok
    base: ascend910
    parameters:
      l1_bytes: [524288, 1048576]
    workloads:
      - model: "gemm:m=64,n=64,k=64"
    """
    spec = load_spec(write_spec(yaml_text, "spec.yaml"))
    assert spec.parameters[0].values == (524288, 1048576)
    assert spec.workloads[0].model == "gemm:m=64,n=64,k=64"


def test_base_config_file_relative_to_spec(write_spec, tmp_path):
    (tmp_path / "chip.toml").write_text('preset = "ascend910"\nname = "mychip"\ncores = 4\n')
    spec = load_spec(write_spec('base = "chip.toml"\nworkloads = ["mlp"]\n'))
    assert spec.base.cores == 4 and spec.base.name == "mychip"


BAD = [
    ('colour = 3\nworkloads = ["mlp"]', "colour", "unknown key"),
    ('base = "ascend9999"\nworkloads = ["mlp"]', "base", "ascend9999"),
    ('mode = "fast"\nworkloads = ["mlp"]', "mode", "must be one of"),
    ('workloads = ["mlp"]\n[parameters]\nl9_bytes = [1]', "parameters.l9_bytes", "not a field"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = 5', "parameters.l1_bytes", "list of values"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = []', "parameters.l1_bytes.values",
     "non-empty"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = {min = 2, max = 1, num = 2}',
     "parameters.l1_bytes", "larger than max"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = {min = "a", max = 1}',
     "parameters.l1_bytes.min", "must be a number"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = {min = 1, max = 9}',
     "parameters.l1_bytes.num", "needs num"),
    ('workloads = ["mlp"]\n[parameters]\nfreq_hz = {min = 0, max = 9, num = 2, log = true}',
     "parameters.freq_hz.min", "> 0"),
    ('workloads = ["mlp"]\n[parameters]\nl1_bytes = {values = [1], min = 1}',
     "parameters.l1_bytes.min", "cannot be combined"),
    ('workloads = ["mlp"]\n[sampling]\nmethod = "sobol"', "sampling.method", "grid"),
    ('workloads = ["mlp"]\n[sampling]\nmethod = "random"', "sampling.samples", "positive"),
    ('workloads = ["mlp"]\n[sampling]\nsamples = 4', "sampling.samples", "only random"),
    ('workloads = ["mlp"]\n[sampling]\nmethod = "list"\n[parameters]\nl1_bytes = [1, 2]\n'
     'ub_bytes = [1]', "parameters", "equal length"),
    ('workloads = ["mlp"]\nconstraints = ["l0a_bytes <= l9_bytes"]', "constraints[0]",
     "'l9_bytes'"),
    ('workloads = ["mlp"]\nconstraints = ["__import__(\'os\').system(\'true\')"]',
     "constraints[0]", "only min(), max() and abs()"),
    ('workloads = ["mlp"]\nconstraints = ["l1_bytes.real > 0"]', "constraints[0]",
     "Attribute"),
    ('workloads = ["mlp"]\nconstraints = ["l1_bytes <="]', "constraints[0]",
     "not an expression"),
    ("workloads = []", "workloads", "at least one"),
    ('workloads = ["nosuchnet"]', "workloads[0].model", "unknown workload"),
    ('workloads = ["gemm:q=3"]', "workloads[0].model", "unknown parameter"),
    ('workloads = ["missing.onnx"]', "workloads[0].model", "no such ONNX file"),
    ('[[workloads]]\nmodel = "mlp"\nbatch = 0', "workloads[0].batch", "positive"),
    ('[[workloads]]\nmodel = "mlp"\ntrain = "yes"', "workloads[0].train", "true/false"),
    ('[[workloads]]\nmodel = "mlp"\nepochs = 3', "workloads[0].epochs", "unknown key"),
    ('workloads = ["mlp"]\nmetrics = ["joules"]', "metrics", "unknown metric 'joules'"),
    ('workloads = ["mlp"]\n[compile]\nunroll = 4', "compile.unroll", "unknown compile option"),
    ('workloads = ["mlp"]\n[compile]\ndtype = "int3"', "compile", "unknown dtype"),
    ('workloads = ["mlp"]\n[compile]\nreuse = "yes"', "compile.reuse", "true or false"),
    ("workloads = [", "spec.toml", "not valid TOML"),
]


@pytest.mark.parametrize("body,key,problem", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_spec_names_key_and_problem(write_spec, body, key, problem):
    path = write_spec(body)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(str(path)) and key in message and problem in message
    assert isinstance(info.value, InputError)  # the CLI turns it into exit status 2


def test_missing_and_wrong_type_files(tmp_path):
    with pytest.raises(SpecError, match="no such sweep spec"):
        load_spec(tmp_path / "absent.toml")
    (tmp_path / "spec.json").write_text("{}")
    with pytest.raises(SpecError, match=r"\.toml, \.yaml or \.yml"):
        load_spec(tmp_path / "spec.json")
