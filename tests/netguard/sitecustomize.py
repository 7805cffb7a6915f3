"""Fail any connection to an address beyond this machine, in tests and their subprocesses.

Imported by tests/conftest.py, and put on PYTHONPATH for the workers and servers tests start,
so a test that would reach the internet (or a private network) fails loudly instead.
"""

from __future__ import annotations

import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkGuardError(AssertionError):
    """A test tried to open a connection to a non-loopback address."""


def check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host not in ("localhost", "::1", "0.0.0.0") and not host.startswith("127."):
            raise NetworkGuardError(f"test tried to reach {host}: tests must stay on this machine")


def _guarded_connect(self: socket.socket, address: object):  # noqa: ANN202
    check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object):  # noqa: ANN202
    check(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
