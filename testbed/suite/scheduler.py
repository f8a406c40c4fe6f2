"""Run a suite's cells on a backend, resumably, with one progress bar for the suite.

The scheduler keeps up to ``backend.capacity`` cells in flight, rebuilds
``index.csv`` after every finished cell, and on Ctrl-C / SIGTERM cancels what is
running and leaves the index showing those cells as pending -- exactly the state
``--resume`` picks up: complete cells are skipped, the rest are wiped and re-run.
While it runs it holds ``results/<suite>/.lock`` (:mod:`testbed.suite.lock`), so a
second suite on the same directory refuses instead of corrupting it.  A cell that
failed because the machinery died (``infrastructure: true`` in its summary: a Ray
actor or node, a killed worker process) is re-submitted up to ``retries`` times;
a cell whose experiment itself raised is never retried -- it would fail again.
A ``replay: true`` suite (testbed.suite.replay_plan) trains one cell per training configuration and
re-costs the others from it, in this process, as soon as it is complete (``python -m testbed replay``:
seconds, not a training run); a replay that is refused trains instead.  Resume, the lock and the index
treat replayed cells as any other; ``index.csv`` names each one's source (``replayed_from``).
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write_text
from testbed.suite.backends import Backend, suite_backend
from testbed.suite.cell import replay_cell
from testbed.suite.index import cell_status, wipe, write_index
from testbed.suite.lock import SuiteLock
from testbed.suite.options import BackendOptions
from testbed.suite.replay_plan import replay_sources
from testbed.suite.spec import Cell, Suite


@dataclass
class SuiteOutcome:
    """Counts after a suite ran (or was interrupted)."""

    root: Path
    complete: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: bool = False


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_suite(suite: Suite, out_dir: str | Path, *, backend: str = "ray", options: BackendOptions | None = None,
              resume: bool = False, overwrite: bool = False, quiet: bool = False, retries: int = 0) -> SuiteOutcome:
    """Run every cell of ``suite`` into ``out_dir/<suite.name>/``; see the module docstring."""
    root = Path(out_dir) / suite.name
    created = _first_missing(root)
    with SuiteLock(root, suite.source):  # first: a running suite's cells are its own, not "existing"
        existing = [c for c in suite.cells if (root / c.id).exists()]
        if existing and not (resume or overwrite):
            raise ConfigError(suite.source, "results", f"{root} already holds {len(existing)} cell(s)",
                              "pass --resume to skip complete cells, or --overwrite to start over")
        try:
            runner = suite_backend(backend)(options or BackendOptions())
        except BaseException:
            if created is not None:  # nothing was written: leave no trace of the attempt
                shutil.rmtree(created, ignore_errors=True)
            raise
        return _run_locked(suite, root, runner, resume=resume, quiet=quiet, retries=retries)


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (None if ``path`` exists)."""
    missing = None
    while not path.exists() and path.parent != path:
        missing, path = path, path.parent
    return missing


def _run_locked(suite: Suite, root: Path, runner: Backend, *, resume: bool, quiet: bool,
                retries: int) -> SuiteOutcome:
    outcome = SuiteOutcome(root=root)
    todo = []
    for cell in suite.cells:
        if resume and cell_status(root / cell.id) == "complete":
            outcome.skipped += 1
        else:
            wipe(root / cell.id)
            todo.append(cell)
    root.mkdir(parents=True, exist_ok=True)
    write_index(suite, root)
    if not todo:
        runner.shutdown(cancel=False)
        _say(f"{suite.name}: all {len(suite.cells)} cells already complete ({root})", quiet, None)
        return outcome
    by_id = {cell.id: cell for cell in suite.cells}
    attempts = dict.fromkeys(by_id, 0)
    sources = replay_sources(suite)
    waiting: dict[str, list[Cell]] = {}  # a training cell's id -> the cells to replay from it once complete
    for cell in todo:
        if cell.id in sources:
            waiting.setdefault(sources[cell.id], []).append(cell)
    bar = tqdm(total=len(suite.cells), initial=outcome.skipped, desc=suite.name, unit="cell",
               disable=quiet, dynamic_ncols=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    queue, running = [c for c in todo if c.id not in sources], 0

    def replay_from(source_id: str, complete: bool) -> None:
        """Replay the cells waiting for ``source_id`` (or, if it did not complete, train them)."""
        for cell in waiting.pop(source_id, []):
            summary = replay_cell(root / source_id, cell.experiment, root / cell.id) if complete else None
            if summary is None:
                if complete:
                    _say(f"{cell.id}: replay from {source_id} would not be exact -- training it", quiet, bar)
                queue.append(cell)
                continue
            _finish(root / cell.id, summary, outcome)
            write_index(suite, root)
            _say(_line(cell.id, summary), quiet, bar)
            bar.update(1)

    try:
        for source_id in [s for s in waiting if s not in {c.id for c in todo}]:  # resumed: its source is done
            replay_from(source_id, cell_status(root / source_id) == "complete")
        while queue or running:
            while queue and running < runner.capacity:
                cell = queue.pop(0)
                runner.submit(cell, root / cell.id)
                running += 1
            _postfix(bar, outcome, running)
            for cell_id, summary in runner.wait(timeout_s=1.0):
                running -= 1
                if summary.get("status") != "complete" and summary.get("infrastructure") \
                        and attempts[cell_id] < retries:
                    attempts[cell_id] += 1
                    _say(f"{cell_id}: {summary.get('error', '?')} -- retry {attempts[cell_id]} of {retries}",
                         quiet, bar)
                    queue.insert(0, by_id[cell_id])
                    continue
                _finish(root / cell_id, summary, outcome)
                write_index(suite, root)
                _say(_line(cell_id, summary), quiet, bar)
                bar.update(1)
                replay_from(cell_id, summary.get("status") == "complete")
                _postfix(bar, outcome, running)
        runner.shutdown(cancel=False)
    except KeyboardInterrupt:
        outcome.interrupted = True
        runner.shutdown(cancel=True)
        write_index(suite, root)
        _say(f"{suite.name}: interrupted; {running} running cell(s) left pending -- rerun with --resume",
             quiet, bar)
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    return outcome


def _finish(run_dir: Path, summary: dict[str, Any], outcome: SuiteOutcome) -> None:
    if summary.get("status") == "complete":
        outcome.complete += 1
        return
    outcome.failed += 1
    if cell_status(run_dir) != "failed":  # the worker died before it could record the failure
        wipe(run_dir)
        atomic_write_text(run_dir / "summary.json", json.dumps(
            {"run_id": run_dir.name, "status": "failed", "error": summary.get("error", "unknown error"),
             "infrastructure": bool(summary.get("infrastructure"))}))


def _postfix(bar: tqdm, outcome: SuiteOutcome, running: int) -> None:
    bar.set_postfix_str(f"done {outcome.complete + outcome.skipped} failed {outcome.failed} running {running}")


def _line(cell_id: str, s: dict[str, Any]) -> str:
    if s.get("status") != "complete":
        kept = " (partial metrics and traffic kept)" if s.get("partial") else ""
        return f"{cell_id}: FAILED -- {s.get('error', '?')}{kept}"
    value = (s.get("final_quality") or {}).get(s.get("headline_metric"))
    quality = f"{s['headline_metric']} = {value:.4g}" if isinstance(value, (int, float)) else ""
    replayed = f" (replayed from {Path(s['replayed_from']).name})" if s.get("replayed_from") else ""
    return (f"{cell_id}: {s['iterations']} it, {s['virtual_time_s']:.1f} s virtual, {s['wall_time_s']:.1f} s wall, "
            f"WAN {s['wan_bytes'] / 1e6:.2f} MB, ${s['egress_usd']:.4f}, {quality}{replayed}")


def _say(text: str, quiet: bool, bar: tqdm | None) -> None:
    if bar is not None and not quiet:
        bar.write(text)
    else:
        print(text, flush=True)
