"""What a thread's seccomp filters would answer to one system call (no gdb).

A sandboxed process (systemd's SystemCallFilter=, container runtimes,
browsers) may answer a system call with SIGSYS (SECCOMP_RET_TRAP, whose
default action kills the process), kill it outright, or hand the call to
a supervisor.  Running shutdown() in such a process, by an inferior call
or an injected syscall, would do that to it.  So before anything runs, the
filters are read (PTRACE_SECCOMP_GET_FILTER: gdb is the tracer and the
thread is stopped; it needs CAP_SYS_ADMIN) and run here on the
seccomp_data of the call we are about to make.

Facts (measured, kernel 6.18): ptrace(0x420c, tid, index, buf) returns the
instruction count (index 0 is the newest filter), EINVAL when the thread
has no filter, ENOENT past the last one, EACCES without CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import struct
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

PTRACE_SECCOMP_GET_FILTER = 0x420C
AUDIT_ARCH_X86_64 = 0xC000003E
MAX_FILTERS = 1024  # the kernel's limit is far lower (MAX_INSNS_PER_PATH)

# Actions, and the order the kernel picks among several filters: the
# lowest as a signed 32-bit number wins (kernel/seccomp.c, ACTION_ONLY).
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
ACTION_FULL = 0xFFFF0000
DATA = 0x0000FFFF

ACTION_NAMES = {
    RET_KILL_PROCESS: "SECCOMP_RET_KILL_PROCESS",
    RET_KILL_THREAD: "SECCOMP_RET_KILL_THREAD",
    RET_TRAP: "SECCOMP_RET_TRAP",
    RET_ERRNO: "SECCOMP_RET_ERRNO",
    RET_USER_NOTIF: "SECCOMP_RET_USER_NOTIF",
    RET_TRACE: "SECCOMP_RET_TRACE",
    RET_LOG: "SECCOMP_RET_LOG",
    RET_ALLOW: "SECCOMP_RET_ALLOW",
}

# Whether running the call under this action leaves the process as it was.
HARMLESS = frozenset({RET_ERRNO, RET_LOG, RET_ALLOW})
WHAT_IT_DOES = {
    RET_KILL_PROCESS: "the process would be killed",
    RET_KILL_THREAD: "the thread would be killed",
    RET_TRAP: "the call would raise SIGSYS, whose default action kills the process",
    RET_USER_NOTIF: "the call would wait for the sandbox's supervisor",
    RET_TRACE: "the call would go to a seccomp tracer",
}


class Unknown(Exception):
    """The filter's answer depends on something we do not know."""


@dataclass(frozen=True)
class Call:
    """The seccomp_data of one system call; None where unknown."""

    nr: int
    arch: int = AUDIT_ARCH_X86_64
    instruction_pointer: Optional[int] = None
    args: Tuple[Optional[int], ...] = (None,) * 6

    def word(self, offset: int) -> int:
        """The 32-bit word at ``offset`` of struct seccomp_data (little-endian)."""
        if offset % 4 or not 0 <= offset < 64:
            raise Unknown("a load at offset %d of seccomp_data" % offset)
        if offset == 0:
            return self.nr & 0xFFFFFFFF
        if offset == 4:
            return self.arch
        if offset < 16:
            value = self.instruction_pointer
            what = "the instruction pointer"
        else:
            value = self.args[(offset - 16) // 8]
            what = "argument %d" % ((offset - 16) // 8)
        if value is None:
            raise Unknown("the filter looks at %s of the call" % what)
        value &= 0xFFFFFFFFFFFFFFFF
        return value & 0xFFFFFFFF if offset % 8 == 0 else value >> 32


def run_filter(program: Sequence[Tuple[int, int, int, int]], call: Call) -> int:
    """Run one classic-BPF seccomp filter on ``call``: its 32-bit return value.

    ``program`` is its instructions as (code, jt, jf, k).  Only what the
    kernel's seccomp checker accepts is interpreted; anything else raises
    Unknown.
    """
    a = x = 0
    mem = [0] * 16
    pc = 0
    steps = 0
    while 0 <= pc < len(program):
        steps += 1
        if steps > 4096:
            raise Unknown("the filter does not end")
        code, jt, jf, k = program[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:  # BPF_LD
            mode = code & 0xE0
            if code == 0x20:      # LD W ABS
                a = call.word(k)
            elif code == 0x80:    # LD W LEN
                a = 64
            elif code == 0x00:    # LD IMM
                a = k
            elif mode == 0x60:    # LD MEM
                a = mem[k & 15]
            else:
                raise Unknown("BPF load 0x%x" % code)
        elif cls == 0x01:  # BPF_LDX
            if code == 0x81:      # LDX W LEN
                x = 64
            elif code == 0x01:    # LDX IMM
                x = k
            elif code == 0x61:    # LDX MEM
                x = mem[k & 15]
            else:
                raise Unknown("BPF load 0x%x" % code)
        elif cls == 0x02:  # BPF_ST
            mem[k & 15] = a
        elif cls == 0x03:  # BPF_STX
            mem[k & 15] = x
        elif cls == 0x04:  # BPF_ALU
            a = _alu(code, a, x if code & 0x08 else k)
        elif cls == 0x05:  # BPF_JMP
            op = code & 0xF0
            if op == 0x00:        # JA
                pc += k
                continue
            operand = x if code & 0x08 else k
            if op == 0x10:
                taken = a == operand
            elif op == 0x20:
                taken = a > operand
            elif op == 0x30:
                taken = a >= operand
            elif op == 0x40:
                taken = bool(a & operand)
            else:
                raise Unknown("BPF jump 0x%x" % code)
            pc += jt if taken else jf
        elif cls == 0x06:  # BPF_RET
            return (a if code & 0x18 == 0x10 else k) & 0xFFFFFFFF
        elif code == 0x07:  # TAX
            x = a
        elif code == 0x87:  # TXA
            a = x
        else:
            raise Unknown("BPF instruction 0x%x" % code)
    raise Unknown("the filter runs off its end")


def _alu(code: int, a: int, operand: int) -> int:
    op = code & 0xF0
    if op == 0x00:
        a += operand
    elif op == 0x10:
        a -= operand
    elif op == 0x20:
        a *= operand
    elif op == 0x30:
        if operand == 0:
            raise Unknown("a division by zero")
        a //= operand
    elif op == 0x40:
        a |= operand
    elif op == 0x50:
        a &= operand
    elif op == 0x60:
        a = a << operand if operand < 32 else 0
    elif op == 0x70:
        a = a >> operand if operand < 32 else 0
    elif op == 0x80:
        a = -a
    elif op == 0x90:
        if operand == 0:
            raise Unknown("a division by zero")
        a %= operand
    elif op == 0xA0:
        a ^= operand
    else:
        raise Unknown("BPF ALU 0x%x" % code)
    return a & 0xFFFFFFFF


def verdict(filters: Sequence[Sequence[Tuple[int, int, int, int]]], call: Call) -> int:
    """The action the kernel takes for ``call`` under all of ``filters``."""
    result = RET_ALLOW
    for program in filters:
        value = run_filter(program, call)
        if _signed(value & ACTION_FULL) < _signed(result & ACTION_FULL):
            result = value
    return result


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def action_of(value: int) -> int:
    """The action part of a return value; an action the kernel does not know
    is treated as it treats it: kill the process."""
    action = value & ACTION_FULL
    return action if action in ACTION_NAMES else RET_KILL_PROCESS


def describe(value: int) -> str:
    """'SECCOMP_RET_ERRNO(EPERM)', 'SECCOMP_RET_TRAP'..."""
    action = action_of(value)
    name = ACTION_NAMES[action]
    if action == RET_ERRNO:
        return "%s(%s)" % (name, errno_module.errorcode.get(value & DATA, str(value & DATA)))
    return name


def unpack(raw: bytes) -> List[Tuple[int, int, int, int]]:
    """struct sock_filter[]: (u16 code, u8 jt, u8 jf, u32 k) each."""
    return [struct.unpack_from("<HBBI", raw, offset) for offset in range(0, len(raw) - 7, 8)]


class FiltersUnreadable(Exception):
    """The thread's filters could not be read (the message says why)."""


def read_filters(tid: int) -> List[List[Tuple[int, int, int, int]]]:
    """Every seccomp filter of the stopped tracee ``tid`` ([] for none).

    Must run in the tracer (gdb's own thread that attached).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    ptrace = libc.ptrace
    ptrace.restype = ctypes.c_long
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    filters = []
    for index in range(MAX_FILTERS):
        count = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, index, None)
        if count < 0:
            err = ctypes.get_errno()
            if err == errno_module.ENOENT or (err == errno_module.EINVAL and index == 0):
                return filters
            raise FiltersUnreadable("PTRACE_SECCOMP_GET_FILTER: %s" % (
                errno_module.errorcode.get(err, err),))
        buffer = ctypes.create_string_buffer(8 * count)
        if ptrace(PTRACE_SECCOMP_GET_FILTER, tid, index, buffer) != count:
            raise FiltersUnreadable("PTRACE_SECCOMP_GET_FILTER: the filter changed")
        filters.append(unpack(buffer.raw))
    raise FiltersUnreadable("more than %d filters" % MAX_FILTERS)


def mode(status_text: str) -> Optional[int]:
    """The 'Seccomp:' field of /proc/PID/task/TID/status (0 none, 1 strict, 2 filter)."""
    for line in status_text.splitlines():
        if line.startswith("Seccomp:"):
            value = line.split(":", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None


def refusal(status_text: str, tid: int, call: Call, trap_ok: bool = False) -> Optional[str]:
    """Why running ``call`` in thread ``tid`` could harm it under seccomp, or None.

    None also when the filters answer with an error (ERRNO: the call fails
    and is reported) or allow it, and, with ``trap_ok``, with SIGSYS
    (TRAP), which the caller undoes: the signal is never delivered.
    """
    current = mode(status_text)
    if not current:
        return None
    if current == 1:
        return "the thread is in seccomp strict mode, where this system call kills it"
    try:
        filters = read_filters(tid)
    except FiltersUnreadable as e:
        return ("the thread has a seccomp filter that cannot be read (%s; it needs "
                "CAP_SYS_ADMIN), so the call might kill the process" % e)
    return judgement(filters, call, trap_ok)


def judgement(filters, call: Call, trap_ok: bool = False) -> Optional[str]:
    """What refusal() says once the filters are read (see there)."""
    try:
        value = verdict(filters, call)
    except Unknown as e:
        return ("the thread's seccomp filter cannot be judged here (%s), so the call "
                "might kill the process" % e)
    action = action_of(value)
    if action in HARMLESS or (trap_ok and action == RET_TRAP):
        return None
    return "the process's seccomp filter answers shutdown(2) with %s: %s" % (
        describe(value), WHAT_IT_DOES[action])
