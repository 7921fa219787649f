"""`archsim report RESULT --out DIR`: re-render a saved ``result.json`` as a report directory
(report.html, summary.md, layers.csv, result.json) without re-running anything."""

from __future__ import annotations

import click

from archsim.render import console


@click.command()
@click.argument("result_file", metavar="RESULT", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, metavar="DIR",
              help="Directory for report.html, summary.md, layers.csv and result.json.")
def report(result_file: str, out_dir: str) -> None:
    """Render the report of a saved run (a result.json from `archsim run --report`)."""
    from reports import load_result, write_report

    saved = load_result(result_file)
    files = write_report(saved.result, out_dir, saved.ceilings)
    console().print(f"wrote {files.html}, {files.summary.name}, {files.layers_csv.name}, "
                    f"{files.result_json.name}")
