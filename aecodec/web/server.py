"""What every request of the web server shares: its settings, its job queue and the store of
uploads and results; and the one kind of answer a route gives up with (Problem)."""

from dataclasses import dataclass, field

from fastapi import Request

from aecodec.web.coding import Model, Result, Upload
from aecodec.web.jobs import JobQueue
from aecodec.web.store import Store


@dataclass(frozen=True)
class Settings:
    max_upload: int = 64_000_000  # bytes of one request's body
    max_pixels: int = 50_000_000  # of an uploaded image, checked from its header
    workers: int = 2
    queue: int = 16  # jobs running or waiting; more are refused with 503
    memory: int = 1_000_000_000  # bytes of uploads and results kept for the page
    model: Model = field(default_factory=Model)
    preload: bool = True  # load the aec model at start-up rather than on the first request


class Problem(Exception):
    """An answer with a status and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Server:
    """The queue and the store of one app, made from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue = JobQueue(settings.workers, settings.queue)
        self.store = Store(settings.memory)

    def upload(self, key: str) -> Upload:
        return self._stored(key, Upload, "image")

    def result(self, key: str) -> Result:
        return self._stored(key, Result, "result")

    def _stored(self, key: str, kind: type, what: str):
        item = self.store.get(key)
        if not isinstance(item, kind):
            raise Problem(404, f"no {what} {key!r} here (the server may have dropped it for space)")
        return item


def server(request: Request) -> Server:
    """The route's Server (a FastAPI dependency)."""
    return request.app.state.server
