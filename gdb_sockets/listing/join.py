"""Join a process's socket fds with the kernel's view of them: one record per fd.

The one place that picks how the rows are found and joins them to the fds.
The kernel names each socket's protocol through the ``system.sockprotoname``
attribute of its fd link, and then, per protocol:

- for a process on gdb's own host (``local``), TCP, UDP and UNIX sockets
  come from sock_diag (listing/diag.py): exact lookups of the target's own
  sockets, or one dump of the namespace when the target holds a good share
  of it.  Packet, netlink, raw, ping and UDP-Lite tables are small and are
  read;
- otherwise, and whenever sock_diag cannot answer, the /proc/PID/net
  tables of those protocols are read (listing/tables.py).  That is what a
  remote target gets: gdbserver reads the files.

Every path gives the same records (tests/gdb/test_listing_paths.py).
No gdb here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import AbstractSet, Dict, List, Optional, Sequence, Set, Tuple

from ..kernel import procfs
from ..kernel.fd_dir import socket_fds
from ..kernel.sockdiag import InetFields
from ..model import PROTO_NAMES, Socket, UnixAddress, proto_from_kernel_name
from . import diag
from .records import gc_paused, inet_dump_rows
from .tables import UnixDiagQuery, table_rows, unix_query

# Protocols whose sockets are missing from their table until they are
# bound or connected: absent from it, they are UNCONN.
_UNCONN_WHEN_UNLISTED = {"tcp", "tcp6", "udp", "udp6", "udplite", "udplite6"}

# "auto" chooses per protocol (listing/plan.py); "table" reads /proc/PID/net
# only; "exact" and "dump" force one sock_diag way (tests and bench/scale.py).
STRATEGIES = ("auto", "table", "exact", "dump")
# The strategy list_sockets uses when none is given.
STRATEGY = "auto"

Fds = List[Tuple[int, int]]  # (fd, inode), sorted by fd


@dataclass
class Listing:
    """The sockets of a process, and what could not be known about them."""

    pid: int
    sockets: List[Socket]
    notes: List[str] = field(default_factory=list)


def list_sockets(reader, pid: int, unix_diag: Optional[UnixDiagQuery] = None,
                 strategy: Optional[str] = None, local: bool = False,
                 fds: Optional[AbstractSet[int]] = None) -> Listing:
    """Every socket fd of ``pid``, sorted by fd.

    ``local``: ``reader`` reads the real /proc of gdb's own host and the
    process runs there, so sock_diag and copies of its fds can be used
    (the caller knows: kernel/target.py's ``Target.remote``).
    ``unix_diag(pid, inodes)`` returns sock_diag records for UNIX peers and
    queues on the table path (default: sock_diag itself when ``local``);
    without one they are unknown, with a note saying so.
    ``strategy`` is one of STRATEGIES (default: the module's STRATEGY).
    ``fds``: only the sockets among these fds (a local target's other
    links are not even read); the records are those a full listing has.
    """
    strategy = strategy or STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError("unknown listing strategy %r" % (strategy,))
    if local and unix_diag is None:
        unix_diag = unix_query
    only = None if fds is None else frozenset(fds)
    with gc_paused():
        found = (_from_diag(reader, pid, strategy, only) if local and strategy != "table"
                 else None)
        if found is None:
            return _from_tables(reader, pid, local, unix_diag, only)
        fds, collected = found
        return _with_tables(reader, pid, fds, collected, unix_diag)


# An inet socket of a dump left unbuilt by list_rows: (fd, proto, the
# dump message's InetFields).
RawRow = Tuple[int, str, InetFields]


@dataclass
class Rows:
    """The sockets of a process, in fd order, many of them unbuilt.

    ``entries``: a Socket, or a RawRow (a plain tuple) for a TCP or UDP
    socket that a dump of the whole namespace answered: a big target's
    table and -json are written from those without a record per socket
    (view/raw_rows.py).  ``listing()`` builds every record: the Listing that
    list_sockets gives.
    """

    pid: int
    entries: List[object]
    notes: List[str] = field(default_factory=list)

    def listing(self) -> Listing:
        return Listing(self.pid, built(self.entries), list(self.notes))


def built(entries: Sequence[object]) -> List[Socket]:
    """The records of ``entries``: RawRows built as the dump path builds
    them (one row a socket, lowest fd first, then a copy per other fd)."""
    raws = [e for e in entries if type(e) is tuple]
    if not raws:
        return list(entries)
    by_proto: Dict[str, Dict[int, InetFields]] = {}
    lowest: Dict[int, int] = {}
    for fd, proto, fields in raws:
        by_proto.setdefault(proto, {})[fields[-1]] = fields
        lowest.setdefault(fields[-1], fd)
    rows: Dict[int, Socket] = {}
    for proto, fields_of in by_proto.items():
        rows.update(inet_dump_rows(proto, fields_of, lowest))
    out: List[Socket] = []
    for entry in entries:
        if type(entry) is tuple:
            row = rows[entry[2][-1]]
            entry = row if row.fd == entry[0] else replace(row, fd=entry[0])
        out.append(entry)
    return out


def list_rows(reader, pid: int, local: bool = False) -> Rows:
    """Every socket fd of ``pid`` as list_sockets finds them (with the
    module's STRATEGY), the sockets of whole-namespace inet dumps prefetched
    before the fds were read left unbuilt."""
    if not local or STRATEGY == "table":
        listing = list_sockets(reader, pid, local=local)
        return Rows(pid, list(listing.sockets), listing.notes)
    with gc_paused():
        found = _from_diag(reader, pid, STRATEGY, None, raw=True)
        if found is None:
            listing = _from_tables(reader, pid, True, unix_query, None)
            return Rows(pid, list(listing.sockets), listing.notes)
        fds, collected = found
        listing = _with_tables(reader, pid, fds, collected, unix_query)
        return Rows(pid, listing.sockets, listing.notes)


def _from_diag(reader, pid: int, strategy: str, only,
               raw: bool = False) -> Optional[Tuple[Fds, diag.Collected]]:
    """The fds and what sock_diag answered, or None: then the tables answer."""
    try:
        fds, collected = diag.from_fd_dir(pid, lambda fd: _protocol(reader, pid, fd), strategy,
                                          only, raw)
    except OSError:
        return None  # procfs says what went wrong, in the user's words
    return (fds, collected) if collected is not None else None


def _from_tables(reader, pid: int, local: bool, unix_diag, only) -> Listing:
    """The /proc path for every protocol the process holds."""
    fds = _socket_fds(reader, pid, local)
    if only is not None:
        fds = [(fd, inode) for fd, inode in fds if fd in only]
    protos = {fd: _protocol(reader, pid, fd) for fd, _inode in fds}
    if any(p is None for p in protos.values()):
        # The kernel did not name every protocol: read every table.
        wanted: Set[str] = set(PROTO_NAMES)
    else:
        wanted = set(protos.values())
    rows: Dict[int, Socket] = {}
    notes: List[str] = []
    if wanted:
        rows, notes = table_rows(reader, pid, wanted, fds, local, unix_diag)
    return Listing(pid, _join(fds, rows, protos), notes)


def _with_tables(reader, pid: int, fds: Fds, collected: diag.Collected, unix_diag) -> Listing:
    """sock_diag's rows, and the tables of the protocols it does not serve."""
    rows = dict(collected.rows)
    notes: List[str] = []
    wanted = set(collected.protos.values()) - collected.served
    if wanted:
        more, notes = table_rows(reader, pid, wanted, fds, True, unix_diag)
        rows.update(more)
    return Listing(pid, _join(fds, rows, collected.protos, collected.raw), notes)


def _join(fds: Fds, rows: Dict[int, Socket], protos: Dict[int, Optional[str]],
          raw: Optional[Dict[str, Dict[int, InetFields]]] = None) -> List[Socket]:
    """One record per fd: a socket in no row is in no table; a row is built
    once per socket, with the lowest fd holding it.  With ``raw`` (list_rows)
    the sockets found there are RawRows instead."""
    sockets: List[Socket] = []
    append, row_of = sockets.append, rows.get
    unbuilt = list(raw.items()) if raw else ()
    for fd, inode in fds:
        row = row_of(inode)
        if row is None:
            for proto, fields_of in unbuilt:
                fields = fields_of.get(inode)
                if fields is not None:
                    append((fd, proto, fields))
                    break
            else:
                append(_tableless(fd, inode, protos[fd]))
        elif row.fd == fd:
            append(row)
        else:
            append(replace(row, fd=fd))
    return sockets


def _protocol(reader, pid: int, fd: int) -> Optional[str]:
    kernel_name = procfs.socket_protocol(reader, pid, fd)
    return proto_from_kernel_name(kernel_name) if kernel_name else None


def _socket_fds(reader, pid: int, local: bool) -> Fds:
    """(fd, inode) of every socket fd, sorted by fd."""
    if local:
        try:
            return socket_fds(pid)
        except OSError:
            pass  # procfs says what went wrong, in the user's words
    return [(link.fd, link.socket_inode) for link in procfs.read_fd_links(reader, pid)
            if link.socket_inode is not None]


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
