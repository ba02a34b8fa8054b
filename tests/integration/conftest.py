"""Every integration test runs against the local stack: it is brought up first, and a server that cannot be
made healthy fails the test (never skips it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .search_sink_support import cleanup, search_client


@pytest.fixture(autouse=True)
def _local_stack(stack) -> None:
    """Depend on the session-wide stack so that no integration test can pass, or skip, without it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def prefix() -> Iterator[str]:
    """An index prefix of this test only; its indices and templates are deleted from both engines afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}-cms"
    yield name
    for kind in ("elasticsearch", "opensearch"):
        cleanup(search_client(kind), name)
