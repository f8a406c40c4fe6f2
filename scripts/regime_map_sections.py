"""The regime map page's generated sections (scripts/study_regime_map.py, docs/studies/regime-map.md):
the maps, the winners and costs tables, the tuning table, the settings the map used, the checks and
Gaia's points, as markdown.

Why a file of its own: the page's numbers are written by the script (tests/test_study_pages.py checks
them against the csv files), and how a number is shown -- "never" for a median no half of the seeds
reached, a dagger where Gaia was one more contender -- is decided once, here.
"""

from __future__ import annotations

import math

import pandas as pd
from regime_map_runs import TRAINED  # scripts/, beside this file

BANDWIDTH_MBPS = {0.1: 10, 1.0: 100, 10.0: 1000, 100.0: 10000}
RTT_MS = {0.2: 10, 1.0: 50, 3.0: 150, 6.0: 300}
STEP_MS = {1.0: 1, 10.0: 10, 100.0: 100}
MAP_TITLES = {"all": "every method", "in-place": "data stays in its region (no centralized)"}


def fmt(v: float, spec: str = ".3g") -> str:
    """Three significant digits, "never" for a censored value; from 1,000 up whole numbers with commas
    (``.3g`` would write 1.12e+03, which a reader parses slower and the page checker not at all)."""
    if not math.isfinite(v):
        return "never"
    return f"{v:,.0f}" if abs(v) >= 1000 and spec == ".3g" else format(v, spec)


def tables(win: pd.DataFrame, cost: pd.DataFrame) -> str:
    """The winners table (every point, both maps) and the costs table, as markdown."""
    lines = ["| step (ms) | RTT (ms) | bandwidth (Mbps) | map | contenders | fastest | median s | runner-up | "
             "median s | margin [95 % interval] | p | paired seeds | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in win.sort_values(["map", "step_ms", "rtt_ms", "bandwidth_Mbps"]).iterrows():
        lo, hi = (1 / r["ratio_high"] if r["ratio_high"] > 0 else math.inf), (
            1 / r["ratio_low"] if r["ratio_low"] > 0 else math.inf)
        lines.append(f"| {r['step_ms']:g} | {r['rtt_ms']:g} | {r['bandwidth_Mbps']:g} | {r['map']} | "
                     f"{r['contenders']} | {r['fastest']} | "
                     f"{fmt(r['fastest_median_s'])} | {r['runner_up']} | {fmt(r['runner_up_median_s'])} | "
                     f"{fmt(r['margin'], '.2f')} [{fmt(lo, '.2f')}, {fmt(hi, '.2f')}] | {r['p_value']:.4f} | "
                     f"{r['paired_seeds']} | "
                     f"{r['winner'] if r['winner'] != 'tie' else 'tie (no difference measured)'} |")
    return "\n".join(lines) + "\n\n" + costs_section(cost)


def costs_section(cost: pd.DataFrame) -> str:
    lines = ["| method | seeds reaching | median iterations to target | median WAN MB to target [interval] | "
             "median egress USD |", "|---|---|---|---|---|"]
    for _, r in cost.iterrows():
        lines.append(f"| {r['method']} | {r['reached']}/{r['seeds']} | {fmt(r['iterations_median'], '.0f')} | "
                     f"{fmt(r['wan_MB_median'])} [{fmt(r['wan_MB_low'])}, {fmt(r['wan_MB_high'])}] | "
                     f"{fmt(r['egress_usd_median'], '.7f')} |")
    return "\n".join(lines) + "\n"


def map_section(win: pd.DataFrame) -> str:
    """Per map and compute level, the fastest method and its margin in a 4 x 4 grid (bandwidth x RTT);
    a dagger where a timing-dependent method (trained there) was one more contender."""
    out = []
    bws, rtts = sorted(BANDWIDTH_MBPS.values()), sorted(RTT_MS.values())
    for name, title in MAP_TITLES.items():
        for step in sorted(STEP_MS.values()):
            w = win[(win["map"] == name) & (win["step_ms"] == step)].set_index(["rtt_ms", "bandwidth_Mbps"])
            out += [f"**{title}, {step:g} ms per step**: fastest median, runner-up's median / its (x) "
                    "(*tie*: the paired test over seeds does not separate them; +: a timing-dependent method "
                    "(Gaia, ps-ssp2, ps-eventual) trained here too)", "",
                    "| RTT \\ bandwidth | " + " | ".join(f"{b:g} Mbps" for b in bws) + " |",
                    "|---" * (len(bws) + 1) + "|"]
            for rtt in rtts:
                cells = []
                for bw in bws:
                    if (rtt, bw) not in w.index:
                        cells.append("-")
                        continue
                    r = w.loc[(rtt, bw)]
                    margin = f"{r['margin']:.2f}x" if math.isfinite(r["margin"]) else "the only one to reach it"
                    cells.append(f"{r['fastest']}, {margin}" + (" *tie*" if r["winner"] == "tie" else "")
                                 + (" +" if set(TRAINED) & set(str(r["contenders"]).split("/")) else ""))
                out.append(f"| {rtt:g} ms | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def tuning_section(tune: pd.DataFrame) -> str:
    lines = ["| cell | tuning seed | lr | reached | iteration (FedAvg: round) | steps per worker | "
             "score (last four evaluations) | final high-quality fraction | final modes | chosen |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in tune.iterrows():
        lines.append(f"| {r['cell']} | {r['seed']} | {r['lr']:g} | {'yes' if r['reached'] else 'no'} | "
                     f"{fmt(r['iteration'], '.0f')} | {fmt(r['steps_to_target'], '.0f')} | {r['score_last4']:.3f} | "
                     f"{r['final_hqf']:.3f} | {r['final_modes']:.0f} | {'**chosen**' if r['chosen'] else ''} |")
    return "\n".join(lines) + "\n"


def settings_section(settings: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Per method: the tuned setting, the one the map's fresh seeds ran, their seeds and how many reached."""
    lines = ["| method | tuned setting (tuning seeds) | setting on the map | fresh seeds | reached and held |",
             "|---|---|---|---|---|"]
    for _, r in settings.iterrows():
        got = runs[runs["method"] == r["family"]]
        note = "" if r["is_tuned"] or not r["tuned_method"] else " (**not the tuned one**: it was not re-run)"
        tuned = f"{r['tuned_method']}, lr {r['tuned_lr']:g}" if r["tuned_method"] else "not tuned"
        lines.append(f"| {r['family']} | {tuned} | {r['map_method']}, "
                     f"lr {r['map_lr']:g}{note} | {r['seeds']} ({', '.join(str(s) for s in sorted(got['seed']))}) | "
                     f"{int(got['reached'].sum())}/{len(got)} |")
    return "\n".join(lines) + "\n"


def checks_section(chk: pd.DataFrame) -> str:
    lines = ["| method | seeds | largest relative spread of T(i) across seeds (base) | "
             "largest relative error of the extension (base, every evaluation) |", "|---|---|---|---|"]
    for _, r in chk.iterrows():
        lines.append(f"| {r['method']} | {r['seeds']} | {r['seed_spread_rel']:.2g} | {r['extension_error_rel']:.2g} |")
    return "\n".join(lines) + "\n"


def trained_section(points: pd.DataFrame) -> str:
    """Per timing-dependent method and point where it was trained: its seeds reaching, median time and WAN
    MB to target (censored: "never" unless more than half reached), against the fastest replayed
    in-place method's median there."""
    if not len(points):
        return "No timing-dependent method was trained here (`regime-map-gaia.yaml`, `-relaxed.yaml` not run).\n"
    lines = ["| method | step (ms) | RTT (ms) | bandwidth (Mbps) | seeds reaching | median s to target | "
             "median WAN MB to target | ms per iteration or clock (ps BSP) | "
             "final high-quality fraction / modes (medians) | fastest replayed in-place method | its median s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in points.sort_values(["method", "step_ms", "rtt_ms", "bandwidth_Mbps"]).iterrows():
        lines.append(f"| {r['method']} | {r['step_ms']:g} | {r['rtt_ms']:g} | {r['bandwidth_Mbps']:g} | "
                     f"{r['reached']}/{r['seeds']} | {fmt(r['median_s'])} | {fmt(r['wan_MB_median'])} | "
                     f"{r['ms_per_clock']:.3g} ({r['ps_ms_per_iteration']:.3g}) | "
                     f"{r['final_hqf_median']:.3g} / {r['final_modes_median']:g} | {r['best_other']} | "
                     f"{fmt(r['best_other_median_s'])} |")
    return "\n".join(lines) + "\n"


def _side(r: pd.Series, sfx: str) -> str:
    """One map's answer at a point: fastest, runner-up, verdict (margin, p)."""
    return (f"{r['fastest' + sfx]}, {r['runner_up' + sfx]}, {r['winner' + sfx]} "
            f"({r['margin' + sfx]:.3g}x, p = {r['p_value' + sfx]:.2g})")


def sensitivity_section(sens: pd.DataFrame) -> str:
    """The points whose answer changes if one method ran its other fully-seeded setting (regime-map-sensitivity.csv)."""
    if not len(sens):
        return "No point's fastest method or verdict changes with any other fully-seeded setting.\n"
    lines = ["| method (map's lr -> other lr) | map | bandwidth (Mbps) | RTT (ms) | step (ms) | "
             "on the map: fastest, runner-up, verdict (margin x, p) | with the other lr |",
             "|---|---|---|---|---|---|---|"]
    for _, r in sens.sort_values(["family", "map", "step_ms", "rtt_ms", "bandwidth_Mbps"]).iterrows():
        lines.append(f"| {r['family']} ({r['map_lr']:g} -> {r['alt_lr']:g}) | {r['map']} | {r['bandwidth_Mbps']:g} | "
                     f"{r['rtt_ms']:g} | {r['step_ms']:g} | {_side(r, '')} | {_side(r, '_alt')} |")
    return "\n".join(lines) + "\n"


def relaxed_check_section(chk: pd.DataFrame) -> str:
    lines = ["| step (ms) | RTT (ms) | bandwidth (Mbps) | SSP on the map (its tuned lr): seeds reaching, median s | "
             "SSP at the untuned lr, same seeds | fastest in-place method on the map, its median s |",
             "|---|---|---|---|---|---|"]
    for _, r in chk.iterrows():
        lines.append(f"| {r['step_ms']:g} | {r['rtt_ms']:g} | {r['bandwidth_Mbps']:g} | "
                     f"{r['map_reached']}/{r['map_seeds']} (lr {r['map_lr']:g}), {fmt(r['map_median_s'])} | "
                     f"{r['other_reached']}/{r['other_seeds']} (lr {r['other_lr']:g}), {fmt(r['other_median_s'])} | "
                     f"{r['fastest']}, {fmt(r['fastest_median_s'])} |")
    return "\n".join(lines) + "\n"
