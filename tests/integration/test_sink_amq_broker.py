"""The ActiveMQ target against a real broker: MONIT bodies and headers, validation policies, failover, outages."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from pydantic import SecretStr

import schemas
from deploy.demo.processes import free_port
from services.common.document_message import DocMessage
from services.sinks import monit
from services.sinks.amq import AmqTarget, Credentials, StompSender
from services.sinks.config import AmqSettings
from services.sinks.errors import TargetUnavailable

from .activemq import PrivateBroker, Subscriber

pytestmark = [
    pytest.mark.integration,
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    broker = PrivateBroker(tmp_path_factory.mktemp("activemq"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def destination():
    return f"/topic/t-{uuid.uuid4().hex[:8]}.cms.jobmon.condor"


@pytest.fixture
def subscriber(broker, destination):
    sub = Subscriber(broker.port, destination)
    yield sub
    sub.close()


def make_target(hosts: list[str], destination: str, validation: str = "warn") -> AmqTarget:
    settings = AmqSettings(
        hosts=hosts,
        topic=destination,
        producer="condor-test",
        version="9.9.9",
        validation=validation,
        connect_timeout_s=5,
        receipt_timeout_s=10,
    )
    return AmqTarget(
        settings,
        StompSender(settings, Credentials()),
        schemas.load("field_types.json"),
        schemas.load(monit.SCHEMA_FILE),
    )


def job(n: int, **fields) -> DocMessage:
    record_time = 1700003600 + n
    body = {
        "GlobalJobId": f"vocms0255.cern.ch#{48213563 + n}.0#1700000000",
        "RecordTime": record_time,
        "QDate": 1699990000,
        "JobStartDate": 1700000000,
        "CompletionDate": record_time,
        "Status": "Completed",
        "JobStatus": 4,
        "Site": "T2_CH_CERN",
        "CpuEff": 87.5,
        "CMSGroups": ["UNKNOWN"],
        "metadata": {"spider_source": "condor_history", "spider_git_hash": "0123456789ab"},
        **fields,
    }
    doc_id = f"{body['GlobalJobId']}#{record_time}"
    return DocMessage(
        id=doc_id, index_date="2023-11-14", source="condor_history", git_hash=None, value=orjson.dumps(body), body=body
    )


def test_every_document_arrives_as_a_monit_notification(broker, destination, subscriber):
    docs = [job(n) for n in range(3)]
    target = make_target([f"127.0.0.1:{broker.port}"], destination)

    assert target.write(docs) == []
    received = subscriber.wait_for(3)
    target.close()

    assert sorted(body["metadata"]["_id"] for _, body in received) == sorted(d.id for d in docs)
    headers, body = next((h, b) for h, b in received if b["metadata"]["_id"] == docs[0].id)
    assert (headers["producer"], headers["version"], headers["persistent"]) == ("condor-test", "9.9.9", "true")
    assert (body["RecordTime"], body["QDate"], body["JobStartDate"]) == (1700003600000, 1699990000000, 1700000000000)
    assert (body["JobStatus"], body["Site"], body["CpuEff"]) == (4, "T2_CH_CERN", 87.5)
    assert body["metadata"] == {
        "spider_source": "condor_history",
        "spider_git_hash": "0123456789ab",
        "producer": "condor-test",
        "type": "metric",
        "_id": docs[0].id,
        "timestamp": 1700003600000,
    }


def test_policy_warn_sends_a_mistyped_field_as_is(broker, destination, subscriber):
    target = make_target([f"127.0.0.1:{broker.port}"], destination, "warn")
    assert target.write([job(0, JobStatus="four")]) == []
    [(_, body)] = subscriber.wait_for(1)
    target.close()
    assert body["JobStatus"] == "four"


def test_policy_drop_sends_the_document_without_the_mistyped_field(broker, destination, subscriber):
    target = make_target([f"127.0.0.1:{broker.port}"], destination, "drop")
    assert target.write([job(0, JobStatus="four")]) == []
    [(_, body)] = subscriber.wait_for(1)
    target.close()
    assert "JobStatus" not in body
    assert body["Site"] == "T2_CH_CERN"


def test_policy_dead_letter_rejects_the_document_and_sends_the_rest(broker, destination, subscriber):
    bad, good = job(0, JobStatus="four"), job(1)
    target = make_target([f"127.0.0.1:{broker.port}"], destination, "dead-letter")

    rejections = target.write([bad, good])
    received = subscriber.wait_for(1)
    time.sleep(0.5)  # nothing else may arrive
    target.close()

    assert [(r.msg.id, r.reason) for r in rejections] == [(bad.id, "MONIT type mismatch: JobStatus (str)")]
    assert [body["metadata"]["_id"] for _, body in subscriber.messages] == [good.id]
    assert len(received) == 1


def test_a_document_without_record_time_is_rejected_not_sent(broker, destination, subscriber):
    doc = job(0)
    doc.body.pop("RecordTime")
    target = make_target([f"127.0.0.1:{broker.port}"], destination)
    [rejection] = target.write([doc, job(1)])
    subscriber.wait_for(1)
    target.close()
    assert rejection.msg is doc and "RecordTime" in rejection.reason


def test_a_closed_first_broker_fails_over_to_the_next(broker, destination, subscriber):
    target = make_target([f"127.0.0.1:{free_port()}", f"127.0.0.1:{broker.port}"], destination)
    assert target.write([job(0)]) == []
    assert len(subscriber.wait_for(1)) == 1
    target.close()


def test_no_broker_reachable_is_target_unavailable_without_credentials_in_the_message(destination):
    target = make_target([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], destination)
    target.sender.credentials = Credentials(SecretStr("cmsjobmon-login"), SecretStr("hunter2-password"))
    started = time.monotonic()
    with pytest.raises(TargetUnavailable, match="no ActiveMQ broker reachable") as failure:
        target.write([job(0)])
    assert time.monotonic() - started < 10
    assert "cmsjobmon-login" not in str(failure.value) and "hunter2-password" not in str(failure.value)
    target.close()


def test_a_broker_outage_fails_the_batch_and_the_same_target_delivers_once_it_is_back(broker, destination):
    target = make_target([f"127.0.0.1:{broker.port}"], destination)
    sub = Subscriber(broker.port, destination)
    assert target.write([job(0)]) == []
    assert len(sub.wait_for(1)) == 1
    sub.close()

    broker.stop()
    with pytest.raises(TargetUnavailable):
        target.write([job(1)])
    broker.start()

    sub = Subscriber(broker.port, destination)
    deadline = time.monotonic() + 30
    while True:  # the runner's retry loop, reduced to its essence
        try:
            assert target.write([job(1), job(2)]) == []
            break
        except TargetUnavailable:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    received = sub.wait_for(2)
    sub.close()
    target.close()
    assert sorted(body["metadata"]["_id"] for _, body in received) == [job(1).id, job(2).id]
