"""The LDAP seed: the pipeline's login under ou=services, the people's under ou=people, every
password as a salted hash that verifies and never in clear."""

from __future__ import annotations

import base64
import hashlib

import pytest

from core import directory


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    return tmp_path


def _entries(ldif: str) -> dict[str, dict[str, list[str]]]:
    entries = {}
    for block in ldif.strip().split("\n\n"):
        attrs: dict[str, list[str]] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            attrs.setdefault(key, []).append(value)
        entries[attrs["dn"][0]] = attrs
    return entries


def test_each_user_sits_under_the_branch_of_its_endpoint():
    entries = _entries(directory.seed_ldif())
    assert f"uid=pipeline,{directory.SERVICES}" in entries
    assert {f"uid={u},{directory.PEOPLE}" for u in ("analyst", "governance")} <= set(entries)
    assert entries[f"cn=analyst,{directory.GROUPS}"]["member"] == [f"uid=analyst,{directory.PEOPLE}"]


def test_passwords_are_salted_hashes_that_verify_and_never_clear_text():
    ldif = directory.seed_ldif()
    for user in directory.SQL_USERS:
        password = directory.password(user)
        assert password not in ldif
        (stored,) = _entries(ldif)[directory.user_dn(user)]["userPassword"]
        raw = base64.b64decode(stored.removeprefix("{SSHA}"))
        digest, salt = raw[:20], raw[20:]
        assert stored.startswith("{SSHA}") and hashlib.sha1(password.encode() + salt).digest() == digest


def test_an_unknown_user_has_no_password():
    with pytest.raises(ValueError, match="unknown SQL user"):
        directory.password("someone")
