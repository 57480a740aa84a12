import os
import signal
import subprocess
import sys
import time

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


def leftover(folder, pid: int, age_seconds: float, name: str = "photo.aec"):
    path = folder / f".{name}.{pid}.0123abcd{files.TEMP_SUFFIX}"
    path.write_bytes(b"half a file")
    os.utime(path, (time.time() - age_seconds,) * 2)
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_what_a_killed_process_left(tmp_path):
    stale = leftover(tmp_path, dead_pid(), age_seconds=120)
    fresh = leftover(tmp_path, dead_pid(), age_seconds=0, name="other.aec")  # may be mid-write
    alive = leftover(tmp_path, os.getppid(), age_seconds=120, name="third.aec")
    ancient = leftover(tmp_path, os.getppid(), age_seconds=2 * 24 * 3600, name="fourth.aec")
    (tmp_path / ".notes.1.tmp").write_text("not ours")
    atomic_write(tmp_path / "out.aec", b"data")
    assert not stale.exists() and not ancient.exists()
    assert fresh.exists() and alive.exists() and (tmp_path / ".notes.1.tmp").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path, image_path, tiny_model):
    if not tiny_model.endswith("hyperprior-tiny"):
        pytest.skip("one model is enough: the write is the same")
    # The write is slowed at fsync, so the signal lands while the temporary file exists.
    script = (
        "import sys, time, aecodec.files as f, aecodec.cli as cli\n"
        "sync = f.os.fsync\n"
        "f.os.fsync = lambda fd: (time.sleep(30), sync(fd))\n"
        "sys.argv = ['aecodec', *sys.argv[1:]]\n"
        "cli.main()\n"
    )
    target = tmp_path / "out.aec"
    args = ["compress", str(image_path), "--weights", tiny_model, "-o", str(target)]
    child = subprocess.Popen([sys.executable, "-c", script, *args], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not list(tmp_path.glob(f"*{files.TEMP_SUFFIX}")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(f"*{files.TEMP_SUFFIX}")), "the write never started"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == [image_path.name]
