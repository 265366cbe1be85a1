"""Exact lookups and dumps of inet and UNIX sockets through sock_diag.

This is what ss uses (linux/inet_diag.h, linux/unix_diag.h), spoken with
the stdlib's AF_NETLINK socket.  Two ways to ask:

- an *exact* request (SOCK_DIAG_BY_FAMILY without NLM_F_DUMP) names one
  socket: by its 4-tuple for inet, by inode for UNIX.  The kernel looks
  it up in its hash tables and answers while it handles the send(), so
  many requests go out in one send() and their answers are already queued
  when it returns.  The cost follows the target, not the host.
- a *dump* walks every socket of a kind in the namespace: about 1 us a
  socket in the kernel, less than /proc/PID/net/tcp, whose text costs more
  to print and to parse.

The numbers in an answer are the ones /proc/PID/net prints (state,
queues, uid, inode), except that a TCP listener's send queue is its
backlog, as ss shows it.

No gdb here: this runs in gdb's process but needs nothing from gdb.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import (AbstractSet, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

from ..model import TCP_LISTEN
from .netns import DiagUnavailable, open_diag_socket
from .sockopt import PORT

SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NOCOOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF
TCPF_LISTEN = 1 << TCP_LISTEN
# The states a dump asks for: those of the sockets /proc/PID/net lists
# with an fd (ESTABLISHED 1 ... CLOSING 11; an unconnected UDP socket is
# CLOSE, 7).  Not TIME-WAIT (6) nor request sockets (12), which have inode
# 0, nor TCP sockets that are only bound (13, "bound-inactive", dumped
# since Linux 6.3 and absent from /proc/net/tcp).
FD_STATES = ((1 << 12) - 1) & ~((1 << 0) | (1 << 6))
SO_NETNS_COOKIE = 71  # Linux >= 5.14

IPPROTO_TCP = 6
IPPROTO_UDP = 17
# The extension asked of TCP exact lookups: struct tcp_info as an attribute
# (its times say how long the connection has been silent).  Dumps do not
# ask for it: it costs the kernel ~0.3 us and 240 bytes a socket of the
# namespace (measured, notes/issue15.md).
INET_DIAG_INFO = 2
_EXT_INFO = 1 << (INET_DIAG_INFO - 1)
_INET_ATTRS_AT = 16 + 72  # netlink header, struct inet_diag_msg

UDIAG_SHOW_NAME = 0x1
UDIAG_SHOW_PEER = 0x4
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_NAME = 0
UNIX_DIAG_PEER = 2
UNIX_DIAG_RQLEN = 4
_UNIX_SHOW = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN

_NLMSGHDR = struct.Struct("=IHHII")   # len, type, flags, seq, pid
_ERRNO = struct.Struct("=i")
_U32 = struct.Struct("=I")
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then
# struct inet_diag_sockid: sport, dport (big endian), src[16], dst[16],
# if, cookie[2].
_INET_REQ_HEAD = struct.Struct("=BBBBI")
_INET_REQ_PORTS = struct.Struct("!HH")
_INET_REQ_TAIL = struct.Struct("=III")
# struct inet_diag_msg: family, state, timer, retrans, sockid (as above),
# expires, rqueue, wqueue, uid, inode.  Ports stay big endian here.
_INET_MSG = struct.Struct("=BB2x2s2s16s16s16xIIII")
_INET_INODE_AT = _NLMSGHDR.size + 68
# The netlink header's length and type, then the whole inet_diag_msg: one
# unpack a message, for dumps of many sockets (InetDump).
_HEADED_INET = struct.Struct("=IH10x" + _INET_MSG.format[1:])
# struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
_UNIX_REQ = struct.Struct("=BBHIIIII")
# struct unix_diag_msg: family, type, state, pad, ino, cookie[2].
_UNIX_MSG = struct.Struct("=BBBxIII")
_RTATTR = struct.Struct("=HH")

# Requests per send(): every answer is queued on our socket before we read
# any, and the kernel drops answers that do not fit the receive buffer.
BATCH = 64
_RCVBUF = 1 << 20
_DATAGRAM = 1 << 16  # the most one recv() of a dump gets
DUMP_TIMEOUT = 10.0  # seconds without an answer before a dump is given up


class InetRecord(NamedTuple):
    """What inet_diag says of one socket; addresses are the raw 16 bytes
    (an IPv4 address in the first 4), ports are numbers."""

    family: int
    state: int
    sport: int
    dport: int
    src: bytes
    dst: bytes
    rqueue: int
    wqueue: int
    uid: int
    inode: int
    info: Optional[bytes] = None  # INET_DIAG_INFO: struct tcp_info, where asked


class UnixRecord(NamedTuple):
    """What unix_diag says of one UNIX socket."""

    inode: int
    type: int
    state: int
    name: Optional[bytes]
    peer: Optional[int]
    rqueue: Optional[int]
    wqueue: Optional[int]


class InetQuery(NamedTuple):
    """One socket to look up by its addresses (raw bytes, as in InetRecord)."""

    family: int
    protocol: int
    local: bytes
    local_port: int
    peer: bytes
    peer_port: int
    ifindex: int = 0


# An exact answer: the record, or the errno the kernel answered with
# (ENOENT: no such socket in its tables), or None if no answer came.
Answer = Union[InetRecord, UnixRecord, int, None]


class DiagError(Exception):
    """The kernel refused a sock_diag request (errno in ``errno``)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__("%s: %s" % (what, errno.errorcode.get(code, code)))
        self.errno = code


def inet_request(seq: int, query: InetQuery, flags: int = 0) -> bytes:
    """An exact inet_diag request for one socket.

    The TCP lookup takes the socket's own address as "src".  The UDP one
    takes them the other way round (net/ipv4/udp_diag.c: "src and dst are
    swapped for historical reasons"): it looks up who would receive a
    datagram from the peer to the local address.
    """
    if query.protocol == IPPROTO_TCP:
        src, sport, dst, dport = query.local, query.local_port, query.peer, query.peer_port
        ext = _EXT_INFO
    else:
        src, sport, dst, dport = query.peer, query.peer_port, query.local, query.local_port
        ext = 0
    body = (_INET_REQ_HEAD.pack(query.family, query.protocol, ext, 0, ALL_STATES)
            + _INET_REQ_PORTS.pack(sport, dport) + src.ljust(16, b"\0")
            + dst.ljust(16, b"\0") + _INET_REQ_TAIL.pack(query.ifindex, NOCOOKIE, NOCOOKIE))
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | flags, seq, 0) + body


def inet_dump_request(family: int, protocol: int, states: int = FD_STATES) -> bytes:
    body = (_INET_REQ_HEAD.pack(family, protocol, 0, 0, states)
            + _INET_REQ_PORTS.pack(0, 0) + bytes(32) + _INET_REQ_TAIL.pack(0, NOCOOKIE, NOCOOKIE))
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body


def unix_request(seq: int, inode: int, flags: int = 0) -> bytes:
    body = _UNIX_REQ.pack(socket.AF_UNIX, 0, 0, ALL_STATES, inode, _UNIX_SHOW,
                          NOCOOKIE, NOCOOKIE)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | flags, seq, 0) + body


def parse_inet(data: bytes, offset: int, length: int = 0) -> InetRecord:
    """The inet_diag_msg whose netlink header starts at ``offset`` (with its
    INET_DIAG_INFO attribute, if the message of ``length`` bytes has one)."""
    family, state, sport, dport, src, dst, rq, wq, uid, ino = _INET_MSG.unpack_from(
        data, offset + _NLMSGHDR.size)
    info = info_attribute(data, offset, length) if length > _INET_ATTRS_AT else None
    return InetRecord(family, state, PORT.unpack(sport)[0], PORT.unpack(dport)[0],
                      src, dst, rq, wq, uid, ino, info)


def info_attribute(data: bytes, offset: int, length: int) -> Optional[bytes]:
    """The INET_DIAG_INFO payload (struct tcp_info) of the inet message at
    ``offset`` (``length`` bytes), None if it has none."""
    at, end = offset + _INET_ATTRS_AT, offset + length
    unpack = _RTATTR.unpack_from  # this kernel puts 4 attributes before it
    while at + 4 <= end:
        attr_len, kind = unpack(data, at)
        if attr_len < 4:
            return None
        if kind == INET_DIAG_INFO:
            return data[at + 4:at + attr_len]
        at += (attr_len + 3) & ~3
    return None


def parse_unix(data: bytes, offset: int, length: int) -> UnixRecord:
    """The unix_diag_msg (with its attributes) of the message at ``offset``."""
    start = offset + _NLMSGHDR.size
    _family, kind, state, inode, _c0, _c1 = _UNIX_MSG.unpack_from(data, start)
    name = peer = rqueue = wqueue = None
    at = start + _UNIX_MSG.size
    end = offset + length
    while at + _RTATTR.size <= end:
        attr_len, attr = _RTATTR.unpack_from(data, at)
        if attr_len < _RTATTR.size:
            break
        value = at + _RTATTR.size
        if attr == UNIX_DIAG_NAME:
            name = data[value:at + attr_len]
        elif attr == UNIX_DIAG_PEER:
            peer = _U32.unpack_from(data, value)[0]
        elif attr == UNIX_DIAG_RQLEN:
            rqueue, wqueue = struct.unpack_from("=II", data, value)
        at += (attr_len + 3) & ~3
    return UnixRecord(inode, kind, state, name, peer, rqueue, wqueue)


def _parse_message(data: bytes, offset: int, length: int):
    if data[offset + _NLMSGHDR.size] == socket.AF_UNIX:
        return parse_unix(data, offset, length)
    return parse_inet(data, offset, length)


def parse_dump_chunks(chunks: Iterable[bytes], wanted: Optional[AbstractSet[int]]) -> Dict[int, object]:
    """The records of a dump, by inode; other inodes are skipped unread.

    Raises DiagError if the kernel answered the dump with an error.
    """
    found: Dict[int, object] = {}
    header = _NLMSGHDR.unpack_from
    for data in chunks:
        offset, size = 0, len(data)
        while offset + _NLMSGHDR.size <= size:
            length, kind, _flags, _seq, _pid = header(data, offset)
            if length < _NLMSGHDR.size:
                break
            if kind == SOCK_DIAG_BY_FAMILY:
                if data[offset + _NLMSGHDR.size] == socket.AF_UNIX:
                    inode = _U32.unpack_from(data, offset + _NLMSGHDR.size + 4)[0]
                else:
                    inode = _U32.unpack_from(data, offset + _INET_INODE_AT)[0]
                if wanted is None or inode in wanted:
                    found[inode] = _parse_message(data, offset, length)
            elif kind == NLMSG_ERROR:
                code = -_ERRNO.unpack_from(data, offset + _NLMSGHDR.size)[0]
                if code:
                    raise DiagError(code, "sock_diag dump")
            offset += (length + 3) & ~3
    return found


# The parts of an inet dump message that say whether it is wanted: netlink
# length and type, family, inode (its attributes, if any, skipped).
_INET_KEYS = struct.Struct("=IH10xB%dxI" % (_INET_INODE_AT - _NLMSGHDR.size - 1))
_DONE_HEADER = struct.Struct("=IH")
_INET_FAMILIES = frozenset((socket.AF_INET, socket.AF_INET6))

# The fields of one message of InetDump: netlink length and type, then
# family, state, sport and dport (raw big-endian bytes), src, dst (16 raw
# bytes), rqueue, wqueue, uid, inode.
InetFields = Tuple[int, int, int, int, bytes, bytes, bytes, bytes, int, int, int, int]


def _inet_positions(data, wanted: AbstractSet[int]) -> Dict[int, int]:
    """inode -> offset of the wanted inet messages in ``data`` (a dump's
    datagrams, one after the other).  Raises DiagError for an error answer.

    One unpack a message.  (Reading runs of equally long messages with
    Struct.iter_unpack was measured too: no faster on this kernel's dumps,
    where the attributes it adds vary from socket to socket.)
    """
    position: Dict[int, int] = {}
    keys, header = _INET_KEYS.unpack_from, _DONE_HEADER.unpack_from
    families, least = _INET_FAMILIES, _INET_KEYS.size
    offset, size = 0, len(data)
    while offset + _NLMSGHDR.size <= size:
        if size - offset >= least:
            length, kind, family, inode = keys(data, offset)
            if kind == SOCK_DIAG_BY_FAMILY and family in families and least <= length:
                if inode in wanted:
                    position[inode] = offset
                offset += (length + 3) & ~3
                continue
        else:
            length, kind = header(data, offset)
        if length < _NLMSGHDR.size:
            break
        if kind == NLMSG_ERROR:
            code = -_ERRNO.unpack_from(data, offset + _NLMSGHDR.size)[0]
            if code:
                raise DiagError(code, "sock_diag dump")
        offset += (length + 3) & ~3
    return position


class InetDump:
    """The messages of an inet dump that answer for ``wanted`` inodes.

    ``fields``: inode -> the message's InetFields (other inodes are never
    unpacked whole).  The fast form of parse_dump_chunks for dumps of a
    whole namespace (the same records, tests/unit/test_dump_columns.py).
    ``attributes(inode)`` reads the rtattrs that follow a wanted socket's
    inet_diag_msg (INET_DIAG_INFO...).  Raises DiagError if the kernel
    answered the dump with an error.
    """

    def __init__(self, chunks: Iterable[bytes], wanted: AbstractSet[int]) -> None:
        self.fields: Dict[int, InetFields] = {}
        self._places: List[Tuple[bytes, Dict[int, int]]] = []
        unpack = _HEADED_INET.unpack_from
        for data in chunks:
            position = _inet_positions(data, wanted)
            self.fields.update({inode: unpack(data, at) for inode, at in position.items()})
            self._places.append((data, position))

    def attributes(self, inode: int) -> Dict[int, bytes]:
        """The rtattrs after the inet_diag_msg of a wanted ``inode``: type -> payload."""
        for data, position in self._places:
            offset = position.get(inode)
            if offset is not None:
                break
        else:
            return {}
        out = {}
        at, end = offset + _HEADED_INET.size, offset + _U32.unpack_from(data, offset)[0]
        while at + _RTATTR.size <= end:
            attr_len, attr = _RTATTR.unpack_from(data, at)
            if attr_len < _RTATTR.size:
                break
            out[attr] = bytes(data[at + _RTATTR.size:at + attr_len])
            at += (attr_len + 3) & ~3
        return out


class DiagChannel:
    """A NETLINK_SOCK_DIAG socket in the network namespace of a process."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)

    @classmethod
    def open(cls, pid: int) -> "DiagChannel":
        """Raises DiagUnavailable when the namespace cannot be entered."""
        try:
            return cls(open_diag_socket(pid))
        except OSError as e:  # no AF_NETLINK or no sock_diag in this kernel
            raise DiagUnavailable("sock_diag: %s" % (e.strerror or e)) from None

    def netns_cookie(self) -> Optional[int]:
        """The cookie of the namespace this channel answers for (None: unknown)."""
        try:
            return struct.unpack("=Q", self.sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0]
        except OSError:
            return None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "DiagChannel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- exact requests -----------------------------------------------------

    def inet_exact(self, queries: Sequence[InetQuery]) -> List[Answer]:
        """One answer per query, in order (see ``Answer``)."""
        return self._exact([lambda seq, q=q: inet_request(seq, q) for q in queries])

    def unix_exact(self, inodes: Iterable[int]) -> Dict[int, UnixRecord]:
        """The UNIX sockets among ``inodes`` that the kernel knows, by inode."""
        inodes = list(inodes)
        answers = self._exact([lambda seq, i=i: unix_request(seq, i) for i in inodes])
        return {rec.inode: rec for rec in answers if isinstance(rec, UnixRecord)}

    def _exact(self, builders) -> List[Answer]:
        answers: List[Answer] = [None] * len(builders)
        pending = list(range(len(builders)))
        for attempt in range(2):
            batch_size = BATCH if attempt == 0 else 1
            for start in range(0, len(pending), batch_size):
                batch = pending[start:start + batch_size]
                # seq = index + 1: every answer names the request it answers.
                self.sock.send(b"".join(builders[i](i + 1) for i in batch))
                self._drain(answers)
            # Answers the kernel could not queue are asked again, one by one.
            pending = [i for i in pending if answers[i] is None]
            if not pending:
                break
        return answers

    def _drain(self, answers: List[Answer]) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                index = seq - 1
                if 0 <= index < len(answers):
                    if kind == SOCK_DIAG_BY_FAMILY:
                        answers[index] = _parse_message(data, offset, length)
                    elif kind == NLMSG_ERROR:
                        answers[index] = -_ERRNO.unpack_from(data, offset + _NLMSGHDR.size)[0]
                offset += (length + 3) & ~3

    # -- dumps --------------------------------------------------------------

    def dump_chunks(self, request: bytes) -> List[bytes]:
        """Send a dump request; every datagram of its answer, up to NLMSG_DONE.

        Only receives (the kernel does the work while gdb's Python may run
        elsewhere): parse_dump_chunks reads them.
        """
        self.sock.send(request)
        # Every datagram into one buffer: netlink messages never straddle
        # datagrams and each datagram is a whole number of aligned
        # messages, so the buffer reads as one stream of messages.
        buffer = bytearray(_RCVBUF)
        used = 0
        # The kernel always ends a dump; a timeout keeps gdb from hanging
        # should it not (socket.timeout is an OSError: the tables are read).
        self.sock.settimeout(DUMP_TIMEOUT)
        try:
            while True:
                if len(buffer) - used < _DATAGRAM:
                    buffer.extend(bytes(len(buffer)))
                with memoryview(buffer) as view:
                    got = self.sock.recv_into(view[used:], _DATAGRAM)
                    ended = _ends_dump(view[used:used + got])
                used += got
                if ended or not got:
                    return [bytes(buffer[:used])]
        finally:
            self.sock.settimeout(None)

    def inet_dump(self, family: int, protocol: int, wanted: Optional[AbstractSet[int]],
                  states: int = FD_STATES) -> Dict[int, InetRecord]:
        return parse_dump_chunks(self.dump_chunks(inet_dump_request(family, protocol, states)),
                                 wanted)

    def unix_dump(self, wanted: Optional[AbstractSet[int]]) -> Dict[int, UnixRecord]:
        return parse_dump_chunks(self.dump_chunks(unix_request(1, 0, NLM_F_DUMP)), wanted)


def _ends_dump(data) -> bool:
    """True if this datagram holds the end of a dump (DONE or an error).

    The dump thread asks this of every datagram, holding the GIL that the
    listing wants: a refusal (NLMSG_ERROR) comes alone and NLMSG_DONE is
    the last message of the last datagram, so only a datagram that starts
    with one or ends like one is walked.
    """
    size = len(data)
    if size >= _NLMSGHDR.size and _DONE_HEADER.unpack_from(data, 0)[1] in (NLMSG_DONE,
                                                                          NLMSG_ERROR):
        return True
    if size < 20 or _DONE_HEADER.unpack_from(data, size - 20) != (20, NLMSG_DONE):
        return False
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if kind in (NLMSG_DONE, NLMSG_ERROR) or length < _NLMSGHDR.size:
            return True
        offset += (length + 3) & ~3
    return False
