"""Max-min fair rates of flow classes over shared links, recomputed only where an event reaches.

Why incremental: a flow starting or ending changes the rates of the classes that share a
*bottleneck* with it, not of every class in the network.  Recomputing everything at every event
(as the first version of the network core did) made the model ~30x slower than SimGrid's solver.

How it stays exact: max-min fairness is the unique feasible allocation in which every class is
capped or has a *bottleneck*: a saturated link on which no class gets more.  :meth:`MaxMinRates.update`
re-solves (progressive filling, in pure Python: the sets are small) only a set ``S`` of classes --
those whose flow count changed or whose link changed capacity -- with every other class's usage
held fixed, then checks that condition on every link ``S`` crosses.  A class outside ``S`` whose
bottleneck is now unsaturated or overtaken, or that now out-rates a class of ``S`` on that class's
bottleneck, joins ``S`` and the solve repeats.  When nothing is left to add, every class satisfies
the characterisation (classes whose bottleneck ``S`` does not cross keep a valid one untouched),
so the result is the global max-min allocation -- up to ``_CHECK_TOL`` in rates.  Growing ``S``
until it holds every active class is the worst case, which is then the plain global solve.

The original one-shot vectorised solver is tests/network_reference.py's ``max_min_rates``, which
tests/test_network_reference.py checks this class against.
"""

from __future__ import annotations

import math

_TIE = 1e-12  # constraints within this share of the current level bind at that level (as before)
_CHECK_TOL = 1e-10  # slack in "saturated" and "no class gets more"; above _TIE and float noise


class MaxMinRates:
    """Per-flow max-min rates of flow classes (routes) over directed links, kept up to date.

    Register links with :meth:`add_link` and classes with :meth:`add_class`; report changes with
    :meth:`set_count` and :meth:`set_capacity`; then :meth:`update` re-solves what they can affect.
    Also keeps, per link, the seconds during which some class carried traffic over it at a
    positive rate (``busy_s``), since that changes only when rates do.
    """

    def __init__(self) -> None:
        self.capacity_nbytes_per_s: list[float] = []  # per link
        self._members: list[set[int]] = []  # per link: active classes crossing it
        self._positive: list[int] = []  # per link: active classes with a positive rate
        self._busy_s: list[float] = []
        self._busy_since_s: list[float] = []
        self.links: list[tuple[int, ...]] = []  # per class
        self.cap_nbytes_per_s: list[float] = []  # per class: per-flow cap (TCP), inf without
        self.count: list[int] = []  # per class: flows in it
        self.rate_nbytes_per_s: list[float] = []  # per class: per-flow rate
        self._bottleneck: list[int] = []  # per class: the link that fixed its rate, -1 if its cap did
        self._bound: list[set[int]] = []  # per link: active classes whose bottleneck it is
        self._active: list[bool] = []
        self._touched: set[int] = set()
        self._touched_links: set[int] = set()
        self.dirty = False
        """Whether a change awaits :meth:`update` (a plain attribute: the network reads it at every event)."""

    # -- registration and changes ------------------------------------------------------------
    def add_link(self, capacity_nbytes_per_s: float) -> int:
        """A new link; returns its index."""
        self.capacity_nbytes_per_s.append(capacity_nbytes_per_s)
        self._members.append(set())
        self._positive.append(0)
        self._busy_s.append(0.0)
        self._busy_since_s.append(0.0)
        self._bound.append(set())
        return len(self._members) - 1

    def add_class(self, links: tuple[int, ...], cap_nbytes_per_s: float) -> int:
        """A new (idle) class crossing ``links``; returns its index."""
        self.links.append(links)
        self.cap_nbytes_per_s.append(cap_nbytes_per_s)
        self.count.append(0)
        self.rate_nbytes_per_s.append(0.0)
        self._bottleneck.append(-1)
        self._active.append(False)
        return len(self.links) - 1

    def set_count(self, cls: int, count: int) -> None:
        """Class ``cls`` now has ``count`` flows."""
        self.count[cls] = count
        self._touched.add(cls)
        self.dirty = True

    def set_cap(self, cls: int, cap_nbytes_per_s: float) -> None:
        """Class ``cls``'s flows may now take at most ``cap_nbytes_per_s`` each (a capped stream's offered rate)."""
        self.cap_nbytes_per_s[cls] = cap_nbytes_per_s
        self._touched.add(cls)
        self.dirty = True

    def set_capacity(self, link: int, capacity_nbytes_per_s: float) -> None:
        """Link ``link`` now carries ``capacity_nbytes_per_s``."""
        self.capacity_nbytes_per_s[link] = capacity_nbytes_per_s
        self._touched_links.add(link)
        self.dirty = True

    def busy_s(self, now_s: float) -> list[float]:
        """Seconds each link carried traffic at a positive rate, up to ``now_s``."""
        return [busy + (now_s - since if positive else 0.0) for busy, since, positive
                in zip(self._busy_s, self._busy_since_s, self._positive, strict=True)]

    # -- solving -----------------------------------------------------------------------------
    def update(self, now_s: float) -> list[int]:
        """Re-solve what the changes since the last call affect; returns the classes whose rate changed."""
        self.dirty = False
        touched, touched_links = self._touched, self._touched_links
        links, count, members, active = self.links, self.count, self._members, self._active
        if len(touched) == 1 and not touched_links:  # one flow started or ended: the common event
            (cls,) = touched
            touched.clear()
            if count[cls] > 0:
                if not active[cls]:
                    active[cls] = True
                    for link in links[cls]:
                        members[link].add(cls)
                solve = {cls}
            else:
                if active[cls]:
                    self._deactivate(cls, now_s)
                solve = set()
            reached = set(links[cls])
        else:
            reached = set(touched_links)  # links whose usage or capacity may change
            solve = set()
            for cls in touched:
                if count[cls] > 0:
                    if not active[cls]:
                        active[cls] = True
                        for link in links[cls]:
                            members[link].add(cls)
                    solve.add(cls)
                elif active[cls]:
                    self._deactivate(cls, now_s)
                reached.update(links[cls])
            for link in touched_links:
                solve.update(members[link])
            touched.clear()
            touched_links.clear()
            for cls in solve:
                reached.update(links[cls])
        self._close(solve, reached, list(reached))
        if not solve:  # a class left and no other class's bottleneck is on its links
            return []
        if len(solve) == 1:  # the common case under light load: one class, no dicts
            (cls,) = solve
            level, link, grow = self._fill_one(cls)
            if not grow:
                return self._settle_one(cls, level, link, now_s)
            solve |= grow
            self._close(solve, reached, [link for cls in grow for link in links[cls] if link not in reached])
        while True:
            rates, bottlenecks, grow = self._fill(solve)
            if not grow:
                break
            solve |= grow
            self._close(solve, reached, [link for cls in grow for link in links[cls] if link not in reached])
        changed = []
        old_rates, old_bottlenecks = self.rate_nbytes_per_s, self._bottleneck
        for cls in solve:
            link = bottlenecks[cls]
            if old_bottlenecks[cls] != link:
                self._set_bottleneck(cls, link)
            rate = rates[cls]
            if rate != old_rates[cls]:
                if (rate > 0) != (old_rates[cls] > 0):
                    self._set_rate(cls, rate, now_s)
                else:
                    old_rates[cls] = rate
                changed.append(cls)
        return changed

    def _deactivate(self, cls: int, now_s: float) -> None:
        """Class ``cls`` has no flow left: it leaves its links' member sets and carries nothing."""
        self._active[cls] = False
        links, members = self.links[cls], self._members
        for link in links:
            members[link].discard(cls)
        old = self._bottleneck[cls]
        if old >= 0:
            self._bound[old].discard(cls)
            self._bottleneck[cls] = -1
        if self.rate_nbytes_per_s[cls] > 0:
            self._busy_stop(links, now_s)
        self.rate_nbytes_per_s[cls] = 0.0

    def _settle_one(self, cls: int, rate: float, link: int, now_s: float) -> list[int]:
        """Record one class's new rate and bottleneck; ``[cls]`` if its rate changed."""
        self._set_bottleneck(cls, link)
        old_rate = self.rate_nbytes_per_s[cls]
        if rate == old_rate:
            return []
        if (rate > 0) != (old_rate > 0):
            self._set_rate(cls, rate, now_s)
        else:
            self.rate_nbytes_per_s[cls] = rate
        return [cls]

    def _close(self, solve: set[int], reached: set[int], frontier: list[int]) -> None:
        """Add to ``solve`` every class bottlenecked on a reached link, and reach its links, transitively.

        Afterwards no class outside ``solve`` has its bottleneck on a link that ``solve`` crosses or
        whose capacity or usage changed, so those classes keep a valid bottleneck whatever ``solve`` gets.
        """
        reached.update(frontier)
        bound, links = self._bound, self.links
        while frontier:
            for cls in bound[frontier.pop()]:
                if cls not in solve:
                    solve.add(cls)
                    for link in links[cls]:
                        if link not in reached:
                            reached.add(link)
                            frontier.append(link)

    def _set_bottleneck(self, cls: int, link: int) -> None:
        old = self._bottleneck[cls]
        if old != link:
            if old >= 0:
                self._bound[old].discard(cls)
            if link >= 0:
                self._bound[link].add(cls)
            self._bottleneck[cls] = link

    def _set_rate(self, cls: int, rate: float, now_s: float) -> None:
        """Class ``cls``'s per-flow rate is now ``rate``; its links' busy time starts or stops with it."""
        old = self.rate_nbytes_per_s[cls]
        self.rate_nbytes_per_s[cls] = rate
        if rate > 0:
            if not old > 0:
                self._busy_start(self.links[cls], now_s)
        elif old > 0:
            self._busy_stop(self.links[cls], now_s)

    def _busy_start(self, links: tuple[int, ...], now_s: float) -> None:
        """A class on ``links`` now carries traffic: a link with no other such class starts being busy."""
        positive, since = self._positive, self._busy_since_s
        for link in links:
            n = positive[link] + 1
            positive[link] = n
            if n == 1:
                since[link] = now_s

    def _busy_stop(self, links: tuple[int, ...], now_s: float) -> None:
        """A class on ``links`` stopped carrying traffic: a link with no other such class stops being busy."""
        positive, since, busy = self._positive, self._busy_since_s, self._busy_s
        for link in links:
            n = positive[link] - 1
            positive[link] = n
            if not n:
                busy[link] += now_s - since[link]

    def _fill(self, solve: set[int]) -> tuple[dict[int, float], dict[int, int], set[int]]:
        """Progressive filling of ``solve`` with every other class's usage fixed.

        Returns (rates, bottlenecks, outside classes that out-rate a class of ``solve`` on its
        bottleneck: the only way the result can break max-min once :meth:`_close` has run).
        """
        links, count, rate, cap = self.links, self.count, self.rate_nbytes_per_s, self.cap_nbytes_per_s
        capacity, members = self.capacity_nbytes_per_s, self._members
        users: dict[int, int] = {}  # per link: flows of unfrozen classes of ``solve`` on it
        crossing: dict[int, list[int]] = {}
        for cls in solve:
            n = count[cls]
            for link in links[cls]:
                if link in users:
                    users[link] += n
                    crossing[link].append(cls)
                else:
                    users[link] = n
                    crossing[link] = [cls]
        left: dict[int, float] = {}
        for link in users:
            room = capacity[link]
            for other in members[link]:
                if other not in solve:
                    room -= count[other] * rate[other]
            left[link] = room
        capped = [cls for cls in solve if cap[cls] < math.inf]
        rates: dict[int, float] = {}
        bottlenecks: dict[int, int] = {}
        unfrozen = len(solve)
        while unfrozen:
            level = math.inf
            shares = []
            for link, n in users.items():
                room = left[link]
                share = (room if room > 0 else 0.0) / n
                shares.append((share, link))
                if share < level:
                    level = share
            if capped:
                level = min(level, min(cap[cls] for cls in capped))
            if level == math.inf:  # no finite constraint left: unconstrained
                for cls in solve:
                    if cls not in rates:
                        rates[cls], bottlenecks[cls] = math.inf, -1
                break
            bound = level * (1 + _TIE)
            if capped:
                frozen = [cls for cls in capped if cap[cls] <= bound]
                for cls in frozen:
                    bottlenecks[cls] = -1
            else:
                frozen = []
            for share, link in shares:
                if share <= bound:
                    for cls in crossing[link]:
                        if cls not in bottlenecks:
                            bottlenecks[cls] = link
                            frozen.append(cls)
            unfrozen -= len(frozen)
            if not unfrozen:  # the last round: what is left on the links is not needed
                for cls in frozen:
                    rates[cls] = level
                break
            if capped:
                capped = [cls for cls in capped if cls not in bottlenecks]
            for cls in frozen:
                rates[cls] = level
                n = count[cls]
                for link in links[cls]:
                    left[link] -= n * level
                    n_left = users[link] - n
                    if n_left:
                        users[link] = n_left
                    else:
                        del users[link]
        grow: set[int] = set()
        top: dict[int, float] = {}  # per bottleneck link: the fastest class outside ``solve`` on it
        for cls, link in bottlenecks.items():
            if link < 0:
                continue
            fastest = top.get(link)
            if fastest is None:
                fastest = 0.0
                for other in members[link]:
                    if other not in solve:
                        r = rate[other]
                        if r > fastest:
                            fastest = r
                top[link] = fastest
            if rates[cls] < fastest * (1 - _CHECK_TOL):
                high = rates[cls] * (1 + _CHECK_TOL)
                grow.update(o for o in members[link] if o not in solve and rate[o] > high)
        return rates, bottlenecks, grow

    def _fill_one(self, cls: int) -> tuple[float, int, set[int] | None]:
        """:meth:`_fill` for a single class (the common case under light load), same arithmetic:
        (its rate, its bottleneck or -1, the outside classes that out-rate it there or None)."""
        count, rate, members, capacity = self.count, self.rate_nbytes_per_s, self._members, self.capacity_nbytes_per_s
        n, cap, links = count[cls], self.cap_nbytes_per_s[cls], self.links[cls]
        shares, tops = [], []
        level = math.inf
        for link in links:
            room, fastest = capacity[link], 0.0
            for other in members[link]:
                if other != cls:
                    r = rate[other]
                    room -= count[other] * r
                    if r > fastest:
                        fastest = r
            share = (room if room > 0 else 0.0) / n
            shares.append(share)
            tops.append(fastest)
            if share < level:
                level = share
        if cap < level:
            level = cap
        if level == math.inf or cap <= level * (1 + _TIE):
            return level, -1, None
        bound = level * (1 + _TIE)
        i = 0
        while shares[i] > bound:
            i += 1
        bottleneck = links[i]
        if level < tops[i] * (1 - _CHECK_TOL):
            high = level * (1 + _CHECK_TOL)
            return level, bottleneck, {o for o in members[bottleneck] if o != cls and rate[o] > high}
        return level, bottleneck, None
