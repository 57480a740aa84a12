"""The page in a real headless browser (Debian's chromium through chromedriver and Selenium):
drop a Kodak photo, wait for both sides, check the readouts against the API's own numbers, move
the divider, zoom, download the .aec file, and save a screenshot.

Skips where chromium or chromedriver are missing (nothing downloads a browser). With
AECODEC_WEB_SCREENSHOT=PATH it runs the shipped model instead of a tiny one and writes the
screenshot there: `AECODEC_WEB_SCREENSHOT=docs/img/web-compare.png python -m pytest -m slow
tests/test_web_browser.py` makes the README's picture.
"""

import importlib
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install aecodec[web])")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import uvicorn  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import aecodec  # noqa: E402
from aecodec.web import coding  # noqa: E402
from aecodec.web.app import create_app  # noqa: E402
from aecodec.web.coding import Model  # noqa: E402
from aecodec.web.server import Settings  # noqa: E402

KODAK = Path(__file__).parent.parent.parent / "shared" / "data" / "kodak" / "kodim23.png"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOT = os.environ.get("AECODEC_WEB_SCREENSHOT")
WIDTH, HEIGHT = 1280, 800

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (BROWSER and DRIVER),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver); .ci/run installs them",
    ),
    pytest.mark.skipif(not KODAK.is_file(), reason=f"needs the Kodak set at {KODAK.parent}"),
]


@pytest.fixture
def server(tiny_model):
    """The app served by uvicorn on a free loopback port, in a thread of this process."""
    weights = None if SCREENSHOT else tiny_model + ".safetensors"
    app = create_app(Settings(model=Model(weights=weights)))
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listening.getsockname()[1]}", weights
    server.should_exit = True
    thread.join(10)
    listening.close()


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    prefs = {"download.default_directory": str(tmp_path), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    driver.execute_cdp_cmd(  # the page itself 1280x800, whatever the window's frame takes
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    yield driver
    driver.quit()


def drop(driver, path: Path, target: str) -> None:
    """Drop a file on an element as a user's drag from the desktop does: a DataTransfer holding
    the file (which only a file input can give a page), in a drop event."""
    picker = driver.execute_script(
        "const i = document.createElement('input'); i.type = 'file'; i.hidden = true;"
        "document.body.append(i); return i;"
    )
    picker.send_keys(str(path))
    driver.execute_script(
        "const [picker, target] = arguments; const data = new DataTransfer();"
        "for (const file of picker.files) data.items.add(file); picker.remove();"
        "target.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));",
        picker,
        driver.find_element(By.CSS_SELECTOR, target),
    )


def readouts(driver, side: str) -> dict[str, str]:
    cells = driver.find_elements(By.CSS_SELECTOR, f"#{side} dd")
    return {cell.get_attribute("data-key"): cell.text for cell in cells}


@pytest.mark.parametrize("tiny_model", ["hyperprior-sc-tiny"], indirect=True)
def test_drop_compare_move_the_divider_and_download(server, browser, tmp_path, monkeypatch):
    url, weights = server
    browser.get(url)
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.body.dataset.ready")
    )
    drop(browser, KODAK, "#compare-view")
    WebDriverWait(browser, 120 if SCREENSHOT else 30).until(
        lambda d: d.execute_script("return window.aecodec.timings.both")
    )
    assert browser.find_element(By.ID, "message").get_attribute("hidden") is not None
    # The readouts are the API's numbers for the same picture and settings, asked for anew.
    with httpx.Client(base_url=url, timeout=120) as api:
        image = api.post("/api/images?name=kodim23.png", content=KODAK.read_bytes()).json()
        files = {}
        for side, codec in (("side-left", "aec"), ("side-right", "jpeg")):
            expected = api.post(
                f"/api/images/{image['id']}/compress", json={"codec": codec, "setting": 75}
            ).json()
            shown = readouts(browser, side)
            assert shown["bytes"] == f"{expected['bytes']:,} bytes"
            assert shown["bpp"] == f"{expected['bpp']:.3f}"
            assert shown["psnr"] == f"{expected['psnr']:.2f} dB"
            assert shown["ms_ssim"] == f"{expected['ms_ssim']:.4f}"
            assert shown["encode_s"].endswith(("ms", " s")) and shown["decode_s"]
            files[codec] = api.get(expected["file_url"]).content

    # The divider: dragged left, the right picture shows from there on.
    view = browser.find_element(By.ID, "compare-view")
    right = browser.find_element(By.CSS_SELECTOR, "#compare-view img.right")
    clip = right.value_of_css_property("clip-path")
    handle = browser.find_element(By.CSS_SELECTOR, "#compare-view .handle")
    ActionChains(browser).click_and_hold(handle).move_by_offset(-250, 0).release().perform()
    split = float(view.get_attribute("data-split"))
    assert split == pytest.approx(0.5 - 250 / view.size["width"], abs=0.01)
    assert right.value_of_css_property("clip-path") != clip
    # Zoom: one stage holds both pictures, so they stay in step; a double click fits again.
    zoom = browser.find_element(By.CSS_SELECTOR, "#compare-view .zoom")
    fitted = zoom.text
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(view), 0, -400).perform()
    WebDriverWait(browser, 5).until(lambda d: zoom.text != fitted)
    ActionChains(browser).double_click(view).perform()
    assert zoom.text == fitted

    # The left side's download is the .aec file, which decodes.
    browser.find_element(By.CSS_SELECTOR, "#side-left .download-file").click()
    saved = tmp_path / "kodim23-aec-q75.aec"
    WebDriverWait(browser, 10).until(lambda d: saved.is_file() and saved.stat().st_size > 0)
    assert saved.read_bytes() == files["aec"]
    assert np.asarray(aecodec.decompress(files["aec"], weights=weights)).shape == (512, 768, 3)

    timings = browser.execute_script("return window.aecodec.timings")
    print(f"first side {timings['first'] - timings['dropped']:.0f} ms after the drop, "
          f"both {timings['both'] - timings['dropped']:.0f} ms")  # fmt: skip
    browser.save_screenshot(str(tmp_path / "web-compare.png"))
    if SCREENSHOT:
        shutil.copy(tmp_path / "web-compare.png", SCREENSHOT)
        return

    # One size for both sides: each shows the setting that fits.
    browser.find_element(By.ID, "target-kb").clear()
    browser.find_element(By.ID, "target-kb").send_keys("20")
    browser.find_element(By.ID, "target-on").click()
    for side in ("side-left", "side-right"):
        WebDriverWait(browser, 30).until(
            lambda d, side=side: (
                "working" not in d.find_element(By.ID, side).get_attribute("class")
                and int(readouts(d, side)["bytes"].split()[0].replace(",", "")) <= 20_000
            )
        )
    # The batch's zip: both sides' files and pictures, and the readouts.
    browser.find_element(By.ID, "zip").click()
    archive = tmp_path / "aecodec.zip"
    WebDriverWait(browser, 30).until(lambda d: archive.is_file() and archive.stat().st_size > 0)
    names = set(zipfile.ZipFile(archive).namelist())
    assert "results.csv" in names and any(n.endswith(".aec") for n in names)
    if coding.restore_available()["repair"]:
        paint_a_mask_and_repair(browser, monkeypatch)


def paint_a_mask_and_repair(browser, monkeypatch) -> None:
    """The brush paints in the picture's pixels whatever the zoom: a stroke across the middle
    of the fitted view reaches the repair function as a mask across the middle of the photo."""
    api = importlib.import_module("aecodec.restore.repair.api")
    given = {}

    def stand_in(image, mask, **options):
        given["mask"] = np.asarray(mask)
        return image

    monkeypatch.setattr(api, "repair", stand_in)
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=repair]").click()
    view = browser.find_element(By.ID, "repair-view")
    stroke = ActionChains(browser).move_to_element(view).click_and_hold()
    stroke.move_by_offset(150, 0).release().perform()
    browser.find_element(By.ID, "repair-run").click()
    repaired = browser.find_element(By.ID, "repair")
    WebDriverWait(browser, 20).until(lambda _: repaired.get_attribute("data-result"))
    rows, columns = np.nonzero(given["mask"])
    assert given["mask"].shape == (512, 768)
    assert abs(rows.mean() - 256) < 8 and abs(columns.min() - 384) < 16  # from the centre
    scale = float(browser.find_element(By.CSS_SELECTOR, "#repair-view .zoom").text.split()[0])
    assert columns.max() - columns.min() == pytest.approx(150 / (scale / 100) + 24, abs=8)
