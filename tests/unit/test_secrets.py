"""The secret store: generated once, 0600 in a 0700 directory, the user's own kept; the Airflow
passwords file is JSON whatever the passwords hold."""

from __future__ import annotations

import json
import stat

import pytest

from core import secrets


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_generated_once_into_a_private_file(tmp_path):
    first = secrets.secret("airflow_admin", tmp_path)
    assert len(first) >= 20 and first == secrets.secret("airflow_admin", tmp_path)
    assert first != secrets.secret("airflow_viewer", tmp_path)
    assert _mode(tmp_path / "secrets") == 0o700
    assert _mode(tmp_path / "secrets" / "airflow_admin") == 0o600


def test_a_secret_the_user_wrote_is_used_and_made_private(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o755)
    (folder / "airflow_admin").write_text('my "own" pass\\word\n')
    (folder / "airflow_admin").chmod(0o644)
    assert secrets.secret("airflow_admin", tmp_path) == 'my "own" pass\\word'
    assert _mode(folder) == 0o700 and _mode(folder / "airflow_admin") == 0o600


@pytest.mark.parametrize("name", ["../etc/passwd", "Admin", "a b", ""])
def test_a_name_that_is_not_a_plain_word_is_refused(tmp_path, name):
    with pytest.raises(secrets.SecretError):
        secrets.secret(name, tmp_path)


def test_an_empty_secret_file_is_an_error_not_an_empty_password(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "airflow_admin").write_text("\n")
    with pytest.raises(secrets.SecretError, match="empty"):
        secrets.secret("airflow_admin", tmp_path)


def test_the_airflow_users_spec_is_parsed_and_checked():
    assert secrets.airflow_users("admin:admin, operator:op,viewer:viewer") == {
        "admin": "admin",
        "operator": "op",
        "viewer": "viewer",
    }
    for bad in ("admin", "admin:root", ":admin", ""):
        with pytest.raises(secrets.SecretError):
            secrets.airflow_users(bad)


def test_the_airflow_passwords_file_is_json_whatever_a_password_holds(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "airflow_admin").write_text('a"b\\c\n')
    out = tmp_path / "passwords.json"
    secrets.write_airflow_passwords(out, "admin:admin,viewer:viewer", tmp_path)
    got = json.loads(out.read_text())
    assert got["admin"] == 'a"b\\c' and got["viewer"] == secrets.secret("airflow_viewer", tmp_path)
    assert _mode(out) == 0o600


def test_writers_racing_for_a_new_secret_all_read_the_same_one(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: secrets.secret("airflow_admin", tmp_path), range(32)))
    assert len(seen) == 1
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["airflow_admin"]  # no temp file left


def test_the_passwords_command_refuses_an_admin_who_is_not_an_admin(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_USERS", "admin:viewer")
    assert secrets.main(["airflow-passwords", str(tmp_path / "p.json")]) == 1
    assert "not an admin" in capsys.readouterr().err
    monkeypatch.setenv("AIRFLOW_USERS", "admin:admin,viewer:viewer")
    assert secrets.main(["airflow-passwords", str(tmp_path / "p.json")]) == 0
    assert set(json.loads((tmp_path / "p.json").read_text())) == {"admin", "viewer"}
