"""A bounded work queue: CPU work runs on a few threads, off the event loop, so that a large
upload being coded never holds up the page's other requests; when too much is waiting, a new job
is refused at once (the page says the server is busy) instead of piling up without end."""

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every place in the queue is taken: the caller should try again shortly."""


class JobQueue:
    """At most `workers` jobs run at once; at most `capacity` are running or waiting."""

    def __init__(self, workers: int = 2, capacity: int = 16) -> None:
        if workers < 1 or capacity < workers:
            raise ValueError(f"need 1 <= workers <= capacity, not {workers} and {capacity}")
        self.workers, self.capacity = workers, capacity
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, "aecodec-web")
        self._taken = 0  # touched only on the event loop's thread

    @property
    def taken(self) -> int:
        """Jobs running or waiting now."""
        return self._taken

    async def run(self, work: Callable[..., T], *args) -> T:
        """work(*args) on a worker thread; Busy at once if the queue is full."""
        if self._taken >= self.capacity:
            raise Busy(
                f"the server is busy ({self._taken} jobs running or waiting); try again shortly"
            )
        loop = asyncio.get_running_loop()
        self._taken += 1
        future = self._pool.submit(work, *args)
        # The place is given back when the work ends, not when the caller stops waiting (a
        # closed page): a job that still runs still holds its thread.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        self._taken -= 1

    def submit(self, work: Callable[..., object], *args) -> concurrent.futures.Future:
        """Start work outside the bound (the server's own start-up work, never a request's)."""
        return self._pool.submit(work, *args)

    def close(self) -> None:
        """Drop what waits; let what runs finish on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
