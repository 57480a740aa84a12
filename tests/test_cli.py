"""The command line as a user meets it: one line per file, one error line and exit 1."""

import subprocess
import sys
from pathlib import Path

import pytest

from aecodec.cli import app

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_the_installed_command_reports_bad_input_in_one_line(tmp_path):
    (tmp_path / "bad.aec").write_bytes(b"GIF89a" + bytes(40))
    done = subprocess.run(
        [sys.executable, "-m", "aecodec", "decompress", str(tmp_path / "bad.aec")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    path = tmp_path / "bad.aec"
    assert done.stderr.strip() == f"error: {path}: not an .aec file (wrong magic bytes)"


def test_compress_info_decompress(cli, tiny_model, image_path):
    done = cli("compress", image_path, "--weights", tiny_model, "-q", "80", "--check")
    assert done.returncode == 0, done.stderr
    assert "bytes" in done.stdout and "bpp" in done.stdout and "PSNR" in done.stdout
    packed = image_path.with_suffix(".aec")
    info = cli("info", packed)
    assert "tiny" in info.stdout and "56" in info.stdout and "40" in info.stdout
    out = image_path.parent / "restored.webp"
    done = cli("decompress", packed, "--weights", tiny_model, "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.exists()
    fast = image_path.parent / "fast.png"
    done = cli("decompress", packed, "--weights", tiny_model, "-o", fast, "--fast")
    assert done.returncode == 0, done.stderr
    assert fast.exists()


def test_many_files_into_a_folder(cli, tiny_model, image_path, tmp_path):
    second = tmp_path / "second.png"
    second.write_bytes(image_path.read_bytes())
    (tmp_path / "out").mkdir()
    done = cli("compress", image_path, second, "--weights", tiny_model, "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("2 files in ")  # and a summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo.aec", "second.aec"]


def test_existing_output_is_kept_without_force(cli, tiny_model, image_path):
    target = image_path.with_suffix(".aec")
    target.write_bytes(b"precious")
    done = cli("compress", image_path, "--weights", tiny_model)
    assert done.returncode == 1 and "--force" in done.stderr
    assert target.read_bytes() == b"precious"
    assert cli("compress", image_path, "--weights", tiny_model, "--force").returncode == 0
    assert target.read_bytes() != b"precious"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("not an image"), "not an image"),
        (lambda p: p.write_bytes(b"\x89AEC\x01"), "truncated"),
        (lambda p: p.write_bytes(b"GIF89a" + bytes(40)), "not an .aec file"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_1(cli, tmp_path, make, message):
    bad = tmp_path / "bad.aec"
    make(bad)
    command = "compress" if message == "not an image" else "decompress"
    done = cli(command, bad, "-o", tmp_path / "out.png")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_every_command_has_help_and_appears_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert command.callback.__doc__, f"{name} has no help text"
        assert f"aecodec {name}" in readme, f"README does not show `aecodec {name}`"


@pytest.mark.parametrize(
    "text, size", [("40KB", 40_000), ("1.5 MiB", 1_572_864), ("512", 512), ("2mb", 2_000_000)]
)
def test_sizes_read_with_units(text, size):
    from aecodec.cli import parse_size

    assert parse_size(text) == size


def test_max_pixels_refuses_large_images_and_files_in_one_line(cli, tiny_model, image_path):
    done = cli("compress", image_path, "--weights", tiny_model, "--max-pixels", "1000")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {image_path} is 56x40 = 2240 pixels, over the 1000-pixel limit "
        "(allow more with --max-pixels)"
    )
    assert cli("compress", image_path, "--weights", tiny_model).returncode == 0
    packed = image_path.with_suffix(".aec")
    out = image_path.with_name("out.png")
    done = cli("decompress", packed, "--weights", tiny_model, "--max-pixels", "1000", "-o", out)
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.strip().startswith(f"error: {packed}: the file is 56x40 = 2240 pixels")


def test_a_file_needs_its_model_installed_or_its_weights_given(cli, tiny_model, image_path):
    assert cli("compress", image_path, "--weights", tiny_model).returncode == 0
    done = cli("decompress", image_path.with_suffix(".aec"), "-o", image_path.with_name("o.png"))
    assert done.returncode == 1
    assert f"codec model '{Path(tiny_model).name}' is not installed" in done.stderr
    assert "--weights PATH" in done.stderr and len(done.stderr.strip().splitlines()) == 1
