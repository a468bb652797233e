"""One home for settings: ``infra/*.env`` parsed the same way by the shell and by Python, every
environment variable a typed field, read when asked (not when a module is imported)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import fields

import pytest

from core.settings import (
    ENV_VARS,
    INFRA_DIR,
    Settings,
    SettingsError,
    get_settings,
    override_settings,
    parse_env_lines,
    read_env_file,
    settings_env,
)

TRICKY = r"""# a comment
   # an indented comment

PLAIN=value
DOLLAR=pa$$word$HOME${USER}
SPACES="-Xms256m -Xmx512m"
SINGLE='it is $literal'
INNER_QUOTES="a"b"
BACKSLASH=C:\path\n
EMPTY=
EQUALS=a=b=c
HASH=not#a#comment
BACKTICK=`whoami`$(id)
"""


def _shell_parse(path) -> dict[str, str]:
    """What infra/lib.sh's load_env_file exports from ``path`` (in a clean environment)."""
    script = (
        f'source <(sed -n "/^load_env_file()/,/^}}/p" {INFRA_DIR / "lib.sh"}); '
        f'load_env_file {path} && python3 -c "import json, os, sys; '
        f'print(json.dumps({{k: os.environ[k] for k in sys.argv[1:]}}))" "$@"'
    )
    keys = list(parse_env_lines(path.read_text()))
    out = subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "bash", "-c", script, "-", *keys],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_shell_and_python_read_the_same_values(tmp_path):
    f = tmp_path / "tricky.env"
    f.write_text(TRICKY)
    python = parse_env_lines(f.read_text())
    assert python["DOLLAR"] == "pa$$word$HOME${USER}"
    assert python["SPACES"] == "-Xms256m -Xmx512m"
    assert python["SINGLE"] == "it is $literal"
    assert python["INNER_QUOTES"] == 'a"b'
    assert python["BACKSLASH"] == r"C:\path\n"
    assert python["EQUALS"] == "a=b=c"
    assert python["BACKTICK"] == "`whoami`$(id)"
    assert _shell_parse(f) == python


@pytest.mark.parametrize("name", ["stack.env", "versions.env"])
def test_the_project_env_files_read_the_same_in_shell_and_python(name):
    assert _shell_parse(INFRA_DIR / name) == read_env_file(INFRA_DIR / name)


def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path):
    with pytest.raises(SettingsError, match=r"x.env:2: not KEY=VALUE"):
        parse_env_lines("A=1\nexport B=2\n", "x.env")
    f = tmp_path / "bad.env"
    f.write_text("A=1\nexport B=2\n")
    done = subprocess.run(
        ["bash", "-c", f'source <(sed -n "/^load_env_file()/,/^}}/p" {INFRA_DIR / "lib.sh"}); load_env_file {f}'],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "bad.env:2: not KEY=VALUE" in done.stderr


def test_every_setting_names_its_variable_and_says_what_it_is():
    for f in fields(Settings):
        assert f.metadata["env"] and f.metadata["doc"], f.name
    assert len(ENV_VARS) == len(fields(Settings))


def test_settings_are_read_when_asked_not_at_import(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_BRONZE_DB", "first_bronze")
    assert get_settings().bronze_db == "first_bronze"
    monkeypatch.setenv("LAKEHOUSE_BRONZE_DB", "second_bronze")
    assert get_settings().bronze_db == "second_bronze"
    monkeypatch.delenv("LAKEHOUSE_BRONZE_DB")
    assert get_settings().bronze_db == "bronze"


def test_paths_default_under_home_and_types_are_converted(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    for var in ("WAREHOUSE_DIR", "LAKEHOUSE_GX_ROOT", "SPARK_CONF_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PG_PORT", "6543")
    s = get_settings()
    assert s.warehouse_dir == tmp_path / "warehouse"
    assert s.gx_root == tmp_path / "gx"
    assert s.spark_conf_dir == tmp_path / "conf" / "spark"
    assert s.pg_port == 6543
    monkeypatch.setenv("PG_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="PG_PORT='not-a-port'"):
        get_settings()


def test_overrides_are_explicit_and_reach_child_processes(monkeypatch):
    assert settings_env(bronze_db="b", schema_prefix="p_") == {
        "LAKEHOUSE_BRONZE_DB": "b",
        "LAKEHOUSE_SCHEMA_PREFIX": "p_",
    }
    with pytest.raises(SettingsError, match="no such setting: bronze"):
        settings_env(bronze="b")
    monkeypatch.setenv("LAKEHOUSE_SCHEMA_PREFIX", "")  # so monkeypatch restores it after the override
    assert override_settings(schema_prefix="bench_").schema_prefix == "bench_"
    child = subprocess.run(["bash", "-c", "echo $LAKEHOUSE_SCHEMA_PREFIX"], capture_output=True, text=True)
    assert child.stdout.strip() == "bench_"
