"""Abort one TCP or UDP socket from outside its process: SOCK_DESTROY, or a disconnect.

``SOCK_DESTROY`` (sock_diag message 21, ``ss -K``; kernels built with
CONFIG_INET_DIAG_DESTROY) names the socket by its exact 4-tuple *and* its
cookie (SO_COOKIE of a copy), so a 4-tuple reused by a new connection is
never hit: the kernel answers ENOENT.  It needs CAP_NET_ADMIN over the
socket's network namespace and must be sent from a netlink socket of that
namespace (netns.open_diag_socket).  TCP: tcp_abort, so a blocked reader
or writer fails with ECONNABORTED, the peer gets an RST (in the states
that need one) and the socket is closed for good while the fd stays open.
UDP: udp_abort, the same error for the reader, nothing to the peer.
UNIX and the others: EOPNOTSUPP.

The fallback, ``connect(AF_UNSPEC)`` on a copy (tcp_disconnect), needs no
privilege: it also sends an RST and the reader wakes with an error
(measured: EPIPE, then ECONNRESET), but the socket can be connected again.

Nothing here reads from the socket (see keepalive.py).  No gdb here.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import os
import socket
import struct
from typing import NamedTuple, Optional

from .libc import libc

SOCK_DESTROY = 21
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2
SO_COOKIE = 57
IPPROTO_TCP = 6
IPPROTO_UDP = 17
ALL_STATES = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")   # len, type, flags, seq, pid
# struct inet_diag_req_v2 (family, protocol, ext, pad, states) and its
# struct inet_diag_sockid: sport, dport (big endian), src[16], dst[16],
# if, cookie[2] (the low 32 bits first, as the kernel stores a u64 in it).
_REQ_HEAD = struct.Struct("=BBBBI")
_REQ_PORTS = struct.Struct("!HH")
_REQ_TAIL = struct.Struct("=III")
_ERRNO = struct.Struct("=i")


class Target(NamedTuple):
    """The socket to destroy: family, protocol, raw addresses (4 or 16
    bytes), ports, the device it is bound to (0: none) and its cookie."""

    family: int
    protocol: int
    local: bytes
    local_port: int
    peer: bytes
    peer_port: int
    cookie: int
    ifindex: int = 0


def destroy_request(seq: int, target: Target) -> bytes:
    """The SOCK_DESTROY message for ``target``, asking for an ACK.

    Unlike the UDP *lookup* (sockdiag.inet_request swaps the ends), the
    destroy handlers of TCP and UDP both take the socket's own end as
    "src" (net/ipv4/udp_diag.c __udp_diag_destroy looks up dst -> src).
    """
    body = (_REQ_HEAD.pack(target.family, target.protocol, 0, 0, ALL_STATES)
            + _REQ_PORTS.pack(target.local_port, target.peer_port)
            + target.local.ljust(16, b"\0") + target.peer.ljust(16, b"\0")
            + _REQ_TAIL.pack(target.ifindex, target.cookie & 0xFFFFFFFF,
                             (target.cookie >> 32) & 0xFFFFFFFF))
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DESTROY,
                          NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def parse_ack(data: bytes, seq: int) -> Optional[int]:
    """The errno of the ACK for request ``seq`` in ``data`` (0: done), None if absent."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, got_seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        if kind == NLMSG_ERROR and got_seq == seq and length >= _NLMSGHDR.size + _ERRNO.size:
            return -_ERRNO.unpack_from(data, offset + _NLMSGHDR.size)[0]
        offset += (length + 3) & ~3
    return None


def send_destroy(diag: socket.socket, target: Target, seq: int = 1,
                 timeout: float = 5.0) -> int:
    """Send SOCK_DESTROY on the sock_diag socket ``diag``: the kernel's errno (0: done).

    ``diag`` must belong to the socket's network namespace.  The kernel
    handles the request inside send(), so the ACK is already queued; the
    timeout only guards against a reply that never comes (-1 then).
    """
    diag.send(destroy_request(seq, target))
    diag.settimeout(timeout)
    try:
        while True:
            try:
                data = diag.recv(1 << 16)
            except socket.timeout:
                return -1
            code = parse_ack(data, seq)
            if code is not None:
                return code
    finally:
        diag.settimeout(None)


def cookie(fd: int) -> Optional[int]:
    """SO_COOKIE of the socket ``fd`` (a copy), None if the kernel does not say."""
    value = ctypes.c_uint64()
    size = ctypes.c_uint32(8)
    if libc().getsockopt(fd, socket.SOL_SOCKET, SO_COOKIE, ctypes.byref(value),
                       ctypes.byref(size)) != 0 or size.value != 8:
        return None
    return value.value


def disconnect(fd: int) -> int:
    """connect(fd, AF_UNSPEC) on a copy (tcp_disconnect / udp_disconnect): 0 or errno."""
    address = struct.pack("=H14x", socket.AF_UNSPEC)
    if libc().connect(fd, address, len(address)) != 0:
        return ctypes.get_errno()
    return 0


def errno_name(code: int) -> str:
    return errno_module.errorcode.get(code, "errno %d" % code)


def strerror(code: int) -> str:
    return "%s: %s" % (errno_name(code), os.strerror(code))
