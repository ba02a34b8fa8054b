"""ActiveMQ of the local stack: a STOMP message sent to a queue reaches its subscriber with headers intact."""

from __future__ import annotations

import queue

import pytest
import stomp

pytestmark = pytest.mark.integration


class _Inbox(stomp.ConnectionListener):
    def __init__(self) -> None:
        self.frames: queue.Queue[stomp.utils.Frame] = queue.Queue()

    def on_message(self, frame) -> None:
        self.frames.put(frame)


def test_a_sent_message_is_received_by_the_queue_subscriber(stack, unique):
    destination = f"/queue/t-{unique}.cms.jobmon"
    inbox = _Inbox()
    conn = stomp.Connection([(stack.stomp_host, stack.stomp_port)])
    conn.set_listener("inbox", inbox)
    conn.connect(wait=True)
    try:
        conn.subscribe(destination, id="1", ack="auto")
        conn.send(destination, body='{"data": {"Status": "Completed"}}', headers={"producer": "htcondor"})
        frame = inbox.frames.get(timeout=15)
    finally:
        conn.disconnect()

    assert frame.body == '{"data": {"Status": "Completed"}}'
    assert frame.headers["producer"] == "htcondor"
