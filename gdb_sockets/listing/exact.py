"""The exact-lookup path: inet sockets asked of sock_diag one by one, by their 4-tuple.

Each socket fd is copied into gdb (kernel/fd_copies.FdCopies), its
addresses read with getsockname/getpeername, and the kernel asked for that
one socket.  The answer must carry the fd's inode; anything else (a
SO_REUSEPORT group answering with a sibling, a socket bound to a device
that only a lookup on that device finds) is settled by a dump.  Also here:
a TCP listener's backlog for the table path.  No gdb here.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from ..kernel import sockdiag
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.netns import DiagUnavailable
from ..kernel.sockdiag import (TCPF_LISTEN, DiagChannel, DiagError, InetFields, InetQuery,
                               InetRecord)
from ..model import TCP_CLOSE, Socket
from .plan import INET
from .records import inet_socket

# proto -> {inode: fd} (the lowest fd holding that socket)
Members = Dict[str, Dict[int, int]]
# What is left for a dump: proto -> {inode: (fd, maybe a listener)}
Left = Dict[str, Dict[int, Tuple[int, bool]]]


class Unavailable(Exception):
    """sock_diag cannot answer for this target: use the tables."""


class Collected(NamedTuple):
    """What sock_diag answered for a process's socket fds.

    ``rows`` by inode (``fd`` is the lowest fd holding the socket);
    ``tableless``: inodes in no kernel table; ``protos``: fd -> protocol
    for every fd a dump did not answer (the others' rows say it);
    ``served``: the protocols answered here, whose tables need no reading.
    """

    rows: Dict[int, Socket]
    tableless: Set[int]
    protos: Dict[int, Optional[str]]
    served: Set[str]
    # proto -> inode -> InetFields: sockets a dump answered, left unbuilt
    # (listing/join.py's list_rows); never shares the inodes of ``rows``.
    raw: Optional[Dict[str, Dict[int, InetFields]]] = None


class Asked(NamedTuple):
    """One socket looked up by its addresses."""

    proto: str
    inode: int
    fd: int
    copy: int
    query: InetQuery


def inet_exact(channel: DiagChannel, copies: FdCopies, groups: Members, out: Collected) -> Left:
    """Exact lookups, a batch of sockets at a time: gdb never holds more
    than a batch of copies open (its own RLIMIT_NOFILE)."""
    left: Left = {}
    here = channel.netns_cookie()
    items = [(proto, inode, fd) for proto, inodes in groups.items()
             for inode, fd in inodes.items()]
    for start in range(0, len(items), sockdiag.BATCH):
        try:
            asked = _queries(copies, items[start:start + sockdiag.BATCH], out, left)
            again = _take_answers(channel, copies, asked, here, out, left)
            _ask_on_devices(channel, again, out, left)
        finally:
            copies.release()
    return left


def _leave(left: Left, proto: str, inode: int, fd: int, maybe_listener: bool) -> None:
    left.setdefault(proto, {})[inode] = (fd, maybe_listener)


def _queries(copies: FdCopies, items, out: Collected, left: Left) -> List[Asked]:
    """The lookup for each (proto, inode, fd) that a copy's addresses allow."""
    asked = []
    for proto, inode, fd in items:
        family, protocol = INET[proto]
        copy = copies.copy(fd, inode)
        ends = copies.endpoints(copy) if copy is not None else None
        if ends is None or ends.family != family:
            _leave(left, proto, inode, fd, False)
        elif ends.local_port == 0:
            # Never bound nor connected: TCP and UDP hash a socket under
            # its port, so it is in no table.
            out.tableless.add(inode)
        else:
            asked.append(Asked(proto, inode, fd, copy, InetQuery(
                family, protocol, ends.local, ends.local_port, ends.peer, ends.peer_port)))
    return asked


def _take_answers(channel: DiagChannel, copies: FdCopies, asked: List[Asked],
                  here: Optional[int], out: Collected, left: Left) -> List[Asked]:
    """Rows for the lookups that found their socket; the ones to ask again on
    the device the socket is bound to are returned."""
    again = []
    for item, answer in zip(asked, channel.inet_exact([a.query for a in asked])):
        if isinstance(answer, InetRecord) and answer.inode == item.inode:
            out.rows[item.inode] = inet_socket(item.fd, item.proto, answer)
            continue
        if answer == errno.ENOENT:
            if (item.query.protocol == sockdiag.IPPROTO_TCP
                    and copies.tcp_state(item.copy) == TCP_CLOSE):
                out.tableless.add(item.inode)  # closed or only bound: unhashed
                continue
            cookie = copies.netns_cookie(item.copy)
            if cookie is not None and here is not None and cookie != here:
                # Made in another namespace (before a setns, or passed over
                # a UNIX socket): in no table of this one.
                out.tableless.add(item.inode)
                continue
            ifindex = copies.bound_ifindex(item.copy)
            if ifindex:
                # Bound to a device: only a lookup on that device finds it.
                again.append(item._replace(query=item.query._replace(ifindex=ifindex)))
                continue
        _leave(left, item.proto, item.inode, item.fd, item.query.peer_port == 0)
    return again


def _ask_on_devices(channel: DiagChannel, again: List[Asked], out: Collected,
                    left: Left) -> None:
    for item, answer in zip(again, channel.inet_exact([a.query for a in again])):
        if isinstance(answer, InetRecord) and answer.inode == item.inode:
            out.rows[item.inode] = inet_socket(item.fd, item.proto, answer)
        else:
            _leave(left, item.proto, item.inode, item.fd, item.query.peer_port == 0)


def settle(channel: DiagChannel, left: Left, out: Collected) -> None:
    """Dumps for what the exact lookups could not settle.

    Listeners first, with a LISTEN-only dump: the kernel then walks only
    its listening hash, which stays small however busy the host is.
    """
    for proto, items in left.items():
        family, protocol = INET[proto]
        rest = {inode: fd for inode, (fd, _maybe) in items.items()}
        listeners = {inode for inode, (_fd, maybe) in items.items() if maybe}
        if protocol == sockdiag.IPPROTO_TCP and listeners:
            found = channel.inet_dump(family, protocol, listeners, TCPF_LISTEN)
            for inode, record in found.items():
                out.rows[inode] = inet_socket(rest.pop(inode), proto, record)
        if rest:
            inet_dump(channel, proto, rest, out)


def inet_dump(channel: DiagChannel, proto: str, inodes: Dict[int, int], out: Collected) -> None:
    """One dump of ``proto`` for the sockets ``inodes`` (inode -> fd)."""
    family, protocol = INET[proto]
    found = channel.inet_dump(family, protocol, set(inodes))
    for inode, fd in inodes.items():
        record = found.get(inode)
        if record is None:
            out.tableless.add(inode)
        else:
            out.rows[inode] = inet_socket(fd, proto, record)


def listener_backlogs(pid: int, listeners: Iterable[Tuple[int, str, str, int]]) -> Dict[int, int]:
    """inode -> backlog for TCP listeners given as (inode, proto, address, port).

    For the table path: /proc/PID/net/tcp does not print a listener's
    backlog, which ss shows as its Send-Q.  Raises Unavailable.
    """
    listeners = list(listeners)
    queries = []
    for _inode, proto, address, port in listeners:
        family, protocol = INET[proto]
        raw = ipaddress.ip_address(address).packed
        queries.append(InetQuery(family, protocol, raw, port, bytes(len(raw)), 0))
    out: Dict[int, int] = {}
    try:
        with DiagChannel.open(pid) as channel:
            missing: Dict[str, Set[int]] = {}
            for (inode, proto, _a, _p), answer in zip(listeners, channel.inet_exact(queries)):
                if isinstance(answer, InetRecord) and answer.inode == inode:
                    out[inode] = answer.wqueue
                else:
                    missing.setdefault(proto, set()).add(inode)
            for proto, inodes in missing.items():
                family, protocol = INET[proto]
                found = channel.inet_dump(family, protocol, inodes, TCPF_LISTEN)
                out.update((ino, rec.wqueue) for ino, rec in found.items())
    except (DiagUnavailable, DiagError) as e:
        raise Unavailable(str(e)) from None
    except OSError as e:
        raise Unavailable("sock_diag: %s" % (e.strerror or e)) from None
    return out


def listener_backlogs_by_copies(pid: int, listeners: Iterable[Tuple[int, int]]) -> Dict[int, int]:
    """inode -> backlog for TCP listeners given as (inode, fd), from TCP_INFO
    of a copy of each fd: where sock_diag cannot be used but copies can
    (a namespace gdb may not enter).  {} when copies cannot be made."""
    out: Dict[int, int] = {}
    try:
        with FdCopies(pid) as copies:
            for inode, fd in listeners:
                copy = copies.copy(fd, inode)
                backlog = copies.listen_backlog(copy) if copy is not None else None
                if backlog is not None:
                    out[inode] = backlog
    except CopyUnavailable:
        return {}
    return out
