"""analysis/dropped_replies.py against a hand-built traffic log: deadline and over-selection drops, and
the server's own record joined with the log under churn (a client that went down sends no reply)."""

from __future__ import annotations

import pandas as pd

from analysis.dropped_replies import fedavg_replies, reply_fates

S = "us-east/server"


def _msg(kind: str, src: str, dst: str, t_send: float, t_arrive: float, scope: str = "wan") -> dict:
    return {"kind": kind, "src": src, "dst": dst, "t_send_s": t_send, "t_arrive_s": t_arrive,
            "scope": scope, "nbytes": 100 if kind == "params_g" else 10}


def _log() -> pd.DataFrame:
    rows = []
    # round 1 at t = 0 to a, b, c; round 2 at t = 1 to a, b, c
    for t0 in (0.0, 1.0):
        for c in ("a", "b", "c"):
            rows += [_msg("params_g", S, c, t0, t0 + 0.1), _msg("params_d", S, c, t0, t0 + 0.1)]
    # round 1: a at 0.3, b at 0.4 (kept, keep = 2), c at 0.45 (on time but third: dropped);
    # round 2: a at 1.2 (kept), b late at 1.7 (g at 1.3, d at 1.7: complete after the 0.5 s deadline),
    # c at 1.4 on LAN (kept)
    for c, t_g, t_d, scope in (("a", 0.3, 0.3, "wan"), ("b", 0.4, 0.35, "wan"), ("c", 0.45, 0.45, "wan"),
                               ("a", 1.2, 1.2, "wan"), ("b", 1.3, 1.7, "wan"), ("c", 1.4, 1.4, "lan")):
        rows += [_msg("params_g", c, S, t_g - 0.05, t_g, scope), _msg("params_d", c, S, t_d - 0.05, t_d, scope)]
    return pd.DataFrame(rows)


def test_deadline_and_first_m_decide_what_is_kept() -> None:
    r = fedavg_replies(_log(), S, keep=2, deadline_s=0.5)
    got = {(row.client, row.round_start_s): (row.kept, row.arrive_s) for row in r.itertuples()}
    assert got == {("a", 0.0): (True, 0.3), ("b", 0.0): (True, 0.4), ("c", 0.0): (False, 0.45),
                   ("a", 1.0): (True, 1.2), ("b", 1.0): (False, 1.7), ("c", 1.0): (True, 1.4)}
    assert r["nbytes"].tolist() == [110] * 6
    assert r.loc[~r["kept"], "wan_nbytes"].sum() == 220
    assert r.loc[r["client"] == "c", "wan_nbytes"].tolist() == [110, 0]   # round 2's c came over the LAN


def test_without_deadline_or_over_selection_everything_is_kept() -> None:
    assert fedavg_replies(_log(), S, keep=3)["kept"].all()


def test_the_servers_record_gives_each_reply_its_fate_and_bytes_when_a_client_sent_none() -> None:
    rows = []
    for t0, clients in ((0.0, ("a", "b")), (1.0, ("a", "b")), (2.0, ("b",))):  # b chosen three times
        for c in clients:
            rows += [_msg("params_g", S, c, t0, t0 + 0.1), _msg("params_d", S, c, t0, t0 + 0.1)]
    # round 0: a averaged, b went down mid-round (no reply); round 1: a averaged, b's reply late (at 1.8,
    # after the round closed); round 2 (b only): b averaged
    for c, t in (("a", 0.3), ("a", 1.3), ("b", 1.8), ("b", 2.3)):
        rows += [_msg("params_g", c, S, t - 0.05, t), _msg("params_d", c, S, t - 0.05, t)]
    record = {"averaged": [[0, "a"], [1, "a"], [2, "b"]], "dropped": [[0, "b"], [1, "b"]], "went_down": [[0, "b"]]}
    r = reply_fates(record, pd.DataFrame(rows), S)
    got = {(row.round, row.client): (row.fate, row.round_start_s, row.down_wan_nbytes, row.up_wan_nbytes)
           for row in r.itertuples()}
    assert got == {(0, "a"): ("averaged", 0.0, 110, 110), (0, "b"): ("went_down", 0.0, 110, 0),
                   (1, "a"): ("averaged", 1.0, 110, 110), (1, "b"): ("late", 1.0, 110, 110),
                   (2, "b"): ("averaged", 2.0, 110, 110)}
    # the k-th reply is not the k-th request's here: the traffic log alone pairs b's 1.8 reply with round 0
    rebuilt = fedavg_replies(pd.DataFrame(rows), S, keep=2)
    assert rebuilt.loc[rebuilt["client"] == "b", "round_start_s"].tolist()[0] == 0.0
