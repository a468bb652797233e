"""Free disk space, checked before heavy writes: the sources, the metastore, Airflow and the
warehouse share one disk here, and a write that fills it stops all of them at once."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.settings import get_settings
from core.storage import is_local

GIB = 1 << 30


class DiskSpaceError(RuntimeError):
    pass


def require_free_space(path: Path | str | None, what: str, min_gb: float | None = None) -> float:
    """Raise ``DiskSpaceError`` when the file system holding ``path`` has less than ``min_gb``
    (default ``LAKEHOUSE_MIN_FREE_DISK_GB``) free; returns the free GiB. A path that does not
    exist yet is checked at its nearest existing parent; no path means the stack's home. A
    distributed file system (``hdfs://``, an object store) is not checked here: its NameNode or
    service refuses writes past its own reserve, and reports capacity to its own monitoring.
    Returns infinity then."""
    settings = get_settings()
    if path is not None and not is_local(str(path)):
        return float("inf")
    min_gb = settings.min_free_disk_gb if min_gb is None else min_gb
    where = Path(str(path or settings.home).removeprefix("file:"))
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free / GIB
    if free < min_gb:
        raise DiskSpaceError(
            f"{what}: only {free:.1f} GiB free on the disk of {where}, below LAKEHOUSE_MIN_FREE_DISK_GB={min_gb:g}. "
            "Free space first (the maintenance DAG's VACUUM, old logs) or lower that setting knowingly."
        )
    return free
