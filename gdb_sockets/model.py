"""Records for one socket of a process, and the vocabulary they use.

Everything here is plain data: the parsers fill it, the view adds who waits
on and who holds each socket, the renderers print it, the API hands it to
scripts.  No gdb, no I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

# TCP state numbers (include/net/tcp_states.h) named as ss names them.
# TCP_CLOSE (7) is "UNCONN": ss's word for a socket with no connection,
# which is also what every unconnected UDP, raw or packet socket reports.
TCP_STATES = {
    1: "ESTAB",
    2: "SYN-SENT",
    3: "SYN-RECV",
    4: "FIN-WAIT-1",
    5: "FIN-WAIT-2",
    6: "TIME-WAIT",
    7: "UNCONN",
    8: "CLOSE-WAIT",
    9: "LAST-ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN-RECV",  # TCP_NEW_SYN_RECV: a request socket, shown as ss shows it
}
TCP_CLOSE = 7
TCP_LISTEN = 10

STATE_NAMES = (
    "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
    "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING",
)

# Every protocol name the listing can print, in a stable order for help
# and completion.  Others come out as the kernel's name in lower case.
PROTO_NAMES = (
    "tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6",
    "ping", "ping6", "unix", "packet", "netlink",
)


# The Proto column's names for UNIX sockets, by type, as ss's Netid column
# names them; -proto takes them too (-proto unix is all three).
UNIX_NETIDS = {"stream": "u_str", "dgram": "u_dgr", "seqpacket": "u_seq"}
# What -proto accepts and completes: the protocols, and the UNIX netids.
FILTER_PROTOS = PROTO_NAMES + tuple(UNIX_NETIDS.values())


def state_name(code: int) -> str:
    """ss's word for a kernel socket state number; unknown codes stay visible."""
    return TCP_STATES.get(code, "UNKNOWN(%d)" % code)


def normalize_state(text: str) -> str:
    """A user's state filter in ss's spelling: any case, '_' for '-'."""
    return text.strip().upper().replace("_", "-")


def proto_from_kernel_name(kernel_name: str) -> str:
    """Our protocol name for the kernel's ``system.sockprotoname``.

    The rule is: lower case, a trailing "v6" becomes "6" (TCPv6 -> tcp6,
    UDPLITEv6 -> udplite6, PINGv6 -> ping6), "UDP-Lite" is "udplite", and
    every UNIX flavour ("UNIX", "UNIX-STREAM") is "unix".
    """
    name = kernel_name.strip().lower()
    if name.startswith("unix"):
        return "unix"
    if name == "udp-lite":
        return "udplite"
    if name.endswith("v6"):
        return name[:-2] + "6"
    return name


@dataclass(frozen=True)
class InetEndpoint:
    """An IPv4 or IPv6 address and port; port 0 and 0.0.0.0/:: mean "any"."""

    address: str
    port: int

    @property
    def unspecified(self) -> bool:
        return ipaddress.ip_address(self.address).is_unspecified

    def to_json(self) -> dict:
        return {"address": self.address, "port": self.port}


@dataclass(frozen=True)
class UnixAddress:
    """A UNIX socket's own name: a path, an abstract name ("@..."), or none."""

    path: Optional[str]

    def to_json(self) -> dict:
        return {"path": self.path}


@dataclass(frozen=True)
class UnixPeer:
    """The other end of a UNIX socket, by inode (and its name when it has one).

    ``known`` is False when the peer could not be asked for (no sock_diag in
    the target's namespace): then inode None means "unknown", not "none".
    """

    inode: Optional[int]
    path: Optional[str]
    known: bool = True

    def to_json(self) -> dict:
        return {"inode": self.inode, "path": self.path, "known": self.known}


@dataclass(frozen=True)
class PacketAddress:
    """An AF_PACKET socket's binding: ethertype (0 = none) and interface."""

    protocol: int
    ifindex: int
    interface: Optional[str]

    def to_json(self) -> dict:
        return {"protocol": self.protocol, "ifindex": self.ifindex,
                "interface": self.interface}


@dataclass(frozen=True)
class NetlinkAddress:
    """An AF_NETLINK socket: netlink protocol number and port id."""

    protocol: int
    portid: int

    def to_json(self) -> dict:
        return {"protocol": self.protocol, "portid": self.portid}


Endpoint = Union[InetEndpoint, UnixAddress, UnixPeer, PacketAddress, NetlinkAddress]


@dataclass(frozen=True)
class Waiter:
    """A thread (``lwp``) blocked in ``syscall`` on one socket fd.

    ``detail`` says how the call names the fd when it is not simply the
    call's fd argument: "poll for read", "select for read, write",
    "epoll_wait on fd 7 for read", "epoll_wait on fd 7 via epoll fd 9 for
    read", "out fd" / "in fd" (sendfile, splice), "poll for read
    (restarted)" (a poll that a signal, gdb's attach among them, turned into
    ``restart_syscall``).  None for read, recvfrom, accept4 and the like.
    """

    lwp: int
    syscall: str
    detail: Optional[str] = None
    # What view/predict.py needs, not compared (tests name waiters by the
    # three fields above): the poll bits that end a poll/select/epoll wait
    # (None for a direct call, or when its memory could not be read), the
    # epoll registration's EPOLLET/EPOLLONESHOT, a send's flags argument.
    interest: Optional[int] = field(default=None, compare=False)
    edge_triggered: bool = field(default=False, compare=False)
    oneshot: bool = field(default=False, compare=False)
    send_flags: Optional[int] = field(default=None, compare=False)

    def to_json(self) -> dict:
        return {"lwp": self.lwp, "syscall": self.syscall, "detail": self.detail}


@dataclass(frozen=True)
class Holder:
    """An fd of another process that names the socket.

    ``name`` is the process's /proc/PID/comm as the kernel keeps it (up to
    15 bytes, any of them but NUL; undecodable bytes as surrogates): escape
    it before printing.
    """

    pid: int
    name: str
    fd: int

    def to_json(self) -> dict:
        return {"pid": self.pid, "name": self.name, "fd": self.fd}


class Silence(NamedTuple):
    """How long a TCP connection has been quiet, from its TCP_INFO (ms ago):
    since data last came in and went out and since the last ACK came in;
    with the state, the unacknowledged segments, the unanswered probes, the
    retransmissions in a row and the retransmission timer.  A NamedTuple,
    not a dataclass: one is built for every TCP row of an exact listing
    (0.3 us instead of 1.5)."""

    state: int
    last_recv_ms: int
    last_send_ms: int
    last_ack_ms: int
    unacked: int = 0
    probes: int = 0
    retransmits: int = 0
    rto_ms: int = 0

    @property
    def since_heard_ms(self) -> int:
        """The kernel's keepalive_time_elapsed: since any segment came in."""
        return min(self.last_recv_ms, self.last_ack_ms)


# The -extended view of a socket as the kernel gave it (kernel/sockopt.py):
# "memory" (SO_MEMINFO) and, for TCP, "tcp" (TCP_INFO), each a dict of numbers.
Details = Dict[str, Dict[str, Any]]


@dataclass(frozen=True)
class Socket:
    """One socket fd of the target, joined from its fd link and kernel tables.

    ``in_table`` is False for a socket that is in no kernel table (a fresh
    ``socket()``, unbound UDP): then only its protocol is known and the
    addresses and queues are None.

    ``silence``: a TCP socket's TCP_INFO times where an exact sock_diag
    lookup carried them (listing/records.py) or, for a connection a thread
    is blocked on, its copy was asked (view/inspect.py); else None.  It
    counts milliseconds, so it takes no part in comparing records.

    The last four fields are what the view adds, and take no part in
    comparing records either: the threads blocked on the fd (``waiters``), the
    process's other fds naming the same socket (``also_fds``), other
    processes' fds on it (``holders``: None unless they were looked for)
    and the -extended view (``details``, when ``extended`` says it was asked
    for; None then means the fd changed before it could be read).
    """

    fd: int
    inode: int
    proto: str
    state: str
    recv_q: Optional[int] = None
    send_q: Optional[int] = None
    local: Optional[Endpoint] = None
    peer: Optional[Endpoint] = None
    type: Optional[str] = None
    in_table: bool = True
    uid: Optional[int] = None
    silence: Optional[Silence] = field(default=None, compare=False)
    waiters: Tuple[Waiter, ...] = field(default=(), compare=False)
    also_fds: Tuple[int, ...] = field(default=(), compare=False)
    holders: Optional[Tuple[Holder, ...]] = field(default=None, compare=False)
    details: Optional[Details] = field(default=None, compare=False)
    extended: bool = field(default=False, compare=False, repr=False)

    def to_json(self) -> dict:
        out = {
            "fd": self.fd,
            "inode": self.inode,
            "proto": self.proto,
            "state": self.state,
            "recv_q": self.recv_q,
            "send_q": self.send_q,
            "local": self.local.to_json() if self.local is not None else None,
            "peer": self.peer.to_json() if self.peer is not None else None,
            "in_table": self.in_table,
            "uid": self.uid,
        }
        if self.type is not None:
            out["type"] = self.type
        if self.proto in ("tcp", "tcp6"):
            quiet = self.silence
            out["last_recv_ms"] = quiet.last_recv_ms if quiet is not None else None
            out["last_send_ms"] = quiet.last_send_ms if quiet is not None else None
            out["last_ack_ms"] = quiet.last_ack_ms if quiet is not None else None
        out["waiters"] = [w.to_json() for w in self.waiters]
        out["also_fds"] = list(self.also_fds)
        if self.holders is not None:
            out["holders"] = [h.to_json() for h in self.holders]
        if self.extended:
            out["details"] = self.details
        return out
