"""A live process and how to read it: the ``Target`` every layer works on.

gdb makes one for its inferior (kernel/target.py, the gdb glue).  The
command line (``python3 -m gdb_sockets PID``) makes one here from a pid,
with no debugger: the same ``/proc`` reader as gdb's local targets, and
what gdb would have said about the process found from ``/proc`` instead:
that it exists and is alive, its thread group, and its architecture (from
the ELF header of the program it runs, so a 32-bit process on a 64-bit
kernel is not decoded with 64-bit system call numbers).  Nothing here
stops or attaches to the process.

No gdb here.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import Optional

from ..errors import SocketsError
from .procfs import LocalProc
from .remote_proc import status_field

# e_ident[EI_CLASS], e_machine -> the name waiters.py knows the calls of.
_ARCH_NAMES = {(2, 62): "x86_64", (1, 3): "i386", (1, 62): "x32", (2, 183): "aarch64",
               (1, 40): "arm"}


@dataclass(frozen=True)
class Target:
    """A live process: its pid and how to read its /proc.

    ``remote`` is True for a process behind gdbserver: then ``pid`` is its
    pid on the target's host and ``reader`` reads that host's /proc.
    ``arch`` names its architecture as gdb or the ELF header does
    ("i386:x86-64", "x86_64"); None when it could not be read.
    ``stopped`` is True while a debugger holds the process stopped: the
    methods that run code in it can run, and what a shutdown wakes happens
    when it resumes.  The command line's targets run on.
    """

    pid: int
    reader: object
    remote: bool = False
    arch: Optional[str] = ""
    stopped: bool = True


def elf_arch(header: bytes) -> Optional[str]:
    """The architecture an ELF header names, or None if it is not ELF.

    e_ident is 16 bytes: magic, EI_CLASS (1: 32-bit, 2: 64-bit), EI_DATA
    (1: little-endian, 2: big-endian)...; e_type (u16) then e_machine (u16)
    follow, in the file's byte order.
    """
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[5] not in (1, 2):
        return None
    machine = struct.unpack_from("<H" if header[5] == 1 else ">H", header, 18)[0]
    return _ARCH_NAMES.get((header[4], machine),
                           "ELF class %d machine %d" % (header[4], machine))


def open_process(pid: int, reader: Optional[LocalProc] = None) -> Target:
    """The live process ``pid`` of this host, not stopped (a thread's id
    means its process).

    Raises SocketsError when there is no such process, it has exited (a
    zombie), or /proc does not show it to this user.
    """
    reader = reader or LocalProc()
    try:
        status = reader.read("/proc/%d/status" % pid)
    except FileNotFoundError:
        raise SocketsError("no process %d" % pid) from None
    except OSError as e:
        raise SocketsError("cannot read /proc/%d/status: %s" % (pid, e.strerror or e)) from None
    tgid = status_field(status, "Tgid")
    if tgid is not None and tgid.isdigit():
        pid = int(tgid)
    if not alive(reader, pid):
        raise SocketsError("process %d has exited" % pid)
    return Target(pid, reader, arch=_arch(reader, pid), stopped=False)


def _arch(reader: LocalProc, pid: int) -> Optional[str]:
    """The architecture of the program the process runs (None: unreadable)."""
    try:
        with open(reader.root + "/proc/%d/exe" % pid, "rb") as f:
            return elf_arch(f.read(20))
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ESRCH):
            raise
        return None


def alive(reader, pid: int) -> bool:
    """False once the process is gone or a zombie (exited, or killed while a
    debugger held it)."""
    try:
        stat = reader.read("/proc/%d/stat" % pid)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable is not dead; the listing says what it cannot read
    if b")" not in stat:
        return True
    # The state letter follows the command name, which may hold ')'.
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
