"""Every zoo workload (reduced sizes) compiles for the a100 GPU model and matches the
reference interpreter in functional mode; every kernel respects its roofline bound."""

from __future__ import annotations

import pytest

from tests.compiler.simt_harness import check_model
from tests.compiler.test_zoo_davinci import REDUCED

SLOW = {"resnet50", "vgg16", "resnet18", "mobilenet_v2"}  # a few seconds each


@pytest.mark.parametrize("spec", [
    pytest.param(s, marks=pytest.mark.slow) if s.split(":")[0] in SLOW else s for s in REDUCED])
def test_zoo_matches_the_reference_on_a100(spec: str) -> None:
    exe, result = check_model(spec)
    assert exe.kernels and result.seconds > 0
