"""Every file suitesync writes goes through `write_atomic`: a reader sees the old file or the new
one, never half of one, whatever happens (a full disk, a kill, a power cut).

The bytes go to a temporary file in the target's own directory (a rename is atomic only within
one filesystem), which is flushed to disk, given the original file's mode, and renamed over the
target; then the directory itself is flushed, so the rename survives a power cut. A symlink is
written through: its target is replaced and the link kept (a lockfile linked from a shared
folder stays shared). Temporary names carry the writer's pid and a recognisable suffix, so a
temporary file left by a killed process is removed by the next write into that directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import threading
from pathlib import Path

from suitesync.errors import SuitesyncError

TEMP_SUFFIX = ".suitesync-tmp"
_TEMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")
_cleaned: set[str] = set()  # directories already swept of stale temporaries by this process
_cleaned_guard = threading.Lock()


class WriteError(SuitesyncError, OSError):
    """A file could not be written; it was left exactly as it was.

    Also an OSError, so that code which handles a failing disk (the lockfile writer thread) still
    recognises it.
    """


def write_atomic(
    path: Path, data: bytes, *, new_mode: int | None = None, shown: str | Path | None = None
) -> None:
    """Replace `path` with `data` atomically, keeping its mode (a new file gets `new_mode`, else
    the usual 0666 less the umask). A failure raises WriteError naming the file (as `shown`, if
    given); the original stays byte-identical and no temporary file is left behind."""
    target = Path(os.path.realpath(path))  # through any symlinks: the link itself is kept
    remove_stale_temporaries(target.parent)
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        _write_temporary(temporary, data, _mode_for(target, new_mode))
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise WriteError(cannot_write(shown or path, exc), hint=write_hint(exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_directory(target.parent)


def check_writable(directory: Path, shown: str | Path) -> None:
    """Raise WriteError unless a file can be made in `directory` (made and removed at once):
    asked before anything is sent or written, so that a read-only folder fails with nothing done."""
    directory = Path(os.path.realpath(directory))
    probe = directory / f".probe.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise WriteError(cannot_write(shown, exc), hint=write_hint(exc)) from None
    os.close(descriptor)
    with contextlib.suppress(OSError):
        probe.unlink()


def cannot_write(path: str | Path, exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"{path}: cannot write: {reason}; nothing in it was changed"


def write_hint(exc: OSError) -> str | None:
    """What to do about a failed write, by its cause."""
    return {
        errno.ENOSPC: "free some disk space, then run the command again",
        errno.EDQUOT: "free some disk space (quota), then run the command again",
        errno.EFBIG: "the file size limit (ulimit -f) is too low for it",
        errno.EROFS: "the filesystem is mounted read-only: run where it can be written",
        errno.EACCES: "check the permissions of the file and its folder",
        errno.EPERM: "check the permissions and attributes (chattr) of the file and its folder",
    }.get(exc.errno or 0)


def _mode_for(target: Path, new_mode: int | None) -> int:
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        if new_mode is not None:
            return new_mode
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_temporary(temporary: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fchmod(stream.fileno(), mode)  # after writing: a private file is never readable half-made
        os.fsync(stream.fileno())


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temporaries(directory: Path) -> None:
    """Remove the temporary files that processes no longer running left in `directory` (once per
    directory and process: a killed writer's leftovers go on the next run)."""
    key = str(directory)
    with _cleaned_guard:
        if key in _cleaned:
            return
        _cleaned.add(key)
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.name.endswith(TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is not None and not _running(int(match.group(1))):
            with contextlib.suppress(OSError):
                (directory / name).unlink()


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OverflowError:
        return False
    return True
