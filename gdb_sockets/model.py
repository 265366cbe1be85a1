"""Records for one socket of a process, and the vocabulary they use.

Everything here is plain data: the parsers fill it, the renderers print it,
the API hands it to scripts.  No gdb, no I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Optional, Union

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
class Socket:
    """One socket fd of the target, joined from its fd link and kernel tables.

    ``in_table`` is False for a socket that is in no kernel table (a fresh
    ``socket()``, unbound UDP): then only its protocol is known and the
    addresses and queues are None.
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
    extra: dict = field(default_factory=dict, compare=False)

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
        # Who waits on it and which other fds name it (notes.py): empty
        # unless the listing found some.
        out["waiters"] = []
        out["also_fds"] = []
        out.update(self.extra)
        return out
