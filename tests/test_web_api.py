"""The web page's JSON API, through a test client: what a script (and the page) gets back for good
and bad uploads, each codec's readouts as the Python API measures them, downloads, the bounded
queue, and the `serve` command."""

import ast
import asyncio
import importlib
import io
import re
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install aecodec[web])")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import aecodec  # noqa: E402
from aecodec import metrics  # noqa: E402
from aecodec.web import cli, coding  # noqa: E402
from aecodec.web.app import STATIC, create_app
from aecodec.web.cli import register  # noqa: E402
from aecodec.web.coding import Model  # noqa: E402
from aecodec.web.server import Settings  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402

ONE_MODEL = pytest.mark.parametrize("tiny_model", ["hyperprior-sc-tiny"], indirect=True)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def photo() -> bytes:
    return png(smooth_image(176, 200))  # MS-SSIM needs 161 pixels on a side


@pytest.fixture
def client(tiny_model):
    settings = Settings(model=Model(weights=tiny_model + ".safetensors"), preload=False)
    with TestClient(create_app(settings)) as client:
        yield client


def upload(client, data: bytes, name: str = "photo.png") -> dict:
    answer = client.post("/api/images", params={"name": name}, content=data)
    assert answer.status_code == 200, answer.json()
    return answer.json()


def side(client, image: dict, **request) -> dict:
    answer = client.post(f"/api/images/{image['id']}/compress", json=request)
    assert answer.status_code == 200, answer.json()
    return answer.json()


def test_the_page_and_its_files_need_nothing_from_elsewhere():
    with TestClient(create_app(Settings(preload=False))) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        for name in ("app.js", "style.css"):
            assert f"/static/{name}" in page.text
            assert client.get(f"/static/{name}").status_code == 200
    for path in STATIC.iterdir():  # offline: no CDN, no font or script fetched from elsewhere
        assert not re.search(
            r"(src|href)=\"https?:|url\(https?:|import .* from \"http", path.read_text()
        )


def test_info_tells_the_codecs_their_settings_and_the_limits():
    settings = Settings(max_upload=1234, max_pixels=5678, preload=False)
    with TestClient(create_app(settings)) as client:
        info = client.get("/api/info").json()
    codecs = {c["name"]: c for c in info["codecs"]}
    assert {"aec", "jpeg", "webp", "original"} <= set(codecs)
    assert codecs["aec"]["setting"] == {
        "name": "quality", "min": 0, "max": 100, "default": 75, "grows": True
    }  # fmt: skip
    assert codecs["original"]["setting"] is None
    assert info["limits"] == {"max_upload": 1234, "max_pixels": 5678}
    assert set(info["restore"]) == {"denoise", "repair"}


@ONE_MODEL
def test_the_aec_side_is_the_python_api_file_with_its_measured_readouts(client, tiny_model, photo):
    image = upload(client, photo)
    assert (image["width"], image["height"], image["bytes"]) == (200, 176, len(photo))
    result = side(client, image, codec="aec", setting=40)
    weights = tiny_model + ".safetensors"
    expected = aecodec.compress(Image.open(io.BytesIO(photo)), 40, weights=weights)
    file = client.get(result["file_url"])
    assert file.content == expected  # the download is the .aec file `aecodec compress` writes
    assert "photo-aec-q40.aec" in file.headers["content-disposition"]
    decoded = np.asarray(aecodec.decompress(file.content, weights=weights))
    shown = np.asarray(Image.open(io.BytesIO(client.get(result["png_url"]).content)))
    assert np.array_equal(shown, decoded)
    original = smooth_image(176, 200)
    assert result["bytes"] == len(expected)
    assert result["bpp"] == pytest.approx(len(expected) * 8 / (200 * 176))
    assert result["psnr"] == pytest.approx(metrics.psnr(original, decoded))
    assert result["ms_ssim"] == pytest.approx(metrics.ms_ssim(original, decoded))
    assert result["encode_s"] > 0 and result["decode_s"] > 0
    assert client.get(f"/api/results/{result['id']}").json() == result


@ONE_MODEL
@pytest.mark.parametrize("codec", ["jpeg", "webp"])
def test_a_classic_side_is_the_codec_file_and_its_decoding(client, photo, codec):
    result = side(client, upload(client, photo), codec=codec, setting=60)
    data = client.get(result["file_url"]).content
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == {"jpeg": "JPEG", "webp": "WEBP"}[codec]
        pixels = np.asarray(decoded.convert("RGB"))
    assert result["bytes"] == len(data) and result["setting"] == 60
    assert result["psnr"] == pytest.approx(metrics.psnr(smooth_image(176, 200), pixels))


@ONE_MODEL
def test_a_target_size_is_met_by_both_sides(client, photo):
    image = upload(client, photo)
    target = side(client, image, codec="jpeg", setting=50)["bytes"]
    for codec in ("aec", "webp", "jpeg"):
        result = side(client, image, codec=codec, size=target)
        assert result["bytes"] <= target and result["target"] == target
        assert result["warnings"] == [] or "no " in result["warnings"][0]
    jpeg = side(client, image, codec="jpeg", size=target)
    above = side(client, image, codec="jpeg", setting=jpeg["setting"] + 1)
    assert above["bytes"] > target  # the largest that fits, not just any
    by_bpp = side(client, image, codec="webp", bpp=0.5)
    assert by_bpp["bpp"] <= 0.5


@ONE_MODEL
def test_the_original_side_is_the_upload_itself(client, photo):
    result = side(client, upload(client, photo, "mine.png"), codec="original")
    assert client.get(result["file_url"]).content == photo
    assert result["psnr"] is None and result["bytes"] == len(photo)


@pytest.mark.parametrize(
    "data, name, status, says",
    [
        (b"", "empty.png", 422, "empty.png is an empty file"),
        (b"hello, not a picture", "notes.txt", 422, "notes.txt is not an image"),
        (png(smooth_image(64, 64))[:300], "cut.png", 422, "cut.png has truncated or corrupt"),
        (png(np.zeros((80, 80, 3), np.uint8)), "big.png", 422, "over the 4096-pixel limit"),
        (bytes(5000), "huge.raw", 413, "over the server's limit of 4,000 bytes"),
    ],
    ids=["empty", "not-an-image", "truncated", "too-many-pixels", "too-many-bytes"],
)
def test_bad_uploads_get_one_sentence_and_a_4xx_and_the_server_goes_on(data, name, status, says):
    settings = Settings(max_upload=4000, max_pixels=4096, preload=False)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/images", params={"name": name}, content=data)
        assert answer.status_code == status
        assert says in answer.json()["error"] and "\n" not in answer.json()["error"]
        assert client.get("/api/info").status_code == 200


def test_bad_requests_are_refused_with_a_reason(photo):
    with TestClient(create_app(Settings(preload=False))) as client:
        image = upload(client, photo)
        url = f"/api/images/{image['id']}/compress"
        for request, says in [
            ({"codec": "gif"}, "unknown codec 'gif'"),
            ({"codec": "jpeg", "setting": 101}, "JPEG quality must be from 1 to 100"),
            ({"codec": "jpeg", "size": 0}, "positive number of bytes"),
            ({"codec": "jpeg", "size": 1000, "bpp": 1}, "not both"),
            ({"setting": 3}, "codec: Field required"),
        ]:
            answer = client.post(url, json=request)
            assert answer.status_code == 422 and says in answer.json()["error"], answer.json()
        gone = client.post("/api/images/nothing/compress", json={"codec": "jpeg"})
        assert gone.status_code == 404 and "no image 'nothing'" in gone.json()["error"]
        assert client.get("/api/results/nothing/file").status_code == 404


def test_a_multipart_upload_works_as_a_raw_one(photo):
    with TestClient(create_app(Settings(preload=False))) as client:
        answer = client.post("/api/images", files={"file": ("form.png", photo, "image/png")})
        assert answer.status_code == 200 and answer.json()["name"] == "form.png"
        empty = client.post("/api/images", files={"other": ("x.png", photo, "image/png")})
        assert empty.status_code == 422 and "field 'file'" in empty.json()["error"]


@ONE_MODEL
def test_the_zip_holds_each_file_its_picture_and_the_readouts(client, photo):
    first, second = upload(client, photo, "a.png"), upload(client, photo, "b.png")
    ids = [side(client, image, codec=c)["id"] for image in (first, second) for c in ("aec", "jpeg")]
    answer = client.post("/api/zip", json={"results": ids})
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = set(archive.namelist())
    assert {"a-aec-q75.aec", "a-aec-q75.png", "b-jpeg-q75.jpg", "results.csv"} <= names
    rows = archive.read("results.csv").decode().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("image,codec,setting,bytes")


def test_work_runs_off_the_event_loop_and_a_full_queue_answers_503(photo, monkeypatch):
    """While a picture is being coded, the server answers other requests; past the queue's
    capacity a new job is refused at once with 503, and the first still completes."""
    release, started = threading.Event(), threading.Event()
    code = coding.code

    def slow(*args):
        started.set()
        release.wait(10)
        return code(*args)

    async def scenario() -> None:
        app = create_app(Settings(workers=1, queue=1, preload=False))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            image = (await client.post("/api/images?name=p.png", content=photo)).json()
            url = f"/api/images/{image['id']}/compress"
            monkeypatch.setattr(coding, "code", slow)
            first = asyncio.create_task(client.post(url, json={"codec": "jpeg"}))
            while not started.is_set():
                await asyncio.sleep(0.01)
            info = await asyncio.wait_for(client.get("/api/info"), 2)
            assert info.status_code == 200 and info.json()["queue"]["taken"] == 1
            busy = await client.post(url, json={"codec": "webp"})
            assert busy.status_code == 503 and "busy" in busy.json()["error"]
            release.set()
            assert (await first).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_four_uploads_at_once_are_all_answered():
    pictures = [png(smooth_image(120, 160, seed=seed)) for seed in range(4)]

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(Settings(workers=2, preload=False)))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def one(index: int) -> httpx.Response:
                image = await client.post(f"/api/images?name={index}.png", content=pictures[index])
                url = f"/api/images/{image.json()['id']}/compress"
                return await client.post(url, json={"codec": "webp", "setting": 50})

            return await asyncio.gather(*(one(i) for i in range(4)))

    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["image"] for a in answers}) == 4


@pytest.mark.parametrize("kind", ["denoise", "repair"])
def test_restore_tabs_send_the_picture_and_the_painted_mask(kind, photo, monkeypatch):
    """The endpoints' plumbing, with the wing's function replaced by a stand-in that checks
    what it is given (the wing's own tests cover its networks)."""
    if not coding.restore_available()[kind]:
        pytest.skip(f"aecodec.restore.{kind} is not installed")
    api = importlib.import_module(f"aecodec.restore.{kind}.api")
    painted = np.zeros((176, 200, 4), np.uint8)
    painted[60:90, 70:120] = 255  # the brush paints opaque pixels on a transparent canvas
    given = {}

    def stand_in(image, second=None, **options):
        given.update(image=np.asarray(image), second=second, **options)
        return Image.fromarray(255 - np.asarray(image))

    monkeypatch.setattr(api, kind, stand_in)
    with TestClient(create_app(Settings(preload=False))) as client:
        assert client.get("/api/info").json()["restore"][kind] is True
        image = upload(client, photo)
        url = f"/api/images/{image['id']}/{kind}"
        if kind == "denoise":
            answer = client.post(url, json={"sigma": 15})
            assert given["sigma"] == 15
        else:
            answer = client.post(url, content=png(painted))
            assert np.array_equal(given["second"], painted[..., 3] > 0)
            wrong = client.post(url, content=png(np.zeros((10, 10, 4), np.uint8)))
            assert wrong.status_code == 422 and "the mask is 10x10" in wrong.json()["error"]
        assert answer.status_code == 200, answer.json()
        assert np.array_equal(given["image"], smooth_image(176, 200))
        shown = Image.open(io.BytesIO(client.get(answer.json()["png_url"]).content))
        assert np.array_equal(np.asarray(shown), 255 - smooth_image(176, 200))


def test_serve_is_a_command_with_its_limits(tmp_path):
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    from typer.testing import CliRunner

    runner = CliRunner()
    shown = runner.invoke(app, ["serve", "--help"])
    assert shown.exit_code == 0
    for option in ("--host", "--port", "--max-upload", "--max-pixels", "--workers", "--queue"):
        assert option in shown.output
    missing = runner.invoke(app, ["serve", "--weights", str(tmp_path / "none.safetensors")])
    assert missing.exit_code == 1 and "none.safetensors does not exist" in missing.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = runner.invoke(app, ["serve", "--port", str(port)])
    assert refused.exit_code == 1
    assert refused.output.startswith(f"error: cannot listen on 127.0.0.1:{port}")


def test_the_serve_module_loads_no_web_framework_until_it_runs():
    """`aecodec --help` imports cli.py: fastapi, uvicorn and torch load inside the command."""
    tree = ast.parse(Path(cli.__file__).read_text())
    top = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert top <= {"ipaddress", "os", "socket", "typing", "typer", "aecodec.options"}


@pytest.mark.slow
@ONE_MODEL
def test_serve_prints_its_address_and_answers_there(tiny_model, photo):
    """The command as a user runs it: another process, a free port, the page and the API."""
    serve = "import typer; from aecodec.web.cli import register; app = typer.Typer();"
    serve += "app.callback()(lambda: None); register(app); app()"
    weights = tiny_model + ".safetensors"
    command = [sys.executable, "-c", serve, "serve", "--port", "0", "--weights", weights]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        address = re.fullmatch(
            r"aecodec serve: open (http://127.0.0.1:\d+/) \(Ctrl-C to stop\)\n", line
        )
        assert address, line + server.stderr.read()
        with httpx.Client(base_url=address[1], timeout=60) as client:
            assert "aecodec" in client.get("/").text
            image = upload(client, photo)
            assert side(client, image, codec="aec", setting=50)["bytes"] > 0
    finally:
        server.terminate()
    # uvicorn shuts down, then lets SIGTERM end the process as it would have
    assert server.wait(20) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.stderr.read()
