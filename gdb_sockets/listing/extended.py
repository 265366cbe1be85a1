"""The -extended view of each socket: memory, TCP retransmission state, backlog.

Asked of each socket itself, through a pidfd_getfd copy in gdb's process
(kernel/fd_copies.FdCopies: inode re-checked, every copy closed), so it
works on gdb's own host only; kernel/sockopt.py parses the answers.
No gdb here.
"""

from __future__ import annotations

import socket
from typing import Dict, Iterable

from ..kernel import sockopt
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..model import Details, Silence, Socket


def socket_details(pid: int, sockets: Iterable[Socket]) -> Dict[int, Details]:
    """fd -> details for each socket that could be copied.

    Raises fd_copies.CopyUnavailable when no copy can be made at all.
    """
    found: Dict[int, Details] = {}
    with FdCopies(pid) as copies:
        for sock in sockets:
            copy = copies.copy(sock.fd, sock.inode)
            if copy is None:
                continue  # closed or replaced since the listing
            details: Details = {}
            memory = copies.option(copy, socket.SOL_SOCKET, sockopt.SO_MEMINFO,
                                   sockopt.SO_MEMINFO_SIZE)
            if memory:
                details["memory"] = sockopt.parse_meminfo(memory)
            if sock.proto in ("tcp", "tcp6"):
                info = copies.option(copy, socket.IPPROTO_TCP, sockopt.TCP_INFO,
                                     sockopt.TCP_INFO_SIZE)
                if info:
                    details["tcp"] = sockopt.parse_tcp_info(info)
            found[sock.fd] = details
            copies.release()
    return found


def tcp_silences(pid: int, sockets: Iterable[Socket]) -> Dict[int, Silence]:
    """fd -> TCP_INFO times of each TCP socket that could be copied ({} if
    none can): for the rows no sock_diag answer gave them to (a dump does
    not ask, to cost nothing more a socket of the namespace)."""
    found: Dict[int, Silence] = {}
    try:
        with FdCopies(pid) as copies:
            for sock in sockets:
                copy = copies.copy(sock.fd, sock.inode)
                info = copies.option(copy, socket.IPPROTO_TCP, sockopt.TCP_INFO,
                                     sockopt.TCP_INFO_SIZE) if copy is not None else None
                silence = sockopt.parse_silence(info) if info else None
                if silence is not None:
                    found[sock.fd] = silence
                copies.release()
    except CopyUnavailable:
        return {}
    return found
