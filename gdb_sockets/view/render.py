"""Text and JSON for socket records.

Names and paths come from the target (any process can bind a UNIX path
holding escape sequences), so every such string is escaped before it
reaches a terminal: backslash escapes for control characters, and \\xNN
for bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from itertools import repeat
from json.encoder import encode_basestring_ascii as _json_string
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from ..model import (UNIX_NETIDS, Details, InetEndpoint, NetlinkAddress, PacketAddress,
                     Socket, UnixAddress, UnixPeer)

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
    return format_inet_parts(endpoint.address, endpoint.port)


def format_inet_parts(address: str, port: int) -> str:
    """format_inet of an address's text and a port number."""
    return "%s:%s" % (_host_of(address), port if port else "*")


def _host_of(address: str) -> str:
    """The host part of an endpoint's cell: '*' for the unspecified
    address, an IPv6 address in brackets."""
    # The address is the canonical text the parsers made, so plain string
    # tests suffice (ipaddress costs ~6 us an endpoint, 120 ms at 20k rows).
    if address in ("0.0.0.0", "::"):
        return "*"
    if ":" in address:
        return "[%s]" % address
    return address


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


# The table names UNIX sockets by type as ss's Netid column does
# (model.UNIX_NETIDS); -json keeps proto "unix" with a "type" key.


def proto_cell(sock: Socket) -> str:
    """The Proto cell: the protocol, or ss's u_str/u_dgr/u_seq for UNIX."""
    if sock.proto == "unix":
        return UNIX_NETIDS.get(sock.type, "unix")
    return sock.proto


def table_rows(sockets: Iterable[Socket]) -> List[Sequence[str]]:
    return [
        (str(s.fd), proto_cell(s), s.state, _queue(s.recv_q), _queue(s.send_q),
         format_endpoint(s.local), _peer_text(s), str(s.inode))
        for s in sockets
    ]


def table_columns(sockets: Sequence[Socket]) -> List[List[str]]:
    """The table's cells column by column: the cells of table_rows.

    One pass over the records a column; an inet endpoint's text is made
    from a cached host text, and that is what a big table is made of.
    """
    # A table names the same endpoint records again and again (a
    # listener's address, both ends of a connection held by the process).
    texts: Dict[int, str] = {}
    peers = _endpoint_texts([s.peer for s in sockets], texts)
    for index, sock in enumerate(sockets):
        # Packet and netlink sockets have no peer; ss prints '*'.
        if sock.peer is None and sock.proto in ("packet", "netlink"):
            peers[index] = "*"
    return [
        [str(s.fd) for s in sockets],
        [proto_cell(s) if s.proto == "unix" else s.proto for s in sockets],
        [s.state for s in sockets],
        ["-" if s.recv_q is None else str(s.recv_q) for s in sockets],
        ["-" if s.send_q is None else str(s.send_q) for s in sockets],
        _endpoint_texts([s.local for s in sockets], texts),
        peers,
        [str(s.inode) for s in sockets],
    ]


def _endpoint_texts(endpoints: List, texts: Dict[int, str]) -> List[str]:
    """format_endpoint of each, with inet hosts' text cached, and each
    endpoint record's text in ``texts`` by id() (the records are alive for
    as long as the caller's list of them)."""
    out: List[str] = []
    append, hosts, inet, known = out.append, _HOSTS, InetEndpoint, texts.get
    for endpoint in endpoints:
        text = known(id(endpoint))
        if text is None:
            if type(endpoint) is inet:
                host = hosts.get(endpoint.address)
                if host is None:
                    host = _host_text(endpoint.address)
                port = endpoint.port
                text = "%s:%d" % (host, port) if port else host + ":*"
            else:
                text = format_endpoint(endpoint)
            texts[id(endpoint)] = text
        append(text)
    return out


_HOSTS: Dict[str, str] = {}


def _host_text(address: str) -> str:
    """The host part of format_inet, cached (a table repeats its addresses)."""
    host = _host_of(address)
    if len(_HOSTS) > 4096:
        _HOSTS.clear()
    _HOSTS[address] = host
    return host


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
    return aligned_lines(table_columns(sockets), colorize, notes)


def aligned_lines(columns: List[List[str]], colorize: Optional[Callable[[str, str], str]],
                  notes: Optional[Sequence[str]]) -> List[str]:
    """The table's lines, header first, from its cells (table_columns'
    lists, which get the header put in front)."""
    header: Sequence[str] = HEADER
    if notes is not None and any(notes):
        # Who waits on or shares a socket: a last column, only when there is any.
        header = HEADER + ("Notes",)
        columns.append(list(notes))
    for name, column in zip(header, columns):
        column.insert(0, name)
    widths = [max(map(len, column)) for column in columns]
    if colorize is None and len(header) == len(HEADER):
        # Plain cells: one format a line pads every cell but the last.
        line = "  ".join("%%-%ds" % width for width in widths[:-1]) + "  %s"
        return list(map(line.__mod__, zip(*columns)))
    # Every column but the last is padded to its width, a column at a
    # time, and each line is one join of its cells.
    padded = []
    for number, (column, width) in enumerate(zip(columns[:-1], widths)):
        kind = _COLUMN_KINDS[number] if colorize is not None else None
        if kind is None:
            padded.append(list(map(str.ljust, column, repeat(width))))
        else:
            padded.append([column[0].ljust(width)] + [
                _styled(colorize, kind, cell, width) for cell in column[1:]])
    padded.append(columns[-1])
    lines = map("  ".join, zip(*padded))
    if len(header) > len(HEADER) or colorize is not None:
        # An empty last cell (no note) leaves the padding before it.
        lines = map(str.rstrip, lines)
    return list(lines)


def _styled(colorize: Callable[[str, str], str], kind: str, cell: str, width: int) -> str:
    """A padded cell of a coloured column: the escapes around the text only."""
    if cell in ("-", "*"):
        return cell.ljust(width)
    if kind == "state":
        kind = "state:" + state_kind(cell)
    return colorize(kind, cell) + " " * (width - len(cell))


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
    """One JSON array; ensure_ascii keeps control characters escaped.

    The text is json.dumps(indent=2, ensure_ascii=True) of every record's
    to_json(), byte for byte.  json.dumps with an indent runs the pure
    Python encoder (~17 us a record), so a record with nothing added by the
    view (no waiters, dups, holders or details) is written from a template,
    its endpoints' text made once per endpoint record; any other goes
    through json.dumps.
    """
    elements = json_elements(sockets)
    if not elements:
        return "[]"
    return "[\n" + ",\n".join(elements) + "\n]"


def json_elements(sockets: Iterable[Socket]) -> List[str]:
    """format_json's text of each record, as an element of the array."""
    elements: List[str] = []
    append, element, texts = elements.append, _ELEMENT, {}
    known, strings = texts.get, _JSON_STRINGS.get
    for sock in sockets:
        if not _TEMPLATE_MATCHES or not _plain(sock):
            append("  " + _dumps(sock.to_json(), "\n  "))
            continue
        local, peer = sock.local, sock.peer
        local_text = known(id(local))
        if local_text is None:
            local_text = texts[id(local)] = _json_endpoint(local)
        peer_text = known(id(peer))
        if peer_text is None:
            peer_text = texts[id(peer)] = _json_endpoint(peer)
        recv_q, send_q, uid = sock.recv_q, sock.send_q, sock.uid
        append(element % (
            sock.fd, sock.inode, strings(sock.proto) or json_string(sock.proto),
            strings(sock.state) or json_string(sock.state),
            "null" if recv_q is None else int.__repr__(recv_q),
            "null" if send_q is None else int.__repr__(send_q), local_text, peer_text,
            "true" if sock.in_table else "false", "null" if uid is None else int.__repr__(uid),
            "" if sock.type is None else '    "type": %s,\n' % json_string(sock.type),
            _silence_json(sock) if sock.proto in _TCP_PROTOS else ""))
    return elements


# One record as json.dumps(..., indent=2) writes an element of the array.
_ELEMENT = ('  {\n    "fd": %d,\n    "inode": %d,\n    "proto": %s,\n    "state": %s,\n'
            '    "recv_q": %s,\n    "send_q": %s,\n    "local": %s,\n    "peer": %s,\n'
            '    "in_table": %s,\n    "uid": %s,\n%s%s    "waiters": [],\n    "also_fds": []\n  }')
# TCP rows carry the silence figures (null where not asked for).
_TCP_PROTOS = ("tcp", "tcp6")
_SILENCE_JSON = '    "last_recv_ms": %d,\n    "last_send_ms": %d,\n    "last_ack_ms": %d,\n'
_NO_SILENCE_JSON = '    "last_recv_ms": null,\n    "last_send_ms": null,\n    "last_ack_ms": null,\n'
_INET_JSON = '{\n      "address": %s,\n      "port": %d\n    }'
# The keys the template writes, in order (checked against to_json below).
_ELEMENT_KEYS = ("fd", "inode", "proto", "state", "recv_q", "send_q", "local", "peer",
                 "in_table", "uid", "type", "last_recv_ms", "last_send_ms", "last_ack_ms",
                 "waiters", "also_fds")


def _silence_json(sock: Socket) -> str:
    quiet = sock.silence
    if quiet is None:
        return _NO_SILENCE_JSON
    return _SILENCE_JSON % (quiet.last_recv_ms, quiet.last_send_ms, quiet.last_ack_ms)
_JSON_STRINGS: Dict[str, str] = {}


def json_string(text: str) -> str:
    """``text`` as a JSON string (ensure_ascii), cached."""
    found = _JSON_STRINGS.get(text)
    if found is None:
        found = _json_string(text)
        if len(_JSON_STRINGS) > 4096:
            _JSON_STRINGS.clear()
        _JSON_STRINGS[text] = found
    return found


def _json_endpoint(endpoint) -> str:
    if endpoint is None:
        return "null"
    if (type(endpoint) is InetEndpoint and type(endpoint.address) is str
            and type(endpoint.port) is int):
        return _INET_JSON % (json_string(endpoint.address), endpoint.port)
    return _dumps(endpoint.to_json(), "\n    ")


def _dumps(value, indent: str) -> str:
    """json.dumps(indent=2) of a value nested in the array at ``indent``."""
    return json.dumps(value, indent=2, ensure_ascii=True).replace("\n", indent)


def _plain(sock: Socket) -> bool:
    """True when the template writes ``sock`` as json.dumps would: nothing
    added by the view, and fields of the types the parsers make."""
    return (not (sock.waiters or sock.also_fds or sock.extended) and sock.holders is None
            and type(sock.fd) is int and type(sock.inode) is int
            and type(sock.in_table) is bool and type(sock.proto) is str
            and type(sock.state) is str and sock.recv_q.__class__ in _NUMBERS
            and sock.send_q.__class__ in _NUMBERS and sock.uid.__class__ in _NUMBERS
            and (sock.type is None or type(sock.type) is str)
            and (sock.silence is None or all(type(v) is int for v in (
                sock.silence.last_recv_ms, sock.silence.last_send_ms, sock.silence.last_ack_ms))))


_NUMBERS = (int, type(None))


def _template_matches() -> bool:
    """True while Socket.to_json writes the keys the template writes, in order."""
    sample = Socket(fd=1, inode=2, proto="tcp", state="ESTAB", local=InetEndpoint("::", 1),
                    type="stream")
    return (tuple(sample.to_json()) == _ELEMENT_KEYS
            and tuple(InetEndpoint("::", 1).to_json()) == ("address", "port"))


_TEMPLATE_MATCHES = _template_matches()

# For view/raw_rows.py, which writes the template from a dump's fields.
TEMPLATE_MATCHES = _TEMPLATE_MATCHES
ELEMENT_TEMPLATE = _ELEMENT
INET_JSON = _INET_JSON
NO_SILENCE_JSON = _NO_SILENCE_JSON
TCP_PROTOS = _TCP_PROTOS
