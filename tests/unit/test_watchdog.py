"""actions/watchdog: the helper process that interrupts a call, with no gdb:
armed against a child that says each SIGINT it gets."""

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from gdb_sockets.actions import watchdog

SAYS_SIGINT = r"""
import signal, sys, time
signal.signal(signal.SIGINT, lambda *a: print("SIGINT", flush=True))
print("READY", flush=True)
time.sleep(60)
"""


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-S", "-c", SAYS_SIGINT], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == "READY\n"
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def helper():
    helper = watchdog.start_helper()
    assert helper is not None
    yield helper
    helper.close()


def said(proc, timeout):
    """The next line ``proc`` printed within ``timeout`` seconds, as a
    one-element list; [] if none came."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return [proc.stdout.readline().strip()] if ready else []


def test_fires_once_at_its_time_then_disarms(helper, child):
    armed = helper.watch((child.pid, child.pid, 0), 0.2)
    with armed:
        assert not armed.fired()
        assert said(child, 0.5) == ["SIGINT"]
        assert armed.fired()
    assert helper.fired_seen
    assert said(child, 0.15) == []


def test_disarmed_in_time_sends_nothing_and_can_be_armed_again(helper, child):
    for _ in range(3):
        with helper.watch((child.pid, child.pid, 0), 0.2) as armed:
            pass
        assert not armed.fired() and not helper.fired_seen
    assert said(child, 0.35) == []
    with helper.watch((child.pid, child.pid, 0), 0.1):
        assert said(child, 0.5) == ["SIGINT"]


def test_a_helper_that_is_gone_is_not_used(helper, child):
    os.kill(helper.pid, signal.SIGKILL)
    time.sleep(0.1)
    assert helper.watch((child.pid, child.pid, 0), 0.1) is None
    assert helper.sock is None
    assert helper.watch((child.pid, child.pid, 0), 0.1) is None


def test_the_helper_names_itself(helper):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open("/proc/%d/comm" % helper.pid, "rb") as f:
            if f.read() == watchdog.HELPER_NAME + b"\n":
                return
        time.sleep(0.01)
    pytest.fail("the helper's name stayed %r" % open("/proc/%d/comm" % helper.pid).read())


def test_no_timeout_no_watch(helper):
    assert helper.watch((1, 1, 0), None) is None


def test_the_helper_ends_when_its_parent_end_closes(helper):
    helper.sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pid, status = os.waitpid(helper.pid, os.WNOHANG)
        if pid:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            break
        time.sleep(0.01)
    else:
        pytest.fail("the helper did not end")
    helper.sock = None   # reaped here


def test_the_forked_watchdog_fires_too(child):
    with watchdog.Watchdog((child.pid, child.pid, 0), 0.1) as dog:
        assert said(child, 0.5) == ["SIGINT"]
        assert dog.fired()
    with watchdog.Watchdog((child.pid, child.pid, 0), 5.0) as dog:
        pass
    assert not dog.fired()
    assert said(child, 0.15) == []


def test_sigint_refusal_of_a_thread_that_would_never_take_the_watchdogs_signal():
    from gdb_sockets.actions.watchdog import sigint_refusal
    from gdb_sockets.kernel.signals import parse_status
    status = (b"SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
              b"SigBlk:\t%016x\nSigIgn:\t0000000000001000\nSigCgt:\t0000000000000000\n")
    free, blocking = parse_status(status % 0), parse_status(status % (1 << 1))  # bit 1: SIGINT
    assert sigint_refusal(7, free, "recvfrom") is None
    assert sigint_refusal(7, free, None) is None
    assert sigint_refusal(7, blocking, "recvfrom") == (
        "LWP 7 blocks SIGINT, the signal that stops a call that never returns")
    # A wait with a mask of its own: /proc shows that one, not the call's.
    assert sigint_refusal(7, free, "epoll_pwait").startswith(
        "LWP 7 waits in epoll_pwait with a signal mask of its own")
    assert sigint_refusal(7, None, "recvfrom").startswith("LWP 7's signal mask could not be read")
