"""Rows for TCP, UDP and UNIX sockets from sock_diag instead of /proc/PID/net.

The tables /proc/PID/net/{tcp,tcp6,udp,udp6,unix} hold every socket of
the namespace: reading one costs 1-3 us a row whatever the target owns.
Here the cost follows the target: per protocol, exact lookups
(listing/exact.py) or one dump (listing/dump.py), as listing/plan.py
chooses.

The rows are the ones the table path builds, field for field: a socket
the kernel's tables do not hold comes back in ``tableless``, and a TCP
listener's Send-Q is its backlog on both paths.  No gdb here.
"""

from __future__ import annotations

from typing import AbstractSet, Callable, Dict, List, Optional, Tuple

from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.fd_dir import FdDir, open_fd_count
from ..kernel import sockdiag
from ..kernel.netns import DiagUnavailable
from ..kernel.sockdiag import DiagChannel, DiagError
from . import dump, exact, plan
from .exact import Collected, Members, Unavailable

Fds = List[Tuple[int, int]]  # (fd, inode), sorted by fd


def from_fd_dir(pid: int, protocol_of: Callable[[int], Optional[str]], strategy: str,
                only: Optional[AbstractSet[int]] = None,
                raw: bool = False) -> Tuple[Fds, Optional[Collected]]:
    """The socket fds of ``pid`` and what sock_diag says of them.

    ``only``: the sockets among these fds only (just their links are read).
    ``raw``: the inet sockets of the dumps made before the fds were read
    stay unbuilt, in ``Collected.raw``.
    (fds, None) when sock_diag cannot answer for this process; OSError
    when the fds could not be read (procfs then says why, in the user's
    words).
    """
    prefetch = None
    try:
        with FdDir(pid) as fd_dir:
            if only is not None:
                fds = fd_dir.sockets_among(only)
            else:
                # Dumps that pay for themselves start at once, in the
                # kernel, while the fd links are read.
                count = open_fd_count(pid)
                names = None
                if count is None:
                    names = fd_dir.names()
                    count = len(names)
                dumps = plan.prefetch_protocols(pid, count, strategy)
                if dumps:
                    prefetch = dump.Prefetch(pid, dumps)
                fds = (fd_dir.sockets_by_number(count) if names is None
                       else fd_dir.sockets(names))
        try:
            return fds, collect(pid, fds, protocol_of, strategy, prefetch, raw)
        except Unavailable:
            return fds, None
    finally:
        if prefetch is not None:
            prefetch.close()


def collect(pid: int, fds: Fds, protocol_of: Callable[[int], Optional[str]],
            strategy: str = "auto", prefetch: Optional[dump.Prefetch] = None,
            raw: bool = False) -> Collected:
    """Rows for the socket fds ``fds`` ((fd, inode) pairs) of ``pid``.

    ``protocol_of(fd)`` names the protocol of an fd (our names, None if
    the kernel does not say); it is asked only for fds that the prefetched
    dumps did not answer.  Raises Unavailable when sock_diag cannot be
    used for ``pid`` (another namespace that cannot be entered, a kernel
    without it) or a protocol is not named: the caller reads the tables.
    """
    channel = None
    try:
        out = _prefetched(fds, prefetch, raw)
        if prefetch is not None:
            channel = prefetch.channel
        members = _members(fds, protocol_of, out)
        if members:
            if channel is None:
                channel = DiagChannel.open(pid)
            _answer(pid, channel, members, strategy, out)
            out.served.update(members)
        return out
    except (DiagUnavailable, DiagError) as e:
        raise Unavailable(str(e)) from None
    except OSError as e:  # the netlink socket itself failed (ENOBUFS...)
        raise Unavailable("sock_diag: %s" % (e.strerror or e)) from None
    finally:
        if channel is not None and (prefetch is None or channel is not prefetch.channel):
            channel.close()


def _prefetched(fds: Fds, prefetch: Optional[dump.Prefetch], raw: bool) -> Collected:
    """What the prefetched dumps answer, for every protocol they dumped
    (inet ones left as fields with ``raw``)."""
    out = Collected({}, set(), {}, set(), {} if raw else None)
    if prefetch is None or not prefetch.protos:
        return out
    lowest: Dict[int, int] = {}
    for fd, inode in fds:
        lowest.setdefault(inode, fd)
    for proto, chunks in prefetch.wait().items():
        if raw and proto in plan.INET:
            out.raw[proto] = sockdiag.InetDump(chunks, lowest.keys()).fields
        else:
            out.rows.update(dump.rows_from_dump(proto, chunks, lowest))
        out.served.add(proto)
    return out


def _members(fds: Fds, protocol_of: Callable[[int], Optional[str]], out: Collected) -> Members:
    """The sockets still to ask about, by protocol; names each fd's protocol."""
    members: Members = {}
    rows, unbuilt = out.rows, list(out.raw.values()) if out.raw else ()
    for fd, inode in fds:
        if inode in rows:
            continue
        for fields in unbuilt:
            if inode in fields:
                break
        else:
            proto = out.protos[fd] = protocol_of(fd)
            if proto is None:
                raise Unavailable("the kernel does not name the protocol of fd %d" % fd)
            if proto in out.served:
                out.tableless.add(inode)  # not in its protocol's full dump
            elif proto in plan.SERVED:
                members.setdefault(proto, {}).setdefault(inode, fd)
    return members


def _answer(pid: int, channel: DiagChannel, members: Members, strategy: str,
            out: Collected) -> None:
    ways = plan.plan(pid, {proto: len(inodes) for proto, inodes in members.items()}, strategy)
    looked_up = {p: inodes for p, inodes in members.items()
                 if p in plan.INET and ways[p] == "exact"}
    if looked_up:
        try:
            with FdCopies(pid) as copies:
                left = exact.inet_exact(channel, copies, looked_up, out)
        except CopyUnavailable:
            left = {p: {ino: (fd, False) for ino, fd in m.items()} for p, m in looked_up.items()}
        exact.settle(channel, left, out)
    for proto, inodes in members.items():
        if proto in plan.INET and ways[proto] == "dump":
            exact.inet_dump(channel, proto, inodes, out)
    if "unix" in members:
        dump.unix(channel, members["unix"], ways["unix"], out)
