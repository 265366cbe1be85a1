"""What one shutdown did: the request, the kernel's answer, the socket before and after.

Plain data and the words for shutdown(2)'s arguments and errno.  No gdb, no I/O.
"""

from __future__ import annotations

import errno as errno_module
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..errors import SocketsError
from ..model import Socket

# Sockets that inet_shutdown accepts in state CLOSE (unconnected) with ENOTCONN.
DATAGRAM_INET = frozenset({"udp", "udp6", "udplite", "udplite6", "raw", "raw6", "ping", "ping6"})

# shutdown(2)'s "how", by the word the user types.
HOW = {"read": 0, "write": 1, "both": 2}
HOW_NAMES = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}


def parse_how(text: Optional[str]) -> int:
    """shutdown(2)'s "how" for the word the user typed (None: both)."""
    if text is None:
        return HOW["both"]
    how = HOW.get(text.lower())
    if how is None:
        raise SocketsError("unknown direction %r; use read, write or both" % (text,))
    return how


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
    interrupted: bool = False  # by Ctrl-C: the rest were not attempted
    # The connection's state in a table row of no fd (TIME-WAIT) when the
    # fd's own socket left the table; None otherwise.
    connection_state: Optional[str] = None
    # lwp -> the check of its prediction against the socket right after the
    # act (view/predict.check), where one could be made.
    checks: Dict[int, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    stopped: bool = True  # a debugger holds the process: nothing moves until it resumes
    # How a process that ran on ended right after the act ("killed by SIGPIPE").
    process_ended: Optional[str] = None
    # view/predict.py Predictions: what each waiting thread does on resume.
    predictions: List[Any] = field(default_factory=list)

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
            "connection_state": self.connection_state,
            "process_ended": self.process_ended,
            "predictions": [dict(p.to_json(), checked=self.checks.get(p.lwp))
                            for p in self.predictions],
        }
