"""The htcondor2 pool against nothing: a closed port and a port that accepts but never answers.

Each failure is reported with the schedd name and a reason, and a schedd that does not answer is abandoned
at its timeout without holding up the cycle, and skipped as busy while its call is still stuck.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import classad2
import pytest
from prometheus_client import REGISTRY

from services.collector.checkpoints import CheckpointStore
from services.collector.config import CollectorConfig
from services.collector.discovery import discover
from services.collector.poller import QUEUE, Poller
from services.collector.pool import HTCondorPool, PoolError
from services.common.errors import SpiderError
from services.common.kafka import Publisher

VERSION = "$CondorVersion: 24.0.3 2024-12-05 BuildID: 770654 PackageID: 24.0.3-1 $"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections and never says a word, like a hung schedd."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def schedd_ad(name: str, port: int) -> classad2.ClassAd:
    return classad2.ClassAd(
        {"Name": name, "MyAddress": f"<127.0.0.1:{port}>", "CondorVersion": VERSION, "CMS_Pool": "Global"}
    )


@pytest.fixture
def poller() -> Iterator[Poller]:
    config = CollectorConfig(schedd_timeout_s=1.0, max_workers=2)
    publisher = Publisher(config.kafka)  # nothing is produced: no schedd answers
    yield Poller(config, HTCondorPool(timeout_s=1.0), publisher, CheckpointStore(config.kafka))
    publisher.close(timeout=1)


def test_unreachable_collector_is_a_warning_naming_it(caplog):
    host = f"127.0.0.1:{closed_port()}"
    with pytest.raises(SpiderError, match="none of the 1 collector hosts answered"):
        discover(HTCondorPool(), {"Global": [host]})
    assert f"collector {host}: Failed communication with collector" in caplog.text


def test_closed_schedd_port_is_an_error_naming_the_schedd():
    with pytest.raises(PoolError, match=r"schedd vocms0250.cern.ch: queue query: .*Failed to connect"):
        HTCondorPool().query_queue(schedd_ad("vocms0250.cern.ch", closed_port()), "true")


def test_history_of_a_closed_schedd_port_is_an_error_naming_the_schedd():
    with pytest.raises(PoolError, match=r"schedd vocms0250.cern.ch: history query: Failed to connect"):
        HTCondorPool().query_history(schedd_ad("vocms0250.cern.ch", closed_port()), "true", 10)


def test_hung_schedd_times_out_alone_and_the_dead_one_fails_at_once(poller, silent_port, caplog):
    schedds = [schedd_ad("hung.cern.ch", silent_port), schedd_ad("dead.cern.ch", closed_port())]
    started = time.monotonic()
    results = {r.schedd: r for r in poller.run_cycle(QUEUE, schedds, deadline=time.monotonic() + 60)}
    assert time.monotonic() - started < 10  # HTCondor's own timeout would be 20 s
    assert (results["hung.cern.ch"].ok, results["hung.cern.ch"].reason) == (False, "timeout")
    assert (results["dead.cern.ch"].ok, results["dead.cern.ch"].reason) == (False, "error")
    assert "queue poll of hung.cern.ch failed (timeout)" in caplog.text
    failures = REGISTRY.get_sample_value(
        "spider_collector_poll_failures_total", {"kind": "queue", "schedd": "hung.cern.ch", "reason": "timeout"}
    )
    assert failures >= 1


def test_schedd_still_stuck_from_the_previous_cycle_is_skipped_as_busy(poller, silent_port):
    schedds = [schedd_ad("stuck.cern.ch", silent_port)]
    poller.run_cycle(QUEUE, schedds, deadline=time.monotonic() + 60)
    [again] = poller.run_cycle(QUEUE, schedds, deadline=time.monotonic() + 60)
    assert (again.ok, again.reason) == (False, "busy")


def test_run_budget_stops_the_cycle_and_reports_unstarted_schedds(silent_port):
    config = CollectorConfig(schedd_timeout_s=30.0, max_workers=1)
    publisher = Publisher(config.kafka)
    poller = Poller(config, HTCondorPool(timeout_s=30.0), publisher, CheckpointStore(config.kafka))
    schedds = [schedd_ad("slow1.cern.ch", silent_port), schedd_ad("slow2.cern.ch", silent_port)]
    results = {r.schedd: r.reason for r in poller.run_cycle(QUEUE, schedds, deadline=time.monotonic() + 1.0)}
    publisher.close(timeout=1)
    assert results == {"slow1.cern.ch": "budget", "slow2.cern.ch": "budget"}
