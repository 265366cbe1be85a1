"""The x86-64 system calls that can block a thread on a socket, by number.

Numbers from the kernel's arch/x86/entry/syscalls/syscall_64.tbl (the
64-bit ABI only: an i386 process on an x86-64 kernel and the x32 ABI number
their calls differently).  Only the calls ``waiters`` decodes are named;
any other number is "syscall N".
"""

from __future__ import annotations

from typing import Dict

NAMES: Dict[int, str] = {
    0: "read",
    1: "write",
    3: "close",
    7: "poll",
    19: "readv",
    20: "writev",
    23: "select",
    40: "sendfile",
    42: "connect",
    43: "accept",
    44: "sendto",
    45: "recvfrom",
    46: "sendmsg",
    47: "recvmsg",
    219: "restart_syscall",
    232: "epoll_wait",
    270: "pselect6",
    271: "ppoll",
    275: "splice",
    281: "epoll_pwait",
    288: "accept4",
    299: "recvmmsg",
    307: "sendmmsg",
    441: "epoll_pwait2",
}


def name(nr: int) -> str:
    """The call's name, or "syscall N" for a number this table does not know."""
    return NAMES.get(nr, "syscall %d" % nr)
