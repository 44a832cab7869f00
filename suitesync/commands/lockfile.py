"""`suitesync lockfile merge BASE OURS THEIRS`: git's merge driver for lockfiles -> a MergeResult.

Git passes the common ancestor, our version and theirs as temporary files (%O %A %B) and takes
the result from OURS; an exit code other than 0 marks the file as conflicted.
"""

from __future__ import annotations

from pathlib import Path

from suitesync.lockfile import Lockfile, read_lockfile, write_lockfile
from suitesync.lockmerge import MergeResult, merge_lockfiles


def merge(base: Path, ours: Path, theirs: Path) -> MergeResult:
    """Merge the three versions and write the result over OURS (atomically), conflicts or not:
    a conflicted result keeps our entry for each conflicting id, so the file stays valid."""
    result = merge_lockfiles(_read_version(base), _read_version(ours), _read_version(theirs))
    write_lockfile(result.lockfile, ours)
    return result


def _read_version(path: Path) -> Lockfile:
    """One side of the merge; an empty file is a side that had no lockfile (git passes one for a
    file added on both branches)."""
    if path.exists() and path.stat().st_size == 0:
        return Lockfile.new()
    return read_lockfile(path)
