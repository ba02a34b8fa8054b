"""The faust internals services/converter/faust_kafka.py overrides are the ones it was written for."""

from __future__ import annotations

import pytest
from faust.transport import consumer as faust_consumer

from services.converter import faust_kafka


def test_the_installed_faust_has_the_internals_the_override_was_written_for():
    assert faust_kafka.changed_internals() == [], (
        "faust or aiokafka changed what services/converter/faust_kafka.py overrides: review it, then update RELIED_ON"
    )


def test_a_changed_internal_stops_the_converter_at_start_naming_the_versions(monkeypatch):
    async def _drain_messages(self, fetcher):  # a faust release that rewrote the fetch loop
        return None

    monkeypatch.setattr(faust_consumer.Consumer, "_drain_messages", _drain_messages)
    with pytest.raises(faust_kafka.FaustMismatch) as failure:
        faust_kafka.App(
            "t-check", fetch_max_wait_ms=50, fetch_max_bytes=4 << 20, drain_timeout_s=1.0, autodiscover=False
        )
    message = str(failure.value)
    assert "written for faust-streaming 0.15.3" in message
    assert "installed faust-streaming 0.15." in message
    assert "faust.transport.consumer:Consumer._drain_messages" in message
