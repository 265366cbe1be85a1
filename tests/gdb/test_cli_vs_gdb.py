"""The command line against gdb: the same rows, the same table, and the
never-stopped oracle of tests/cli seeing gdb's own attach.

Run once per gdb (tests/gdb/conftest.py): every gdb must agree with the
command line.  The command line's own tests are in tests/cli.
"""

import os

import pytest

import harness
from cli_helpers import TracerWatch, cli, cli_json, stats
from harness import gdb_batch, json_from, without_times


@pytest.fixture(scope="module")
def ticker_binary():
    return harness.build("ticker")


# --------------------------------------------------------------------------
# The same listing as gdb's


def gdb_rows(pid):
    result = gdb_batch(pid, "info sockets -json")
    assert result.rc == 0, result
    return json_from(result.out)


def test_json_rows_equal_gdbs(zoo):
    document = cli_json(zoo.pid, "-json")
    assert document["pid"] == zoo.pid
    assert document["host"] == os.uname().nodename
    assert document["notes"] == []
    rows = document["sockets"]
    assert {r["fd"] for r in rows} == {s["fd"] for s in zoo.info["socks"].values()}
    assert without_times(rows) == without_times(gdb_rows(zoo.pid))


def test_json_rows_equal_gdbs_in_another_network_namespace(zoo_binary, tmp_path, targets):
    enable_ping = 'echo 0 0 > /proc/sys/net/ipv4/ping_group_range && exec "$@"'
    zoo = targets(["sh", "-c", enable_ping, "sh", zoo_binary, str(tmp_path), "--ping"],
                  netns=True)
    rows = cli_json(zoo.pid, "-json")["sockets"]
    assert {"ping", "ping6"} <= {r["proto"] for r in rows}
    assert without_times(rows) == without_times(gdb_rows(zoo.pid))


def test_table_equals_gdbs(zoo):
    rc, out, err = cli(zoo.pid)
    assert rc == 0 and err == "", (rc, err)
    result = gdb_batch(zoo.pid, "info sockets")
    assert result.rc == 0, result
    lines = result.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FD  Proto"))
    table = lines[start:start + len(out.splitlines())]
    assert out.splitlines() == table


def test_every_fd_named_gets_gdbs_answer(zoo):
    # Not open, not a socket, left out by a filter: the lines gdb prints.
    socks, other = zoo.info["socks"], zoo.info["other"]
    fds = [socks["tcp_listen"]["fd"], socks["unix_client"]["fd"], other["pipe_r"], 9999]
    args = "-proto tcp -- " + " ".join(map(str, fds))
    rc, out, err = cli(zoo.pid, *args.split())
    assert rc == 0 and err == "", (rc, err)
    result = gdb_batch(zoo.pid, "info sockets " + args)
    assert result.rc == 0, result
    lines = result.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FD  Proto"))
    assert out.splitlines() == lines[start:start + len(out.splitlines())]
    for answer in ("fd %d: not a socket" % other["pipe_r"], "fd 9999: not open",
                   "fd %d: unix ESTAB, left out by the other filters" % socks["unix_client"]["fd"]):
        assert answer in out, out
    rc, out, err = cli(zoo.pid, "-json", *args.split())
    assert rc == 0 and "fd 9999: not open in process %d" % zoo.pid in err, (rc, err)


def test_filters_and_fds_as_in_gdb(zoo):
    socks = zoo.info["socks"]
    fds = sorted([socks["tcp_listen"]["fd"], socks["unix_client"]["fd"]])
    for args in (["-state", "listen"], ["-proto", "unix"], ["--"] + [str(fd) for fd in fds]):
        rows = cli_json(zoo.pid, "-json", *args)["sockets"]
        result = gdb_batch(zoo.pid, "info sockets -json " + " ".join(args))
        assert rows == json_from(result.out), args
    assert [r["fd"] for r in cli_json(zoo.pid, "-j", *map(str, fds))["sockets"]] == fds


# --------------------------------------------------------------------------
# The oracle of tests/cli/test_command_line.py::test_the_process_is_never_stopped


def test_the_oracle_sees_gdbs_attach(ticker_binary, targets):
    """The never-stopped checks fail for a tool that attaches: gdb itself."""
    target = targets([ticker_binary])
    watch = TracerWatch(target.pid)
    result = gdb_batch(target.pid, "info sockets")
    assert result.rc == 0, result
    assert watch.stop(), "TracerPid never seen while gdb was attached"
    assert stats(target)["eintr"] == 1


