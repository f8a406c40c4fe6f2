"""Study figures: one colour per series (four PS variants are four colours) and the x axis in the unit
the methods count (FedAvg and FedSGD: rounds) -- the two figure faults issue 25 found."""

from __future__ import annotations

import pandas as pd

from analysis.style import iteration_label, method_colors, series_styles


def test_several_series_of_one_method_get_distinct_colours() -> None:
    runs = pd.DataFrame({"series": ["ps", "ps-topk", "ps-topk-q8", "ps-q8", "gaia"],
                         "method": ["ps", "ps", "ps", "ps", "gaia"]})
    styles = series_styles(runs)
    colours = [styles[s]["color"] for s in runs["series"]]
    assert len(set(colours)) == 5
    assert styles["gaia"]["linestyle"] != styles["ps"]["linestyle"]  # the method still reads from the line


def test_one_series_per_method_keeps_the_method_colour() -> None:
    runs = pd.DataFrame({"series": ["a", "b"], "method": ["ps", "gaia"]})
    styles = series_styles(runs)
    colours = method_colors(["ps", "gaia"])
    assert styles["a"]["color"] == colours["ps"] and styles["b"]["color"] == colours["gaia"]


def test_iteration_axis_in_the_methods_unit() -> None:
    assert iteration_label(["fedavg", "fedsgd", "fedavg"]) == "rounds"
    assert iteration_label(["fedavg (server_at=us-east, local_epochs=5)", "fedsgd (server_at=us-east)"]) == "rounds"
    assert iteration_label(["ps", "gaia"]) == "iterations (gaia: clocks)"
    assert iteration_label(["ps", "mdgan"]) == "iterations"
