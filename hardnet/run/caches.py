"""What a runner keeps between cells, as one bounded object (`Caches`)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any


class Caches:
    """What a runner keeps between cells, bounded (least recently used entries go first): the
    instance per configuration, jitted samplers per instance, the trivial baseline per (instance,
    seeds, test set), and the training-stream statistics per (instance, seed, budget). Owned by
    whoever runs cells (the worker process keeps one for its life); `run_cell` without one uses
    a fresh one."""

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[tuple, Any] = collections.OrderedDict()

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = make()
        self._entries[key] = value
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
