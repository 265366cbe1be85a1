"""A thread's system call and an epoll fd's registrations, as /proc shows them.

Parsers for /proc/PID/task/TID/syscall and /proc/PID/fdinfo/EPFD, and
``read_at`` for the target's memory (/proc/PID/mem).  Text in, records
out; view/waiters.py decides what they mean.  No gdb here.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass(frozen=True)
class InSyscall:
    """One thread's line of /proc/PID/task/TID/syscall, while in a call."""

    nr: int
    args: Tuple[int, ...]
    sp: int
    pc: int


RUNNING = "running"
GONE = "gone"
IN_CALL = "in call"
NOT_IN_CALL = "not in a call"


def parse_syscall(data: bytes) -> Optional[InSyscall]:
    """The call a thread is in, or None (running, not in a call, unreadable).

    fs/proc/base.c proc_pid_syscall prints one of three lines; the number
    is decimal, everything else hex:

        running                                    (on a CPU right now)
        -1 0x7ffd5c1c5e08 0x401136                 (not in a call: nr, sp, pc)
        45 0x3 0x7fed2c693e30 0xa 0x0 0x0 0x0 0x7fed2c5b2a10 0x7fed2cd28974
                                                   (nr, arg1..arg6, sp, pc)
    """
    fields = data.split()
    if len(fields) != 9:
        return None  # "running", "-1 SP PC", or not this format at all
    try:
        nr = int(fields[0], 10)
        values = [int(field, 16) for field in fields[1:]]
    except ValueError:
        return None
    if nr < 0:
        return None
    return InSyscall(nr, tuple(values[:6]), values[6], values[7])


def syscall_state(data: bytes) -> str:
    """RUNNING (state R: on a CPU or waiting for one, so what it will call
    next nobody can tell), IN_CALL, or NOT_IN_CALL: what the same line says."""
    if data.strip() == b"running":
        return RUNNING
    return IN_CALL if parse_syscall(data) is not None else NOT_IN_CALL


def thread_call(reader, pid: int, tid: int) -> Tuple[str, Optional[InSyscall]]:
    """(state, call) of one thread now: GONE when it cannot be read (exited,
    or not ours to read), else ``syscall_state`` and the parsed call."""
    try:
        data = reader.read("/proc/%d/task/%d/syscall" % (pid, tid))
    except OSError:
        return GONE, None
    return syscall_state(data), parse_syscall(data)


def running_threads(reader, pid: int) -> List[int]:
    """The threads of ``pid`` that are RUNNING now, sorted (none if the task
    list cannot be read)."""
    try:
        names = reader.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    return [tid for tid in sorted(int(name) for name in names if name.isdigit())
            if thread_call(reader, pid, tid)[0] == RUNNING]


@dataclass(frozen=True)
class EpollEntry:
    """One file registered in an epoll instance, as its fdinfo lists it."""

    fd: int
    events: int
    inode: Optional[int]


# fs/eventpoll.c ep_show_fdinfo, one line per registered file after the
# common pos/flags/mnt_id/ino lines of the epoll fd itself:
#   "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x\n"
#   tfd:        8 events:       19 data:                8  pos:0 ino:103e5 sdev:9
# tfd is the fd number at registration time; ino is the registered file's
# inode now (kernels before 3.18 print no pos/ino/sdev).
_TFD_LINE = re.compile(
    rb"^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*[0-9a-f]+"
    rb"(?:\s+pos:-?\d+\s+ino:([0-9a-f]+))?", re.MULTILINE)


def parse_epoll_fdinfo(data: bytes) -> List[EpollEntry]:
    """The files an epoll fd watches, from /proc/PID/fdinfo/EPFD."""
    return [EpollEntry(int(m.group(1)), int(m.group(2), 16),
                       int(m.group(3), 16) if m.group(3) is not None else None)
            for m in _TFD_LINE.finditer(data)]


def read_at(reader, path: str, offset: int, size: int) -> bytes:
    """``size`` bytes of the file at ``offset`` (for /proc/PID/mem): the
    reader's own ``read_at`` when it has one, else ``pread`` on the local
    file (under the reader's ``root``).  May return fewer bytes; raises
    OSError when nothing can be read there.
    """
    method = getattr(reader, "read_at", None)
    if method is not None:
        return method(path, offset, size)
    if offset < 0 or size < 0 or offset + size > 1 << 63:
        raise OSError(errno.EINVAL, "offset %#x is outside any file" % offset, path)
    fd = os.open(getattr(reader, "root", "") + path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


