"""Fixtures of the dispatch tests."""

from __future__ import annotations

import pytest

from planner.dispatch.coverage import CoverageModel
from tests.dispatch.line import line_model


@pytest.fixture(scope="module")
def model() -> CoverageModel:
    """The hand-worked line of five points (``tests/dispatch/line.py``)."""
    return line_model()
