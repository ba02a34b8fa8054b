"""History windows: where each schedd's history read starts, with fixed clocks."""

from __future__ import annotations

import pytest

from services.collector.queries import WindowRules, history_constraint, queue_constraint

NOW = 1_732_460_000.0  # 2024-11-24 14:53:20 UTC
HOUR = 3600
DAY = 24 * HOUR
RULES = WindowRules()  # reference defaults: overlap 12 min, look-back 720 min, 39 days, crab 12 h


def test_schedd_without_checkpoint_reads_the_default_look_back_of_720_minutes():
    assert RULES.effective_checkpoint("vocms0250.cern.ch", None, NOW) == NOW - 12 * HOUR


def test_read_starts_one_12_minute_period_before_the_checkpoint():
    assert RULES.first_time("vocms0250.cern.ch", NOW - 600, NOW) == int(NOW - 600) - 720


def test_recent_checkpoint_is_kept_as_is():
    assert RULES.effective_checkpoint("vocms0250.cern.ch", NOW - 3 * DAY, NOW) == NOW - 3 * DAY


def test_checkpoint_older_than_39_days_is_capped_at_39_days():
    assert RULES.effective_checkpoint("vocms0250.cern.ch", NOW - 60 * DAY, NOW) == NOW - 39 * DAY


def test_crab_schedd_with_checkpoint_older_than_12_hours_restarts_from_the_default_look_back():
    assert RULES.effective_checkpoint("crab3@vocms0155.cern.ch", NOW - 2 * DAY, NOW) == NOW - 12 * HOUR


def test_crab_schedd_with_recent_checkpoint_resumes_from_it():
    assert RULES.effective_checkpoint("crab3@vocms0155.cern.ch", NOW - 5 * HOUR, NOW) == NOW - 5 * HOUR


def test_crab_rule_applies_to_names_starting_with_crab_only():
    assert RULES.effective_checkpoint("vocms0155.cern.ch", NOW - 2 * DAY, NOW) == NOW - 2 * DAY


def test_crab_schedd_with_a_longer_default_look_back_is_still_reset_to_that_look_back():
    rules = WindowRules(lookback_s=24 * HOUR)
    assert rules.effective_checkpoint("crab3@vocms0155.cern.ch", NOW - 30 * DAY, NOW) == NOW - 24 * HOUR


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (WindowRules(max_age_s=7 * DAY), NOW - 7 * DAY),
        (WindowRules(overlap_s=0, max_age_s=20 * DAY), NOW - 20 * DAY),
    ],
)
def test_age_cap_is_configurable(rules, expected):
    assert rules.effective_checkpoint("vocms0250.cern.ch", NOW - 90 * DAY, NOW) == expected


def test_history_constraint_selects_cms_vanilla_jobs_finished_or_crab_updated_in_the_window():
    assert history_constraint(1000, 2000) == (
        '(JobUniverse == 5) && (CMS_Type != "DONOTMONIT") && ((EnteredCurrentStatus >= 1000 && '
        "EnteredCurrentStatus < 2000) || (CRAB_PostJobLastUpdate >= 1000 && CRAB_PostJobLastUpdate < 2000))"
    )


def test_open_history_window_has_no_upper_bound():
    assert history_constraint(1000).endswith("((EnteredCurrentStatus >= 1000) || (CRAB_PostJobLastUpdate >= 1000))")


def test_queue_constraint_keeps_active_jobs_and_recently_finished_ones():
    assert queue_constraint(NOW, 3660) == (
        '(JobUniverse == 5) && (CMS_Type != "DONOTMONIT") && (JobStatus < 3 || JobStatus > 4'
        f" || EnteredCurrentStatus >= {int(NOW) - 3660} || CRAB_PostJobLastUpdate >= {int(NOW) - 3660})"
    )
