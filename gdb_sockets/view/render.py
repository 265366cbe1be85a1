"""Text and JSON for socket records.

Names and paths come from the target (any process can bind a UNIX path
holding escape sequences), so every such string is escaped before it
reaches a terminal: backslash escapes for control characters, and \\xNN
for bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, List, Optional, Sequence

from ..model import (Details, InetEndpoint, NetlinkAddress, PacketAddress, Socket,
                     UnixAddress, UnixPeer)

_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
ETH_P_ALL = 0x0003


def escape(text: str) -> str:
    """``text`` safe for a terminal, and unambiguous: nothing is lost.

    \\xNN is a single byte: an ASCII control character (below 0x80) or a
    byte that was not UTF-8 (0x80 and up); \\uNNNN and \\UNNNNNNNN are
    characters that are not printable.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
            out.append("\\x%02x" % (code - 0xDC00))
        elif not ch.isprintable():
            if code < 0x80:
                out.append("\\x%02x" % code)
            elif code <= 0xFFFF:
                out.append("\\u%04x" % code)
            else:
                out.append("\\U%08x" % code)
        else:
            out.append(ch)
    return "".join(out)


def duration_text(ms: int) -> str:
    """'850ms', '42s', '8m05s', '8h02m', '3d04h': two units at most."""
    if ms < 1000:
        return "%dms" % ms
    seconds = ms // 1000
    if seconds < 60:
        return "%ds" % seconds
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return "%dm%02ds" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return "%dh%02dm" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%dd%02dh" % (days, hours)


def format_inet(endpoint: InetEndpoint) -> str:
    """As ``ss -n`` prints it: [v6], unspecified address or port as '*'."""
    # The address is the canonical text the parsers made, so plain string
    # tests suffice (ipaddress costs ~6 us an endpoint, 120 ms at 20k rows).
    address = endpoint.address
    if address in ("0.0.0.0", "::"):
        host = "*"
    elif ":" in address:
        host = "[%s]" % address
    else:
        host = address
    return "%s:%s" % (host, endpoint.port if endpoint.port else "*")


def format_endpoint(endpoint) -> str:
    """One endpoint as the Local or Peer column shows it ('-' = not known)."""
    if endpoint is None:
        return "-"
    if isinstance(endpoint, InetEndpoint):
        return format_inet(endpoint)
    if isinstance(endpoint, UnixAddress):
        return escape(endpoint.path) if endpoint.path else "*"
    if isinstance(endpoint, UnixPeer):
        if not endpoint.known:
            return "?"
        if endpoint.inode is None:
            return "*"
        name = escape(endpoint.path) if endpoint.path else "*"
        return "%s (peer %d)" % (name, endpoint.inode)
    if isinstance(endpoint, PacketAddress):
        proto = "*" if endpoint.protocol in (0, ETH_P_ALL) else "[%d]" % endpoint.protocol
        if endpoint.ifindex == 0:
            iface = "*"
        else:
            iface = escape(endpoint.interface) if endpoint.interface else "if%d" % endpoint.ifindex
        return "%s:%s" % (proto, iface)
    if isinstance(endpoint, NetlinkAddress):
        return "%d:%d" % (endpoint.protocol, endpoint.portid)
    raise TypeError("no format for %r" % (endpoint,))


def _peer_text(sock: Socket) -> str:
    # Packet and netlink sockets have no peer; ss prints '*'.
    if sock.peer is None and sock.proto in ("packet", "netlink"):
        return "*"
    return format_endpoint(sock.peer)


def _queue(value: Optional[int]) -> str:
    return "-" if value is None else str(value)


HEADER = ("FD", "Proto", "State", "Recv-Q", "Send-Q", "Local", "Peer", "Inode")


# The table names UNIX sockets by type as ss's Netid column does; -json
# keeps proto "unix" with a "type" key.
_UNIX_NETIDS = {"stream": "u_str", "dgram": "u_dgr", "seqpacket": "u_seq"}


def proto_cell(sock: Socket) -> str:
    """The Proto cell: the protocol, or ss's u_str/u_dgr/u_seq for UNIX."""
    if sock.proto == "unix":
        return _UNIX_NETIDS.get(sock.type, "unix")
    return sock.proto


def table_rows(sockets: Iterable[Socket]) -> List[Sequence[str]]:
    return [
        (str(s.fd), proto_cell(s), s.state, _queue(s.recv_q), _queue(s.send_q),
         format_endpoint(s.local), _peer_text(s), str(s.inode))
        for s in sockets
    ]


# What each column is, for styling: the renderer says what a cell is and the
# gdb layer decides how (or whether) to colour it.
_COLUMN_KINDS = (None, None, "state", None, None, "endpoint", "endpoint", None)
TROUBLE_STATES = frozenset({"CLOSE-WAIT", "LAST-ACK", "CLOSING", "FIN-WAIT-1", "FIN-WAIT-2",
                            "TIME-WAIT", "SYN-SENT", "SYN-RECV"})


def state_kind(state: str) -> str:
    """'ok', 'trouble' (a connection closing or stuck half-way) or 'unknown'."""
    if state in TROUBLE_STATES:
        return "trouble"
    if state.startswith("UNKNOWN") or state == "?":
        return "unknown"
    return "ok"


def format_table(sockets: Sequence[Socket], colorize: Optional[Callable[[str, str], str]] = None,
                 notes: Optional[Sequence[str]] = None, extended: bool = False) -> str:
    """The aligned table, header first, one line per socket.

    ``colorize(kind, text)`` styles a padded cell; kind is "state:ok",
    "state:trouble", "state:unknown" or "endpoint".  Padding is computed on
    the plain text, so escape sequences never shift the columns.
    ``extended`` puts each socket's -extended line (``detail_line``) under it.
    """
    lines = _table_lines(sockets, colorize, notes)
    if not extended:
        return "\n".join(lines)
    out = lines[:1]
    for line, sock in zip(lines[1:], sockets):
        out.append(line)
        out.append(detail_line(sock))
    return "\n".join(out)


def _table_lines(sockets: Sequence[Socket], colorize: Optional[Callable[[str, str], str]],
                 notes: Optional[Sequence[str]]) -> List[str]:
    header: Sequence[str] = HEADER
    rows = table_rows(sockets)
    if notes is not None and any(notes):
        # Who waits on or shares a socket: a last column, only when there is any.
        header = HEADER + ("Notes",)
        rows = [row + (note,) for row, note in zip(rows, notes)]
    rows = [header] + rows
    widths = [max(map(len, column)) for column in zip(*rows)]
    if colorize is None:
        # One format string for every row: the fast path, for big tables.
        line_format = "  ".join("%%-%ds" % w for w in widths[:-1]) + "  %s"
        return [(line_format % tuple(row)).rstrip() for row in rows]
    lines = []
    for number, row in enumerate(rows):
        cells = []
        for column, (cell, width) in enumerate(zip(row, widths)):
            padded = cell.ljust(width) if column < len(row) - 1 else cell
            kind = _COLUMN_KINDS[column] if column < len(_COLUMN_KINDS) else None
            if colorize is not None and number > 0 and kind is not None and cell not in ("-", "*"):
                if kind == "state":
                    kind = "state:" + state_kind(cell)
                padded = colorize(kind, cell) + padded[len(cell):]
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    return lines


def details_text(details: Details) -> str:
    """'rmem 0/131072 wmem 0/16384 drops 0  rto 204ms rtt 0.02ms retrans 0/0 ...'."""
    parts = []
    memory = details.get("memory")
    if memory:
        parts.append("rmem %d/%d wmem %d/%d drops %d" % (
            memory["rmem_alloc"], memory["rcvbuf"], memory["wmem_queued"],
            memory["sndbuf"], memory["drops"]))
    tcp = details.get("tcp")
    if tcp and "backlog" in tcp:
        parts.append("accept queue %d/%d" % (tcp["accept_queue"], tcp["backlog"]))
    elif tcp:
        parts.append("rto %dms rtt %gms retrans %d/%d backoff %d probes %d unacked %d" % (
            tcp["rto_ms"], tcp["rtt_ms"], tcp["retransmits"], tcp["total_retrans"],
            tcp["backoff"], tcp["probes"], tcp["unacked"]))
    return "  ".join(parts)


def detail_line(sock: Socket) -> str:
    """The indented -extended line under a socket's row: owner, then details."""
    if sock.details is not None:
        text = details_text(sock.details)
    else:
        text = "(no detail: the fd changed)"
    owner = "uid %s" % (sock.uid if sock.uid is not None else "?")
    return "      %s  %s" % (owner, text) if text else "      " + owner


def format_json(sockets: Iterable[Socket]) -> str:
    """One JSON array; ensure_ascii keeps control characters escaped."""
    return json.dumps([s.to_json() for s in sockets], indent=2, ensure_ascii=True)
