"""The JSON API (docs/web.md): upload an image, code it with a codec at a setting or a target
size, denoise or repair it, and fetch the results, one at a time or zipped."""

import csv
import io
import mimetypes
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from aecodec.web import coding
from aecodec.web.coding import SPECS, Result, Upload
from aecodec.web.server import Problem, Server, server

router = APIRouter(prefix="/api")
Shared = Annotated[Server, Depends(server)]


class CompressRequest(BaseModel):
    codec: str = Field(description="aec, jpeg, webp, avif, jxl, jp2 or original")
    setting: float | None = Field(None, description="quality (jp2: ratio); default: the codec's")
    size: int | None = Field(None, description="a target in bytes, instead of a setting")
    bpp: float | None = Field(None, description="a target in bits per pixel, instead of a setting")


class DenoiseRequest(BaseModel):
    sigma: float | None = Field(None, description="noise level on 0..255; none: estimated")


class ZipRequest(BaseModel):
    results: list[str] = Field(description="ids of results to put in the zip")


@router.get("/info")
async def info(shared: Shared) -> dict:
    """The codecs and their settings, which restore tabs exist, and the server's limits."""
    settings, queue = shared.settings, shared.queue
    return {
        "codecs": [_spec_json(SPECS[name]) for name in coding.available_codecs()],
        "restore": coding.restore_available(),
        "limits": {"max_upload": settings.max_upload, "max_pixels": settings.max_pixels},
        "queue": {"workers": queue.workers, "capacity": queue.capacity, "taken": queue.taken},
    }


@router.post("/images")
async def upload(shared: Shared, request: Request, name: str | None = None) -> dict:
    """An image, as the request body (`?name=` for its file name) or as the multipart field
    `file`; answers its id, size and a PNG to show."""
    body = await _read_body(request, shared.settings.max_upload)
    data, name = await _file_of(request, body, name)
    image = await shared.queue.run(coding.read_upload, data, name, shared.settings.max_pixels)
    return _upload_json(shared.store.add(image), image)


@router.get("/images/{key}")
async def image_info(shared: Shared, key: str) -> dict:
    return _upload_json(key, shared.upload(key))


@router.get("/images/{key}/png")
async def image_png(shared: Shared, key: str) -> Response:
    return Response(shared.upload(key).png, media_type="image/png")


@router.post("/images/{key}/compress")
async def compress(shared: Shared, key: str, request: CompressRequest) -> dict:
    """One side of the comparison: the image coded, decoded and measured."""
    image = shared.upload(key)
    size = request.size
    if request.bpp is not None:
        if request.size is not None:
            raise Problem(422, "give a size or a bpp target, not both")
        h, w = image.picture.rgb.shape[:2]
        size = max(1, int(request.bpp * w * h / 8))
    coding.check_request(request.codec, request.setting, size)  # before waiting in line
    args = (image, key, request.codec, request.setting, size, shared.settings.model)
    result = await shared.queue.run(coding.code, *args)
    return _result_json(shared.store.add(result), result, image)


@router.post("/images/{key}/denoise")
async def denoise(shared: Shared, key: str, request: DenoiseRequest) -> dict:
    image = shared.upload(key)
    result = await shared.queue.run(coding.denoise, image, key, request.sigma)
    return _result_json(shared.store.add(result), result, image)


@router.post("/images/{key}/repair")
async def repair(shared: Shared, key: str, request: Request) -> dict:
    """The body is the mask, a PNG of the image's size: painted (alpha > 0) = repair."""
    image = shared.upload(key)
    mask = await _read_body(request, shared.settings.max_upload)
    result = await shared.queue.run(coding.repair, image, key, mask)
    return _result_json(shared.store.add(result), result, image)


@router.get("/results/{key}")
async def result_info(shared: Shared, key: str) -> dict:
    result = shared.result(key)
    return _result_json(key, result, shared.upload(result.image))


@router.get("/results/{key}/file")
async def result_file(shared: Shared, key: str) -> Response:
    """The coded file (`.aec`, `.jpg`, ...; the original as uploaded), as an attachment."""
    result = shared.result(key)
    image = shared.upload(result.image)
    name = _names(result, image)[0]
    media = SPECS[result.kind].media_type if result.kind in SPECS else "image/png"
    if result.kind == "original":
        media = mimetypes.guess_type(image.name)[0] or media
    return Response(result.data, media_type=media, headers=_attachment(name))


@router.get("/results/{key}/png")
async def result_png(shared: Shared, key: str) -> Response:
    """The decoded (or restored) picture as PNG."""
    return Response(shared.result(key).png, media_type="image/png")


@router.post("/zip")
async def zip_results(shared: Shared, request: ZipRequest) -> Response:
    """The files and decoded pictures of many results, with their readouts in results.csv."""
    if not request.results or len(request.results) > 1000:
        raise Problem(422, "name from 1 to 1000 results to zip")
    triples = []
    for key in dict.fromkeys(request.results):
        result = shared.result(key)
        triples.append((key, result, shared.upload(result.image)))
    data = await shared.queue.run(_zip, triples)
    return Response(data, media_type="application/zip", headers=_attachment("aecodec.zip"))


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
    """Download names: photo-aec-q75.aec and photo-aec-q75.png; the original keeps its own
    name."""
    if result.kind == "original":
        suffix = Path(image.name).suffix
        return coding.download_name(image.name, suffix), coding.download_name(image.name, ".png")
    tag = f"-{result.kind}"
    if result.setting is not None:
        letter = "r" if SPECS[result.kind].setting.name == "ratio" else "q"
        tag += f"-{letter}{result.setting:g}"
    file_name = coding.download_name(image.name, result.suffix, tag)
    return file_name, coding.download_name(image.name, ".png", tag)


def _zip(triples: list[tuple[str, Result, Upload]]) -> bytes:
    buffer, table = io.BytesIO(), io.StringIO()
    rows = csv.writer(table)
    rows.writerow(["image", "codec", "setting", "bytes", "bpp", "psnr", "ms_ssim", "file"])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # pictures are compressed
        seen: set[str] = set()
        for key, result, image in triples:
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
