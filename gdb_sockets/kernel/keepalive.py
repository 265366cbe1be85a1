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
- At each tick, with data unacknowledged or waiting to be sent (a shut
  window) the timer only re-arms (the retransmission or zero-window probe
  timer is in charge); otherwise, if the socket has been
  silent for at least the idle time: without a user timeout it gives up
  once TCP_KEEPCNT probes are unanswered; with one, once the silence has
  reached it and a probe is out.  Else it sends a probe and waits
  TCP_KEEPINTVL.  Giving up sends a reset and reports ETIMEDOUT.
- TCP_USER_TIMEOUT also ends retransmissions (unacknowledged data, a FIN
  in FIN-WAIT-1/LAST-ACK/CLOSING) and zero-window probes that have gone
  unanswered that long (measured: a writer facing a shut window got
  ETIMEDOUT, notes/issue15.md).
- Keepalive runs in no state but ESTAB, CLOSE-WAIT, FIN-WAIT-1/2,
  CLOSING, LAST-ACK (not SYN-SENT, CLOSE or LISTEN).

No gdb here.
"""

from __future__ import annotations

import ctypes
import os
import socket
from dataclasses import dataclass
from typing import Optional

from ..model import Silence
from .libc import libc
from .sockopt import TCP_INFO, TCP_INFO_SIZE, parse_silence

SO_KEEPALIVE = 9
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_USER_TIMEOUT = 18

# The kernel's limits (include/net/tcp.h MAX_TCP_KEEPIDLE, KEEPINTVL, KEEPCNT).
MAX_IDLE = 32767
MAX_INTERVAL = 32767
MAX_COUNT = 127


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


# Raw getsockopt/setsockopt on the copy, not a Python socket object over
# it: socket(fileno=...) sets O_NONBLOCK when a default timeout is in
# force, and the copy shares its open file description (and so its flags)
# with the target's fd.
def _get_int(fd: int, level: int, name: int) -> int:
    value = ctypes.c_int()
    size = ctypes.c_uint32(ctypes.sizeof(value))
    if libc().getsockopt(fd, level, name, ctypes.byref(value), ctypes.byref(size)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return value.value


def _set_int(fd: int, level: int, name: int, value: int) -> None:
    raw = ctypes.c_int(value)
    if libc().setsockopt(fd, level, name, ctypes.byref(raw), ctypes.sizeof(raw)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _get_bytes(fd: int, level: int, name: int, size: int) -> Optional[bytes]:
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    if libc().getsockopt(fd, level, name, buf, ctypes.byref(length)) != 0:
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
    raw = _get_bytes(fd, socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_SIZE)
    return parse_silence(raw) if raw else None


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
