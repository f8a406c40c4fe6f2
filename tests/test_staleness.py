"""analysis.staleness: a push's staleness = updates applied between its parameters and its arrival."""

from __future__ import annotations

import pandas as pd

from analysis.staleness import push_staleness


def _traffic() -> pd.DataFrame:
    # fast worker f: params at 0, push in at 1; params at 1, push in at 2; params at 2, push in at 3.
    # slow worker s: params at 0, push in at 2.5 -- two of f's pushes (at 1 and 2) were applied meanwhile.
    rows = [("params_g", "ps", "f", 0.0, 0.0), ("grads_g", "f", "ps", 0.5, 1.0), ("grads_d", "f", "ps", 0.5, 0.9),
            ("params_g", "ps", "f", 1.0, 1.0), ("grads_g", "f", "ps", 1.5, 2.0), ("grads_d", "f", "ps", 1.5, 2.0),
            ("params_g", "ps", "f", 2.0, 2.0), ("grads_g", "f", "ps", 2.5, 2.9), ("grads_d", "f", "ps", 2.5, 3.0),
            ("params_g", "ps", "s", 0.0, 0.0), ("grads_g", "s", "ps", 2.0, 2.5), ("grads_d", "s", "ps", 2.0, 2.4)]
    return pd.DataFrame(rows, columns=["kind", "src", "dst", "t_send_s", "t_arrive_s"])


def test_stale_by_the_updates_applied_in_between() -> None:
    out = push_staleness(_traffic(), "eventual").set_index(["worker", "k"])
    assert out.loc[("f", 0), "t_push_s"] == 1.0  # the later of grads_g and grads_d
    assert out.loc[("f", 0), "staleness"] == 0
    assert out.loc[("f", 1), "staleness"] == 0  # params sent at 1.0, right after its own update
    assert out.loc[("f", 2), "staleness"] == 1  # s's push (2.5) came in between
    assert out.loc[("s", 0), "staleness"] == 2  # f's pushes at 1.0 and 2.0
    assert len(out) == 4


def test_bsp_is_never_stale() -> None:
    assert (push_staleness(_traffic(), "sequential")["staleness"] == 0).all()
