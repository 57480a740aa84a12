"""Uploads and results kept in memory for the page to show and download, the oldest dropped
first once they pass a byte budget (the server holds what one person's comparisons need, not an
archive)."""

import secrets
import threading
from collections import OrderedDict
from typing import Protocol


class Sized(Protocol):
    size: int


class Store:
    """Objects by random id, least recently used dropped first beyond `budget` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[str, Sized] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()  # the worker threads add, the event loop reads

    def add(self, item: Sized) -> str:
        key = secrets.token_urlsafe(9)
        with self._lock:
            self._items[key] = item
            self._used += item.size
            while self._used > self.budget and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._used -= dropped.size
        return key

    def get(self, key: str) -> Sized | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def __len__(self) -> int:
        return len(self._items)
