"""The table and -json of a listing left mostly unbuilt (listing/join.py's Rows).

A big target's TCP and UDP sockets come from dumps of the whole
namespace.  Their cells and JSON elements are written here straight from
the dump's fields, with one text per distinct endpoint and no record per
socket: at 20k sockets, building and freeing the records costs more than
the rest of the table.  The text is the one render.format_table and
render.format_json write for the built records, byte for byte
(tests/gdb/test_rows_text.py compares them on real targets).  The records
among the entries (every other socket, and those the view annotates)
go through render's own functions.  No gdb here.
"""

from __future__ import annotations

import socket
from typing import Callable, Dict, List, Optional, Sequence

from ..listing.records import address_text
from ..model import state_name
from . import render

Colorize = Optional[Callable[[str, str], str]]
# The State text of each TCP state code (UDP's are TCP's numbers).
STATES = [state_name(code) for code in range(256)]


def table_text(entries: Sequence[object], colorize: Colorize = None,
               notes: Optional[Sequence[str]] = None) -> str:
    """render.format_table of the built entries (no -extended lines)."""
    return "\n".join(render.aligned_lines(table_columns(entries), colorize, notes))


def table_columns(entries: Sequence[object]) -> List[List[str]]:
    """render.table_columns of the built entries."""
    columns: List[List[str]] = [[] for _ in render.HEADER]
    fds, protos, states, recv_qs, send_qs, locals_, peers, inodes = columns
    records, places = [], []
    texts: Dict[int, Dict[bytes, str]] = {socket.AF_INET: {}, socket.AF_INET6: {}}
    state_text = STATES
    for entry in entries:
        if type(entry) is not tuple:
            places.append(len(fds))
            records.append(entry)
            for column in columns:
                column.append("")
            continue
        fd, proto, (_l, _k, family, state, sport, dport, src, dst, rq, wq, _u, inode) = entry
        known = texts[family]
        fds.append(str(fd))
        protos.append(proto)
        states.append(state_text[state])
        recv_qs.append(str(rq))
        send_qs.append(str(wq))
        key = src + sport
        text = known.get(key)
        if text is None:
            text = known[key] = _endpoint_text(family, src, sport)
        locals_.append(text)
        key = dst + dport
        text = known.get(key)
        if text is None:
            text = known[key] = _endpoint_text(family, dst, dport)
        peers.append(text)
        inodes.append(str(inode))
    if records:
        for column, cells in zip(columns, render.table_columns(records)):
            for place, cell in zip(places, cells):
                column[place] = cell
    return columns


def _endpoint_text(family: int, raw: bytes, port: bytes) -> str:
    """The Local/Peer cell of a dump's address and port, as
    render.format_inet writes the record's InetEndpoint."""
    address = address_text(family, raw)
    number = (port[0] << 8) | port[1]
    return render.format_inet_parts(address, number)


def json_text(entries: Sequence[object]) -> str:
    """render.format_json of the built entries."""
    if not render.TEMPLATE_MATCHES:
        from ..listing.join import built
        return render.format_json(built(entries))
    elements: List[str] = []
    append = elements.append
    records: List[object] = []
    places: List[int] = []
    texts: Dict[int, Dict[bytes, str]] = {socket.AF_INET: {}, socket.AF_INET6: {}}
    element, strings, state_text = render.ELEMENT_TEMPLATE, render.json_string, STATES
    for entry in entries:
        if type(entry) is not tuple:
            places.append(len(elements))
            records.append(entry)
            append("")
            continue
        fd, proto, (_l, _k, family, state, sport, dport, src, dst, rq, wq, uid, inode) = entry
        known = texts[family]
        key = src + sport
        local = known.get(key)
        if local is None:
            local = known[key] = _endpoint_json(family, src, sport)
        key = dst + dport
        peer = known.get(key)
        if peer is None:
            peer = known[key] = _endpoint_json(family, dst, dport)
        append(element % (fd, inode, strings(proto), strings(state_text[state]), rq, wq,
                          local, peer, "true", uid, "",
                          render.NO_SILENCE_JSON if proto in render.TCP_PROTOS else ""))
    if records:
        for place, text in zip(places, render.json_elements(records)):
            elements[place] = text
    if not elements:
        return "[]"
    # One copy of the text (8 MB at 20k sockets), not one a concatenation.
    return "".join(("[\n", ",\n".join(elements), "\n]"))


def _endpoint_json(family: int, raw: bytes, port: bytes) -> str:
    return render.INET_JSON % (render.json_string(address_text(family, raw)),
                               (port[0] << 8) | port[1])
