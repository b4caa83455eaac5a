"""The Hub tests build their caches themselves: any attempt to reach a network fails."""

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test at once."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
