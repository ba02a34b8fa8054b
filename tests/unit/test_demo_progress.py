"""When the demo calls a run finished: every document accounted for in every target, nothing left to consume."""

from deploy.demo.progress import Snapshot, TargetProgress, total


def _snapshot(es_landed: int, es_rejected: int = 0, es_lag: int = 0) -> Snapshot:
    return Snapshot(
        published=220,
        documents=217,
        converter_lag=0,
        collectors_done=True,
        targets=[
            TargetProgress("Elasticsearch", "es-local-es", "elasticsearch", es_landed, es_rejected, es_lag),
            TargetProgress("ActiveMQ", "amq", "amq", 217, 0, 0),
        ],
    )


def test_run_has_landed_when_each_target_holds_every_document():
    assert _snapshot(es_landed=217).landed()


def test_a_rejected_document_counts_as_accounted_for():
    assert _snapshot(es_landed=216, es_rejected=1).landed()


def test_a_target_still_consuming_has_not_landed_and_is_named():
    snap = _snapshot(es_landed=217, es_lag=3)
    assert not snap.landed()
    assert snap.waiting_for() == ["Elasticsearch (217 of 217, lag 3)"]


def test_metric_totals_add_the_matching_label_values():
    samples = [
        ("spider_sink_documents_total", {"target": "amq", "outcome": "rejected"}, 2.0),
        ("spider_sink_documents_total", {"target": "amq", "outcome": "undecodable"}, 1.0),
        ("spider_sink_documents_total", {"target": "amq", "outcome": "out"}, 217.0),
    ]
    assert total(samples, "spider_sink_documents_total", target="amq", outcome=("rejected", "undecodable")) == 3
