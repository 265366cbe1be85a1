"""The `syscall` method: one raw system call stepped in the selected thread (gdb glue).

No symbol is needed: the thread's registers are pointed at a `syscall`
instruction and stepped once, with every other thread held.  Only general
registers are written, never the vector state (which gdb 13 cannot write
on CPUs with AMX).

Facts this rests on (shared/design.md §3): the kernel restarts a system
call that a stop interrupted from orig_rax, so orig_rax is set to -1 for
the step (no restart of the injected call) and restored afterwards (the
interrupted call restarts as the program expects).  x86-64 only.
"""

from __future__ import annotations

import contextlib
from typing import Optional, Sequence

import gdb

from .errors import SocketsError
from .inferior_call import HOLD_OTHER_THREADS, temporary_settings

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
    """Why this method cannot run on the selected inferior, or None."""
    arch = gdb.selected_inferior().architecture().name()
    if arch != "i386:x86-64":
        return "the syscall method supports x86-64 only (this is %s)" % arch
    return None


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
    """Run system call ``number`` in the selected thread; the raw result (-errno on failure)."""
    reason = unsupported_reason()
    if reason:
        raise SocketsError("sock-shutdown: " + reason + "; use -method pidfd")
    inferior = gdb.selected_inferior()
    with temporary_settings(STEP_SETTINGS), _innermost_frame_selected() as frame:
        saved = {name: _read(frame, name) for name in SAVED_REGISTERS}
        pc = _read(frame, "rip")
        orig_rax = _read(frame, "orig_rax")
        site, original = _syscall_site(inferior, pc)
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
        finally:
            if original is not None:
                inferior.write_memory(site, original)
            frame = gdb.newest_frame()
            for name, value in saved.items():
                if _read(frame, name) != value:
                    _write(name, value)
            _write("rip", pc)
            _write("orig_rax", orig_rax)
    if after_pc != site + len(SYSCALL_INSN):
        raise SocketsError(
            "sock-shutdown: the injected syscall instruction did not complete (pc 0x%x, "
            "expected 0x%x); registers were restored; nothing is known to have been done"
            % (after_pc, site + len(SYSCALL_INSN)))
    return result


def shutdown(fd: int, how: int):
    """shutdown(fd, how) as a raw system call: (retval, errno) like libc's."""
    result = inject(SYS_SHUTDOWN, (fd, how))
    if result < 0:
        return -1, -result
    return result, 0
