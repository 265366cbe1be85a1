"""The /proc path: rows from the /proc/PID/net tables of the protocols asked for.

What a remote target gets (gdbserver reads the files), and the fallback
whenever sock_diag cannot run.  Only the tables of the protocols the
target holds are read, skipping rows of other inodes before they are
decoded.  Two things the tables lack are added from elsewhere when the
target is on gdb's host: UNIX peers and queues (unix_diag), and a TCP
listener's backlog, which ss shows as its Send-Q.  No gdb here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..kernel import procfs, procnet
from ..kernel.sockdiag import DiagChannel, UnixRecord
from ..kernel.netns import DiagUnavailable
from ..model import Socket
from . import exact
from .records import with_unix_diag

UnixDiagQuery = Callable[[int, Iterable[int]], Dict[int, object]]


def table_rows(reader, pid: int, protos, fds: List[Tuple[int, int]], local: bool,
               unix_diag: Optional[UnixDiagQuery]) -> Tuple[Dict[int, Socket], List[str]]:
    """Rows by inode for the sockets ``fds`` of the protocols ``protos``, and notes.

    ``unix_diag(pid, inodes)`` returns sock_diag records for UNIX peers and
    queues; None (or its failure) leaves them unknown, with a note saying so.
    ``local``: the target is on gdb's host, so its listeners' backlogs can
    be asked for.
    """
    notes: List[str] = []
    rows = read_rows(reader, pid, protos, {inode for _fd, inode in fds})
    if local:
        fill_listener_backlog(pid, rows, fds)
    unix_inodes = {ino for ino, row in rows.items() if row.proto == "unix"}
    if unix_inodes:
        diag, note = query_unix(pid, unix_inodes, unix_diag)
        if note:
            notes.append(note)
        for inode in unix_inodes & diag.keys():
            rows[inode] = with_unix_diag(rows[inode], diag[inode], diag, rows)
    return rows, notes


def read_rows(reader, pid: int, protos, inodes) -> Dict[int, Socket]:
    rows: Dict[int, Socket] = {}
    for table in procnet.tables_for(protos):
        text = procfs.read_table(reader, pid, table)
        if table == "unix":
            rows.update(procnet.parse_unix(text, inodes))
        elif table == "packet":
            names = procnet.parse_ifnames(**procfs.read_ifnames_tables(reader, pid))
            rows.update(procnet.parse_packet(text, names, inodes))
        elif table == "netlink":
            rows.update(procnet.parse_netlink(text, inodes))
        else:
            rows.update(procnet.parse_inet(text, table, inodes))
    return rows


def fill_listener_backlog(pid: int, rows: Dict[int, Socket],
                          fds: List[Tuple[int, int]]) -> None:
    """A TCP listener's Send-Q is its backlog, as ss and sock_diag say.

    /proc/PID/net/tcp does not print it.  Asked of sock_diag for the
    listeners found, else read from TCP_INFO of a copy of each
    (pidfd_getfd); None where neither can be used.
    """
    listeners = [row for row in rows.values()
                 if row.proto in ("tcp", "tcp6") and row.state == "LISTEN" and row.send_q is None]
    if not listeners:
        return
    try:
        backlogs = exact.listener_backlogs(
            pid, [(row.inode, row.proto, row.local.address, row.local.port) for row in listeners])
    except exact.Unavailable:
        fd_of: Dict[int, int] = {}
        for fd, inode in fds:
            fd_of.setdefault(inode, fd)
        backlogs = exact.listener_backlogs_by_copies(
            pid, [(row.inode, fd_of[row.inode]) for row in listeners])
    for row in listeners:
        if row.inode in backlogs:
            rows[row.inode] = replace(row, send_q=backlogs[row.inode])


def query_unix(pid: int, inodes, unix_diag: Optional[UnixDiagQuery]):
    """(records by inode, note or None) for UNIX peers and queues."""
    if unix_diag is None:
        return {}, "UNIX peers and queues are not known for this target"
    try:
        return unix_diag(pid, inodes), None
    except (DiagUnavailable, OSError) as e:
        # Peers and queues are an addition: the table rows are still true,
        # so the listing goes on and says what is missing and why.
        return {}, "UNIX peers and queues are not known: %s" % (e,)


def unix_query(pid: int, inodes: Iterable[int], dump_above: int = 512) -> Dict[int, UnixRecord]:
    """UNIX records for ``inodes`` and for their peers, in the target's namespace.

    The table path's source of UNIX peers and queues (``unix_diag`` of list_sockets).  Few sockets are asked for one by one (cost follows
    the target); past ``dump_above`` one dump of the namespace is cheaper.
    Raises DiagUnavailable when the namespace cannot be entered.
    """
    inodes = set(inodes)
    with DiagChannel.open(pid) as channel:
        if len(inodes) > dump_above:
            return channel.unix_dump(None)
        found = channel.unix_exact(inodes)
        peers = {r.peer for r in found.values() if r.peer} - set(found)
        found.update(channel.unix_exact(peers))
        return found
