"""view/remedy_report.py: the values for SECONDS, when the kernel gives up, refusals.

The give-up times are checked against what this kernel did (measured with
a blackholed peer in a veth namespace, see /work/notes/issue15.md): idle 2,
interval 1, 3 probes, after 0.5 s and 4 s of silence, with and without a
user timeout of 3000 ms.
"""

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.kernel.keepalive import Keepalive
from gdb_sockets.model import InetEndpoint, Silence, Socket
from gdb_sockets.view import remedy_report as rr
from gdb_sockets.view import render


def silent(ms, unacked=0, rto_ms=204):
    return Silence(state=1, last_recv_ms=ms, last_send_ms=ms, last_ack_ms=ms, unacked=unacked,
                   probes=0, retransmits=0, rto_ms=rto_ms)


@pytest.mark.parametrize("silence_ms, user_ms, measured", [
    (500, 0, 4.56),     # first probe 1.5 s from now, 3 probes 1 s apart
    (4000, 0, 3.07),    # silent longer than idle: the first probe at once
    (500, 3000, 2.55),  # the silence reaches 3 s at the second tick
    (4000, 3000, 1.01),  # already past the user timeout: one probe decides
])
def test_give_up_matches_the_kernel(silence_ms, user_ms, measured):
    got = rr.give_up(Keepalive(True, 2, 1, 3, user_ms), silent(silence_ms))
    # The kernel's timers run in jiffies (4 ms here) and the measurement
    # includes waking the reader: it came up to 70 ms after the computed time.
    assert 0 <= measured - got.seconds < 0.1, (got, measured)


def test_give_up_words():
    long_silent = rr.give_up(Keepalive(True, 15, 15, 3, 60000), silent(8 * 3600 * 1000 + 2 * 60000))
    assert long_silent.seconds == 15
    assert long_silent.reason == ("silent 8h02m already, past the 60 s user timeout: the first "
                                  "probe, sent at once, decides")
    fresh = rr.give_up(Keepalive(True, 15, 15, 3, 60000), silent(0))
    assert fresh.seconds == 60
    off = rr.give_up(Keepalive(False, 7200, 75, 9, 0), silent(1000))
    assert off.seconds is None and "keepalive is off" in off.reason
    assert rr.give_up(Keepalive(True, 1, 1, 1, 0), None).seconds is None


def test_give_up_with_data_in_flight():
    # Retransmissions: the user timeout counts from the first one; checked each rto.
    got = rr.give_up(Keepalive(True, 15, 15, 3, 60000), silent(10000, unacked=2, rto_ms=3200))
    assert got.seconds == pytest.approx(50 + 3.2)
    assert got.reason.startswith("2 segments unacknowledged")
    never = rr.give_up(Keepalive(True, 15, 15, 3, 0), silent(10000, unacked=1))
    assert never.seconds is None and "tcp_retries2" in never.reason


def test_give_up_writer_facing_a_shut_window():
    # Measured: a writer blocked on a full window (unacked 0, 2 zero-window
    # probes out), peer blackholed, last ACK 2704 ms before; user timeout
    # 4000 ms: ETIMEDOUT 1.32 s after it was set.
    probing = Silence(state=1, last_recv_ms=3020, last_send_ms=2948, last_ack_ms=2704,
                      unacked=0, probes=2, retransmits=0, rto_ms=212)
    got = rr.give_up(Keepalive(True, 1, 1, 3, 4000), probing, send_queue=1 << 20)
    assert got.seconds - 0.212 <= 1.32 <= got.seconds
    assert got.reason.startswith("1048576 bytes waiting to be sent or acknowledged")


@pytest.mark.parametrize("seconds, expected", [
    (60, Keepalive(True, 15, 15, 3, 60000)),
    (5, Keepalive(True, 2, 1, 3, 5000)),
    (1, Keepalive(True, 1, 1, 3, 1000)),
    (86400, Keepalive(True, 21600, 21600, 3, 86400000)),
])
def test_settings_for(seconds, expected):
    assert rr.settings_for(seconds) == expected


def test_settings_add_up_to_the_user_timeout():
    for seconds in range(4, 3000, 7):
        s = rr.settings_for(seconds)
        assert s.idle + s.count * s.interval == seconds
        assert rr.give_up(s, silent(0)).seconds == seconds


@pytest.mark.parametrize("text, value", [("60", 60), ("5m", 300), ("2h", 7200), ("90s", 90),
                                         (" 7 ", 7)])
def test_parse_seconds(text, value):
    assert rr.parse_seconds(text) == value


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "1e3", "86401", "5d", "", "0x10", "٣"])
def test_parse_seconds_refuses(text):
    with pytest.raises(SocketsError, match="is not a time"):
        rr.parse_seconds(text)


def sock(proto, state, in_table=True):
    return Socket(fd=5, inode=1, proto=proto, state=state, in_table=in_table,
                  local=InetEndpoint("10.0.0.1", 1), peer=InetEndpoint("10.0.0.2", 2))


def test_refusals():
    assert rr.timeout_refusal(sock("tcp", "ESTAB")) is None
    assert rr.timeout_refusal(sock("tcp6", "CLOSE-WAIT")) is None
    assert "listening" in rr.timeout_refusal(sock("tcp", "LISTEN"))
    assert "not connected" in rr.timeout_refusal(sock("tcp", "UNCONN"))
    assert "TCP's" in rr.timeout_refusal(sock("udp", "ESTAB"))
    assert "UNIX" in rr.timeout_refusal(sock("unix", "ESTAB"))
    assert rr.kill_refusal(sock("tcp", "ESTAB")) is None
    assert rr.kill_refusal(sock("udp", "UNCONN")) is None
    assert "not bound" in rr.kill_refusal(sock("udp", "UNCONN", in_table=False))
    assert "EOPNOTSUPP" in rr.kill_refusal(sock("unix", "ESTAB"))
    assert "listening" in rr.kill_refusal(sock("tcp", "LISTEN"))
    assert rr.kill_refusal(sock("packet", "UNCONN")).endswith("not packet")


def test_duration_text():
    assert [render.duration_text(ms) for ms in (850, 42000, 485000, 28920000, 273600000)] == [
        "850ms", "42s", "8m05s", "8h02m", "3d04h"]


def test_restore_command_and_settings_text():
    old = Keepalive(False, 7200, 75, 9, 0)
    assert rr.restore_command(7, old) == (
        "sock-timeout -keepalive off -idle 7200 -interval 75 -count 9 -user-timeout 0 7")
    assert rr.settings_text(Keepalive(True, 15, 15, 3, 60000)) == (
        "keepalive on, idle 15s, 3 probes 15s apart, user timeout 60000ms")


def test_exact_settings():
    given = {"keepalive": ["off"], "idle": ["7200"], "interval": ["75"], "count": ["9"],
             "user-timeout": ["0"]}
    assert rr.exact_settings(given) == Keepalive(False, 7200, 75, 9, 0)
    with pytest.raises(SocketsError, match="missing: -count, -user-timeout"):
        rr.exact_settings({"keepalive": ["on"], "idle": ["5"], "interval": ["1"]})
    for name, bad in (("idle", "0"), ("idle", "32768"), ("count", "128"), ("interval", "x"),
                      ("user-timeout", "-1"), ("keepalive", "yes")):
        with pytest.raises(SocketsError, match="-%s" % name):
            rr.exact_settings(dict(given, **{name: [bad]}))
    with pytest.raises(SocketsError, match="give -idle once"):
        rr.exact_settings(dict(given, idle=["1", "2"]))


def test_timeout_lines():
    from gdb_sockets.model import Waiter
    before = Socket(fd=3, inode=9, proto="tcp", state="ESTAB", send_q=0,
                    local=InetEndpoint("10.77.0.1", 46634), peer=InetEndpoint("10.77.0.2", 5555),
                    waiters=(Waiter(15156, "recvfrom"),))
    old, new = Keepalive(False, 7200, 75, 9, 0), Keepalive(True, 5, 5, 3, 20000)
    quiet = silent(27000)
    outcome = rr.TimeoutOutcome(fd=3, before=before, old=old, new=new, silence=quiet,
                                give_up=rr.give_up(new, quiet))
    assert rr.timeout_lines(outcome) == [
        "fd 3: tcp 10.77.0.1:46634 -> 10.77.0.2:5555 ESTAB, silent 27s (data received 27s ago, "
        "sent 27s ago, last ACK 27s ago)",
        "  was: keepalive off, idle 7200s, 9 probes 75s apart, user timeout 0 (none)",
        "  now: keepalive on, idle 5s, 3 probes 5s apart, user timeout 20000ms",
        "  if the peer answers nothing, the kernel drops the connection within 5 s (silent 27s "
        "already, past the 20 s user timeout: the first probe, sent at once, decides); then a "
        "thread blocked on fd 3 fails with ETIMEDOUT (once the process runs); waiting now: "
        "LWP 15156 recvfrom",
        "  to put the old values back: sock-timeout -keepalive off -idle 7200 -interval 75 "
        "-count 9 -user-timeout 0 3"]
    dry = rr.timeout_lines(outcome, dry_run=True)
    assert dry[2].startswith("  would be: ") and not dry[-1].startswith("  to put")
    failed = rr.TimeoutOutcome(fd=3, before=before, old=old, failure="setsockopt: EINVAL")
    assert rr.timeout_lines(failed)[2] == "  not set: setsockopt: EINVAL"
    assert rr.timeout_lines(failed)[-1].startswith("  to put the old values back: ")


def test_kill_lines_and_confirmation():
    from gdb_sockets.model import Holder, Waiter
    from gdb_sockets.view.predict import POLLERR, POLLHUP, POLLIN, POLLPRI
    before = Socket(fd=3, inode=9, proto="tcp", state="ESTAB",
                    local=InetEndpoint("10.77.0.1", 1), peer=InetEndpoint("10.77.0.2", 2),
                    waiters=(Waiter(7, "recvfrom"),
                             Waiter(8, "epoll_wait", "epoll_wait on fd 5 for read",
                                    interest=POLLIN | POLLERR | POLLHUP),
                             Waiter(9, "pselect6", "select for urgent", interest=POLLPRI),
                             Waiter(10, "poll", "poll for read")))
    after = Socket(fd=3, inode=9, proto="tcp", state="UNCONN", in_table=False)
    done = rr.KillOutcome(fd=3, before=before, way="SOCK_DESTROY", errno=0, cookie=42, after=after)
    assert rr.kill_lines(done) == [
        "fd 3: tcp 10.77.0.1:1 -> 10.77.0.2:2: ESTAB -> UNCONN (no longer in the kernel's table)",
        "  SOCK_DESTROY (cookie 42) = 0: the peer was sent a reset; fd 3 stays open",
        "  LWP 7 recvfrom: fails with ECONNABORTED when the process resumes; then reads return 0 "
        "and writes fail with EPIPE (and SIGPIPE)",
        "  LWP 8 epoll_wait (epoll_wait on fd 5 for read): returns with fd 3 ready (read, "
        "hang-up, error) when the process resumes, and the next call on it fails with "
        "ECONNABORTED; then reads return 0 and writes fail with EPIPE (and SIGPIPE)",
        # select's except set waits for urgent data, which no abort brings
        "  LWP 9 pselect6 (select for urgent): goes on waiting: it waits on fd 3 for urgent "
        "data, and SOCK_DESTROY makes it ready for read, write, peer close, hang-up, error only",
        "  LWP 10 poll (poll for read): not predicted: what it waits for could not be read"]
    udp = Socket(fd=3, inode=9, proto="udp", state="ESTAB", local=InetEndpoint("10.77.0.1", 1),
                 peer=InetEndpoint("10.77.0.2", 2),
                 waiters=(Waiter(8, "poll", "poll for read", interest=POLLIN | POLLERR | POLLHUP),))
    udp_done = rr.KillOutcome(fd=3, before=udp, way="SOCK_DESTROY", errno=0, cookie=42,
                              after=after)
    assert rr.kill_lines(udp_done)[2].startswith(
        "  LWP 8 poll (poll for read): returns with fd 3 ready (error) when the process resumes")
    fallback = rr.KillOutcome(fd=3, before=before, way="disconnect", errno=0, cookie=42,
                              after=after, fallback_reason="SOCK_DESTROY: EPERM: Operation not permitted")
    lines = rr.kill_lines(fallback, held=False)
    assert lines[1] == ("  note: SOCK_DESTROY: EPERM: Operation not permitted; the disconnect "
                        "runs instead")
    assert lines[3].startswith("  LWP 7 recvfrom: fails with EPIPE, then ECONNRESET; ")
    stale = rr.KillOutcome(fd=3, before=before, way="SOCK_DESTROY", errno=2, cookie=42,
                           failure="the kernel has no socket ...", after=before)
    assert rr.kill_lines(stale)[-1] == "  SOCK_DESTROY (cookie 42): the kernel has no socket ..."
    assert rr.confirmation("abort", 99, [before]) is None
    shared = Socket(fd=4, inode=10, proto="tcp", state="ESTAB", holders=(Holder(5, "x", 3),))
    asked = rr.confirmation("abort", 99, [shared])
    assert asked.lines[0] == "About to abort 1 socket of process 99:"
    assert asked.lines[-1] == "Other processes hold the same socket: it changes for them too."
    assert asked.question == "Abort 1 socket? "
    assert rr.confirmation("set a timeout on", 99, [before, shared]).question == (
        "Set a timeout on 2 sockets? ")
