"""The watchdog of an inferior call, for gdbs without a call timeout (13, 14).

gdb holds Python's GIL for the whole inferior call, so no Python thread of
gdb's can keep time: another process does, and after ``timeout`` seconds
sends SIGINT to the calling thread (tgkill), which makes gdb stop the call
and unwind it (unwindonsignal).  ``WatchdogHelper`` is one such process,
forked once before any process is stopped and armed for each call;
``Watchdog`` forks one for the call, where the helper is gone.  No gdb here.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import struct
import time
from typing import Optional

_NR_TGKILL = 234  # x86-64


# Resolved now: a forked child must not load anything (another thread of
# gdb may have held the loader's lock at the fork).
_LIBC = ctypes.CDLL(None, use_errno=True)
_SYSCALL, _PRCTL = _LIBC.syscall, _LIBC.prctl
_PR_SET_NAME = 15
# What ps and top show for the helper (a fork of gdb, with gdb's command line).
HELPER_NAME = b"gdb_sockets-wd"


def _tgkill(pid: int, tid: int, signum: int) -> None:
    """Send ``signum`` to one thread of the inferior (thread-directed)."""
    _SYSCALL(ctypes.c_long(_NR_TGKILL), ctypes.c_long(pid), ctypes.c_long(tid),
             ctypes.c_long(signum))


class Watchdog:
    """Interrupts the calling thread with SIGINT after ``timeout`` seconds
    (None: no watchdog), for gdbs without a call timeout of their own,
    where the helper forked at load (WatchdogHelper) is gone.

    gdb holds Python's GIL for the whole call, so a Python thread cannot
    keep time: a forked child does.  The SIGINT goes to the calling thread
    (tgkill): gdb stops the call and unwinds it (unwindonsignal), and does
    not pass SIGINT to the program.  The child waits to be killed after it
    fired rather than exit, so gdb's own wait for the inferior never reaps
    it; a pipe says whether it fired.
    """

    def __init__(self, ptid, timeout: Optional[float]) -> None:
        self.pid, self.tid = ptid[0], ptid[1]
        self.timeout = timeout
        self.child = None
        self.pipe = None

    def __enter__(self) -> "Watchdog":
        if self.timeout is None:
            return self
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover (the child never returns)
            try:
                os.close(read_end)
                time.sleep(self.timeout)
                # Said before it is done: under load gdb could otherwise see
                # the stop and ask fired() before this child wrote (seen).
                os.write(write_end, b"!")
                _tgkill(self.pid, self.tid, signal.SIGINT)
                while True:
                    signal.pause()
            finally:
                os._exit(0)
        os.close(write_end)
        self.child, self.pipe = child, read_end
        return self

    def fired(self) -> bool:
        if self.pipe is None:
            return False
        readable, _, _ = select.select([self.pipe], [], [], 0)
        return bool(readable)

    def __exit__(self, *exc) -> None:
        if self.child is not None:
            os.kill(self.child, signal.SIGKILL)
            os.waitpid(self.child, 0)
            os.close(self.pipe)
            self.child = self.pipe = None


class WatchdogHelper:
    """The watchdog as one process, forked once (inferior_call does it as
    the package loads: gdb's start-up, before any process is stopped), for
    gdbs without a call timeout; Watchdog forks one per call where this one
    is gone.

    Forking gdb once it holds a process costs ~1.5 ms and reaping the child
    ~1 ms (measured: gdb's address space is large by then), both inside the
    stall; arming and disarming this one is a message each way.  On a
    SOCK_SEQPACKET pair, gdb sends ARM (pid, tid, seconds), then DISARM when
    the call is over; the helper answers DISARM with DONE and, if the time
    ran out first, has sent FIRED before the SIGINT (as Watchdog writes
    before it signals).  It ignores the terminal's signals (Ctrl-C is
    gdb's), and ends when gdb's end closes, that is when gdb exits.
    """

    ARM, DISARM, FIRED, DONE = b"A", b"X", b"F", b"D"
    _ARM = struct.Struct("<iid")

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child = os.fork()
        if child == 0:  # pragma: no cover (the child never returns)
            try:
                # Nothing of gdb's stays open here (its output pipes would
                # not end when gdb exits).
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                keep = theirs.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 20)
                self._serve(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.sock = child, ours
        self.fired_seen = False

    @classmethod
    def _serve(cls, sock) -> None:  # pragma: no cover (runs in the child)
        _PRCTL(ctypes.c_int(_PR_SET_NAME), ctypes.c_char_p(HELPER_NAME), ctypes.c_ulong(0),
               ctypes.c_ulong(0), ctypes.c_ulong(0))
        for name in ("SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        while True:
            message = sock.recv(64)
            if not message:
                return  # gdb closed its end
            if message[:1] != cls.ARM:
                sock.send(cls.DONE)
                continue
            pid, tid, seconds = cls._ARM.unpack(message[1:])
            readable, _, _ = select.select([sock], [], [], seconds)
            if not readable:
                sock.send(cls.FIRED)
                _tgkill(pid, tid, signal.SIGINT)
            if not sock.recv(64):  # DISARM
                return
            sock.send(cls.DONE)

    def watch(self, ptid, timeout: Optional[float]) -> Optional["Armed"]:
        """The armed watchdog for one call, or None when the helper is gone
        (the caller then forks one)."""
        if timeout is None or self.sock is None:
            return None
        try:
            self.sock.send(self.ARM + self._ARM.pack(ptid[0], ptid[1], timeout),
                           socket.MSG_NOSIGNAL)
        except OSError:
            self.close()
            return None
        return Armed(self)

    def fired(self) -> bool:
        if self.sock is None:
            return self.fired_seen
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == self.FIRED
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return self.fired_seen

    def disarm(self) -> bool:
        """Disarm; True if it fired.  A helper that does not answer is
        killed and reaped, so that no late SIGINT can follow."""
        fired = False
        try:
            self.sock.send(self.DISARM, socket.MSG_NOSIGNAL)
            while True:
                readable, _, _ = select.select([self.sock], [], [], 2.0)
                answer = self.sock.recv(64) if readable else b""
                if answer == self.FIRED:
                    fired = True
                    continue
                if answer != self.DONE:
                    self.close()
                break
        except OSError:
            self.close()
        self.fired_seen = fired
        return fired

    def close(self) -> None:
        """Stop using the helper: killed and reaped (if gdb has not reaped it)."""
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class Armed:
    """One call's watch by the helper: a context manager like Watchdog."""

    def __init__(self, helper: WatchdogHelper) -> None:
        self.helper = helper
        self.done = False

    def __enter__(self) -> "Armed":
        return self

    def fired(self) -> bool:
        return self.helper.fired()

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.done = True
            self.helper.disarm()


# System calls that wait with a signal mask of their own: /proc shows that
# mask while the thread waits, and a call made from there runs with the
# thread's usual mask, which nothing outside the kernel shows.
MASKED_WAITS = frozenset({"ppoll", "pselect6", "epoll_pwait", "epoll_pwait2", "rt_sigsuspend"})
SIGINT = 2


def sigint_refusal(lwp: int, masks, call: Optional[str]) -> Optional[str]:
    """Why this watchdog could not stop a call made in thread ``lwp``, or
    None: it stops a call that never returns with SIGINT, and a thread
    that blocks SIGINT never takes it (gdb would wait for good, the
    process stopped).  ``masks``: the thread's kernel.signals.SignalMasks
    (None: unreadable); ``call``: the system call it waits in, if any."""
    if masks is None:
        return ("LWP %d's signal mask could not be read, and only a SIGINT it does not "
                "block stops a call that never returns" % lwp)
    if call in MASKED_WAITS:
        return ("LWP %d waits in %s with a signal mask of its own, so whether it blocks the "
                "SIGINT that stops a call that never returns is not known" % (lwp, call))
    if masks.is_blocked(SIGINT):
        return ("LWP %d blocks SIGINT, the signal that stops a call that never returns"
                % lwp)
    return None


def start_helper() -> Optional[WatchdogHelper]:
    """The helper, or None where it cannot be forked (each call then forks its own)."""
    try:
        return WatchdogHelper()
    except OSError:
        return None
