"""Who else holds the same socket: other processes.

A socket stays open, and its peer sees no FIN, while any fd anywhere names
it: a dup() in the same process, or a child that inherited it over fork().
Both show as the same ``socket:[INODE]`` link under /proc/PID/fd; the
target's own dups are found from its listing (notes.fds_by_inode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import AbstractSet, Dict, List, Optional, Tuple

from ..errors import SocketsError
from ..kernel import fd_dir
from ..kernel.procfs import LocalProc
from ..kernel.workers import run_all
from ..model import Holder
from .render import escape


@dataclass(frozen=True)
class HolderScan:
    """Other processes' fds on the sockets asked about.

    ``holders`` has only the inodes somebody else holds, each list sorted by
    (pid, fd).  ``hidden`` counts the processes whose fds could not be read
    (another user's, without root): any of them may hold the socket too.
    """

    holders: Dict[int, List[Holder]]
    hidden: int
    # Those processes: (pid, name from /proc/PID/comm, which anyone may read).
    hidden_processes: Tuple[Tuple[int, str], ...] = field(default=(), compare=False)


def other_holders(reader, pid: int, inodes: AbstractSet[int]) -> HolderScan:
    """Scan /proc/*/fd of every process but ``pid`` for fds on ``inodes``.

    Only processes (/proc/PID) are scanned, not their threads: a thread that
    unshared its fd table (clone without CLONE_FILES, unshare(CLONE_FILES))
    is not seen, and neither is a socket in flight in an SCM_RIGHTS message.
    A process that exits during the scan is simply not counted.
    """
    found: Dict[int, List[Holder]] = {}
    hidden = 0
    unread: List[Tuple[int, str]] = []
    if not inodes:
        return HolderScan(found, hidden)
    wanted = {"socket:[%d]" % inode: inode for inode in inodes}
    try:
        names = [name for name in reader.listdir("/proc") if name.isdigit() and int(name) != pid]
    except OSError as e:
        raise SocketsError("cannot list /proc: %s" % (e.strerror or e)) from None
    if type(reader) is LocalProc:
        by_process = _local_hits(reader.root, names, wanted)
    else:
        by_process = {name: _process_hits(reader, name, wanted) for name in names}
    for name in names:
        hits = by_process[name]
        if hits is None:
            hidden += 1
            unread.append((int(name), _comm(reader, name) or "?"))
            continue
        if not hits:
            continue
        process_name = _comm(reader, name)
        if process_name is None:
            continue  # exited: it holds nothing any more
        for inode, fd in hits:
            found.setdefault(inode, []).append(Holder(int(name), process_name, fd))
    return HolderScan({inode: sorted(holders, key=lambda h: (h.pid, h.fd))
                       for inode, holders in found.items()}, hidden,
                      tuple(sorted(unread)))


# Past this many fd links in all, they are read by one thread a CPU (up to
# 4, as for the target's own fd table: kernel/fd_dir.py): os.readlink lets
# go of the GIL, and a scan reads every fd of every process with the target
# stopped (measured on 2 CPUs, a 20,000-fd process next door: the scan in
# 85 ms with one thread, 56-60 ms with two or three).
THREADED_FROM = 2000
THREADS = fd_dir.READERS
_SLICE = 1024  # links per piece of work


def _local_hits(root: str, names: List[str], wanted: Dict[str, int]) -> Dict[str, Optional[list]]:
    """name -> (inode, fd) hits of each process on this host's /proc (under
    ``root``): None when its fds cannot be read, [] when it exited.

    Each fd directory is opened and listed once, and its links are read
    relative to it; past THREADED_FROM links in all, by several threads.
    """
    out: Dict[str, Optional[list]] = {}
    dirs: List[Tuple[str, int, List[str]]] = []
    counted = _kernel_counts_fds(root)
    try:
        for name in names:
            path = "%s/proc/%s/fd" % (root, name)
            if counted:
                try:
                    if os.stat(path).st_size == 0:
                        out[name] = []  # no fd open (a kernel thread): nothing to read
                        continue
                except PermissionError:
                    pass  # the open below says so
                except OSError:
                    out[name] = []  # exited since /proc was listed
                    continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except PermissionError:
                out[name] = None  # another user's, or it changed credentials (setuid exec)
                continue
            except OSError:
                out[name] = []  # exited since /proc was listed
                continue
            try:
                entries = os.listdir(fd)
            except PermissionError:
                os.close(fd)
                out[name] = None
                continue
            except OSError:
                os.close(fd)
                out[name] = []
                continue
            out[name] = []
            dirs.append((name, fd, entries))
        work = [(name, fd, entries[at:at + _SLICE]) for name, fd, entries in dirs
                for at in range(0, len(entries), _SLICE)]
        hits: List[Tuple[str, int, int]] = []
        denied: set = set()
        pieces = iter(work)  # shared by the threads: each takes the next
        if THREADS < 2 or sum(len(entries) for _n, _fd, entries in dirs) < THREADED_FROM:
            _read_slices(pieces, wanted, hits, denied)
        else:
            run_all([lambda: _read_slices(pieces, wanted, hits, denied)] * THREADS,
                    "gdb_sockets-holders")
        for name, inode, fd in hits:
            out[name].append((inode, fd))
        for name in denied:
            out[name] = None
        return out
    finally:
        for _name, fd, _entries in dirs:
            os.close(fd)


def _kernel_counts_fds(root: str) -> bool:
    """True when stat() of a /proc/PID/fd directory gives its number of
    open fds as the size (Linux 6.2 and later; before, always 0): seen on
    our own, which always has some open."""
    try:
        return os.stat("%s/proc/self/fd" % root).st_size > 0
    except OSError:
        return False


def _read_slices(work, wanted: Dict[str, int], hits: list, denied: set) -> None:
    """Read the links of each (name, dir fd, entries) of ``work`` (an
    iterator several threads may share), appending (name, inode, fd) for
    those on a wanted socket to ``hits``; a process whose link could not be
    read for permission goes to ``denied``.  A link that is gone (closed
    since the listing) is left out."""
    readlink, get = os.readlink, wanted.get
    for name, fd, entries in work:
        try:
            for entry in entries:
                try:
                    inode = get(readlink(entry, dir_fd=fd))
                except PermissionError:
                    raise
                except OSError:
                    continue
                if inode is not None and entry.isdigit():
                    hits.append((name, inode, int(entry)))
        except PermissionError:
            denied.add(name)


def _comm(reader, name: str) -> Optional[str]:
    """The process's name (/proc/PID/comm), or None when it exited."""
    try:
        comm = reader.read("/proc/%s/comm" % name)
    except OSError:
        return None
    # fs/proc/base.c comm_show: the task's comm and "\n".
    process = comm[:-1] if comm.endswith(b"\n") else comm
    return process.decode("utf-8", "surrogateescape")


def _process_hits(reader, name: str, wanted: Dict[str, int]) -> Optional[List[Tuple[int, int]]]:
    """(inode, fd) of process ``name``'s fds on the wanted sockets; None when
    its fds cannot be read (another user's); [] when it exited meanwhile.
    Through any reader (gdbserver's); this host's /proc: _local_hits."""
    fd_dir = "/proc/%s/fd" % name
    try:
        fds = reader.listdir(fd_dir)
    except PermissionError:
        return None
    except OSError:
        return []  # exited since /proc was listed
    hits = []
    for fd in fds:
        try:
            target = reader.readlink("%s/%s" % (fd_dir, fd))
        except PermissionError:
            return None  # it changed credentials since (setuid exec)
        except OSError:
            continue  # closed since the directory was read
        inode = wanted.get(target)
        if inode is not None and fd.isdigit():
            hits.append((inode, int(fd)))
    return hits


def hidden_note(scan: HolderScan, as_root: bool) -> Optional[str]:
    """The note for processes whose fds could not be read, or None.

    Without root, those are other users' processes, which root would see;
    as root, each one is named (up to five).
    """
    if not scan.hidden:
        return None
    count = "%d process%s" % (scan.hidden, "es" if scan.hidden != 1 else "")
    if not as_root:
        return ("%s could not be read (other users'; run gdb as root to see them), so "
                "other holders may be missing" % count)
    named = ", ".join("pid %d (%s)" % (pid, escape(name))
                      for pid, name in scan.hidden_processes[:5])
    more = ", ..." if len(scan.hidden_processes) > 5 else ""
    return "%s could not be read (%s%s), so other holders may be missing" % (count, named, more)
