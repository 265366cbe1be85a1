"""predict: the model of what shutdown does, checked against this kernel, and the sentences.

The oracle for ``shutdown_effect`` is the kernel itself: real sockets on
loopback, their poll mask read before and after shutdown(2), and real
blocked calls in a forked child with SIGPIPE at its default action, whose
outcome (the value returned, the errno, the signal that ended it) must be
the one ``predict`` names.  A call predicted not to wake is then woken by
something else (the peer sends or drains), and must report that instead.
"""

import errno
import os
import select
import signal
import socket
import time

import pytest

from gdb_sockets.view import predict as p

FULL_MASK = 0xffff & ~select.POLLNVAL


def mask(sock) -> int:
    poller = select.poll()
    poller.register(sock, FULL_MASK)
    found = poller.poll(0)
    return found[0][1] if found else 0


def fill(sock) -> None:
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 1024)
    except BlockingIOError:
        pass
    sock.setblocking(True)


def tcp_pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    return client, accepted


def make(kind):
    """(our socket, its peer) connected, for each kind socket_kind names."""
    if kind == "tcp":
        return tcp_pair()
    if kind == "datagram":
        ours = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ours.bind(("127.0.0.1", 0))
        peer.bind(("127.0.0.1", 0))
        ours.connect(peer.getsockname())
        peer.connect(ours.getsockname())
        return ours, peer
    kinds = {"unix-stream": socket.SOCK_STREAM, "unix-seqpacket": socket.SOCK_SEQPACKET,
             "unix-dgram": socket.SOCK_DGRAM}
    return socket.socketpair(socket.AF_UNIX, kinds[kind])


KINDS = ("tcp", "unix-stream", "unix-seqpacket", "unix-dgram", "datagram")


# A UDP send buffer drains to the peer at once: it cannot be kept full.
CASES = [(kind, full) for kind in KINDS for full in (False, True)
         if not (full and kind == "datagram")]


@pytest.mark.parametrize("kind, full", CASES)
@pytest.mark.parametrize("how", (0, 1, 2))
def test_raised_bits_are_what_the_kernel_raises(kind, how, full):
    ours, peer = make(kind)
    with ours, peer:
        if full:
            fill(ours)
        before = mask(ours)
        ours.shutdown(how)
        after = mask(ours)
    effect = p.shutdown_effect(3, kind, "ESTAB", how)
    assert effect.known
    # Bits already set wake nobody who is blocked; the new ones must match.
    assert after & ~before == effect.raised & ~before, (hex(before), hex(after))


def test_raised_bits_of_a_tcp_close_wait_socket():
    ours, peer = tcp_pair()
    with ours:
        peer.close()  # with nothing unread: a FIN, not a reset
        deadline = time.monotonic() + 5
        while not mask(ours) & select.POLLRDHUP:  # the FIN arrived: CLOSE-WAIT
            assert time.monotonic() < deadline
        before = mask(ours)
        ours.shutdown(socket.SHUT_WR)
        after = mask(ours)
    effect = p.shutdown_effect(3, "tcp", "CLOSE-WAIT", 1)
    assert after & ~before == effect.raised & ~before
    assert effect.raised & select.POLLHUP  # both directions shut now


@pytest.mark.parametrize("family, kind", [(socket.AF_INET, "tcp"), (socket.AF_UNIX, "unix-stream")])
@pytest.mark.parametrize("how", (0, 1, 2))
def test_a_shut_listener(tmp_path, family, kind, how):
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0) if family == socket.AF_INET else str(tmp_path / "l.sock"))
    listener.listen(8)
    with listener:
        before = mask(listener)
        listener.shutdown(how)
        after = mask(listener)
        accept_errno = accept_in_child(listener)
        listener.setblocking(False)
        try:
            listener.accept()
            polled = "accepted"
        except OSError as e:
            polled = errno.errorcode[e.errno]
    effect = p.shutdown_effect(3, kind, "LISTEN", how)
    assert after & ~before == effect.raised
    assert accept_errno == (effect.accept or "blocked")
    # An event loop's non-blocking accept: EAGAIN also while nothing changed.
    assert polled == (effect.accept_polled or "EAGAIN")


def accept_in_child(listener) -> str:
    """What a blocking accept() on the listener returns in a child: an errno
    name, or "blocked" when it was still waiting once asleep (then killed)."""
    pid = os.fork()
    if pid == 0:
        try:
            listener.accept()
            os._exit(0)
        except OSError as e:
            os._exit(e.errno)
    if wait_asleep(pid, {43, 288}, allow_exit=True):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "blocked"
    _, status = os.waitpid(pid, 0)
    return errno.errorcode[os.WEXITSTATUS(status)]


def wait_asleep(pid, numbers, allow_exit=False, timeout=10.0) -> bool:
    """True once ``pid`` sleeps in one of the syscalls; False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                nr = f.read().split()[0]
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            state, nr = "Z", ""
        if state == "Z":
            if allow_exit:
                return False
            raise AssertionError("process %d exited before it blocked" % pid)
        if state == "S" and nr.lstrip("-").isdigit() and int(nr) in numbers:
            return True
        time.sleep(0.001)
    raise AssertionError("process %d never slept in %s" % (pid, sorted(numbers)))


NR = {"recvfrom": 45, "sendto": 44, "write": 1}


def state_of(pid) -> str:
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def settled(pid, nr, timeout=10.0) -> bool:
    """After the shutdown: True once the child has finished its call (it
    exited), False once it sleeps in the call again.  A shutdown wakes
    every waiter of the socket, which re-checks and goes back to sleep when
    nothing it waits for happened; what it waits for is set before
    shutdown() returns, so a child asleep again was not woken for good."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = state_of(pid)
            with open("/proc/%d/syscall" % pid) as f:
                fields = f.read().split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        if state == "S" and fields and fields[0] == str(nr):
            return False
        time.sleep(0.001)
    raise AssertionError("process %d neither finished nor slept again" % pid)


def blocked_call(kind, how, call, flags=0):
    """Run ``call`` blocked on a socket of ``kind`` in a child with SIGPIPE
    at SIG_DFL and shut the socket down from here.  Returns (woken, what
    the child reported, the signal that killed it or None).

    A child that sleeps in its call again after the shutdown (``settled``)
    is then woken another way (the peer sends, or drains its receive
    queue) and reports what that gave it.
    """
    ours, peer = make(kind)
    if call != "recvfrom":
        fill(ours)
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        try:
            if call == "recvfrom":
                report = "read %r" % ours.recv(10)
            elif call == "write":
                report = "wrote %d" % os.write(ours.fileno(), b"y" * 1024)
            else:
                report = "sent %d" % ours.send(b"y" * 1024, flags)
        except OSError as e:
            report = errno.errorcode[e.errno]
        os.write(out_w, report.encode())
        os._exit(0)
    os.close(out_w)
    try:
        wait_asleep(pid, {NR[call]})
        ours.shutdown(how)
        woken = settled(pid, NR[call])
        if not woken:
            if call == "recvfrom":
                peer.send(b"Z")
            else:
                peer.setblocking(False)
                try:
                    while True:
                        peer.recv(1 << 16)
                except (BlockingIOError, OSError):
                    pass
        _, status = os.waitpid(pid, 0)
        report = os.read(out_r, 100).decode()
    finally:
        os.close(out_r)
        ours.close()
        peer.close()
    return woken, report, (signal.Signals(os.WTERMSIG(status)).name
                           if os.WIFSIGNALED(status) else None)


# What the child reports for each predicted kind.
OUTCOMES = {
    "eof": (True, "read b''", None),
    "sigpipe-kills": (True, "", "SIGPIPE"),
    "epipe": (True, "EPIPE", None),
    # Woken by the peer instead: it sent "Z", or read what was queued.
    ("no-wake", "recvfrom"): (False, "read b'Z'", None),
    ("no-wake", "write"): (False, "wrote 1024", None),
    ("no-wake", "sendto"): (False, "sent 1024", None),
}


@pytest.mark.parametrize("kind", ("tcp", "unix-stream", "unix-seqpacket", "unix-dgram"))
@pytest.mark.parametrize("how", (0, 1, 2))
@pytest.mark.parametrize("call, flags", [("recvfrom", 0), ("write", 0), ("sendto", 0),
                                         ("sendto", p.MSG_NOSIGNAL)])
def test_a_blocked_call_does_what_is_predicted(kind, how, call, flags):
    effect = p.shutdown_effect(3, kind, "ESTAB", how)
    wait = p.Wait(1, call, send_flags=flags if call == "sendto" else None,
                  sigpipe=p.Sigpipe("default"))
    predicted = p.predict(3, wait, effect).kind
    expected = OUTCOMES[(predicted, call) if predicted == "no-wake" else predicted]
    assert blocked_call(kind, how, call, flags) == expected


def test_the_kinds_seen_in_the_kernel_check_include_each_harm():
    # The matrix above covers both kinds of writer outcome and EOF; say so.
    kinds = {p.predict(3, p.Wait(1, call, sigpipe=p.Sigpipe("default")),
                       p.shutdown_effect(3, kind, "ESTAB", how)).kind
             for kind in KINDS[:4] for how in (0, 1, 2) for call in ("recvfrom", "write")}
    assert kinds == {"eof", "sigpipe-kills", "epipe", "no-wake"}


# ------------------------------------------------------------ the sentences

def tcp(how, state="ESTAB"):
    return p.shutdown_effect(3, "tcp", state, how)


@pytest.mark.parametrize("sigpipe, flags, kind, tail", [
    (p.Sigpipe("default"), None, "sigpipe-kills",
     "fails with EPIPE, and SIGPIPE, at its default action, kills the process"),
    (p.Sigpipe("ignored"), None, "epipe", "fails with EPIPE; SIGPIPE is ignored by the process"),
    (p.Sigpipe("caught"), None, "sigpipe-caught",
     "fails with EPIPE, and SIGPIPE runs the process's handler"),
    (p.Sigpipe("default", blocked=True), None, "epipe",
     "fails with EPIPE; SIGPIPE stays pending: LWP 7 blocks it"),
    (p.Sigpipe("unknown"), None, "sigpipe-kills",
     "fails with EPIPE, and SIGPIPE may kill the process (its signal dispositions could "
     "not be read)"),
    (p.Sigpipe("default"), p.MSG_NOSIGNAL, "epipe",
     "fails with EPIPE; no SIGPIPE: the call passed MSG_NOSIGNAL"),
    (p.Sigpipe("default"), 0x40, "sigpipe-kills",   # MSG_DONTWAIT is not MSG_NOSIGNAL
     "fails with EPIPE, and SIGPIPE, at its default action, kills the process"),
])
def test_a_tcp_writer(sigpipe, flags, kind, tail):
    call = "write" if flags is None else "sendmsg"
    found = p.predict(3, p.Wait(7, call, send_flags=flags, sigpipe=sigpipe), tcp(2))
    assert (found.kind, found.text) == (kind, "LWP 7 %s: %s" % (call, tail))
    assert found.harm == ("kill" if kind == "sigpipe-kills" else None)


def test_msg_nosignal_counts_only_for_calls_that_take_flags():
    # write() has no flags; whatever a register held is not MSG_NOSIGNAL.
    found = p.predict(3, p.Wait(7, "write", send_flags=p.MSG_NOSIGNAL,
                                sigpipe=p.Sigpipe("default")), tcp(1))
    assert found.kind == "sigpipe-kills"


def test_a_unix_stream_writer_gets_no_sigpipe_now_but_later():
    effect = p.shutdown_effect(5, "unix-stream", "ESTAB", 2)
    found = p.predict(5, p.Wait(7, "write", sigpipe=p.Sigpipe("default")), effect)
    assert (found.kind, found.text) == (
        "epipe", "LWP 7 write: fails with EPIPE and raises no SIGPIPE on this socket; a later "
        "write on fd 5 raises SIGPIPE (which kills the process at its default action)")


def test_select_for_urgent_data_only_does_not_wake():
    wait = p.Wait(9, "pselect6", "select for urgent", interest=p.select_interest(False, False,
                                                                                True))
    found = p.predict(3, wait, tcp(2))
    assert (found.kind, found.text) == (
        "no-wake", "LWP 9 pselect6 (select for urgent): goes on waiting: it waits on fd 3 for "
        "urgent data, and shutdown(3, SHUT_RDWR) makes it ready for read, write, peer close, "
        "hang-up only")


def test_epoll_for_write_only():
    # fdinfo shows EPOLLOUT|EPOLLERR|EPOLLHUP (0x1c) for a write-only registration.
    wait = p.Wait(9, "epoll_wait", "epoll_wait on fd 5 for write", interest=p.epoll_interest(0x1c),
                  sigpipe=p.Sigpipe("default"))
    assert p.predict(3, wait, tcp(0)).kind == "no-wake"
    found = p.predict(3, wait, tcp(2))
    assert (found.kind, found.text) == (
        "sigpipe-kills", "LWP 9 epoll_wait (epoll_wait on fd 5 for write): returns fd 3 "
        "writable, and its next write fails with EPIPE, and SIGPIPE, at its default action, "
        "kills the process (unless that write passes MSG_NOSIGNAL)")
    ignored = p.Wait(9, "epoll_wait", interest=p.epoll_interest(0x1c), sigpipe=p.Sigpipe("ignored"))
    assert p.predict(3, ignored, tcp(1)).kind == "epipe"


def test_a_poller_of_a_shut_listener_spins_unless_edge_triggered():
    poll = p.Wait(4, "poll", "poll for read", interest=p.poll_interest(select.POLLIN))
    found = p.predict(3, poll, tcp(2, "LISTEN"))
    assert (found.kind, found.harm, found.text) == (
        "spins", "spin", "LWP 4 poll (poll for read): returns at once with fd 3 ready "
        "(hang-up) on every call from now on, and accept() on it fails with EINVAL: a loop "
        "that polls fd 3 spins")
    edge = p.Wait(4, "epoll_wait", interest=p.epoll_interest(0x80000019), edge_triggered=True)
    assert p.predict(3, edge, tcp(0, "LISTEN")).kind == "fails"
    # SHUT_WR leaves a listener alone.
    assert p.predict(3, poll, tcp(1, "LISTEN")).kind == "no-wake"
    # Waiting in select for urgent data on the listener: not woken (only POLLHUP|POLLOUT).
    urgent = p.Wait(4, "select", interest=p.select_interest(False, False, True))
    assert p.predict(3, urgent, tcp(2, "LISTEN")).kind == "no-wake"


def test_a_blocked_accept_fails_for_good():
    found = p.predict(3, p.Wait(4, "accept4"), tcp(2, "LISTEN"))
    assert (found.kind, found.text) == (
        "fails", "LWP 4 accept4: fails with EINVAL, and so will every later accept() on fd 3")
    assert p.predict(3, p.Wait(4, "accept4"), tcp(1, "LISTEN")).kind == "no-wake"


def test_unknown_calls_and_sockets_are_said_to_be_unknown():
    assert p.predict(3, p.Wait(4, "connect"), tcp(2)).kind == "unknown"
    assert p.predict(3, p.Wait(4, "poll"), tcp(2)).kind == "unknown"  # interest unread
    netlink = p.shutdown_effect(3, p.socket_kind("netlink", None), "UNCONN", 2)
    found = p.predict(3, p.Wait(4, "recvfrom"), netlink)
    assert (found.kind, found.text) == (
        "unknown", "LWP 4 recvfrom: not predicted: what shutdown(3, SHUT_RDWR) does to this "
        "socket was not measured")


def test_socket_kind():
    assert [p.socket_kind(proto, kind) for proto, kind in [
        ("tcp6", None), ("unix", "seqpacket"), ("unix", None), ("udp6", None), ("raw", None),
        ("packet", None)]] == ["tcp", "unix-seqpacket", "other", "datagram", "datagram", "other"]


def test_an_effect_for_another_action_is_used_as_given():
    # sock-kill (issue 15) builds its own Effect: a reset.
    reset = p.Effect("SOCK_DESTROY of fd 3", raised=select.POLLERR | select.POLLHUP,
                     read="ECONNABORTED", write="ECONNABORTED")
    assert p.predict(3, p.Wait(1, "recvfrom"), reset).text == (
        "LWP 1 recvfrom: fails with ECONNABORTED")
    assert p.predict(3, p.Wait(1, "poll", interest=p.poll_interest(select.POLLPRI)),
                     reset).kind == "wakes"


def test_prediction_json():
    found = p.predict(3, p.Wait(4, "accept4"), tcp(2, "LISTEN"))
    assert found.to_json() == {"lwp": 4, "fd": 3, "syscall": "accept4", "kind": "fails",
                               "harm": None, "text": found.text}


def test_check_against_the_mask_after_the_act():
    # The masks are what test_raised_bits_* measured: TCP after SHUT_RDWR
    # with a full buffer, and after SHUT_RD.
    both = select.POLLIN | select.POLLOUT | select.POLLHUP | 0x2000 | 0x40 | 0x100
    read_only = select.POLLIN | 0x2000 | 0x40
    urgent = p.Wait(9, "pselect6", interest=p.select_interest(False, False, True))
    said = p.check(p.predict(3, urgent, tcp(2)), urgent, "tcp", both)
    assert said == "as predicted: fd 3 now polls ready for read, write, peer close, hang-up"
    writer = p.Wait(7, "write", sigpipe=p.Sigpipe("default"))
    assert p.check(p.predict(3, writer, tcp(0)), writer, "tcp", read_only) == (
        "as predicted: fd 3 now polls ready for read, peer close")
    # A prediction the mask contradicts says so.
    wrong = p.Prediction(7, 3, "write", "no-wake", "LWP 7 write: goes on waiting")
    assert p.check(wrong, writer, "tcp", both) == (
        "NOT as predicted: fd 3 now polls ready for read, write, peer close, hang-up, so LWP 7 "
        "wakes")
    # A UNIX writer's EPIPE shows in no mask: nothing to check.
    unix = p.shutdown_effect(3, "unix-stream", "ESTAB", 1)
    assert p.check(p.predict(3, writer, unix), writer, "unix-stream", 0) is None


def test_a_mask_a_ppoll_runs_with_is_not_the_mask_of_its_next_write():
    # SigBlk of a thread in ppoll/pselect6/epoll_pwait is the mask it passed.
    blocked = p.Sigpipe("default", blocked=True)
    out = p.select_interest(False, True, False)
    assert p.predict(3, p.Wait(1, "pselect6", interest=out, sigpipe=blocked), tcp(1)).kind == (
        "sigpipe-kills")
    assert p.predict(3, p.Wait(1, "select", interest=out, sigpipe=blocked), tcp(1)).kind == (
        "epipe")
