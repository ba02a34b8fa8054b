"""What `spider checkpoint import` would change, decided before anything is written."""

from __future__ import annotations

from services.collector.checkpoints import plan_import

CURRENT = {"vocms0250.cern.ch": 1732459400.0, "vocms0267.cern.ch": 1732459000.0, "crab3@vocms0155.cern.ch": 1.5}
BACKUP = {"vocms0250.cern.ch": 1732459400.0, "vocms0267.cern.ch": 1732455000.0, "vocms0311.cern.ch": 1732450000.0}


def test_merge_keeps_the_schedds_the_file_does_not_list():
    plan = plan_import(CURRENT, BACKUP, replace=False)

    assert plan.added == {"vocms0311.cern.ch": 1732450000.0}
    assert plan.changed == {"vocms0267.cern.ch": (1732459000.0, 1732455000.0)}
    assert plan.removed == {}
    assert plan.unchanged == 1


def test_replace_removes_the_schedds_the_file_does_not_list():
    plan = plan_import(CURRENT, BACKUP, replace=True)

    assert plan.removed == {"crab3@vocms0155.cern.ch": 1.5}


def test_only_new_and_changed_checkpoints_are_written():
    plan = plan_import(CURRENT, BACKUP, replace=True)

    assert plan.writes == {"vocms0311.cern.ch": 1732450000.0, "vocms0267.cern.ch": 1732455000.0}
