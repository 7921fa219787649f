"""A real browser opens a rendered report: headless Chromium (Debian's ``chromium`` package,
when the machine has it) loads it with no network and no console errors, every plot decodes,
and the screenshot is not blank."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--enable-logging=stderr", "--v=0")

# Injected into a copy of the report (the report itself has no script): records errors of any
# kind, then, once every image has decoded, writes what it saw into the DOM for --dump-dom.
_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(
  String(e.message || (e.target && (e.target.src || e.target.href)) || 'error')), true);
window.addEventListener('unhandledrejection', e => window.__errors.push(String(e.reason)));
for (const level of ['error', 'warn']) {
  const original = console[level];
  console[level] = (...args) => { window.__errors.push(level + ': ' + args.join(' '));
                                  original.apply(console, args); };
}
window.addEventListener('load', async () => {
  const images = [...document.images];
  await Promise.all(images.map(i => i.decode().catch(
    e => window.__errors.push('decode ' + i.id + ': ' + e))));
  const probe = document.createElement('pre');
  probe.id = '__probe';
  probe.textContent = JSON.stringify({errors: window.__errors, images: images.map(
    i => ({id: i.id, width: i.naturalWidth, height: i.naturalHeight}))});
  document.body.appendChild(probe);
});
</script>"""


@pytest.fixture(scope="session")
def chromium() -> str:
    # Tests download nothing at run time (the project's rules): without a browser on the
    # machine this test is skipped rather than installing one.
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (on Debian: apt-get install chromium)")
    return path


def _browse(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir()
    return subprocess.run([chromium, *_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(mlp_report) -> Path:
    return mlp_report.html


def test_report_loads_with_no_errors_and_every_plot_decodes(chromium, report, tmp_path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("<head>", "<head>\n" + _PROBE, 1))
    run = _browse(chromium, tmp_path / "profile", "--virtual-time-budget=15000", "--dump-dom",
                  probed.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="__probe">(.*?)</pre>', run.stdout, re.S)
    assert found, "the page never finished loading:\n" + run.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["errors"] == []
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    images = {i["id"]: i for i in probe["images"]}
    assert set(images) == {"plot-time", "plot-roofline", "plot-utilisation", "plot-traffic"}
    assert all(i["width"] > 300 and i["height"] > 100 for i in images.values()), images


def test_screenshot_is_not_blank(chromium, report, tmp_path) -> None:
    shot = tmp_path / "shot.png"
    run = _browse(chromium, tmp_path / "profile", "--window-size=1280,1600",
                  f"--screenshot={shot}", report.as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    rgb = (imread(shot)[..., :3] * 255).astype(np.uint32)
    assert rgb.shape[:2] == (1600, 1280)
    packed = (rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]).ravel()
    colours, counts = np.unique(packed, return_counts=True)
    background = counts.max() / counts.sum()
    assert background < 0.9, f"{background:.0%} of the screenshot is one colour"
    assert len(colours) > 100
