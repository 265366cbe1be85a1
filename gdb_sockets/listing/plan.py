"""Which sock_diag way answers each protocol of a process: exact lookups or a dump.

The cost follows the target, not the host, in one of two ways per protocol
(listing/exact.py, listing/dump.py):

- ``exact``: about 14 us a target socket (5 us for UNIX), whatever the
  host holds;
- ``dump``: about 1.4 us a socket of the namespace.  For a target that
  holds a good share of the namespace the dumps start before its fds are
  even read (``prefetch_protocols``), and a socket a dump answers needs no
  protocol look-up at all.

``auto`` chooses from the target's counts and the namespace's
(/proc/PID/net/protocols counts sockets per protocol per namespace).
No gdb here.
"""

from __future__ import annotations

import socket
from typing import Dict, List, Optional

from ..kernel import sockdiag

STRATEGIES = ("auto", "exact", "dump")

# Protocols answered by sock_diag: (address family, IP protocol) of each.
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
# of the namespace in a dump, per fd for its protocol name (an xattr) and
# for its link.
EXACT_COST = {"inet": 14.0, "unix": 5.0}
DUMP_COST = 1.4
XATTR_COST = 2.5
LINK_COST = 3.0
# Up to this many sockets of a protocol, the exact path without looking
# at the namespace; below this many fds, no dump before the protocols.
ALWAYS_EXACT = 32
PREFETCH_MIN = 256


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


def in_namespace(counts: Dict[str, int], proto: str) -> Optional[int]:
    names = _COUNT_NAMES[proto]
    if not any(name in counts for name in names):
        return None
    return sum(counts.get(name, 0) for name in names)


def prefetch_protocols(pid: int, fd_count: int, strategy: str) -> List[str]:
    """The protocols worth dumping before the target's fds are read.

    A dump answers every socket of its protocol with no protocol look-up,
    and the kernel fills it while gdb reads the fd links (another CPU, no
    GIL).  It is worth it while the dumps take no longer than reading the
    links and looking up the protocol of every fd would (even if the target
    held none of their sockets).
    """
    if strategy == "dump":
        return list(SERVED)
    if strategy != "auto" or fd_count < PREFETCH_MIN:
        return []
    counts = namespace_counts(pid)
    sizes = {p: in_namespace(counts, p) for p in SERVED}
    budget = fd_count * (LINK_COST + XATTR_COST) / DUMP_COST
    chosen = []
    for proto in sorted((p for p in SERVED if sizes[p]), key=lambda p: sizes[p]):
        if sizes[proto] > budget:
            break
        budget -= sizes[proto]
        chosen.append(proto)
    return chosen


def plan(pid: int, sizes: Dict[str, int], strategy: str) -> Dict[str, str]:
    """exact or dump for each protocol, from its count in the target."""
    if strategy in ("exact", "dump"):
        return {proto: strategy for proto in sizes}
    chosen = {}
    counts: Optional[Dict[str, int]] = None
    for proto, size in sizes.items():
        if size <= ALWAYS_EXACT:
            chosen[proto] = "exact"
            continue
        if counts is None:
            counts = namespace_counts(pid)
        namespace_size = in_namespace(counts, proto)
        if namespace_size is None:
            # Unknown: the exact path's cost is bounded by the target, a
            # dump's is not.
            chosen[proto] = "exact"
            continue
        cost = EXACT_COST["unix" if proto == "unix" else "inet"]
        chosen[proto] = "exact" if size * cost <= max(namespace_size, size) * DUMP_COST else "dump"
    return chosen


def dump_request(proto: str) -> bytes:
    if proto == "unix":
        return sockdiag.unix_request(1, 0, sockdiag.NLM_F_DUMP)
    family, protocol = INET[proto]
    return sockdiag.inet_dump_request(family, protocol)
