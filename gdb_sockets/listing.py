"""Join a process's socket fds with the kernel's tables: one record per fd.

The cost follows the target: only the tables of protocols the target holds
are read (the kernel names each socket's protocol through the
``system.sockprotoname`` attribute of its fd link), and rows of other
inodes are skipped before they are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterable, List, Optional

from . import procfs, procnet
from .model import (PROTO_NAMES, Socket, UnixAddress, UnixPeer,
                    proto_from_kernel_name, state_name)
from .unixdiag import DiagUnavailable, name_to_path

# Protocols whose sockets are always in their table once they exist; for
# the others, absence from the table means "never bound or connected".
_ALWAYS_LISTED = {"unix", "packet", "netlink", "raw", "raw6"}


@dataclass
class Listing:
    """The sockets of a process, and what could not be known about them."""

    pid: int
    sockets: List[Socket]
    notes: List[str] = field(default_factory=list)


UnixDiagQuery = Callable[[int, Iterable[int]], Dict[int, object]]


def list_sockets(reader, pid: int, unix_diag: Optional[UnixDiagQuery] = None) -> Listing:
    """Every socket fd of ``pid``, sorted by fd.

    ``unix_diag(pid, inodes)`` returns sock_diag records for UNIX peers and
    queues; None (or its failure) leaves them unknown, with a note saying so.
    """
    links = [link for link in procfs.read_fd_links(reader, pid)
             if link.socket_inode is not None]
    notes: List[str] = []
    protos: Dict[int, Optional[str]] = {}
    for link in links:
        kernel_name = procfs.socket_protocol(reader, pid, link.fd)
        protos[link.fd] = proto_from_kernel_name(kernel_name) if kernel_name else None

    if any(p is None for p in protos.values()):
        # The kernel did not name every protocol: read every table.
        wanted_protos = set(PROTO_NAMES)
    else:
        wanted_protos = set(protos.values())
    inodes = {link.socket_inode for link in links}
    rows = _read_rows(reader, pid, wanted_protos, inodes)

    unix_inodes = {ino for ino, row in rows.items() if row.proto == "unix"}
    diag = {}
    if unix_inodes:
        diag, note = _query_unix(pid, unix_inodes, unix_diag)
        if note:
            notes.append(note)

    sockets = []
    for link in links:
        row = rows.get(link.socket_inode)
        if row is None:
            sockets.append(_tableless(link, protos[link.fd]))
            continue
        if row.proto == "unix" and row.inode in diag:
            row = _with_unix_diag(row, diag, rows)
        sockets.append(replace(row, fd=link.fd))
    return Listing(pid, sockets, notes)


def _read_rows(reader, pid: int, protos, inodes) -> Dict[int, Socket]:
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


def _query_unix(pid, inodes, unix_diag):
    if unix_diag is None:
        return {}, "UNIX peers and queues are not known for this target"
    try:
        return unix_diag(pid, inodes), None
    except (DiagUnavailable, OSError) as e:
        # Peers and queues are an addition: the table rows are still true,
        # so the listing goes on and says what is missing and why.
        return {}, "UNIX peers and queues are not known: %s" % (e,)


def _with_unix_diag(row: Socket, diag, rows) -> Socket:
    record = diag[row.inode]
    peer_path = None
    if record.peer:
        peer_record = diag.get(record.peer)
        if peer_record is not None and peer_record.name:
            peer_path = name_to_path(peer_record.name)
        elif record.peer in rows:
            peer_path = rows[record.peer].local.path
    return replace(
        row,
        state=state_name(record.state),
        recv_q=record.rqueue,
        send_q=record.wqueue,
        peer=UnixPeer(record.peer or None, peer_path, known=True),
    )


def _tableless(link: procfs.FdLink, proto: Optional[str]) -> Socket:
    """A socket in no kernel table: its protocol is all the kernel tells.

    A TCP or UDP socket is missing from its table until it is bound or
    connected (a TCP socket also once it is closed), so its state is
    UNCONN and its addresses are unknown.
    """
    if proto is None:
        proto = "unknown"
    state = "UNCONN" if proto not in _ALWAYS_LISTED else "?"
    local = UnixAddress(None) if proto == "unix" else None
    return Socket(fd=link.fd, inode=link.socket_inode, proto=proto, state=state,
                  local=local, in_table=False)


def filter_sockets(sockets: Iterable[Socket], fds=None, protos=None, states=None) -> List[Socket]:
    """The sockets that match every given filter (None = no filter)."""
    out = []
    for sock in sockets:
        if fds is not None and sock.fd not in fds:
            continue
        if protos is not None and sock.proto not in protos:
            continue
        if states is not None and sock.state not in states:
            continue
        out.append(sock)
    return out
