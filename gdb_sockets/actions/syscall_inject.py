"""gdb glue: the `syscall` method, one raw system call stepped in the selected thread.

No symbol is needed: the thread's registers are pointed at a `syscall`
instruction and stepped once, with every other thread held.  Only general
registers are written, never the vector state (which gdb 13 cannot write
on CPUs with AMX).

Facts this rests on (measured with gdb 13.1, see the README): the kernel restarts a system
call that a stop interrupted from orig_rax, so orig_rax is set to -1 for
the step (no restart of the injected call) and restored afterwards (the
interrupted call restarts as the program expects).  x86-64 only.

Whatever the step ends with (notes/issue12.md), the thread is put back and
then checked: the registers are read again from the kernel and compared,
and only then is "put back" said.  A SIGSYS the step raised (a sandbox:
seccomp, syscall user dispatch) is discarded, with the SIGTRAP a trapped
single-step leaves pending; a signal that merely arrived is left for the
program.  If the process dies meanwhile, that is what is said.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Optional, Sequence

import gdb

from . import guard
from ..errors import SocketsError
from .inferior_call import HOLD_OTHER_THREADS, CallFailed, temporary_settings

SYSCALL_INSN = b"\x0f\x05"
SYS_SHUTDOWN = 48  # x86-64
ARGUMENT_REGISTERS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")
# What the step may change: the argument registers we load, rax, and the
# rcx/r11 the syscall instruction clobbers; rip and orig_rax go back last.
SAVED_REGISTERS = ("rax", "rcx", "r11") + ARGUMENT_REGISTERS + ("eflags",)
# Compared, read again from the kernel, before "put back" is said.
CHECKED_REGISTERS = SAVED_REGISTERS + ("rbx", "rbp", "rsp", "r12", "r13", "r14", "r15",
                                       "rip", "orig_rax")
PUT_BACK = "the thread was put back (registers read back and compared)"


# gdb 13 prints the stop location of a stepi even under to_string=True; the
# user would see a frame line for a step they did not ask for.  'set $REG = N'
# is an expression: in Ada or Pascal '=' compares, so the language is C.
STEP_SETTINGS = dict(language="c", **HOLD_OTHER_THREADS,
                     **{"suppress-cli-notifications": "on"})


def unsupported_reason(chosen_by_auto: bool = False) -> Optional[str]:
    """Why this method cannot run in the selected thread now, or None."""
    arch = gdb.selected_inferior().architecture().name()
    if arch != "i386:x86-64":
        return "the syscall method supports x86-64 only (this is %s)" % arch
    why = guard.refusal("syscall", SYS_SHUTDOWN, chosen_by_auto)
    if why:
        return why
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


@contextlib.contextmanager
def _innermost_frame_selected():
    """Register writes go to the selected frame: make it the innermost one."""
    selected = gdb.selected_frame()
    gdb.newest_frame().select()
    try:
        yield
    finally:
        try:
            if selected.is_valid():
                selected.select()
        except gdb.error:
            pass  # the process is gone: there is no frame to go back to


def _signed(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value & (1 << 63) else value


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
    if bytes(inferior.read_memory(pc, 2)) != SYSCALL_INSN:
        raise SocketsError("the syscall instruction written at 0x%x did not read back" % pc)
    return pc, original


def inject(number: int, args: Sequence[int]) -> int:
    """Run system call ``number`` in the selected thread; the raw result (-errno on failure).

    Raises CallFailed when the call did not run or the thread could not be
    put back, saying which and what was checked (the caller checks whether
    the process died meanwhile).
    """
    reason = unsupported_reason()
    if reason:
        raise SocketsError(reason)
    inferior = gdb.selected_inferior()
    pid, tid = inferior.pid, gdb.selected_thread().ptid[1] or inferior.pid
    try:
        with guard.set_aside(STEP_SETTINGS), _innermost_frame_selected():
            return _inject(inferior, pid, tid, number, args)
    except gdb.error as e:
        raise CallFailed("gdb failed (%s); the thread may not be as it was: do not detach "
                         "before checking 'info registers' and 'info registers orig_rax'"
                         % guard.first_line(e)) from None


def _inject(inferior, pid: int, tid: int, number: int, args: Sequence[int]) -> int:
    saved = guard.snapshot(CHECKED_REGISTERS)
    pc = saved["rip"]
    site, original = _syscall_site(inferior, pc)
    end = site + len(SYSCALL_INSN)
    problem = None
    try:
        guard.write_register("orig_rax", -1)
        guard.write_register("rip", site)
        guard.write_register("rax", number)
        for name, value in zip(ARGUMENT_REGISTERS, args):
            guard.write_register(name, value)
        gdb.execute("stepi", to_string=True)
        after_pc = guard.read_register("rip")
        result = _signed(guard.read_register("rax"))
        problem = _step_problem(pid, tid, guard.stop_signal(), after_pc, site, end, number)
    finally:
        _put_back(inferior, site, original, saved)
    if problem:
        what, ran = problem
        raise CallFailed("%s; %s; %s" % (what, PUT_BACK, "nothing was done" if ran is False
                                         else "whether the syscall ran is not known"))
    return result


def _step_problem(pid, tid, stop, after_pc, site, end, number) -> Optional[tuple]:
    """What went wrong in the step and whether the syscall ran (False: it
    did not; None: unknown), having dealt with the signal it stopped on;
    None when the syscall ran."""
    signo, code, syscall = stop if stop else (None, None, None)
    if signo == signal.SIGSYS and after_pc == end and (
            (code == guard.SYS_SECCOMP and syscall == number) or code == guard.SYS_USER_DISPATCH):
        # The kernel refused the call with SIGSYS (a sandbox); its default
        # action kills the process, so it must not be delivered.
        guard.discard_signal()
        consumed = _consume_pending_sigtrap(pid, tid, end)
        by = "seccomp" if code == guard.SYS_SECCOMP else "syscall user dispatch"
        return ("the injected syscall raised SIGSYS (%s) instead of running; the signal was "
                "discarded%s" % (by, consumed), False)
    if signo in (None, signal.SIGTRAP) and after_pc == end:
        return None
    if signo not in (None, signal.SIGTRAP) and after_pc == site:
        # A signal came before the instruction ran: the program's, not ours.
        return ("%s arrived before the injected syscall ran; it is left to the program, "
                "as gdb's 'info signals' says" % guard.signal_name(signo), False)
    return ("the injected syscall instruction did not complete (pc 0x%x, expected 0x%x%s)"
            % (after_pc, end, ", stopped by %s" % guard.signal_name(signo) if signo else ""),
            None)


def _consume_pending_sigtrap(pid: int, tid: int, end: int) -> str:
    """A single-stepped syscall that seccomp trapped leaves the step's SIGTRAP
    pending in the kernel: delivered after detach, it kills the process.
    One more step makes the kernel hand it over before any instruction runs."""
    if not guard.pending_sigtrap(pid, tid):
        return ""
    gdb.execute("stepi", to_string=True)
    moved = guard.read_register("rip")
    if moved != end:
        raise CallFailed("consuming the step's pending SIGTRAP ran an instruction (pc 0x%x, "
                         "expected 0x%x)" % (moved, end))
    return ", with the SIGTRAP the step left pending"


def _put_back(inferior, site: int, original: Optional[bytes], saved) -> None:
    """Code bytes and registers as they were (rip and orig_rax last), then checked."""
    if original is not None:
        inferior.write_memory(site, original)
    # Every register that differs, not only those we wrote: a stop hook of
    # the user's or another extension's may have changed one at our step.
    for name, value in saved.items():
        if name not in ("rip", "orig_rax") and guard.read_register(name) != value:
            guard.write_register(name, value)
    guard.write_register("rip", saved["rip"])
    guard.write_register("orig_rax", saved["orig_rax"])
    wrong = guard.differences(saved)
    if original is not None and bytes(inferior.read_memory(site, len(original))) != original:
        wrong.append("the code at 0x%x" % site)
    if wrong:
        raise CallFailed("the thread could NOT be put back: %s; do not detach: set them "
                         "back by hand ('set $REG = VALUE')" % "; ".join(wrong))


def shutdown(fd: int, how: int):
    """shutdown(fd, how) as a raw system call: (retval, errno) like libc's."""
    result = inject(SYS_SHUTDOWN, (fd, how))
    if result < 0:
        return -1, -result
    return result, 0
