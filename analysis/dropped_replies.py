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
so the k-th pairing no longer holds for it: such runs' drops come from the method's own record
(``FedAvgPlan.dropped`` / ``went_down``, in ``summary.json``'s ``method_results``), which
:func:`reply_fates` joins with the traffic log for each reply's WAN bytes.
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


FATES = ("averaged", "went_down", "late")
"""A chosen client's reply: averaged; dropped because the client went down mid-round; dropped because it
came after the round had closed (past the deadline, or beyond the first m under over-selection)."""


def reply_fates(record: dict, traffic: pd.DataFrame, server: str) -> pd.DataFrame:
    """One row per chosen (round, client) from the server's own record (``summary.json``'s
    ``method_results``: ``averaged``, ``dropped``, ``went_down`` as [round, client] pairs): ``round``,
    ``client``, ``fate`` (:data:`FATES`), ``round_start_s``, ``down_wan_nbytes`` (the round's weights sent
    to it) and ``up_wan_nbytes`` (its reply, 0 if it sent none).

    The k-th round a client was chosen for is the k-th ``params_g`` the server sent it (a busy client
    is never chosen again before its reply has arrived or it has abandoned the round), and a reply
    belongs to the round whose request the client last received before sending it."""
    down = {tuple(p) for p in record["went_down"]}
    fates = [(r, c, "averaged") for r, c in record["averaged"]]
    fates += [(r, c, "went_down" if (r, c) in down else "late") for r, c in record["dropped"]]
    rows = pd.DataFrame(fates, columns=["round", "client", "fate"]).sort_values(["client", "round"])
    rows["k"] = rows.groupby("client").cumcount()
    wan = traffic.assign(wan_nbytes=traffic["nbytes"].where(traffic["scope"] == "wan", 0))
    sent = wan[(wan["src"] == server) & wan["kind"].isin(REPLY_KINDS)].sort_values("t_send_s", kind="stable")
    requests = sent[sent["kind"] == "params_g"].assign(k=lambda f: f.groupby("dst").cumcount())
    requests = requests.rename(columns={"dst": "client", "t_send_s": "round_start_s"})
    requests["next_start_s"] = requests.groupby("client")["round_start_s"].shift(-1).fillna(math.inf)
    rows = rows.merge(requests[["client", "k", "round_start_s", "next_start_s"]], on=["client", "k"], how="left")

    def window(frame: pd.DataFrame, column: str) -> list[float]:
        """WAN bytes of ``frame``'s messages to or from each row's client (``column``) sent in its round."""
        mine = dict(list(frame.groupby(column)))
        return [float(mine[c].loc[mine[c]["t_send_s"].between(t0, t1, inclusive="left"), "wan_nbytes"].sum())
                if c in mine else 0.0
                for c, t0, t1 in zip(rows["client"], rows["round_start_s"], rows["next_start_s"], strict=True)]

    rows["down_wan_nbytes"] = window(sent, "dst")
    rows["up_wan_nbytes"] = window(wan[(wan["dst"] == server) & wan["kind"].isin(REPLY_KINDS)], "src")
    return rows.drop(columns=["k", "next_start_s"]).sort_values(["round", "client"]).reset_index(drop=True)
