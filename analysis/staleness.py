"""Staleness of a parameter server's pushes, read off a run's traffic log.

Why: bounded delay and eventual consistency (Li et al., OSDI 2014) trade waiting for stale
gradients, and the testbed records the messages but not the staleness.  The traffic log holds it:
a worker computes its k-th push from the k-th parameters it received (``params_g``), so the push's
staleness is the number of server updates applied between the server *sending* those parameters and
the push *arriving* (its ``grads_g`` and ``grads_d`` both in).  Under ``eventual`` and
``bounded_delay`` every arrived push is one update; under ``sequential`` (BSP) an update is the mean
of one push per worker, applied after a step's last push, and a push is never stale (0).  For one
shard (``servers: 1``, the default); the server-side update cost is ignored (an update counts from
its push's arrival), so a value can be off by one when two pushes arrive within one update's time.
Pushes still in flight when the run stopped never arrived (the stop is the stop) and are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def push_staleness(traffic: pd.DataFrame, consistency: str) -> pd.DataFrame:
    """One row per push: ``worker``, ``k`` (its index per worker), ``t_params_s`` (when the server sent the
    parameters it used), ``t_push_s`` (when the push was complete at the server), ``staleness`` (updates)."""
    sent = traffic[traffic["kind"] == "params_g"].sort_values("t_send_s")
    grads = traffic[traffic["kind"].isin(["grads_g", "grads_d"])]
    rows = []
    for worker, pushes in grads.groupby("src"):
        g = pushes[pushes["kind"] == "grads_g"]["t_arrive_s"].dropna().sort_values().to_numpy()
        d = pushes[pushes["kind"] == "grads_d"]["t_arrive_s"].dropna().sort_values().to_numpy()
        params = sent[sent["dst"] == worker]["t_send_s"].to_numpy()
        for k, t_push in enumerate(np.maximum(g[: len(d)], d[: len(g)])):
            if k < len(params):
                rows.append({"worker": worker, "k": k, "t_params_s": params[k], "t_push_s": t_push})
    out = pd.DataFrame(rows, columns=["worker", "k", "t_params_s", "t_push_s"])
    if consistency == "sequential" or out.empty:
        return out.assign(staleness=0)
    updates = np.sort(out["t_push_s"].to_numpy())
    before_push = np.searchsorted(updates, out["t_push_s"].to_numpy(), side="left")
    by_params = np.searchsorted(updates, out["t_params_s"].to_numpy(), side="right")
    return out.assign(staleness=np.maximum(before_push - by_params, 0))
