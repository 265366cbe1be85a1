"""A process's socket fds from /proc/PID/fd, on gdb's own host.

``FdDir`` reads fd -> socket inode from /proc/PID/fd, reading the links
relative to the open directory (about 3 us a fd, most of it in the
kernel: listing the directory, reading a /proc fd link), by several
threads for a big table.  Reading a link touches no file system.  No gdb
here.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

from .workers import run_all

_SOCKET_PREFIX = "socket:["
# From this many fds on, READERS threads (one a CPU gdb may run on, up to
# 4) read the links at once: a link is ~3.2 us in the kernel, where
# os.readlink lets go of the GIL, so their kernel work overlaps (20k links
# inside gdb, 2 CPUs: 153 ms for the whole listing with one thread, 127
# with two, 129 with four).
PARALLEL_MIN = 4096
try:
    READERS = max(1, min(4, len(os.sched_getaffinity(0))))
except OSError:
    READERS = 1


class FdDir:
    """/proc/PID/fd of one process, open: its fd names, then its socket fds.

    Two steps so that other work (a sock_diag dump) can start once the
    number of fds is known.  Raises OSError as the kernel reports it (the
    caller turns it into a message: permission, process gone).
    """

    def __init__(self, pid: int) -> None:
        self._fd = os.open("/proc/%d/fd" % pid, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def names(self) -> List[str]:
        return os.listdir(self._fd)

    def sockets(self, names: List[str]) -> List[Tuple[int, int]]:
        """(fd, inode) of the socket fds among ``names``, sorted by fd."""
        if len(names) < PARALLEL_MIN or READERS < 2:
            out = self._named(names)
        else:
            step = -(-len(names) // READERS)
            parts = run_all([lambda lo=lo: self._named(names[lo:lo + step])
                             for lo in range(0, len(names), step)], "gdb_sockets-fds")
            out = [pair for part in parts for pair in part]
        out.sort()
        return out

    def _named(self, names: List[str]) -> List[Tuple[int, int]]:
        out = []
        readlink, fd_dir = os.readlink, self._fd
        for name in names:
            try:
                link = readlink(name, dir_fd=fd_dir)
            except FileNotFoundError:
                continue  # closed since the directory was read
            if link.startswith(_SOCKET_PREFIX):
                out.append((int(name), int(link[8:-1])))
        return out

    def sockets_among(self, fds) -> List[Tuple[int, int]]:
        """(fd, inode) of the socket fds among ``fds`` (numbers), sorted by fd."""
        return self.sockets([str(fd) for fd in sorted(fds) if fd >= 0])

    def sockets_by_number(self, count: int, gaps: Optional[int] = None) -> List[Tuple[int, int]]:
        """(fd, inode) of the socket fds, sorted by fd, given ``count`` open fds.

        Most fd tables have few gaps: the links are read by number, 0, 1,
        2..., until ``count`` fds were found open, with no directory
        listing (~0.7 us a fd).  Past a few gaps (``gaps`` fds not open,
        16 + count/16 by default) the fds still ahead are listed instead.
        From PARALLEL_MIN fds on, fds 0 to count-1 are read by READERS
        threads at once, then the search goes on past them as above.
        """
        allowed = 16 + count // 16 if gaps is None else gaps
        if count < PARALLEL_MIN or READERS < 2:
            out: List[Tuple[int, int]] = []
            return self._by_number(0, 0, count, allowed, out)
        step = -(-count // READERS)
        parts = run_all([lambda lo=lo: self._numbered(lo, min(lo + step, count))
                         for lo in range(0, count, step)], "gdb_sockets-fds")
        out = [pair for part, _found in parts for pair in part]
        found = sum(found for _part, found in parts)
        if found >= count:
            return out
        if count - found > allowed:
            out.extend(self.sockets([n for n in self.names() if int(n) >= count]))
            return out
        return self._by_number(count, found, count, allowed - (count - found), out)

    def _numbered(self, low: int, high: int) -> Tuple[List[Tuple[int, int]], int]:
        """(the socket fds among fds low..high-1, how many of those are open)."""
        out: List[Tuple[int, int]] = []
        readlink, fd_dir, append = os.readlink, self._fd, out.append
        found = 0
        for fd in range(low, high):
            try:
                link = readlink(str(fd), dir_fd=fd_dir)
            except FileNotFoundError:
                continue
            found += 1
            if link.startswith(_SOCKET_PREFIX):
                append((fd, int(link[8:-1])))
        return out, found

    def _by_number(self, fd: int, found: int, count: int, allowed: int,
                   out: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """``out`` with the socket fds from ``fd`` on, ``found`` of the
        ``count`` open fds already seen, ``allowed`` more gaps to go."""
        readlink, fd_dir, append = os.readlink, self._fd, out.append
        misses = 0
        while found < count:
            try:
                link = readlink(str(fd), dir_fd=fd_dir)
            except FileNotFoundError:
                misses += 1
                if misses > allowed:
                    out.extend(self.sockets([n for n in self.names() if int(n) > fd]))
                    return out
                fd += 1
                continue
            found += 1
            if link.startswith(_SOCKET_PREFIX):
                append((fd, int(link[8:-1])))
            fd += 1
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FdDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def socket_fds(pid: int) -> List[Tuple[int, int]]:
    """(fd, inode) of every socket fd of ``pid``, sorted by fd (OSError as FdDir)."""
    with FdDir(pid) as fd_dir:
        return fd_dir.sockets(fd_dir.names())


def open_fd_count(pid: int) -> Optional[int]:
    """How many fds ``pid`` has open, without listing them; None if unknown.

    Since Linux 6.2 the size of /proc/PID/fd is its number of entries.
    """
    try:
        size = os.stat("/proc/%d/fd" % pid).st_size
    except OSError:
        return None
    return size or None
