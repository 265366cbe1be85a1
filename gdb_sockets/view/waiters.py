"""Which threads of a process are blocked in a system call on which socket fd.

The kernel keeps, for every thread, the system call it is in and its six
arguments (``/proc/PID/task/TID/syscall``).  A thread that gdb stopped while
it was blocked still shows the interrupted call: the number is ``orig_rax``,
which stays put while the thread sits in the ptrace stop.  The arguments say
which fd: directly for ``recvfrom(fd, ...)``, through the target's memory for
``poll`` (an array of ``struct pollfd``) and ``select`` (fd bitmaps), and
through ``/proc/PID/fdinfo/EPFD`` for ``epoll_wait``.

A thread that cannot be read (permission, exited meanwhile, a pointer that
no longer points anywhere) is left out; it never fails the whole answer.
"""

from __future__ import annotations

import struct
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from ..errors import SocketsError
from ..kernel import syscalls_x86_64
from ..kernel.proc_task import EpollEntry, parse_epoll_fdinfo, parse_syscall, read_at
from ..kernel.procfs import FdLink
from ..model import Waiter
from . import predict


# The architectures whose system call numbers are known, by every name gdb
# or uname gives them.  Other ABIs (i386, x32, aarch64...) number their
# calls differently and have no table yet.
_ARCHES: Dict[str, Callable[[int], str]] = {
    "x86_64": syscalls_x86_64.name,
    "x86-64": syscalls_x86_64.name,
    "amd64": syscalls_x86_64.name,
    "i386:x86-64": syscalls_x86_64.name,
}


def known_arch(arch: str) -> bool:
    """Whether ``find_waiters`` can decode this architecture's system calls."""
    return arch in _ARCHES


# Calls that name the socket in an fd argument: (argument index, detail).
_FD_ARGS: Dict[str, Tuple[Tuple[int, Optional[str]], ...]] = {
    name: ((0, None),) for name in (
        "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg",
        "sendmsg", "recvmmsg", "sendmmsg", "accept", "accept4", "connect",
        "close")  # close blocks on a socket with SO_LINGER
}
_FD_ARGS["sendfile"] = ((0, "out fd"), (1, "in fd"))
_FD_ARGS["splice"] = ((0, "in fd"), (2, "out fd"))
_POLLS = {"poll", "ppoll"}
_SELECTS = {"select", "pselect6"}
_EPOLLS = {"epoll_wait", "epoll_pwait", "epoll_pwait2"}

# poll(2) and epoll share the event bits (include/uapi/asm-generic/poll.h).
_EVENT_WORDS = ((0x0001 | 0x0040 | 0x0080, "read"),     # POLLIN RDNORM RDBAND
                (0x0004 | 0x0100 | 0x0200, "write"),    # POLLOUT WRNORM WRBAND
                (0x0002, "urgent"),                     # POLLPRI
                (0x2000, "peer close"))                 # POLLRDHUP
_POLL_USER_BITS = 0x37ff  # every bit a program may put in events/revents
# EPOLLWAKEUP EPOLLONESHOT EPOLLET EPOLLEXCLUSIVE: a registration with only
# these left is a one-shot that fired and waits for nothing until re-armed.
_EP_PRIVATE_BITS = 0xf0000000
_MAX_FDS = 1 << 20  # fs.nr_open by default: no process has more fds to poll
_POLLFD = struct.Struct("<iHH")  # struct pollfd { int fd; short events, revents; }
_MAX_EPOLL_NESTING = 5  # the kernel allows 4 levels (EP_MAX_NESTS)
# wchan of a thread blocked in poll, and of one that is only stopped.
_POLL_WCHANS = ("poll_schedule_timeout", "do_poll", "do_sys_poll", "do_restart_poll")
_STOP_WCHANS = {"ptrace_stop", "do_signal_stop", "0", ""}


def _int(value: int) -> int:
    """The C int in a 64-bit argument register."""
    value &= 0xffffffff
    return value - (1 << 32) if value & 0x80000000 else value


def _words(events: int) -> str:
    words = [word for mask, word in _EVENT_WORDS if events & mask]
    return ", ".join(words) if words else "errors"


class _Thread:
    """What one thread's call can be asked about: the process's memory and fds."""

    def __init__(self, reader, pid: int, socket_fds: FrozenSet[int]) -> None:
        self.reader = reader
        self.pid = pid
        self.socket_fds = socket_fds
        self._by_inode: Optional[Dict[int, List[int]]] = None

    def memory(self, address: int, size: int) -> Optional[bytes]:
        try:
            data = read_at(self.reader, "/proc/%d/mem" % self.pid, address, size)
        except OSError:
            return None
        return data if len(data) == size else None

    def link(self, fd: int) -> Optional[FdLink]:
        try:
            return FdLink(fd, self.reader.readlink("/proc/%d/fd/%d" % (self.pid, fd)))
        except OSError:
            return None

    def open_fds(self) -> Optional[FrozenSet[int]]:
        """Every fd the process has open now, or None if that cannot be read."""
        try:
            names = self.reader.listdir("/proc/%d/fd" % self.pid)
        except OSError:
            return None
        return frozenset(int(name) for name in names if name.isdigit())

    def fds_of_inode(self, inode: int) -> List[int]:
        """The socket fds (of those asked about) that name this inode now."""
        if self._by_inode is None:
            self._by_inode = {}
            for fd in sorted(self.socket_fds):
                link = self.link(fd)
                if link is not None and link.socket_inode is not None:
                    self._by_inode.setdefault(link.socket_inode, []).append(fd)
        return self._by_inode.get(inode, [])


def find_waiters(reader, pid: int, socket_fds: Iterable[int],
                 arch: str = "x86_64") -> Dict[int, List[Waiter]]:
    """The threads of ``pid`` blocked on each of ``socket_fds``, by fd.

    Only fds with a waiter are keys; each list is sorted by lwp.  ``arch``
    is the target's architecture (gdb's name or uname's); one without a
    system call table raises SocketsError (ask ``known_arch`` first).  A
    process whose task list cannot be read has no waiters to show.
    """
    name_of = _ARCHES.get(arch)
    if name_of is None:
        raise SocketsError(
            "which threads wait on a socket is unknown on %s: only x86-64 "
            "system calls are decoded" % arch)
    fds = frozenset(socket_fds)
    if not fds:
        return {}
    try:
        names = reader.listdir("/proc/%d/task" % pid)
    except OSError:
        return {}
    context = _Thread(reader, pid, fds)
    found: Dict[int, List[Waiter]] = {}
    for tid in sorted(int(name) for name in names if name.isdigit()):
        for fd, waiter in sorted(_thread_waits(context, tid, name_of).items()):
            found.setdefault(fd, []).append(waiter)
    return found


def _thread_waits(context: _Thread, tid: int,
                  name_of: Callable[[int], str]) -> Dict[int, Waiter]:
    base = "/proc/%d/task/%d/" % (context.pid, tid)
    try:
        call = parse_syscall(context.reader.read(base + "syscall"))
    except OSError:
        return {}  # exited meanwhile, or not ours to read
    if call is None:
        return {}
    name = name_of(call.nr)
    args = call.args
    if name in _FD_ARGS:
        out = {}
        flags_arg = predict.send_flags_arg(name)
        flags = args[flags_arg] & 0xffffffff if flags_arg is not None else None
        for index, detail in _FD_ARGS[name]:
            fd = _int(args[index])
            if fd in context.socket_fds:
                out[fd] = Waiter(tid, name, detail, send_flags=flags)
        return out
    if name in _POLLS:
        interest = _poll_interest(context, args[0], args[1], strict=False)
        return {fd: Waiter(tid, name, "poll for " + _words(events),
                           interest=predict.poll_interest(events))
                for fd, events in interest.items()}
    if name in _SELECTS:
        return {fd: Waiter(tid, name, "select for " + ", ".join(words),
                           interest=predict.select_interest(
                               "read" in words, "write" in words, "urgent" in words))
                for fd, words in _select_interest(context, args).items()}
    if name in _EPOLLS:
        return {fd: Waiter(tid, name, "%s%s for %s" % (name, via, _words(events)),
                           interest=predict.epoll_interest(events),
                           edge_triggered=bool(events & predict.EPOLLET),
                           oneshot=bool(events & predict.EPOLLONESHOT))
                for fd, (events, via) in _epoll_interest(context, _int(args[0])).items()}
    if name == "restart_syscall":
        return _restarted_poll(context, tid, base, args)
    return {}


def _poll_interest(context: _Thread, address: int, nfds: int,
                   strict: bool) -> Dict[int, int]:
    """Socket fd -> events asked for, from the pollfd array at ``address``.

    ``strict`` (for a guessed poll) rejects the whole array unless it reads
    as the array of a poll blocked right now: every fd negative or open
    (a closed one would have ended the poll with POLLNVAL), events only of
    the bits a program may set, every revents 0 (the kernel wrote them back
    when the signal interrupted it, and nothing was ready), and at least
    one event asked of the socket.
    """
    nfds &= 0xffffffff  # unsigned int nfds
    if nfds == 0 or nfds > _MAX_FDS:
        return {}
    data = context.memory(address, nfds * _POLLFD.size)
    if data is None:
        return {}
    open_fds = context.open_fds() if strict else None
    if strict and open_fds is None:
        return {}
    interest: Dict[int, int] = {}
    for fd, events, revents in _POLLFD.iter_unpack(data):
        if strict and (events & ~_POLL_USER_BITS or revents
                       or (fd >= 0 and fd not in open_fds)):
            return {}
        if fd in context.socket_fds:
            interest[fd] = interest.get(fd, 0) | events
    if strict:
        interest = {fd: events for fd, events in interest.items() if events}
    return interest


def _select_interest(context: _Thread, args: Tuple[int, ...]) -> Dict[int, List[str]]:
    """Socket fd -> which sets name it, for select(nfds, readfds, writefds,
    exceptfds, ...) and pselect6 (same first four arguments)."""
    nfds = _int(args[0])
    wanted = sorted(fd for fd in context.socket_fds if 0 <= fd < nfds)
    if not wanted or nfds > _MAX_FDS:
        return {}
    # fd_set is an array of unsigned long, fd N at bit N % 64 of word N / 64:
    # on a little-endian machine, bit N % 8 of byte N / 8.
    size = (nfds + 63) // 64 * 8
    interest: Dict[int, List[str]] = {}
    for address, word in zip(args[1:4], ("read", "write", "urgent")):
        if address == 0:
            continue
        bits = context.memory(address, size)
        if bits is None:
            return {}
        for fd in wanted:
            if bits[fd // 8] >> (fd % 8) & 1:
                interest.setdefault(fd, []).append(word)
    return interest


def _epoll_interest(context: _Thread, epfd: int, via: str = "",
                    depth: int = 0) -> Dict[int, Tuple[int, str]]:
    """Socket fd -> (events, " on fd 7 via epoll fd 9") for an epoll fd."""
    if depth >= _MAX_EPOLL_NESTING:
        return {}
    try:
        entries = parse_epoll_fdinfo(
            context.reader.read("/proc/%d/fdinfo/%d" % (context.pid, epfd)))
    except OSError:
        return {}
    where = "%s via epoll fd %d" % (via, epfd) if via else " on fd %d" % epfd
    interest: Dict[int, Tuple[int, str]] = {}
    for entry in entries:
        if not entry.events & ~_EP_PRIVATE_BITS:
            continue  # a one-shot that fired: not waited for
        for fd in _registered_fds(context, entry):
            events = interest.get(fd, (0, where))[0] | entry.events
            interest[fd] = (events, where)
        if entry.fd not in context.socket_fds:
            link = context.link(entry.fd)
            if link is not None and link.target == "anon_inode:[eventpoll]":
                for fd, found in _epoll_interest(context, entry.fd, where,
                                                 depth + 1).items():
                    interest.setdefault(fd, found)
    return interest


def _registered_fds(context: _Thread, entry: EpollEntry) -> List[int]:
    """The socket fds that name the file an epoll entry registered.

    Normally its ``tfd``; but the registration outlives a close() of that
    fd while a dup of it stays open, and the number may be reused since:
    the inode tells.
    """
    if entry.inode is None:
        return [entry.fd] if entry.fd in context.socket_fds else []
    if entry.fd in context.socket_fds:
        link = context.link(entry.fd)
        if link is not None and link.socket_inode == entry.inode:
            return [entry.fd]
    return context.fds_of_inode(entry.inode)


def _restarted_poll(context: _Thread, tid: int, base: str,
                    args: Tuple[int, ...]) -> Dict[int, Waiter]:
    """A poll() that a signal interrupted shows as restart_syscall.

    poll() always restarts through the restart block, so once gdb has let
    the process run again after an attach, a thread blocked in poll shows
    restart_syscall, its registers still holding poll's arguments.  So do
    interrupted nanosleep, clock_nanosleep and timed futex waits.  When the
    kernel's wait channel names poll, read the arguments as poll's; when it
    says only "stopped" (gdb's stop hides it), accept them only if they read
    as the pollfd array of a blocked poll (see ``_poll_interest``).
    """
    try:
        wchan = context.reader.read(base + "wchan").decode("ascii", "replace").strip()
    except OSError:
        wchan = ""
    if wchan.startswith(_POLL_WCHANS):
        strict = False
    elif wchan in _STOP_WCHANS:
        strict = True
    else:
        return {}  # blocked somewhere else: a sleep or a futex
    interest = _poll_interest(context, args[0], args[1], strict)
    return {fd: Waiter(tid, "restart_syscall", "poll for %s (restarted)" % _words(events),
                       interest=predict.poll_interest(events))
            for fd, events in interest.items()}
