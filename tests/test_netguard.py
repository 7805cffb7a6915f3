"""The guard that keeps tests (and the processes they start) on this machine."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_connecting_beyond_loopback_fails_the_test():
    with socket.socket() as s, pytest.raises(AssertionError, match="must stay on this machine"):
        s.connect(("10.255.255.1", 80))


def test_subprocesses_are_guarded_too():
    code = "import socket; socket.socket().connect(('192.0.2.1', 80))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0 and "must stay on this machine" in result.stderr


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())
