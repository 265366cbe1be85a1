"""Join a process's socket fds with the kernel's tables: one record per fd.

The cost follows the target, not the host.  The kernel names each
socket's protocol through the ``system.sockprotoname`` attribute of its fd
link, and then, per protocol:

- the table path reads /proc/PID/net/<table> of those protocols only,
  skipping rows of other inodes before they are decoded.  It is what a
  remote target gets (gdbserver reads the files), and the fallback
  whenever the faster ways cannot run;
- for a process on gdb's own host, TCP, UDP and UNIX sockets come from
  sock_diag instead (diag.py): exact lookups of the target's own
  sockets, or one dump of the namespace when the target holds a good share
  of it.  Packet, netlink, raw, ping and UDP-Lite tables are small and are
  read.

Every path gives the same records (tests/gdb/test_listing_paths.py).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..kernel import procfs
from ..kernel import procnet
from ..model import (PROTO_NAMES, Socket, UnixAddress, UnixPeer,
                    proto_from_kernel_name, state_name)
from ..kernel.netns import DiagUnavailable

# Protocols whose sockets are missing from their table until they are
# bound or connected: absent from it, they are UNCONN.
_UNCONN_WHEN_UNLISTED = {"tcp", "tcp6", "udp", "udp6", "udplite", "udplite6"}

# "auto" chooses per protocol (diagpath); "table" reads /proc/PID/net only;
# "exact" and "dump" force one sock_diag way (tests and bench/scale.py).
STRATEGIES = ("auto", "table", "exact", "dump")
# The strategy list_sockets uses when none is given.
STRATEGY = "auto"


@dataclass
class Listing:
    """The sockets of a process, and what could not be known about them."""

    pid: int
    sockets: List[Socket]
    notes: List[str] = field(default_factory=list)


UnixDiagQuery = Callable[[int, Iterable[int]], Dict[int, object]]


def list_sockets(reader, pid: int, unix_diag: Optional[UnixDiagQuery] = None,
                 strategy: Optional[str] = None) -> Listing:
    """Every socket fd of ``pid``, sorted by fd.

    ``unix_diag(pid, inodes)`` returns sock_diag records for UNIX peers and
    queues; None (or its failure) leaves them unknown, with a note saying so.
    Without it, sock_diag is not used at all (a remote target).
    ``strategy`` is one of STRATEGIES (default: the module's STRATEGY).
    """
    strategy = strategy or STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError("unknown listing strategy %r" % (strategy,))
    with _no_gc():
        return _list(reader, pid, unix_diag, strategy)


@contextmanager
def _no_gc():
    """No cyclic garbage collection while the records are built.

    The records hold no cycles, but building tens of thousands of them
    triggers collections that scan every object gdb holds: a third of the
    time for a 20k-socket target.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _list(reader, pid: int, unix_diag, strategy: str) -> Listing:
    on_this_host = _on_this_host(reader)
    local = on_this_host and unix_diag is not None
    fds = got = None
    if local and strategy != "table":
        fds, got = _by_diag(reader, pid, strategy)
    if fds is None:
        fds = _socket_fds(reader, pid, on_this_host)

    notes: List[str] = []
    rows: Dict[int, Socket] = {}
    if got is not None:
        rows = got.rows
        protos = got.protos
        wanted_protos = set(protos.values()) - got.served
    else:
        protos = {fd: _protocol(reader, pid, fd) for fd, _inode in fds}
        if any(p is None for p in protos.values()):
            # The kernel did not name every protocol: read every table.
            wanted_protos = set(PROTO_NAMES)
        else:
            wanted_protos = set(protos.values())

    if wanted_protos:
        table_rows = _read_rows(reader, pid, wanted_protos, {inode for _fd, inode in fds})
        if local:
            _fill_listener_backlog(pid, table_rows, fds)
        unix_inodes = {ino for ino, row in table_rows.items() if row.proto == "unix"}
        if unix_inodes:
            diag, note = _query_unix(pid, unix_inodes, unix_diag)
            if note:
                notes.append(note)
            for inode in unix_inodes & diag.keys():
                table_rows[inode] = _with_unix_diag(table_rows[inode], diag, table_rows)
        rows.update(table_rows)

    # A socket in no row is in no table; a row is built once per socket,
    # with the lowest fd holding it.
    sockets: List[Socket] = []
    append, row_of = sockets.append, rows.get
    for fd, inode in fds:
        row = row_of(inode)
        if row is None:
            append(_tableless(fd, inode, protos[fd]))
        elif row.fd == fd:
            append(row)
        else:
            append(replace(row, fd=fd))
    return Listing(pid, sockets, notes)


def _on_this_host(reader) -> bool:
    """True when ``reader`` reads the real /proc of gdb's own host."""
    return (isinstance(reader, procfs.LocalProc) and not reader.root
            and not getattr(reader, "remote", False))


def _protocol(reader, pid: int, fd: int) -> Optional[str]:
    kernel_name = procfs.socket_protocol(reader, pid, fd)
    return proto_from_kernel_name(kernel_name) if kernel_name else None


def _socket_fds(reader, pid: int, on_this_host: bool) -> List[Tuple[int, int]]:
    """(fd, inode) of every socket fd, sorted by fd."""
    if on_this_host:
        from ..kernel import fd_copies
        try:
            return fd_copies.socket_fds(pid)
        except OSError:
            pass  # procfs says what went wrong, in the user's words
    return [(link.fd, link.socket_inode) for link in procfs.read_fd_links(reader, pid)
            if link.socket_inode is not None]


def _by_diag(reader, pid: int, strategy: str):
    """(fds, diag.Collected) from sock_diag; (fds, None) when it cannot
    answer for this process; (None, None) when the fds could not be read
    (procfs then says why).
    """
    # Imported here: these modules are for local targets only (ctypes,
    # netlink, threads).
    from . import diag
    from ..kernel import fd_copies
    prefetch = None
    try:
        with fd_copies.FdDir(pid) as fd_dir:
            # Dumps that pay for themselves start at once, in the kernel,
            # while the fd links are read.
            count = fd_copies.open_fd_count(pid)
            names = None
            if count is None:
                names = fd_dir.names()
                count = len(names)
            dumps = diag.prefetch_protocols(pid, count, strategy)
            if dumps:
                prefetch = diag.Prefetch(pid, dumps)
            fds = fd_dir.sockets(fd_dir.names() if names is None else names)
        try:
            return fds, diag.collect(pid, fds, lambda fd: _protocol(reader, pid, fd),
                                         strategy, prefetch)
        except diag.Unavailable:
            return fds, None
    except OSError:
        return None, None
    finally:
        if prefetch is not None:
            prefetch.close()


def _fill_listener_backlog(pid: int, rows: Dict[int, Socket],
                           fds: List[Tuple[int, int]]) -> None:
    """A TCP listener's Send-Q is its backlog, as ss and sock_diag say.

    /proc/PID/net/tcp does not print it.  The table path asks sock_diag
    for the listeners it found, else reads TCP_INFO of a copy of each
    (pidfd_getfd), and leaves None where neither can be used.
    """
    listeners = [row for row in rows.values()
                 if row.proto in ("tcp", "tcp6") and row.state == "LISTEN" and row.send_q is None]
    if not listeners:
        return
    from . import diag
    try:
        backlogs = diag.listener_backlogs(
            pid, [(row.inode, row.proto, row.local.address, row.local.port) for row in listeners])
    except diag.Unavailable:
        fd_of = {}
        for fd, inode in fds:
            fd_of.setdefault(inode, fd)
        backlogs = diag.listener_backlogs_by_copies(
            pid, [(row.inode, fd_of[row.inode]) for row in listeners])
    for row in listeners:
        if row.inode in backlogs:
            rows[row.inode] = replace(row, send_q=backlogs[row.inode])


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
            peer_path = procnet.unix_name_to_path(peer_record.name)
        elif record.peer in rows:
            peer_path = rows[record.peer].local.path
    return replace(
        row,
        state=state_name(record.state),
        recv_q=record.rqueue,
        send_q=record.wqueue,
        peer=UnixPeer(record.peer or None, peer_path, known=True),
    )


def _tableless(fd: int, inode: int, proto: Optional[str]) -> Socket:
    """A socket in no kernel table: its protocol is all the kernel tells.

    A TCP or UDP socket is missing from its table until it is bound or
    connected (a TCP socket also once it is closed), so its state is
    UNCONN and its addresses are unknown.  Any other protocol (one with no
    table at all, such as SCTP or vsock, or one the kernel did not name)
    gets '?': nothing says what its state is.
    """
    if proto is None:
        proto = "unknown"
    state = "UNCONN" if proto in _UNCONN_WHEN_UNLISTED else "?"
    local = UnixAddress(None) if proto == "unix" else None
    return Socket(fd=fd, inode=inode, proto=proto, state=state,
                  local=local, in_table=False)
