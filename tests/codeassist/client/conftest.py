"""A scriptable OpenAI-compatible endpoint on loopback for the client tests."""

from __future__ import annotations

import pytest

from tests.helpers.openai_endpoint import FakeEndpoint


@pytest.fixture
def fake_endpoint():
    with FakeEndpoint() as endpoint:
        yield endpoint
