"""`archsim compile`: every kernel's assembly with its origin, cost and tiling."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from archsim.cli import main
from isa.davinci import parse_kernel


def test_compile_lists_kernels_with_origin_and_tiling() -> None:
    outcome = CliRunner().invoke(main, ["compile", "resnet18:image=32,width=4,classes=10",
                                        "--lines", "3"])
    assert outcome.exit_code == 0, outcome.output
    text = outcome.output
    assert "# kernel" in text and "# origin:" in text and "# tiling: tiles of" in text
    assert "conv2d" in text and "relu" in text  # a fused conv + ReLU names both nodes


def test_compile_writes_assembly_that_parses_back(tmp_path: Path) -> None:
    out = tmp_path / "mlp.s"
    outcome = CliRunner().invoke(main, ["compile", "mlp:features=16,hidden=32,out=4",
                                        "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    listing = out.read_text()
    first = listing.split("# kernel", 2)[1].split("\n", 1)[1].split("# kernel")[0]
    kernel = parse_kernel(first, "mlp.s")
    assert kernel.instruction_count() > 0


def test_compile_header_states_planned_and_naive_global_memory() -> None:
    outcome = CliRunner().invoke(main, ["compile", "resnet18:image=32,width=4,classes=10",
                                        "--hw", "ascend910b", "--lines", "1"])
    assert outcome.exit_code == 0, outcome.output
    header = outcome.output.splitlines()[1]
    match = re.fullmatch(r"# GM: peak ([\d.]+) (KiB|MiB) planned vs ([\d.]+) (KiB|MiB) naive "
                         r"\(constants .*, workspace .* shared vs .* naive\)", header)
    assert match, header
    scale = {"KiB": 1, "MiB": 1024}
    peak = float(match[1]) * scale[match[2]]
    naive = float(match[3]) * scale[match[4]]
    assert 0 < peak < naive  # activations of a ResNet share bytes


def test_a_batch_parallel_network_is_one_launch_unless_asked_for_one_per_kernel() -> None:
    spec = "resnet18:image=32,width=4,classes=10"
    merged = CliRunner().invoke(main, ["compile", spec, "--batch", "32", "--lines", "0"])
    single = CliRunner().invoke(main, ["compile", spec, "--batch", "32", "--lines", "1",
                                       "--launch-per-kernel"])
    assert merged.exit_code == 0 and single.exit_code == 0, merged.output + single.output
    kernels = [int(re.search(r"(\d+) kernels", o.output)[1]) for o in (merged, single)]
    assert kernels[0] <= 3 < kernels[1]
    assert "(merged)" in merged.output
    # the merged launch's tiling record lists every part, one per line
    record = merged.output.split("# tiling: ", 1)[1].split("\n")
    assert "in one launch:" in record[0]
    assert record[1].startswith("#   relu.relu: input read space-to-depth")
    # a node of the merged launch finds it
    node = CliRunner().invoke(main, ["compile", spec, "--batch", "32", "--lines", "1",
                                     "--kernel", "layer2.0.relu.relu_2"])
    assert node.exit_code == 0 and node.output.count("# kernel ") == 1, node.output
    assert re.search(r"layer2\.0\.relu\.relu_2: (.*; )?tiles of", node.output)


def test_one_launch_per_kernel_is_refused_for_a_gpu() -> None:
    outcome = CliRunner().invoke(main, ["run", "gemm:m=64,n=64,k=64", "--hw", "a100",
                                        "--launch-per-kernel"])
    assert outcome.exit_code == 2
    assert "GPU" in outcome.output and "Traceback" not in outcome.output
