"""kernel.signals: signal sets from captured /proc/PID/status files (samples/signals/).

The samples (capture.py beside them) are four Python processes: SIGPIPE at
its default action, ignored (Python's own start-up setting), caught by a
handler, and default but blocked in one thread.
"""

import os
import signal

import pytest

from gdb_sockets.kernel.signals import SIGPIPE, SignalMasks, parse_status, read_masks

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "signals")


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


@pytest.mark.parametrize("case, disposition, main_blocked, thread_blocked", [
    ("default", "default", False, False),
    ("ignored", "ignored", False, False),
    ("caught", "caught", False, False),
    ("blocked", "default", False, True),
])
def test_sigpipe_in_the_captured_processes(case, disposition, main_blocked, thread_blocked):
    process = parse_status(sample(case + ".status"))
    thread = parse_status(sample(case + ".task_status"))
    assert process.disposition(SIGPIPE) == thread.disposition(SIGPIPE) == disposition
    assert (process.is_blocked(SIGPIPE), thread.is_blocked(SIGPIPE)) == (main_blocked,
                                                                          thread_blocked)


def test_the_other_sets_of_a_sample():
    # Python ignores SIGXFSZ (25) and catches SIGINT (2) and signal 33 (glibc's).
    masks = parse_status(sample("caught.status"))
    assert masks == SignalMasks(pending=0, shared_pending=0, blocked=0,
                                ignored=1 << 24, caught=(1 << 32) | (1 << 12) | (1 << 1))
    assert masks.disposition(signal.SIGXFSZ) == "ignored"
    assert masks.disposition(signal.SIGINT) == "caught"
    assert masks.disposition(signal.SIGTERM) == "default"


@pytest.mark.parametrize("data", [
    b"",
    b"Name:\tx\nSigPnd:\t0\nShdPnd:\t0\nSigBlk:\t0\nSigIgn:\t0\n",     # no SigCgt
    b"SigPnd:\t0\nShdPnd:\t0\nSigBlk:\tzz\nSigIgn:\t0\nSigCgt:\t0\n",  # not hex
])
def test_a_status_without_every_set_reads_as_none(data):
    assert parse_status(data) is None


class Reader:
    def __init__(self, files):
        self.files = files

    def read(self, path):
        try:
            return self.files[path]
        except KeyError:
            raise FileNotFoundError(path) from None


def test_read_masks_of_a_process_and_of_a_thread():
    reader = Reader({"/proc/5/status": sample("blocked.status"),
                     "/proc/5/task/6/status": sample("blocked.task_status")})
    assert not read_masks(reader, 5).is_blocked(SIGPIPE)
    assert read_masks(reader, 5, 6).is_blocked(SIGPIPE)
    assert read_masks(reader, 5, 7) is None  # exited meanwhile


def test_read_masks_of_this_process():
    class Local:
        def read(self, path):
            with open(path, "rb") as f:
                return f.read()
    before = signal.getsignal(signal.SIGPIPE)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        assert read_masks(Local(), os.getpid()).disposition(SIGPIPE) == "default"
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        assert read_masks(Local(), os.getpid()).disposition(SIGPIPE) == "ignored"
    finally:
        signal.signal(signal.SIGPIPE, before)
