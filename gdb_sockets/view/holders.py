"""Who else holds the same socket: other processes.

A socket stays open, and its peer sees no FIN, while any fd anywhere names
it: a dup() in the same process, or a child that inherited it over fork().
Both show as the same ``socket:[INODE]`` link under /proc/PID/fd; the
target's own dups are found from its listing (notes.fds_by_inode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AbstractSet, Dict, List, Optional, Tuple

from ..errors import SocketsError
from ..kernel.procfs import LocalProc
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
        names = reader.listdir("/proc")
    except OSError as e:
        raise SocketsError("cannot list /proc: %s" % (e.strerror or e)) from None
    for name in names:
        if not name.isdigit() or int(name) == pid:
            continue
        hits = _process_hits(reader, name, wanted)
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
    its fds cannot be read (another user's); [] when it exited meanwhile."""
    fd_dir = "/proc/%s/fd" % name
    if type(reader) is LocalProc:
        # This host's /proc: the links read relative to the open directory
        # (a scan reads every fd of every process, with the target stopped).
        try:
            links = reader.read_links(fd_dir)
        except PermissionError:
            return None  # another user's, or it changed credentials (setuid exec)
        except OSError:
            return []  # exited since /proc was listed
        return [(wanted[target], int(fd)) for fd, target in links
                if target in wanted and fd.isdigit()]
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
