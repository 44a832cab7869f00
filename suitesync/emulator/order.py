"""Each agent's test cases in list order, held in memory: where a page starts, in O(log n).

SQLite can only find the k-th row of an agent's list, or count the rows visible under list lag,
by stepping over every row before it (OFFSET, COUNT): 5 ms a page at 50k cases. Here a page is a
slice of an array and the visible count a bisection, so a page costs what its own rows cost.
This is a cache of the `test_cases` table: the Store keeps it in step with its own writes, and
drops it when another connection has written to the file (PRAGMA data_version).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable


class AgentOrder:
    """One agent's test cases: their `seq` (list order) and from when each shows in lists."""

    def __init__(self, rows: Iterable[tuple[int, float]] = ()) -> None:
        self._seqs = array("q")
        self._shown_from = array("d")
        for seq, created_at in rows:
            self.append(seq, created_at)

    def append(self, seq: int, created_at: float) -> None:
        """A case newer than all others (seq only grows)."""
        # A list shows a prefix of the order: a case never shows before one made earlier, even
        # if the clock stepped back between them, so that the visible count is a bisection.
        shown_from = max(created_at, self._shown_from[-1]) if self._shown_from else created_at
        self._seqs.append(seq)
        self._shown_from.append(shown_from)

    def remove(self, seq: int) -> None:
        index = bisect_left(self._seqs, seq)
        if index < len(self._seqs) and self._seqs[index] == seq:
            del self._seqs[index]
            del self._shown_from[index]

    def window(self, shown_before: float, offset: int, limit: int | None) -> tuple[int, list[int]]:
        """(how many cases show at `shown_before`, the seqs of those from `offset`, at most `limit`)."""
        total = bisect_right(self._shown_from, shown_before)
        end = total if limit is None else min(total, offset + limit)
        return total, self._seqs[offset:end].tolist()


class CaseOrders:
    """AgentOrder per agent, loaded lazily, valid for one SQLite `data_version`."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentOrder] = {}
        self._version: int | None = None

    def valid_for(self, data_version: int) -> None:
        """Forget everything if another connection committed since the last call."""
        if data_version != self._version:
            self._agents.clear()
            self._version = data_version

    def get(self, agent_id: str) -> AgentOrder | None:
        return self._agents.get(agent_id)

    def put(self, agent_id: str, order: AgentOrder) -> None:
        self._agents[agent_id] = order

    def clear(self) -> None:
        self._agents.clear()
