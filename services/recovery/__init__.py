"""Operator tools on top of Kafka consumer groups and the search clusters: status, replay, purge."""
