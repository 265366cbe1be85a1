"""Who else holds the same socket: other processes.

A socket stays open, and its peer sees no FIN, while any fd anywhere names
it: a dup() in the same process, or a child that inherited it over fork().
Both show as the same ``socket:[INODE]`` link under /proc/PID/fd; the
target's own dups are found from its listing (notes.fds_by_inode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Dict, List, Optional, Tuple

from ..errors import SocketsError
from ..model import Holder


@dataclass(frozen=True)
class HolderScan:
    """Other processes' fds on the sockets asked about.

    ``holders`` has only the inodes somebody else holds, each list sorted by
    (pid, fd).  ``hidden`` counts the processes whose fds could not be read
    (another user's, without root): any of them may hold the socket too.
    """

    holders: Dict[int, List[Holder]]
    hidden: int


def other_holders(reader, pid: int, inodes: AbstractSet[int]) -> HolderScan:
    """Scan /proc/*/fd of every process but ``pid`` for fds on ``inodes``.

    Only processes (/proc/PID) are scanned, not their threads: a thread that
    unshared its fd table (clone without CLONE_FILES, unshare(CLONE_FILES))
    is not seen, and neither is a socket in flight in an SCM_RIGHTS message.
    A process that exits during the scan is simply not counted.
    """
    found: Dict[int, List[Holder]] = {}
    hidden = 0
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
            continue
        if not hits:
            continue
        try:
            comm = reader.read("/proc/%s/comm" % name)
        except OSError:
            continue  # exited: it holds nothing any more
        # fs/proc/base.c comm_show: the task's comm and "\n".
        process = comm[:-1] if comm.endswith(b"\n") else comm
        process_name = process.decode("utf-8", "surrogateescape")
        for inode, fd in hits:
            found.setdefault(inode, []).append(Holder(int(name), process_name, fd))
    return HolderScan({inode: sorted(holders, key=lambda h: (h.pid, h.fd))
                       for inode, holders in found.items()}, hidden)


def _process_hits(reader, name: str, wanted: Dict[str, int]) -> Optional[List[Tuple[int, int]]]:
    """(inode, fd) of process ``name``'s fds on the wanted sockets; None when
    its fds cannot be read (another user's); [] when it exited meanwhile."""
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
