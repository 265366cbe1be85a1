"""Fixtures for the real-gdb tests (the helpers themselves are in harness.py)."""

import pytest

import harness


@pytest.fixture
def targets():
    """A factory like harness.start_target; every target it started is
    stopped (killed and reaped) when the test ends, whatever happened."""
    started = []

    def start(argv, **kwargs):
        target = harness.start_target(argv, **kwargs)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()
