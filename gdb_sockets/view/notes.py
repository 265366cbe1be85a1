"""Who is involved with each socket, and the words for it (the Notes column).

Pure: puts what waiters.py and holders.py found onto the listing's records
(their ``waiters``, ``also_fds`` and ``holders`` fields) and words them for
the table and the shutdown reports.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Set

from ..model import Holder, Socket, Waiter
from .holders import HolderScan
from .render import duration_text, escape

TCP = ("tcp", "tcp6")


def fds_by_inode(sockets: Sequence[Socket]) -> Dict[int, List[int]]:
    """Each socket inode the target holds, with all the fds naming it."""
    found: Dict[int, List[int]] = {}
    for sock in sockets:
        found.setdefault(sock.inode, []).append(sock.fd)
    return found


def annotate(sockets: Sequence[Socket], waiters: Dict[int, List[Waiter]],
             others: Optional[HolderScan]) -> List[Socket]:
    """The records with their ``waiters``, ``also_fds`` and (when scanned) ``holders``.

    Only records that have something to add are copied (a copy costs ~8 us,
    and a big target has tens of thousands of records with nothing to add);
    the others keep the fields' empty defaults.  Without a holder scan only
    the fds with a waiter and the inodes that several fds name are looked
    at.
    """
    if others is not None:
        same = fds_by_inode(sockets)
        return [_annotated(sock, waiters, same, others) for sock in sockets]
    shared = _shared_inodes(sockets)
    out = list(sockets)
    if not waiters and not shared:
        return out
    same = fds_by_inode([s for s in sockets if s.inode in shared])
    for index, sock in enumerate(out):
        if sock.fd in waiters or sock.inode in shared:
            out[index] = _annotated(sock, waiters, same, None)
    return out


def _shared_inodes(sockets: Sequence[Socket]) -> Set[int]:
    """The inodes that more than one of the fds name."""
    inodes = [s.inode for s in sockets]
    if len(set(inodes)) == len(inodes):
        return set()
    seen: Set[int] = set()
    shared = set()
    for inode in inodes:
        if inode in seen:
            shared.add(inode)
        seen.add(inode)
    return shared


def _annotated(sock: Socket, waiters: Dict[int, List[Waiter]], same: Dict[int, List[int]],
               others: Optional[HolderScan]) -> Socket:
    added = {}
    found = waiters.get(sock.fd)
    if found:
        added["waiters"] = tuple(found)
    fds = same.get(sock.inode, ())
    if len(fds) > 1:
        added["also_fds"] = tuple(fd for fd in fds if fd != sock.fd)
    if others is not None:
        added["holders"] = tuple(others.holders.get(sock.inode, ()))
    return replace(sock, **added) if added else sock


def annotated(sock: Socket) -> bool:
    """True when the view added something to the record (a Notes cell)."""
    return bool(sock.waiters or sock.also_fds or sock.holders)


def waiter_text(waiter: Waiter) -> str:
    """'LWP 4242 recvfrom' or 'LWP 4243 epoll_wait (epoll_wait on fd 7 for read)'."""
    text = "LWP %d %s" % (waiter.lwp, waiter.syscall)
    if waiter.detail:
        text += " (%s)" % waiter.detail
    return text


def holder_text(holder: Holder) -> str:
    return "pid %d (%s) fd %d" % (holder.pid, escape(holder.name), holder.fd)


def notes_parts(sock: Socket) -> List[str]:
    """What the Notes cell says of a socket: who waits on it (and, for a TCP
    connection, how long no data has come: "silent 8h02m"), who else holds it."""
    parts = [waiter_text(w) for w in sock.waiters]
    if parts and sock.silence is not None and sock.proto in TCP:
        parts.append("silent " + duration_text(sock.silence.last_recv_ms))
    if sock.also_fds:
        parts.append("also fd " + ",".join(str(fd) for fd in sock.also_fds))
    parts.extend("also " + holder_text(h) for h in sock.holders or ())
    return parts


def notes_text(sock: Socket) -> str:
    """The table's Notes cell: who waits on it, who else holds it."""
    return "; ".join(notes_parts(sock))


# From this many rows on, a note that every row repeats is said once.
COLLAPSE_ROWS = 5


def table_notes(sockets: Sequence[Socket]) -> tuple:
    """(a Notes cell per socket, lines for under the table).

    A note that every one of COLLAPSE_ROWS or more rows carries (an event
    loop's thread waiting on all of them) leaves the cells and is said once
    under the table.
    """
    if not any(map(annotated, sockets)):
        # The common case of a big table: not a cell to fill (~1 ms for
        # 20k rows, against ~18 for wording every row).
        return [""] * len(sockets), []
    parts = [notes_parts(s) for s in sockets]
    common: List[str] = []
    if len(parts) >= COLLAPSE_ROWS:
        common = [p for p in parts[0] if all(p in row for row in parts[1:])]
    cells = ["; ".join(p for p in row if p not in common) for row in parts]
    lines = ["Every socket shown: %s." % part for part in common]
    return cells, lines
