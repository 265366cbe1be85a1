"""Building Socket records from sock_diag answers: one way for every path.

The table parsers (kernel/procnet.py) build their own rows; the sock_diag
paths build theirs here, field for field the same (one set of tests runs
on every path and compares them).  Also here: the one UNIX peer join, and
the garbage-collector pause under which records are built.  No gdb here.
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import socket
import struct
from contextlib import contextmanager
from typing import Dict, Iterator, Mapping, Optional

from ..kernel.procnet import UNIX_TYPES, unix_name_to_path
from ..kernel.sockdiag import InetFields, InetRecord, UnixRecord
from ..kernel.sockopt import parse_silence
from ..model import TCP_LISTEN, InetEndpoint, Socket, UnixAddress, UnixPeer, state_name


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while records are built and printed.

    The records hold no cycles, but building tens of thousands of them
    triggers collections that scan every object gdb holds: a third of the
    time for a 20k-socket target.  Nested pauses are harmless: only the
    outermost turns collection back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fast_socket_factory():
    """A function building Socket records ~3x faster than Socket(...).

    A frozen dataclass's __init__ sets each field through
    object.__setattr__; this fills the instance dict the way copy and
    pickle do.  Used only while Socket is a plain dataclass with a dict,
    no __post_init__ and only immutable defaults; otherwise it is Socket
    itself.
    """
    try:
        defaults = dict(vars(Socket(fd=0, inode=0, proto="", state="")))
    except TypeError:
        return Socket
    if hasattr(Socket, "__post_init__") or set(defaults) != {
            f.name for f in dataclasses.fields(Socket)}:
        return Socket
    if any(isinstance(value, (dict, list, set)) for value in defaults.values()):
        return Socket
    new = object.__new__
    global _ROW_DEFAULTS
    _ROW_DEFAULTS = defaults

    def make(**values) -> Socket:
        sock = new(Socket)
        state = sock.__dict__
        state.update(defaults)
        state.update(values)
        return sock
    return make


# The defaults make_socket fills a record from (None: it is Socket itself).
_ROW_DEFAULTS: Optional[dict] = None


make_socket = _fast_socket_factory()


def _fast_endpoint_factory():
    """InetEndpoint(address, port), filled as make_socket fills a Socket
    (~3x faster), while InetEndpoint is a plain two-field dataclass."""
    try:
        fields = list(vars(InetEndpoint("::", 0)))
    except TypeError:
        return InetEndpoint
    if hasattr(InetEndpoint, "__post_init__") or fields != [
            f.name for f in dataclasses.fields(InetEndpoint)] or fields != ["address", "port"]:
        return InetEndpoint
    new = object.__new__

    def make(address: str, port: int) -> InetEndpoint:
        endpoint = new(InetEndpoint)
        values = endpoint.__dict__
        values["address"] = address
        values["port"] = port
        return endpoint
    return make


make_endpoint = _fast_endpoint_factory()
_STATE_TEXT = [state_name(code) for code in range(256)]
_PORT = struct.Struct("!H")


# The fields of Socket in order, and the defaults inet_dump_rows writes
# for the ones a dump does not fill: it fills records only while Socket
# has exactly these (else it builds them with make_socket).
_DUMP_ROW_FIELDS = ("fd", "inode", "proto", "state", "recv_q", "send_q", "local", "peer",
                    "type", "in_table", "uid", "silence", "waiters", "also_fds", "holders",
                    "details", "extended")
_DUMP_ROW_DEFAULTS = {"type": None, "in_table": True, "silence": None, "waiters": (),
                      "also_fds": (), "holders": None, "details": None, "extended": False}


def _dump_rows_fillable() -> bool:
    if _ROW_DEFAULTS is None or tuple(f.name for f in dataclasses.fields(Socket)) != (
            _DUMP_ROW_FIELDS):
        return False
    return all(_ROW_DEFAULTS[name] == value and type(_ROW_DEFAULTS[name]) is type(value)
               for name, value in _DUMP_ROW_DEFAULTS.items())


def inet_dump_rows(proto: str, fields: Mapping[int, InetFields],
                   lowest: Mapping[int, int]) -> Dict[int, Socket]:
    """The rows of the inet sockets whose dump messages are ``fields``
    (InetDump.fields: inode -> unpacked message; inode -> fd in ``lowest``):
    inet_socket's records, with less Python per socket.

    Many sockets share an end (a listener's address, a busy peer): one
    endpoint record for each.  The loop fills each record's dict field by
    field in the dataclass's order (as make_socket would, 4x faster than
    Socket(...), and the instance dicts share their keys); it runs once
    per socket of a big target.
    """
    family = socket.AF_INET6 if proto.endswith("6") else socket.AF_INET
    rows: Dict[int, Socket] = {}
    endpoints: Dict[bytes, InetEndpoint] = {}
    states, port_of, get = _STATE_TEXT, _PORT.unpack, endpoints.get

    def endpoint(raw: bytes, port: bytes) -> InetEndpoint:
        found = endpoints[raw + port] = make_endpoint(address_text(family, raw), port_of(port)[0])
        return found

    fill = _DUMP_ROWS_FILLABLE
    new = object.__new__
    for inode, (_l, _k, _f, state, sport, dport, src, dst, rq, wq, uid,
                _i) in fields.items():
        local = get(src + sport) or endpoint(src, sport)
        peer = get(dst + dport) or endpoint(dst, dport)
        if fill:
            sock = new(Socket)
            values = sock.__dict__
            values["fd"] = lowest[inode]
            values["inode"] = inode
            values["proto"] = proto
            values["state"] = states[state]
            values["recv_q"] = rq
            values["send_q"] = wq
            values["local"] = local
            values["peer"] = peer
            values["type"] = None
            values["in_table"] = True
            values["uid"] = uid
            values["silence"] = None  # dumps do not ask for INET_DIAG_INFO
            values["waiters"] = ()
            values["also_fds"] = ()
            values["holders"] = None
            values["details"] = None
            values["extended"] = False
        else:
            sock = make_socket(fd=lowest[inode], inode=inode, proto=proto, state=states[state],
                               recv_q=rq, send_q=wq, local=local, peer=peer, uid=uid)
        rows[inode] = sock
    return rows


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


def inet_socket(fd: int, proto: str, record: InetRecord) -> Socket:
    """The row of an inet socket that inet_diag described."""
    family = record.family
    return make_socket(
        fd=fd, inode=record.inode, proto=proto, state=state_name(record.state),
        recv_q=record.rqueue, send_q=record.wqueue,
        local=InetEndpoint(address_text(family, record.src), record.sport),
        peer=InetEndpoint(address_text(family, record.dst), record.dport),
        uid=record.uid,
        # A listener's TCP_INFO times say nothing (no peer): zeros.
        silence=parse_silence(record.info) if record.info and record.state != TCP_LISTEN else None)


def unix_peer(record: UnixRecord, records: Mapping[int, UnixRecord],
              rows: Mapping[int, Socket] = {}) -> UnixPeer:
    """The peer of a UNIX socket, named from the peer's unix_diag record when
    it has a name, else from the peer's table row in ``rows`` (if any)."""
    path = None
    if record.peer:
        peer_record = records.get(record.peer)
        if peer_record is not None and peer_record.name:
            path = unix_name_to_path(peer_record.name)
        elif record.peer in rows:
            path = rows[record.peer].local.path
    return UnixPeer(record.peer or None, path, known=True)


def unix_socket(fd: int, record: UnixRecord, peer: UnixPeer) -> Socket:
    """The row of a UNIX socket that unix_diag described."""
    return make_socket(
        fd=fd, inode=record.inode, proto="unix", state=state_name(record.state),
        recv_q=record.rqueue, send_q=record.wqueue,
        local=UnixAddress(unix_name_to_path(record.name)), peer=peer,
        type=UNIX_TYPES.get(record.type, "type%d" % record.type))


def unix_rows(found: Mapping[int, UnixRecord], peers: Mapping[int, UnixRecord],
              fds: Mapping[int, int]) -> Dict[int, Socket]:
    """Rows for the UNIX sockets ``found`` (inode -> fd in ``fds``); ``peers``
    holds the records of their peers that are not among them."""
    records = dict(peers)
    records.update(found)
    return {inode: unix_socket(fds[inode], record, unix_peer(record, records))
            for inode, record in found.items()}


def with_unix_diag(row: Socket, record: UnixRecord, records: Mapping[int, UnixRecord],
                   rows: Mapping[int, Socket]) -> Socket:
    """A UNIX table row (which has no peer nor queues) with what unix_diag adds."""
    return dataclasses.replace(
        row, state=state_name(record.state), recv_q=record.rqueue, send_q=record.wqueue,
        peer=unix_peer(record, records, rows))


_DUMP_ROWS_FILLABLE = _dump_rows_fillable()
