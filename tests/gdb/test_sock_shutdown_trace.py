"""`sock-shutdown` leaves no trace (design §2): registers, errno, an
interrupted system call of another thread, gdb's settings and value history.

Helpers and targets: see test_sock_shutdown.py.
"""

from __future__ import annotations

import re
import time

import pytest

from harness import gdb_batch, no_traceback, wait_blocked
from test_sock_shutdown import (
    NR_CLOCK_NANOSLEEP, SHOW_SELECTED, assert_open_same_socket,
    assert_call_refused, assert_shut_down_ok, calls_refused, expect_spinners_fine, expect_woke,
    fd_inode, selected_tid, shutdown_batch, start_blocker, switch_to_tid, wake_with_pidfd)

EAGAIN = 11


def between(out: str, start: str, end: str) -> str:
    """The text of ``out`` between two marker lines printed with gdb's echo."""
    match = re.search(r"^%s\n(.*?)^%s\n" % (re.escape(start), re.escape(end)), out, re.M | re.S)
    assert match, "no %s..%s in %r" % (start, end, out)
    return match.group(1)


def echo(marker: str) -> str:
    return "echo %s\\n" % marker


# --------------------------------------------------------------------------
# Registers


REGISTER_DUMP = ("info registers", "info registers orig_rax", "x/2xb $pc")


@pytest.mark.parametrize("method", ["syscall", "pidfd", "call"])
@pytest.mark.parametrize("selected", ["blocked-thread", "busy-thread"])
def test_registers_of_selected_thread_unchanged(sd_binary, targets, method, selected):
    """General registers (rip, eflags, orig_rax...) and the code at pc, read
    back from the kernel, are as they were.  A busy thread is stopped in
    user code, where the syscall method must borrow two bytes at pc.  Where
    calls cannot work (calls_refused), -method call is refused instead and
    the registers are just as untouched."""
    target = start_blocker(targets, sd_binary, "recv", "--busy", "2")
    pid, fd = target.pid, target.info["fds"]["client"]
    inode = fd_inode(pid, fd)
    tid = target.info["blocked_tid"] if selected == "blocked-thread" else \
        target.info["busy_tids"][0]
    result = gdb_batch(
        pid, switch_to_tid(tid), SHOW_SELECTED,
        echo("@@BEFORE"), *REGISTER_DUMP, echo("@@SHUTDOWN"),
        "sock-shutdown -method %s %d" % (method, fd),
        echo("@@FLUSH"), "maintenance flush register-cache",
        echo("@@AFTER"), *REGISTER_DUMP, echo("@@VALUES"), "show values", echo("@@END"))
    no_traceback(result)
    assert selected_tid(result.out) == tid
    shutdown_out = between(result.out, "@@SHUTDOWN", "@@FLUSH")
    refused = method == "call" and calls_refused()
    if refused:
        assert "-method call cannot run here" in result.err, result
    else:
        assert re.search(r"^shutdown\(%d, SHUT_RDWR\) = 0; .*\[method: %s\]" % (fd, method),
                         shutdown_out, re.M), result
    # Nothing but its report: no frame or source line of a step the user
    # did not ask for.
    assert not re.search(r"^(0x[0-9a-f]+\b|\d+\t|#\d+ )", shutdown_out, re.M), shutdown_out
    before = between(result.out, "@@BEFORE", "@@SHUTDOWN")
    after = between(result.out, "@@AFTER", "@@VALUES")
    assert between(result.out, "@@VALUES", "@@END") == ""  # no $1 from us
    assert re.search(r"^rip\s", before, re.M) and re.search(r"^eflags\s", before, re.M)
    assert re.search(r"^orig_rax\s", before, re.M), before
    assert after == before
    if refused:
        wake_with_pidfd(target, fd)
    assert expect_woke(target) == (0, 0)
    assert_open_same_socket(target, fd, inode)
    expect_spinners_fine(target, 2)


# --------------------------------------------------------------------------
# errno


@pytest.mark.parametrize("method,planted", [("auto", 1234), ("syscall", 1234), ("pidfd", 1234),
                                            ("call", 1234), ("auto", EAGAIN)])
def test_errno_of_blocked_thread_kept_after_failing_shutdown(sd_binary, targets, method,
                                                             planted):
    """The blocked thread (gdb's selected one) planted errno before a raw
    recvfrom; it prints errno as soon as the call returns 0.  A shutdown
    that fails (a second one: ENOTCONN) must not leave its errno there."""
    target = start_blocker(targets, sd_binary, "rawrecv", "--closewait", "1",
                           "--errno", str(planted))
    pid, fds = target.pid, target.info["fds"]
    client, closewait = fds["client"], fds["closewait"][0]
    inode = fd_inode(pid, client)
    command = "sock-shutdown -method %s %%d" % method
    result = gdb_batch(pid, command % client, command % closewait, command % closewait)
    no_traceback(result)
    assert result.rc == 1, result
    if method == "call" and calls_refused():
        assert_call_refused(result)
        wake_with_pidfd(target, client)
    else:
        assert result.out.count("SHUT_RDWR) = 0; ") == 2, result.out
        assert re.search(r"fd %d: already shut down" % closewait, result.err), result.err
    assert expect_woke(target) == (0, planted)
    assert_open_same_socket(target, client, inode)


# --------------------------------------------------------------------------
# Another thread's interrupted system call


SLEEP_MS = 2000


@pytest.mark.parametrize("method,selected", [("syscall", "recv-thread"),
                                             ("syscall", "sleeping-thread"),
                                             ("auto", "sleeping-thread")])
def test_interrupted_sleep_and_recv_resume(sd_binary, targets, method, selected):
    """A thread in clock_nanosleep(2 s) when gdb attaches must still sleep
    2 s in all and return 0; the recv thread returns 0 (not -1/EINTR/512),
    whichever of the two gdb ran the shutdown in."""
    target = start_blocker(targets, sd_binary, "recv", "--sleeper", str(SLEEP_MS))
    pid, fd = target.pid, target.info["fds"]["client"]
    sleeper = target.info["sleeper_tid"]
    wait_blocked(pid, sleeper, NR_CLOCK_NANOSLEEP)
    tid = target.info["blocked_tid"] if selected == "recv-thread" else sleeper
    result = shutdown_batch(pid, method, str(fd), pre=(switch_to_tid(tid), SHOW_SELECTED))
    detached_at = time.monotonic_ns()
    assert_shut_down_ok(result, method)
    assert selected_tid(result.out) == tid
    # Otherwise the sleep was over before gdb let go: nothing was tested.
    assert detached_at < target.info["sleeper_t0_ns"] + SLEEP_MS * 1_000_000, \
        "gdb took too long: the sleep was not interrupted"
    assert expect_woke(target) == (0, 0)
    line = target.expect("SLEPT", SLEEP_MS / 1000 + 10)
    match = re.fullmatch(r"SLEPT ms=(\d+) ret=(-?\d+)", line)
    assert match, line
    assert int(match.group(2)) == 0, line
    assert int(match.group(1)) >= SLEEP_MS, line


# --------------------------------------------------------------------------
# gdb's settings and value history


SHOW_SETTINGS = ("show scheduler-locking", "show unwindonsignal", "show language")
# Not gdb's defaults where the command changes them for its own use.
USER_SETTINGS = ("set scheduler-locking step", "set unwindonsignal off")


def test_settings_and_value_history_unchanged(sd_binary, targets):
    """After every kind of sock-shutdown (refused, failing, succeeding, each
    method) the user's settings are as they were and the value history
    holds only the user's own values."""
    target = start_blocker(targets, sd_binary, "recv", "--closewait", "2")
    pid, fds = target.pid, target.info["fds"]
    attempts = [
        "sock-shutdown -method call %d" % fds["closewait"][0],   # see calls_refused
        "sock-shutdown -method syscall %d" % fds["fresh"],       # ENOTCONN
        "sock-shutdown -method pidfd %d" % fds["fresh"],         # ENOTCONN
        "sock-shutdown 99999",                                   # not open
        "sock-shutdown -method syscall %d" % fds["closewait"][1],
        "sock-shutdown -method pidfd %d" % fds["closewait"][0],
        "sock-shutdown %d" % fds["client"],                      # auto
    ]
    commands = list(USER_SETTINGS) + ["print 40 + 2", echo("@@0")] + list(SHOW_SETTINGS)
    for n, attempt in enumerate(attempts, 1):
        commands += [echo("@@TRY%d" % n), attempt, echo("@@%d" % n)] + list(SHOW_SETTINGS)
    commands += [echo("@@VALUES"), "show values", echo("@@END")]
    result = gdb_batch(pid, *commands)
    no_traceback(result)
    out = result.out
    shown = [between(out, "@@0", "@@TRY1")]
    for n in range(1, len(attempts) + 1):
        end = "@@TRY%d" % (n + 1) if n < len(attempts) else "@@VALUES"
        shown.append(between(out, "@@%d" % n, end))
    assert 'Mode for locking scheduler during execution is "step".' in shown[0], shown[0]
    assert "Unwinding of stack if a signal is received while in a call dummy is off." \
        in shown[0], shown[0]
    assert 'The current source language is "auto; currently ' in shown[0], shown[0]
    for n, text in enumerate(shown[1:], 1):
        assert text == shown[0], "after %r:\n%s\nbefore:\n%s" % (attempts[n - 1], text, shown[0])
    # Each attempt did what it should (so that the checks above mean something).
    if calls_refused():
        assert "-method call cannot run here" in result.err, result.err
    else:
        assert "SHUT_RDWR) = 0; " in between(out, "@@TRY1", "@@1"), out
    assert "= 0; " in between(out, "@@TRY7", "@@7"), out
    assert "SHUT_RDWR) = 0; " in between(out, "@@TRY5", "@@5"), out
    assert between(out, "@@VALUES", "@@END").strip() == "$1 = 42"
    assert expect_woke(target) == (0, 0)


# --------------------------------------------------------------------------
# The user's language: expressions gdb_sockets evaluates must not depend on it


@pytest.mark.parametrize("language,selected,method", [
    ("ada", "blocked-thread", "syscall"),     # '=' compares: no register written
    ("pascal", "busy-thread", "syscall"),
    ("modula-2", "blocked-thread", "syscall"),
    # auto probes whether a call is safe with an expression too: a probe
    # that wrote nothing chose the call on a CPU where it damages the thread.
    ("pascal", "blocked-thread", "auto"),
    ("ada", "busy-thread", "pidfd"),
])
def test_works_under_another_language(sd_binary, targets, language, selected, method):
    """The user's `set language` does not change what the command does, and stays."""
    target = start_blocker(targets, sd_binary, "recv", "--busy", "1")
    pid, fd = target.pid, target.info["fds"]["client"]
    inode = fd_inode(pid, fd)
    tid = target.info["blocked_tid"] if selected == "blocked-thread" else \
        target.info["busy_tids"][0]
    # A working shutdown takes well under a second; a hung gdb is killed.
    result = gdb_batch(pid, "set language " + language, switch_to_tid(tid),
                       "sock-shutdown -method %s %d" % (method, fd), echo("@@LANG"),
                       "show language", timeout=6)
    no_traceback(result)
    assert re.search(r"^shutdown\(%d, SHUT_RDWR\) = 0; " % fd, result.out, re.M), result
    assert 'The current source language is "%s".' % language in result.out.split("@@LANG")[1]
    assert expect_woke(target) == (0, 0)
    assert_open_same_socket(target, fd, inode)
    expect_spinners_fine(target, 1)
