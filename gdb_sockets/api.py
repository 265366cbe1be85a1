"""The Python API for gdb scripts: the current inferior's sockets as records.

    import gdb_sockets.api as sockets_api
    for sock in sockets_api.sockets():
        print(sock.fd, sock.proto, sock.state)

Every function works on gdb's selected inferior and raises
``gdb_sockets.errors.SocketsError`` for any condition a user can act on
(no process, a core file, a process that exited, a bad fd...).  The
commands ``info sockets`` and ``sock-shutdown`` are built on these
functions.
"""

from __future__ import annotations

from typing import List

from . import listing, unixdiag
from .model import Socket
from .target import current_target


def list_target_sockets(command: str = "gdb_sockets") -> listing.Listing:
    """The sockets of the selected inferior, with notes on what is unknown."""
    target = current_target(command)
    return listing.list_sockets(target.reader, target.pid, unix_diag=unixdiag.query)


def sockets() -> List[Socket]:
    """Every socket fd of the selected inferior, as ``Socket`` records by fd."""
    return list_target_sockets().sockets
