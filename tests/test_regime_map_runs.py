"""scripts/regime_map_runs.py: which tuning cell is chosen, and which fresh seeds the regime map uses.

Why: the page says "the map uses the tuned setting where its fresh seeds were run, else says it does
not"; a slip here (a 5e-3 seed counted for a method tuned to 2e-3, a tie broken to the larger lr)
would change the map silently.  Tiny synthetic suites on disk, no training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import load_script


def _module():
    return load_script("regime_map_runs")


def _suite(root: Path, cells: dict[str, tuple[dict, float, int, list[tuple[float, float]]]]) -> None:
    """cells: name -> (algorithm, lr, seed, [(high_quality_fraction, modes)] at evaluations 200, 400, ...)."""
    root.mkdir(parents=True)
    rows = []
    for name, (alg, lr, seed, evals) in cells.items():
        (root / name).mkdir()
        (root / name / "config.yaml").write_text(yaml.safe_dump(
            {"algorithm": alg, "seed": seed, "training": {"lr_g": lr, "lr_d": lr},
             "max_iterations": 200 * len(evals), "eval_every": 200}))
        pd.DataFrame({"iteration": [200 * (i + 1) for i in range(len(evals))],
                      "virtual_time_s": [float(i + 1) for i in range(len(evals))],
                      "wan_bytes": [1e6 * (i + 1) for i in range(len(evals))], "egress_usd": 0.0,
                      "high_quality_fraction": [h for h, _ in evals], "modes_covered": [m for _, m in evals]}
                     ).to_csv(root / name / "metrics.csv", index=False)
        rows.append({"cell": name, "run_dir": name, "status": "complete"})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)


def test_method_variants() -> None:
    m = _module()
    assert m.method_of({"name": "mdgan", "swap_every_epochs": 0}) == "mdgan-noswap"
    assert m.method_of({"name": "mdgan", "swap_every_epochs": 1}) == "mdgan"
    assert m.method_of({"name": "fedavg", "local_epochs": 1, "client_state": "keep"}) == "fedavg-e1-keep"
    assert m.family_of("fedavg-e0.25") == "fedavg" and m.family_of("mdgan-noswap") == "mdgan"
    assert m.steps_per_iteration("fedavg-e1-keep") == 18 and m.steps_per_iteration("sqm") == 1
    # the relaxed-consistency ps is a contender of its own (trained, not replayed), the BSP ps stays "ps"
    assert m.method_of({"name": "ps", "consistency": "sequential"}) == "ps"
    assert m.method_of({"name": "ps", "consistency": "bounded_delay", "tau": 2}) == "ps-ssp2"
    assert m.method_of({"name": "ps", "consistency": "eventual"}) == "ps-eventual"
    assert set(m.TRAINED) == {"gaia", "ps-ssp2", "ps-eventual"}


def test_tuning_picks_earliest_reach_then_score_then_smaller_lr(tmp_path: Path) -> None:
    m = _module()
    hit, miss = (0.8, 8), (0.3, 3)
    sqm, gossip = {"name": "sqm"}, {"name": "gossip"}
    _suite(tmp_path / "regime-map-tune", {
        "sqm_lr0.01": (sqm, 0.01, 1000, [miss, hit, hit]),      # reached at 400
        "sqm_lr0.005": (sqm, 0.005, 1000, [miss, hit, hit]),    # reached at 400 too: the smaller lr wins
        "sqm_lr0.002": (sqm, 0.002, 1000, [miss, miss, hit]),   # at 600 (the last evaluation)
        "gossip_lr0.005": (gossip, 0.005, 1000, [miss, (0.5, 4), (0.2, 4)]),
        "gossip_lr0.002": (gossip, 0.002, 1000, [miss, (0.5, 5), (0.5, 5)]),  # higher score, none reached
    })
    table, chosen = m.tuning(tmp_path)
    assert chosen["sqm"] == ("sqm", 0.005) and chosen["gossip"] == ("gossip", 0.002)
    assert set(table.loc[table["chosen"], "cell"]) == {"sqm_lr0.005", "gossip_lr0.002"}


def test_map_uses_the_tuned_setting_only_where_its_seeds_exist(tmp_path: Path) -> None:
    m = _module()
    ev = [(0.3, 3)]
    _suite(tmp_path / "regime-map", {
        "gossip_s0": ({"name": "gossip"}, 0.005, 0, ev), "gossip_s1": ({"name": "gossip"}, 0.005, 1, ev),
        "gossip_2_s0": ({"name": "gossip"}, 0.002, 0, ev),
        "mdgan_s0": ({"name": "mdgan"}, 0.005, 0, ev), "mdgan_s1": ({"name": "mdgan"}, 0.005, 1, ev),
    })
    _suite(tmp_path / "regime-map-b", {"gossip_s1": ({"name": "gossip"}, 0.005, 1, ev)})  # the same run twice
    suite = m.read_suites(tmp_path, m.MAIN_SUITES)
    assert len(suite) == 5
    settings = m.map_settings(suite, {"gossip": ("gossip", 0.002), "mdgan": ("mdgan", 0.002)}).set_index("family")
    assert settings.loc["gossip", "map_lr"] == 0.002 and bool(settings.loc["gossip", "is_tuned"])
    assert settings.loc["mdgan", "map_lr"] == 0.005 and not bool(settings.loc["mdgan", "is_tuned"])
    kept = m.map_runs(suite, settings.reset_index())
    assert sorted(zip(kept["family"], kept["lr"], kept["seed"], strict=True)) == [
        ("gossip", 0.002, 0), ("mdgan", 0.005, 0), ("mdgan", 0.005, 1)]


def test_tuning_over_two_seeds_sums_steps_and_counts_a_miss_as_the_budget(tmp_path: Path) -> None:
    """regime-map-tune3's rule: steps summed over the tuning seeds, a miss = the budget plus one evaluation."""
    m = _module()
    hit, miss = (0.8, 8), (0.3, 3)
    ps = {"name": "ps", "consistency": "sequential"}
    _suite(tmp_path / "regime-map-tune", {
        "ps_lr0.005": (ps, 0.005, 1000, [miss, hit, hit]),     # 400
        "ps_lr0.01": (ps, 0.01, 1000, [hit, hit, hit]),        # 200: seed 1000 alone picks 1e-2
    })
    _suite(tmp_path / "regime-map-tune3", {
        "ps_lr0.005": (ps, 0.005, 1001, [miss, hit, hit]),     # 400 -> 800 in all
        "ps_lr0.01": (ps, 0.01, 1001, [miss, miss, miss]),     # a miss: 600 + 200 -> 1,000 in all
    })
    table, chosen = m.tuning(tmp_path)
    assert chosen["ps"] == ("ps", 0.005)
    assert len(table) == 4 and sorted(table["seed"]) == [1000, 1000, 1001, 1001]
    assert set(table.loc[table["chosen"], "seed"]) == {1000, 1001}
    assert set(table.loc[table["chosen"], "lr"]) == {0.005}
    # one seed only: the round-1 rule (earliest reach) is unchanged
    (tmp_path / "regime-map-tune3" / "index.csv").unlink()
    _, picked = m.tuning(tmp_path)
    assert picked["ps"] == ("ps", 0.01)


def test_alternative_settings_switch_one_family_to_an_equally_seeded_setting(tmp_path: Path) -> None:
    """The map's sensitivity table: another setting counts only with as many fresh seeds as the map's."""
    m = _module()
    ev = [(0.3, 3)]
    ps = {"name": "ps", "consistency": "sequential"}
    _suite(tmp_path / "regime-map", {
        "ps_s0": (ps, 0.005, 0, ev), "ps_s1": (ps, 0.005, 1, ev),
        "ps_2_s0": (ps, 0.01, 0, ev), "ps_2_s1": (ps, 0.01, 1, ev),
        "sqm_s0": ({"name": "sqm"}, 0.005, 0, ev), "sqm_s1": ({"name": "sqm"}, 0.005, 1, ev),
        "sqm_2_s0": ({"name": "sqm"}, 0.01, 0, ev),                 # one seed only: not an alternative
    })
    suite = m.read_suites(tmp_path, m.MAIN_SUITES)
    settings = m.map_settings(suite, {"ps": ("ps", 0.01), "sqm": ("sqm", 0.005)})
    alts = m.alternative_settings(suite, settings)
    assert len(alts) == 1
    alt = alts[0].set_index("family")
    assert alt.loc["ps", "map_lr"] == 0.005 and alt.loc["sqm", "map_lr"] == 0.005
    assert settings.set_index("family").loc["ps", "map_lr"] == 0.01  # the map's own settings untouched


def test_tuning_refuses_settings_of_one_family_on_different_seeds(tmp_path: Path) -> None:
    m = _module()
    hit, miss = (0.8, 8), (0.3, 3)
    ps = {"name": "ps", "consistency": "sequential"}
    _suite(tmp_path / "regime-map-tune", {"ps_lr0.005": (ps, 0.005, 1000, [miss, hit, hit]),
                                          "ps_lr0.01": (ps, 0.01, 1000, [hit, hit, hit])})
    _suite(tmp_path / "regime-map-tune3", {"ps_lr0.005": (ps, 0.005, 1001, [miss, hit, hit])})  # 1e-2 not re-run
    with pytest.raises(SystemExit, match="different seeds"):
        m.tuning(tmp_path)


def test_relaxed_tuning_chooses_per_consistency_model(tmp_path: Path) -> None:
    """The relaxed ps's tuning (regime-map-relaxed-tune, -tau): SSP and eventual are tuned as two families, not one
    "ps" family with a single winner; SSP's bound and lr are one family's settings (tau 8 loses here by one
    evaluation); a family that reaches the target nowhere falls back to the score."""
    m = _module()
    hit, miss, part = (0.8, 8), (0.3, 3), (0.95, 3)
    ssp = {"name": "ps", "consistency": "bounded_delay", "tau": 2}
    ev = {"name": "ps", "consistency": "eventual"}
    _suite(tmp_path / "regime-map-relaxed-tune", {
        "ssp2_lr0.002": (ssp, 0.002, 1000, [miss, hit, hit]), "ssp2_lr0.005": (ssp, 0.005, 1000, [miss, miss, hit]),
        "eventual_lr0.002": (ev, 0.002, 1000, [miss, miss, miss]),
        "eventual_lr0.005": (ev, 0.005, 1000, [part, part, part]),  # 3 modes: never the target, the best score
    })
    _suite(tmp_path / "regime-map-relaxed-tau", {"ssp8_lr0.002": ({**ssp, "tau": 8}, 0.002, 1000, [miss, miss, hit])})
    tune, chosen = m.tuning(tmp_path, ("regime-map-relaxed-tune", "regime-map-relaxed-tau"), m.relaxed_variant)
    assert chosen == {"ssp": ("ssp-tau2", 0.002), "eventual": ("eventual", 0.005)}
    assert sorted(tune.loc[tune["family"] == "ssp", "method"].unique()) == ["ssp-tau2", "ssp-tau8"]
    assert m.relaxed_method("ssp-tau2") == "ps-ssp2" and m.relaxed_method("eventual") == "ps-eventual"


def _trained(method: str, lr: float, seeds: range, points: list[tuple[float, float, float]]) -> list[dict]:
    return [{"method": method, "lr": lr, "seed": s, "bandwidth_Mbps": b, "rtt_ms": r, "step_ms": c, "reached": True,
             "time_s": 1.0} for s in seeds for b, r, c in points]


def test_map_trained_uses_the_tuned_lr_only_where_it_covers_the_map_and_reached_in_tuning() -> None:
    """Re-trained runs at a tuned lr replace a method's map runs only if they cover every (point, seed) of them
    (extra seeds come along) and some setting of its family reached the target in tuning; every run left out is
    returned for the check -- also when tuning chose an lr nothing was re-trained at."""
    m = _module()
    p1, p2 = (10, 10, 1), (100, 50, 1)
    tune = pd.DataFrame([{"family": "ssp", "reached": True}, {"family": "eventual", "reached": False}])
    chosen = {"ssp": ("ssp-tau2", 0.002), "eventual": ("eventual", 0.002)}
    trained = pd.DataFrame(_trained("ps-ssp2", 0.005, range(3), [p1, p2])
                           + _trained("ps-eventual", 0.005, range(3), [p1, p2]))
    retrained = pd.DataFrame(_trained("ps-eventual", 0.002, range(3), [p1, p2])  # covers, but never reached
                             + _trained("ps-ssp2", 0.002, range(3), [p1, p2]) + _trained("ps-ssp2", 0.002, [3], [p1])
                             + _trained("ps-ssp2", 0.01, range(3), [p1]))
    on, off = m.map_trained(trained, retrained, tune, chosen, m.relaxed_method)
    ssp = on[on["method"] == "ps-ssp2"]
    assert set(ssp["lr"]) == {0.002} and len(ssp) == 7  # the 6 map cells and the extra seed 3
    assert set(on.loc[on["method"] == "ps-eventual", "lr"]) == {0.005}
    assert len(on) + len(off) == len(trained) + len(retrained)
    assert sorted(off.loc[off["method"] == "ps-ssp2", "lr"].unique()) == [0.005, 0.01]
    partial = retrained[~((retrained["method"] == "ps-ssp2") & (retrained["bandwidth_Mbps"] == 100))]  # p2 missing
    on, off = m.map_trained(trained, partial, tune, chosen, m.relaxed_method)
    assert set(on.loc[on["method"] == "ps-ssp2", "lr"]) == {0.005}
    on, _ = m.map_trained(trained, retrained, tune, {"ssp": ("ssp-tau2", 0.001)}, m.relaxed_method)
    assert set(on.loc[on["method"] == "ps-ssp2", "lr"]) == {0.005}  # chosen, but nothing re-trained at it


def test_relaxed_check_compares_the_same_seeds_and_counts_misses() -> None:
    """SSP on the map (its tuned lr) against its runs at the other lr: per point, seeds reaching and the censored
    median on the seeds both ran only (a seed one of them lacks is left out), and the in-place map's fastest."""
    m = _module()
    point = {"bandwidth_Mbps": 10, "rtt_ms": 10, "step_ms": 1}
    on_map = pd.DataFrame([{**point, "method": "ps-ssp2", "seed": s, "lr": 0.002, "reached": s != 2,
                            "time_s": 100.0 + s if s != 2 else float("inf")} for s in range(3)]
                          + [{**point, "method": "gaia", "seed": 0, "lr": 0.005, "reached": True, "time_s": 1.0}])
    other = pd.DataFrame([{**point, "method": "ps-ssp2", "seed": s, "lr": 0.005, "reached": True,
                           "time_s": 200.0 + s} for s in range(6)])
    win = pd.DataFrame([{"map": "in-place", **point, "fastest": "sqm", "fastest_median_s": 50.0},
                        {"map": "all", **point, "fastest": "centralized", "fastest_median_s": 3.0}])
    row = m.relaxed_check(other, on_map, win).iloc[0]
    assert (row["map_reached"], row["map_seeds"], row["map_median_s"]) == (2, 3, 101.0)  # 100, 101, never
    assert (row["other_reached"], row["other_seeds"], row["other_median_s"]) == (3, 3, 201.0)  # seeds 0-2 only
    assert (row["fastest"], row["fastest_median_s"]) == ("sqm", 50.0)
