"""sock-shutdown where the obvious way would go wrong (real gdb, real processes)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys

import pytest

from harness import GdbSession, build, gdb_batch, json_from, no_traceback, wait_blocked

NR_RECVFROM = 45


@pytest.fixture(scope="module")
def signal_binary():
    return build("edge_signal")


def test_thread_stopped_on_a_signal_is_not_stepped(signal_binary, targets):
    """A pending SIGUSR1 would run its handler in the step: syscall is
    refused, auto uses pidfd, and the handler still runs after detach."""
    target = targets([signal_binary])
    wait_blocked(target.pid, target.pid, {NR_RECVFROM})
    fd = target.info["fd"]
    with GdbSession(target.pid) as gdb:
        gdb.cmd("handle SIGUSR1 stop print pass")
        os.kill(target.pid, signal.SIGUSR1)
        gdb.cmd("continue")  # stops again at once: SIGUSR1
        error = gdb.error_of("sock-shutdown -method syscall %d" % fd)
        assert error is not None and "stopped on SIGUSR1" in error, error
        out = gdb.cmd("sock-shutdown %d" % fd)
        assert "= 0;" in out and "[method: pidfd]" in out, out
        assert "no raw syscall because the selected thread stopped on SIGUSR1" in out, out
    # After detach the signal is delivered as it would have been, then recv
    # (interrupted, no SA_RESTART) is called again and sees the shutdown.
    assert target.expect("HANDLED", timeout=10) == "HANDLED"
    assert target.expect("RECV", timeout=10) == "RECV ret=-1 errno=4"
    assert target.expect("RECV", timeout=10) == "RECV ret=0 errno=0"


def test_unconnected_udp_is_shut_down_and_its_reader_wakes(targets, tmp_path):
    target = targets([sys.executable, os.path.join(os.path.dirname(__file__), "..", "targets",
                                                   "edge_udp.py")])
    wait_blocked(target.pid, target.pid, {NR_RECVFROM})
    fd = target.info["fd"]
    result = gdb_batch(target.pid, "sock-shutdown %d" % fd)
    no_traceback(result)
    assert result.rc == 0, result
    assert re.search(r"^shutdown\(%d, SHUT_RDWR\) = -1, ENOTCONN: .*: fd %d was never connected, "
                     r"but the kernel marked it shut down all the same; a reader blocked" % (fd, fd),
                     result.out, re.M), result.out
    assert target.expect("RECV", timeout=10) == "RECV ret=0 data=b''"


def test_write_shutdown_of_a_listener_asks_nothing_and_says_no_effect(targets):
    blocker = build("blocker")
    target = targets([blocker, "pause"])
    listen_fd, port = target.info["fds"]["listen"], target.info["port"]
    result = gdb_batch(target.pid, "set confirm on", "sock-shutdown %d write" % listen_fd)
    assert result.rc == 0, result
    assert "(y or n)" not in result.out
    assert "no effect on a listening socket: it still accepts" in result.out
    # It still accepts connections (the kernel queues them).
    socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_json_output_stays_json_when_it_asks(targets):
    blocker = build("blocker")
    target = targets([blocker, "pause"])
    fds = target.info["fds"]
    result = gdb_batch(target.pid, "set confirm on",
                       "sock-shutdown -json %d %d" % (fds["client"], fds["accepted"]))
    assert result.rc == 0, result
    assert "(y or n) [answered Y; input not from terminal]" in result.err
    outcomes = json_from(result.out)
    assert [o["fd"] for o in outcomes] == [fds["client"], fds["accepted"]]
    assert all(o["ok"] for o in outcomes)
    assert "About to shut down" not in result.out


def test_free_text_values_complete_to_nothing(targets):
    blocker = build("blocker")
    target = targets([blocker, "pause"])
    result = gdb_batch(target.pid, "complete sock-shutdown -port ",
                       "complete sock-shutdown -peer 1", "complete info sockets -s ")
    lines = [l for l in result.out.splitlines() if l.startswith(("sock-shutdown", "info"))]
    # Nothing after -port or -peer; the states after the prefix -s (for -state).
    assert lines[0] == "info sockets -s close-wait", lines
    assert len(lines) == 11 and all(l.startswith("info sockets -s ") for l in lines), lines
