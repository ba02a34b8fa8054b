"""End-to-end benchmark: realistic ads through collector, converter workers and the three sinks (issue 8).

`python -m bench.e2e --ads N --workers W --sink-processes S [--rate R] [--json out.json]`; see docs/performance.md.
"""
