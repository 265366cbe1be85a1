"""The watchdog of the call method on gdbs without a call timeout (13, 14),
in gdb: one helper process forked when gdb_sockets loads (WatchdogHelper
of actions/watchdog.py), a fork per call where it is gone.  gdb 15 and
later time calls out themselves: no helper there.  The helper alone, with
no gdb: tests/unit/test_watchdog.py.

The hung call itself (the SIGINT, gdb's unwinding) is
test_sock_shutdown_edges.test_call_that_never_returns_is_unwound_and_the_target_lives.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

import harness
from harness import build, gdb_batch, no_traceback, wait_blocked
from test_sock_shutdown import NR_RECVFROM, calls_refused



def gdb_times_calls() -> bool:
    """The gdb under test (chosen per test: every gdb runs every test)."""
    return harness.gdb_version() >= (15, 0)


# A process that says each SIGINT it gets, by the thread that got it.
SIGNALLED = r"""
import signal, sys, threading, time
def said(signo, frame):
    print("SIGINT", flush=True)
signal.signal(signal.SIGINT, said)
print("READY {}", flush=True)
time.sleep(120)
"""

ARM = r"""
import os, select, time
from gdb_sockets.actions import inferior_call as ic
helper = ic._HELPER
print("@@HELPER %%s" %% (helper.pid if helper is not None else None))
if helper is not None:
    pid = %(pid)d
    armed = helper.watch((pid, pid, 0), 0.2)
    with armed:
        time.sleep(0.6)
        print("@@FIRED %%s" %% armed.fired())
    print("@@AFTER %%s" %% helper.fired_seen)
    armed = helper.watch((pid, pid, 0), 5.0)
    with armed:
        print("@@FIRED %%s" %% armed.fired())
    print("@@AFTER %%s" %% helper.fired_seen)
"""


def run_script(pid, tmp_path, text, *more):
    script = tmp_path / "watchdog.py"
    script.write_text(text)
    result = gdb_batch(pid, "source %s" % script, *more, timeout=60)
    no_traceback(result)
    return result


def gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` no longer exists (reaped by whoever adopted it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % pid):
            return True
        time.sleep(0.02)
    return False


def test_helper_fires_once_then_stays_quiet_and_ends_with_gdb(targets, tmp_path):
    """Armed for 0.2 s, it says FIRED and sends one SIGINT to the thread;
    armed for 5 s and disarmed at once, it sends nothing.  It ends when
    gdb exits.  (gdb 15+: there is no helper.)"""
    target = targets([sys.executable, "-S", "-c", SIGNALLED])
    result = run_script(None, tmp_path, ARM % {"pid": target.pid})
    helper = re.search(r"^@@HELPER (\S+)$", result.out, re.M).group(1)
    if gdb_times_calls():
        assert helper == "None", result
        return
    assert re.findall(r"^@@(FIRED|AFTER) (\S+)$", result.out, re.M) == [
        ("FIRED", "True"), ("AFTER", "True"), ("FIRED", "False"), ("AFTER", "False")], result
    assert target.expect("SIGINT", timeout=5) == "SIGINT"
    assert gone(int(helper)), "the watchdog helper outlived gdb"
    with pytest.raises(AssertionError):
        target.expect("SIGINT", timeout=1)   # exactly one


def test_hung_call_is_unwound_by_a_forked_watchdog_when_the_helper_is_gone(targets,
                                                                          tmp_path):
    """The helper killed: the call still stops after 5 s (a watchdog forked
    for the call), and the next call is watched the same way."""
    if gdb_times_calls():
        pytest.skip("gdb %s times calls out itself" % ".".join(map(str, harness.gdb_version())))
    target = targets([build("hang_shutdown")])
    wait_blocked(target.pid, target.pid, NR_RECVFROM)
    fd = target.info["fd"]
    kill = ("import os, signal\nfrom gdb_sockets.actions import inferior_call as ic\n"
            "os.kill(ic._HELPER.pid, signal.SIGKILL)\nprint('@@KILLED')\n")
    result = run_script(target.pid, tmp_path, kill, "handle SIGSYS nostop noprint pass",
                        "sock-shutdown -method call %d" % fd,
                        "python print('@@HELPER %s' % ic._HELPER.sock)")
    if calls_refused():
        assert "-method call cannot run here" in result.err, result
    else:
        assert "@@KILLED" in result.out, result
        assert re.search(r"^shutdown\(%d, SHUT_RDWR\) did not complete: did not return within "
                         r"5 s; gdb unwound the call" % fd, result.out, re.M), result
        assert "@@HELPER None" in result.out, result   # given up, not used again
    assert target.alive()
    wait_blocked(target.pid, target.pid, NR_RECVFROM)
    wake = gdb_batch(target.pid, "sock-shutdown -method pidfd %d" % fd)
    assert wake.rc == 0, wake
    assert target.expect("RECV", timeout=10) == "RECV ret=0 errno=0"


def test_a_thread_that_blocks_sigint_gets_no_call_where_only_sigint_could_stop_it(targets):
    """gdb 13/14: the watchdog stops a call that never returns with SIGINT,
    which this thread blocks: call is refused (auto takes the raw syscall).
    gdb 15+ stop the call themselves: the thread's mask does not matter."""
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "sigint_blocked.py")])
    wait_blocked(target.pid, target.pid, NR_RECVFROM)
    fd = target.info["fd"]
    if not gdb_times_calls():
        called = gdb_batch(target.pid, "sock-shutdown -method call %d" % fd)
        no_traceback(called)
        assert called.rc == 1, called
        assert ("-method call cannot run here: LWP %d blocks SIGINT, the signal that stops a "
                "call that never returns (gdb %d.%d has no call timeout of its own; gdb 15 "
                "and later do)" % ((target.pid,) + harness.gdb_version())) in called.err, called
    done = gdb_batch(target.pid, "sock-shutdown %d" % fd)
    no_traceback(done)
    assert done.rc == 0, done
    method = "call" if gdb_times_calls() and not calls_refused() else "syscall"
    assert "(method %s)" % method in done.out or "[method: %s" % method in done.out, done.out
    if not gdb_times_calls():
        assert "libc's shutdown was not called because LWP %d blocks SIGINT" % target.pid \
            in done.out, done.out
    assert target.expect("WOKE", timeout=10) == "WOKE ret=0"
