"""One home for settings: ``infra/*.env`` parsed the same way by the shell and by Python, every
environment variable a typed field, read when asked (not when a module is imported)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import fields

import pytest

from core.settings import (
    ENV_VARS,
    INFRA_DIR,
    Settings,
    SettingsError,
    _from_sources,
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


@pytest.mark.parametrize("name", ["stack.env", "versions.env", "cluster.env"])
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
    assert s.warehouse_dir == str(tmp_path / "warehouse")
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


def test_cluster_profile_overrides_stack_env_and_has_its_own_home(monkeypatch):
    for var in ("LAKEHOUSE_HOME", "WAREHOUSE_DIR", "KAFKA_BROKERS", "SPARK_MASTER", "LAKEHOUSE_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    local = get_settings()
    assert local.home.name == ".lakehouse"
    assert local.spark_master.startswith("local[")
    assert local.kafka_bootstrap.count(",") == 0
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "cluster")
    cluster = get_settings()
    assert cluster.home == local.home.with_name(".lakehouse-cluster")
    assert cluster.spark_master.startswith("spark://")
    assert cluster.warehouse_dir.startswith("hdfs://")
    assert cluster.models_dir.startswith("hdfs://")
    host, port = cluster.bind_host, cluster.kafka_port
    assert cluster.kafka_bootstrap == f"{host}:{port},{host}:{port + 2},{host}:{port + 4}"
    monkeypatch.setenv("KAFKA_BROKERS", "2")  # the environment still wins over the profile
    assert get_settings().kafka_bootstrap == f"{host}:{port},{host}:{port + 2}"
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "bigger")
    with pytest.raises(SettingsError, match="LAKEHOUSE_PROFILE='bigger'"):
        get_settings()


def test_shell_and_python_read_the_cluster_profile_alike(tmp_path):
    """infra/lib.sh and core/settings.py give the same values under LAKEHOUSE_PROFILE=cluster."""
    given = {"LAKEHOUSE_PROFILE": "cluster", "LAKEHOUSE_HOME": str(tmp_path)}
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS} | given
    names = ("WAREHOUSE_DIR", "SPARK_MASTER", "KAFKA_BROKERS", "KAFKA_BOOTSTRAP", "HDFS_DATANODES")
    script = f"source {INFRA_DIR}/lib.sh >/dev/null && " + " && ".join(f'echo "${n}"' for n in names)
    shell = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout.split()
    s = _from_sources(given)
    assert shell == [s.warehouse_dir, s.spark_master, str(s.kafka_brokers), s.kafka_bootstrap, "2"]
