"""Which sockets a command acts on: the -proto, -state, -port, -local, -peer filters.

Pure: the options module turns text into a ``SocketFilter``; the commands
apply it to records.  Every given filter must match (they combine with AND;
repeating one option allows several values of it).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Optional

from ..errors import SocketsError
from ..model import UNIX_NETIDS, InetEndpoint, Socket, UnixAddress, UnixPeer


def _normal_address(text: str):
    """An address compared by value: ::ffff:a.b.c.d is the IPv4 a.b.c.d."""
    address = ipaddress.ip_address(text)
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class EndpointPattern:
    """ADDR[:PORT] (IPv6 in brackets when a port follows), or a UNIX path
    ('/...' or '@abstract').  '*' is the wildcard address, as the table
    prints it (0.0.0.0 or ::): *:80 is a socket bound to port 80 on every
    address, not 127.0.0.1:80; -port matches a port on any address."""

    address: Optional[object] = None  # ipaddress object; None = any
    port: Optional[int] = None
    path: Optional[str] = None
    wildcard: bool = False  # '*': only the unspecified address

    @classmethod
    def parse(cls, option: str, text: str) -> "EndpointPattern":
        if text.startswith("/") or text.startswith("@"):
            return cls(path=text)
        match = re.fullmatch(r"\[([^\]]+)\](?::(\d+|\*))?|([^:\[\]]+)(?::(\d+|\*))?|([0-9a-fA-F:.]+)",
                             text)
        if match is None:
            raise SocketsError("-%s %r: give ADDR, ADDR:PORT, [IPV6]:PORT, *:PORT "
                               "or a UNIX path" % (option, text))
        host = match.group(1) or match.group(3) or match.group(5)
        port_text = match.group(2) or match.group(4)
        port = None if port_text in (None, "*") else int(port_text)
        if port is not None and port > 65535:
            raise SocketsError("-%s %r: port out of range" % (option, text))
        if host == "*":
            return cls(port=port, wildcard=True)
        try:
            return cls(address=_normal_address(host), port=port)
        except ValueError:
            raise SocketsError("-%s %r: %r is neither an IP address nor '*'; give ADDR, "
                               "ADDR:PORT, [IPV6]:PORT, *:PORT, or a UNIX path starting "
                               "with '/' or '@'" % (option, text, host)) from None

    def matches(self, endpoint) -> bool:
        if self.path is not None:
            if isinstance(endpoint, (UnixAddress, UnixPeer)):
                return endpoint.path == self.path
            return False
        if not isinstance(endpoint, InetEndpoint):
            return False
        if self.port is not None and endpoint.port != self.port:
            return False
        if self.address is not None and _normal_address(endpoint.address) != self.address:
            return False
        if self.wildcard and not endpoint.unspecified:
            return False
        return True


def parse_port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > 65535:
        raise SocketsError("-port %r: give a port number from 0 to 65535" % (text,))
    return int(text)


@dataclass(frozen=True)
class SocketFilter:
    """All the filters of one command; None means "not filtered on this"."""

    fds: Optional[FrozenSet[int]] = None
    protos: Optional[FrozenSet[str]] = None
    states: Optional[FrozenSet[str]] = None
    ports: Optional[FrozenSet[int]] = None
    locals: Optional[tuple] = None
    peers: Optional[tuple] = None

    @property
    def selects_by_property(self) -> bool:
        """True when something other than fd numbers narrows the choice."""
        return any(v is not None for v in (self.protos, self.states, self.ports,
                                           self.locals, self.peers))

    @property
    def narrows(self) -> bool:
        """True when some socket may be left out (fds named, or a property)."""
        return self.fds is not None or self.selects_by_property

    def matches(self, sock: Socket) -> bool:
        if self.fds is not None and sock.fd not in self.fds:
            return False
        if self.protos is not None and sock.proto not in self.protos and not (
                sock.proto == "unix" and UNIX_NETIDS.get(sock.type) in self.protos):
            return False
        if self.states is not None and sock.state not in self.states:
            return False
        if self.ports is not None and not any(
                isinstance(e, InetEndpoint) and e.port in self.ports
                for e in (sock.local, sock.peer)):
            return False
        if self.locals is not None and not any(p.matches(sock.local) for p in self.locals):
            return False
        if self.peers is not None and not any(p.matches(sock.peer) for p in self.peers):
            return False
        return True

    def apply(self, sockets: Iterable[Socket]) -> List[Socket]:
        if not self.narrows:
            return list(sockets)  # no filter: no pass over the records
        return [s for s in sockets if self.matches(s)]
