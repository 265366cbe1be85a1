"""gdb's own C library through ctypes, loaded once.

For the system calls the stdlib does not wrap (pidfd_getfd, setns) and for
shutdown() on a copy of the target's socket.  No gdb here.
"""

from __future__ import annotations

import ctypes
from typing import Optional

_libc: Optional[ctypes.CDLL] = None


def libc() -> ctypes.CDLL:
    """The C library gdb runs on, with errno kept for ctypes.get_errno()."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc
