"""What sock-shutdown decides and says: pure logic, no gdb.

Choosing the sockets, refusing what must be refused before the process is
touched, and turning a raw result (return value, errno, the socket's row
before and after) into the lines the user reads.
"""

from __future__ import annotations

import errno as errno_module
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..kernel import procfs
from ..errors import SocketsError
from ..model import Socket
from .notes import holder_text, waiter_text
from .render import escape, format_endpoint

# Sockets that inet_shutdown accepts in state CLOSE (unconnected) with ENOTCONN.
DATAGRAM_INET = frozenset({"udp", "udp6", "udplite", "udplite6", "raw", "raw6", "ping", "ping6"})

# shutdown(2)'s "how", by the word the user types.
HOW = {"read": 0, "write": 1, "both": 2}
HOW_NAMES = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}


def parse_how(command: str, text: Optional[str]) -> int:
    if text is None:
        return HOW["both"]
    how = HOW.get(text.lower())
    if how is None:
        raise SocketsError("%s: unknown direction %r; use read, write or both"
                           % (command, text))
    return how


def refuse_unless_socket(command: str, reader, pid: int, fd: int) -> None:
    """Refuse an fd that is not open or is not a socket, saying what it is."""
    link = procfs.read_fd_link(reader, pid, fd)
    if link is None:
        raise SocketsError("%s: fd %d is not open in process %d (see 'info sockets')"
                           % (command, fd, pid))
    if link.socket_inode is None:
        raise SocketsError("%s: fd %d is not a socket (%s)" % (command, fd, escape(link.target)))


def errno_text(code: int) -> str:
    """ENOTCONN: Transport endpoint is not connected."""
    name = errno_module.errorcode.get(code, "errno %d" % code)
    return "%s: %s" % (name, os.strerror(code))


@dataclass
class Outcome:
    """One shutdown: what was asked, what the kernel said, what changed."""

    fd: int
    how: int
    method: str
    before: Socket
    retval: Optional[int] = None
    errno: Optional[int] = None
    after: Optional[Socket] = None
    failure: Optional[str] = None  # the call itself failed (crash, timeout)
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and (self.retval == 0 or self.applied_unconnected)

    @property
    def applied_unconnected(self) -> bool:
        """ENOTCONN from a datagram socket that was never connected.

        inet_shutdown returns ENOTCONN for a socket in state CLOSE but still
        marks it shut down and wakes its readers: the shutdown worked.
        """
        return (self.retval == -1 and self.errno == errno_module.ENOTCONN
                and self.before.state == "UNCONN" and self.before.proto in DATAGRAM_INET)

    @property
    def already_shut(self) -> bool:
        return (self.retval == -1 and self.errno == errno_module.ENOTCONN
                and not self.applied_unconnected)

    def to_json(self) -> Dict[str, object]:
        return {
            "fd": self.fd, "how": HOW_NAMES[self.how], "method": self.method,
            "retval": self.retval,
            "errno": errno_module.errorcode.get(self.errno) if self.errno else None,
            "ok": self.ok, "failure": self.failure,
            "before": self.before.to_json(),
            "after": self.after.to_json() if self.after is not None else None,
        }


def describe_socket(sock: Socket) -> str:
    """'tcp 127.0.0.1:41796 -> 127.0.0.1:8080' (or just the local end)."""
    if not sock.in_table:
        return "%s (in no kernel table: unbound, or already shut and closed)" % sock.proto
    local = format_endpoint(sock.local)
    peer = sock.peer
    if peer is None or format_endpoint(peer) in ("*", "*:*", "?", "-"):
        return "%s %s" % (sock.proto, local)
    return "%s %s -> %s" % (sock.proto, local, format_endpoint(peer))


def _state_text(sock: Optional[Socket]) -> str:
    if sock is None:
        return "gone (the fd is no longer open)"
    if not sock.in_table:
        return "%s (no longer in the kernel's table)" % sock.state
    return sock.state


def report(outcome: Outcome) -> List[str]:
    """The lines sock-shutdown prints for one socket."""
    before = outcome.before
    fd = outcome.fd
    call = "shutdown(%d, %s)" % (fd, HOW_NAMES[outcome.how])
    lines = []
    if outcome.after is None or outcome.after.state != before.state:
        lines.append("fd %d: %s: %s -> %s" % (fd, describe_socket(before), before.state,
                                               _state_text(outcome.after)))
    else:
        lines.append("fd %d: %s: %s (state unchanged)" % (fd, describe_socket(before),
                                                          before.state))
    via = " [method: %s]" % outcome.method
    if outcome.failure is not None:
        lines.append("%s did not complete: %s%s" % (call, outcome.failure, via))
    elif outcome.retval == 0:
        lines.append("%s = 0; %s%s" % (call, _what_next(outcome), via))
    elif outcome.applied_unconnected:
        lines.append("%s = -1, %s: fd %d was never connected, but the kernel marked it shut "
                     "down all the same; %s%s" % (call, errno_text(outcome.errno), fd,
                                                  _what_next(outcome), via))
    elif outcome.already_shut:
        lines.append("%s = -1, %s: fd %d was already shut down (or never connected)%s"
                     % (call, errno_text(outcome.errno), fd, via))
    else:
        lines.append("%s = %d, %s%s" % (call, outcome.retval,
                                        errno_text(outcome.errno or 0), via))
    lines.extend("note: %s" % note for note in outcome.notes)
    return lines


def _what_next(outcome: Outcome) -> str:
    fd = outcome.fd
    waiting = [waiter_text(w) for w in outcome.before.extra.get("waiters", [])]
    if outcome.before.state == "LISTEN" and outcome.how == 1:
        return ("no effect on a listening socket: it still accepts (only read or both "
                "stop accept())")
    if outcome.before.state == "LISTEN":
        text = "fd %d accepts no more connections (accept() fails with EINVAL)" % fd
    elif outcome.how == 1:
        return "the peer reads end-of-file; reads on fd %d still work" % fd
    else:
        text = "a reader blocked on fd %d wakes when the process resumes" % fd
    if waiting:
        text += "; waiting now: " + ", ".join(waiting)
    return text


def holder_lines(sock: Socket) -> List[str]:
    """Who else is affected: shutdown acts on the socket, not on one fd."""
    lines = []
    if sock.extra.get("also_fds"):
        lines.append("    also fd %s of this process (the same socket)"
                     % ",".join(str(fd) for fd in sock.extra["also_fds"]))
    lines.extend("    also open in %s: it is shut down there too" % holder_text(h)
                 for h in sock.extra.get("holders", []))
    return lines


def plan_lines(targets: Sequence[Socket], how: int) -> List[str]:
    """What would be shut down, a line per socket and who else it touches
    (for the confirmation and -dry-run)."""
    lines = []
    for s in targets:
        lines.append("  fd %d: %s %s -> shutdown(%d, %s)" % (
            s.fd, describe_socket(s), s.state, s.fd, HOW_NAMES[how]))
        lines.extend(holder_lines(s))
    return lines


def shared_elsewhere(targets: Sequence[Socket]) -> bool:
    """True when another process holds one of these sockets."""
    return any(s.extra.get("holders") for s in targets)
