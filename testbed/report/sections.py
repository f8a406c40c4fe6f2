"""The report's sections, top to bottom: header, summary table, runs, figures, topologies, each run.

Why: one function per section keeps the page's order readable in one place (:func:`body`) and each
section small.  The summary table is :func:`analysis.table.display_table` -- the rows of
``summary.md`` -- rendered as HTML; the runs table and the per-run blocks read ``summary.json``,
``config.yaml`` and ``run_info.json`` as they are on disk.
"""

from __future__ import annotations

import json
import time
from typing import Any

from analysis.load import Results
from analysis.style import format_nbytes
from analysis.table import display_table, summary_table
from testbed import __version__
from testbed.report.collect import RunFacts
from testbed.report.figures import Pictures
from testbed.report.html import details, esc, image, pre, table

MACHINE_FIELDS = (("hostname", "host"), ("platform", "platform"), ("python", "Python"), ("torch", "torch"),
                  ("cpu_count", "CPUs"), ("cpu_model", "CPU"), ("cpu_capability", "kernel path"),
                  ("torch_threads", "torch threads"), ("cuda_devices", "GPUs visible"),
                  ("cuda_device", "GPU"), ("testbed", "testbed"), ("ray_node_id", "Ray node"), ("pid", "pid"))
SHOWN_AXES = frozenset({"algorithm", "algorithm.name", "topology", "topology.name", "dataset", "dataset.name", "seed"})
"""Grid axes the runs table already has a column for."""


def body(results: Results, runs: list[RunFacts], pictures: Pictures, command: str) -> str:
    """Every section of the page, in order."""
    parts = [_header(results, runs, command), _summary(results), _runs(runs), _figures(pictures),
             _topologies(pictures), _each_run(runs)]
    return "\n".join(parts)


def _header(results: Results, runs: list[RunFacts], command: str) -> str:
    complete = sum(r.status == "complete" for r in runs)
    kind = ("suite (index.csv)" if (results.root / "index.csv").is_file()
            else "run directory" if len(runs) == 1 and runs[0].run_dir == results.root else "directory of runs")
    links = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in (
        ("summary", "Summary"), ("runs", "Runs"), ("figures", "Figures"), ("topologies", "Topologies"),
        ("details", "Each run")))
    return (f"<h1>Results: {esc(results.root.name or results.root)}</h1>"
            f'<p class="meta">{esc(results.root.resolve())} &middot; {esc(kind)} &middot; '
            f"{complete} complete of {len(runs)} run(s) &middot; generated "
            f"{esc(time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))} by <code>{esc(command)}</code> "
            f"(testbed {esc(__version__)})</p><nav>{links}</nav>")


def _summary(results: Results) -> str:
    shown = display_table(results, summary_table(results))
    shown = shown.apply(lambda column: column.astype(str).str.replace(" ± ", " ±\u00a0"))  # wraps before ±, not after
    out = ['<h2 id="summary">Summary</h2>',
           '<p class="note">Mean &plusmn; std over seeds of each method\'s final evaluation and totals (std is 0 '
           "for a single run); the same rows as <code>summary.md</code> from <code>python -m testbed plot</code>. "
           "<em>runs</em>: completed runs averaged; failed ones are listed under Runs.</p>",
           table(list(shown.columns), shown.itertuples(index=False), wrap=shown.columns[2:])]  # fit the width
    return "".join(out)


def _runs(runs: list[RunFacts]) -> str:
    axes = sorted({axis for run in runs for axis in run.axes} - SHOWN_AXES)
    columns = ["run", "status", "algorithm", "topology", "dataset", "seed", *axes, "iterations", "virtual s",
               "wall s", "WAN", "LAN", "egress $", "headline", "stop", "replay", "error"]
    rows = [[run.name, run.status, *_summary_cells(run.summary or {}, run.axes, axes)] for run in runs]
    return ('<h2 id="runs">Runs</h2><p class="note">One row per run directory, from its '
            "<code>summary.json</code>; <em>replay</em>: re-costed from another run without training "
            "(<code>python -m testbed replay</code>), its quality copied -- exact, or approximate and why.</p>"
            + table(columns, rows, bad_column="status", wrap=("replay", "error")))


def _summary_cells(s: dict[str, Any], run_axes: dict[str, Any], axes: list[str]) -> list[Any]:
    quality = (s.get("final_quality") or {}).get(s.get("headline_metric"))
    headline = f"{s.get('headline_metric')} = {quality:.4g}" if isinstance(quality, int | float) else ""
    return [s.get("algorithm"), s.get("topology"), s.get("dataset"), s.get("seed"),
            *(run_axes.get(a, "") for a in axes), s.get("iterations"), _num(s.get("virtual_time_s"), ".1f"),
            _num(s.get("wall_time_s"), ".1f"), _bytes(s.get("wan_bytes")), _bytes(s.get("lan_bytes")),
            _num(s.get("egress_usd"), ".4f"), headline, s.get("stop_reason"), replay_note(s), s.get("error")]


def replay_note(s: dict[str, Any]) -> str:
    """How a replayed run relates to the run it re-costs ('' for a trained run): exact, or approximate and why."""
    if not s.get("replayed_from"):
        return ""
    source = str(s["replayed_from"]).rstrip("/").rsplit("/", 1)[-1]
    replay = s.get("replay") or {}
    if not s.get("approximate"):
        return f"exact replay of {source}"
    why = (replay.get("not_exact") or [replay.get("divergence") or "not exact"])[0]
    return f"approximate replay of {source}: {why}"


def _num(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else ""


def _bytes(value: Any) -> str:
    return format_nbytes(value) if isinstance(value, int | float) else ""


def _figures(pictures: Pictures) -> str:
    out = ['<h2 id="figures">Figures</h2>',
           '<p class="note">The figures <code>python -m testbed plot</code> draws for these results.</p>']
    out += [f"<h3>{esc(p.name)}</h3>" + image(p.png, p.name, p.caption) for p in pictures.figures]
    if pictures.skipped:
        out.append(table(["figure", "not drawn because"], sorted(pictures.skipped.items()),
                         wrap=("not drawn because",)))
    return "".join(out)


def _topologies(pictures: Pictures) -> str:
    out = ['<h2 id="topologies">Topologies</h2>']
    if not pictures.maps:
        out.append('<p class="note">No run\'s config.yaml names a topology that can be found from here.</p>')
    out += [f"<h3>{esc(p.name)}</h3>" + image(p.png, f"topology {p.name}", p.caption) for p in pictures.maps]
    return "".join(out)


def _each_run(runs: list[RunFacts]) -> str:
    out = ['<h2 id="details">Each run</h2><p class="note">The command that made each run, the machine it ran on, '
           "its resolved <code>config.yaml</code> and its <code>summary.json</code>.</p>"]
    for i, run in enumerate(runs):
        out.append(details(run.name, _run_block(run), note=f"{run.status} · {run.run_dir}", is_open=i == 0))
    return "".join(out)


def _run_block(run: RunFacts) -> str:
    command = (f"<p>Command: <code>{esc(run.command)}</code>"
               + (f' <span class="muted">in {esc(run.cwd)}</span>' if run.cwd else "") + "</p>"
               if run.command else '<p class="muted">Command: not recorded (made before runs kept '
               "run_info.json).</p>")
    machine = run.machine or {}
    facts = [(label, machine[key]) for key, label in MACHINE_FIELDS if machine.get(key) not in (None, "")]
    machine_html = table(["machine", ""], facts) if facts else '<p class="muted">Machine: not recorded.</p>'
    config = pre(run.config_text) if run.config_text else '<p class="muted">No config.yaml.</p>'
    summary = run.summary or {}
    shown = {k: v for k, v in summary.items() if k != "traceback"}
    summary_html = pre(json.dumps(shown, indent=2)) if summary else '<p class="muted">No summary.json.</p>'
    return (command + machine_html + '<div class="grid2"><div><h3>config.yaml (resolved)</h3>' + config
            + '</div><div><h3>summary.json</h3>' + summary_html + "</div></div>")
