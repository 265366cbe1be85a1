"""Parsers for the kernel's socket tables under /proc/PID/net/.

Text (bytes) in, ``Socket`` records out, keyed by inode.  Each parser takes
an optional set of wanted inodes: on a busy host the tables hold every
socket of the namespace and the target owns a few of them, so rows of
other inodes are dropped before their addresses are decoded.

The records carry fd -1: the listing joins them to the target's fds.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import AbstractSet, Dict, Iterable, Optional

from ..model import (InetEndpoint, NetlinkAddress, PacketAddress, Socket,
                    UnixAddress, UnixPeer, state_name)

Rows = Dict[int, Socket]

# Tables that share the inet layout, with the protocol they hold and whether
# their addresses are IPv6.
INET_TABLES = {
    "tcp": ("tcp", False),
    "tcp6": ("tcp6", True),
    "udp": ("udp", False),
    "udp6": ("udp6", True),
    "udplite": ("udplite", False),
    "udplite6": ("udplite6", True),
    "raw": ("raw", False),
    "raw6": ("raw6", True),
    "icmp": ("ping", False),
    "icmp6": ("ping6", True),
}

# Which table holds a protocol (our names, see model.proto_from_kernel_name).
TABLE_OF_PROTO = {proto: table for table, (proto, _v6) in INET_TABLES.items()}
TABLE_OF_PROTO.update({"unix": "unix", "packet": "packet", "netlink": "netlink"})

UNIX_TYPES = {1: "stream", 2: "dgram", 5: "seqpacket"}
_SO_ACCEPTCON = 0x10000  # the "Flags" bit of a listening UNIX socket


def decode_ipv4(hexaddr: str) -> str:
    """An address from an IPv4 table: one 32-bit word in host byte order."""
    return str(ipaddress.IPv4Address(bytes.fromhex(hexaddr)[::-1]))


def decode_ipv6(hexaddr: str) -> str:
    """An address from an IPv6 table: four 32-bit words, each in host order.

    Bytes are swapped within each word, never across the 16 bytes.
    """
    raw = bytes.fromhex(hexaddr)
    address = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    if address.ipv4_mapped is not None:
        # Dotted, as ss and Python >= 3.13 print it: ::ffff:127.0.0.1
        return "::ffff:%s" % address.ipv4_mapped
    return str(address)


def parse_inet(text: bytes, table: str, wanted: Optional[AbstractSet[int]] = None) -> Rows:
    """Parse tcp, tcp6, udp, udp6, udplite(6), raw(6) or icmp(6).

    Layout (net/ipv4/tcp_ipv4.c get_tcp4_sock; udp and raw print the same
    columns), one header line then one row per socket:

        sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
         0: 0100007F:1F90 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 12345 ...

    Addresses are hex in host order, ports hex in network order as numbers,
    st is the state number in hex, then tx_queue:rx_queue.  Rows with inode
    0 (TIME-WAIT and request sockets) belong to no fd and are skipped.
    For a TCP listener rx_queue is the accept queue and tx_queue is not the
    backlog, so Send-Q of a listener is left unknown here.
    """
    proto, v6 = INET_TABLES[table]
    decode = decode_ipv6 if v6 else decode_ipv4
    rows: Rows = {}
    for line in text.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        inode = int(fields[9])
        if inode == 0 or (wanted is not None and inode not in wanted):
            continue
        local_addr, local_port = fields[1].split(b":")
        peer_addr, peer_port = fields[2].split(b":")
        tx_queue, rx_queue = fields[4].split(b":")
        state_code = int(fields[3], 16)
        state = state_name(state_code)
        send_q: Optional[int] = int(tx_queue, 16)
        if proto.startswith("tcp") and state == "LISTEN":
            send_q = None
        rows[inode] = Socket(
            fd=-1, inode=inode, proto=proto, state=state,
            recv_q=int(rx_queue, 16), send_q=send_q,
            local=InetEndpoint(decode(local_addr.decode()), int(local_port, 16)),
            peer=InetEndpoint(decode(peer_addr.decode()), int(peer_port, 16)),
            uid=int(fields[7]),
        )
    return rows


def fdless_state(text: bytes, table: str, local: InetEndpoint,
                 peer: InetEndpoint) -> Optional[str]:
    """The state of the connection local -> peer among the table's rows
    that belong to no fd (inode 0: TIME-WAIT, and orphans such as
    FIN-WAIT-2 after a close), or None.  Same layout as ``parse_inet``.

    After a shutdown whose FIN went first, the peer's FIN turns the
    connection into a TIME-WAIT row with inode 0, while the fd stays open
    on a socket that is in no table any more (state CLOSE).
    """
    _proto, v6 = INET_TABLES[table]
    decode = decode_ipv6 if v6 else decode_ipv4
    for line in text.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[9] != b"0":
            continue
        local_addr, local_port = fields[1].split(b":")
        peer_addr, peer_port = fields[2].split(b":")
        if (InetEndpoint(decode(local_addr.decode()), int(local_port, 16)) == local
                and InetEndpoint(decode(peer_addr.decode()), int(peer_port, 16)) == peer):
            return state_name(int(fields[3], 16))
    return None


# A row of /proc/net/unix up to the path (net/unix/af_unix.c unix_seq_show):
#
#   Num       RefCount Protocol Flags    Type St Inode Path
#   0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/app.sock
#
# The path is printed byte for byte: it may hold spaces, newlines and bytes
# that are not UTF-8; an abstract name starts with '@' and its NULs print
# as '@'.  A line that does not start like a row continues the previous
# row's path after a newline that was part of the name.
_UNIX_ROW = re.compile(
    rb"^([0-9a-fA-F]+): ([0-9A-F]{8}) ([0-9A-F]{8}) ([0-9A-F]{8}) "
    rb"([0-9A-F]{4}) ([0-9A-F]{2}) +([0-9]+)(?: (.*))?$", re.DOTALL)

# UNIX "St" values (include/uapi/linux/net.h socket_state) as ss's words.
_UNIX_STATES = {1: "UNCONN", 2: "SYN-SENT", 3: "ESTAB", 4: "CLOSING"}


def decode_path(raw: bytes) -> str:
    """A socket path as str; bytes that are not UTF-8 survive as surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def unix_name_to_path(name: Optional[bytes]) -> Optional[str]:
    """A sun_path (from sock_diag) as /proc/net/unix prints it: abstract names start with '@'."""
    if not name:
        return None
    if name[:1] == b"\0":
        name = b"@" + name[1:].replace(b"\0", b"@")
    else:
        name = name.split(b"\0", 1)[0]
    return name.decode("utf-8", "surrogateescape")


def parse_unix(text: bytes, wanted: Optional[AbstractSet[int]] = None) -> Rows:
    """Parse /proc/PID/net/unix (layout in the comment above).

    Peers and queues are not in this table: sock_diag adds them.  The
    peer is therefore marked unknown here.
    """
    rows: Rows = {}
    last: Optional[int] = None
    lines = text.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last row
    for line in lines[1:]:
        match = _UNIX_ROW.match(line)
        if match is None:
            # Part of the previous row's path, cut by a newline in the name.
            if last is not None and last in rows:
                old = rows[last]
                # A name that starts with a newline leaves the row's path empty.
                path = (old.local.path or "") + "\n" + decode_path(line)
                rows[last] = replace(old, local=UnixAddress(path))
            continue
        flags = int(match.group(4), 16)
        sock_type = int(match.group(5), 16)
        st = int(match.group(6), 16)
        inode = int(match.group(7))
        last = inode
        if wanted is not None and inode not in wanted:
            last = None
            continue
        raw_path = match.group(8)
        path = decode_path(raw_path) if raw_path else None
        state = "LISTEN" if flags & _SO_ACCEPTCON else _UNIX_STATES.get(st, "UNKNOWN(%d)" % st)
        rows[inode] = Socket(
            fd=-1, inode=inode, proto="unix", state=state,
            local=UnixAddress(path), peer=UnixPeer(None, None, known=False),
            type=UNIX_TYPES.get(sock_type, "type%d" % sock_type),
        )
    return rows


def parse_packet(text: bytes, ifnames: Dict[int, str],
                 wanted: Optional[AbstractSet[int]] = None) -> Rows:
    """Parse /proc/PID/net/packet (net/packet/af_packet.c packet_seq_show):

        sk               RefCnt Type Proto  Iface R Rmem   User   Inode
        000000004727a68c 3      3    0003   0     1 0      0      4294

    Type is SOCK_RAW (3) or SOCK_DGRAM (2), Proto the ethertype in hex
    (0003 = ETH_P_ALL), Iface the bound ifindex (0 = all), Rmem bytes queued.
    """
    rows: Rows = {}
    for line in text.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) < 9:
            continue
        inode = int(fields[8])
        if wanted is not None and inode not in wanted:
            continue
        ifindex = int(fields[4])
        rows[inode] = Socket(
            fd=-1, inode=inode, proto="packet", state="UNCONN",
            recv_q=int(fields[6]), send_q=None,
            local=PacketAddress(int(fields[3], 16), ifindex,
                                ifnames.get(ifindex) if ifindex else None),
            type={2: "dgram", 3: "raw"}.get(int(fields[2]), "type" + fields[2].decode()),
            uid=int(fields[7]),
        )
    return rows


def parse_netlink(text: bytes, wanted: Optional[AbstractSet[int]] = None) -> Rows:
    """Parse /proc/PID/net/netlink (net/netlink/af_netlink.c netlink_seq_show):

        sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
        000000002474508e 0   2108       00000000 0        0        0     2        0        4

    Eth is the netlink protocol (0 = NETLINK_ROUTE), Pid the port id,
    Rmem and Wmem the bytes queued.
    """
    rows: Rows = {}
    for line in text.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        inode = int(fields[9])
        if wanted is not None and inode not in wanted:
            continue
        rows[inode] = Socket(
            fd=-1, inode=inode, proto="netlink", state="UNCONN",
            recv_q=int(fields[4]), send_q=int(fields[5]),
            local=NetlinkAddress(int(fields[1]), int(fields[2])),
        )
    return rows


def parse_ifnames(igmp: bytes = b"", if_inet6: bytes = b"", dev_mcast: bytes = b"") -> Dict[int, str]:
    """Interface index -> name in the target's namespace.

    No single /proc file maps them; these three together name every
    interface that has IPv4 multicast, an IPv6 address or a multicast
    hardware address, which in practice is every interface that is up.
    """
    names: Dict[int, str] = {}
    # igmp: "Idx\tDevice    : Count ..." then "1\tlo        :     1      V3"
    for line in igmp.split(b"\n")[1:]:
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names[int(fields[0])] = fields[1].decode(errors="replace")
    # if_inet6: "<addr> <ifindex hex> <plen> <scope> <flags> <name>"
    for line in if_inet6.split(b"\n"):
        fields = line.split()
        if len(fields) == 6:
            names[int(fields[1], 16)] = fields[5].decode(errors="replace")
    # dev_mcast: "<ifindex> <name> <users> <global> <address>"
    for line in dev_mcast.split(b"\n"):
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names[int(fields[0])] = fields[1].decode(errors="replace")
    return names


def tables_for(protos: Iterable[str]) -> list:
    """The tables to read for a set of protocol names, in a stable order."""
    wanted = {TABLE_OF_PROTO[p] for p in protos if p in TABLE_OF_PROTO}
    order = list(INET_TABLES) + ["unix", "packet", "netlink"]
    return [t for t in order if t in wanted]
