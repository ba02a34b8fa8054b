"""librdkafka retries a failed TLS handshake or login every second: the service log keeps the first line of each
failure and counts its repeats (services.common.logs.RepeatedLines)."""

from __future__ import annotations

import logging

from services.common.logs import RepeatedLines

HANDSHAKE = (
    "FAIL [rdkafka#consumer-1] [thrd:sasl_ssl://kafka-1.cern.ch:9094/bootstrap]: sasl_ssl://kafka-1.cern.ch:9094/"
    "bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate "
    "could not be verified (after {ms}ms in state SSL_HANDSHAKE)"
)
HANDSHAKE_SHORT = (
    "FAIL [rdkafka#producer-2] [thrd:sasl_ssl://kafka-1.cern.ch:9094/bootstrap]: sasl_ssl://kafka-1.cern.ch:9094/"
    "bootstrap: error:0A000086:SSL routines::certificate verify failed (after {ms}ms in state SSL_HANDSHAKE)"
)
LOGIN = (
    "FAIL [rdkafka#consumer-1] [thrd:sasl_ssl://kafka-2.cern.ch:9094/2]: sasl_ssl://kafka-2.cern.ch:9094/2: SASL "
    "authentication error: Authentication failed due to invalid credentials (after {ms}ms in state AUTH_REQ)"
)


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("librdkafka", level, __file__, 1, message, None, None)


def passed(lines: RepeatedLines, messages: list[str]) -> list[str]:
    return [r.getMessage() for r in map(record, messages) if lines.filter(r)]


def test_a_failure_retried_by_every_client_is_logged_once():
    attempts = [HANDSHAKE.format(ms=ms) for ms in (36, 51, 8, 120)] + [HANDSHAKE_SHORT.format(ms=2)] * 3
    assert passed(RepeatedLines(), attempts) == [attempts[0]]


def test_each_broker_and_cause_keeps_its_line():
    lines = RepeatedLines()
    assert len(passed(lines, [HANDSHAKE.format(ms=5), LOGIN.format(ms=250), LOGIN.format(ms=120)])) == 2


def test_after_the_interval_the_line_comes_back_with_the_count_of_repeats():
    now = [1000.0]
    lines = RepeatedLines(interval_s=300.0, clock=lambda: now[0])
    assert len(passed(lines, [LOGIN.format(ms=ms) for ms in range(42)])) == 1
    now[0] += 300.0
    (again,) = passed(lines, [LOGIN.format(ms=7)])
    assert again.endswith("(and 41 times more since the last report)")


def test_informational_lines_are_never_held_back():
    lines = RepeatedLines()
    info = [record("INIT [rdkafka#consumer-1] [thrd:app]: librdkafka v2.6 initialized", logging.INFO)] * 2
    assert all(lines.filter(r) for r in info)
