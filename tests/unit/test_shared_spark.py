"""Where the quality gates get their Spark: Spark Connect when something serves it."""

from __future__ import annotations

import socket

from core.session import serving
from core.settings import Settings, get_settings


def test_serving_is_true_only_for_a_listening_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert serving(f"sc://127.0.0.1:{port}")
    assert not serving(f"sc://127.0.0.1:{port}", timeout=0.2)  # closed now
    assert not serving(None)


def test_the_connect_address_comes_from_the_stack_settings():
    s = get_settings()
    assert s.spark_connect_url == f"sc://{s.bind_host}:{s.spark_connect_port}"
    unset = Settings(**{**s.__dict__, "spark_connect_port": None})
    assert unset.spark_connect_url is None
