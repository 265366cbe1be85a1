"""What each waiting thread does when the process resumes after an action on a socket.

Pure: no gdb, no I/O.  Two inputs, joined by ``predict``:

- an ``Effect``: what the action does to the socket, as a waiting thread
  meets it (which poll bits it raises, what a blocked read, write or
  accept returns).  ``shutdown_effect`` builds it for shutdown(2); another
  action (a reset, for sock-kill) builds its own ``Effect`` and reuses
  everything else.
- a ``Wait`` per thread: the call it is blocked in and, for poll, select
  and epoll, the poll bits that end its wait (``poll_interest``,
  ``select_interest``, ``epoll_interest`` turn the call's own arguments
  into them), the flags of a send, and what SIGPIPE does to it.

The result is a ``Prediction``: a ``kind`` from ``KINDS``, ``harm``
("kill", "spin" or None) and one sentence that names the thread, the call
and the fd.

Every rule here was measured on this kernel (6.18, Debian 12; see
/work/notes/issue13.md): poll masks before and after shutdown per socket
kind, and what a blocked read, write or accept returned in a child with
SIGPIPE at its default action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from ..kernel.signals import SIGPIPE

# include/uapi/asm-generic/poll.h (epoll uses the same bits).
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP = 0x1, 0x2, 0x4, 0x8, 0x10
POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND = 0x40, 0x80, 0x100, 0x200
POLLRDHUP = 0x2000
EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 29, 1 << 30, 1 << 31
_EPOLL_FLAGS = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET

# fs/select.c: which poll bits mark an fd in each of select's three sets.
SELECT_READ = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
SELECT_WRITE = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
SELECT_EXCEPT = POLLPRI

_READABLE = POLLIN | POLLRDNORM | POLLRDBAND | POLLRDHUP | POLLHUP | POLLERR
_WRITABLE = POLLOUT | POLLWRNORM | POLLWRBAND

MSG_NOSIGNAL = 0x4000

KINDS = (
    "eof",             # a read returns end-of-file
    "epipe",           # a write fails with EPIPE and SIGPIPE does not end the process
    "sigpipe-caught",  # a write fails with EPIPE and SIGPIPE runs the program's handler
    "sigpipe-kills",   # a write fails with EPIPE and SIGPIPE kills the process
    "fails",           # the call fails with an error (accept: EINVAL)
    "wakes",           # the call returns, nothing known to fail
    "no-wake",         # the call goes on waiting: the action makes nothing it waits for ready
    "spins",           # an event loop sees the fd ready on every call and cannot clear it
    "unknown",         # nothing measured for this call or socket
)
HARM = {"sigpipe-kills": "kill", "spins": "spin"}

_READERS = {"read", "readv", "recvfrom", "recvmsg", "recvmmsg"}
_WRITERS = {"write", "writev", "sendto", "sendmsg", "sendmmsg"}
_SENDS_FLAGS = {"sendto": 3, "sendmsg": 2, "sendmmsg": 3}  # argument index of flags
_ACCEPTS = {"accept", "accept4"}
_MASKED_WAITS = {"ppoll", "pselect6", "epoll_pwait", "epoll_pwait2"}
_POLLERS = {"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
            "epoll_pwait2", "restart_syscall"}


def send_flags_arg(call: str) -> Optional[int]:
    """Which argument of ``call`` holds its MSG_* flags (sendto, sendmsg, sendmmsg)."""
    return _SENDS_FLAGS.get(call)


def poll_interest(events: int) -> int:
    """The bits that end a poll() waiting for ``events``: the kernel adds
    POLLERR and POLLHUP to every entry (fs/select.c do_pollfd)."""
    return (events & 0xffff) | POLLERR | POLLHUP


def select_interest(read: bool, write: bool, urgent: bool) -> int:
    """The bits that end a select() with the fd in these sets."""
    return ((SELECT_READ if read else 0) | (SELECT_WRITE if write else 0)
            | (SELECT_EXCEPT if urgent else 0))


def epoll_interest(events: int) -> int:
    """The bits that end an epoll_wait for a registration (fdinfo's
    ``events:``, where the kernel already added EPOLLERR and EPOLLHUP)."""
    return events & ~_EPOLL_FLAGS & 0xffffffff


def words(bits: int) -> str:
    """'read', 'write', 'urgent', 'hang-up'... for the sentences."""
    out = []
    if bits & (POLLIN | POLLRDNORM | POLLRDBAND):
        out.append("read")
    if bits & _WRITABLE:
        out.append("write")
    if bits & POLLPRI:
        out.append("urgent data")
    if bits & POLLRDHUP:
        out.append("peer close")
    if bits & POLLHUP:
        out.append("hang-up")
    if bits & POLLERR:
        out.append("error")
    return ", ".join(out) if out else "nothing"


@dataclass(frozen=True)
class Effect:
    """What an action does to one socket, as a thread waiting on it meets it.

    ``raised``: the poll bits the socket reports from now on that it did
    not before (a blocked poller waits for none of the old ones).
    ``read``: what a blocked read returns: "eof", an errno name, or None
    (it goes on waiting).  ``write``: the errno a blocked write fails with,
    or None (unaffected).  ``write_sigpipe``: whether that blocked write
    also raises SIGPIPE; ``later_sigpipe``: whether a later write (one a
    poller makes when it wakes) does.  ``accept``: the errno a blocked
    accept fails with, for good, or None.  ``action``: how sentences name
    the action ("shutdown(3, SHUT_RD)").  ``known`` False: nothing was
    measured for this socket; every prediction is "unknown".
    """

    action: str
    raised: int = 0
    read: Optional[str] = None
    write: Optional[str] = None
    write_sigpipe: bool = False
    later_sigpipe: bool = False
    accept: Optional[str] = None
    accept_polled: Optional[str] = None  # what a non-blocking accept gets (an event loop's)
    known: bool = True


_HOW_NAMES = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
# States in which the kernel has already shut one direction: the peer's FIN
# shut reading (CLOSE-WAIT, LAST-ACK, CLOSING), our own shutdown(WR) or
# close shut writing (FIN-WAIT-*, LAST-ACK, CLOSING).  Shutting the other
# direction makes it SHUTDOWN_MASK, which raises POLLHUP.
_READ_SHUT_STATES = {"CLOSE-WAIT", "LAST-ACK", "CLOSING"}
_WRITE_SHUT_STATES = {"FIN-WAIT-1", "FIN-WAIT-2", "LAST-ACK", "CLOSING"}
_INET_DATAGRAM = {"udp", "udp6", "udplite", "udplite6", "raw", "raw6", "ping", "ping6"}


def socket_kind(proto: str, unix_type: Optional[str]) -> str:
    """'tcp', 'unix-stream', 'unix-seqpacket', 'unix-dgram', 'datagram' or
    'other', from the listing's proto and (for unix) type."""
    if proto in ("tcp", "tcp6"):
        return "tcp"
    if proto == "unix" and unix_type in ("stream", "seqpacket", "dgram"):
        return "unix-" + unix_type
    if proto in _INET_DATAGRAM:
        return "datagram"
    return "other"


def shutdown_effect(fd: int, kind: str, state: str, how: int) -> Effect:
    """What shutdown(fd, how) does to a socket of this kind (``socket_kind``)
    in this state (ss's word).  Measured per kind (issue13.md):

    - a TCP listener, SHUT_RD or SHUT_RDWR: the kernel disconnects it
      (state CLOSE): it polls POLLOUT|POLLHUP for good, accept() fails with
      EINVAL.  SHUT_WR: nothing at all.
    - a UNIX listener: polls POLLIN|POLLRDHUP (and POLLHUP for SHUT_RDWR)
      for good; a blocking accept() fails with EINVAL (EAGAIN when
      non-blocking).
    - reading shut (SHUT_RD, SHUT_RDWR): POLLIN|POLLRDHUP, a blocked read
      returns 0.
    - writing shut: a blocked write fails with EPIPE.  TCP raises SIGPIPE
      for it; UNIX stream raises none for the write that was blocked but
      does for any later write; seqpacket and datagram sockets never do.
      TCP and datagram sockets poll writable from then on; a full UNIX
      socket does not.
    - both directions shut: POLLHUP as well.
    """
    action = "shutdown(%d, %s)" % (fd, _HOW_NAMES.get(how, str(how)))
    reading, writing = how in (0, 2), how in (1, 2)
    if kind == "other" or state in ("SYN-SENT", "SYN-RECV") or how not in _HOW_NAMES:
        return Effect(action, known=False)
    if state == "LISTEN":
        if not reading:
            return Effect(action)
        if kind == "tcp":
            return Effect(action, raised=POLLOUT | POLLWRNORM | POLLHUP, accept="EINVAL",
                          accept_polled="EINVAL")
        if kind in ("unix-stream", "unix-seqpacket"):
            return Effect(action, raised=POLLIN | POLLRDNORM | POLLRDHUP
                          | (POLLHUP if how == 2 else 0), accept="EINVAL",
                          accept_polled="EAGAIN")
        return Effect(action, known=False)
    raised = 0
    if reading:
        raised |= POLLIN | POLLRDNORM | POLLRDHUP
    if writing and kind in ("tcp", "datagram"):
        raised |= POLLOUT | POLLWRNORM
    if (how == 2 or (reading and state in _WRITE_SHUT_STATES)
            or (writing and state in _READ_SHUT_STATES)):
        raised |= POLLHUP
    return Effect(action, raised=raised,
                  read="eof" if reading else None,
                  write="EPIPE" if writing else None,
                  write_sigpipe=writing and kind == "tcp",
                  later_sigpipe=writing and kind in ("tcp", "unix-stream"))


@dataclass(frozen=True)
class Sigpipe:
    """What SIGPIPE does to the process, as seen from one thread.

    ``disposition``: "default" (terminate), "ignored" (SigIgn), "caught"
    (SigCgt: a handler), or "unknown" (the status could not be read).
    ``blocked``: SIGPIPE is in this thread's SigBlk, so it stays pending.
    """

    disposition: str
    blocked: bool = False


@dataclass(frozen=True)
class Wait:
    """One thread blocked on the socket, as ``predict`` needs it.

    ``call``: the system call's name (syscalls_x86_64).  ``detail``: the
    waiters' detail ("in fd" / "out fd" for sendfile and splice, the poll
    words otherwise), shown in the sentence.  ``interest``: for poll,
    select and epoll, the poll bits that end the wait (``poll_interest``
    ...), None when the call's memory could not be read.
    ``edge_triggered`` and ``oneshot``: the epoll registration's flags.
    ``send_flags``: a sendto/sendmsg/sendmmsg's flags argument.
    """

    lwp: int
    call: str
    detail: Optional[str] = None
    interest: Optional[int] = None
    edge_triggered: bool = False
    oneshot: bool = False
    send_flags: Optional[int] = None
    sigpipe: Sigpipe = Sigpipe("unknown")


@dataclass(frozen=True)
class Prediction:
    """What one waiting thread does when the process resumes."""

    lwp: int
    fd: int
    call: str
    kind: str
    text: str

    @property
    def harm(self) -> Optional[str]:
        return HARM.get(self.kind)

    def to_json(self) -> Dict[str, object]:
        return {"lwp": self.lwp, "fd": self.fd, "syscall": self.call, "kind": self.kind,
                "harm": self.harm, "text": self.text}


def predict(fd: int, wait: Wait, effect: Effect) -> Prediction:
    """The prediction for one thread blocked on ``fd``."""
    who = "LWP %d %s" % (wait.lwp, wait.call)
    if wait.detail:
        who += " (%s)" % wait.detail

    def out(kind: str, text: str) -> Prediction:
        return Prediction(wait.lwp, fd, wait.call, kind, "%s: %s" % (who, text))

    if not effect.known:
        return out("unknown", "not predicted: what %s does to this socket was not measured"
                   % effect.action)
    call = wait.call
    writer = call in _WRITERS or (call in ("sendfile", "splice") and wait.detail == "out fd")
    reader = call in _READERS or (call == "splice" and wait.detail == "in fd")
    if call in _POLLERS:
        if wait.interest is None:
            return out("unknown", "not predicted: what it waits for could not be read")
        return _predict_poller(out, fd, wait, effect)
    if reader:
        if effect.read == "eof":
            return out("eof", "returns 0 (end-of-file)")
        if effect.read:
            return out("fails", "fails with %s" % effect.read)
        return out("no-wake", "goes on waiting: %s does not end a read" % effect.action)
    if writer:
        if effect.write is None:
            return out("no-wake", "goes on waiting for buffer space: %s does not end a write"
                       % effect.action)
        flags_arg = send_flags_arg(call)
        nosignal = flags_arg is not None and bool((wait.send_flags or 0) & MSG_NOSIGNAL)
        return _write_fails(out, fd, wait, effect, raises=effect.write_sigpipe,
                            nosignal=nosignal, blocked_call=True)
    if call in _ACCEPTS:
        if effect.accept:
            return out("fails", "fails with %s, and so will every later accept() on fd %d"
                       % (effect.accept, fd))
        return out("no-wake", "goes on waiting: %s does not stop a listener" % effect.action)
    return out("unknown", "not predicted: %s was not measured for a thread in %s"
               % (effect.action, call))


def _write_fails(out, fd: int, wait: Wait, effect: Effect, raises: bool, nosignal: bool,
                 blocked_call: bool) -> Prediction:
    """A write on fd fails with effect.write: what SIGPIPE then does."""
    if blocked_call:
        text = "fails with %s" % effect.write
    else:
        text = "returns fd %d writable, and its next write fails with %s" % (fd, effect.write)
    if not raises:
        later = ""
        if blocked_call and effect.later_sigpipe:
            later = ("; a later write on fd %d raises SIGPIPE (%s)"
                     % (fd, _sigpipe_words(wait.sigpipe)))
        return out("epipe", text + " and raises no SIGPIPE on this socket" + later)
    if nosignal:
        return out("epipe", text + "; no SIGPIPE: the call passed MSG_NOSIGNAL")
    sig = wait.sigpipe
    # ppoll, pselect6 and epoll_pwait run with the mask they were given:
    # SigBlk shows that one, not the mask its later write runs with.
    if sig.blocked and wait.call not in _MASKED_WAITS:
        return out("epipe", text + "; SIGPIPE stays pending: LWP %d blocks it" % wait.lwp)
    if sig.disposition == "ignored":
        return out("epipe", text + "; SIGPIPE is ignored by the process")
    if sig.disposition == "caught":
        return out("sigpipe-caught", text + ", and SIGPIPE runs the process's handler")
    if sig.disposition == "default":
        cond = "" if blocked_call else " (unless that write passes MSG_NOSIGNAL)"
        return out("sigpipe-kills", text + ", and SIGPIPE, at its default action, kills the "
                   "process" + cond)
    return out("sigpipe-kills", text + ", and SIGPIPE may kill the process (its signal "
               "dispositions could not be read)")


def _sigpipe_words(sig: Sigpipe) -> str:
    if sig.blocked:
        return "blocked in this thread"
    return {"default": "which kills the process at its default action",
            "ignored": "ignored by the process", "caught": "caught by a handler"}.get(
                sig.disposition, "its disposition could not be read")


def _predict_poller(out, fd: int, wait: Wait, effect: Effect) -> Prediction:
    ready = effect.raised & wait.interest
    if not ready:
        asked = wait.interest & ~(POLLERR | POLLHUP)
        return out("no-wake", "goes on waiting: it waits on fd %d for %s, and %s makes it "
                   "ready for %s only" % (fd, words(asked) if asked else "errors",
                                          effect.action, words(effect.raised)))
    if effect.accept:
        error = effect.accept_polled or effect.accept
        if wait.edge_triggered or wait.oneshot:
            how = "edge-triggered" if wait.edge_triggered else "one-shot"
            return out("fails", "reports fd %d once (%s), then accept() fails with %s; fd %d "
                       "is not reported again" % (fd, how, error, fd))
        return out("spins", "returns at once with fd %d ready (%s) on every call from now "
                   "on, and accept() on it fails with %s: a loop that polls fd %d spins"
                   % (fd, words(ready), error, fd))
    if ready & _WRITABLE and effect.write:
        return _write_fails(out, fd, wait, effect, raises=effect.later_sigpipe,
                            nosignal=False, blocked_call=False)
    if ready & _READABLE and effect.read == "eof":
        return out("eof", "returns fd %d ready (%s), and a read on it returns end-of-file"
                   % (fd, words(ready)))
    return out("wakes", "returns fd %d ready (%s)" % (fd, words(ready)))


# ------------------------------------------------------------ a socket's waiters

def sigpipe_of_masks(masks) -> Sigpipe:
    """The Sigpipe of a thread from its kernel.signals.SignalMasks (None: unreadable)."""
    if masks is None:
        return Sigpipe("unknown")
    return Sigpipe(masks.disposition(SIGPIPE), masks.is_blocked(SIGPIPE))


def wait_of(waiter, sigpipe: Sigpipe) -> Wait:
    """The Wait of a model.Waiter (what view/waiters.py found)."""
    return Wait(waiter.lwp, waiter.syscall, waiter.detail, interest=waiter.interest,
                edge_triggered=waiter.edge_triggered, oneshot=waiter.oneshot,
                send_flags=waiter.send_flags, sigpipe=sigpipe)


def shutdown_effect_of(sock, how: int) -> Effect:
    """shutdown_effect for a listing's Socket record."""
    return shutdown_effect(sock.fd, socket_kind(sock.proto, sock.type), sock.state, how)


def for_socket(sock, effect: Effect, sigpipe_of: Callable[[int], Sigpipe]) -> List[Prediction]:
    """A prediction for each thread blocked on ``sock`` (a Socket record with
    its waiters), for an action's ``effect``; ``sigpipe_of(lwp)`` says what
    SIGPIPE does to that thread."""
    return [predict(sock.fd, wait_of(w, sigpipe_of(w.lwp)), effect) for w in sock.waiters]


def safer_how(sock, how: int,
              predictions: Callable[[int], List[Prediction]]) -> Optional[int]:
    """Another direction for shutdown that harms none of the socket's waiters
    (``predictions(how)`` gives theirs) and still does something to it, or
    None.  SHUT_RD is tried first: it wakes readers."""
    for other in (0, 1, 2):
        if other == how:
            continue
        effect = shutdown_effect_of(sock, other)
        if not effect.known or effect == Effect(effect.action):
            continue  # nothing measured, or an action that does nothing
        if not any(p.harm for p in predictions(other)):
            return other
    return None


# ------------------------------------------------------------ checking, after the act

# What ends each kind of direct call, in the socket's poll mask.
_ENDS_READ = POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLERR
_ENDS_ACCEPT = POLLIN | POLLHUP | POLLERR
_ENDS_TCP_WRITE = POLLOUT | POLLWRNORM | POLLERR | POLLHUP


def check(prediction: Prediction, wait: Wait, kind: str, ready: int) -> Optional[str]:
    """Whether the socket's poll mask right after the act (``ready``, read
    through a copy while the process is still stopped) agrees with the
    prediction for this thread: a sentence, or None where the mask cannot
    tell (a UNIX writer: its blocked write fails with EPIPE although the
    socket never polls writable; or nothing was predicted).

    A blocked poll, select or epoll returns exactly when the mask meets its
    interest; a read, when the socket polls readable or hung up; an
    accept, likewise; a TCP write, when it polls writable.
    """
    if prediction.kind == "unknown":
        return None
    call = wait.call
    if call in _POLLERS:
        if wait.interest is None:
            return None
        ends = wait.interest
    elif call in _READERS or (call == "splice" and wait.detail == "in fd"):
        ends = _ENDS_READ
    elif call in _ACCEPTS:
        ends = _ENDS_ACCEPT
    elif (call in _WRITERS or call in ("sendfile", "splice")) and kind == "tcp":
        ends = _ENDS_TCP_WRITE
    else:
        return None
    wakes = bool(ready & ends)
    expected = prediction.kind != "no-wake"
    now = "fd %d now polls ready for %s" % (prediction.fd, words(ready))
    if wakes == expected:
        return "as predicted: %s" % now
    return "NOT as predicted: %s, so LWP %d %s" % (
        now, prediction.lwp, "wakes" if wakes else "goes on waiting")
