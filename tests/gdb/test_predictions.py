"""sock-shutdown's predictions, each checked against what the program then does (issue 13).

Targets: tests/targets/pr_waiters.c (a writer per SIGPIPE setup, select for
urgent data only, epoll for write only) and pr_selector.py (python's
http.server, whose loop polls its listener).  The oracle is the program:
its exit status (killed by SIGPIPE or not), what it prints when its call
returns, and, for a thread predicted not to wake, that the first thing it
reports after a byte on its control pipe is that byte alone.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
import time

import pytest

from harness import (GdbSession, build, gdb_batch, json_from, no_traceback, ss_rows,
                     wait_blocked)

NR_WRITE = {1}
NR_SENDTO = {44}
NR_PSELECT = {270}
NR_EPOLL_WAIT = {232, 281}
NR_POLL = {7, 271, 219}
EPIPE = 32
TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "targets")


@pytest.fixture(scope="module")
def pr_binary():
    return build("pr_waiters")


def start(targets, binary, mode, numbers):
    target = targets([binary, mode])
    wait_blocked(target.pid, target.pid, numbers)
    return target


def exit_status(target, timeout=10.0) -> int:
    """The target's exit: its code, or minus the signal that killed it."""
    return target.popen.wait(timeout=timeout)


def poke(target) -> None:
    """A byte on the target's control pipe (opened through /proc as a writer)."""
    fd = os.open("/proc/%d/fd/%d" % (target.pid, target.info["ctl"]), os.O_WRONLY)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)


def shut(pid, *args, timeout=60):
    result = gdb_batch(pid, "sock-shutdown " + " ".join(str(a) for a in args), timeout=timeout)
    no_traceback(result)
    return result


def tcp_state(target) -> str:
    inode = int(os.readlink("/proc/%d/fd/%d" % (target.pid, target.info["fd"]))[8:-1])
    return ss_rows(pid=target.pid)[inode]["state"]


# --------------------------------------------------------------------------
# Writers


def test_a_writer_killed_by_sigpipe_is_refused_then_dies_with_force(pr_binary, targets):
    target = start(targets, pr_binary, "write-default", NR_WRITE)
    pid, fd = target.pid, target.info["fd"]
    refused = shut(pid, fd)
    assert refused.rc == 1, refused
    assert ("sock-shutdown: refused: fd %d: LWP %d write: fails with EPIPE, and SIGPIPE, at its "
            "default action, kills the process; shutting down only 'read' on fd %d avoids that; give "
            "-force to shut down anyway; nothing done" % (fd, pid, fd)) in refused.err, refused
    # Nothing was done: still blocked in write, still connected.
    wait_blocked(pid, pid, NR_WRITE)
    assert target.alive() and tcp_state(target) == "ESTAB"

    done = shut(pid, "-force", fd)
    assert done.rc == 0, done
    assert ("\n  predicted: LWP %d write: fails with EPIPE, and SIGPIPE, at its default action, "
            "kills the process\n" % pid) in done.out, done.out
    assert exit_status(target) == -signal.SIGPIPE


def test_a_writer_on_a_dup_of_the_fd_is_predicted_too(pr_binary, targets):
    # shutdown acts on the socket: the thread writing on fd D (a dup of fd) dies too.
    target = start(targets, pr_binary, "write-dup", NR_WRITE)
    pid, fd, dup = target.pid, target.info["fd"], target.info["dup"]
    refused = shut(pid, fd)
    assert refused.rc == 1, refused
    assert ("refused: fd %d: LWP %d write (on fd %d, the same socket): fails with EPIPE, and "
            "SIGPIPE, at its default action, kills the process; shutting down only 'read' on fd "
            "%d avoids that" % (fd, pid, dup, fd)) in refused.err, refused
    done = shut(pid, "-force", fd)
    assert done.rc == 0, done
    assert exit_status(target) == -signal.SIGPIPE


def test_the_offered_direction_harms_nobody(pr_binary, targets):
    target = start(targets, pr_binary, "write-default", NR_WRITE)
    pid, fd = target.pid, target.info["fd"]
    result = shut(pid, fd, "read")
    assert result.rc == 0, result
    assert ("  predicted: LWP %d write: goes on waiting for buffer space: shutdown(%d, SHUT_RD) "
            "does not end a write" % (pid, fd)) in result.out, result.out
    wait_blocked(pid, pid, NR_WRITE)  # after detach: still writing, alive
    assert target.alive()


@pytest.mark.parametrize("mode, number, tail, lines", [
    ("write-ignore", NR_WRITE, "write: fails with EPIPE; SIGPIPE is ignored by the process",
     ["FAILED errno=%d" % EPIPE]),
    ("write-catch", NR_WRITE, "write: fails with EPIPE, and SIGPIPE runs the process's handler",
     ["CAUGHT", "FAILED errno=%d" % EPIPE]),
    ("send-nosignal", NR_SENDTO,
     "sendto: fails with EPIPE; no SIGPIPE: the call passed MSG_NOSIGNAL",
     ["FAILED errno=%d" % EPIPE]),
])
def test_a_writer_that_survives_sigpipe_is_shut_down_without_force(pr_binary, targets, mode,
                                                                   number, tail, lines):
    target = start(targets, pr_binary, mode, number)
    result = shut(target.pid, target.info["fd"])
    assert result.rc == 0, result
    assert "\n  predicted: LWP %d %s\n" % (target.pid, tail) in result.out, result.out
    assert [target.expect(line.split()[0]) for line in lines] == lines
    assert exit_status(target) == 0


def test_json_has_the_predictions_and_the_waiters_after(pr_binary, targets):
    target = start(targets, pr_binary, "write-default", NR_WRITE)
    pid = target.pid
    result = shut(pid, "-json", "-force", target.info["fd"])
    assert result.rc == 0, result
    [outcome] = json_from(result.out)
    assert [(p["lwp"], p["syscall"], p["kind"], p["harm"]) for p in outcome["predictions"]] == [
        (pid, "write", "sigpipe-kills", "kill")]
    # The process is still stopped when the tables are read again: the
    # thread is still in its write (item 11: the after-state said []).
    assert [w["lwp"] for w in outcome["before"]["waiters"]] == [pid]
    assert [w["lwp"] for w in outcome["after"]["waiters"]] == [pid]
    assert exit_status(target) == -signal.SIGPIPE


def test_at_a_terminal_the_harm_is_asked_and_no_leaves_it(pr_binary, targets):
    target = start(targets, pr_binary, "write-default", NR_WRITE)
    pid, fd = target.pid, target.info["fd"]
    with GdbSession(pid) as session:  # 'set confirm off': harm is asked all the same
        session.child.sendline("sock-shutdown %d" % fd)
        session.child.expect_exact("Shut down anyway? (y or n) ")
        asked = session.child.before.replace("\r\n", "\n")
        session.child.sendline("n")
        out = session._until_prompt(30)
        assert "kills the process" in asked and "shutting down only 'read' on fd %d avoids that" % fd in asked
        assert "not confirmed; nothing done" in out, out
    wait_blocked(pid, pid, NR_WRITE)
    assert target.alive() and tcp_state(target) == "ESTAB"


# --------------------------------------------------------------------------
# Pollers whose interest does not include what shutdown makes ready


def test_select_for_urgent_data_only_does_not_wake(pr_binary, targets):
    target = start(targets, pr_binary, "urgent", NR_PSELECT)
    pid, fd = target.pid, target.info["fd"]
    result = shut(pid, fd)
    assert result.rc == 0, result
    assert ("\n  predicted: LWP %d pselect6 (select for urgent): goes on waiting: it waits on fd "
            "%d for urgent data, and shutdown(%d, SHUT_RDWR) makes it ready for read, write, "
            "peer close, hang-up only\n"
            "    as predicted: fd %d now polls ready for read, write, peer close, hang-up\n"
            % (pid, fd, fd, fd)) in result.out, result.out
    wait_blocked(pid, pid, NR_PSELECT)  # after detach, still waiting
    poke(target)
    assert target.expect("WOKE") == "WOKE ctl=1 except=0"


def test_epoll_for_write_only_and_a_read_shutdown_does_not_wake(pr_binary, targets):
    target = start(targets, pr_binary, "epollout", NR_EPOLL_WAIT)
    pid, fd = target.pid, target.info["fd"]
    result = shut(pid, fd, "read")
    assert result.rc == 0, result
    assert re.search(r"^  predicted: LWP %d epoll_wait \(epoll_wait on fd \d+ for write\): goes "
                     r"on waiting: it waits on fd %d for write, and shutdown\(%d, SHUT_RD\) makes "
                     r"it ready for read, peer close only$" % (pid, fd, fd), result.out,
                     re.M), result.out
    wait_blocked(pid, pid, NR_EPOLL_WAIT)
    poke(target)
    assert target.expect("WOKE") == "WOKE ctl=1 sock=0x0"
    assert exit_status(target) == 0


def test_epoll_for_write_and_both_directions_kills_by_its_next_write(pr_binary, targets):
    target = start(targets, pr_binary, "epollout", NR_EPOLL_WAIT)
    pid, fd = target.pid, target.info["fd"]
    refused = shut(pid, fd)
    assert refused.rc == 1 and "returns fd %d writable, and its next write fails with EPIPE, " \
        "and SIGPIPE, at its default action, kills the process" % fd in refused.err, refused
    done = shut(pid, "-force", fd)
    assert done.rc == 0, done
    # It wakes with fd writable (EPOLLOUT|EPOLLHUP here), writes, and dies.
    assert target.expect("WOKE").startswith("WOKE ctl=0 sock=0x")
    assert exit_status(target) == -signal.SIGPIPE


# --------------------------------------------------------------------------
# sock-kill (SOCK_DESTROY) and the pollers: what each one's interest meets


def kill(pid, fd):
    result = gdb_batch(pid, "sock-kill %d" % fd)
    no_traceback(result)
    return result


def test_kill_and_select_for_urgent_data_only_does_not_wake(pr_binary, targets):
    target = start(targets, pr_binary, "urgent", NR_PSELECT)
    pid, fd = target.pid, target.info["fd"]
    result = kill(pid, fd)
    assert result.rc == 0, result
    assert ("\n  LWP %d pselect6 (select for urgent): goes on waiting: it waits on fd %d for "
            "urgent data, and SOCK_DESTROY makes it ready for read, write, peer close, hang-up, "
            "error only\n" % (pid, fd)) in result.out, result.out
    wait_blocked(pid, pid, NR_PSELECT)  # after detach, still waiting
    poke(target)
    assert target.expect("WOKE") == "WOKE ctl=1 except=0"


def test_kill_and_epoll_for_write_wakes_and_its_write_fails_without_sigpipe(pr_binary, targets):
    target = start(targets, pr_binary, "epollout", NR_EPOLL_WAIT)
    pid, fd = target.pid, target.info["fd"]
    result = kill(pid, fd)
    assert result.rc == 0, result
    assert re.search(r"^  LWP %d epoll_wait \(epoll_wait on fd \d+ for write\): returns with fd "
                     r"%d ready \(write, hang-up, error\) when the process resumes, and the next "
                     r"call on it fails with ECONNABORTED; " % (pid, fd), result.out,
                     re.M), result.out
    # EPOLLOUT|EPOLLERR|EPOLLHUP, then the write gets the abort's error, no SIGPIPE.
    assert target.expect("WOKE") == "WOKE ctl=0 sock=0x1c"
    assert target.expect("FAILED") == "FAILED errno=%d" % errno.ECONNABORTED
    assert exit_status(target) == 0


# --------------------------------------------------------------------------
# An event loop on a shut listener


def cpu_ticks(pid: int) -> int:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def ticks_over(pid: int, seconds: float) -> int:
    """CPU ticks (1/100 s) the process used in ``seconds`` of wall time:
    what it did, measured by the kernel, not how fast we are."""
    before = cpu_ticks(pid)
    time.sleep(seconds)
    return cpu_ticks(pid) - before


def test_a_selector_loop_on_a_shut_listener_is_refused_then_spins(targets):
    target = targets([sys.executable, os.path.join(TARGETS, "pr_selector.py")])
    pid, fd = target.pid, target.info["fd"]
    wait_blocked(pid, pid, NR_POLL)
    refused = shut(pid, fd)
    assert refused.rc == 1, refused
    assert ("refused: fd %d: LWP %d poll (poll for read): returns at once with fd %d ready "
            "(hang-up) on every call from now on, and accept() on it fails with EINVAL: a loop "
            "that polls fd %d spins; no direction of shutdown on fd %d avoids that; give -force "
            "to shut down anyway; nothing done" % (fd, pid, fd, fd, fd)) in refused.err, refused
    idle = ticks_over(pid, 2.0)
    done = shut(pid, "-force", fd)
    assert done.rc == 0, done
    busy = ticks_over(pid, 2.0)
    # Idle, it sleeps in poll (0.5 s timeout): next to no CPU.  Spinning,
    # it takes whatever the scheduler gives it; 20% of one CPU is far
    # beyond anything a sleeping loop uses.
    assert idle <= 5 and busy >= 40, (idle, busy)


# --------------------------------------------------------------------------
# Scale


def test_a_big_batch_is_counted_then_summed_up(targets):
    target = targets([build("sd_blocker"), "pause", "--closewait", "12"])
    pid = target.pid
    wait_blocked(pid, target.info["blocked_tid"], {34})  # pause
    result = gdb_batch(pid, "set confirm on", "sock-shutdown -method pidfd -state close-wait")
    no_traceback(result)
    assert result.rc == 0, result
    assert "About to shut down 12 sockets in process %d:\n" % pid in result.out, result.out
    # 12 closed clients, each from its own port: the five first named, the rest counted.
    assert re.search(r"^  12 CLOSE-WAIT: (1 with peer 127\.0\.0\.1:\d+, ){5}7 with 7 other "
                     r"peers$", result.out, re.M), result.out
    assert "(-dry-run lists each one and what its threads would do)" in result.out
    assert result.out.count("(y or n)") == 1
    assert result.out.count("SHUT_RDWR) = 0; ") == 12
    assert "\n12 shut down, 0 failed\n" in result.out, result.out
    states = {row["state"] for inode, row in ss_rows(pid=pid).items()
              if row["state"] == "CLOSE-WAIT"}
    assert states == set()
