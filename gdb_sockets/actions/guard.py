"""gdb glue: running code in the target whatever the user's gdb state is.

The `call` and `syscall` methods run code in a thread of the target.  What
they do must not depend on the user's settings, breakpoints or modes, and
whatever stops them, the thread must be put back exactly as it was before
the command returns.  This module holds what both need:

- ``refusal(method)``: what in gdb's state forbids the method, checked
  before anything is touched (non-stop mode, process record, the "may"
  permissions, a seccomp filter that would trap or kill);
- ``set_aside(...)``: for the operation, gdb settings pinned, the user's
  breakpoints disabled, the signals our step can raise made to stop;
  everything restored after, whatever happens;
- register writes that no setting can reinterpret, and the comparison
  that alone may say "put back"; the dummy frame popped after a stop
  inside a call; the signal our step raised discarded.

Facts (measured on gdb 13.1 and 18.1, notes/issue12.md): gdb has no
Frame.write_register; `set $REG = 0x...` is read as hex whatever
input-radix is, under language c.  In non-stop mode gdb.execute("stepi")
returns before the step is done.  Selecting the dummy frame and `return`
pops it (frame_pop -> dummy_frame_pop) and restores the registers.
`queue-signal 0` clears the signal gdb would deliver; a single-stepped
syscall that seccomp trapped also leaves a SIGTRAP pending in the kernel,
which one more stepi consumes before any instruction runs.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Dict, Iterable, List, Optional

import gdb

from . import seccomp
from ..errors import SocketsError

MASK64 = 0xFFFFFFFFFFFFFFFF

# What each method needs gdb to be allowed to do ('set may-...').
NEEDS = {
    "call": ("may-write-registers", "may-write-memory", "may-insert-breakpoints",
             "may-call-functions"),
    "syscall": ("may-write-registers", "may-write-memory"),
}
WHAT_IT_NEEDS = {
    "may-write-registers": "write registers",
    "may-write-memory": "write memory",
    "may-insert-breakpoints": "insert the breakpoint a call returns to",
    "may-call-functions": "call functions",
}

# Signals our own step or call can raise in the thread: a sandbox's SIGSYS,
# a fault.  If the user told gdb not to stop on one, gdb would deliver it
# inside our step (SIGSYS's default action kills the process) unless the
# program catches it.
OUR_SIGNALS = ("SIGSYS", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE")

SYS_SECCOMP, SYS_USER_DISPATCH = 1, 2


# --------------------------------------------------------------------------
# Before anything: what forbids running code here


def refusal(method: str, nr: int, chosen_by_auto: bool = False) -> Optional[str]:
    """Why ``method`` must not run code in the selected thread now, or None.

    ``nr`` is the system call it makes (for the seccomp filters).  A filter
    that answers it with SIGSYS is undone afterwards (the signal is never
    delivered), so only auto, which has a method that runs nothing in the
    process, avoids it.
    """
    if gdb.parameter("non-stop"):
        return ("gdb is in non-stop mode, where other threads run while one is "
                "stepped or calls a function, and a step returns before it is done; "
                "use -method pidfd (it runs nothing in the process), or attach with "
                "'set non-stop off'")
    if gdb.current_recording() is not None:
        return ("process record is on: a step may be replayed rather than run, and "
                "our register writes would enter the execution log; 'record stop' "
                "first, or use -method pidfd")
    for name in NEEDS[method]:
        if not gdb.parameter(name):
            return "'%s' is off: gdb may not %s; use -method pidfd" % (
                name, WHAT_IT_NEEDS[name])
    pending = kernel_pending_signals()
    if pending:
        return ("the selected thread has %s pending in the kernel, which it takes before "
                "any code of ours runs (a process stopped with SIGSTOP has one); use "
                "-method pidfd" % ", ".join(signal_name(n) for n in sorted(pending)))
    return seccomp_refusal(nr, trap_ok=not chosen_by_auto)


def kernel_pending_signals() -> frozenset:
    """Signals the kernel holds for the selected thread (its own or its
    process's) that it does not block: the thread takes them as soon as it
    runs, before a step or a call does anything.  Only for a local process."""
    inferior = gdb.selected_inferior()
    connection = inferior.connection
    if connection is not None and connection.type != "native":
        return frozenset()
    tid = gdb.selected_thread().ptid[1] or inferior.pid
    fields = _status_fields(inferior.pid, tid)
    mask = (fields.get("SigPnd", 0) | fields.get("ShdPnd", 0)) & ~fields.get("SigBlk", 0)
    return frozenset(n for n in range(1, 65) if mask >> (n - 1) & 1)


def _status_fields(pid: int, tid: int) -> Dict[str, int]:
    """The hexadecimal signal masks of /proc/PID/task/TID/status."""
    fields = {}
    try:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            for line in f:
                key, _sep, value = line.partition(":")
                if key in ("SigPnd", "ShdPnd", "SigBlk", "SigCgt"):
                    fields[key] = int(value.strip(), 16)
    except (OSError, ValueError):
        pass
    return fields


def seccomp_refusal(nr: int, trap_ok: bool) -> Optional[str]:
    """Why the selected thread's seccomp filters forbid system call ``nr``."""
    inferior = gdb.selected_inferior()
    connection = inferior.connection
    if connection is not None and connection.type != "native":
        # gdbserver is the tracer there: only it could read the filters.
        return None
    tid = gdb.selected_thread().ptid[1] or inferior.pid
    try:
        with open("/proc/%d/task/%d/status" % (inferior.pid, tid)) as f:
            status = f.read()
    except OSError:
        return None  # the thread is gone; what follows will say so
    reason = seccomp.refusal(status, tid, seccomp.Call(nr), trap_ok)
    if reason is None:
        return None
    return reason + "; use -method pidfd (it runs nothing in the process)"


def remote_seccomp_refusal(reader, pid: int) -> Optional[str]:
    """Through gdbserver, gdbserver is the tracer: only it could read the
    filters.  A process under any seccomp filter is refused there."""
    try:
        status = reader.read("/proc/%d/status" % pid).decode("utf-8", "replace")
    except OSError:
        return None  # gone: what follows says so
    if not seccomp.mode(status):
        return None
    return ("the process runs under seccomp, whose filters cannot be read through "
            "gdbserver, so the call might kill it")


# --------------------------------------------------------------------------
# The user's state, set aside for the operation


@contextlib.contextmanager
def set_aside(settings: Dict[str, str]):
    """For the block: gdb ``settings`` set, user breakpoints disabled, our
    signals made to stop; the user's state back afterwards, whatever happens.

    Settings are restored in the reverse order they were set (language c
    goes first and comes back last, so that nothing else is parsed in the
    user's language).
    """
    saved = [(name, gdb.parameter(name)) for name in settings]
    disabled: List[object] = []
    handles: List[str] = []
    try:
        for name, value in settings.items():
            gdb.execute("set %s %s" % (name, value), to_string=True)
        for breakpoint in gdb.breakpoints():
            if breakpoint.enabled:
                breakpoint.enabled = False
                disabled.append(breakpoint)
        handles = _make_our_signals_stop()
        yield
    finally:
        for command in handles:
            gdb.execute(command, to_string=True)
        for breakpoint in disabled:
            if breakpoint.is_valid():
                breakpoint.enabled = True
        for name, value in reversed(saved):
            gdb.execute("set %s %s" % (name, _parameter_text(value)), to_string=True)


def _parameter_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "unlimited"
    return str(value)


def _make_our_signals_stop() -> List[str]:
    """`handle SIG stop` for OUR_SIGNALS that do not stop and that the
    program does not catch (its default action kills it); the commands
    that undo it.  A signal the program catches (a sandbox's SIGSYS
    handler that emulates the call, a runtime's SIGSEGV handler) is left
    as the user set it: the program expects it."""
    caught = _caught_signals()
    undo = []
    for name in OUR_SIGNALS:
        if int(getattr(signal, name)) in caught:
            continue
        stop, printed = _signal_flags(name)
        if stop:
            continue
        gdb.execute("handle %s stop" % name, to_string=True)
        undo.append("handle %s nostop %s" % (name, "print" if printed else "noprint"))
    return undo


def _caught_signals() -> frozenset:
    """The signals the selected process has a handler for (SigCgt of
    /proc/PID/status); none known through gdbserver."""
    inferior = gdb.selected_inferior()
    connection = inferior.connection
    if connection is not None and connection.type != "native":
        return frozenset()
    try:
        with open("/proc/%d/status" % inferior.pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    mask = int(line.split(":", 1)[1].strip(), 16)
                    return frozenset(n for n in range(1, 65) if mask >> (n - 1) & 1)
    except (OSError, ValueError):
        pass
    return frozenset()


def _signal_flags(name: str):
    """(stop, print) of one signal, from 'info signals NAME'."""
    for line in gdb.execute("info signals %s" % name, to_string=True).splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == name:
            return fields[1] == "Yes", fields[2] == "Yes"
    raise SocketsError("gdb did not say how it handles %s" % name)


# --------------------------------------------------------------------------
# Registers


def read_register(name: str) -> int:
    return int(gdb.newest_frame().read_register(name)) & MASK64


def write_register(name: str, value: int) -> None:
    """Set register ``name`` of the innermost frame to ``value``.

    The number is written as a 0x literal, which C reads as hex whatever
    the input radix (the caller has set language c).  What counts is the
    comparison after the thread is put back (``differences``).
    """
    value &= MASK64
    literal = "-0x%x" % ((1 << 64) - value) if value >> 63 else "0x%x" % value
    gdb.execute("set $%s = %s" % (name, literal), to_string=True)


def snapshot(names: Iterable[str]) -> Dict[str, int]:
    return {name: read_register(name) for name in names}


def differences(saved: Dict[str, int]) -> List[str]:
    """The registers whose value, read from the kernel again, is not ``saved``."""
    gdb.execute("maintenance flush register-cache", to_string=True)
    return ["%s is 0x%x, was 0x%x" % (name, read_register(name), value)
            for name, value in saved.items() if read_register(name) != value]


# --------------------------------------------------------------------------
# After an unexpected stop


def pop_dummy_frame() -> bool:
    """Pop the dummy frame of an inferior call that stopped before returning.

    gdb keeps the thread inside the called function; popping the dummy
    frame restores the registers gdb saved before the call.  False if the
    selected thread has no dummy frame.
    """
    frame = gdb.newest_frame()
    while frame is not None and frame.type() != gdb.DUMMY_FRAME:
        frame = frame.older()
    if frame is None:
        return False
    frame.select()
    gdb.execute("return", from_tty=False, to_string=True)
    return True


def stop_signal() -> Optional[tuple]:
    """(signo, si_code, si_syscall or None) the selected thread last stopped with,
    or None when it stopped without a signal."""
    try:
        info = gdb.parse_and_eval("$_siginfo")
        signo = int(info["si_signo"])
        code = int(info["si_code"])
    except gdb.error:
        return None
    syscall = None
    if signo == signal.SIGSYS:
        try:
            syscall = int(info["_sifields"]["_sigsys"]["_syscall"])
        except gdb.error:
            pass
    return signo, code, syscall


def signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return "SIG%d" % signo


def discard_signal() -> None:
    """Deliver nothing when the thread next runs (the signal was ours)."""
    gdb.execute("queue-signal 0", to_string=True)


def pending_sigtrap(pid: int, tid: int) -> bool:
    """True when the kernel holds a SIGTRAP for the thread that it can deliver."""
    fields = _status_fields(pid, tid)
    bit = 1 << (signal.SIGTRAP - 1)
    return bool(fields.get("SigPnd", 0) & bit) and not fields.get("SigBlk", 0) & bit


def first_line(error: BaseException) -> str:
    return str(error).split("\n")[0].rstrip(".")
