"""The report directory: a self-contained report.html with the run's numbers, summary.md, and
re-rendering from result.json giving the same files."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest

from reports import (
    load_result,
    render_comparison,
    render_report,
    summary_markdown,
    write_report,
)
from reports.tables import layer_rows


def _images(html: str) -> dict[str, str]:
    return dict(re.findall(r'<img id="([^"]+)"[^>]*src="data:image/svg\+xml;base64,([^"]+)"',
                           html))


@pytest.fixture(scope="module")
def resnet_html(resnet_910, roofs_910) -> str:
    return render_report(resnet_910, roofs_910)


def test_report_is_self_contained_with_four_plots(resnet_html) -> None:
    html = resnet_html
    images = _images(html)
    assert set(images) == {"plot-time", "plot-roofline", "plot-utilisation", "plot-traffic"}
    for data in images.values():
        assert base64.b64decode(data).lstrip().startswith(b"<?xml")
    # nothing is fetched: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html and "@import" not in html


def test_report_shows_the_run_numbers(resnet_910, roofs_910, resnet_html) -> None:
    html = resnet_html
    assert f"{resnet_910.seconds * 1e3:.3f} ms" in html
    assert f"{resnet_910.throughput_per_s:.1f} /s" in html
    assert f"{resnet_910.cycles:,} cycles" in html
    for row in layer_rows(resnet_910, roofs_910):
        assert f"<td class=\"l\">{row.name}</td>" in html
        assert f"{row.cycles:,}" in html
    for unit, value in resnet_910.utilization().items():
        assert f"<th>{unit}</th>" in html and f"{100 * value:.1f}%" in html


def test_write_report_and_rerender_are_identical(mlp_report, tmp_path) -> None:
    saved = load_result(mlp_report.result_json)
    write_report(saved.result, tmp_path, saved.ceilings)  # roofs as saved
    for name in ("report.html", "summary.md", "layers.csv", "result.json"):
        assert (mlp_report.html.parent / name).read_bytes() == (tmp_path / name).read_bytes()


def test_summary_markdown(resnet_910, roofs_910) -> None:
    text = summary_markdown(resnet_910, roofs_910)
    assert text.startswith(f"# {resnet_910.model} on ascend910")
    assert f"{resnet_910.seconds * 1e3:.3f} ms" in text
    assert "## Top layers" in text and "## Top kernels" in text
    slowest = max(resnet_910.layers(), key=lambda r: r["seconds"])
    assert f"| {slowest['name']} |" in text


def test_default_roofs_come_from_the_named_preset(mlp_traced, roofs_910) -> None:
    from reports.serialize import default_ceilings

    assert default_ceilings(mlp_traced) == roofs_910
    renamed = dataclasses.replace(mlp_traced, hw="my_chip.toml")  # not a preset name
    fallback = default_ceilings(renamed)
    assert [m.name for m in fallback.memory] == ["HBM"] and "unavailable" in fallback.source
    assert fallback.peak_flops == mlp_traced.peak_flops


def test_comparison_page(resnet_910, roofs_910, resnet_910b, roofs_910b) -> None:
    html = render_comparison([(resnet_910, roofs_910), (resnet_910b, roofs_910b)],
                             {"a100": "unknown preset"})
    assert set(_images(html)) == {"plot-roofline", "plot-bars"}
    assert "a100 not compared:</b> unknown preset" in html
    for result in (resnet_910, resnet_910b):
        assert f"{result.seconds * 1e3:.3f}" in html
    assert f"{resnet_910.seconds / resnet_910b.seconds:.2f}x" in html
    ratio = resnet_910.seconds / resnet_910b.seconds
    word = f"{ratio:.2f}x faster than" if ratio >= 1 else f"{1 / ratio:.2f}x slower than"
    assert f"ascend910b is {word} ascend910" in html


@pytest.mark.parametrize("repr_of", ["mlp_traced", "resnet_910"])
def test_notebook_repr_is_a_compact_table(repr_of, request) -> None:
    result = request.getfixturevalue(repr_of)
    html = result._repr_html_()
    assert html.count("<table") >= 1 and f"{result.seconds * 1e3:.3f} ms" in html
    assert len(html) < 20_000


def test_a_run_without_kernels_still_renders(roofs_910) -> None:
    from hw.results import RunResult

    empty = RunResult("empty", "ascend910", 1, "timing", 1e9, 1e12, 1e11, ())
    html = render_report(empty, roofs_910)
    assert "empty on ascend910" in html and html.count("data:image/svg+xml") == 4
    assert "0 kernels" in summary_markdown(empty, roofs_910)
