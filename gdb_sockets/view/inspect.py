"""What the operator sees of a target: its sockets with who waits on and holds each.

Works on a kernel/target.Target (decided once: on gdb's host or behind
gdbserver) and raises SocketsError for what the user can act on; the
caller prefixes the message with the command's name.  No gdb here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import AbstractSet, List, Optional, Sequence

from ..errors import SocketsError
from ..kernel.fd_copies import CopyUnavailable
from ..listing.extended import socket_details
from ..listing.join import Listing, list_sockets
from ..model import Socket
from . import holders, notes, waiters


def listing_of(target) -> Listing:
    """The target's sockets as the kernel sees them, without annotations."""
    return list_sockets(target.reader, target.pid, local=not target.remote)


def target_sockets(target, scan_holders: bool = False) -> Listing:
    """The sockets of ``target``, with their waiters and other fds and, with
    ``scan_holders``, the other processes holding them (a pass over all of
    /proc)."""
    if scan_holders and target.remote:
        raise SocketsError("-holders needs a list of every process's fds, which the "
                           "remote protocol cannot give; run gdb on the target's host")
    result = listing_of(target)
    scan = {s.inode for s in result.sockets} if scan_holders else None
    return annotated(target, result, scan)


def annotated(target, result: Listing, scan_inodes: Optional[AbstractSet[int]]) -> Listing:
    """``result`` with waiters, dups and, for ``scan_inodes``, other holders."""
    found_notes = list(result.notes)
    found_waiters = {}
    if target.remote:
        found_notes.append("blocked threads are not shown through gdbserver")
    elif not waiters.known_arch(target.arch):
        found_notes.append("blocked threads are not shown on %s (x86-64 only)" % target.arch)
    else:
        found_waiters = waiters.find_waiters(target.reader, target.pid,
                                             {s.fd for s in result.sockets}, arch=target.arch)
    scan = None
    if scan_inodes:
        scan = holders.other_holders(target.reader, target.pid, scan_inodes)
        if scan.hidden:
            found_notes.append("%d process%s could not be read, so other holders may be "
                               "missing" % (scan.hidden, "es" if scan.hidden != 1 else ""))
    sockets = notes.annotate(result.sockets, found_waiters, scan)
    return Listing(result.pid, sockets, found_notes)


def with_details(target, sockets: Sequence[Socket]) -> List[Socket]:
    """The records with their -extended view, for a target on gdb's host."""
    if target.remote:
        raise SocketsError("-extended asks each socket through a copy in gdb's own "
                           "process, which cannot reach a process on another host; "
                           "plain 'info sockets' works here, and for the extended view "
                           "run gdb on the target's host: gdb -p PID -batch -ex "
                           "'info sockets -extended'")
    try:
        found = socket_details(target.pid, sockets)
    except CopyUnavailable as e:
        raise SocketsError("-extended cannot copy the process's sockets: %s" % (e,)) from None
    return [replace(s, details=found.get(s.fd), extended=True) for s in sockets]
