"""Writing output files so that a crash, a full disk or Ctrl-C never leaves half a file in place.

Data goes to a temporary file beside the target, then is renamed over it. The temporary file is
removed on every exit the process sees (errors, Ctrl-C, and SIGTERM, which the CLI turns into an
exit); one left by a process that was killed outright is recognisable by its name,
`.TARGET.PID.RANDOM.aecodec-tmp`, and the next write into that folder removes it.
"""

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from aecodec.errors import AecodecError, OutputExists


def check_output(path: Path, force: bool = False) -> None:
    """Raise unless `path` can be written; cheap, so callers can fail before any slow work."""
    path = Path(path)
    if path.is_dir():
        raise AecodecError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise AecodecError(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.exists() and not force:
        raise OutputExists(f"{path} exists; use --force to overwrite")


def atomic_write(path: Path, data: bytes, force: bool = False) -> None:
    """Write `data` to `path` all at once: readers see the old file or the new one, never a part.

    Without `force`, an existing file is refused; a file that appears between that check and the
    final rename is still replaced (the check is for users, not a lock).
    """
    with atomic_file(path, force) as file:
        try:
            file.write(data)
        except OSError as error:  # a full disk, say
            raise _cannot_write(path, error) from error


@contextlib.contextmanager
def atomic_file(path: Path, force: bool = False) -> Iterator[BinaryIO]:
    """A file to stream `path`'s content into: put in place when the block ends, removed if it
    raises, so that readers see the old file or the whole new one (as atomic_write). Errors in
    the block pass as they are; those of creating, syncing and renaming say they are ours."""
    path = Path(path)
    check_output(path, force)
    if path.parent.resolve() not in _tidied:  # once per folder: a batch writes many files there
        remove_leftovers(path.parent)
        _tidied.add(path.parent.resolve())
    # Same folder as the target, so os.replace is a rename within one file system (atomic).
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        # O_EXCL never reuses a stranger's file; 0o666 lets the umask decide, as open() would
        # (mkstemp would leave the output readable by its owner only).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        file = os.fdopen(os.open(temp, flags, 0o666), "wb")
    except OSError as error:
        raise _cannot_write(path, error) from error
    written = False
    try:
        with file:
            yield file
            written = True
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if written and isinstance(error, OSError):
            raise _cannot_write(path, error) from error
        raise
    _sync_folder(path.parent)


def _cannot_write(path: Path, error: OSError) -> AecodecError:
    return AecodecError(f"cannot write {path}: {error.strerror or error}")


TEMP_SUFFIX = ".aecodec-tmp"
_TEMP_NAME = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX))
# A temporary file lives for the seconds a write takes. One older than a minute whose process is
# gone here was left by a kill; the age also spares writers on other hosts of a shared folder.
_STALE_SECONDS, _ABANDONED_SECONDS = 60, 24 * 3600
_tidied: set[Path] = set()  # folders this process has already cleaned


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files that killed aecodec processes left in `folder`."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP_NAME.fullmatch(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
                gone = age > _STALE_SECONDS and not _running(int(match[1]))
                if gone or age > _ABANDONED_SECONDS:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a pid this system cannot have: leave it
    return True


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk. Windows cannot open a
    # folder, and some file systems refuse to fsync one: the data itself is already safe.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
