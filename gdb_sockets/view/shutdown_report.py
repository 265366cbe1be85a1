"""What sock-shutdown says: the plan, the confirmation, and the report of each outcome.

Pure: the lines the user reads, from the records and the Outcomes
(actions/outcome.py); which requests need confirmation first.  No gdb, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..actions.outcome import HOW, HOW_NAMES, Outcome, errno_text
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
    if outcome.process_ended is not None:
        lines.append("fd %d: %s: %s, then the process ended (%s)" % (
            fd, describe_socket(before), before.state, outcome.process_ended))
    elif outcome.connection_state is not None:
        lines.append("fd %d: %s: %s -> %s (the connection, in the kernel's table with no fd; "
                     "fd %d's own socket is closed)" % (fd, describe_socket(before),
                                                        before.state, outcome.connection_state,
                                                        fd))
    elif outcome.after is None or outcome.after.state != before.state:
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
    if outcome.failure is None and (outcome.retval == 0 or outcome.applied_unconnected):
        for p in outcome.predictions:
            lines.extend(prediction_lines([p]))
            if p.lwp in outcome.checks:
                lines.append("    %s" % outcome.checks[p.lwp])
    lines.extend("note: %s" % note for note in outcome.notes)
    return lines


def _what_next(outcome: Outcome) -> str:
    """What the shutdown means for the socket, and who waits on it now (the
    prediction for each of them follows on lines of its own)."""
    fd = outcome.fd
    waiting = [waiter_text(w) for w in outcome.before.waiters]
    if outcome.before.state == "LISTEN" and outcome.how == 1:
        text = ("no effect on a listening socket: it still accepts (only read or both "
                "stop accept())")
    elif outcome.before.state == "LISTEN":
        text = "fd %d accepts no more connections (accept() fails with EINVAL)" % fd
    elif outcome.how == 1:
        text = "the peer reads end-of-file; reads on fd %d still work" % fd
    elif waiting and outcome.stopped:
        return "waiting now: " + ", ".join(waiting)
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


def prediction_lines(predictions: Sequence) -> List[str]:
    """'  predicted: LWP 7 write: fails with EPIPE, ...', one per waiting thread."""
    return ["  predicted: %s" % p.text for p in predictions]


def holder_lines(sock: Socket) -> List[str]:
    """Who else is affected: shutdown acts on the socket, not on one fd."""
    lines = []
    if sock.also_fds:
        lines.append("    also fd %s of this process (the same socket)"
                     % ",".join(str(fd) for fd in sock.also_fds))
    lines.extend("    also open in %s: it is shut down there too" % holder_text(h)
                 for h in sock.holders or ())
    return lines


def plan_lines(targets: Sequence[Socket], how: int,
               forecasts: Optional[Dict[int, Sequence]] = None) -> List[str]:
    """What would be shut down, a line per socket, who else it touches and
    what each waiting thread would do (for the confirmation and -dry-run)."""
    lines = []
    for s in targets:
        lines.append("  fd %d: %s %s -> shutdown(%d, %s)" % (
            s.fd, describe_socket(s), s.state, s.fd, HOW_NAMES[how]))
        lines.extend(holder_lines(s))
        lines.extend("  " + line for line in prediction_lines((forecasts or {}).get(s.fd, ())))
    return lines


@dataclass(frozen=True)
class Harm:
    """Predictions that would kill the process or make it spin: why the
    shutdown needs -force (or a yes at a terminal), and what avoids it."""

    lines: List[str]
    question: str
    refusal: str


def harm(chosen: Sequence[Socket], how: int, forecasts: Dict[int, Sequence],
         safer: Dict[int, Optional[int]]) -> Optional[Harm]:
    """The harm predicted for ``chosen`` shut down with ``how``, or None.

    ``forecasts``: fd -> its Predictions; ``safer``: fd -> a direction
    (predict.safer_how) that harms nobody, or None.
    """
    harmful = [(s, [p for p in forecasts.get(s.fd, ()) if p.harm]) for s in chosen]
    harmful = [(s, found) for s, found in harmful if found]
    if not harmful:
        return None
    lines, reasons, ways = [], [], []
    for sock, found in harmful:
        for p in found:
            lines.append("fd %d: %s" % (sock.fd, p.text))
            reasons.append("fd %d: %s" % (sock.fd, p.text))
        other = safer.get(sock.fd)
        if other is not None:
            word = {v: k for k, v in HOW.items()}[other]
            # Said in no front end's spelling: gdb and the command line both print it.
            ways.append("shutting down only '%s' on fd %d avoids that" % (word, sock.fd))
        else:
            ways.append("no direction of shutdown on fd %d avoids that" % sock.fd)
    kinds = sorted({p.harm for _, found in harmful for p in found})
    what = " and ".join({"kill": "kill the process", "spin": "make it spin"}[k] for k in kinds)
    lines.append("This is predicted to %s; %s." % (what, "; ".join(ways)))
    refusal = ("refused: %s; %s; give -force to shut down anyway; nothing done"
               % ("; ".join(reasons), "; ".join(ways)))
    return Harm(lines, "Shut down anyway? ", refusal)


def shared_elsewhere(targets: Sequence[Socket]) -> bool:
    """True when another process holds one of these sockets."""
    return any(s.holders for s in targets)


@dataclass(frozen=True)
class Confirmation:
    """What to say before acting, and the question to ask."""

    lines: List[str]
    question: str


def confirmation(pid: int, chosen: Sequence[Socket], how: int,
                 forecasts: Optional[Dict[int, Sequence]] = None) -> Optional[Confirmation]:
    """What must be confirmed before shutting ``chosen`` down, or None.

    Several sockets, a listener shut down for reading (SHUT_WR does nothing
    to it: it would go on accepting) and a socket other processes hold
    touch more than the one fd the user may have in mind.
    """
    listeners = [s for s in chosen if s.state == "LISTEN"] if how != 1 else []
    shared = shared_elsewhere(chosen)
    if len(chosen) <= 1 and not listeners and not shared:
        return None
    if len(chosen) > GROUP_FROM:
        lines = ["About to shut down %d sockets in process %d:" % (len(chosen), pid)]
        lines += group_lines(chosen)
        lines.append("(-dry-run lists each one and what its threads would do)")
    else:
        lines = ["About to shut down in process %d:" % pid] + plan_lines(chosen, how, forecasts)
    if listeners:
        lines.append("A listening socket accepts no more connections, for good.")
    if shared:
        lines.append("Other processes hold the same socket and lose it too.")
    question = "Shut down %d socket%s? " % (len(chosen), "s" if len(chosen) > 1 else "")
    return Confirmation(lines, question)


# Past this many sockets the confirmation counts them by state and peer.
GROUP_FROM = 10


def group_lines(chosen: Sequence[Socket], top: int = 5) -> List[str]:
    """'  99 CLOSE-WAIT: 98 with peer 127.0.0.1:6379, 1 with peer [::1]:6379',
    a line per state (most sockets first), its peers most frequent first."""
    states: Dict[str, Dict[str, int]] = {}
    for s in chosen:
        peer = format_endpoint(s.peer) if s.in_table and s.peer is not None else "-"
        peers = states.setdefault(s.state, {})
        peers[peer] = peers.get(peer, 0) + 1
    lines = []
    for state, peers in sorted(states.items(), key=lambda item: (-sum(item[1].values()),
                                                                 item[0])):
        ranked = sorted(peers.items(), key=lambda item: (-item[1], item[0]))
        parts = ["%d with peer %s" % (n, peer) for peer, n in ranked[:top]]
        if len(ranked) > top:
            parts.append("%d with %d other peers" % (sum(n for _, n in ranked[top:]),
                                                     len(ranked) - top))
        lines.append("  %d %s: %s" % (sum(peers.values()), state, ", ".join(parts)))
    return lines


def summary_line(outcomes: Sequence[Outcome], wanted: int) -> str:
    """'99 shut down, 0 failed' (and how many were not attempted)."""
    done = sum(1 for o in outcomes if o.ok)
    text = "%d shut down, %d failed" % (done, len(outcomes) - done)
    if len(outcomes) < wanted:
        text += ", %d not attempted" % (wanted - len(outcomes))
    return text


def failure_summary(outcomes: Sequence[Outcome], wanted: int) -> Optional[str]:
    """Why the command fails ("fd 4: ENOTCONN: ...; 1 not attempted..."), or
    None when every one of the ``wanted`` sockets was shut down."""
    failed = [o for o in outcomes if not o.ok]
    if not failed and len(outcomes) == wanted:
        return None
    if outcomes and outcomes[-1].interrupted:
        done = sum(1 for o in outcomes if o.ok)
        return ("interrupted: %d done, %d not attempted (fd %d was being shut down: see "
                "'info sockets %d'); run the same command again to finish"
                % (done, wanted - len(outcomes), outcomes[-1].fd, outcomes[-1].fd))
    parts = []
    for o in failed:
        if o.failure:
            parts.append("fd %d: %s" % (o.fd, o.failure))
        elif o.already_shut:
            parts.append("fd %d: already shut down" % o.fd)
        else:
            parts.append("fd %d: %s" % (o.fd, errno_text(o.errno or 0)))
    if len(outcomes) < wanted:
        parts.append("%d not attempted after that failure; run the same command again to "
                     "retry them" % (wanted - len(outcomes)))
    return "failed: " + "; ".join(parts)
