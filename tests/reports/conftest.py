"""Shared small runs for the report tests: simulated once per session (about a second each)."""

from __future__ import annotations

import pytest

from archsim.simulate import simulate
from hw import load_hw
from hw.results import RunResult
from reports import Ceilings, ReportFiles, ceilings_for, write_report

SMALL_RESNET = "resnet18:image=32,width=4,classes=10"


@pytest.fixture(scope="session")
def mlp_traced() -> RunResult:
    """The zoo MLP on ascend910 with timeline events."""
    return simulate("mlp", hw="ascend910", trace=True)


@pytest.fixture(scope="session")
def resnet_910() -> RunResult:
    """A small ResNet-18 on ascend910 (convolutions, pooling, a matmul; coupled cores)."""
    return simulate(SMALL_RESNET, hw="ascend910")


@pytest.fixture(scope="session")
def resnet_910b() -> RunResult:
    """The same ResNet on ascend910b (separated cube and vector cores)."""
    return simulate(SMALL_RESNET, hw="ascend910b")


@pytest.fixture(scope="session")
def roofs_910() -> Ceilings:
    return ceilings_for(load_hw("ascend910"))


@pytest.fixture(scope="session")
def roofs_910b() -> Ceilings:
    return ceilings_for(load_hw("ascend910b"))


@pytest.fixture(scope="session")
def mlp_report(mlp_traced, roofs_910, tmp_path_factory) -> ReportFiles:
    """The report directory of the traced MLP run (rendering takes about a second)."""
    return write_report(mlp_traced, tmp_path_factory.mktemp("mlp_report"), roofs_910)
