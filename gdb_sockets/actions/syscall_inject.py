"""gdb glue: the `syscall` method, one raw system call stepped in the selected thread.

No symbol is needed: the thread's registers are pointed at a `syscall`
instruction and stepped once, with every other thread held.  Only general
registers are written, never the vector state (which gdb 13 cannot write
on CPUs with AMX).

Facts this rests on (measured with gdb 13.1, see the README): the kernel restarts a system
call that a stop interrupted from orig_rax, so orig_rax is set to -1 for
the step (no restart of the injected call) and restored afterwards (the
interrupted call restarts as the program expects).  x86-64 only.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Optional, Sequence

import gdb

from ..errors import SocketsError
from .inferior_call import HOLD_OTHER_THREADS, CallFailed, temporary_settings

SYSCALL_INSN = b"\x0f\x05"
SYS_SHUTDOWN = 48  # x86-64
ARGUMENT_REGISTERS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")
# What the step may change: the argument registers we load, rax, and the
# rcx/r11 the syscall instruction clobbers; rip and orig_rax go back last.
SAVED_REGISTERS = ("rax", "rcx", "r11") + ARGUMENT_REGISTERS + ("eflags",)


# gdb 13 prints the stop location of a stepi even under to_string=True; the
# user would see a frame line for a step they did not ask for.  'set $REG = N'
# is an expression: in Ada or Pascal '=' compares, so the language is C.
STEP_SETTINGS = dict(HOLD_OTHER_THREADS, language="c",
                     **{"suppress-cli-notifications": "on"})


def unsupported_reason() -> Optional[str]:
    """Why this method cannot run in the selected thread now, or None."""
    arch = gdb.selected_inferior().architecture().name()
    if arch != "i386:x86-64":
        return "the syscall method supports x86-64 only (this is %s)" % arch
    signal_name = pending_signal()
    if signal_name:
        return ("the selected thread stopped on %s, which gdb delivers when the thread "
                "next runs: a step would run its handler, not the syscall (select another "
                "thread with 'thread N', or use -method pidfd)" % signal_name)
    return None


def pending_signal() -> Optional[str]:
    """The signal gdb would deliver to the selected thread when it steps, or None.

    A thread stopped by a signal that gdb passes to the program (SIGUSR1,
    SIGCHLD...) gets it on the next resume, stepi included: the step would
    then run the signal handler instead of the injected syscall.  The stop
    of an attach (SIGSTOP) and gdb's own traps are never delivered.
    """
    try:
        with temporary_settings({"language": "c"}):
            signo = int(gdb.parse_and_eval("$_siginfo.si_signo"))
    except gdb.error:
        return None  # not stopped by a signal
    if signo in (signal.SIGSTOP, signal.SIGTRAP):
        return None
    try:
        name = signal.Signals(signo).name
    except ValueError:
        name = "SIG%d" % signo  # a real-time signal: gdb calls them SIG34...
    table = gdb.execute("info signals %s" % name, to_string=True)
    for line in table.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            return name if fields[3] == "Yes" else None  # Stop Print Pass
    return name  # gdb did not say: assume it would be delivered


def _read(frame, name: str) -> int:
    return int(frame.read_register(name)) & 0xFFFFFFFFFFFFFFFF


def _write(name: str, value: int) -> None:
    # The value is a number we computed; no user text reaches the expression.
    gdb.execute("set $%s = %d" % (name, _signed(value)), to_string=True)


def _signed(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value & (1 << 63) else value


@contextlib.contextmanager
def _innermost_frame_selected():
    """Register writes go to the selected frame: make it the innermost one."""
    selected = gdb.selected_frame()
    newest = gdb.newest_frame()
    newest.select()
    try:
        yield newest
    finally:
        if selected.is_valid():
            selected.select()


def _syscall_site(inferior, pc: int):
    """An address holding `syscall`: (address, original bytes to put back or None).

    A thread stopped in a system call sits just after one, so usually
    nothing needs writing; otherwise two bytes at pc are replaced for the step.
    """
    try:
        if bytes(inferior.read_memory(pc - 2, 2)) == SYSCALL_INSN:
            return pc - 2, None
    except gdb.MemoryError:
        pass
    original = bytes(inferior.read_memory(pc, 2))
    inferior.write_memory(pc, SYSCALL_INSN)
    return pc, original


def inject(number: int, args: Sequence[int]) -> int:
    """Run system call ``number`` in the selected thread; the raw result (-errno on failure).

    Raises CallFailed when gdb could not step or could not put the thread
    back (the process died meanwhile, for one), saying which.
    """
    reason = unsupported_reason()
    if reason:
        raise SocketsError(reason)
    inferior = gdb.selected_inferior()
    with temporary_settings(STEP_SETTINGS), _innermost_frame_selected() as frame:
        saved = {name: _read(frame, name) for name in SAVED_REGISTERS}
        pc = _read(frame, "rip")
        orig_rax = _read(frame, "orig_rax")
        site, original = _syscall_site(inferior, pc)
        try:
            try:
                _write("orig_rax", -1)
                _write("rip", site)
                _write("rax", number)
                for name, value in zip(ARGUMENT_REGISTERS, args):
                    _write(name, value)
                gdb.execute("stepi", to_string=True)
                frame = gdb.newest_frame()
                after_pc = _read(frame, "rip")
                result = _signed(_read(frame, "rax"))
            except gdb.error as e:
                raise CallFailed("the injected syscall did not run: %s" % _first_line(e)) from None
        finally:
            _put_back(inferior, site, original, saved, pc, orig_rax)
    if after_pc != site + len(SYSCALL_INSN):
        # A signal handler or a breakpoint took the step: nothing says the
        # syscall ran, and the registers were put back.
        raise CallFailed(
            "the injected syscall instruction did not complete (pc 0x%x, expected 0x%x); "
            "registers were restored; nothing is known to have been done"
            % (after_pc, site + len(SYSCALL_INSN)))
    return result


def _put_back(inferior, site: int, original: Optional[bytes], saved, pc: int,
              orig_rax: int) -> None:
    """Code bytes and registers as they were; rip and orig_rax last."""
    try:
        if original is not None:
            inferior.write_memory(site, original)
        frame = gdb.newest_frame()
        for name, value in saved.items():
            if _read(frame, name) != value:
                _write(name, value)
        _write("rip", pc)
        _write("orig_rax", orig_rax)
    except gdb.error as e:
        raise CallFailed("could not put the thread back as it was (%s); if the process is "
                         "still alive, do not detach: check 'info registers' against the "
                         "values before" % _first_line(e)) from None


def _first_line(error: Exception) -> str:
    return str(error).split("\n")[0].rstrip(".")


def shutdown(fd: int, how: int):
    """shutdown(fd, how) as a raw system call: (retval, errno) like libc's."""
    result = inject(SYS_SHUTDOWN, (fd, how))
    if result < 0:
        return -1, -result
    return result, 0
