"""`archsim run --report/--trace`, `archsim report` and `archsim compare` from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from archsim.cli import main


def test_run_writes_report_and_trace_and_report_rerenders_it(tmp_path) -> None:
    out, trace = tmp_path / "rep", tmp_path / "t" / "trace.json"
    res = CliRunner().invoke(main, ["run", "mlp", "--hw", "ascend910", "--report", str(out),
                                    "--trace", str(trace), "--json"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output)
    for name in ("report.html", "summary.md", "layers.csv", "result.json"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "result.json").read_text())
    assert saved["cycles"] == printed["cycles"] and saved["layers"] == printed["layers"]
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["pid"] > 0 for e in events)
    res = CliRunner().invoke(main, ["report", str(out / "result.json"), "--out",
                                    str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").read_text() == (tmp_path / "again" / "report.html").read_text()


def test_report_of_a_bad_file_is_one_clear_error(tmp_path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    res = CliRunner().invoke(main, ["report", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "not a saved archsim result" in res.output and "Traceback" not in res.output


def test_compare_renders_side_by_side_and_names_chips_it_cannot_run(tmp_path) -> None:
    res = CliRunner().invoke(main, ["compare", "mlp", "--hw", "ascend910", "--hw",
                                    "ascend910b", "--hw", "no_such_chip", "--out",
                                    str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "no_such_chip not compared" in res.output
    html = (tmp_path / "compare.html").read_text()
    assert "ascend910b" in html and "no_such_chip not compared" in html
    assert (tmp_path / "result-ascend910.json").exists()
    assert (tmp_path / "result-ascend910b.json").exists()


def test_compare_needs_two_chips_and_one_that_runs(tmp_path) -> None:
    res = CliRunner().invoke(main, ["compare", "mlp", "--hw", "ascend910"])
    assert res.exit_code == 2 and "at least two" in res.output
    res = CliRunner().invoke(main, ["compare", "mlp", "--hw", "nope1", "--hw", "nope2",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 2 and "none of the chips could run mlp" in res.output


def test_report_options_on_an_assembly_program_are_refused(tmp_path) -> None:
    res = CliRunner().invoke(main, ["run", "matmul_128x256x512_sb", "--report", str(tmp_path)])
    assert res.exit_code == 2 and "apply to models" in res.output
