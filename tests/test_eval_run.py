"""The benchmark measures reproducibly, aggregates like CompressAI, and writes valid reports."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecodec.eval import (
    BenchmarkError,
    aggregate,
    benchmark,
    find_images,
    read_csv,
    run_benchmark,
    write_csv,
    write_reports,
)
from aecodec.eval.codecs import CLASSIC, unavailable_reason
from aecodec.eval.report import load_references

ROW_FIELDS = {"image", "codec", "setting", "width", "height", "bytes", "bpp", "psnr", "ms_ssim"}
ROW_FIELDS |= {"encode_s", "decode_s"}
METRICS = {"bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-db-rgb", "encoding_time", "decoding_time"}


def write_images(folder, count: int, size: tuple[int, int]) -> list:
    """Smooth gradients plus noise, as PNG; returns the paths."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    height, width = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    paths = []
    for i in range(count):
        rgb = np.stack([x * 200 + 30 * i, y * 220, (x + y) * 120], axis=-1)
        rgb += rng.normal(0, 5, rgb.shape)
        path = folder / f"img{i}.png"
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def check_compressai_schema(data: dict) -> None:
    """CompressAI's results files: name, description, and equal-length lists of finite numbers."""
    assert set(data) == {"name", "description", "results"}
    assert isinstance(data["name"], str) and isinstance(data["description"], str)
    results = data["results"]
    assert "bpp" in results and len(results) >= 2 and set(results) <= METRICS
    lengths = {len(v) for v in results.values()}
    assert len(lengths) == 1 and lengths.pop() > 0
    for values in results.values():
        assert all(isinstance(x, float) and math.isfinite(x) for x in values)
    assert all(x > 0 for x in results["bpp"])


def test_rows_cover_every_image_codec_and_setting(tmp_path):
    images = write_images(tmp_path / "img", 2, (48, 64))
    rows = run_benchmark(images, ["jpeg", "webp"], progress=False)
    assert len(rows) == 2 * (11 + 11)
    assert all(set(row) == ROW_FIELDS for row in rows)
    row = rows[0]
    assert row["bpp"] == pytest.approx(row["bytes"] * 8 / (48 * 64))
    assert math.isnan(row["ms_ssim"])  # 48 x 64 is too small for five scales


def test_aggregate_is_the_mean_over_images_per_setting():
    rows = [
        {"codec": "c", "setting": s, "bpp": b, "psnr": p, "ms_ssim": 0.9}
        | {"encode_s": 1.0, "decode_s": 0.5}
        for s, b, p in [(1, 0.2, 30), (2, 0.4, 33), (1, 0.4, 32), (2, 0.8, 35)]
    ]
    result = aggregate(rows)["c"]
    assert result["bpp"] == pytest.approx([0.3, 0.6])
    assert result["psnr-rgb"] == pytest.approx([31, 34])
    assert result["ms-ssim-rgb"] == pytest.approx([0.9, 0.9])


def test_running_twice_gives_the_same_rates_and_qualities(tmp_path):
    images = write_images(tmp_path / "img", 1, (64, 64))
    codecs = [name for name in CLASSIC if unavailable_reason(name) is None]
    first, second = (run_benchmark(images, codecs, progress=False) for _ in range(2))
    measured = lambda rows: [(r["codec"], r["setting"], r["bytes"], r["psnr"]) for r in rows]  # noqa: E731
    assert measured(first) == measured(second)


def test_benchmark_writes_csv_json_plots_report_and_html(tmp_path):
    write_images(tmp_path / "img", 1, (168, 168))
    reference = tmp_path / "ref"
    reference.mkdir()
    published = {"bpp": [0.1, 0.5, 1.0, 2.0], "psnr-rgb": [28.0, 33.0, 36.0, 40.0]}
    (reference / "vtm.json").write_text(
        json.dumps({"name": "VTM", "description": "VTM", "results": published})
    )
    out = tmp_path / "out"
    report = benchmark(
        tmp_path / "img", ["webp"], out, html=True, reference=reference, progress=False
    )
    assert report == out / "report.md"
    for name in ["rows.csv", "rd-psnr.png", "rd-ms-ssim.png", "index.html"]:
        assert (out / name).stat().st_size > 0, name
    for codec in ["jpeg", "webp"]:  # the anchor is run although not asked for
        data = json.loads((out / f"{codec}.json").read_text())
        check_compressai_schema(data)
        assert "ms-ssim-rgb" in data["results"]
    assert len(list((out / "crops").glob("*.png"))) == 3  # original, jpeg, webp
    text = report.read_text()
    assert "| webp |" in text and "| vtm |" in text and "BD-rate" in text
    assert len((out / "rows.csv").read_text().splitlines()) == 1 + 22


def test_reference_files_load_as_curves_with_ms_ssim_in_db(tmp_path):
    results = {"bpp": [0.5, 1.0], "psnr-rgb": [30.0, 34.0], "ms-ssim-rgb": [0.9, 0.99]}
    (tmp_path / "x.json").write_text(
        json.dumps({"name": "x", "description": "", "results": results})
    )
    curves = load_references(tmp_path)
    assert curves["x"]["ms-ssim-db-rgb"] == pytest.approx([10.0, 20.0])


def test_a_folder_without_images_is_an_error(tmp_path):
    with pytest.raises(BenchmarkError, match="no PNG"):
        find_images(tmp_path)


def test_saved_rows_read_back_equal_and_redraw_the_same_report(tmp_path):
    images = write_images(tmp_path / "img", 1, (48, 48))
    rows = run_benchmark(images, ["jpeg", "jp2"], progress=False)
    back = read_csv(write_csv(rows, tmp_path / "rows.csv"))
    assert back == [pytest.approx(row, nan_ok=True) for row in rows]
    assert [type(r["setting"]) for r in back] == [type(r["setting"]) for r in rows]
    first = write_reports(rows, tmp_path / "a").read_text()
    assert write_reports(back, tmp_path / "b").read_text() == first


def test_the_script_runs_and_prints_the_table(tmp_path, capsys):
    write_images(tmp_path / "img", 2, (48, 48))
    script = Path(__file__).parents[1] / "bench" / "rd.py"
    spec = importlib.util.spec_from_file_location("rd", script)
    rd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rd)
    argv = [str(tmp_path / "img"), "--codecs", "jpeg,webp", "--out", str(tmp_path / "out")]
    assert rd.main([*argv, "--limit", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| webp |" in printed and "1 image;" in printed
    assert rd.main([*argv, "--codecs", "nope"]) == 2
