"""Options as codec users know them: conflicts refused, exit statuses 0/1/2, -h, --version,
--quiet, --verbose, --json, a summary for batches, and every error line naming its file."""

import json

import pytest
from PIL import Image

from aecodec import __version__
from tests.conftest import smooth_image


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i, name in enumerate(["a.png", "b.png"]):
        Image.fromarray(smooth_image(64, 72, seed=i)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


@pytest.mark.parametrize(
    "options, first, second",
    [
        (["--size", "20KB", "--bpp", "0.5"], "--bpp", "--size"),
        (["--bpp", "0.5", "-q", "30"], "-q/--quality", "--bpp"),
        (["--quality", "30", "--size", "1KB"], "-q/--quality", "--size"),
        (["--quiet", "--verbose"], "--quiet", "--verbose"),
    ],
)
def test_conflicting_options_are_refused_naming_both(cli, photos, options, first, second):
    done = cli("compress", photos[0], *options)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {first} and {second} cannot be used together")
    assert len(done.stderr.splitlines()) == 1 and not photos[0].with_suffix(".aec").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--bpp", "-1"], "--bpp must be a positive number of bits per pixel, not -1"),
        (["--bpp", "0"], "--bpp must be a positive number"),
        (["--bpp", "nan"], "--bpp must be a positive number"),
        (["-q", "101"], "-q/--quality must be between 0 and 100, not 101"),
        (["-q", "nan"], "-q/--quality must be between 0 and 100"),
        (["--size", "0"], "--size must be at least one byte"),
        (["--size", "lots"], "--size: cannot read 'lots'; write for example 40KB"),
        (["--closest"], "--closest applies to a target: give --size or --bpp"),
        (["--max-pixels", "0"], "invalid value for '--max-pixels'"),
        (["--nope"], "no such option: --nope"),
    ],
)
def test_bad_option_values_are_usage_errors(cli, photos, options, message):
    done = cli("compress", photos[0], *options)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {message}")
    assert done.stderr.endswith("(see 'aecodec compress --help')\n")
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_a_target_out_of_reach_fails_unless_the_closest_file_is_asked_for(cli, tiny_codec, photos):
    target = photos[0].with_suffix(".aec")
    done = cli("compress", photos[0], "--weights", tiny_codec, "--size", "30B")
    assert done.returncode == 1 and not target.exists()
    assert done.stderr.startswith(f"error: {photos[0]}: cannot reach 30 bytes: the smallest file")
    assert done.stderr.rstrip().endswith("--closest writes that file anyway")
    done = cli("compress", photos[0], "--weights", tiny_codec, "--size", "30B", "--closest")
    assert done.returncode == 0 and target.exists()
    assert done.stderr.startswith(f"warning: {photos[0]}: cannot reach 30 bytes")


def test_help_version_and_no_arguments(cli):
    assert cli("-h").stdout == cli("--help").stdout and "compress" in cli("-h").stdout
    assert "Exit status: 0 when" in cli("--help").stdout
    assert cli("compress", "-h").stdout == cli("compress", "--help").stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith(f"aecodec {__version__} (")
    bare = cli()
    assert bare.returncode == 2 and "Usage: aecodec" in bare.stdout and bare.stderr == ""


def test_quiet_prints_nothing_but_errors(cli, tiny_codec, photos, tmp_path):
    done = cli("compress", *photos, "--weights", tiny_codec, "-o", tmp_path / "out", "--quiet")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert len(list((tmp_path / "out").iterdir())) == 2
    done = cli("compress", *photos, "--weights", tiny_codec, "-o", tmp_path / "out", "--quiet")
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("error: ") == 2


def test_verbose_adds_the_model_quality_and_time(cli, tiny_codec, photos):
    done = cli("compress", photos[0], "--weights", tiny_codec, "-v")
    assert done.returncode == 0, done.stderr
    assert "quality 75  model hyperprior-tiny" in done.stdout and done.stdout.rstrip().endswith(
        " s"
    )


def test_json_is_one_object_per_file_errors_included(cli, tiny_codec, photos, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    done = cli("compress", photos[0], bad, photos[1], "--weights", tiny_codec,
               "-o", tmp_path / "out", "--json", "-q", "60")  # fmt: skip
    assert done.returncode == 1
    good, failed, second = map(json.loads, done.stdout.splitlines())
    assert good["input"] == str(photos[0]) and good["output"] == str(tmp_path / "out" / "a.aec")
    assert (good["width"], good["height"], good["quality"], good["stored"]) == (72, 64, 60, False)
    assert good["bytes"] == (tmp_path / "out" / "a.aec").stat().st_size
    assert good["bpp"] == pytest.approx(good["bytes"] * 8 / (72 * 64), abs=1e-4)
    assert failed == {"input": str(bad), "error": f"{bad} is not an image Pillow can read"}
    assert second["input"] == str(photos[1]) and second["warnings"] == []
    decoded = cli("decompress", tmp_path / "out" / "a.aec", "--weights", tiny_codec, "--json")
    assert json.loads(decoded.stdout)["mode"] == "RGB"


def test_a_batch_names_the_file_that_failed_goes_on_and_sums_up(cli, tiny_codec, photos, tmp_path):
    assert cli("compress", *photos, "--weights", tiny_codec).returncode == 0
    damaged = bytearray(photos[1].with_suffix(".aec").read_bytes())
    damaged[-10] ^= 0x01
    photos[1].with_suffix(".aec").write_bytes(bytes(damaged))
    packed = [p.with_suffix(".aec") for p in photos]
    done = cli("decompress", *packed, "--weights", tiny_codec, "-o", tmp_path / "out")
    assert done.returncode == 1
    assert done.stderr == f"error: {packed[1]}: checksum mismatch: the file is corrupted\n"
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{packed[0]} -> {tmp_path / 'out' / 'a.png'}  72x64 RGB")
    assert lines[1].startswith("2 files (1 failed) in ") and " bytes in, " in lines[1]


def test_a_batch_on_a_terminal_shows_a_progress_bar(cli, tiny_codec, photos, monkeypatch):
    monkeypatch.setattr("aecodec.options.is_terminal", lambda stream: True)
    done = cli("compress", *photos, "--weights", tiny_codec)
    assert done.returncode == 0 and "2/2" in done.stderr  # drawn, then cleared


def test_info_reads_many_files_and_names_the_bad_one(cli, tiny_codec, photos, tmp_path):
    assert cli("compress", *photos, "--weights", tiny_codec).returncode == 0
    bad = tmp_path / "bad.aec"
    bad.write_bytes(b"\x89AEC\x02")
    packed = [p.with_suffix(".aec") for p in photos]
    done = cli("info", packed[0], bad, packed[1])
    assert done.returncode == 1
    assert done.stdout.count("model: hyperprior-tiny") == 2 and f"{packed[1]}:\n" in done.stdout
    assert done.stderr.startswith(f"error: {bad}: truncated .aec file")
    facts = [json.loads(line) for line in cli("info", *packed, "--json").stdout.splitlines()]
    assert [f["input"] for f in facts] == list(map(str, packed)) and facts[0]["width"] == 72
    assert cli("info", *packed, "--quiet").stdout == ""  # a check of many files: exit 0 or 1


def test_every_command_says_error_in_the_same_words(cli, tmp_path):
    missing = tmp_path / "missing.aec"
    for command in (["decompress", missing], ["info", missing], ["text", "info", missing]):
        done = cli(*command)
        assert done.returncode == 1 and done.stderr.startswith(f"error: cannot read {missing}")
