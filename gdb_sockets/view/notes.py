"""Who is involved with each socket: the threads waiting on it, the other fds
and processes holding it.  Pure: joins what waiters.py and holders.py found
onto the listing's records (in ``Socket.extra``) and words it for the table.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from .holders import HolderScan
from ..model import Socket
from .render import escape
from .waiters import Waiter


def fds_by_inode(sockets: Sequence[Socket]) -> Dict[int, List[int]]:
    """Each socket inode the target holds, with all the fds naming it."""
    found: Dict[int, List[int]] = {}
    for sock in sockets:
        found.setdefault(sock.inode, []).append(sock.fd)
    return found


def annotate(sockets: Sequence[Socket], waiters: Dict[int, List[Waiter]],
             others: Optional[HolderScan]) -> List[Socket]:
    """The records with ``waiters``, ``also_fds`` and (when scanned) ``holders``.

    Only records that have something to add are copied (a copy costs ~8 us,
    and a big target has tens of thousands of records with nothing to add);
    the others read as empty through ``annotations``.
    """
    same = fds_by_inode(sockets)
    out = []
    for sock in sockets:
        extra = {}
        found = waiters.get(sock.fd)
        if found:
            extra["waiters"] = [{"lwp": w.lwp, "syscall": w.syscall, "detail": w.detail}
                                for w in found]
        fds = same[sock.inode]
        if len(fds) > 1:
            extra["also_fds"] = [fd for fd in fds if fd != sock.fd]
        if others is not None:
            extra["holders"] = [{"pid": h.pid, "name": h.name, "fd": h.fd}
                                for h in others.holders.get(sock.inode, [])]
        out.append(replace(sock, extra=dict(sock.extra, **extra)) if extra else sock)
    return out


def waiter_text(waiter: dict) -> str:
    """'LWP 4242 recvfrom' or 'LWP 4243 epoll_wait (epoll_wait on fd 7 for read)'."""
    text = "LWP %d %s" % (waiter["lwp"], waiter["syscall"])
    if waiter.get("detail"):
        text += " (%s)" % waiter["detail"]
    return text


def holder_text(holder: dict) -> str:
    return "pid %d (%s) fd %d" % (holder["pid"], escape(holder["name"]), holder["fd"])


def notes_text(sock: Socket) -> str:
    """The table's Notes cell: who waits on it, who else holds it."""
    if not sock.extra:
        return ""
    parts = [waiter_text(w) for w in sock.extra.get("waiters", [])]
    if sock.extra.get("also_fds"):
        parts.append("also fd " + ",".join(str(fd) for fd in sock.extra["also_fds"]))
    parts.extend("also " + holder_text(h) for h in sock.extra.get("holders", []))
    return "; ".join(parts)
