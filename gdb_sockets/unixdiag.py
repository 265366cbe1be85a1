"""UNIX socket peers and queues from the kernel's sock_diag netlink interface.

/proc/net/unix has neither the peer of a socket nor its queues; ss gets
them from sock_diag (linux/unix_diag.h) and so do we, with the stdlib's
AF_NETLINK.  A netlink socket answers for the network namespace it was
created in, so for a target in another namespace the socket is created by
a short-lived thread that has entered that namespace with setns(2).
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Dict, Iterable, Optional

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
CLONE_NEWNET = 0x40000000

UDIAG_SHOW_NAME = 0x1
UDIAG_SHOW_PEER = 0x4
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_NAME = 0
UNIX_DIAG_PEER = 2
UNIX_DIAG_RQLEN = 4
NOCOOKIE = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")          # len, type, flags, seq, pid
_UNIX_DIAG_REQ = struct.Struct("=BBHIIIII")  # family, proto, pad, states, ino, show, cookie[2]
_UNIX_DIAG_MSG = struct.Struct("=BBBBIII")   # family, type, state, pad, ino, cookie[2]
_RTATTR = struct.Struct("=HH")               # len, type

# Requests per send: each answer takes about 1 KiB of the receive buffer,
# and an answer that does not fit is dropped by the kernel.
_BATCH = 64


@dataclass(frozen=True)
class UnixDiag:
    """What sock_diag says of one UNIX socket."""

    inode: int
    state: int
    peer: Optional[int]
    name: Optional[bytes]
    rqueue: Optional[int]
    wqueue: Optional[int]


class DiagUnavailable(Exception):
    """sock_diag cannot be used for this target (namespace or permission)."""


def _netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def open_diag_socket(pid: int) -> socket.socket:
    """A NETLINK_SOCK_DIAG socket in the network namespace of ``pid``."""
    try:
        same = _netns_inode("/proc/self/ns/net") == _netns_inode("/proc/%d/ns/net" % pid)
    except OSError as e:
        raise DiagUnavailable("cannot read the network namespace of process %d: %s"
                              % (pid, e.strerror)) from None
    if same:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    return _socket_in_netns(pid)


def _socket_in_netns(pid: int) -> socket.socket:
    # setns(CLONE_NEWNET) moves only the calling thread, so a throwaway
    # thread enters the namespace, creates the socket and ends; gdb's own
    # threads never change namespace.
    result: dict = {}

    def enter_and_create() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            ns_fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            result["error"] = "cannot open /proc/%d/ns/net: %s" % (pid, e.strerror)
            return
        try:
            if libc.setns(ns_fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                result["error"] = "cannot enter the network namespace of process %d: %s" % (
                    pid, os.strerror(err))
                return
            result["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                           NETLINK_SOCK_DIAG)
        finally:
            os.close(ns_fd)

    thread = threading.Thread(target=enter_and_create, name="gdb_sockets-netns")
    thread.start()
    thread.join()
    if "sock" not in result:
        raise DiagUnavailable(result.get("error", "sock_diag unavailable"))
    return result["sock"]


def _request(seq: int, flags: int, inode: int, show: int) -> bytes:
    body = _UNIX_DIAG_REQ.pack(socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, show,
                               NOCOOKIE, NOCOOKIE)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | flags, seq, 0) + body


def _parse_message(payload: bytes) -> UnixDiag:
    _family, _type, state, _pad, inode, _c0, _c1 = _UNIX_DIAG_MSG.unpack_from(payload)
    peer = name = rqueue = wqueue = None
    offset = _UNIX_DIAG_MSG.size
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        data = payload[offset + _RTATTR.size: offset + length]
        if kind == UNIX_DIAG_PEER:
            peer = struct.unpack_from("=I", data)[0]
        elif kind == UNIX_DIAG_NAME:
            name = data
        elif kind == UNIX_DIAG_RQLEN:
            rqueue, wqueue = struct.unpack_from("=II", data)
        offset += (length + 3) & ~3
    return UnixDiag(inode, state, peer, name, rqueue, wqueue)


def _receive(sock: socket.socket, into: Dict[int, UnixDiag], want_done: bool) -> None:
    """Read answers until NLMSG_DONE (dump) or until the socket is drained."""
    while True:
        try:
            data = sock.recv(1 << 16, 0 if want_done else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                return
            payload = data[offset + _NLMSGHDR.size: offset + length]
            offset += (length + 3) & ~3
            if kind == NLMSG_DONE:
                return
            if kind == NLMSG_ERROR:
                continue  # ENOENT: that socket is gone; the others still answer
            if kind == SOCK_DIAG_BY_FAMILY:
                record = _parse_message(payload)
                into[record.inode] = record


def lookup(sock: socket.socket, inodes: Iterable[int]) -> Dict[int, UnixDiag]:
    """sock_diag records for the given inodes, asked one by one.

    The kernel answers an exact request synchronously while it handles the
    send, so each batch's answers are already queued when send returns.
    """
    found: Dict[int, UnixDiag] = {}
    show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN
    pending = sorted(set(inodes))
    for start in range(0, len(pending), _BATCH):
        batch = pending[start:start + _BATCH]
        sock.send(b"".join(_request(i + 1, 0, ino, show) for i, ino in enumerate(batch)))
        _receive(sock, found, want_done=False)
    return found


def dump(sock: socket.socket) -> Dict[int, UnixDiag]:
    """Every UNIX socket of the namespace: one request, one pass."""
    found: Dict[int, UnixDiag] = {}
    sock.send(_request(1, NLM_F_DUMP, 0, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN))
    _receive(sock, found, want_done=True)
    return found


def name_to_path(name: Optional[bytes]) -> Optional[str]:
    """A sun_path as /proc/net/unix prints it: abstract names start with '@'."""
    if not name:
        return None
    if name[:1] == b"\0":
        name = b"@" + name[1:].replace(b"\0", b"@")
    else:
        name = name.split(b"\0", 1)[0]
    return name.decode("utf-8", "surrogateescape")


def query(pid: int, inodes: Iterable[int], dump_above: int = 512) -> Dict[int, UnixDiag]:
    """Records for ``inodes`` and for their peers, in the target's namespace.

    Few sockets are asked for one by one (cost follows the target); past
    ``dump_above`` one dump of the namespace is cheaper than many requests.
    Raises DiagUnavailable when the namespace cannot be entered.
    """
    inodes = set(inodes)
    sock = open_diag_socket(pid)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        if len(inodes) > dump_above:
            return dump(sock)
        found = lookup(sock, inodes)
        peers = {d.peer for d in found.values() if d.peer} - set(found)
        found.update(lookup(sock, peers))
        return found
    finally:
        sock.close()
