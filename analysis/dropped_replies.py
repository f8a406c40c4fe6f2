"""Which FedAvg replies the server averaged and which it dropped (late, or beyond the first m), from
the traffic log.

Why: with a ``round_deadline`` or ``over_select`` the server keeps only the first m complete replies
that arrive by the deadline and drops the rest when they come; their bytes were sent, so they are in
``wan_bytes``, but no result file says how many there were.  The traffic log has every message, so
the rounds can be rebuilt: the server sends a round's ``params_g`` / ``params_d`` to each chosen
client at the round's start; a client answers its requests in order, so its k-th reply pair answers
its k-th request; a reply is complete when both of its messages have arrived.  Per round, the kept
replies are the first ``keep`` complete ones arriving by start + deadline; every other reply is
dropped.  Replies still in flight when the run stopped never arrived and are not counted.  Under
churn with ``offline: drop`` a client that went down mid-round abandons that round without a reply,
so the k-th pairing no longer holds for it: read such runs' drops from the method's own record
(``FedAvgPlan.dropped`` / ``went_down``), not from this reconstruction.
"""

from __future__ import annotations

import math

import pandas as pd

REPLY_KINDS = ("params_g", "params_d")


def fedavg_replies(traffic: pd.DataFrame, server: str, keep: int, deadline_s: float = math.inf) -> pd.DataFrame:
    """One row per client reply in ``traffic`` (one run's log): ``client``, ``round_start_s``,
    ``arrive_s`` (its later message), ``nbytes``, ``wan_nbytes`` and ``kept``."""
    sent = traffic[(traffic["src"] == server) & (traffic["kind"] == "params_g")]
    back = traffic[(traffic["dst"] == server) & traffic["kind"].isin(REPLY_KINDS)].copy()
    back["wan"] = back["scope"] == "wan"
    back["k"] = back.sort_values("t_send_s").groupby(["src", "kind"]).cumcount()
    back = back[back["t_arrive_s"].notna()]  # in flight at the stop: never arrived
    pairs = back.groupby(["src", "k"]).agg(arrive_s=("t_arrive_s", "max"), parts=("kind", "nunique"),
                                          nbytes=("nbytes", "sum"))
    pairs["wan_nbytes"] = back.assign(w=back["nbytes"] * back["wan"]).groupby(["src", "k"])["w"].sum()
    pairs = pairs[pairs["parts"] == len(REPLY_KINDS)].reset_index()
    starts = sent.sort_values("t_send_s").assign(k=lambda f: f.groupby("dst").cumcount())
    starts = starts[["dst", "k", "t_send_s"]].rename(columns={"dst": "src", "t_send_s": "round_start_s"})
    rows = pairs.merge(starts, on=["src", "k"], how="left").rename(columns={"src": "client"})
    rows = rows.sort_values(["round_start_s", "arrive_s"], kind="stable")
    on_time = rows["arrive_s"] <= rows["round_start_s"] + deadline_s
    rank = on_time.astype(int).groupby(rows["round_start_s"]).cumsum()
    rows["kept"] = on_time & (rank <= keep)
    return rows[["client", "round_start_s", "arrive_s", "nbytes", "wan_nbytes", "kept"]].reset_index(drop=True)
