"""Keepalive and TCP_USER_TIMEOUT of a TCP socket, read and set on a copy.

A ``pidfd_getfd`` copy is the target's socket itself (same inode): options
set on it act on the target's socket, and its already blocked ``recv()``
fails with ETIMEDOUT once the kernel gives up on a silent peer
(shared/design.md, "Sockets seen from outside the process").  Only
getsockopt/setsockopt of the options below are used: nothing is read from
the socket, and SO_ERROR is never asked (it would consume an error the
program has not seen yet).

The kernel's rules (net/ipv4/tcp_timer.c, tcp.c; Linux 6.x):

- SO_KEEPALIVE on arms the keepalive timer for TCP_KEEPIDLE from now,
  but only if it was off; TCP_KEEPIDLE set while keepalive is on re-arms
  it for ``idle - silence`` (at once when the socket has been silent
  longer).  ``apply`` turns keepalive on first, then sets the idle time,
  so the first probe goes out ``max(idle - silence, 0)`` from now either
  way.  "Silence" is the time since the last segment came in
  (keepalive_time_elapsed: the smaller of tcpi_last_data_recv and
  tcpi_last_ack_recv).
- At each tick, with unacknowledged data the timer only re-arms (the
  retransmission timer is in charge); otherwise, if the socket has been
  silent for at least the idle time: without a user timeout it gives up
  once TCP_KEEPCNT probes are unanswered; with one, once the silence has
  reached it and a probe is out.  Else it sends a probe and waits
  TCP_KEEPINTVL.  Giving up sends a reset and reports ETIMEDOUT.
- TCP_USER_TIMEOUT also ends retransmissions (unacknowledged data, a FIN
  in FIN-WAIT-1/LAST-ACK/CLOSING) that have gone unanswered that long.
- Keepalive runs in no state but ESTAB, CLOSE-WAIT, FIN-WAIT-1/2,
  CLOSING, LAST-ACK (not SYN-SENT, CLOSE or LISTEN).

No gdb here.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
from dataclasses import dataclass
from typing import Optional

SO_KEEPALIVE = 9
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_USER_TIMEOUT = 18
TCP_INFO = 11

# The kernel's limits (include/net/tcp.h MAX_TCP_KEEPIDLE, KEEPINTVL, KEEPCNT).
MAX_IDLE = 32767
MAX_INTERVAL = 32767
MAX_COUNT = 127

# struct tcp_info (linux/tcp.h): 8 u8 fields (state, ca_state, retransmits,
# probes, backoff, options, wscale, flags), then u32 rto, ato, snd_mss,
# rcv_mss, unacked, sacked, lost, retrans, fackets, last_data_sent,
# last_ack_sent, last_data_recv, last_ack_recv (ms ago).
_TCP_INFO_HEAD = struct.Struct("=8B13I")
_INT = struct.Struct("=i")
# A sock_diag answer: netlink header (16 bytes), struct inet_diag_msg (72),
# then attributes (struct rtattr: u16 len, u16 type, payload padded to 4).
INET_DIAG_INFO = 2
_DIAG_ATTRS_AT = 16 + 72
_RTATTR = struct.Struct("=HH")


@dataclass(frozen=True)
class Keepalive:
    """A TCP socket's keepalive settings: seconds, probes, user timeout in ms."""

    enabled: bool
    idle: int
    interval: int
    count: int
    user_timeout_ms: int

    def to_json(self) -> dict:
        return {"keepalive": self.enabled, "idle_s": self.idle, "interval_s": self.interval,
                "count": self.count, "user_timeout_ms": self.user_timeout_ms}


@dataclass(frozen=True)
class Silence:
    """From TCP_INFO: the state, ms since data was last received and sent and
    since the last ACK came in, and the unacknowledged segments."""

    state: int
    last_recv_ms: int
    last_send_ms: int
    last_ack_ms: int
    unacked: int
    probes: int
    retransmits: int
    rto_ms: int = 0

    @property
    def since_heard_ms(self) -> int:
        """The kernel's keepalive_time_elapsed: since any segment came in."""
        return min(self.last_recv_ms, self.last_ack_ms)


def parse_tcp_info(raw: bytes) -> Optional[Silence]:
    """The silence figures of a struct tcp_info (from getsockopt or INET_DIAG_INFO)."""
    if len(raw) < _TCP_INFO_HEAD.size:
        return None
    fields = _TCP_INFO_HEAD.unpack_from(raw)
    state, _ca, retransmits, probes = fields[:4]
    rto_us, unacked = fields[8], fields[8 + 4]
    last_data_sent, _last_ack_sent, last_data_recv, last_ack_recv = fields[8 + 9:8 + 13]
    return Silence(state, last_data_recv, last_data_sent, last_ack_recv, unacked, probes,
                   retransmits, rto_us // 1000)


_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


# Raw getsockopt/setsockopt on the copy, not a Python socket object over
# it: socket(fileno=...) sets O_NONBLOCK when a default timeout is in
# force, and the copy shares its open file description (and so its flags)
# with the target's fd.
def silence_from_diag(data: bytes, offset: int, length: int) -> Optional[Silence]:
    """The silence figures of the INET_DIAG_INFO attribute of the sock_diag
    message at ``offset`` (``length`` bytes), None if it has none."""
    at, end = offset + _DIAG_ATTRS_AT, offset + length
    while at + _RTATTR.size <= end:
        attr_len, kind = _RTATTR.unpack_from(data, at)
        if attr_len < _RTATTR.size:
            return None
        if kind == INET_DIAG_INFO:
            return parse_tcp_info(data[at + _RTATTR.size:at + attr_len])
        at += (attr_len + 3) & ~3
    return None


def _get_int(fd: int, level: int, name: int) -> int:
    value = ctypes.c_int()
    size = ctypes.c_uint32(ctypes.sizeof(value))
    if _c().getsockopt(fd, level, name, ctypes.byref(value), ctypes.byref(size)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return value.value


def _set_int(fd: int, level: int, name: int, value: int) -> None:
    raw = ctypes.c_int(value)
    if _c().setsockopt(fd, level, name, ctypes.byref(raw), ctypes.sizeof(raw)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _get_bytes(fd: int, level: int, name: int, size: int) -> Optional[bytes]:
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    if _c().getsockopt(fd, level, name, buf, ctypes.byref(length)) != 0:
        return None
    return buf.raw[:length.value]


def read(fd: int) -> Keepalive:
    """The keepalive settings of the TCP socket ``fd`` (OSError as the kernel says)."""
    tcp = socket.IPPROTO_TCP
    return Keepalive(enabled=bool(_get_int(fd, socket.SOL_SOCKET, SO_KEEPALIVE)),
                     idle=_get_int(fd, tcp, TCP_KEEPIDLE),
                     interval=_get_int(fd, tcp, TCP_KEEPINTVL),
                     count=_get_int(fd, tcp, TCP_KEEPCNT),
                     user_timeout_ms=_get_int(fd, tcp, TCP_USER_TIMEOUT))


def silence(fd: int) -> Optional[Silence]:
    """TCP_INFO's silence figures for the TCP socket ``fd`` (None if refused)."""
    raw = _get_bytes(fd, socket.IPPROTO_TCP, TCP_INFO, _TCP_INFO_HEAD.size)
    return parse_tcp_info(raw) if raw else None


def apply(fd: int, wanted: Keepalive) -> Keepalive:
    """Set ``wanted`` on the TCP socket ``fd``; return what the kernel then reports.

    Order matters (see the module's docstring): keepalive on first, then
    the idle time, so the first probe is due ``max(idle - silence, 0)``
    from now whatever the socket had before.  Turning keepalive off comes
    last, after the values it would use are put back.  Raises OSError
    (EINVAL for a value out of range) with nothing after it set.
    """
    tcp = socket.IPPROTO_TCP
    if wanted.enabled:
        _set_int(fd, socket.SOL_SOCKET, SO_KEEPALIVE, 1)
    _set_int(fd, tcp, TCP_KEEPIDLE, wanted.idle)
    _set_int(fd, tcp, TCP_KEEPINTVL, wanted.interval)
    _set_int(fd, tcp, TCP_KEEPCNT, wanted.count)
    _set_int(fd, tcp, TCP_USER_TIMEOUT, wanted.user_timeout_ms)
    if not wanted.enabled:
        _set_int(fd, socket.SOL_SOCKET, SO_KEEPALIVE, 0)
    return read(fd)
