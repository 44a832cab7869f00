"""Every file suitesync writes is replaced atomically: a full disk, a read-only folder or a kill
leaves the original byte-identical, with one located error and no temporary file behind.

A full disk is made for real: a 1 MiB tmpfs filled to the last page (the tests run as root in
CI). Where mounting is not permitted, RLIMIT_FSIZE = 0 in the child makes every write fail with
EFBIG, as a full disk fails it with ENOSPC. A read-only folder is a read-only bind mount, else
`chattr +i` on the folder (chmod does not stop root), else chmod 0555 when not root.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from suitesync.atomic import TEMP_SUFFIX, WriteError, write_atomic
from suitesync.emulator import Emulator

from conftest import EXAMPLES, assert_no_canary

UNFORMATTED = "agent: D5D0p7TUs66TTAEAx\ncases:\n" + "".join(
    f"- {{id: c{n}, userPrompt: customer {n}, successCriteria: helped {n}}}\n" for n in range(200)
)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


class FullDisk:
    """A folder on a disk that is full: `fill()` takes its last free byte (tmpfs), or the child
    process may not grow any file (RLIMIT_FSIZE = 0)."""

    def __init__(self, root: Path, mechanism: str) -> None:
        self.root = root
        self.mechanism = mechanism

    def fill(self) -> None:
        if self.mechanism != "tmpfs":
            return
        with open(self.root / "filler", "wb", buffering=0) as handle:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError:
                    continue

    def run(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        def limit() -> None:
            if self.mechanism == "rlimit":
                resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

        return _suitesync(*args, cwd=cwd, preexec=limit, **env)


def _suitesync(*args: str, cwd: Path, preexec: object = None, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "suitesync", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,  # type: ignore[arg-type]
        check=False,
    )
    assert_no_canary(result.stdout + result.stderr)
    return result


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    root = tmp_path / "disk"
    root.mkdir()
    if _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)):
        try:
            yield FullDisk(root, "tmpfs")
        finally:
            _mount_off(root)
    else:
        yield FullDisk(root, "rlimit")


def _mount_off(root: Path) -> None:
    subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)


@contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """`folder` made read-only for real while inside; yields the mechanism used."""
    if _mount("--bind", str(folder), str(folder)):
        if _mount("-o", "remount,ro,bind", str(folder)):
            try:
                yield "read-only bind mount"
            finally:
                _mount_off(folder)
            return
        _mount_off(folder)
    if os.geteuid() == 0 and _chattr("+i", folder):
        try:
            yield "chattr +i"
        finally:
            _chattr("-i", folder)
        return
    if os.geteuid() == 0:
        pytest.skip("no way to make a folder read-only for root here (mount and chattr refused)")
    folder.chmod(0o555)
    try:
        yield "chmod 0555"
    finally:
        folder.chmod(0o755)


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(TEMP_SUFFIX) or p.name.endswith(".tmp")]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "filler"
    }


# --- a full disk ------------------------------------------------------------------------------------


def test_fmt_on_a_full_disk_leaves_the_file_byte_identical(full_disk: FullDisk) -> None:
    suite = full_disk.root / "a.yaml"
    suite.write_text(UNFORMATTED)  # larger than any page left
    full_disk.fill()
    result = full_disk.run("fmt", "a.yaml", cwd=full_disk.root)
    assert result.returncode == 1, result.stderr
    assert suite.read_text() == UNFORMATTED
    lines = result.stderr.splitlines()
    assert lines[0].startswith("a.yaml: not formatted: cannot write: "), result.stderr
    assert lines[0].endswith("; nothing in it was changed")
    assert "Traceback" not in result.stderr
    assert _temporaries(full_disk.root) == []


def test_plan_out_and_junit_on_a_full_disk_fail_cleanly(full_disk: FullDisk) -> None:
    project = full_disk.root / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".suitesync", "*.lock", "ci"))
    (project / "plan.json").write_text("the previous plan\n")
    full_disk.fill()
    result = full_disk.run("plan", "--no-refresh", "--out", "plan.json", cwd=project)
    assert result.returncode == 1, result.stderr
    assert (project / "plan.json").read_text() == "the previous plan\n"
    assert "plan.json: cannot write: " in result.stderr and "Traceback" not in result.stderr
    assert _temporaries(full_disk.root) == []


def test_apply_on_a_full_disk_sends_nothing_and_keeps_the_lockfile(
    full_disk: FullDisk, emulator: Emulator
) -> None:
    project = full_disk.root / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".suitesync", "*.lock", "ci"))
    for agent in ("D5D0p7TUs66TTAEAx", "SPIlVscbB0kkXBvZa"):
        emulator.store.add_agent(agent)
    from suitesync.statedir import ensure_state_dir

    ensure_state_dir(project / ".suitesync")  # as any earlier apply leaves it
    (project / ".suitesync" / "apply.lock").touch()
    from suitesync.lockfile import Lockfile, write_lockfile

    write_lockfile(Lockfile.new(), project / "suitesync.lock")  # the intents must go in it first
    before = _snapshot(project)
    full_disk.fill()
    result = full_disk.run("apply", "--auto-approve", cwd=project, SIGMAMIND_BASE_URL=emulator.url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert [r for r in emulator.requests() if r["method"] != "GET"] == []
    assert _snapshot(project) == before
    assert "error: cannot write the lockfile" in result.stderr, result.stderr
    assert _temporaries(full_disk.root) == []


# --- a read-only folder -----------------------------------------------------------------------------


def test_fmt_in_a_read_only_folder_is_one_located_line(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    folder.mkdir()
    suite = folder / "a.yaml"
    suite.write_text(UNFORMATTED)
    with read_only(folder) as how:
        result = _suitesync("fmt", "suites/a.yaml", cwd=tmp_path)
    assert result.returncode == 1, (how, result.stderr)
    assert suite.read_text() == UNFORMATTED
    assert result.stderr.splitlines()[0].startswith("suites/a.yaml: not formatted: cannot write: "), how
    assert "Traceback" not in result.stderr


def test_apply_with_a_read_only_lockfile_folder_sends_nothing(tmp_path: Path, emulator: Emulator) -> None:
    shared = tmp_path / "shared"
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".suitesync", "*.lock", "ci"))
    config = project / "suitesync.yaml"
    config.write_text(
        config.read_text().replace("lockfile: suitesync.lock", "lockfile: ../shared/suitesync.lock")
    )
    for agent in ("D5D0p7TUs66TTAEAx", "SPIlVscbB0kkXBvZa"):
        emulator.store.add_agent(agent)
    shared.mkdir()
    with read_only(shared) as how:
        result = _suitesync("apply", "--auto-approve", cwd=project, SIGMAMIND_BASE_URL=emulator.url)
    assert result.returncode == 1, (how, result.stderr)
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, result.stderr
    assert error[0].startswith(f"error: {shared / '.suitesync'}"), result.stderr
    assert "nothing was changed" in error[0]
    assert [r for r in emulator.requests() if r["method"] != "GET"] == [], how
    assert not (shared / "suitesync.lock").exists()


def test_import_into_a_read_only_folder_writes_nothing(tmp_path: Path, emulator: Emulator) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".suitesync", "*.lock", "ci"))
    agent = "D5D0p7TUs66TTAEAx"
    emulator.store.add_agent(agent)
    emulator.store.add_agent("SPIlVscbB0kkXBvZa")
    body = {"agentId": agent, "userPrompt": "p", "successCriteria": "s", "label": "Made by hand"}
    import httpx

    made = httpx.post(f"{emulator.url}/v1/test-cases", json=body, headers={"X-API-Key": "k"})
    assert made.status_code == 201
    folder = project / "suites" / "support"
    before = _snapshot(project)
    with read_only(folder) as how:
        result = _suitesync(
            "import",
            "--agent",
            "support",
            "--into",
            "suites/support/new.yaml",
            cwd=project,
            SIGMAMIND_BASE_URL=emulator.url,
        )
    assert result.returncode == 1, (how, result.stderr)
    assert "suites/support/new.yaml: cannot write: " in result.stderr and "Traceback" not in result.stderr
    after = _snapshot(project)
    assert {k: v for k, v in after.items() if not k.startswith(".suitesync/")} == before


# --- the write itself -------------------------------------------------------------------------------


def test_a_symlinked_lockfile_is_written_through_and_the_link_kept(tmp_path: Path) -> None:
    from suitesync.lockfile import Lockfile, write_lockfile

    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "team.lock"
    real.write_text("{}\n")
    link = tmp_path / "suitesync.lock"
    link.symlink_to("shared/team.lock")
    write_lockfile(Lockfile("0" * 32, 7), link)
    assert link.is_symlink() and os.readlink(link) == "shared/team.lock"
    assert '"serial": 7' in real.read_text()


def test_the_original_mode_is_kept_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept.yaml"
    kept.write_text("old")
    kept.chmod(0o640)
    write_atomic(kept, b"new")
    assert (kept.read_bytes(), kept.stat().st_mode & 0o777) == (b"new", 0o640)
    old_umask = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.yaml", b"x")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.yaml").stat().st_mode & 0o777 == 0o640


def test_a_failed_write_names_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("original")
    (tmp_path / "a.yaml.dir").mkdir()
    with pytest.raises(WriteError, match=r"a\.yaml\.dir: cannot write: Is a directory; nothing in it"):
        write_atomic(tmp_path / "a.yaml.dir", b"x")
    assert _temporaries(tmp_path) == []


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from suitesync import atomic
real = atomic.os.replace
def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)  # killed between the temporary's fsync and the rename
atomic.os.replace = die
atomic.write_atomic(Path(sys.argv[1]), b"half of a new version")
"""


def test_a_killed_writer_leaves_the_original_and_its_temporary_goes_on_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "suitesync.lock"
    target.write_text("the original\n")
    child = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=False, timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert target.read_text() == "the original\n"
    left = _temporaries(tmp_path)
    assert len(left) == 1 and left[0].name.startswith(".suitesync.lock.")  # the dead writer's
    alive = tmp_path / f".other.{os.getpid()}-0123abcd{TEMP_SUFFIX}"  # a live writer's: kept
    alive.write_text("in flight")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from suitesync.atomic import write_atomic;"
            " write_atomic(Path(sys.argv[1]), b'next run\\n')",
            str(target),
        ],
        check=True,
        timeout=60,
    )
    assert target.read_text() == "next run\n"
    assert _temporaries(tmp_path) == [alive]


def test_fmt_writes_a_symlinked_suite_through_to_its_target(tmp_path: Path) -> None:
    from conftest import run_cli

    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "a.yaml"
    real.write_text(UNFORMATTED)
    real.chmod(0o600)
    link = tmp_path / "a.yaml"
    link.symlink_to("shared/a.yaml")
    result = run_cli("fmt", "a.yaml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == "shared/a.yaml"
    assert real.read_text() != UNFORMATTED and "\n  - {id: c0," in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o600
