"""The converter's Python Kafka client (aiokafka) logs every failed connection to every broker; a service's log
keeps the first of each and counts the rest, as it does for librdkafka."""

from __future__ import annotations

import logging

from services.common import logs


def test_a_connection_failure_repeated_by_aiokafka_is_logged_once(capsys):
    logs.setup("converter", "INFO", "json")
    for _attempt in range(500):
        for node in (1, 2, 3):
            logging.getLogger("aiokafka").error(
                "Unable connect to node with id %d: [Errno 111] Connect call failed ('127.0.0.1', 3585%d)", node, node
            )
    logging.getLogger("services.converter.service").error("a failed send")
    logging.getLogger("services.converter.service").error("a failed send")

    lines = capsys.readouterr().err.splitlines()
    assert sum("Unable connect to node" in line for line in lines) == 3  # one per broker
    assert sum("a failed send" in line for line in lines) == 2  # the service's own lines are all kept
