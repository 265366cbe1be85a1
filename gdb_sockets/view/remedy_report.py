"""What sock-timeout and sock-kill decide and say: pure logic, no gdb, no I/O.

- which sockets each command refuses, and why, before anything is touched;
- the keepalive and TCP_USER_TIMEOUT values for SECONDS, and when at the
  latest the kernel gives up on a peer that answers nothing, from the rules
  quoted in kernel/keepalive.py and the socket's own silence (TCP_INFO);
- the lines and JSON of each outcome, with the command that puts the old
  values back.
"""

from __future__ import annotations

import errno as errno_module
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..errors import SocketsError
from ..kernel.keepalive import MAX_COUNT, MAX_IDLE, MAX_INTERVAL, Keepalive
from ..model import Silence, Socket
from . import options
from .predict import (POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
                      words)
from .render import duration_text

TCP = frozenset({"tcp", "tcp6"})
UDP = frozenset({"udp", "udp6"})
# States whose connection the kernel can time out: keepalive runs in the
# established and closing states, TCP_USER_TIMEOUT also ends SYN and FIN
# retransmissions (TIME-WAIT sockets have no fd).
TIMEOUT_STATES = frozenset({"ESTAB", "SYN-SENT", "SYN-RECV", "CLOSE-WAIT", "FIN-WAIT-1",
                            "FIN-WAIT-2", "LAST-ACK", "CLOSING"})
KILL_TCP_STATES = TIMEOUT_STATES
PROBES = 3
MAX_SECONDS = 86400

_DURATION = re.compile(r"([0-9]{1,6})([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_seconds(text: str) -> int:
    """SECONDS as typed: a whole number of seconds, or with a unit (90s, 5m, 2h)."""
    match = _DURATION.fullmatch(text.strip().lower())
    value = int(match.group(1)) * _UNIT[match.group(2)] if match else 0
    if not match or not 1 <= value <= MAX_SECONDS:
        raise SocketsError("%r is not a time; give whole seconds from 1 to %d, or "
                           "minutes or hours such as 5m, 2h" % (text, MAX_SECONDS))
    return value


def settings_for(seconds: int) -> Keepalive:
    """Keepalive and user timeout so that a silent peer is dropped within ``seconds``.

    The user timeout is ``seconds``, and idle + PROBES x interval adds up to
    it, the usual rule (a probe every quarter: idle 15, 3 probes 15 s apart
    for a minute).  For a socket already silent longer than the user
    timeout, the kernel gives up once the first probe is unanswered for an
    interval (see ``give_up``).
    """
    interval = max(1, seconds // (PROBES + 1))
    idle = max(1, seconds - PROBES * interval)
    return Keepalive(True, min(idle, MAX_IDLE), min(interval, MAX_INTERVAL),
                     min(PROBES, MAX_COUNT), seconds * 1000)


@dataclass(frozen=True)
class GiveUp:
    """When the kernel gives up on a peer that answers nothing from now on.

    ``seconds`` from now at the latest (None: never, or not known), and
    the sentence saying what decides it.
    """

    seconds: Optional[float]
    reason: str


def _secs(value: float) -> str:
    return "%g s" % round(value, 1) if value < 120 else duration_text(value * 1000)


def give_up(settings: Keepalive, silence: Optional[Silence], send_queue: int = 0) -> GiveUp:
    """The kernel's rules (kernel/keepalive.py) applied to this socket now.

    With data waiting (``send_queue`` bytes not yet acknowledged, or
    segments in flight), keepalive does not run: retransmissions, or
    zero-window probes when the peer's window is shut, go on, and the user
    timeout ends them once the peer has answered nothing for that long,
    checked when their timer fires (about every rto).  Otherwise
    keepalive: the first probe is due ``max(idle - silence, 0)`` from now,
    then one every interval; without a user timeout the kernel gives up
    when ``count`` probes are unanswered, with one when the silence has
    reached it and a probe is out.
    """
    user = settings.user_timeout_ms / 1000.0
    if silence is None:
        return GiveUp(None, "the socket's TCP_INFO is not known")
    heard = silence.since_heard_ms / 1000.0
    if silence.unacked or send_queue:
        waiting = ("%d bytes waiting to be sent or acknowledged" % send_queue if send_queue
                   else "%d segment%s unacknowledged" % (silence.unacked, _s(silence.unacked)))
        if not user:
            return GiveUp(None, "%s: retransmissions go on until tcp_retries2 runs out"
                          % waiting)
        rto = silence.rto_ms / 1000.0
        latest = max(user - heard, 0.0) + rto
        return GiveUp(latest, "%s: ended once the peer has answered nothing for %s "
                      "(retransmissions or zero-window probes, about every %s)"
                      % (waiting, _secs(user), _secs(rto)))
    if not settings.enabled:
        return GiveUp(None, "keepalive is off: an idle connection is never probed")
    first = max(settings.idle - heard, 0.0)
    if not user:
        latest = first + settings.count * settings.interval
        return GiveUp(latest, "%d probe%s %s apart, the first %s" % (
            settings.count, _s(settings.count), _secs(settings.interval), _when(first)))
    # With a user timeout: the first tick after a probe at which the socket
    # has been silent that long.
    ticks = max(1, math.ceil((user - heard - first) / settings.interval - 1e-9))
    latest = first + ticks * settings.interval
    if heard >= user:
        reason = ("silent %s already, past the %s user timeout: the first probe, sent %s, "
                  "decides" % (duration_text(silence.since_heard_ms), _secs(user),
                               _when(first)))
    else:
        reason = ("a probe every %s, the first %s, until the peer has been silent %s "
                  "(the user timeout)" % (_secs(settings.interval), _when(first), _secs(user)))
    return GiveUp(latest, reason)


def _when(delay: float) -> str:
    return "at once" if delay <= 0 else "in %s" % _secs(delay)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# --------------------------------------------------------------------------
# Refusals


def timeout_refusal(sock: Socket) -> Optional[str]:
    """Why sock-timeout cannot act on ``sock`` (None: it can)."""
    if sock.proto not in TCP:
        if sock.proto == "unix":
            return ("a UNIX socket has no keepalive or user timeout: its peer is a process of "
                    "this host (use sock-shutdown)")
        return ("keepalive and TCP_USER_TIMEOUT are TCP's; %s has no way to judge its peer"
                % sock.proto)
    if sock.state == "LISTEN":
        return "a listening socket has no peer to time out"
    if sock.state not in TIMEOUT_STATES:
        return "it is not connected (state %s)" % sock.state
    return None


def kill_refusal(sock: Socket) -> Optional[str]:
    """Why sock-kill cannot act on ``sock`` (None: it can)."""
    if sock.proto == "unix":
        return ("the kernel aborts only TCP and UDP sockets (SOCK_DESTROY answers EOPNOTSUPP "
                "for UNIX); use sock-shutdown")
    if sock.proto in TCP:
        if sock.state == "LISTEN":
            return "a listening socket has no peer to reset (use sock-shutdown)"
        if sock.state not in KILL_TCP_STATES:
            return "it is not connected (state %s)" % sock.state
        return None
    if sock.proto in UDP:
        if not sock.in_table:
            return "it is not bound: it is in no table, and nothing waits on it for data"
        return None
    return "only TCP and UDP sockets can be aborted, not %s" % sock.proto


# --------------------------------------------------------------------------
# Outcomes


def errno_text(code: int) -> str:
    return "%s: %s" % (errno_module.errorcode.get(code, "errno %d" % code), os.strerror(code))


@dataclass
class TimeoutOutcome:
    """One sock-timeout: the values before and after, and when the kernel gives up."""

    fd: int
    before: Socket
    old: Optional[Keepalive] = None
    new: Optional[Keepalive] = None
    silence: Optional[Silence] = None
    give_up: Optional[GiveUp] = None
    failure: Optional[str] = None
    # How the user runs sock-timeout again (the command line's own words there).
    command: str = "sock-timeout"

    @property
    def ok(self) -> bool:
        return self.failure is None and self.new is not None

    def to_json(self) -> Dict[str, object]:
        return {
            "fd": self.fd, "ok": self.ok, "failure": self.failure,
            "before": self.before.to_json(),
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
            "last_recv_ms": self.silence.last_recv_ms if self.silence else None,
            "last_send_ms": self.silence.last_send_ms if self.silence else None,
            "last_ack_ms": self.silence.last_ack_ms if self.silence else None,
            "gives_up_within_s": (round(self.give_up.seconds, 3)
                                  if self.give_up and self.give_up.seconds is not None else None),
            "gives_up_because": self.give_up.reason if self.give_up else None,
            "restore": restore_command(self.fd, self.old, self.command) if self.old else None,
        }


def settings_text(settings: Keepalive) -> str:
    """'keepalive on, idle 15s, 3 probes 15s apart, user timeout 60000ms'."""
    return "keepalive %s, idle %ds, %d probe%s %ds apart, user timeout %s" % (
        "on" if settings.enabled else "off", settings.idle, settings.count, _s(settings.count),
        settings.interval, "%dms" % settings.user_timeout_ms if settings.user_timeout_ms
        else "0 (none)")


def restore_command(fd: int, old: Keepalive, command: str = "sock-timeout") -> str:
    """The sock-timeout command that puts ``old`` back on ``fd``."""
    return "%s -keepalive %s -idle %d -interval %d -count %d -user-timeout %d %d" % (
        command, "on" if old.enabled else "off", old.idle, old.interval, old.count,
        old.user_timeout_ms, fd)


@dataclass
class KillOutcome:
    """One sock-kill: which way ran, what the kernel answered, what changed."""

    fd: int
    before: Socket
    way: Optional[str] = None        # "SOCK_DESTROY" or "disconnect"
    errno: Optional[int] = None      # the kernel's answer (0: done)
    cookie: Optional[int] = None
    fallback_reason: Optional[str] = None  # why SOCK_DESTROY did not run
    after: Optional[Socket] = None
    failure: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.errno == 0

    def to_json(self) -> Dict[str, object]:
        return {
            "fd": self.fd, "ok": self.ok, "way": self.way, "cookie": self.cookie,
            "errno": errno_module.errorcode.get(self.errno) if self.errno else None,
            "fallback_reason": self.fallback_reason, "failure": self.failure,
            "before": self.before.to_json(),
            "after": self.after.to_json() if self.after is not None else None,
        }


# --------------------------------------------------------------------------
# Words


def exact_settings(given: Dict[str, List[str]]) -> Keepalive:
    """The Keepalive that -keepalive, -idle, -interval, -count, -user-timeout
    give (all five, each once: the restore line prints them so)."""
    names = ("keepalive", "idle", "interval", "count", "user-timeout")
    missing = [n for n in names if not given.get(n)]
    if missing:
        raise SocketsError("give all of -keepalive -idle -interval -count -user-timeout "
                           "(as the restore line prints them), or SECONDS; missing: %s"
                           % ", ".join("-" + n for n in missing))
    values = {}
    for name in names:
        if len(given[name]) > 1:
            raise SocketsError("give -%s once" % name)
        values[name] = given[name][0]
    if values["keepalive"].lower() not in ("on", "off"):
        raise SocketsError("-keepalive %r: give on or off" % values["keepalive"])
    limits = {"idle": (1, MAX_IDLE), "interval": (1, MAX_INTERVAL), "count": (1, MAX_COUNT),
              "user-timeout": (0, 2**31 - 1)}
    numbers = {}
    for name, (low, high) in limits.items():
        text = values[name]
        if not re.fullmatch(r"[0-9]{1,10}", text) or not low <= int(text) <= high:
            raise SocketsError("-%s %r: give a whole number from %d to %d"
                               % (name, text, low, high))
        numbers[name] = int(text)
    return Keepalive(values["keepalive"].lower() == "on", numbers["idle"], numbers["interval"],
                     numbers["count"], numbers["user-timeout"])


def _waiting(sock: Socket) -> str:
    waiters = ["LWP %d %s" % (w.lwp, w.syscall) + (" (%s)" % w.detail if w.detail else "")
               for w in sock.waiters]
    return "; waiting now: " + ", ".join(waiters) if waiters else ""


def silence_text(silence: Optional[Silence]) -> str:
    """'silent 8h02m (data received 8h02m ago, sent 8h02m ago, last ACK 1.2s ago)'."""
    if silence is None:
        return "silence unknown"
    return "silent %s (data received %s ago, sent %s ago, last ACK %s ago)" % (
        duration_text(silence.last_recv_ms), duration_text(silence.last_recv_ms),
        duration_text(silence.last_send_ms), duration_text(silence.last_ack_ms))


def timeout_lines(outcome: TimeoutOutcome, dry_run: bool = False,
                  held: bool = True) -> List[str]:
    """The lines sock-timeout prints for one socket (``held``: gdb holds the
    process stopped; the kernel's timers run all the same)."""
    sock = outcome.before
    head = "fd %d: %s %s" % (outcome.fd, describe(sock), sock.state)
    if outcome.old is None:
        return [head + ": %s" % outcome.failure]
    lines = [head + ", " + silence_text(outcome.silence),
             "  was: " + settings_text(outcome.old)]
    if outcome.new is None:
        lines.append("  not set: %s" % outcome.failure)
    else:
        lines.append("  %s: %s" % ("would be" if dry_run else "now", settings_text(outcome.new)))
        found = outcome.give_up
        if found is not None and found.seconds is not None:
            lines.append("  if the peer answers nothing, the kernel drops the connection within "
                         "%s (%s); then a thread blocked on fd %d fails with ETIMEDOUT%s%s"
                         % (_secs(found.seconds), found.reason, outcome.fd,
                            " (once the process runs)" if held else "", _waiting(sock)))
        elif found is not None:
            lines.append("  the kernel will not give up: %s" % found.reason)
    if not dry_run:
        lines.append("  to put the old values back: " + restore_command(outcome.fd, outcome.old,
                                                                   outcome.command))
    return lines


def describe(sock: Socket) -> str:
    """'tcp 10.0.0.1:41796 -> 10.0.0.2:8080' (as sock-shutdown says it)."""
    from .shutdown_report import describe_socket
    return describe_socket(sock)


@dataclass(frozen=True)
class Confirmation:
    lines: List[str]
    question: str


def confirmation(verb: str, pid: int, chosen) -> Optional[Confirmation]:
    """Several sockets, or one other processes hold too: say so and ask
    (the rule of sock-shutdown).  ``verb``: "set a timeout on", "abort"."""
    shared = [s for s in chosen if s.holders]
    if len(chosen) <= 1 and not shared:
        return None
    count = "%d socket%s" % (len(chosen), _s(len(chosen)))
    lines = ["About to %s %s of process %d:" % (verb, count, pid)]
    lines.extend("  fd %d: %s %s" % (s.fd, describe(s), s.state) for s in chosen)
    if shared:
        lines.append("Other processes hold the same socket: it changes for them too.")
    question = "%s %s? " % (verb[0].upper() + verb[1:], count)
    return Confirmation(lines, question)


# What a thread waiting on the socket meets after each way (measured on
# Linux 6.18, notes/issue15.md): SOCK_DESTROY is tcp_abort/udp_abort (the
# error once, then end-of-file; writes then fail with EPIPE and SIGPIPE);
# the disconnect is tcp_disconnect: a thread held stopped (gdb attached)
# reads ECONNRESET when it resumes; one blocked in recv() while it ran got
# EPIPE, then ECONNRESET.
_AFTER = {
    ("SOCK_DESTROY", "tcp"): ("fails with ECONNABORTED", "then reads return 0 and writes "
                              "fail with EPIPE (and SIGPIPE)"),
    ("SOCK_DESTROY", "udp"): ("fails with ECONNABORTED", "the socket is no longer connected"),
    ("disconnect", "tcp"): ("fails with ECONNRESET", "the socket is no longer connected"),
    ("disconnect", "tcp", "running"): ("fails with EPIPE, then ECONNRESET",
                                       "the socket is no longer connected"),
}


def kill_plan_lines(pid: int, outcomes) -> List[str]:
    """What sock-kill -dry-run prints: the way each socket would be aborted."""
    lines = ["Would abort in process %d:" % pid]
    for o in outcomes:
        if o.failure:
            way = o.failure
        elif o.way == "SOCK_DESTROY":
            way = "SOCK_DESTROY (cookie %d)" % o.cookie
        else:
            way = "connect(AF_UNSPEC) on a copy (%s)" % o.fallback_reason
        lines.append("  fd %d: %s %s -> %s" % (o.fd, describe(o.before), o.before.state, way))
    lines.append("(dry run: nothing done)")
    return lines


_POLLERS = frozenset({"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
                      "epoll_pwait2", "restart_syscall"})
# What the socket polls ready for after each way (measured on Linux 6.18
# with poll(2), /work/notes/issue14.md): a destroyed TCP socket for
# everything, a destroyed UDP socket for error and write, a disconnected
# TCP socket for error and hang-up (and write, as before).  A poller
# whose interest holds none of these goes on waiting.
_KILL_READY = {
    ("SOCK_DESTROY", "tcp"): (POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM
                              | POLLERR | POLLHUP),
    ("SOCK_DESTROY", "udp"): POLLERR | POLLOUT | POLLWRNORM,
    ("disconnect", "tcp"): POLLERR | POLLHUP | POLLOUT | POLLWRNORM,
}


def kill_lines(outcome: KillOutcome, held: bool = True) -> List[str]:
    """The lines sock-kill prints for one socket."""
    sock = outcome.before
    after = outcome.after
    if after is None:
        state = "gone (the fd is no longer open)"
    elif not after.in_table:
        state = "%s (no longer in the kernel's table)" % after.state
    else:
        state = after.state
    lines = ["fd %d: %s: %s -> %s" % (outcome.fd, describe(sock), sock.state, state)]
    if outcome.way is None:
        lines.append("  nothing done: %s" % outcome.failure)
        return lines
    call = ("SOCK_DESTROY (cookie %d)" % outcome.cookie if outcome.way == "SOCK_DESTROY"
            else "connect(AF_UNSPEC) on a copy")
    if outcome.fallback_reason:
        lines.append("  note: %s; the disconnect runs instead" % outcome.fallback_reason)
    if not outcome.ok:
        lines.append("  %s: %s" % (call, outcome.failure or errno_text(outcome.errno or 0)))
        return lines
    kind = "tcp" if sock.proto in TCP else "udp"
    told = "the peer was sent a reset" if kind == "tcp" else "UDP tells the peer nothing"
    lines.append("  %s = 0: %s; fd %d stays open" % (call, told, outcome.fd))
    first, then = _AFTER.get((outcome.way, kind, "held" if held else "running"),
                             _AFTER[(outcome.way, kind)])
    when = " when the process resumes" if held else ""
    for w in sock.waiters:
        who = "LWP %d %s" % (w.lwp, w.syscall) + (" (%s)" % w.detail if w.detail else "")
        if w.syscall in _POLLERS:
            lines.append("  %s: %s" % (who, _poller_after(w, outcome, kind, when, first, then)))
        else:
            lines.append("  %s: %s%s; %s" % (who, first, when, then))
    if not sock.waiters:
        lines.append("  no thread waits on fd %d now; the next call on it %s; %s"
                     % (outcome.fd, first, then))
    lines.extend("  note: %s" % note for note in outcome.notes)
    return lines


def _poller_after(waiter, outcome: KillOutcome, kind: str, when: str, first: str,
                  then: str) -> str:
    """What a thread in poll, select or epoll on the aborted socket does next."""
    fd = outcome.fd
    if waiter.interest is None:
        return "not predicted: what it waits for could not be read"
    raised = _KILL_READY[(outcome.way, kind)]
    ready = waiter.interest & raised
    if not ready:
        asked = waiter.interest & ~(POLLERR | POLLHUP)
        way = "SOCK_DESTROY" if outcome.way == "SOCK_DESTROY" else "the disconnect"
        return ("goes on waiting: it waits on fd %d for %s, and %s makes it ready for %s only"
                % (fd, words(asked) if asked else "errors", way, words(raised)))
    return ("returns with fd %d ready (%s)%s, and the next call on it %s; %s"
            % (fd, words(ready), when, first, then))


# --------------------------------------------------------------------------
# The requests, for the gdb commands and the command line alike

TIMEOUT_EXACT = ("keepalive", "idle", "interval", "count", "user-timeout")
SOCK_TIMEOUT_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG,
                            **{"dry-run": options.FLAG},
                            **{name: options.VALUE for name in TIMEOUT_EXACT})
SOCK_KILL_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG, **{"dry-run": options.FLAG})


def timeout_request(parsed: "options.Parsed", usage: str):
    """(selection, Keepalive wanted) from sock-timeout's arguments, or SocketsError.

    ``usage`` is the command's usage line ("sock-timeout FD... SECONDS").
    """
    args = list(parsed.args)
    given = [name for name in TIMEOUT_EXACT if parsed.values(name)]
    if given:
        wanted = exact_settings({name: parsed.values(name) for name in given})
    else:
        if not args:
            raise SocketsError("give FD... SECONDS; usage: %s" % usage)
        wanted = settings_for(parse_seconds(args.pop()))
    selection = options.build_filter(parsed, args)
    if selection.fds is None and not selection.selects_by_property:
        raise SocketsError("which socket? give an fd (see 'info sockets') or a filter such "
                           "as -state estab; usage: %s" % usage)
    return selection, wanted


def kill_request(parsed: "options.Parsed", usage: str):
    """The selection sock-kill's arguments describe, or SocketsError."""
    selection = options.build_filter(parsed, parsed.args)
    if selection.fds is None and not selection.selects_by_property:
        raise SocketsError("which socket? give an fd (see 'info sockets') or a filter "
                           "such as -peer 10.0.0.2:443; usage: %s" % usage)
    return selection


def timeout_failure(outcomes) -> Optional[str]:
    """The error sock-timeout ends with, or None when every socket was set."""
    failed = ["fd %d: %s" % (o.fd, o.failure) for o in outcomes if not o.ok]
    return "failed: " + "; ".join(failed) if failed else None


def kill_failure(outcomes) -> Optional[str]:
    """The error sock-kill ends with, or None when every socket was aborted."""
    failed = ["fd %d: %s" % (o.fd, o.failure or errno_text(o.errno or 0))
              for o in outcomes if not o.ok]
    return "failed: " + "; ".join(failed) if failed else None
