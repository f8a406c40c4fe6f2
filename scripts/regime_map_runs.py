"""Which runs the regime map rests on (scripts/study_regime_map.py, docs/studies/regime-map.md): the
tuning cells and their choice per method, the fresh-seed runs of the setting the map uses, and the check
of a trained method re-run at its tuned lr beside its map runs.

Why a file of its own: the rule that turns a tuning table into "the map uses this setting" -- the
tuned one where fresh seeds of it exist, else the setting with the most fresh seeds, said on the page
-- is written once here, and the suites of several rounds (run side by side, added later) are read
the same way: a (setting, seed) two suites both ran is one configuration, counted once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from analysis.censored import censored_summary, reached_and_held
from analysis.study_stats import RING8_COVERAGE

TARGET = dict(RING8_COVERAGE)  # a copy: regime_map_target moves its fraction for a while
TUNE_SUITES = ("regime-map-tune", "regime-map-tune2", "regime-map-tune3")
MAIN_SUITES = ("regime-map", "regime-map-b", "regime-map-c", "regime-map-d", "regime-map-e")
FAMILIES = ("centralized", "ps", "fedavg", "mdgan", "sqm", "gossip")
"""The methods that were tuned and run on fresh seeds (FedSGD takes ps's runs: the BSP ps bit for bit)."""
POINT_COLUMNS = ("bandwidth_Mbps", "rtt_ms", "step_ms")
TRAINED = ("gaia", "ps-ssp2", "ps-eventual")
"""The timing-dependent contenders: not replayed, trained at each point they are shown at."""
N_K_MAX, BATCH = 4500, 256
"""The largest client's shard (ring8 n = 12,000 by_datacenter over 3 regions: 3/3/2 modes of 1,500) and
B: a FedAvg round is ceil(E ceil(n_k / B)) local steps for it (E = 1: 18; E = 0.25: 5)."""


def method_of(algorithm: dict | str) -> str:
    """The setting's method variant: ``fedavg-e1`` (``-keep``: the clients' Adam kept across rounds),
    ``mdgan-noswap`` (``swap_every_epochs: 0``), ``ps-ssp2`` / ``ps-eventual`` (relaxed consistency:
    bounded delay with tau 2, eventual), or the algorithm's name."""
    alg = algorithm if isinstance(algorithm, dict) else {"name": algorithm}
    if alg["name"] == "ps" and alg.get("consistency", "sequential") != "sequential":
        relaxed = alg["consistency"]
        return f"ps-ssp{int(alg['tau'])}" if relaxed == "bounded_delay" else f"ps-{relaxed}"
    if alg["name"] == "mdgan" and float(alg.get("swap_every_epochs", 1)) == 0:
        return "mdgan-noswap"
    if alg["name"] != "fedavg":
        return str(alg["name"])
    return f"fedavg-e{float(alg.get('local_epochs', 1)):g}" + ("-keep" if alg.get("client_state") == "keep" else "")


def family_of(method: str) -> str:
    """``fedavg-e1-keep`` -> ``fedavg``, ``mdgan-noswap`` -> ``mdgan``."""
    return method.split("-")[0]


def steps_per_iteration(method: str) -> int:
    """Optimiser steps a worker takes per iteration (per round for FedAvg), for the tuning criterion."""
    if not method.startswith("fedavg"):
        return 1
    return math.ceil(float(method.split("-e")[1].split("-")[0]) * math.ceil(N_K_MAX / BATCH))


def gaia_variant(algorithm: dict) -> str:
    """Gaia's tuning cells by their significance rule: ``gaia-t0.01-decay`` (v/sqrt(t), the map's) or ``gaia-t0.05``."""
    decay = bool(algorithm.get("decay", True))
    return f"gaia-t{float(algorithm.get('threshold', 0.01)):g}" + ("-decay" if decay else "")


def relaxed_variant(algorithm: dict) -> str:
    """The relaxed-consistency ps's tuning cells as two families: SSP by its staleness bound (``ssp-tau2``,
    ``ssp-tau8``: lr and tau chosen together, by one rule) and ``eventual``."""
    variant = method_of(algorithm).removeprefix("ps-")
    return variant.replace("ssp", "ssp-tau") if variant.startswith("ssp") else variant


def relaxed_method(variant: str) -> str:
    """A relaxed tuning variant's name among the map's trained contenders: ``ssp-tau2`` -> ``ps-ssp2``."""
    return "ps-" + variant.replace("ssp-tau", "ssp")


def map_trained(trained: pd.DataFrame, retrained: pd.DataFrame, tune: pd.DataFrame,
                chosen: dict[str, tuple[str, float]], to_method: Callable[[str], str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trained runs the map uses, and the others (for the check).  ``trained``: the map's own runs of the
    timing-dependent methods; ``retrained``: runs of them again at other lrs.  A tuned family's choice replaces
    its map runs only if some setting of it reached the target in tuning (else the choice is the fallback
    score's, and the map keeps its runs) and its re-trained runs at the chosen lr cover every (point, seed) of
    its map runs (extra seeds come along); otherwise the map keeps its own runs."""
    on_map, other = trained, retrained
    for family, (variant, lr) in chosen.items():
        method = to_method(variant)
        mine, theirs = on_map["method"] == method, other["method"] == method
        at_lr = theirs & (other["lr"] == lr)
        cells = on_map.loc[mine, [*POINT_COLUMNS, "seed"]].drop_duplicates()
        covered = cells.merge(other.loc[at_lr, [*POINT_COLUMNS, "seed"]].drop_duplicates(), how="inner")
        if mine.any() and tune.loc[tune["family"] == family, "reached"].any() and len(covered) == len(cells):
            on_map, other = (pd.concat([on_map[~mine], other[at_lr]], ignore_index=True),
                             pd.concat([other[~at_lr], on_map[mine]], ignore_index=True))
    return on_map.reset_index(drop=True), other.reset_index(drop=True)


def read_suite(root: Path, namer: Callable[[dict], str] = method_of) -> pd.DataFrame:
    """index.csv of a suite (complete cells) with each cell's metrics.csv attached as ``metrics``."""
    index = pd.read_csv(root / "index.csv")
    index = index[index["status"] == "complete"].copy()
    configs = [yaml.safe_load((root / run / "config.yaml").read_text()) for run in index["run_dir"]]
    index["method"] = [namer(c["algorithm"]) for c in configs]
    index["family"] = [family_of(m) for m in index["method"]]
    index["seed"] = [int(c["seed"]) for c in configs]
    index["lr"] = [float(c["training"]["lr_g"]) for c in configs]
    index["budget_iterations"] = [int(c["max_iterations"]) + int(c["eval_every"]) for c in configs]
    index["metrics"] = [pd.read_csv(root / run / "metrics.csv") for run in index["run_dir"]]
    return index


def read_suites(root: Path, names: tuple[str, ...], namer: Callable[[dict], str] = method_of) -> pd.DataFrame:
    """The suites of ``names`` present under ``root``, a (setting, seed) more than one ran counted once."""
    found = [read_suite(root / name, namer) for name in names if (root / name / "index.csv").is_file()]
    if not found:
        raise SystemExit(f"{root}: none of the suites {', '.join(names)} has an index.csv (run them first, "
                         "or give the results root that holds them)")
    return pd.concat(found, ignore_index=True).drop_duplicates(["method", "lr", "seed"]).reset_index(drop=True)


def hit(metrics: pd.DataFrame) -> pd.Series:
    """reached_and_held's row for one run: reached, iteration, time, bytes, dollars at the target."""
    return reached_and_held(metrics.assign(run="r"), TARGET).iloc[0]


def tuning(root: Path, suites: tuple[str, ...] = TUNE_SUITES, namer: Callable[[dict], str] = method_of
           ) -> tuple[pd.DataFrame, dict[str, tuple[str, float]]]:
    """Per tuning run: reached, iteration and steps to target, the fallback score; per family the chosen
    (variant, lr) by the criterion fixed before the runs (the page's "Tuning"): the fewest optimiser steps
    to target summed over the tuning seeds (every setting of a family must have run on the same ones; a
    seed that misses counts as its run's budget plus one evaluation, from its config; with one seed this
    is the round-1 rule), if no setting of the family reached it the highest mean score over the last four
    evaluations, ties -> the smaller lr."""
    rows = []
    for _, r in read_suites(root, suites, namer).iterrows():
        m, h = r["metrics"], hit(r["metrics"])
        tail = m.sort_values("iteration").tail(4)
        rows.append({"cell": r["cell"], "seed": int(r["seed"]), "method": r["method"], "family": r["family"],
                     "lr": r["lr"], "reached": bool(h["reached"]), "iteration": h["iteration"],
                     "steps_to_target": h["iteration"] * steps_per_iteration(r["method"]),
                     "score_last4": float((tail["high_quality_fraction"] * tail["modes_covered"] / 8).mean()),
                     "final_hqf": float(m["high_quality_fraction"].iloc[-1]),
                     "final_modes": float(m["modes_covered"].iloc[-1]),
                     "miss_steps": r["budget_iterations"] * steps_per_iteration(r["method"])})
    df = pd.DataFrame(rows)
    seeds = df.groupby(["family", "method", "lr"])["seed"].apply(frozenset).groupby("family").nunique()
    if (seeds > 1).any():  # a sum over fewer seeds would favour the setting that ran on fewer
        raise SystemExit(f"{root}: the tuning settings of {', '.join(seeds[seeds > 1].index)} ran on different "
                         "seeds; the summed rule compares settings on the same tuning seeds -- run the missing cells")
    per_setting = (df.assign(s=df["steps_to_target"].where(df["reached"], df["miss_steps"]))
                   .groupby(["family", "method", "lr"], sort=False)
                   .agg(steps=("s", "sum"), any_reached=("reached", "any"), score=("score_last4", "mean"))
                   .reset_index())
    family_reached = per_setting.groupby("family")["any_reached"].transform("any")
    key = per_setting.assign(s=per_setting["steps"].where(family_reached, math.inf),
                             fallback=(-per_setting["score"]).where(~family_reached, 0.0))
    best = key.sort_values(["s", "fallback", "lr"], kind="stable")
    chosen = {f: best[best["family"] == f].iloc[0] for f in dict.fromkeys(best["family"])}
    picked = {(str(r["method"]), float(r["lr"])) for r in chosen.values()}
    df["chosen"] = [(m, float(lr)) in picked for m, lr in zip(df["method"], df["lr"], strict=True)]
    df = df.sort_values(["family", "method", "lr", "seed"], kind="stable",
                        key=lambda s: s.map(_family_rank) if s.name == "family" else s).reset_index(drop=True)
    return df, {f: (str(r["method"]), float(r["lr"])) for f, r in chosen.items()}


def _family_rank(family: str) -> int:
    """FAMILIES' order; a family tuned but not on the replayed map (Gaia) after them."""
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def map_settings(suite: pd.DataFrame, tuned: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """Per family the setting the map uses: the tuned one where fresh seeds of it were run, else the
    setting with the most fresh seeds (the page says which, and that the tuned one was not re-run)."""
    rows = []
    for family in FAMILIES:
        runs = suite[suite["family"] == family]
        if not len(runs):
            continue
        counts = runs.groupby(["method", "lr"]).size()
        want = tuned.get(family)
        use = want if want in counts.index else counts.sort_values(ascending=False, kind="stable").index[0]
        rows.append({"family": family, "tuned_method": want[0] if want else "",
                     "tuned_lr": want[1] if want else math.nan,
                     "map_method": use[0], "map_lr": use[1], "seeds": int(counts[use]),
                     "is_tuned": want == use})
    return pd.DataFrame(rows)


def alternative_settings(suite: pd.DataFrame, settings: pd.DataFrame) -> list[pd.DataFrame]:
    """The map's settings with one family switched to another of its settings that ran on at least as many
    fresh seeds as the map's (so a reader sees what the map would say had tuning picked that one)."""
    out = []
    for i, r in settings.iterrows():
        counts = suite[suite["family"] == r["family"]].groupby(["method", "lr"]).size()
        for (method, lr), n in counts.items():
            if (method, lr) != (r["map_method"], r["map_lr"]) and n >= r["seeds"]:
                alt = settings.copy()
                alt.loc[i, ["map_method", "map_lr", "seeds", "is_tuned"]] = [method, lr, int(n), False]
                out.append(alt)
    return out


def map_runs(suite: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """The fresh-seed runs of each family's map setting (every other setting's runs dropped)."""
    keep = suite[["method", "lr"]].apply(tuple, axis=1).isin(
        list(settings[["map_method", "map_lr"]].itertuples(index=False, name=None)))
    return suite[keep].reset_index(drop=True)


def relaxed_check(other: pd.DataFrame, on_map: pd.DataFrame, win: pd.DataFrame) -> pd.DataFrame:
    """Per point where SSP (tau 2) also ran at another lr: seeds reaching and the censored median time of the
    map's SSP runs (its tuned lr) and, on the same seeds, at the other lr, beside the in-place map's fastest."""
    rows = []
    fastest = win[win["map"] == "in-place"].set_index(list(POINT_COLUMNS))
    ssp = on_map[on_map["method"] == "ps-ssp2"]
    for point, runs in ssp.groupby(list(POINT_COLUMNS)):
        alt = other[(other["method"] == "ps-ssp2") & (other[list(POINT_COLUMNS)].apply(tuple, axis=1) == point)]
        alt = alt[alt["seed"].isin(runs["seed"])]
        if not len(alt):
            continue
        row = dict(zip(POINT_COLUMNS, point, strict=True))
        for label, r in (("map", runs[runs["seed"].isin(alt["seed"])]), ("other", alt)):
            s = censored_summary(r["time_s"].where(r["reached"], 0.0).to_numpy(), r["reached"].to_numpy(), n_boot=1)
            row |= {f"{label}_lr": float(r["lr"].iloc[0]), f"{label}_seeds": len(r),
                    f"{label}_reached": int(r["reached"].sum()), f"{label}_median_s": s.median}
        row |= {"fastest": fastest.loc[point, "fastest"], "fastest_median_s": fastest.loc[point, "fastest_median_s"]}
        rows.append(row)
    return pd.DataFrame(rows)
