"""The regime map's answer at other quality targets: the whole analysis again with the high-quality fraction
0.6 and 0.8 instead of 0.7, every point's verdict beside the page's.

Why: the target is a choice, and a reviewer's first move is to change it.  A map whose winners flip at a
slightly lower or higher bar answers nothing; one that holds says so with numbers.  Everything is re-derived at
the other target from the same runs -- the tuning choices (the criterion counts steps to the target), which
fresh seeds the map uses, reached-and-held, the replayed times and the paired tests -- so no training is
needed; only the target moves.  The analysis itself is study_regime_map's (passed in as ``analyse``), run with
regime_map_runs.TARGET set for the duration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from regime_map_runs import POINT_COLUMNS, TARGET, family_of  # scripts/, beside this file

TARGETS_HQF = (0.6, 0.8)
"""The other high-quality fractions the map is re-derived at (the page's is 0.7); >= 7 of 8 modes at each."""
KEY = ["map", *POINT_COLUMNS]
VERDICT = ["fastest", "winner", "margin", "p_value"]


@contextmanager
def target_hqf(hqf: float) -> Iterator[None]:
    """regime_map_runs.TARGET with the high-quality fraction ``hqf`` (the modes condition unchanged) while inside."""
    saved = TARGET["high_quality_fraction"]
    TARGET["high_quality_fraction"] = (hqf, saved[1])
    try:
        yield
    finally:
        TARGET["high_quality_fraction"] = saved


def target_sensitivity(analyse: Callable[[Path], Any], root: Path, base: Any,
                       targets: tuple[float, ...] = TARGETS_HQF) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per other target and point: the page's verdict and the one at that target (``changed``: the fastest or the
    verdict differs); and per target (the page's included) and replayed method, the map's seeds reaching it and
    whether the setting the map uses is the one tuning chose at that target."""
    rows, reach = [], [_reach(base, TARGET["high_quality_fraction"][0])]
    for hqf in targets:
        with target_hqf(hqf):
            alt = analyse(root)
        both = base.win[[*KEY, *VERDICT]].merge(alt.win[[*KEY, *VERDICT]], on=KEY, suffixes=("", "_at_target"))
        both.insert(0, "target_hqf", hqf)
        both["changed"] = ((both["fastest"] != both["fastest_at_target"])
                           | (both["winner"] != both["winner_at_target"]))
        rows.append(both)
        reach.append(_reach(alt, hqf))
    return pd.concat(rows, ignore_index=True), pd.concat(reach, ignore_index=True)


def _reach(analysis: Any, hqf: float) -> pd.DataFrame:
    """Seeds reaching the target per method on the map's fresh-seed runs, with the setting it uses there."""
    counts = analysis.runs.groupby("method")["reached"].agg(reached="sum", seeds="count").reset_index()
    settings = analysis.settings.set_index("family")
    families = [family_of(m) for m in counts["method"]]
    counts["map_lr"] = [settings["map_lr"].get(f, float("nan")) for f in families]
    counts["is_tuned"] = [bool(settings["is_tuned"].get(f, True)) for f in families]
    counts.insert(0, "target_hqf", hqf)
    return counts


def target_summary(moved: pd.DataFrame) -> pd.DataFrame:
    """Per other target and map: points, how many keep the page's fastest and verdict, how many change, and how
    many are separated (a winner) or ties at that target."""
    rows = []
    for (hqf, name), g in moved.groupby(["target_hqf", "map"], sort=False):
        rows.append({"target_hqf": hqf, "map": name, "points": len(g), "same": int((~g["changed"]).sum()),
                     "changed": int(g["changed"].sum()), "separated": int((g["winner_at_target"] != "tie").sum()),
                     "ties": int((g["winner_at_target"] == "tie").sum())})
    return pd.DataFrame(rows)


def target_section(moved: pd.DataFrame, reach: pd.DataFrame) -> str:
    """Markdown: per target and map how many points keep their answer, the points that do not, and the seeds
    reaching each target per method."""
    lines = ["| target (high-quality fraction, >= 7 modes) | map | points | same fastest and verdict | changed | "
             "separated there | ties there |", "|---|---|---|---|---|---|---|"]
    for _, r in target_summary(moved).iterrows():
        lines.append(f"| {r['target_hqf']:g} | {r['map']} | {r['points']} | {r['same']} | {r['changed']} | "
                     f"{r['separated']} | {r['ties']} |")
    changed = moved[moved["changed"]]
    if len(changed):
        lines += ["", "| target | map | step (ms) | RTT (ms) | bandwidth (Mbps) | at 0.7: fastest, verdict (p) | "
                  "at this target: fastest, verdict (p) |", "|---|---|---|---|---|---|---|"]
        for _, r in changed.iterrows():
            lines.append(f"| {r['target_hqf']:g} | {r['map']} | {r['step_ms']:g} | {r['rtt_ms']:g} | "
                         f"{r['bandwidth_Mbps']:g} | {r['fastest']}, {r['winner']} ({r['p_value']:.3g}) | "
                         f"{r['fastest_at_target']}, {r['winner_at_target']} ({r['p_value_at_target']:.3g}) |")
    methods = list(dict.fromkeys(reach["method"]))
    lines += ["", "| target: seeds reaching it (the map's fresh-seed runs) | " + " | ".join(methods) + " |",
              "|---" * (len(methods) + 1) + "|"]
    for hqf, g in reach.groupby("target_hqf", sort=True):
        cells = g.set_index("method")
        lines.append(f"| {hqf:g} | " + " | ".join(
            f"{int(cells.loc[m, 'reached'])}/{int(cells.loc[m, 'seeds'])}"
            + ("" if bool(cells.loc[m, "is_tuned"]) else f" (lr {cells.loc[m, 'map_lr']:g}, not the lr tuned there)")
            for m in methods) + " |")
    return "\n".join(lines) + "\n"
