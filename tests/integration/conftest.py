"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.responses_upstream import FakeOpenAIResponses


@pytest.fixture
def native() -> Iterator[FakeOpenAIResponses]:
    """An upstream that serves the Responses API itself (a channel with ``responses_api``)."""
    with FakeOpenAIResponses() as fake:
        yield fake
