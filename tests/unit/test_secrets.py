"""The secret store: generated once, 0600 in a 0700 directory, the user's own kept; the Airflow
passwords file is JSON whatever the passwords hold."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

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


TRICKY = "a'b\"c\\d<e>&f:g=h@i/j%k #l"


def _with_secret(tmp_path, name="pg_x", value=TRICKY):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / "secrets" / name).write_text(value + "\n")
    return tmp_path


def test_a_secret_rendered_into_xml_parses_back_to_itself(tmp_path):
    import xml.etree.ElementTree as ET

    home = _with_secret(tmp_path)
    text = secrets.render_text("<v a='${secret:pg_x}'>${secret:pg_x}</v>", ".xml", {}, home)
    root = ET.fromstring(text)
    assert root.text == TRICKY and root.get("a") == TRICKY


def test_a_secret_rendered_into_json_parses_back_to_itself(tmp_path):
    home = _with_secret(tmp_path)
    text = secrets.render_text('{"p": "${secret:pg_x}", "ref": "$${file:/x:k}"}', ".json", {}, home)
    assert json.loads(text) == {"p": TRICKY, "ref": "${file:/x:k}"}


def test_a_secret_rendered_into_java_properties_loads_back_to_itself(tmp_path):
    # java.util.Properties' rules for a value: backslash escapes, a leading blank is eaten
    value = "  lead\\back"
    home = _with_secret(tmp_path, value=value)
    line = secrets.render_text("k=${secret:pg_x}", ".properties", {}, home)
    assert line == "k=\\  lead\\\\back"


def test_a_secret_in_a_url_is_percent_encoded(tmp_path):
    import urllib.parse

    home = _with_secret(tmp_path)
    url = secrets.render_text("postgresql://u:${secret_url:pg_x}@h:1/db", ".url", {}, home)
    parsed = urllib.parse.urlsplit(url)
    assert (parsed.hostname, parsed.port, parsed.path) == ("h", 1, "/db")
    assert urllib.parse.unquote(parsed.password) == TRICKY


def test_a_secret_in_a_file_format_without_an_escaping_rule_is_refused(tmp_path):
    home = _with_secret(tmp_path)
    with pytest.raises(secrets.SecretError, match="no escaping rule"):
        secrets.render_text("password = '${secret:pg_x}'", ".conf", {}, home)
    assert secrets.render_text("port = ${P}", ".conf", {"P": "5433"}, home) == "port = 5433"


def test_an_unset_variable_or_a_line_break_in_a_line_format_is_an_error(tmp_path):
    with pytest.raises(secrets.SecretError, match="X is not set"):
        secrets.render_text("${X}", ".xml", {}, tmp_path)
    home = _with_secret(tmp_path, value="two\nlines")
    (home / "secrets" / "pg_x").write_text("two\nlines\n")
    with pytest.raises(secrets.SecretError, match="line break"):
        secrets.render_text("K=${secret:pg_x}", ".env", {}, home)


def test_render_writes_a_private_file_and_a_secret_path_points_at_the_store(tmp_path):
    template = tmp_path / "t.env"
    template.write_text("K_CMD=cat ${secret_path:airflow_jwt}\n")
    out = tmp_path / "out" / "t.env"
    secrets.render(template, out, {}, tmp_path)
    assert _mode(out) == 0o600
    path = Path(out.read_text().split("cat ", 1)[1].strip())
    assert path == tmp_path / "secrets" / "airflow_jwt" and _mode(path) == 0o600


def test_a_libpq_value_is_quoted_so_psycopg_reads_it_back():
    from psycopg2.extensions import parse_dsn

    assert parse_dsn(f"user=u password={secrets.libpq_value(TRICKY)}")["password"] == TRICKY


def test_the_scram_verifier_has_postgres_format_and_a_fresh_salt():
    a, b = secrets.scram_sha256("pw"), secrets.scram_sha256("pw")
    assert a != b and a.startswith("SCRAM-SHA-256$4096:")
    salt = base64.b64decode(a.split("$")[1].split(":")[1])
    assert secrets.scram_sha256("pw", salt) == a
