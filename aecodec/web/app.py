"""The FastAPI application: the page at `/`, its files under `/static/`, and the JSON API under
`/api/` that the page and scripts use alike (docs/web.md).

Uploads are read with a byte limit as they arrive, so an oversized one is refused without being
held; decoding, coding and measuring run in the job queue (jobs.py). Every failure answers JSON
`{"error": "one sentence"}` with a 4xx status (503 when the queue is full); none stops the server.
"""

import csv
import io
import zipfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from aecodec.errors import AecodecError, OutOfMemory
from aecodec.web import coding
from aecodec.web.coding import SPECS, Model, Result, Upload
from aecodec.web.jobs import Busy, JobQueue
from aecodec.web.store import Store

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Settings:
    max_upload: int = 64_000_000  # bytes of one request's body
    max_pixels: int = 50_000_000  # of an uploaded image (the area the codec works on)
    workers: int = 2
    queue: int = 16  # jobs running or waiting; more are refused with 503
    memory: int = 1_000_000_000  # bytes of uploads and results kept for the page
    model: Model = Model()
    preload: bool = True  # load the aec model at start-up rather than on the first request


class CompressRequest(BaseModel):
    codec: str = Field(description="aec, jpeg, webp, avif, jxl, jp2 or original")
    setting: float | None = Field(None, description="quality (jp2: ratio); default: the codec's")
    size: int | None = Field(None, description="a target in bytes, instead of a setting")
    bpp: float | None = Field(None, description="a target in bits per pixel, instead of a setting")


class DenoiseRequest(BaseModel):
    sigma: float | None = Field(None, description="noise level on 0..255; none: estimated")


class ZipRequest(BaseModel):
    results: list[str] = Field(description="ids of results to put in the zip")


class Problem(Exception):
    """An answer with a status and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(settings: Settings = Settings()) -> FastAPI:  # noqa: B008 (frozen, shared safely)
    queue = JobQueue(settings.workers, settings.queue)
    store = Store(settings.memory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.preload and "aec" in coding.available_codecs():
            queue.submit(settings.model.load)
        yield
        queue.close()

    app = FastAPI(
        title="aecodec", summary="Compare, compress and restore pictures", lifespan=lifespan
    )
    app.state.queue, app.state.store, app.state.settings = queue, store, settings
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _errors(app)

    def stored(key: str, kind: type) -> Upload | Result:
        item = store.get(key)
        if not isinstance(item, kind):
            what = "image" if kind is Upload else "result"
            raise Problem(404, f"no {what} {key!r} here (the server may have dropped it for space)")
        return item

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info")
    async def info() -> dict:
        """The codecs and their settings, which restore tabs exist, and the server's limits."""
        return {
            "codecs": [_spec_json(SPECS[name]) for name in coding.available_codecs()],
            "restore": coding.restore_available(),
            "limits": {"max_upload": settings.max_upload, "max_pixels": settings.max_pixels},
            "queue": {"workers": queue.workers, "capacity": queue.capacity, "taken": queue.taken},
        }

    @app.post("/api/images")
    async def upload(request: Request, name: str | None = None) -> dict:
        """An image, as the request body (`?name=` for its file name) or as the multipart field
        `file`; answers its id, size and a PNG to show."""
        body = await _read_body(request, settings.max_upload)
        data, name = await _file_of(request, body, name)
        image = await queue.run(coding.read_upload, data, name, settings.max_pixels)
        return _upload_json(store.add(image), image)

    @app.get("/api/images/{key}")
    async def image_info(key: str) -> dict:
        return _upload_json(key, stored(key, Upload))

    @app.get("/api/images/{key}/png")
    async def image_png(key: str) -> Response:
        return Response(stored(key, Upload).png, media_type="image/png")

    @app.post("/api/images/{key}/compress")
    async def compress(key: str, request: CompressRequest) -> dict:
        """One side of the comparison: the image coded, decoded and measured."""
        image = stored(key, Upload)
        size = request.size
        if request.bpp is not None:
            if request.size is not None:
                raise Problem(422, "give a size or a bpp target, not both")
            h, w = image.picture.rgb.shape[:2]
            size = max(1, int(request.bpp * w * h / 8))
        coding.check_request(request.codec, request.setting, size)  # before waiting in line
        args = (image, key, request.codec, request.setting, size, settings.model)
        result = await queue.run(coding.code, *args)
        return _result_json(store.add(result), result, image)

    @app.post("/api/images/{key}/denoise")
    async def denoise(key: str, request: DenoiseRequest) -> dict:
        image = stored(key, Upload)
        result = await queue.run(coding.denoise, image, key, request.sigma)
        return _result_json(store.add(result), result, image)

    @app.post("/api/images/{key}/repair")
    async def repair(key: str, request: Request) -> dict:
        """The body is the mask, a PNG of the image's size: painted (alpha > 0) = repair."""
        image = stored(key, Upload)
        mask = await _read_body(request, settings.max_upload)
        result = await queue.run(coding.repair, image, key, mask)
        return _result_json(store.add(result), result, image)

    @app.get("/api/results/{key}")
    async def result_info(key: str) -> dict:
        result = stored(key, Result)
        return _result_json(key, result, stored(result.image, Upload))

    @app.get("/api/results/{key}/file")
    async def result_file(key: str) -> Response:
        """The coded file (`.aec`, `.jpg`, ...; the original as uploaded), as an attachment."""
        result = stored(key, Result)
        name = _names(result, stored(result.image, Upload))[0]
        media = SPECS[result.kind].media_type if result.kind in SPECS else "image/png"
        return Response(result.data, media_type=media, headers=_attachment(name))

    @app.get("/api/results/{key}/png")
    async def result_png(key: str) -> Response:
        """The decoded (or restored) picture as PNG."""
        return Response(stored(key, Result).png, media_type="image/png")

    @app.post("/api/zip")
    async def zip_results(request: ZipRequest) -> Response:
        """The files and decoded pictures of many results, with their readouts in results.csv."""
        if not request.results or len(request.results) > 1000:
            raise Problem(422, "name from 1 to 1000 results to zip")
        pairs = []
        for key in dict.fromkeys(request.results):
            result = stored(key, Result)
            pairs.append((key, result, stored(result.image, Upload)))
        data = await queue.run(_zip, pairs)
        return Response(data, media_type="application/zip", headers=_attachment("aecodec.zip"))

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


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    too_large = Problem(413, f"the upload is over the server's limit of {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _file_of(request: Request, body: bytes, name: str | None) -> tuple[bytes, str]:
    """The uploaded file and its name, from a raw body or a multipart form."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return body, Path(name or "the upload").name

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise Problem(422, "send the image as the request body, or as the multipart field 'file'")
    data = await file.read()
    await form.close()
    return data, Path(name or file.filename or "the upload").name


def _spec_json(spec: coding.CodecSpec) -> dict:
    setting = spec.setting
    return {
        "name": spec.name,
        "label": spec.label,
        "setting": None
        if setting is None
        else {
            "name": setting.name,
            "min": setting.low,
            "max": setting.high,
            "default": setting.default,
            "grows": setting.grows,
        },
    }


def _upload_json(key: str, image: Upload) -> dict:
    h, w = image.picture.rgb.shape[:2]
    return {
        "id": key,
        "name": image.name,
        "width": w,
        "height": h,
        "bytes": len(image.data),
        "layout": image.picture.layout,
        "warnings": image.picture.warnings,
        "png_url": f"/api/images/{key}/png",
    }


def _result_json(key: str, result: Result, image: Upload) -> dict:
    file_name, png_name = _names(result, image)
    return {
        "id": key,
        "image": result.image,
        "codec": result.kind,
        "label": result.label,
        "setting": result.setting,
        "setting_name": SPECS[result.kind].setting.name
        if result.kind in SPECS and SPECS[result.kind].setting
        else None,
        "target": result.target,
        "width": result.width,
        "height": result.height,
        "bytes": len(result.data),
        "bpp": len(result.data) * 8 / (result.width * result.height),
        "psnr": result.psnr,
        "ms_ssim": result.ms_ssim,
        "encode_s": result.encode_s,
        "decode_s": result.decode_s,
        "warnings": result.warnings,
        "file_url": f"/api/results/{key}/file",
        "file_name": file_name,
        "png_url": f"/api/results/{key}/png",
        "png_name": png_name,
    }


def _names(result: Result, image: Upload) -> tuple[str, str]:
    """Download names: photo.aec and photo-aec-q75.png; the original keeps its own name."""
    if result.kind == "original":
        suffix = Path(image.name).suffix
        return coding.download_name(image.name, suffix), coding.download_name(image.name, ".png")
    tag = f"-{result.kind}"
    if result.setting is not None:
        letter = "r" if SPECS[result.kind].setting.name == "ratio" else "q"
        tag += f"-{letter}{result.setting:g}"
    file_name = coding.download_name(image.name, result.suffix, tag)
    return file_name, coding.download_name(image.name, ".png", tag)


def _zip(pairs: list[tuple[str, Result, Upload]]) -> bytes:
    buffer, table = io.BytesIO(), io.StringIO()
    rows = csv.writer(table)
    rows.writerow(["image", "codec", "setting", "bytes", "bpp", "psnr", "ms_ssim", "file"])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # pictures are compressed
        seen: set[str] = set()
        for key, result, image in pairs:
            file_name, png_name = _names(result, image)
            for name, data in ((file_name, result.data), (png_name, result.png)):
                if name not in seen:
                    seen.add(name)
                    archive.writestr(name, data)
            readout = _result_json(key, result, image)
            rows.writerow(
                [image.name, result.kind, result.setting, readout["bytes"], readout["bpp"]]
                + [result.psnr, result.ms_ssim, file_name]
            )
        archive.writestr("results.csv", table.getvalue())
    return buffer.getvalue()


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}
