"""The project's private folder `.suitesync/`: made git-ignored, its files readable by their owner only.

It holds the apply lock, the lockfile's backup and the embedded emulator's state, which holds what
the platform holds, secrets included. Like pytest's `.pytest_cache`, the folder ignores itself (a
`.gitignore` holding `*`), so `git add -A` in a user's repository never stages it, whatever their
own `.gitignore` says.
"""

from __future__ import annotations

import os
from pathlib import Path

GITIGNORE = "# Made by suitesync: its private state, never to be committed.\n*\n"
PRIVATE_MODE = 0o600


def ensure_state_dir(path: Path) -> Path:
    """`path`, created if missing (owner-only), with a `.gitignore` that ignores everything in it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        try:
            with open(ignore, "x", encoding="utf-8") as handle:
                handle.write(GITIGNORE)
        except FileExistsError:  # another process made it first: the same content
            pass
    return path


def make_private(path: Path) -> None:
    """Create `path` if missing, readable and writable by its owner only (tightened if it exists)."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_MODE)
    os.close(descriptor)
    os.chmod(path, PRIVATE_MODE)
