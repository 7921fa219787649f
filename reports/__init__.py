"""reports: renders RunResults as roofline, utilisation, traffic and timeline reports.

It reads the typed records of a run (``hw.results.RunResult``) and the chip's roofs; it never
re-runs or recomputes the simulation.
"""

from reports.ceilings import Ceilings, ComputeRoof, MemoryRoof, ceilings_for
from reports.compare import render_comparison, write_comparison
from reports.html import render_report
from reports.outputs import ReportFiles, summary_markdown, write_report
from reports.serialize import ResultFileError, SavedResult, load_result, save_result
from reports.trace import trace_events, write_trace

__all__ = [
    "Ceilings", "ComputeRoof", "MemoryRoof", "ReportFiles", "ResultFileError", "SavedResult",
    "ceilings_for", "load_result", "render_comparison", "render_report", "save_result",
    "summary_markdown", "trace_events", "write_comparison", "write_report", "write_trace",
]
