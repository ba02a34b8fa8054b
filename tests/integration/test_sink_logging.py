"""What a search sink logs when the cluster hangs or refuses documents: a few lines, not one per document
(issue 13 item 8), against the real servers of the local stack."""

from __future__ import annotations

import logging
import socket

import pytest

from .kafka_helpers import sink_topics
from .search_sink_support import (
    PORTS,
    TcpProxy,
    count,
    job_doc,
    publish,
    running,
    search_client,
    sink_config,
    wait_for,
    write_es_conf,
)
from .test_sink_search import read_dead_letters

pytestmark = [pytest.mark.integration]

RUNNER_LOGGER = "services.sinks.runner"


@pytest.fixture
def kafka():
    with sink_topics(partitions=1) as private:
        yield private


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == RUNNER_LOGGER and r.levelno >= logging.WARNING]


def test_a_sink_starting_while_the_cluster_hangs_says_so_once_and_when_it_answers_again(
    kafka, prefix, tmp_path, caplog
):
    """A port that takes connections and never answers is a frozen cluster: the template install hangs until
    the request timeout (4 s here), then the sink waits in an outage until the cluster answers."""
    proxy = TcpProxy(PORTS["elasticsearch"])
    frozen = socket.socket()
    frozen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    frozen.bind(("127.0.0.1", proxy.port))
    frozen.listen(64)  # connections complete in the kernel's backlog; no request is ever read
    write_es_conf(tmp_path, "elasticsearch", "local", proxy.port)
    config = sink_config(kafka, tmp_path, prefix, request_timeout_s=4.0)
    publish(kafka, [job_doc(n) for n in range(20)])
    search = search_client("elasticsearch")

    try:
        with caplog.at_level(logging.INFO, logger=RUNNER_LOGGER), running(config, "elasticsearch", "local") as runner:
            wait_for(lambda: runner.ready() is not True, 20, "the outage")
            wait_for(lambda: any("failed after" in m for m in messages(caplog)), 20, "the outage line")
            frozen.close()
            proxy.open()
            wait_for(lambda: count(search, prefix) == 20, 60, "every document")
    finally:
        frozen.close()
        proxy.close()

    lines = messages(caplog)
    [hung] = [m for m in lines if "no answer from the target" in m]  # once: a quarter of the timeout, 1 s
    assert hung.startswith("installing the index templates: no answer from the target for ")
    [down] = [m for m in lines if m.startswith("target unavailable")]
    assert down.startswith("target unavailable (installing the index templates, failed after 4.")
    [up] = [m for m in lines if m.startswith("target available again")]
    assert float(up.split("after ")[1].split(" s")[0]) >= 4  # counted from the hanging request's start


@pytest.mark.parametrize("kind", ["elasticsearch", "opensearch"])
def test_many_rejections_give_one_sample_line_and_the_full_reasons_stay_in_the_dead_letters(
    kind, kafka, prefix, tmp_path, caplog
):
    write_es_conf(tmp_path, kind, "local", PORTS[kind])
    config = sink_config(kafka, tmp_path, prefix, batch_size=100)
    long_value = "many " * 2000  # a registered long field given 10 KB of text: the reason quotes part of it
    docs = [job_doc(n, RequestCpus=long_value if n % 2 else 4) for n in range(120)]
    publish(kafka, docs)
    search = search_client(kind)

    with caplog.at_level(logging.INFO, logger=RUNNER_LOGGER), running(config, kind, "local"):
        wait_for(lambda: count(search, prefix) == 60, 60, "the 60 valid documents")
        letters = read_dead_letters(kafka, expected=60)

    lines = [m for m in messages(caplog) if "dead-lettered" in m]
    assert len(lines) == 2  # the sample, and the count when the sink stopped
    assert lines[0].startswith("document dead-lettered: HTTP 400 ") and len(lines[0]) < 700
    assert lines[1].startswith("60 documents dead-lettered in the last ")
    assert all("RequestCpus" in letter.reason for letter in letters)
