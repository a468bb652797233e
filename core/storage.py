"""The file system under a warehouse, model or landing URI, as a ``pyarrow.fs.FileSystem``.

Local folders and what Arrow reaches natively (``file://``, ``s3://``, ``gs://``, ...) come from
``pyarrow.fs.FileSystem.from_uri``. ``hdfs://`` does not: Arrow's HDFS client loads the native
``libhdfs`` of a Hadoop distribution, which no registry this project installs from ships. HDFS is
reached over WebHDFS instead (the NameNode's HTTP API, fsspec's client): the same files, blocks
and replication, written through the DataNodes, with no native library.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from core.settings import get_settings


def is_local(uri: str) -> bool:
    """A folder on this machine's disk (a path, or ``file:``)."""
    return "://" not in uri or uri.startswith("file:")


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """``(file system, path inside it)`` for ``uri``, like ``pyarrow.fs.FileSystem.from_uri``."""
    parts = urlsplit(uri)
    if parts.scheme != "hdfs":
        return pafs.FileSystem.from_uri(uri)
    return _webhdfs(parts.hostname or get_settings().bind_host), parts.path or "/"


def _webhdfs(host: str) -> pafs.FileSystem:
    from fsspec.implementations.webhdfs import WebHDFS

    class _WebHDFS(WebHDFS):
        @staticmethod
        def _process_info(info: dict[str, Any]) -> dict[str, Any]:
            info = WebHDFS._process_info(info)
            # Arrow's FileInfo reads "mtime"; WebHDFS says modificationTime, in milliseconds.
            info["mtime"] = datetime.fromtimestamp(info["modificationTime"] / 1000, UTC)
            return info

    port = get_settings().hdfs_namenode_http_port
    # skip_instance_cache: one client per call, no session shared across forked task processes.
    fs = _WebHDFS(host, port=port, user=getpass.getuser(), skip_instance_cache=True)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))
