"""The bytes -> (document | dead letter | dropped) step never raises, whatever arrives on the raw topics."""

from __future__ import annotations

import jsonschema
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas import RAW_AD_SCHEMA
from services.common import dead_letter, document_message
from services.common.dead_letter import Origin
from services.converter.pipeline import Contexts, Converted, DeadLettered, Dropped, step

CONTEXT = Contexts(True, lambda: None)()
SERVICE = {"name": "converter", "version": "0", "git_hash": "0", "host": "h"}
ORIGIN = Origin(topic="spider.raw.history", partition=0, offset=1, key=b"k")
DLQ_SCHEMA = schemas.load("dead_letter.v1.schema.json")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
attribute_names = st.sampled_from(
    ["GlobalJobId", "QDate", "JobStatus", "CompletionDate", "EnteredCurrentStatus", "RequestCpus", "RequestMemory",
     "RemoteWallClockTime", "ExitCode", "TaskType", "CRAB_Id", "DESIRED_Sites", "MATCH_EXP_JOB_GLIDEIN_CMSSite",
     "ChirpCMSSW_cmsRun1_Events", "Owner", "x509UserProxyFQAN", "JobUniverse", "CMS_WMTool"]
) | st.text(min_size=1, max_size=12)  # fmt: skip
attribute_values = json_values | st.sampled_from(
    ["/Expr(RequestCpus * 2)/", "/Expr(error)/", "/Expr(undefined)/", "/Expr(1 +)/", "/Expr(time() - QDate)/"]
)
envelopes = st.fixed_dictionaries(
    {
        "schema": st.just(RAW_AD_SCHEMA),
        "source": st.sampled_from(["condor_queue", "condor_history", "file"]),
        "collected_at": st.integers(0, 2**33) | st.floats(0, 2e9),
        "ad": st.dictionaries(attribute_names, attribute_values, max_size=25),
    },
    optional={"pool": json_values, "schedd": json_values, "snapshot": json_values, "collector": json_values},
)


def check(outcome) -> None:
    if isinstance(outcome, Converted):
        message = document_message.decode(outcome.key, outcome.value, outcome.headers)
        assert message.id == outcome.key.decode()
    elif isinstance(outcome, DeadLettered):
        jsonschema.validate(orjson.loads(outcome.value), DLQ_SCHEMA)
        assert dead_letter.decode(outcome.value).reason == outcome.message
    else:
        assert isinstance(outcome, Dropped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_step(data):
    check(step(data, CONTEXT, ORIGIN, SERVICE))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_arbitrary_envelopes_become_a_document_or_a_dead_letter(envelope):
    value = orjson.dumps(envelope)
    outcome = step(value, CONTEXT, ORIGIN, SERVICE)
    check(outcome)
    if isinstance(outcome, DeadLettered):
        assert dead_letter.decode(outcome.value).origin.value == value
