"""Which clients a federated aggregator may hand work to, and when it stops waiting for one.

Why shared: FedBuff's server and HierFAVG's edge aggregators sample clients under churn by the rules
FedAvg follows (issue 22, FedScale's aggregator): only a client that is up and not still working on
earlier work may be sampled; a sampled client that goes down before its reply has fully arrived is
*dropped* -- the aggregator stops waiting for it at that instant, and the client abandons that work
(:func:`abandons`: its training is cut off when it goes down; a reply already on its way still arrives
and is ignored, its bytes in the traffic log) -- unless ``offline: pause``, where a client that is down
is waited for (it is offline meanwhile: its work and its messages pause and resume); a client that
crashes is gone for good.  The
aggregator reads availability through the Session (``available``, ``next_change_s``,
``crash_time_s``), as FedScale's server reads its trace: an omniscient but seeded view.

A client is *busy* from the moment work is sent to it until its reply has fully arrived at the
aggregator, it is dropped (free again once it is back up) or it crashes.

A client population (``workers: {count: N}``, a lazy sequence of ids) is never walked when no client can
go down: the idle clients are then every client but the busy ones, so the seeded choice draws the same
indices as it would from the list of idle clients and maps each to its client by skipping the busy ones'
positions (O(busy) per chosen client) -- the same clients, listed or not.  With an ``availability`` on any
worker the idle clients are found by asking each whether it is up (O(N) per choice, as FedAvg's server does
per round).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from testbed.core.errors import ConfigError
from testbed.methods.api import Session

OFFLINE_MODES = ("drop", "pause")


def check_offline(value: str, src: str) -> None:
    """ConfigError unless ``offline`` is drop or pause."""
    if value not in OFFLINE_MODES:
        raise ConfigError(src, "algorithm.offline", f"{value!r} is not one of {list(OFFLINE_MODES)}",
                          "write offline: drop (FedScale's rule) or offline: pause")


@dataclass
class Outstanding:
    """Work handed to ``client`` under ``tag`` at ``sent_s``; the aggregator gives up on it at ``drop_s``."""

    client: str
    tag: Any
    sent_s: float
    drop_s: float


class ClientPool:
    """The clients of one aggregator, their busy flags and the drop rule (``offline``: drop | pause)."""

    def __init__(self, session: Session, clients: Sequence[str], offline: str = "drop") -> None:
        """``clients``: a list, or a population's lazy ids (indexable, with ``index``): never copied."""
        self.session = session
        self.clients = clients
        self.offline = offline
        self.busy: dict[str, Any] = {}
        """client -> the tag of the work it is on, until its reply has fully arrived."""
        self.always_up = not session.topology.any_availability
        self._position: Callable[[str], int] = (
            {c: i for i, c in enumerate(clients)}.__getitem__ if isinstance(clients, list) else clients.index)
        self._busy_at: list[int] = []  # the busy clients' positions in ``clients``, sorted

    def idle(self) -> list[str]:
        """Clients that are up now and not busy, in the given order (walks every client)."""
        s = self.session
        return [c for c in self.clients if c not in self.busy and s.available(c)]

    def choose(self, count: int, rng: np.random.Generator | None = None) -> list[str]:
        """Up to ``count`` idle clients, a seeded uniform choice without replacement (from ``rng``; default the
        run's), in the given order."""
        rng = self.session.rng if rng is None else rng
        if self.always_up:  # the idle clients are all but the busy ones: no walk
            idle = len(self.clients) - len(self.busy)
            if count <= 0 or idle <= 0:
                return []
            picked = rng.choice(idle, min(count, idle), replace=False)
            return [self.clients[_skipping(int(i), self._busy_at)] for i in sorted(picked)]
        candidates = self.idle()
        if count <= 0 or not candidates:
            return []
        picked = rng.choice(len(candidates), min(count, len(candidates)), replace=False)
        return [candidates[i] for i in sorted(picked)]

    def dispatched(self, client: str, tag: Any, now_s: float) -> Outstanding:
        """``client`` was sent work under ``tag`` now: busy, and dropped once it goes down (``offline: drop``)."""
        if client not in self.busy:
            bisect.insort(self._busy_at, self._position(client))
        self.busy[client] = tag
        drop_s = self.session.next_change_s(client) if self.offline == "drop" else math.inf
        return Outstanding(client, tag, now_s, drop_s)

    def dropped(self, client: str) -> None:
        """``client`` went down with work outstanding: it abandons that work, and is free once it is back up."""
        self._free(client)

    def replied(self, client: str, tag: Any) -> None:
        """``client``'s reply to ``tag`` has fully arrived: it is free again."""
        if self.busy.get(client) == tag:
            self._free(client)

    def crashed(self, now_s: float) -> list[str]:
        """Busy clients that have crashed by now (freed for good)."""
        if self.always_up:
            return []
        gone = [c for c in self.busy if self.session.crash_time_s(c) <= now_s]
        for client in gone:
            self._free(client)
        return gone

    def _free(self, client: str) -> None:
        """``client`` is no longer busy (if it was): out of the busy map and the sorted busy positions."""
        if self.busy.pop(client, _NOT_BUSY) is not _NOT_BUSY:
            del self._busy_at[bisect.bisect_left(self._busy_at, self._position(client))]

    def may_crash(self) -> list[str] | None:
        """The busy clients, whose crash should end a wait for their work (None when no client can go down:
        then there is nothing to ask about, per client, at every wait)."""
        return None if self.always_up else list(self.busy)

    def any_alive(self, now_s: float) -> bool:
        """Whether some client has not crashed."""
        return self.always_up or any(self.session.crash_time_s(c) > now_s for c in self.clients)

    def next_return_s(self, now_s: float) -> float:
        """When the next idle client that is down now comes back (``inf``: none will)."""
        s = self.session
        if self.always_up:
            return math.inf
        times = [s.next_change_s(c) for c in self.clients
                 if c not in self.busy and not s.available(c) and s.crash_time_s(c) > now_s]
        return min(times, default=math.inf)


_NOT_BUSY = object()


def _skipping(i: int, busy_at: list[int]) -> int:
    """The position of the ``i``-th client (from 0) that is not at one of the sorted positions ``busy_at``."""
    for position in busy_at:
        if position > i:
            break
        i += 1
    return i


def abandons(session: Session, node: str, offline: str, sent_s: float, now_s: float) -> bool:
    """Whether a client should drop work sent to it at ``sent_s``: under ``offline: drop``, it went down since
    (the aggregator has dropped it already).  Every federated client asks this (FedAvg, FedSGD, FedBuff, HierFAVG)."""
    return offline == "drop" and session.next_change_s(node, after_s=sent_s) <= now_s


def work_until_s(session: Session, node: str, offline: str) -> float:
    """Under ``offline: drop`` a client's training is cut off when it next goes down (``ctx.compute``'s
    ``until_s``); under ``pause`` it is never cut off."""
    return session.next_change_s(node) if offline == "drop" else math.inf
