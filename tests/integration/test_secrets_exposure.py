"""The stack's secrets stay in their files: after the runs of the tests before this one (a full
Airflow build among them), no generated secret is in the repository, in a log, in a file others
may read, or on a process's command line (which every user of the machine can read); and the
stack's home keeps others out (its secrets directory 0700, each secret 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from core.settings import REPO_DIR, get_settings

pytestmark = pytest.mark.integration
S = get_settings()
MAX_BYTES = 8 * 2**20
SKIP_DIRS = {"jars"}  # downloaded, never written by the stack


def _secrets() -> dict[str, str]:
    folder = S.home / "secrets"
    values = {p.name: p.read_text().strip() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert {"pg_debezium", "kafka_capture", "sql_analyst", "spark_connect_token", "connect_rest"} <= set(values)
    return {name: v for name, v in values.items() if len(v) >= 12}  # a short one would match by chance


def _files_under(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) == S.home and d in SKIP_DIRS)]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_BYTES:
                yield path, st


def _holding(path: Path, values: dict[str, str]) -> list[str]:
    try:
        data = path.read_bytes()
    except (PermissionError, FileNotFoundError):
        return []
    return [name for name, v in values.items() if v.encode() in data]


def test_no_secret_is_in_a_tracked_file():
    values = _secrets()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_DIR, capture_output=True, check=True).stdout
    leaks = {}
    for name in filter(None, tracked.decode().split("\0")):
        path = REPO_DIR / name
        if path.is_file() and (found := _holding(path, values)):
            leaks[name] = found
    assert not leaks, leaks


def test_no_secret_is_in_a_log_or_in_a_file_others_may_read():
    values = _secrets()
    in_logs, readable = {}, {}
    for path, st in _files_under(S.home):
        found = _holding(path, values)
        if not found:
            continue
        if S.log_dir in path.parents:
            in_logs[str(path)] = found
        if st.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            readable[str(path)] = (oct(stat.S_IMODE(st.st_mode)), found)
    assert not in_logs, in_logs
    assert not readable, readable


def test_no_secret_is_on_a_command_line():
    values = _secrets()
    leaks = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if found := [n for n, v in values.items() if v.encode() in cmdline]:
            leaks[proc.name] = (cmdline.replace(b"\0", b" ")[:120].decode(errors="replace"), found)
    assert not leaks, leaks


def test_the_secrets_directory_and_files_are_private():
    folder = S.home / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {"0o600"}, modes


# Run as root, PostgreSQL runs as its own user: it may pass through these (0710, group postgres).
POSTGRES_PATH = ("", "data", "run", "logs")


def test_the_stack_home_keeps_every_other_user_out():
    import grp

    as_root = os.geteuid() == 0
    modes = {}
    for entry in [S.home, *sorted(p for p in S.home.iterdir() if p.is_dir())]:
        name = "" if entry == S.home else entry.name
        st = entry.stat()
        mode = stat.S_IMODE(st.st_mode)
        if as_root and name in POSTGRES_PATH:
            ok = mode == 0o710 and grp.getgrgid(st.st_gid).gr_name == "postgres"
        else:
            ok = mode & 0o077 == 0
        if not ok:
            modes[name or str(S.home)] = oct(mode)
    assert not modes, modes
