"""The `pidfd` method: shut the target's socket down from gdb's own process.

pidfd_getfd(2) (Linux >= 5.6) copies one of the target's fds into this
process.  Both fds then refer to the same socket, so shutdown() on the
copy acts on the target's socket and wakes its reader, and no code and no
register of the target is touched.  The copy is checked to be the socket
the user chose (same inode) before anything is done, and is always closed.

No gdb here: this runs in gdb's process (or the command line's), but
needs nothing from gdb.
"""

from __future__ import annotations

import ctypes
from typing import Tuple

from ..errors import SocketsError
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.libc import libc


def shutdown_copy(pid: int, fd: int, inode: int, how: int) -> Tuple[int, int]:
    """shutdown(how) on a copy of the target's ``fd``: (retval, errno).

    The copy is made by ``kernel/fd_copies.FdCopies``, which refuses where receiving a
    socket would re-classify its traffic (cgroup v1 net_cls/net_prio) and
    closes every copy.  Raises SocketsError, having done nothing, if the
    copy cannot be made or is not the socket with ``inode``.
    """
    try:
        with FdCopies(pid) as copies:
            copy = copies.copy(fd, inode)
            if copy is None:
                raise SocketsError(
                    "fd %d of process %d is no longer socket %d; "
                    "nothing done (list the sockets again)" % (fd, pid, inode))
            retval = libc().shutdown(copy, how)
            return retval, (ctypes.get_errno() if retval != 0 else 0)
    except CopyUnavailable as e:
        raise SocketsError("-method pidfd cannot copy fd %d of process %d: %s; "
                           "in gdb, -method syscall needs no copy" % (fd, pid, e)) from None
