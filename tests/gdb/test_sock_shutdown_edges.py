"""sock-shutdown where the obvious way would go wrong (real gdb, real processes)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys

import pytest

import harness
from harness import GdbSession, build, gdb_batch, json_from, no_traceback, wait_blocked
from test_sock_shutdown import calls_refused

NR_RECVFROM = 45


@pytest.fixture(scope="module")
def signal_binary():
    return build("edge_signal")


def test_thread_stopped_on_a_signal_is_not_stepped(signal_binary, targets):
    """A pending SIGUSR1 would run its handler in the step: syscall is
    refused.  An inferior call keeps the stop signal (measured on gdb 13.1
    and 18.1: 'info program' still names SIGUSR1 after the call, and the
    handler runs at detach), so auto calls where calls work, else uses
    pidfd; either way the handler still runs after detach."""
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
        expected = "pidfd" if calls_refused() else "call"
        assert "= 0;" in out and "[method: %s]" % expected in out, out
        if expected == "pidfd":
            assert "no raw syscall because the selected thread stopped on SIGUSR1" in out, out
        assert "stopped with signal SIGUSR1" in gdb.cmd("info program")
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
                     r"but the kernel marked it shut down all the same; waiting now: LWP %d "
                     r"recvfrom " % (fd, fd, target.pid), result.out, re.M), result.out
    assert "  predicted: LWP %d recvfrom: returns 0 (end-of-file)\n" % target.pid in result.out
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


def test_call_that_never_returns_is_unwound_and_the_target_lives(targets):
    """shutdown() trapped by seccomp into a SIGSYS handler that never
    returns (gdb told to pass SIGSYS silently): the call is stopped after
    5 s by gdb's own call timeout (gdb 15 and later) or by our watchdog
    (13-14), gdb unwinds it, the user's timeout setting comes back, and the
    target goes on waiting in recv(), unharmed."""
    target = targets([build("hang_shutdown")])
    wait_blocked(target.pid, target.pid, {NR_RECVFROM})
    fd = target.info["fd"]
    shows = ("show direct-call-timeout",) if harness.gdb_version() >= (15, 0) else ()
    result = gdb_batch(target.pid, "handle SIGSYS nostop noprint pass",
                       "sock-shutdown -method call %d" % fd, *shows, timeout=60)
    no_traceback(result)
    if calls_refused():
        assert "-method call cannot run here" in result.err, result
    else:
        assert re.search(r"^shutdown\(%d, SHUT_RDWR\) did not complete: did not return within "
                         r"5 s; gdb unwound the call; the thread was put back \(registers read "
                         r"back and compared\) \[method: call\]$" % fd, result.out, re.M), result
        assert "sock-shutdown: failed: fd %d: did not return within 5 s" % fd in result.err
    if shows:
        assert 'Timeout for direct inferior function calls is "unlimited".' in result.out
    assert target.alive()
    wait_blocked(target.pid, target.pid, {NR_RECVFROM})
    wake = gdb_batch(target.pid, "sock-shutdown -method pidfd %d" % fd)
    assert wake.rc == 0, wake
    assert target.expect("RECV", timeout=10) == "RECV ret=0 errno=0"


def test_info_sockets_completes_the_socket_fds(targets):
    # Issue 13 item 11: as sock-shutdown does.
    target = targets([build("blocker"), "pause"])
    fds = target.info["fds"]
    result = gdb_batch(target.pid, "complete info sockets ")
    lines = sorted(l for l in result.out.splitlines() if l.startswith("info sockets "))
    assert lines == sorted("info sockets %d" % fd for fd in fds.values()), result.out
