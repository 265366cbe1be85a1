"""The `pidfd` method: shut the target's socket down from gdb's own process.

pidfd_getfd(2) (Linux >= 5.6) copies one of the target's fds into this
process.  Both fds then refer to the same socket, so shutdown() on the
copy acts on the target's socket and wakes its reader, and no code and no
register of the target is touched.  The copy is checked to be the socket
the user chose (same inode) before anything is done, and is always closed.

No gdb here: this runs in gdb's process, but needs nothing from gdb.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import os
import stat
from typing import Tuple

from .errors import SocketsError

SYS_PIDFD_GETFD = 438  # the same number on every architecture (since 5.1)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _explain(step: str, pid: int, fd: int, code: int) -> str:
    reasons = {
        errno_module.ENOSYS: "the kernel has no pidfd_getfd (it needs Linux 5.6); use -method syscall",
        errno_module.EPERM: "not permitted: gdb's user may not ptrace process %d" % pid,
        errno_module.EBADF: "fd %d is not open in process %d" % (fd, pid),
        errno_module.ESRCH: "process %d has exited" % pid,
    }
    return "sock-shutdown: -method pidfd: %s failed: %s" % (
        step, reasons.get(code, os.strerror(code)))


def shutdown_copy(pid: int, fd: int, inode: int, how: int) -> Tuple[int, int]:
    """shutdown(how) on a copy of the target's ``fd``: (retval, errno).

    Raises SocketsError, having done nothing, if the copy cannot be made
    or is not the socket with ``inode``.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise SocketsError(_explain("pidfd_open", pid, fd, e.errno)) from None
    try:
        libc = _libc()
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise SocketsError(_explain("pidfd_getfd", pid, fd, ctypes.get_errno()))
        try:
            st = os.fstat(copy)
            if not stat.S_ISSOCK(st.st_mode) or st.st_ino != inode:
                raise SocketsError(
                    "sock-shutdown: fd %d of process %d is no longer socket %d; "
                    "nothing done (run 'info sockets' again)" % (fd, pid, inode))
            retval = libc.shutdown(copy, how)
            return retval, (ctypes.get_errno() if retval != 0 else 0)
        finally:
            os.close(copy)
    finally:
        os.close(pidfd)
