"""DaVinciConfig: presets match the facts' headline figures, files load strictly over a preset,
and every validation rule rejects a bad value with a message naming the field and the value."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import hw
from hw.davinci import PRESETS, DaVinciConfig, VectorCost, get_preset, load_config
from hw.davinci.config import VECTOR_OPS
from hw.errors import ConfigError

REQUIRED_VECTOR_OPS = (
    "vadd vsub vmul vdiv vmax vmin vand vor vadds vmuls vmaxs vmins vabs vrelu vnot vexp vln "
    "vsqrt vrsqrt vrec vconv vcadd vcmax vcmin vcgadd vcgmax vcgmin vector_dup "
    "copy_ubuf_to_ubuf default"
).split()


# ------------------------------------------------------------------------- presets


def test_preset_names() -> None:
    assert set(PRESETS) == {"ascend910", "ascend910b", "ascend310", "ascend310p"}
    for name, config in PRESETS.items():
        assert config.name == name
        assert get_preset(name) is config
    with pytest.raises(TypeError):
        PRESETS["mine"] = PRESETS["ascend910"]  # type: ignore[index]


def test_ascend910_headline_figures() -> None:
    c = get_preset("ascend910")
    # 256 TFLOPS fp16, 512 TOPS int8 [HC31] facts §6
    assert c.peak_flops("fp16") == pytest.approx(256e12, rel=0.01)
    assert c.peak_flops("int8") == pytest.approx(512e12, rel=0.01)
    assert (c.organisation, c.cores, c.vector_cores_per_core, c.event_ids) == ("coupled", 32, 0, 4)
    assert c.freq_hz == pytest.approx(0.98e9, rel=0.01)
    assert (c.l1_bytes, c.l0a_bytes, c.l0b_bytes, c.l0c_bytes) == (1 << 20, 65536, 65536, 262144)
    assert c.hbm_bytes_per_s == 1.2e12 and c.l2_bytes == 32 << 20


def test_ascend910b_headline_figures() -> None:
    c = get_preset("ascend910b")
    # derived 24 x 8192 x 1.85e9 = 363.7 TFLOPS fp16/bf16, 727 int8, 90.9 fp32 (facts §6)
    assert c.peak_flops() == pytest.approx(363.7e12, rel=0.001)
    assert c.peak_flops("bf16") == c.peak_flops("fp16")
    assert c.peak_flops("int8") == pytest.approx(727.4e12, rel=0.001)
    assert c.peak_flops("fp32") == pytest.approx(90.9e12, rel=0.001)
    assert (c.organisation, c.cores, c.vector_cores, c.freq_hz) == ("separated", 24, 48, 1.85e9)
    assert (c.l1_bytes, c.l0c_bytes, c.ub_bytes) == (512 << 10, 128 << 10, 192 << 10)
    assert (c.bt_bytes, c.fb_bytes, c.l2_bytes) == (1 << 10, 7 << 10, 192 << 20)
    assert c.path_bytes_per_cycle("l1", "l0a") == 256 and c.path_bytes_per_cycle("l1", "l0b") == 128
    assert c.path_bytes_per_cycle("gm", "l1") == pytest.approx(78.4, abs=0.1)  # PTO §10


def test_ascend310_and_310p_figures() -> None:
    c310, c310p = get_preset("ascend310"), get_preset("ascend310p")
    assert (c310.cores, c310.ub_bytes, c310.l2_bytes) == (2, 253952, 8 << 20)
    # 310P: 8 cores x 8192 x 1.06 GHz = 69.5 TFLOPS fp16, 139 TOPS int8 (facts §6)
    assert c310p.peak_flops() == pytest.approx(69.5e12, rel=0.01)
    assert c310p.peak_flops("int8") == pytest.approx(139e12, rel=0.01)
    assert c310p.path_bytes_per_cycle("l0c", "ub") == 512  # GE-PLAT taken over FIX-310P
    assert c310.path_bytes_per_cycle("l0c", "ub") == 256


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_complete_and_consistent(name: str) -> None:
    c = get_preset(name)
    assert set(REQUIRED_VECTOR_OPS) <= set(c.vector_costs)
    assert c.cube_k0("fp16") == 16 and c.cube_k0("int8") == 32
    assert c.cube_macs_per_cycle("fp16") == 4096
    assert c.l0a_fractal_bytes == 512 and c.l0c_fractal_bytes == 1024
    assert c.kernel_launch_cycles == round(10e-6 * c.freq_hz)
    assert c.hbm_bytes_per_cycle == pytest.approx(c.hbm_bytes_per_s / c.freq_hz)
    if c.organisation == "coupled":
        assert c.path_bytes_per_cycle("l0c", "ub") > 0
        assert "copy_matrix_cc_to_ubuf" in c.vector_costs
        with pytest.raises(ConfigError, match="no l0c -> gm data path"):
            c.path_bytes_per_cycle("l0c", "gm")
    else:
        assert c.path_bytes_per_cycle("l0c", "gm") > 0
        with pytest.raises(ConfigError, match="no ub -> l1 data path"):
            c.path_bytes_per_cycle("ub", "l1")
    assert hash(c) == hash(c.replace())  # equal configs hash equally
    assert c.replace() == c


def test_get_preset_unknown_lists_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        get_preset("ascend920")
    assert str(info.value) == (
        "unknown preset 'ascend920' (known: ascend310, ascend310p, ascend910, ascend910b)"
    )


# ------------------------------------------------------------------------- derived values


def test_vector_cost_picks_b32_slope_and_falls_back_to_default() -> None:
    c = get_preset("ascend910b")
    assert c.vector_cost("vexp", b32=False) == (12.0, 4.0)
    assert c.vector_cost("vexp", b32=True) == (12.0, 2.0)
    assert c.vector_cost("vadd", b32=True) == (5.9, 2.07)  # no b32 slope: the same
    assert c.vector_cost("vbitsort", b32=False) == c.vector_cost("default", b32=False)
    assert c.vector_costs["vexp"].cycles(10, b32=True) == 32.0
    assert c.vector_costs["vexp"].cycles(0) == 0.0


def test_cube_rejects_unsupported_dtype_and_bad_space() -> None:
    c = get_preset("ascend910")
    with pytest.raises(ConfigError, match="does not take bf16"):
        c.peak_flops("bf16")
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        c.cube_k0("fp8")
    with pytest.raises(ConfigError, match="unknown memory space 'l3'"):
        c.path_bytes_per_cycle("l3", "ub")
    assert get_preset("ascend910b").cube_cycles_per_step("fp32") == 2


def test_config_pickles_for_sweep_workers() -> None:
    c = get_preset("ascend910b")
    copy = pickle.loads(pickle.dumps(c))
    assert copy == c and hash(copy) == hash(c)
    assert json.loads(c.model_dump_json())["vector_costs"]["vexp"]["cycles_per_repeat_b32"] == 2


def test_config_is_frozen() -> None:
    c = get_preset("ascend910")
    with pytest.raises(ValueError):
        c.l1_bytes = 5
    with pytest.raises(TypeError):
        c.vector_costs["vadd"] = VectorCost(startup_cycles=0, cycles_per_repeat=1)  # type: ignore[index]


# ------------------------------------------------------------------------- validation


def _error(**changes: object) -> str:
    with pytest.raises(ConfigError) as info:
        get_preset("ascend910b").replace(**changes)
    return str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"l1_bytes": -5}, "l1_bytes: -5 must be a positive integer"),
        ({"cores": 0}, "cores: 0 must be a positive integer"),
        ({"ub_bytes": "big"}, "ub_bytes: 'big' must be a positive integer"),
        ({"l0a_bytes": 65536.0}, "l0a_bytes: 65536.0 must be a positive integer"),
        ({"queue_depth": True}, "queue_depth: True must be a positive integer"),
        ({"freq_hz": 0}, "freq_hz: 0 must be a positive finite number"),
        ({"freq_hz": float("nan")}, "freq_hz: nan must be a positive finite number"),
        ({"hbm_bytes_per_s": -1.0}, "hbm_bytes_per_s: -1.0 must be a positive finite number"),
        ({"gm_to_l1_bytes_per_cycle": -3}, "gm_to_l1_bytes_per_cycle: -3 must be a non-negative"),
        ({"gm_latency_cycles": -1}, "gm_latency_cycles: -1 must be a non-negative integer"),
        ({"kernel_launch_s": -1e-6}, "kernel_launch_s: -1e-06 must be a non-negative"),
        ({"organisation": "fused"}, "organisation: 'fused' Input should be 'coupled' or"),
        ({"ub_align_bytes": 48}, "ub_align_bytes: 48 must be a power of two"),
        ({"l1_bytes": 1000}, "l1_bytes: 1000 must be a multiple of l1_align_bytes (32)"),
        ({"l0a_bytes": 0}, "l0a_bytes: 0 must be a positive integer"),
        ({"l0b_bytes": 256, "l0b_align_bytes": 256}, "l0b_bytes: 256 is smaller than one L0B"),
        ({"l0c_bytes": 512}, "l0c_bytes: 512 is smaller than one fp32 L0C fractal"),
        ({"event_ids": 17}, "event_ids: 17 must be in 1..16"),
        ({"event_ids": 0}, "event_ids: 0 must be a positive integer"),
        ({"cube_m": 24}, "cube_m: 24 must be a multiple of 16"),
        ({"cube_n": 8}, "cube_n: 8 must be a multiple of 16"),
        ({"cube_k_bytes": 48}, "cube_k_bytes: 48 must be a multiple of 32"),
        ({"cube_dtypes": ("fp16", "fp8")}, "cube_dtypes: ('fp16', 'fp8') must be distinct names"),
        ({"cube_dtypes": ()}, "cube_dtypes: () must be distinct names"),
        ({"vector_repeat_bytes": 250}, "vector_repeat_bytes: 250 must be a multiple of"),
        ({"vector_block_bytes": 24}, "vector_block_bytes: 24 must be a power of two"),
        ({"name": " "}, "name: ' ' must be a non-empty name"),
        ({"vector_cores_per_core": 0}, "vector_cores_per_core: 0 must be at least 1"),
        ({"l0c_to_gm_bytes_per_cycle": 0}, "l0c_to_gm_bytes_per_cycle: 0 must be > 0"),
        ({"l1_to_l0a_bytes_per_cycle": 0.0}, "l1_to_l0a_bytes_per_cycle: 0 must be > 0"),
        ({"l0c_to_ub_bytes_per_cycle": 256}, "l0c_to_ub_bytes_per_cycle: 256 must be 0"),
        ({"bt_bytes": 0}, "l1_to_bt_bytes_per_cycle: 32 must be > 0 exactly when bt_bytes (0)"),
        ({"l1_bytes_typo": 5}, "l1_bytes_typo: unknown field"),
    ],
)
def test_validation_rule(changes: dict[str, object], message: str) -> None:
    assert message in _error(**changes)


def test_coupled_rules() -> None:
    coupled = get_preset("ascend910")
    with pytest.raises(ConfigError, match="vector_cores_per_core: 2 must be 0 on a coupled"):
        coupled.replace(vector_cores_per_core=2)
    with pytest.raises(ConfigError, match="l0c_to_gm_bytes_per_cycle: 40 must be 0"):
        coupled.replace(l0c_to_gm_bytes_per_cycle=40)
    with pytest.raises(ConfigError, match="l1_to_ub_bytes_per_cycle: 0 must be > 0"):
        coupled.replace(l1_to_ub_bytes_per_cycle=0)


def test_vector_cost_rules() -> None:
    base = dict(get_preset("ascend910").vector_costs)
    no_default = {k: v for k, v in base.items() if k != "default"}
    assert _error(vector_costs=no_default) == (
        "vector_costs: needs a 'default' entry (the cost of ops without their own)"
    )
    assert _error(vector_costs={**base, "vfoo": base["vadd"]}).startswith(
        "vector_costs: unknown op 'vfoo' (known: copy_matrix_cc_to_ubuf, "
    )
    bad = {**base, "vexp": {"startup_cycles": -1, "cycles_per_repeat": 4}}
    assert "vector_costs.vexp.startup_cycles: -1 must be a non-negative" in _error(vector_costs=bad)
    bad = {**base, "vexp": {"startup_cycles": 1, "cycles_per_repeat": 4, "slope": 2}}
    assert "vector_costs.vexp.slope: unknown field" in _error(vector_costs=bad)
    assert VECTOR_OPS >= set(REQUIRED_VECTOR_OPS)


def test_each_failing_field_gets_its_own_line() -> None:
    lines = _error(l1_bytes=-5, cores=0, freq_hz="fast").splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["cores", "freq_hz", "l1_bytes"]


def test_l0_larger_than_l1_is_allowed_for_sweeps() -> None:
    c = get_preset("ascend910b").replace(l0a_bytes=1 << 20, l1_bytes=512)
    assert c.l0a_bytes > c.l1_bytes


def test_replace_validates_and_keeps_the_rest() -> None:
    base = get_preset("ascend910b")
    wider = base.replace(cores=48, l1_bytes=1 << 20)
    assert (wider.cores, wider.l1_bytes, wider.ub_bytes) == (48, 1 << 20, base.ub_bytes)
    assert wider.peak_flops() == pytest.approx(2 * base.peak_flops())
    assert base.cores == 24


def test_direct_construction_requires_every_field() -> None:
    with pytest.raises(ConfigError) as info:
        DaVinciConfig(name="x", organisation="coupled")
    assert "cores: missing (required)" in str(info.value)


# ------------------------------------------------------------------------- loading files

TOML = """\
preset = "ascend910b"
l1_bytes = 1048576
cores = 20
[vector_costs.vexp]
startup_cycles = 10
cycles_per_repeat = 3
"""
YAML = """\
preset: ascend910b
name: big-l1
l1_bytes: 1048576
cores: 20
vector_costs:
  vexp: {startup_cycles: 10, cycles_per_repeat: 3}
"""


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".toml", TOML),
        (".yaml", YAML),
        (".yml", YAML),
        (
            ".json",
            json.dumps(
                {
                    "preset": "ascend910b",
                    "l1_bytes": 1048576,
                    "cores": 20,
                    "vector_costs": {"vexp": {"startup_cycles": 10, "cycles_per_repeat": 3}},
                }
            ),
        ),
    ],
)
def test_load_file_over_preset(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"variant{suffix}"
    path.write_text(text)
    c = load_config(path)
    base = get_preset("ascend910b")
    assert (c.l1_bytes, c.cores, c.ub_bytes) == (1 << 20, 20, base.ub_bytes)
    assert c.vector_cost("vexp", b32=True) == (10.0, 3.0)  # the entry is replaced whole
    assert c.vector_costs["vln"] == base.vector_costs["vln"]  # other ops keep the base's
    assert c.name == ("big-l1" if "name:" in text else "variant")


def test_load_preset_name_and_base_argument(tmp_path: Path) -> None:
    assert load_config("ascend310") is get_preset("ascend310")
    assert hw.load_hw("ascend910b") is get_preset("ascend910b")
    path = tmp_path / "small.toml"
    path.write_text("ub_bytes = 131072\n")
    c = load_config(path, base="ascend310p")
    assert (c.ub_bytes, c.cores) == (131072, 8)
    assert load_config(path, base=get_preset("ascend910")).cores == 32
    with pytest.raises(ConfigError, match="small.toml: cores: missing"):
        load_config(path)


def _load_error(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path, "typo.yaml", "preset: ascend910\nl1_byte: 5\n")
    assert message == f"{tmp_path / 'typo.yaml'}: unknown key 'l1_byte' (did you mean 'l1_bytes'?)"


def test_bad_value_in_file_names_file_and_field(tmp_path: Path) -> None:
    message = _load_error(tmp_path, "neg.toml", 'preset = "ascend910"\nl1_bytes = -5\n')
    assert message == f"{tmp_path / 'neg.toml'}: l1_bytes: -5 must be a positive integer"


def test_unknown_base_preset_in_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path, "base.json", '{"preset": "ascend999"}')
    assert "base.json: unknown preset 'ascend999' (known: " in message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.toml", 'preset = "ascend910"\nl1_bytes = \n', "bad.toml: line 2: invalid TOML"),
        ("bad.yaml", "preset: ascend910\nl1_bytes: [1\n", "bad.yaml: line 3: invalid YAML"),
        ("bad.json", '{"preset": "ascend910",\n "x": }', "bad.json: line 2: invalid JSON"),
        ("list.yaml", "- 1\n- 2\n", "list.yaml: expected a table of fields, got list"),
        ("costs.toml", 'preset = "ascend910"\nvector_costs = 3\n', "costs.toml: vector_costs: 3"),
    ],
)
def test_malformed_file(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert expected in _load_error(tmp_path, name, text)


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    ini = tmp_path / "chip.ini"
    ini.write_text("[x]\n")
    with pytest.raises(ConfigError, match="unsupported config file type"):
        load_config(ini)
    with pytest.raises(ConfigError, match="unknown preset 'nonesuch'"):
        load_config("nonesuch")
