"""The commit-msg hook refuses a subject over 72 characters and a body glued to the subject."""

from __future__ import annotations

import subprocess

import pytest

from core.settings import REPO_DIR

HOOK = REPO_DIR / "infra" / "hooks" / "commit-msg"


def _check(tmp_path, message: str) -> subprocess.CompletedProcess:
    f = tmp_path / "COMMIT_EDITMSG"
    f.write_text(message)
    return subprocess.run([str(HOOK), str(f)], capture_output=True, text=True)


@pytest.mark.parametrize(
    "message",
    [
        "cdc: land each topic in one commit\n",
        "cdc: land each topic in one commit\n\nWhy, and the figures: 35k records/s.\n",
        "x" * 72 + "\n\nbody\n",
        "docs: a subject\n# Please enter the commit message (git's comment)\n",
    ],
)
def test_a_good_message_passes(tmp_path, message):
    done = _check(tmp_path, message)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("x" * 73 + "\n", "73 characters"),
        ("cdc: subject\nbody glued to it\n", "second line must be blank"),
        ("\n\nbody only\n", "no subject"),
    ],
)
def test_a_bad_message_is_refused_with_the_reason(tmp_path, message, reason):
    done = _check(tmp_path, message)
    assert done.returncode == 1
    assert reason in done.stderr
