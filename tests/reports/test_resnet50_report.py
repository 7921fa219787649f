"""Full-size ResNet-50 (batch 1, about 20 s with the timeline): every kernel under its roofs,
the trace capped at its event budget and still valid, and the report renders."""

from __future__ import annotations

import json

import pytest
from trace_format import check_trace_format

from archsim.simulate import simulate
from reports import ceilings_for, render_report, trace_events
from reports.roofline import roofline_points
from reports.tables import layer_rows

pytestmark = pytest.mark.slow


def test_resnet50_report_trace_and_roofs() -> None:
    from hw import load_hw

    result = simulate("resnet50", hw="ascend910", trace=True)
    roofs = ceilings_for(load_hw("ascend910"))
    for p in roofline_points(result, roofs):
        assert p.flops_per_s <= p.roof_flops_per_s * (1 + 1e-9), p
    rows = layer_rows(result, roofs)
    assert sum(r.cycles for r in rows) == result.cycles
    data = trace_events(result, max_events=50_000)
    check_trace_format(data)
    other = data["otherData"]
    assert other["aggregated_kernels"] and "aggregated" in other["note"]
    assert len(json.dumps(data)) < 30_000_000
    html = render_report(result, roofs)
    assert html.count('src="data:image/svg+xml;base64,') == 4
