import os

import pytest

from aecodec import files
from aecodec.errors import AecodecError, OutputExists
from aecodec.files import atomic_write, check_output


def test_writes_the_bytes(tmp_path):
    atomic_write(tmp_path / "out.aec", b"hello")
    assert (tmp_path / "out.aec").read_bytes() == b"hello"
    assert os.listdir(tmp_path) == ["out.aec"]


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    target = tmp_path / "out.aec"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExists, match="out.aec exists; use --force to overwrite"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"precious"


def test_force_overwrites(tmp_path):
    target = tmp_path / "out.aec"
    target.write_bytes(b"old")
    atomic_write(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.aec"]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch, step):
    target = tmp_path / "out.aec"
    target.write_bytes(b"old")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, step, disk_full)
    with pytest.raises(AecodecError, match="cannot write .*out.aec: No space left on device"):
        atomic_write(target, b"new", force=True)
    assert os.listdir(tmp_path) == ["out.aec"]
    assert target.read_bytes() == b"old"


def test_interrupted_write_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "out.aec", b"data")
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(AecodecError, match="the folder .*nowhere does not exist"):
        atomic_write(tmp_path / "nowhere" / "out.aec", b"data")


def test_folder_as_output_is_refused(tmp_path):
    with pytest.raises(AecodecError, match="it is a folder"):
        check_output(tmp_path, force=True)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_file_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "out.aec", b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "out.aec").stat().st_mode & 0o777 == 0o644
