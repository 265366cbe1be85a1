"""Fixtures for the command line's tests: real processes, no gdb.

These run once, not once per gdb as tests/gdb does (the command line uses
no gdb); the helpers are shared with tests/gdb/test_cli_vs_gdb.py, which compares
the command line with gdb.
"""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(TESTS, "gdb"), os.path.dirname(TESTS)):  # harness, the package
    if path not in sys.path:
        sys.path.insert(0, path)

import harness  # noqa: E402


@pytest.fixture
def targets():
    """harness.start_target, every target stopped when the test ends."""
    started = []

    def start(argv, **kwargs):
        target = harness.start_target(argv, **kwargs)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


@pytest.fixture(scope="session")
def ticker_binary():
    """tests/targets/ticker.c built: notices being traced (see its header)."""
    return harness.build("ticker")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """tests/targets/zoo.c (one socket of each kind), one per test module."""
    target = harness.start_target([harness.build("zoo"), str(tmp_path_factory.mktemp("zoo"))])
    yield target
    target.stop()
