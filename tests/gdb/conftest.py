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


@pytest.fixture(scope="module")
def sd_binary():
    """tests/targets/sd_blocker.c built (the sock-shutdown tests' stuck process)."""
    return harness.build("sd_blocker")


@pytest.fixture(scope="session")
def zoo_binary():
    """tests/targets/zoo.c built: one socket of each kind (see its header)."""
    return harness.build("zoo")


@pytest.fixture(scope="module")
def zoo(zoo_binary, tmp_path_factory):
    """One zoo per test module, in the host's network namespace."""
    target = harness.start_target([zoo_binary, str(tmp_path_factory.mktemp("zoo"))])
    yield target
    target.stop()


@pytest.fixture(scope="session", autouse=True,
                params=harness.gdbs(),
                ids=lambda path: "gdb-%d.%d" % harness.gdb_version(path))
def each_gdb(request):
    """Every real-gdb test runs once per gdb of harness.gdbs(): Debian's and
    the ones install.sh --test-deps added (GDB_SOCKETS_TEST_GDB picks)."""
    harness.use_gdb(request.param)
    yield request.param
