"""Where the command line reads and writes: output folders, standard input and output (pipes),
image formats and their quality, and tiny images that come back exact."""

import io

import numpy as np
import pytest
from PIL import Image

from aecodec import bitstream
from tests.conftest import smooth_image


@pytest.fixture
def photos(tmp_path):
    """Two photos just over the size that is stored instead of coded, and a one-pixel one."""
    paths = []
    for i, name in enumerate(["a.png", "b.png"]):
        Image.fromarray(smooth_image(64, 72, seed=i)).save(tmp_path / name)
        paths.append(tmp_path / name)
    Image.fromarray(np.array([[[200, 100, 50]]], np.uint8)).save(tmp_path / "dot.png")
    return paths


@pytest.mark.parametrize("output", ["out/", "out"])
def test_many_inputs_go_into_a_folder_that_is_created(cli, tiny_codec, photos, tmp_path, output):
    done = cli("compress", *photos, "--weights", tiny_codec, "-o", tmp_path / output)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.aec", "b.aec"]


def test_one_input_into_a_new_folder_by_its_slash(cli, tiny_codec, photos, tmp_path):
    done = cli("compress", photos[0], "--weights", tiny_codec, "-o", f"{tmp_path}/new/deeper/")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new" / "deeper" / "a.aec").is_file()
    done = cli("compress", photos[0], "--weights", tiny_codec, "-o", tmp_path / "x" / "named.aec")
    assert done.returncode == 0 and (tmp_path / "x" / "named.aec").is_file()


def test_several_inputs_never_write_one_file_twice(cli, tiny_codec, photos, tmp_path):
    (tmp_path / "sub").mkdir()
    twin = tmp_path / "sub" / "a.png"
    twin.write_bytes(photos[0].read_bytes())
    done = cli("compress", photos[0], twin, "--weights", tiny_codec, "-o", tmp_path / "out/")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {photos[0]} and {twin} would both be written to ")
    assert not (tmp_path / "out").exists()  # refused before anything was made
    (tmp_path / "file").write_text("x")
    done = cli("compress", *photos, "--weights", tiny_codec, "-o", tmp_path / "file")
    assert done.returncode == 2 and f"{tmp_path / 'file'} is a file, not a folder" in done.stderr


def test_a_pipe_through_compress_and_decompress(cli, tiny_codec, photos):
    done = cli("compress", "-", "-o", "-", "--weights", tiny_codec, input=photos[0].read_bytes())
    assert done.returncode == 0, done.stderr
    header, _ = bitstream.unpack(done.stdout_bytes)  # the file itself, alone on stdout
    assert (header.width, header.height) == (72, 64)
    assert done.stderr.startswith("standard input -> standard output  ")
    png = cli("decompress", "-", "-o", "-", "--weights", tiny_codec, input=done.stdout_bytes)
    assert png.returncode == 0, png.stderr
    with Image.open(io.BytesIO(png.stdout_bytes)) as image:
        assert image.format == "PNG" and image.size == (72, 64)
    webp = cli("decompress", "-", "-o", "-", "--format", "webp", "-q", "50",
               "--weights", tiny_codec, input=done.stdout_bytes)  # fmt: skip
    with Image.open(io.BytesIO(webp.stdout_bytes)) as image:
        assert image.format == "WEBP"
    info = cli("info", "-", input=done.stdout_bytes)
    assert info.returncode == 0 and "width: 72" in info.stdout


def test_bad_data_on_standard_input_is_named_so(cli, tiny_codec):
    done = cli("decompress", "-", "-o", "-", "--weights", tiny_codec, input=b"GIF89a...")
    assert done.returncode == 1 and done.stdout_bytes == b""
    assert done.stderr == "error: standard input: not an .aec file (wrong magic bytes)\n"
    done = cli("compress", "-", "-o", "-", "--weights", tiny_codec, input=b"no image")
    assert done.stderr == "error: standard input is not an image Pillow can read\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["-"], "standard input needs -o"),
        (["-", "-", "-o", "out/"], "- (standard input) must be the only input"),
        (["A", "B", "-o", "-"], "-o - writes one file to standard output; 2 inputs given"),
        (["A", "-o", "-", "--json"], "--json and -o - cannot be used together"),
    ],
)
def test_standard_streams_used_wrongly_are_usage_errors(cli, photos, args, message):
    args = [str(photos[0]) if a == "A" else str(photos[1]) if a == "B" else a for a in args]
    done = cli("compress", *args)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {message}")
    assert done.stderr.endswith("(see 'aecodec compress --help')\n")


def test_binary_data_is_not_written_to_a_terminal(cli, photos, monkeypatch):
    monkeypatch.setattr("aecodec.options.is_terminal", lambda stream: True)
    done = cli("compress", photos[0], "-o", "-")
    assert done.returncode == 2 and "would write binary data to the terminal" in done.stderr


@pytest.fixture
def packed(cli, tiny_codec, photos):
    done = cli("compress", photos[0], "--weights", tiny_codec)
    assert done.returncode == 0, done.stderr
    return photos[0].with_suffix(".aec")


def test_decompress_writes_lossy_formats_at_the_quality_asked(cli, tiny_codec, packed, tmp_path):
    def size(name: str, *options: str) -> int:
        done = cli("decompress", packed, "--weights", tiny_codec, "-o", tmp_path / name, *options)
        assert done.returncode == 0, done.stderr
        with Image.open(tmp_path / name) as image:
            assert image.size == (72, 64)
        return (tmp_path / name).stat().st_size

    assert size("q30.webp", "-q", "30") < size("lossless.webp") / 2
    assert size("q30.jpg", "--quality", "30") < size("default.jpg")
    assert size("q30.avif", "-q", "30") < size("default.avif")
    pytest.importorskip("pillow_jxl")
    assert size("q30.jxl", "-q", "30") < size("lossless.jxl")


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "x.png", "-q", "50"], "a quality applies to .webp, .jpg, .jpeg, .avif, .jxl"),
        (["-o", "x.xyz"], "unknown image extension '.xyz'"),
        (["-o", "x.png", "--format", "webp"], "--format webp and -o x.png name different"),
        (["--format", "gif"], "unknown image extension '.gif'"),
        (["-q", "101", "-o", "x.jpg"], "invalid value for '-q' / '--quality'"),
    ],
)
def test_output_formats_asked_wrongly_are_usage_errors(cli, packed, args, message, monkeypatch):
    monkeypatch.chdir(packed.parent)
    done = cli("decompress", packed, *args)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (packed.parent / "x.png").exists()


def test_a_one_pixel_image_costs_21_bytes_and_comes_back_exact(cli, photos, tmp_path):
    dot = tmp_path / "dot.png"
    done = cli("compress", dot, "--check")  # the shipped model, which cannot do better
    assert done.returncode == 0, done.stderr
    assert "21 bytes" in done.stdout and "pixels stored exactly" in done.stdout
    assert done.stdout.rstrip().endswith("exact")
    assert dot.with_suffix(".aec").stat().st_size == 21
    assert (
        "model: none (the pixels are stored exactly)" in cli("info", dot.with_suffix(".aec")).stdout
    )
    back = cli("decompress", dot.with_suffix(".aec"), "-o", tmp_path / "back.png")
    assert back.returncode == 0, back.stderr
    with Image.open(tmp_path / "back.png") as image:
        assert np.asarray(image).tolist() == [[[200, 100, 50]]]
