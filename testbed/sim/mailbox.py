"""A node's mailbox: SimPy's FilterStore semantics with messages indexed by sender.

Why: a FedAvg server waiting for m replies asks for them by sender (``recv(kind, src=client)``), one after
the other; SimPy's ``FilterStore`` scans its whole list for every request and removes by a second scan,
so a round cost O(m^2) -- at 10,000 clients per round, ~10^8 filter calls, more than the training.  This
store keeps the messages in arrival order twice: all of them, and per sender.  A request that names a
sender looks only at that sender's messages, any other at all of them; either way it takes the first
message (in arrival order) that matches, as ``FilterStore`` does, and removing it is O(1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.resources.store import FilterStoreGet, StorePut

from testbed.sim.messages import Message


class Matcher:
    """What a ``recv`` asks for: a kind (or several), a sender and a tag; None matches any."""

    __slots__ = ("kinds", "src", "tag")

    def __init__(self, kind: str | tuple[str, ...] | None, src: str | None, tag: Any) -> None:
        self.kinds = (kind,) if isinstance(kind, str) else kind
        self.src = src
        self.tag = tag

    def __call__(self, message: Message) -> bool:
        return ((self.kinds is None or message.kind in self.kinds) and (self.src is None or message.src == self.src)
                and (self.tag is None or message.tag == self.tag))


class Mailbox(simpy.FilterStore):
    """A FilterStore whose gets take the first matching message, found through a per-sender index."""

    def __init__(self, env: simpy.Environment) -> None:
        super().__init__(env)
        self._order = 0
        self._all: dict[int, Message] = {}  # arrival order -> message (dicts keep insertion order)
        self._by_src: dict[str, dict[int, Message]] = {}

    def __len__(self) -> int:
        return len(self._all)

    def _do_put(self, event: StorePut) -> bool | None:
        self._store(event.item)
        event.succeed()
        return None

    def _store(self, message: Message) -> None:
        self._all[self._order] = message
        self._by_src.setdefault(message.src, {})[self._order] = message
        self._order += 1

    def deliver(self, message: Message) -> None:
        """``put(message)``, step for step, without its event where that event would do nothing.

        A put stores the message at once and hands it to the waiting gets when SimPy pops its event.
        With no get waiting, popping it does nothing (a get made meanwhile finds the message itself), so
        no event is scheduled; with gets waiting, a plain event in the put's place hands it over at the
        same step as before, so every process resumes in the same order."""
        self._store(message)
        if self.get_queue:
            handover = simpy.Event(self._env)
            handover.callbacks.append(self._trigger_get)  # type: ignore[union-attr]
            handover.succeed()

    def _do_get(self, event: FilterStoreGet) -> bool | None:  # type: ignore[override]
        match: Callable[[Message], bool] = event.filter
        src = getattr(match, "src", None)
        pool = self._all if src is None else self._by_src.get(src, {})
        for order, message in pool.items():
            if match(message):
                del self._all[order]
                sender = self._by_src[message.src]
                del sender[order]
                if not sender:
                    del self._by_src[message.src]
                event.succeed(message)
                break
        return True
