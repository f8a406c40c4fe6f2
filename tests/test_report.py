"""``python -m testbed report``: one self-contained page for a run, a folder of runs and a suite.

A module fixture makes two tiny runs and a tiny suite through the CLI in a few seconds (the suite's
cells run one after another in this process: a serial backend stands in for the spawned ones), so
``run_info.json`` holds the real command lines.  The browser test renders the page with headless
Chromium (scripts/install-browser.sh; .ci/run installs it) and fails on a figure that does not decode, a
table that does not render or a script error; it saves a screenshot (``$TESTBED_SCREENSHOT``, if set).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import SerialSuiteBackend, tiny_experiment
from PIL import Image

from testbed.cli import main
from testbed.suite import backends

IMG_SRC = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
ANY_REF = re.compile(r'(?:src|href)\s*=\s*"([^"]*)"')


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    for method in ("ps", "fedavg"):
        path = root / f"{method}.yaml"
        path.write_text(yaml.safe_dump(tiny_experiment({"name": method}, max_iterations=4, eval_every=2,
                                                       name=f"tiny-{method}")))
        assert main(["run", str(path), "--out", str(root / "runs" / method), "--quiet"]) == 0
    broken = root / "runs" / "broken"  # what a suite leaves for a cell that raised before it ran
    broken.mkdir()
    shutil.copy(root / "runs" / "ps" / "config.yaml", broken / "config.yaml")
    (broken / "summary.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: <out of memory>"}))
    suite = {"name": "s", "base": tiny_experiment("local", max_iterations=2, eval_every=2),
             "grid": {"algorithm": ["local", "ps"], "seed": [0, 1]}}
    (root / "suite.yaml").write_text(yaml.safe_dump(suite))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(backends.BACKENDS, "inprocess", SerialSuiteBackend)
        assert main(["run", str(root / "suite.yaml"), "--backend", "inprocess", "--out", str(root / "suites"),
                     "--quiet", "--no-plots"]) == 0
    return {"run": root / "runs" / "ps", "runs": root / "runs", "suite": root / "suites" / "s", "root": root}


@pytest.fixture(scope="module")
def pages(made: dict[str, Path]) -> dict[str, Path]:
    """``report.html`` of the run (written into a copy of it: the default place), the runs and the suite."""
    shutil.copytree(made["run"], made["root"] / "copy")
    assert main(["report", str(made["root"] / "copy")]) == 0
    out = {"run": made["root"] / "copy" / "report.html"}
    for shape in ("runs", "suite"):
        assert main(["report", str(made[shape]), "--out", str(made["root"] / f"page-{shape}")]) == 0
        assert sorted(p.name for p in (made["root"] / f"page-{shape}").iterdir()) == ["report.html"]
        out[shape] = made["root"] / f"page-{shape}" / "report.html"
    return out


def test_runs_record_their_command_line_and_machine(made: dict[str, Path]) -> None:
    info = json.loads((made["run"] / "run_info.json").read_text())
    assert info["command"].startswith("python -m testbed run ") and info["command"].endswith("--quiet")
    assert info["machine"]["cpu_count"] >= 1 and info["machine"]["python"]
    cell = json.loads((made["suite"] / "ps_seed=1" / "run_info.json").read_text())
    assert "suite.yaml --backend inprocess" in cell["command"], "a suite cell records the suite's command"


@pytest.mark.parametrize(("shape", "runs"), [("run", ["copy"]), ("runs", ["broken", "fedavg", "ps"]),
                                              ("suite", ["local_seed=0", "local_seed=1", "ps_seed=0", "ps_seed=1"])])
def test_report_is_one_self_contained_page(pages: dict[str, Path], shape: str, runs: list[str]) -> None:
    html = pages[shape].read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    images = IMG_SRC.findall(html)
    assert len(images) >= 5, "the plot command's figures and the topology map"
    for data in images:
        png = base64.b64decode(data, validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert min(Image.open(io.BytesIO(png)).size) > 50
    refs = ANY_REF.findall(html)
    assert all(ref.startswith(("data:image/png;base64,", "#")) for ref in refs), "nothing outside the page"
    assert "http://" not in html and "https://" not in html and "url(" not in html
    for heading in ('id="summary"', 'id="runs"', 'id="figures"', 'id="topologies"', 'id="details"'):
        assert heading in html
    assert html.count("<table>") >= 3 and "optimiser steps / iteration" in html
    for name in runs:
        assert f"<summary>{name}<span" in html, name
    assert "max_iterations: " in html and "name: tiny" in html, "each run's resolved config.yaml"
    made_by_cli = [name for name in runs if name != "broken"]
    assert html.count("Command: <code>python -m testbed run ") == len(made_by_cli)
    if "broken" in runs:  # a failed run keeps its row, its error escaped, and says what was not recorded
        assert '<td class="bad">failed</td>' in html and "RuntimeError: &lt;out of memory&gt;" in html
        assert "Command: not recorded" in html
    assert "quality_vs_time" in html and "topology_traffic" in html


def _chromium() -> str:
    """The browser, or a skip saying how to get it -- a failure under CI=true where .ci/run could have installed
    it (root with apt-get: scripts/install-browser.sh)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    could_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if os.environ.get("CI") == "true" and could_install:
        pytest.fail("CI=true but chromium is not installed (.ci/run runs scripts/install-browser.sh)", pytrace=False)
    pytest.skip("chromium not installed: bash scripts/install-browser.sh (as root: apt-get install -y chromium)")


CHECK = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.type)), true);
function drawn(img) {  // decode the figure by drawing it: a broken or blank one has one colour
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  if (!canvas.width || !canvas.height) return false;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 4; i < px.length; i += 4 * 97) {
    if (px[i] !== px[0] || px[i + 1] !== px[1] || px[i + 2] !== px[2]) return true;
  }
  return false;
}
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const undecoded = imgs.filter(i => !drawn(i)).map(i => i.alt || "?");
  document.querySelectorAll("details").forEach(d => { d.open = true; });  // render the folded tables too
  const tables = Array.from(document.querySelectorAll("table"));
  const blank = tables.filter(t => !(t.rows.length > 1 && t.getBoundingClientRect().height > 0
                                     && t.querySelector("td") && t.innerText.trim())).length;
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, undecoded: undecoded, errors: window.__errors,
                                    tables: tables.length, blank_tables: blank,
                                    width: document.documentElement.scrollWidth});
  document.body.appendChild(out);
});
</script>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--window-size=1400,3000", "--virtual-time-budget=30000"]
"""Headless, offline, no first-run or background traffic: what works in a container without a display."""


def test_page_renders_in_headless_chromium(pages: dict[str, Path], tmp_path: Path) -> None:
    """Every figure decodes, every table renders with rows, no script error; a screenshot is saved."""
    chromium = _chromium()
    page = tmp_path / "checked.html"
    page.write_text(pages["suite"].read_text().replace("<head>", "<head>" + CHECK, 1))
    flags = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom.stdout)
    assert found, f"the check never ran (chromium exit {dom.returncode}): {dom.stderr[-500:]}"
    check = json.loads(found.group(1).replace("&quot;", '"'))
    assert check["images"] >= 5 and check["broken"] == [] and check["undecoded"] == [], check
    assert check["errors"] == [] and check["tables"] >= 3 and check["blank_tables"] == 0, check
    assert check["width"] <= 1400, "nothing wider than the window but the tables' own scroll boxes"
    shot = tmp_path / "shot.png"
    subprocess.run([*flags[:1], *FLAGS, f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={shot}",
                    pages["suite"].as_uri()], capture_output=True, timeout=300)
    image = Image.open(shot)
    assert image.size == (1400, 3000)
    assert len(image.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50, "the page drew something"
    saved = os.environ.get("TESTBED_SCREENSHOT")
    if saved:  # keep it where CI (or a person) can look at it
        shutil.copy(shot, saved)


def test_readme_test_command_is_what_ci_runs() -> None:
    """The README's test command, split at ``&&``, is .ci/run's command lines, in order."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest -q" in line and "ruff check" in line)
    ci = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith(("#", "set ", "cd ", "rm ", "export "))]
    assert [step.strip() for step in command.split("&&")] == ci
