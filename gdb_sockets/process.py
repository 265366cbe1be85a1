"""A live process of this host named by its pid, reached with no debugger.

What the command line (``python3 -m gdb_sockets PID``) works on: the same
``/proc`` reader as gdb's local targets, and what gdb would have said about
the process, found from ``/proc`` instead: that it exists and is alive, its
thread group, and its architecture (from the ELF header of the program it
runs, so a 32-bit process on a 64-bit kernel is not decoded with 64-bit
system call numbers).  Nothing here stops or attaches to the process.

No gdb here.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import Optional

from .errors import SocketsError
from .procfs import LocalProc
from .remote import status_field

# e_ident[EI_CLASS], e_machine -> the name waiters.py knows the calls of.
_ARCH_NAMES = {(2, 62): "x86_64", (1, 3): "i386", (1, 62): "x32", (2, 183): "aarch64",
               (1, 40): "arm"}


@dataclass(frozen=True)
class Process:
    """A process of this host that nothing holds stopped.

    ``arch`` is None when the program's ELF header could not be read.
    """

    pid: int
    reader: LocalProc
    arch: Optional[str]
    remote: bool = False
    stopped: bool = False  # no debugger holds it: it runs on while we look


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


def open_process(pid: int, reader: Optional[LocalProc] = None) -> Process:
    """The live process ``pid`` (a thread's id means its process).

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
    state = status_field(status, "State") or ""
    if state[:1] in ("Z", "X"):
        raise SocketsError("process %d has exited (%s)" % (pid, state))
    return Process(pid, reader, _arch(reader, pid))


def _arch(reader: LocalProc, pid: int) -> Optional[str]:
    """The architecture of the program the process runs (None: unreadable)."""
    try:
        with open(reader.root + "/proc/%d/exe" % pid, "rb") as f:
            return elf_arch(f.read(20))
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ESRCH):
            raise
        return None
