"""Ports the tests and the demo hand to servers they start later: never from the kernel's ephemeral range, where
a client's outgoing connection could take one before the server binds it (a restarted Kafka broker did)."""

from __future__ import annotations

import socket

from deploy.demo.processes import _ephemeral_low, free_port


def test_a_run_of_ports_is_free_and_below_the_ephemeral_range():
    first = free_port(3)
    assert first + 3 <= _ephemeral_low()
    for port in range(first, first + 3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
