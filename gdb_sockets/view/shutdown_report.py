"""What sock-shutdown says: the plan, the confirmation, and the report of each outcome.

Pure: the lines the user reads, from the records and the Outcomes
(actions/outcome.py); which requests need confirmation first.  No gdb, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..actions.outcome import HOW_NAMES, Outcome, errno_text
from ..model import Socket
from .notes import holder_text, waiter_text
from .render import format_endpoint

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
    waiting = [waiter_text(w) for w in outcome.before.waiters]
    if outcome.before.state == "LISTEN" and outcome.how == 1:
        return ("no effect on a listening socket: it still accepts (only read or both "
                "stop accept())")
    if outcome.before.state == "LISTEN":
        text = "fd %d accepts no more connections (accept() fails with EINVAL)" % fd
    elif outcome.how == 1:
        return "the peer reads end-of-file; reads on fd %d still work" % fd
    elif outcome.stopped:
        text = "a reader blocked on fd %d wakes when the process resumes" % fd
    else:
        text = "a reader blocked on fd %d wakes at once" % fd
    if waiting:
        # A process that runs on was read before the act: the notes say
        # what each of these threads did after it.
        text += "; %s: %s" % ("waiting now" if outcome.stopped else "waiting just before",
                              ", ".join(waiting))
    return text


def holder_lines(sock: Socket) -> List[str]:
    """Who else is affected: shutdown acts on the socket, not on one fd."""
    lines = []
    if sock.also_fds:
        lines.append("    also fd %s of this process (the same socket)"
                     % ",".join(str(fd) for fd in sock.also_fds))
    lines.extend("    also open in %s: it is shut down there too" % holder_text(h)
                 for h in sock.holders or ())
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
    return any(s.holders for s in targets)


@dataclass(frozen=True)
class Confirmation:
    """What to say before acting, and the question to ask."""

    lines: List[str]
    question: str


def confirmation(pid: int, chosen: Sequence[Socket], how: int) -> Optional[Confirmation]:
    """What must be confirmed before shutting ``chosen`` down, or None.

    Several sockets, a listener shut down for reading (SHUT_WR does nothing
    to it: it would go on accepting) and a socket other processes hold
    touch more than the one fd the user may have in mind.
    """
    listeners = [s for s in chosen if s.state == "LISTEN"] if how != 1 else []
    shared = shared_elsewhere(chosen)
    if len(chosen) <= 1 and not listeners and not shared:
        return None
    lines = ["About to shut down in process %d:" % pid] + plan_lines(chosen, how)
    if listeners:
        lines.append("A listening socket accepts no more connections, for good.")
    if shared:
        lines.append("Other processes hold the same socket and lose it too.")
    question = "Shut down %d socket%s? " % (len(chosen), "s" if len(chosen) > 1 else "")
    return Confirmation(lines, question)


def failure_summary(outcomes: Sequence[Outcome], wanted: int) -> Optional[str]:
    """Why the command fails ("fd 4: ENOTCONN: ...; 1 not attempted..."), or
    None when every one of the ``wanted`` sockets was shut down."""
    failed = [o for o in outcomes if not o.ok]
    if not failed and len(outcomes) == wanted:
        return None
    parts = []
    for o in failed:
        if o.failure:
            parts.append("fd %d: %s" % (o.fd, o.failure))
        elif o.already_shut:
            parts.append("fd %d: already shut down" % o.fd)
        else:
            parts.append("fd %d: %s" % (o.fd, errno_text(o.errno or 0)))
    if len(outcomes) < wanted:
        parts.append("%d not attempted after that failure" % (wanted - len(outcomes)))
    return "failed: " + "; ".join(parts)
