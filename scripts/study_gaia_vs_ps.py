"""Gaia vs a central parameter server (docs/studies/gaia-vs-ps.md): pilot, tuning choice, censored results,
paired tests, figure and the page's generated tables.

Usage: python scripts/study_gaia_vs_ps.py RESULTS_ROOT OUT_DIR

Why a script of its own: the study's target has two conditions (high-quality fraction >= 0.7 AND >= 7 of
8 modes, reached and held), its tuning criterion was fixed before the runs and must be applied the same
way to every setting, and its comparisons pair Gaia and the PS on the same fresh seeds per topology --
``scripts/study_target.py`` (one metric, means over reaching seeds) and ``scripts/study_paired.py`` (one
metric, one reference) fit neither.  Reads the suites under RESULTS_ROOT: ``gaia-vs-ps-pilot``,
``gaia-vs-ps-tune`` (+ ``-tune2``), ``gaia-vs-ps`` (wan-3dc-lite, 10 seeds) and ``gaia-vs-ps-geo``
(geo-11), and if run ``gaia-vs-ps-long`` (Gaia with 6,000 clocks).  Writes under OUT_DIR:
``gaia-vs-ps-tuning.csv`` (every pilot and tuning run, each setting's criterion values and the choice),
``gaia-vs-ps.csv`` (every evaluation run), ``gaia-vs-ps-summary.csv`` (every censored summary and paired
test the page quotes), ``gaia-vs-ps-long.csv`` (the 6,000-clock runs against the PS), ``gaia-vs-ps-table.md``,
``gaia-vs-ps.png``, and the page's generated tables between their ``begin numbers`` marks.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.censored import paired_comparison
from analysis.page_numbers import replace_generated
from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.study_stats import (
    RING8_COVERAGE,
    censored_rows,
    complete_runs,
    median_interval,
    never,
    paired_rows,
    ratio_interval,
    sign_flip_p,
    two_round_choice,
)
from analysis.style import method_colors, new_figure, save

TARGET = RING8_COVERAGE
TUNE_SUITES = ("gaia-vs-ps-pilot", "gaia-vs-ps-tune", "gaia-vs-ps-tune2")
EVAL_SUITES = ("gaia-vs-ps", "gaia-vs-ps-geo")
LONG_SUITE = "gaia-vs-ps-long"
"""Gaia given the PS's virtual-time budget (6,000 clocks) on the same seeds, if run."""
LAN = {"wan-3dc-lite": "lan-3", "geo-11-1w": "lan-11"}
"""Each WAN topology and the LAN with the same workers in one datacenter (the paper's LAN baseline)."""
TIMES = (("iteration", "iterations"), ("virtual_time_s", "virtual_s"), ("wan_MB", "wan_MB"))


def read_suite(root: Path, stage: str) -> pd.DataFrame:
    """One row per complete run of suite ``root``: setting, seed, reach of the target, final quality."""
    rows = []
    for row, config, _ in complete_runs(root, TARGET):
        alg = config["algorithm"]
        topology = config["topology"]["name"] if isinstance(config["topology"], dict) else str(config["topology"])
        dcs = config["topology"]["datacenters"] if isinstance(config["topology"], dict) else {}
        if row["cell"].startswith("lan"):  # a LAN reference: the WAN's datacenters joined by LAN-speed links
            topology = LAN.get(topology, topology)
        rows.append({
            "stage": stage, "run_dir": row["run_dir"], "cell": row["cell"],
            "topology": topology, "workers": sum(int(dc.get("workers", 1)) for dc in dcs.values()),
            "method": alg["name"],
            "threshold": float(alg.get("threshold", 0.0)) if alg["name"] == "gaia" else 0.0,  # ps: none
            **{k: v for k, v in row.items() if k not in ("run_dir", "cell")}})
    return pd.DataFrame(rows)


def read_suites(root: Path, names: tuple[str, ...]) -> pd.DataFrame:
    found = [read_suite(root / n, n.removeprefix("gaia-vs-ps").strip("-") or "eval")
             for n in names if (root / n / "index.csv").is_file()]
    if not found:
        raise SystemExit(f"{root}: none of the suites {', '.join(names)} has an index.csv; run them first")
    return pd.concat(found, ignore_index=True)


KEY = ["method", "threshold", "lr"]
"""What one tuned setting is (the batch, the iterations and the rest are the study's)."""


def tuning(df: pd.DataFrame) -> pd.DataFrame:
    """Each pilot and tuning run with its setting's criterion values; ``chosen`` marks each method's setting.
    Round 1 (``tune``) picks each method's lr over the tuning seeds; round 2 (``tune2``: Gaia's threshold at
    that lr) is compared with round 1's choice on round 2's seeds only, by the same criterion."""
    both, _ = two_round_choice(df[df["stage"] == "tune"], df[df["stage"] == "tune2"], KEY)
    out = pd.concat([df[df["stage"] == "pilot"], both], ignore_index=True)
    out["chosen"] = out["chosen"].eq(True)  # the pilot's runs are no tuning round's: never chosen
    return out.sort_values(["stage", "method", "threshold", "lr", "seed"], kind="stable").reset_index(drop=True)


def choice(t: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per method the chosen (lr, threshold)."""
    c = t[t["chosen"]].drop_duplicates("method")
    return {r.method: (r.lr, r.threshold) for r in c.itertuples()}


def tuning_markdown(t: pd.DataFrame) -> str:
    out = ("| stage | topology | method | threshold | batch | lr | seed | reached and held | iteration (clock) "
           "| score (last four) | final high-quality fraction | final modes | setting: seeds reaching | "
           "setting: median iteration | chosen |\n|" + "---|" * 15 + "\n")
    for r in t.itertuples():
        thr = f"{r.threshold:g}" if r.method == "gaia" else ""
        setting = ("", "") if r.stage == "pilot" else (
            f"{r.setting_reached:.0f} of {r.setting_seeds:.0f}", never(r.setting_median_iteration, ".0f"))
        out += (f"| {r.stage} | {r.topology} | {r.method} | {thr} | {r.batch} | {r.lr:g} | {r.seed} | "
                f"{'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | {r.score_last4:.3f} | "
                f"{r.final_hqf:.3f} | {r.final_modes:.0f} | {setting[0]} | {setting[1]} | "
                f"{'**chosen**' if r.chosen else ''} |\n")
    return out


def summary(ev: pd.DataFrame) -> pd.DataFrame:
    """Long form (series, quantity, value): censored summaries per series, paired tests per topology."""
    rows: list[tuple[str, str, float | str]] = [("all", "interval_percent", 95)]  # censored_summary's level
    for series, g in ev.groupby("series", sort=True):
        rows += [(series, "seeds", len(g)), (series, "reached", int(g["reached"].sum())),
                 (series, "workers", int(g["workers"].iloc[0])),
                 (series, "final_hqf_median", g["final_hqf"].median()),
                 (series, "final_hqf_mean", g["final_hqf"].mean()),
                 (series, "final_modes_median", g["final_modes"].median()),
                 (series, "run_virtual_s", g["run_virtual_s"].mean()),
                 (series, "run_wan_MB_mean", g["run_wan_MB"].mean()),
                 (series, "ms_per_iteration", 1e3 * (g["run_virtual_s"] / g["run_iterations"]).mean())]
        rows += censored_rows(series, g, TIMES)
    for wan, lan in LAN.items():
        pairs = [(f"{wan} · gaia", f"{wan} · ps"), (f"{wan} · gaia", f"{lan} · ps"), (f"{wan} · ps", f"{lan} · ps")]
        for a_name, b_name in pairs:
            a, b = (ev[ev["series"] == n].set_index("seed") for n in (a_name, b_name))
            seeds = sorted(set(a.index) & set(b.index))
            if not seeds:
                continue
            a, b = a.loc[seeds], b.loc[seeds]
            name = f"{a_name} vs {b_name}"
            rows += [(name, "paired_seeds", len(seeds)),
                     (name, "seeds_a_sooner", int(_sooner(a, b))), (name, "seeds_b_sooner", int(_sooner(b, a)))]
            columns = TIMES if "lan" not in b_name else TIMES[1:2]  # a LAN moves no WAN bytes; iterations are equal
            rows += paired_rows(name, a, b, columns, (a_name, b_name))
            if "lan" in b_name and a_name.endswith("ps"):  # the BSP ps trains the same generator on any network
                rows.append((name, "seeds_same_final", int((a["final_hqf"] == b["final_hqf"]).sum())))
            q = paired_comparison(a["final_hqf"], [True] * len(seeds), b["final_hqf"], [True] * len(seeds))
            rows += [(name, "final_hqf_ratio", q.ratio), (name, "final_hqf_p", q.p_value)]
            if "lan" not in b_name:  # equal virtual time: the PS at the moment Gaia's run ends, per seed
                d = (a["hqf_at_gaia_end"] - b["hqf_at_gaia_end"]).to_numpy()
                rows += [(name, "at_gaia_end_s_median", a["run_virtual_s"].median()),
                         (name, "at_gaia_end_hqf_a_median", a["hqf_at_gaia_end"].median()),
                         (name, "at_gaia_end_hqf_b_median", b["hqf_at_gaia_end"].median()),
                         (name, "at_gaia_end_modes_b_median", b["modes_at_gaia_end"].median()),
                         (name, "at_gaia_end_seeds_a_higher", int((d > 0).sum())),
                         (name, "at_gaia_end_p", sign_flip_p(d))]
    return pd.DataFrame(rows, columns=["series", "quantity", "value"])


def long_budget(root: Path, ev: pd.DataFrame) -> pd.DataFrame:
    """Gaia with 6,000 clocks (``gaia-vs-ps-long``) against the same seeds' PS on wan-3dc-lite, long form
    like :func:`summary`: its censored times to target and the paired tests (empty if not run)."""
    if not (root / LONG_SUITE / "index.csv").is_file():
        return pd.DataFrame(columns=["series", "quantity", "value"])
    a = read_suite(root / LONG_SUITE, "long")
    if a.empty:
        return pd.DataFrame(columns=["series", "quantity", "value"])
    a, b = a.set_index("seed"), ev[ev["series"] == "wan-3dc-lite · ps"].set_index("seed")
    seeds = sorted(set(a.index) & set(b.index))
    a, b = a.loc[seeds], b.loc[seeds]
    series, name = "wan-3dc-lite · gaia, 6,000 clocks", "wan-3dc-lite · gaia, 6,000 clocks vs wan-3dc-lite · ps"
    rows: list[tuple[str, str, float | str]] = [
        (series, "seeds", len(seeds)), (series, "reached", int(a["reached"].sum())),
        (series, "clocks", int(a["run_iterations"].max())),
        (series, "final_hqf_median", a["final_hqf"].median()),
        (series, "final_modes_median", a["final_modes"].median()), (series, "run_virtual_s", a["run_virtual_s"].mean()),
        (name, "paired_seeds", len(seeds)), (name, "seeds_a_sooner", _sooner(a, b)),
        (name, "seeds_b_sooner", _sooner(b, a))]
    rows += censored_rows(series, a, TIMES) + paired_rows(name, a, b, TIMES, ("gaia", "ps"))
    return pd.DataFrame(rows, columns=["series", "quantity", "value"])


def long_markdown(st: pd.DataFrame) -> str:
    """The page's table for :func:`long_budget`."""
    if st.empty:
        return "`gaia-vs-ps-long.yaml` not run.\n"
    v = {(s, q): x for s, q, x in st.itertuples(index=False)}
    s, n = st["series"].iloc[0], st["series"].iloc[-1]
    out = ("| Gaia, 6,000 clocks | seeds reaching and holding | median virtual s [95 %] | median WAN MB [95 %] | "
           "final fraction / modes (median) | vs the PS, same seeds: Gaia sooner / PS sooner | virtual s: ratio "
           "[95 %], p | WAN MB: ratio [95 %], p |\n|" + "---|" * 8 + "\n")
    def cell(q: str) -> str:
        return median_interval(v, s, q)
    def pair(q: str) -> str:
        return f"{ratio_interval(v, n, q)} ({v[n, q + '_verdict']})"
    return out + (f"| wan-3dc-lite | {v[s, 'reached']:.0f} of {v[s, 'seeds']:.0f} | {cell('virtual_s')} | "
                  f"{cell('wan_MB')} | {v[s, 'final_hqf_median']:.3f} / {v[s, 'final_modes_median']:.0f} | "
                  f"{v[n, 'seeds_a_sooner']:.0f} / {v[n, 'seeds_b_sooner']:.0f} | {pair('virtual_s')} | "
                  f"{pair('wan_MB')} |\n")


def at_gaia_end(root: Path, ev: pd.DataFrame) -> pd.DataFrame:
    """``hqf_at_gaia_end`` / ``modes_at_gaia_end``: each run's quality at the last evaluation no later in
    virtual time than the same seed's Gaia run on the same topology ends (Gaia: its final)."""
    ends = ev[ev["method"] == "gaia"].set_index(["topology", "seed"])["run_virtual_s"]
    hqf, modes = [], []
    for r in ev.itertuples():
        end = ends.get((r.topology, r.seed), math.nan)
        m = pd.read_csv(root / r.suite / r.run_dir / "metrics.csv").sort_values("iteration")
        m = m[m["virtual_time_s"] <= end + 1e-9]
        hqf.append(float(m["high_quality_fraction"].iloc[-1]) if len(m) else math.nan)
        modes.append(float(m["modes_covered"].iloc[-1]) if len(m) else math.nan)
    return ev.assign(hqf_at_gaia_end=hqf, modes_at_gaia_end=modes)


def _sooner(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Seeds at which ``a`` holds the target at an earlier virtual time than ``b`` (never = +inf)."""
    ta, tb = (x["virtual_time_s"].where(x["reached"], math.inf).to_numpy() for x in (a, b))
    return int((ta < tb).sum())


def results_markdown(st: pd.DataFrame) -> str:
    v = {(s, q): x for s, q, x in st.itertuples(index=False)}
    series = [s for s in st["series"].unique() if " vs " not in s and s != "all"]
    out = ("| series | seeds reaching and holding the target | median iterations (Gaia: clocks) [95 %] "
           "| median virtual s [95 %] | median WAN MB [95 %] | virtual ms per iteration | final high-quality fraction "
           "(median) | final modes (median) |\n|" + "---|" * 8 + "\n")
    for s in series:
        t = {n: median_interval(v, s, n) for _, n in TIMES}
        wan = "-- (LAN)" if s.startswith("lan") else t["wan_MB"]
        out += (f"| {s} | {v[s, 'reached']:.0f} of {v[s, 'seeds']:.0f} | {t['iterations']} | {t['virtual_s']} | "
                f"{wan} | {v[s, 'ms_per_iteration']:.2f} | {v[s, 'final_hqf_median']:.3f} | "
                f"{v[s, 'final_modes_median']:.0f} |\n")
    out += ("\n| paired by seed (A vs B) | seeds | A sooner / B sooner | virtual s to target: ratio of medians "
            "[95 %], p | iterations: ratio [95 %], p | WAN MB: ratio [95 %], p | verdict (virtual s) "
            "| final high-quality fraction: ratio of medians, p | at Gaia's end: median fraction A vs B, "
            "seeds A higher, p |\n|" + "---|" * 9 + "\n")
    def equal(s: str) -> str:
        if (s, "at_gaia_end_p") not in v:
            return "--"
        return (f"{v[s, 'at_gaia_end_hqf_a_median']:.3f} vs {v[s, 'at_gaia_end_hqf_b_median']:.3f} at "
                f"{v[s, 'at_gaia_end_s_median']:.1f} s, {v[s, 'at_gaia_end_seeds_a_higher']:.0f} of "
                f"{v[s, 'paired_seeds']:.0f}, p = {v[s, 'at_gaia_end_p']:.2g}")
    for s in [s for s in st["series"].unique() if " vs " in s]:
        def pair(q: str, s: str = s) -> str:
            return ratio_interval(v, s, q)
        out += (f"| {s} | {v[s, 'paired_seeds']:.0f} | {v[s, 'seeds_a_sooner']:.0f} / {v[s, 'seeds_b_sooner']:.0f} | "
                f"{pair('virtual_s')} | {pair('iterations')} | {pair('wan_MB')} | {v[s, 'virtual_s_verdict']} | "
                f"{v[s, 'final_hqf_ratio']:.3g}, p = {v[s, 'final_hqf_p']:.2g} | {equal(s)} |\n")
    return out


def figure(root: Path, ev: pd.DataFrame, out_dir: Path) -> None:
    """Per WAN topology (rows): quality vs virtual time and vs WAN bytes, each method one colour; each
    seed thin, the median over seeds bold (on the iteration grid they share), a dot where a seed holds the
    target."""
    topologies = [t for t in LAN if (ev["topology"] == t).any()]
    colors = method_colors(["gaia", "ps", "ps (LAN)"])
    fig = new_figure(13, 4.2 * len(topologies))
    axes = np.atleast_2d(fig.subplots(len(topologies), 2))
    for row, wan in zip(axes, topologies, strict=True):
        for label, topo, method in ((f"{wan} · gaia", wan, "gaia"), (f"{wan} · ps", wan, "ps"),
                                    (f"{LAN[wan]} · ps (same workers on one LAN)", LAN[wan], "ps")):
            runs = ev[(ev["topology"] == topo) & (ev["method"] == method)]
            if runs.empty:
                continue
            color = colors["ps (LAN)" if topo == LAN[wan] else method]
            curves = [pd.read_csv(root / r.suite / r.run_dir / "metrics.csv").sort_values("iteration").iloc[1:]
                      for r in runs.itertuples()]
            for ax, column, scale in ((row[0], "virtual_time_s", 1.0), (row[1], "wan_bytes", 1e6)):
                if column == "wan_bytes" and topo == LAN[wan]:
                    continue  # a LAN moves no WAN bytes
                for c in curves:
                    ax.plot(c[column] / scale, c["high_quality_fraction"], color=color, lw=0.6, alpha=0.3)
                med_x = np.median(np.vstack([c[column].to_numpy() / scale for c in curves]), axis=0)
                med_y = np.median(np.vstack([c["high_quality_fraction"].to_numpy() for c in curves]), axis=0)
                ax.plot(med_x, med_y, color=color, lw=2, label=f"{label}: median of {len(curves)} seeds")
                hits = runs[runs["reached"]]
                x = hits["virtual_time_s"] if column == "virtual_time_s" else hits["wan_MB"]
                ax.scatter(x, [TARGET["high_quality_fraction"][0]] * len(hits), color=color, s=18, zorder=3,
                           edgecolor="k", lw=0.4)
        for ax, xlabel in zip(row, ("virtual time (s, log)", "WAN MB (log)"), strict=True):
            ax.axhline(TARGET["high_quality_fraction"][0], color="k", ls="--", lw=1)
            ax.set(xscale="log", xlabel=xlabel, ylabel="high-quality fraction", ylim=(0, 1))
            ax.grid(alpha=0.3, which="both")
        row[0].set_title(f"{wan}: quality vs virtual time (dots: a seed holds the target, >= 0.7 and >= 7 modes)",
                         fontsize=9)
        row[1].set_title(f"{wan}: quality vs WAN bytes", fontsize=9)
        row[0].legend(fontsize=7, loc="upper left")
    save(fig, out_dir, "gaia-vs-ps")


def main(root_arg: str, out_arg: str) -> None:
    root, out = Path(root_arg), Path(out_arg)
    t = tuning(read_suites(root, TUNE_SUITES))
    t.to_csv(out / "gaia-vs-ps-tuning.csv", index=False)  # full precision: the page rounds from it
    (out / "gaia-vs-ps-tuning-table.md").write_text(tuning_markdown(t))
    ev = pd.concat([read_suite(root / n, n).assign(suite=n) for n in EVAL_SUITES if (root / n / "index.csv").is_file()],
                   ignore_index=True)
    ev["series"] = ev["topology"] + " · " + ev["method"]
    ev = at_gaia_end(root, ev)
    st = summary(ev)
    st.to_csv(out / "gaia-vs-ps-summary.csv", index=False)  # full precision: the page rounds from it
    lb = long_budget(root, ev)
    lb.to_csv(out / "gaia-vs-ps-long.csv", index=False)
    write_study_table(ev.drop(columns=["stage", "suite", "run_dir"]), results_markdown(st), out, "gaia-vs-ps")
    figure(root, ev, out)
    page = out / "gaia-vs-ps.md"
    if page.exists():
        replace_generated(page, "gaia-vs-ps-tuning.csv", tuning_markdown(t))
        replace_generated(page, "gaia-vs-ps-summary.csv gaia-vs-ps.csv", results_markdown(st))
        if "begin numbers: gaia-vs-ps-long.csv gaia-vs-ps-summary.csv" in page.read_text():
            replace_generated(page, "gaia-vs-ps-long.csv gaia-vs-ps-summary.csv", long_markdown(lb))


if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir"))
