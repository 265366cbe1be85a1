"""Rows for TCP, UDP and UNIX sockets from sock_diag instead of /proc/PID/net.

The tables /proc/PID/net/{tcp,tcp6,udp,udp6,unix} hold every socket of
the namespace: reading one costs 1-3 us a row whatever the target owns.
Here the cost follows the target, in one of two ways per protocol:

- ``exact``: each socket fd is copied into gdb (fd_copies.FdCopies), its
  addresses read with getsockname/getpeername, and the kernel asked for
  that one socket by its 4-tuple (UNIX: by inode, no copy needed).  The
  answer must carry the fd's inode; anything else (a SO_REUSEPORT group
  answering with a sibling, a socket bound to a device) is settled by a
  dump.  About 14 us a target socket, whatever the host holds.
- ``dump``: one sock_diag dump of the protocol in the namespace; rows of
  other inodes are skipped unread.  About 1.4 us a socket of the
  namespace.  For a target that holds a good share of the namespace the
  dumps start before its fds are even read (``Prefetch``, a thread: the
  kernel fills the dump while gdb reads /proc/PID/fd), and a socket a dump
  answers needs no protocol look-up at all.

``auto`` chooses from the target's counts and the namespace's
(/proc/PID/net/protocols counts sockets per protocol per namespace).

The rows are the ones the table path builds, field for field (one set of
tests runs on every path and compares them): a socket the kernel's tables
do not hold comes back in ``tableless``, and a TCP listener's Send-Q is
its backlog on both paths (join.py asks for it on the table path).

No gdb here.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
import struct
import threading
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from ..kernel import sockdiag
from ..model import InetEndpoint, Socket, UnixAddress, UnixPeer, state_name
from ..kernel.procnet import UNIX_TYPES
from ..kernel.sockdiag import DiagChannel, DiagError, InetQuery, InetRecord
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.netns import DiagUnavailable
from ..kernel.procnet import unix_name_to_path

STRATEGIES = ("auto", "exact", "dump")

# Protocols answered here: (address family, IP protocol) of each.
INET = {
    "tcp": (socket.AF_INET, sockdiag.IPPROTO_TCP),
    "tcp6": (socket.AF_INET6, sockdiag.IPPROTO_TCP),
    "udp": (socket.AF_INET, sockdiag.IPPROTO_UDP),
    "udp6": (socket.AF_INET6, sockdiag.IPPROTO_UDP),
}
SERVED = ("tcp", "tcp6", "udp", "udp6", "unix")
# Their names in /proc/PID/net/protocols.
_COUNT_NAMES = {"tcp": ("TCP",), "tcp6": ("TCPv6",), "udp": ("UDP",), "udp6": ("UDPv6",),
                "unix": ("UNIX", "UNIX-STREAM")}

# Costs in microseconds on this project's 2-core test machine
# (bench/README_scale.md): per target socket on the exact path, per socket
# of the namespace in a dump, per fd for its protocol name (an xattr).
EXACT_COST = {"inet": 14.0, "unix": 5.0}
DUMP_COST = 1.4
XATTR_COST = 2.5
# Up to this many sockets of a protocol, the exact path without looking
# at the namespace; below this many fds, no dump before the protocols.
ALWAYS_EXACT = 32
PREFETCH_MIN = 256

TCPF_LISTEN = 1 << sockdiag.TCP_LISTEN
_TCP_CLOSE = 7

# proto -> {inode: fd} (the lowest fd holding that socket)
Members = Dict[str, Dict[int, int]]


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


# --------------------------------------------------------------------------
# Choosing


def namespace_counts(pid: int) -> Dict[str, int]:
    """Sockets per protocol in the network namespace of ``pid`` ({} if unreadable)."""
    try:
        with open("/proc/%d/net/protocols" % pid, "rb") as f:
            return parse_protocol_counts(f.read())
    except OSError:
        return {}


def parse_protocol_counts(text: bytes) -> Dict[str, int]:
    """Kernel protocol name -> sockets, from /proc/PID/net/protocols
    (net/core/sock.c proto_seq_printf; "sockets" counts the namespace's):

        protocol  size sockets  memory press maxhdr  slab module     cl co ...
        TCP       2304  19917       0   no     192   yes  kernel      y  y ...
    """
    counts = {}
    for line in text.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[2].isdigit():
            counts[fields[0].decode("ascii", "replace")] = int(fields[2])
    return counts


def _in_namespace(counts: Dict[str, int], proto: str) -> Optional[int]:
    names = _COUNT_NAMES[proto]
    if not any(name in counts for name in names):
        return None
    return sum(counts.get(name, 0) for name in names)


def prefetch_protocols(pid: int, fd_count: int, strategy: str) -> List[str]:
    """The protocols worth dumping before the target's fds are read.

    A dump answers every socket of its protocol with no protocol look-up;
    it is worth it while the dumps cost no more than looking up the
    protocol of every fd would (even if the target held none of them).
    """
    if strategy == "dump":
        return list(SERVED)
    if strategy != "auto" or fd_count < PREFETCH_MIN:
        return []
    counts = namespace_counts(pid)
    sizes = {p: _in_namespace(counts, p) for p in SERVED}
    budget = fd_count * XATTR_COST / DUMP_COST
    chosen = []
    for proto in sorted((p for p in SERVED if sizes[p]), key=lambda p: sizes[p]):
        if sizes[proto] > budget:
            break
        budget -= sizes[proto]
        chosen.append(proto)
    return chosen


def _plan(pid: int, sizes: Dict[str, int], strategy: str) -> Dict[str, str]:
    """exact or dump for each protocol, from its count in the target."""
    if strategy in ("exact", "dump"):
        return {proto: strategy for proto in sizes}
    plan = {}
    counts: Optional[Dict[str, int]] = None
    for proto, size in sizes.items():
        if size <= ALWAYS_EXACT:
            plan[proto] = "exact"
            continue
        if counts is None:
            counts = namespace_counts(pid)
        in_namespace = _in_namespace(counts, proto)
        if in_namespace is None:
            # Unknown: the exact path's cost is bounded by the target, a
            # dump's is not.
            plan[proto] = "exact"
            continue
        cost = EXACT_COST["unix" if proto == "unix" else "inet"]
        plan[proto] = "exact" if size * cost <= max(in_namespace, size) * DUMP_COST else "dump"
    return plan


def _dump_request(proto: str) -> bytes:
    if proto == "unix":
        return sockdiag.unix_request(1, 0, sockdiag.NLM_F_DUMP)
    family, protocol = INET[proto]
    return sockdiag.inet_dump_request(family, protocol)


class Prefetch:
    """Dumps run by a thread while the caller reads the target's fds.

    The thread spends its time in recv(), in the kernel, without the GIL.
    ``wait`` hands over the datagrams; ``close`` (always) joins the thread
    and closes the netlink socket.
    """

    def __init__(self, pid: int, protos: List[str]) -> None:
        self.protos = protos
        self.channel: Optional[DiagChannel] = None
        self._pid = pid
        self._chunks: Dict[str, List[bytes]] = {}
        self._error: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name="gdb_sockets-dump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.channel = DiagChannel.open(self._pid)
            for proto in self.protos:
                self._chunks[proto] = self.channel.dump_chunks(_dump_request(proto))
        except (DiagUnavailable, DiagError) as e:
            self._error = str(e)
        except OSError as e:
            self._error = "sock_diag: %s" % (e.strerror or e)

    def wait(self) -> Dict[str, List[bytes]]:
        self._thread.join()
        if self._error is not None:
            raise Unavailable(self._error)
        return self._chunks

    def close(self) -> None:
        self._thread.join()
        if self.channel is not None:
            self.channel.close()
            self.channel = None


# --------------------------------------------------------------------------
# Collecting


def collect(pid: int, fds: List[Tuple[int, int]], protocol_of: Callable[[int], Optional[str]],
            strategy: str = "auto", prefetch: Optional[Prefetch] = None) -> Collected:
    """Rows for the socket fds ``fds`` ((fd, inode) pairs) of ``pid``.

    ``protocol_of(fd)`` names the protocol of an fd (our names, None if
    the kernel does not say); it is asked only for fds that the prefetched
    dumps did not answer.  Raises Unavailable when sock_diag cannot be
    used for ``pid`` (another namespace that cannot be entered, a kernel
    without it) or a protocol is not named: the caller reads the tables.
    """
    lowest: Dict[int, int] = {}
    for fd, inode in fds:
        lowest.setdefault(inode, fd)
    rows: Dict[int, Socket] = {}
    dumped: Set[str] = set()
    channel = None
    try:
        if prefetch is not None and prefetch.protos:
            for proto, chunks in prefetch.wait().items():
                rows.update(_rows_from_dump(proto, chunks, lowest))
                dumped.add(proto)
            channel = prefetch.channel
        out = Collected(rows, set(), {}, set(dumped))
        members: Members = {}
        for fd, inode in fds:
            if inode in rows:
                continue
            proto = out.protos[fd] = protocol_of(fd)
            if proto is None:
                raise Unavailable("the kernel does not name the protocol of fd %d" % fd)
            if proto in dumped:
                out.tableless.add(inode)  # not in its protocol's full dump
            elif proto in SERVED:
                members.setdefault(proto, {}).setdefault(inode, fd)
        if members:
            if channel is None:
                channel = DiagChannel.open(pid)
            _answer(pid, channel, members, strategy, out)
            out.served.update(members)
    except (DiagUnavailable, DiagError) as e:
        raise Unavailable(str(e)) from None
    except OSError as e:  # the netlink socket itself failed (ENOBUFS...)
        raise Unavailable("sock_diag: %s" % (e.strerror or e)) from None
    finally:
        if channel is not None and (prefetch is None or channel is not prefetch.channel):
            channel.close()
    return out


def _answer(pid: int, channel: DiagChannel, members: Members, strategy: str,
            out: Collected) -> None:
    plan = _plan(pid, {proto: len(inodes) for proto, inodes in members.items()}, strategy)
    exact = {p: inodes for p, inodes in members.items() if p in INET and plan[p] == "exact"}
    if exact:
        try:
            with FdCopies(pid) as copies:
                left = _inet_exact(channel, copies, exact, out)
        except CopyUnavailable:
            left = {p: {ino: (fd, False) for ino, fd in m.items()} for p, m in exact.items()}
        _settle(channel, left, out)
    for proto, inodes in members.items():
        if proto in INET and plan[proto] == "dump":
            _inet_dump(channel, proto, inodes, out)
    if "unix" in members:
        _unix(channel, members["unix"], plan["unix"], out)


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


# --------------------------------------------------------------------------
# inet, one socket at a time


# What is left for a dump: proto -> {inode: (fd, maybe a listener)}
Left = Dict[str, Dict[int, Tuple[int, bool]]]


def _inet_exact(channel: DiagChannel, copies: FdCopies, groups: Members, out: Collected) -> Left:
    """Exact lookups, a batch of sockets at a time: gdb never holds more
    than a batch of copies open (its own RLIMIT_NOFILE)."""
    left: Left = {}
    here = channel.netns_cookie()
    items = [(proto, inode, fd) for proto, inodes in groups.items()
             for inode, fd in inodes.items()]
    for start in range(0, len(items), sockdiag.BATCH):
        try:
            _exact_batch(channel, copies, items[start:start + sockdiag.BATCH], here, out, left)
        finally:
            copies.release()
    return left


def _exact_batch(channel: DiagChannel, copies: FdCopies, items, here: Optional[int],
                 out: Collected, left: Left) -> None:
    asked: List[Tuple[str, int, int, int, InetQuery]] = []
    for proto, inode, fd in items:
        family, protocol = INET[proto]
        copy = copies.copy(fd, inode)
        ends = copies.endpoints(copy) if copy is not None else None
        if ends is None or ends.family != family:
            left.setdefault(proto, {})[inode] = (fd, False)
        elif ends.local_port == 0:
            # Never bound nor connected: TCP and UDP hash a socket under
            # its port, so it is in no table.
            out.tableless.add(inode)
        else:
            asked.append((proto, inode, fd, copy, InetQuery(
                family, protocol, ends.local, ends.local_port, ends.peer, ends.peer_port)))

    again = []
    for item, answer in zip(asked, channel.inet_exact([a[4] for a in asked])):
        proto, inode, fd, copy, query = item
        if isinstance(answer, InetRecord) and answer.inode == inode:
            out.rows[inode] = _inet_socket(fd, proto, answer)
            continue
        if answer == errno.ENOENT:
            if query.protocol == sockdiag.IPPROTO_TCP and copies.tcp_state(copy) == _TCP_CLOSE:
                out.tableless.add(inode)  # closed or only bound: unhashed
                continue
            cookie = copies.netns_cookie(copy)
            if cookie is not None and here is not None and cookie != here:
                # Made in another namespace (before a setns, or passed over
                # a UNIX socket): in no table of this one.
                out.tableless.add(inode)
                continue
            ifindex = copies.bound_ifindex(copy)
            if ifindex:
                # Bound to a device: only a lookup on that device finds it.
                again.append((item, query._replace(ifindex=ifindex)))
                continue
        left.setdefault(proto, {})[inode] = (fd, query.peer_port == 0)

    answers = channel.inet_exact([query for _item, query in again])
    for ((proto, inode, fd, _copy, _q), query), answer in zip(again, answers):
        if isinstance(answer, InetRecord) and answer.inode == inode:
            out.rows[inode] = _inet_socket(fd, proto, answer)
        else:
            left.setdefault(proto, {})[inode] = (fd, query.peer_port == 0)


def _settle(channel: DiagChannel, left: Left, out: Collected) -> None:
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
                out.rows[inode] = _inet_socket(rest.pop(inode), proto, record)
        if rest:
            _inet_dump(channel, proto, rest, out)


def _inet_dump(channel: DiagChannel, proto: str, inodes: Dict[int, int], out: Collected) -> None:
    family, protocol = INET[proto]
    found = channel.inet_dump(family, protocol, set(inodes))
    for inode, fd in inodes.items():
        record = found.get(inode)
        if record is None:
            out.tableless.add(inode)
        else:
            out.rows[inode] = _inet_socket(fd, proto, record)


_ADDRESS_TEXT: Dict[bytes, str] = {}


def address_text(family: int, raw: bytes) -> str:
    """An address as the table parsers print it (procnet.decode_ipv4/6)."""
    key = raw[:4] if family == socket.AF_INET else raw[:16]
    text = _ADDRESS_TEXT.get(key)
    if text is None:
        if family == socket.AF_INET:
            text = str(ipaddress.IPv4Address(key))
        else:
            address = ipaddress.IPv6Address(key)
            mapped = address.ipv4_mapped
            text = "::ffff:%s" % mapped if mapped is not None else str(address)
        if len(_ADDRESS_TEXT) > 4096:
            _ADDRESS_TEXT.clear()
        _ADDRESS_TEXT[key] = text
    return text


def _inet_socket(fd: int, proto: str, record: InetRecord) -> Socket:
    family = record.family
    return make_socket(
        fd=fd, inode=record.inode, proto=proto, state=state_name(record.state),
        recv_q=record.rqueue, send_q=record.wqueue,
        local=InetEndpoint(address_text(family, record.src), record.sport),
        peer=InetEndpoint(address_text(family, record.dst), record.dport),
        uid=record.uid)


# --------------------------------------------------------------------------
# A whole dump into rows, for many sockets: the same records as
# _inet_socket, built with less Python per socket.


# The defaults the fast factory starts from (None: Socket(...) is used).
_FAST_DEFAULTS: Optional[dict] = None


def _fast_socket_factory():
    """A function building Socket records ~3x faster than Socket(...).

    A frozen dataclass's __init__ sets each field through
    object.__setattr__; this fills the instance dict the way copy and
    pickle do.  Used only while Socket is a plain dataclass with a dict
    and no __post_init__; otherwise it is Socket itself.
    """
    try:
        defaults = dict(vars(Socket(fd=0, inode=0, proto="", state="")))
    except TypeError:
        return Socket
    if hasattr(Socket, "__post_init__") or set(defaults) != {
            f.name for f in dataclasses.fields(Socket)}:
        return Socket
    new = object.__new__
    global _FAST_DEFAULTS
    _FAST_DEFAULTS = defaults

    def make(**values):
        sock = new(Socket)
        state = sock.__dict__
        state.update(defaults)
        state["extra"] = {}
        state.update(values)
        return sock
    return make


make_socket = _fast_socket_factory()
_STATE_TEXT = [state_name(code) for code in range(256)]
# A whole message at once: netlink header (len, type), then inet_diag_msg.
_HEADED_INET = struct.Struct("=IH10x" + sockdiag._INET_MSG.format[1:])
_HEADER = struct.Struct("=IH")
_PORT = struct.Struct("!H")


def _rows_from_dump(proto: str, chunks: List[bytes], lowest: Dict[int, int]) -> Dict[int, Socket]:
    """Rows of a prefetched dump for the inodes in ``lowest`` (inode -> fd)."""
    if proto == "unix":
        found = sockdiag.parse_dump_chunks(chunks, set(lowest))
        return _unix_rows(found, sockdiag.parse_dump_chunks(chunks, _unknown_peers(found)), lowest)
    family = INET[proto][0]
    rows: Dict[int, Socket] = {}
    endpoints: Dict[bytes, InetEndpoint] = {}
    whole, header = _HEADED_INET.unpack_from, _HEADER.unpack_from
    whole_size = _HEADED_INET.size
    states, wanted, port_of = _STATE_TEXT, lowest.get, _PORT.unpack
    new, template = object.__new__, _FAST_DEFAULTS

    def endpoint(raw: bytes, port: bytes) -> InetEndpoint:
        found = endpoints[raw + port] = InetEndpoint(address_text(family, raw), port_of(port)[0])
        return found

    # make_socket and endpoint() inlined: this loop runs once per socket
    # of the namespace.
    for data in chunks:
        offset, size = 0, len(data)
        while offset + 16 <= size:
            if size - offset >= whole_size:
                (length, kind, _f, state, sport, dport, src, dst, rq, wq, uid,
                 inode) = whole(data, offset)
            else:
                length, kind = header(data, offset)
            if length < 16:
                break
            if kind == sockdiag.SOCK_DIAG_BY_FAMILY:
                fd = wanted(inode)
                if fd is not None:
                    local = endpoints.get(src + sport) or endpoint(src, sport)
                    peer = endpoints.get(dst + dport) or endpoint(dst, dport)
                    if template is None:
                        sock = make_socket(
                            fd=fd, inode=inode, proto=proto, state=states[state], recv_q=rq,
                            send_q=wq, local=local, peer=peer, uid=uid)
                    else:
                        sock = new(Socket)
                        values = sock.__dict__
                        values.update(template)
                        values["fd"] = fd
                        values["inode"] = inode
                        values["proto"] = proto
                        values["state"] = states[state]
                        values["recv_q"] = rq
                        values["send_q"] = wq
                        values["local"] = local
                        values["peer"] = peer
                        values["uid"] = uid
                        values["extra"] = {}
                    rows[inode] = sock
            elif kind == sockdiag.NLMSG_ERROR:
                code = -struct.unpack_from("=i", data, offset + 16)[0]
                if code:
                    raise DiagError(code, "sock_diag dump of %s" % proto)
            offset += (length + 3) & ~3
    return rows


# --------------------------------------------------------------------------
# UNIX


def _unknown_peers(found: Dict[int, sockdiag.UnixRecord]) -> Set[int]:
    return {r.peer for r in found.values() if r.peer} - found.keys()


def _unix(channel: DiagChannel, inodes: Dict[int, int], how: str, out: Collected) -> None:
    wanted = set(inodes)
    if how == "exact":
        found = channel.unix_exact(wanted)
        peers = channel.unix_exact(_unknown_peers(found))
    else:
        chunks = channel.dump_chunks(_dump_request("unix"))
        found = sockdiag.parse_dump_chunks(chunks, wanted)
        peers = sockdiag.parse_dump_chunks(chunks, _unknown_peers(found))
    out.tableless.update(wanted - found.keys())
    out.rows.update(_unix_rows(found, peers, inodes))


def _unix_rows(found, peers, fds: Dict[int, int]) -> Dict[int, Socket]:
    """Rows as the table path builds them once unix_diag has answered."""
    rows = {}
    for inode, record in found.items():
        peer_path = None
        if record.peer:
            peer_record = found.get(record.peer) or peers.get(record.peer)
            if peer_record is not None and peer_record.name:
                peer_path = unix_name_to_path(peer_record.name)
        rows[inode] = make_socket(
            fd=fds[inode], inode=inode, proto="unix", state=state_name(record.state),
            recv_q=record.rqueue, send_q=record.wqueue,
            local=UnixAddress(unix_name_to_path(record.name)),
            peer=UnixPeer(record.peer or None, peer_path, known=True),
            type=UNIX_TYPES.get(record.type, "type%d" % record.type))
    return rows
