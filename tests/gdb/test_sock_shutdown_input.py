"""`sock-shutdown` refuses bad input before touching anything (design §2),
the pidfd method keeps gdb's own fd table clean, Enter does not repeat the
command, and `help sock-shutdown` explains it.

Helpers and targets: see test_sock_shutdown.py.
"""

from __future__ import annotations

import os
import re

import pytest

import harness
from harness import GdbSession, gdb_batch, no_traceback, wait_blocked
from test_sock_shutdown import (
    NR_RECVFROM, assert_open_same_socket, expect_woke, fd_inode,
    sockets_snapshot, start_blocker, wake_with_pidfd)


def interactive_error(out: str) -> None:
    """What an interactive command printed holds no Python trace."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    assert "Error occurred in Python" not in out, out


# --------------------------------------------------------------------------
# Bad input, each refused in batch mode (exit 1) with a message


@pytest.fixture(scope="module")
def stuck():
    """One sd_blocker stuck in recv for the whole module, with its sockets' state."""
    target = harness.start_target([harness.build("sd_blocker"), "recv"])
    wait_blocked(target.pid, target.info["blocked_tid"], NR_RECVFROM)
    target.before = sockets_snapshot(target)
    yield target
    target.stop()


def bad_inputs(fds):
    client, devnull = fds["client"], fds["devnull"]
    return [
        ("", r"which socket\?.*usage: sock-shutdown FD"),
        ("%d); print abort(" % client, r"'%d\);' is not a file descriptor" % client),
        ("-1", r"'-1' is not a file descriptor"),
        ("0x%x" % client, r"'0x%x' is not a file descriptor" % client),
        ("%d.0" % client, r"'%d\.0' is not a file descriptor" % client),
        ("99999", r"fd 99999 is not open in process \d+"),
        ("1", r"fd 1 is not a socket \(pipe:\[\d+\]\)"),
        ("%d" % devnull, r"fd %d is not a socket \(/dev/null\)" % devnull),
        ("%d sideways" % client, r"unknown direction 'sideways'; use read, write or both"),
        ("%d bth" % client, r"unknown direction 'bth'; use read, write or both"),
        ("-method bogus %d" % client, r"unknown method 'bogus'; one of: auto call syscall pidfd"),
        ("-nosuchopt %d" % client, r"unknown option -nosuchopt"),
        ("-state bogus", r"unknown state 'bogus'"),
    ]


# The same list, by index, for the test ids (the fds are known only at run time).
BAD_INPUT_IDS = ["no-args", "injection", "negative", "hex", "float", "not-open",
                 "stdout-pipe", "dev-null", "bad-direction", "misspelt-direction",
                 "bad-method", "bad-option",
                 "bad-state"]


@pytest.mark.parametrize("case", range(len(BAD_INPUT_IDS)), ids=BAD_INPUT_IDS)
def test_bad_input_refused_and_nothing_touched(stuck, case):
    args, pattern = bad_inputs(stuck.info["fds"])[case]
    result = gdb_batch(stuck.pid, ("sock-shutdown " + args).rstrip())
    no_traceback(result)
    assert result.rc == 1, result
    assert re.search(r"^sock-shutdown: .*" + pattern, result.err, re.M), result.err
    assert "SHUT_RDWR) = " not in result.out, result.out
    # Untouched: alive, back asleep in the same recv, every socket as it was.
    assert stuck.alive()
    wait_blocked(stuck.pid, stuck.info["blocked_tid"], NR_RECVFROM)
    assert sockets_snapshot(stuck) == stuck.before


def test_after_bad_input_the_target_still_wakes_normally(stuck):
    fd = stuck.info["fds"]["client"]
    inode = fd_inode(stuck.pid, fd)
    wake_with_pidfd(stuck, fd)
    assert expect_woke(stuck) == (0, 0)
    assert_open_same_socket(stuck, fd, inode)


# --------------------------------------------------------------------------
# -method pidfd: clean errors, and gdb's own fds


def gdb_pid_of(session: GdbSession) -> int:
    out = session.cmd("python import os; print('@@PID', os.getpid())")
    match = re.search(r"@@PID (\d+)", out)
    assert match, out
    pid = int(match.group(1))
    # The process pexpect started (a packaged gdb may exec through ld.so,
    # so its /proc/PID/exe need not be named gdb).
    assert pid == session.child.pid, (pid, session.child.pid)
    return pid


def fd_count(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


def test_pidfd_bad_fds_refused_and_gdb_keeps_no_fd(sd_binary, targets):
    target = start_blocker(targets, sd_binary, "recv")
    pid, fds = target.pid, target.info["fds"]
    before = sockets_snapshot(target)
    with GdbSession(pid) as session:
        gdb_pid = gdb_pid_of(session)
        base = fd_count(gdb_pid)
        for arg, pattern in [("99999", r"fd 99999 is not open"),
                             (str(fds["devnull"]), r"is not a socket \(/dev/null\)"),
                             ("1", r"is not a socket \(pipe:\[\d+\]\)")]:
            out = session.cmd("sock-shutdown -method pidfd " + arg)
            interactive_error(out)
            assert re.search(r"^sock-shutdown: .*" + pattern, out, re.M), out
            assert fd_count(gdb_pid) == base, "gdb's fds after %s: %s" % (
                arg, os.listdir("/proc/%d/fd" % gdb_pid))
            assert sockets_snapshot(target) == before
        out = session.cmd("sock-shutdown -method pidfd %d" % fds["client"])
        interactive_error(out)
        assert re.search(r"^shutdown\(%d, SHUT_RDWR\) = 0; .*\[method: pidfd\]"
                         % fds["client"], out, re.M), out
        assert fd_count(gdb_pid) == base
    assert expect_woke(target) == (0, 0)


# --------------------------------------------------------------------------
# Enter after sock-shutdown


def test_enter_does_not_repeat_sock_shutdown(sd_binary, targets):
    target = start_blocker(targets, sd_binary, "pause", "--closewait", "2")
    pid, (first, second) = target.pid, target.info["fds"]["closewait"]
    with GdbSession(pid) as session:
        out = session.cmd("sock-shutdown %d" % first)
        assert "SHUT_RDWR) = 0; " in out, out
        # Run again, it would print "already shut down" (ENOTCONN).
        assert session.cmd("").strip() == ""
        out = session.cmd("sock-shutdown 99999")
        assert "is not open" in out, out
        assert session.cmd("").strip() == ""
        # Enter does reach gdb: a command that may repeat (info sockets) does.
        out = session.cmd("info sockets %d" % second)
        assert "CLOSE-WAIT" in out, out
        assert "CLOSE-WAIT" in session.cmd("")
    assert sockets_snapshot(target)[second][1] == "CLOSE-WAIT"


# --------------------------------------------------------------------------
# help


def test_help_explains_usage_and_why_not_close():
    result = gdb_batch(None, "help sock-shutdown")
    no_traceback(result)
    assert result.rc == 0, result
    text = result.out
    first = text.splitlines()[0]
    assert first.startswith("Shut down a socket") and first.endswith("."), first
    assert re.search(r"^Usage: sock-shutdown \[OPTIONS\] FD", text, re.M), text
    flat = " ".join(text.split())
    assert "'call close(FD)'" in flat and "keeps the fd number allocated" in flat, flat
    for option in ("-state", "-proto", "-dry-run", "-method", "-json"):
        assert re.search(r"^  %s\b" % option, text, re.M), option
    assert "auto" in flat and "syscall" in flat and "pidfd" in flat
