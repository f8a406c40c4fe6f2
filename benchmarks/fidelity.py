"""Fidelity: the network model's completion times against real TCP over real links on this machine.

Builds a chain of network namespaces joined by veth (benchmarks/fidelity_rig/rig.py):
tbf limits the rate, a user-space TUN forwarder (or netem, where the kernel has it)
adds the one-way delay per packet, and real TCP (cubic) moves 10 kB - 100 MB between
namespaces: alone, 2/4/8 flows sharing the bottleneck, and two flows sharing only
part of their paths.  Each measured completion time is compared with
``simulate_flows`` on a one-link (or two-link chain) topology, fluid and ``tcp``
modes, with the link bandwidth raw and calibrated by the goodput factor.  Goal
(issue): tcp mode median |error| <= 5 %, p95 <= 15 %.

    sudo python benchmarks/fidelity.py [--full] [--repeats N]   # ~12 min; --full: the whole grid
    sudo python benchmarks/fidelity.py --cleanup                # remove leftover fid-* namespaces

Needs root (network namespaces); otherwise it prints one line and exits 0.
Writes benchmarks/results/fidelity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import save_result  # noqa: E402
from fidelity_rig.grid import (  # noqa: E402
    RATES_BPS,
    Scenario,
    build_grid,
    goodput_factor,
    predict,
    relative_errors,
    summarize,
)
from fidelity_rig.rig import HOST_B, HOST_C, Rig, cleanup  # noqa: E402

CEILING_HEADROOM = 1.25  # a rate runs only if the forwarder alone carries 1.25x it
SANITY = Scenario("single", 0.040, 10e6, 10e6)  # ~8.4 s on a faithful rig
MODES = {"fluid raw": (False, False), "fluid calibrated": (False, True),
         "tcp raw": (True, False), "tcp calibrated": (True, True)}


def can_run() -> str | None:
    """Why this cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, tc)"
    if not shutil.which("ip") or not shutil.which("tc"):
        return "needs iproute2 (ip, tc)"
    return None


def measure(rig: Rig, s: Scenario) -> list[float]:
    rig.configure(s.rtt_s / 2, s.rate_bps, s.rate2_bps)
    hosts = {"b": HOST_B, "c": HOST_C}
    return rig.transfer([(hosts[d], int(s.size_nbytes)) for d in s.destinations()],
                        timeout_s=3 * s.fluid_duration_s() + 60)


def forwarder_ceiling_bps(rig: Rig, nbytes: int = 50_000_000, repeats: int = 3) -> float:
    """Goodput of one flow through the delay forwarder alone (0.5 ms delay, no tbf): its ceiling."""
    rig.configure(0.0005, None)
    return statistics.median(nbytes * 8 / rig.transfer([(HOST_B, nbytes)])[0] for _ in range(repeats))


def skipped_cells(full: bool, ran: list[Scenario], max_rate_bps: float) -> list[dict]:
    """Cells of the whole grid not run, each with its reason."""
    ran_set = set(ran)
    out = []
    for s in build_grid(True):
        if s in ran_set:
            continue
        why = (f"rate above forwarder ceiling / {CEILING_HEADROOM}" if s.rate_bps > max_rate_bps
               else "cut from the default grid (run --full)")
        out.append({"cell": s.label(), "why": why})
    return out


def _print_table(title: str, summary: dict[str, dict[str, dict]]) -> None:
    print(f"\n{title}")
    print(f"{'family':16s}{'n':>5s}" + "".join(f"{m:>22s}" for m in MODES))
    print(f"{'':21s}" + "".join(f"{'median / p95 (bias)':>22s}" for _ in MODES))
    for group in sorted(summary, key=lambda g: (g == "all", g)):
        row = summary[group]
        cells = "".join(f"{row[m]['median_abs']:8.1%} /{row[m]['p95_abs']:6.1%} ({row[m]['median_signed']:+5.0%})"
                        for m in MODES)
        print(f"{group:16s}{row['tcp raw']['n']:5d}{cells}")


def report(cells: list[dict], factor: float) -> dict[str, dict[str, dict[str, dict]]]:
    """Error statistics per reporting group and model mode, printed and returned.

    ``per_flow``: every flow of every repeat is one sample.  ``makespan``: one sample per
    run, its last flow's completion against the model's last (what a synchronous step waits for).
    """
    samples: dict[str, dict[str, dict[str, list[float]]]] = {"per_flow": {}, "makespan": {}}
    for cell in cells:
        for mode in MODES:
            pred = cell["predicted_s"][mode]
            for run in cell["measured_s"]:
                for key in (cell["group"], "all"):
                    samples["per_flow"].setdefault(key, {}).setdefault(mode, []).extend(relative_errors(pred, run))
                    samples["makespan"].setdefault(key, {}).setdefault(mode, []).extend(
                        relative_errors([max(pred)], [max(run)]))
    out = {kind: {g: {m: summarize(e) for m, e in modes.items()} for g, modes in by_group.items()}
           for kind, by_group in samples.items()}
    head = "relative error of completion time, |predicted - measured| / measured"
    _print_table(f"{head}, every flow (goodput factor {factor:.4f})", out["per_flow"])
    _print_table(f"{head}, last flow of each run", out["makespan"])
    return out


def report_from_json(path: Path, max_rate_bps: float) -> None:
    """Re-print the tables of a saved run without measuring again (cells up to ``max_rate_bps``).

    Over every cell, the summary is stored back into the file; over a subset, under its own key.
    """
    saved = json.loads(path.read_text())
    cells = [c for c in saved["cells"] if c["rate_bps"] <= max_rate_bps]
    key = "summary" if len(cells) == len(saved["cells"]) else f"summary_up_to_{max_rate_bps / 1e6:g}Mbps"
    print(f"{len(cells)} of {len(saved['cells'])} cells (rate <= {max_rate_bps / 1e6:g} Mbit/s)")
    saved[key] = report(cells, saved["rig"]["goodput_factor"])
    path.write_text(json.dumps(saved, indent=2, default=float))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the whole grid (about an hour)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per cell (default 2)")
    ap.add_argument("--cleanup", action="store_true", help="remove fid-* namespaces and exit")
    ap.add_argument("--congestion", default="cubic")
    ap.add_argument("--from-json", type=Path, help="re-print the tables of a saved run (no root needed)")
    ap.add_argument("--max-rate-mbps", type=float, default=float("inf"),
                    help="leave out faster links (run) / cells (--from-json)")
    ap.add_argument("--limit", type=int, default=0, help="run only the first N cells (smoke test)")
    args = ap.parse_args()
    if args.from_json:
        report_from_json(args.from_json, args.max_rate_mbps * 1e6)
        return
    reason = can_run()
    if reason:
        print(f"fidelity: skipped: {reason}")
        return
    if args.cleanup:
        print(f"fidelity: removed {cleanup() or 'nothing'}")
        return
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    wall0 = time.monotonic()
    factor = goodput_factor()
    with Rig(congestion=args.congestion) as rig:
        delay = "netem" if rig.netem else "user-space TUN forwarder (GSO)"
        print(f"rig: namespaces + veth, tbf rate, delay by {delay}, TCP {args.congestion}")
        ceiling = forwarder_ceiling_bps(rig)
        max_rate = min(ceiling / CEILING_HEADROOM, args.max_rate_mbps * 1e6)
        print(f"forwarder ceiling (no tbf, 0.5 ms delay): {ceiling / 1e6:.0f} Mbit/s -> rates up to "
              f"{max_rate / 1e6:.0f} Mbit/s: {[f'{r / 1e6:g}M' for r in RATES_BPS if r <= max_rate]}")
        sanity = measure(rig, SANITY)[0]
        print(f"sanity: 10 MB at 10 Mbit/s, RTT 40 ms: {sanity:.2f} s (goodput {10e6 * 8 / sanity / 1e6:.2f} Mbit/s;"
              f" tcp-calibrated model {predict(SANITY, True, factor)[0]:.2f} s)")
        if not 7.5 <= sanity <= 10.0:
            raise SystemExit(f"fidelity: rig sanity check failed ({sanity:.2f} s, expected ~8.4 s)")
        grid = sorted(build_grid(args.full, max_rate), key=lambda s: (s.rtt_s, s.rate_bps, s.family, s.n_flows))
        grid = grid[: args.limit] if args.limit else grid
        cells: list[dict] = []
        rig_facts = {"delay": delay, "congestion": args.congestion, "forwarder_ceiling_bps": ceiling,
                     "max_rate_bps": max_rate, "goodput_factor": factor, "sanity_10MB_10Mbps_40ms_s": sanity}
        skipped = skipped_cells(args.full, grid, max_rate)
        command = " ".join(["python", "benchmarks/fidelity.py", *sys.argv[1:]])
        for i, s in enumerate(grid):
            t0 = time.monotonic()
            runs = [measure(rig, s) for _ in range(args.repeats)]
            predicted = {m: predict(s, tcp, factor if cal else 1.0) for m, (tcp, cal) in MODES.items()}
            cells.append({"family": s.family, "group": s.group, "rtt_s": s.rtt_s, "rate_bps": s.rate_bps,
                          "size_nbytes": s.size_nbytes, "n_flows": s.n_flows, "measured_s": runs,
                          "predicted_s": predicted})
            worst = max(abs(e) for run in runs for e in relative_errors(predicted["tcp calibrated"], run))
            print(f"[{i + 1}/{len(grid)}] {s.label():55s} measured {[round(min(r), 3) for r in runs]} "
                  f"tcp-cal {predicted['tcp calibrated'][0]:.3f}  worst err {worst:.1%}  "
                  f"({time.monotonic() - t0:.0f} s)", flush=True)
            save_result("fidelity", {"command": command, "complete": False, "wall_s": time.monotonic() - wall0,
                                     "rig": rig_facts, "skipped": skipped, "cells": cells})  # survives a kill
    summary = report(cells, factor)
    wall_s = time.monotonic() - wall0
    print(f"\n{len(grid)} cells x {args.repeats} repeats in {wall_s / 60:.1f} min; {len(skipped)} cells skipped")
    path = save_result("fidelity", {"command": command, "complete": True, "wall_s": wall_s, "rig": rig_facts,
                                    "summary": summary, "skipped": skipped, "cells": cells})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
