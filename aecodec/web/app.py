"""The FastAPI application: the page at `/`, its files under `/static/`, and the JSON API under
`/api/` (routes.py) that the page and scripts use alike (docs/web.md).

Uploads are read with a byte limit as they arrive, so an oversized one is refused without being
held; decoding, coding and measuring run in the job queue (jobs.py). Every failure answers JSON
`{"error": "one sentence"}` with a 4xx status (503 when the queue is full); none stops the server.
"""

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from aecodec.errors import AecodecError, OutOfMemory
from aecodec.web import coding
from aecodec.web.jobs import Busy
from aecodec.web.routes import router
from aecodec.web.server import Problem, Server, Settings

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app; with `settings.preload`, it loads the aec model as it starts."""
    shared = Server(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if shared.settings.preload and "aec" in coding.available_codecs():
            shared.queue.submit(shared.settings.model.load)
        yield
        shared.queue.close()

    app = FastAPI(
        title="aecodec", summary="Compare, compress and restore pictures", lifespan=lifespan
    )
    app.state.server = shared
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    _errors(app)
    return app


def _errors(app: FastAPI) -> None:
    """Every failure as JSON {"error": sentence}: 4xx for the request, 503 when busy."""

    def answer(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(Problem)
    async def problem(_, error: Problem) -> JSONResponse:
        return answer(error.status, str(error))

    @app.exception_handler(Busy)
    async def busy(_, error: Busy) -> JSONResponse:
        return answer(503, str(error))

    @app.exception_handler(AecodecError)
    async def bad_input(_, error: AecodecError) -> JSONResponse:
        status = 503 if isinstance(error, OutOfMemory) else 422
        return answer(status, str(error))

    @app.exception_handler(ValueError)
    async def bad_value(_, error: ValueError) -> JSONResponse:
        return answer(422, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(_, error: RequestValidationError) -> JSONResponse:
        where = lambda e: ".".join(str(p) for p in e["loc"] if p != "body")  # noqa: E731
        return answer(422, "; ".join(f"{where(e)}: {e['msg']}" for e in error.errors()))

    @app.exception_handler(HTTPException)
    async def http(_, error: HTTPException) -> JSONResponse:
        return answer(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(_, error: Exception) -> JSONResponse:
        return answer(500, f"internal error ({type(error).__name__}: {error})")
