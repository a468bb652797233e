"""The free-space check before heavy writes."""

from __future__ import annotations

import shutil

import pytest

from core.disk import GIB, DiskSpaceError, require_free_space


def test_too_little_free_space_is_a_clear_error_naming_the_setting(tmp_path):
    free = shutil.disk_usage(tmp_path).free / GIB
    with pytest.raises(DiskSpaceError, match=r"cdc consumer: only .* GiB free .*LAKEHOUSE_MIN_FREE_DISK_GB"):
        require_free_space(tmp_path, "cdc consumer", min_gb=free + 1000)


def test_enough_space_passes_and_a_path_not_made_yet_is_checked_at_its_parent(tmp_path):
    assert require_free_space(tmp_path / "warehouse" / "not" / "yet", "dbt build", min_gb=0.001) > 0


def test_a_distributed_file_system_is_left_to_its_own_reserve():
    assert require_free_space("hdfs://127.0.0.1:8020/lakehouse/warehouse", "dbt build", min_gb=1e9) == float("inf")
    with pytest.raises(DiskSpaceError):  # file: URIs are this disk
        require_free_space("file:/tmp", "dbt build", min_gb=1e9)
