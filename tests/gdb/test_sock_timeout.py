"""sock-timeout through real gdb, against processes in namespaces the tests make.

The target (tests/targets/rm_client.py) is blocked in recv() on a TCP
connection to rm_peer.py in another namespace, over a veth pair
(remedy_lab.Lab); "blackholed" sets the peer's end down.  What is asserted
is what the target saw (WOKE err=ETIMEDOUT) and what ss shows in its
namespace, not our words alone.
"""

import os
import re
import sys
import time

import pytest

import harness
from remedy_lab import PEER_ADDRESS, Lab, ss_tcp_info

PEER = os.path.join(harness.TARGETS_DIR, "rm_peer.py")
CLIENT = os.path.join(harness.TARGETS_DIR, "rm_client.py")
PORT = "5555"
DEFAULTS = "sock-timeout -keepalive off -idle 7200 -interval 75 -count 9 -user-timeout 0 %d"


@pytest.fixture
def lab():
    with Lab() as made:
        yield made


def start(lab, targets, kind="tcp"):
    peer = targets(lab.in_peer([sys.executable, PEER, PORT]))
    client = targets(lab.in_target([sys.executable, CLIENT, PEER_ADDRESS, PORT, kind]))
    if kind != "udp":
        ports = sorted(client.info["ports"].values())
        assert sorted(int(peer.expect("ACCEPT").split()[1]) for _ in ports) == ports
    return peer, client


def within(out):
    """The bound the report gives: 'dropped within 4 s'."""
    return float(re.search(r"drops the connection within ([0-9.]+) s", out).group(1))


def test_blackholed_peer_reader_wakes_with_etimedout(lab, targets):
    _peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    lab.blackhole()
    r = harness.gdb_batch(client.pid, "sock-timeout %d 4" % fd)
    assert r.rc == 0, r
    assert "  was: keepalive off, idle 7200s, 9 probes 75s apart, user timeout 0 (none)\n" in r.out
    assert "  now: keepalive on, idle 1s, 3 probes 1s apart, user timeout 4000ms\n" in r.out
    assert ("fails with ETIMEDOUT (once the process runs); waiting now: LWP %d recvfrom\n"
            % client.pid) in r.out
    assert "  to put the old values back: %s\n" % (DEFAULTS % fd) in r.out
    bound = within(r.out)
    assert 0 < bound <= 4
    # A liveness wait, not a timing: the kernel's timers decide.
    assert client.expect("WOKE", timeout=bound + 10) == "WOKE err=ETIMEDOUT"
    assert ss_tcp_info(lab, client.info["ports"]["stuck"]) == {}
    assert ss_tcp_info(lab, client.info["ports"]["other"])["state"] == "ESTAB"


def test_live_idle_peer_is_probed_and_kept(lab, targets):
    peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-timeout -json %d 2" % fd)
    assert r.rc == 0, r
    [outcome] = harness.json_from(r.out)
    assert outcome["ok"] and outcome["new"] == {"keepalive": True, "idle_s": 1, "interval_s": 1,
                                                "count": 3, "user_timeout_ms": 2000}
    assert outcome["restore"] == DEFAULTS % fd
    bound = outcome["gives_up_within_s"]
    assert 0 < bound <= 2
    assert list(client.lines(timeout=2 * bound + 1)) == []
    info = ss_tcp_info(lab, client.info["ports"]["stuck"])
    assert info["state"] == "ESTAB" and info["timer"].startswith("keepalive,")
    # No data all along, yet an ACK within the last second: probes answered.
    assert int(info["lastrcv"]) > 2 * bound * 1000 and int(info["lastack"]) < 1500
    assert list(peer.lines(timeout=0.2)) == []


def test_restore_line_puts_the_old_values_back(lab, targets):
    _peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-timeout %d 1h" % fd, DEFAULTS % fd,
                          "sock-timeout -dry-run -json %d 60" % fd)
    assert r.rc == 0, r
    assert "  now: keepalive on, idle 900s, 3 probes 900s apart, user timeout 3600000ms\n" in r.out
    assert "  now: keepalive off, idle 7200s, 9 probes 75s apart, user timeout 0 (none)\n" in r.out
    [dry] = harness.json_from(r.out[r.out.index("\n[") + 1:])
    assert dry["old"] == {"keepalive": False, "idle_s": 7200, "interval_s": 75, "count": 9,
                          "user_timeout_ms": 0}
    assert "timer" not in ss_tcp_info(lab, client.info["ports"]["stuck"])


def test_dry_run_sets_nothing(lab, targets):
    _peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-timeout -dry-run %d 60" % fd)
    assert r.rc == 0, r
    assert "  would be: keepalive on, idle 15s, 3 probes 15s apart, user timeout 60000ms\n" in r.out
    assert "(dry run: nothing done)" in r.out
    assert "timer" not in ss_tcp_info(lab, client.info["ports"]["stuck"])


def test_refusals_touch_nothing(lab, targets):
    _peer, client = start(lab, targets)
    fds = client.info["fds"]
    cases = [
        ("sock-timeout %d 60" % fds["unix"],
         "sock-timeout: fd %d: a UNIX socket has no keepalive or user timeout" % fds["unix"]),
        ("sock-timeout 0 60", "sock-timeout: fd 0 is not a socket"),
        ("sock-timeout %d 0" % fds["stuck"], "sock-timeout: '0' is not a time"),
        ("sock-timeout %d" % fds["stuck"], "sock-timeout: which socket?"),
        ("sock-timeout -idle 5 %d" % fds["stuck"], "sock-timeout: give all of -keepalive"),
        ("sock-timeout -proto unix 60", "sock-timeout: fd %d: a UNIX socket" % fds["unix"]),
    ]
    for command, message in cases:
        r = harness.gdb_batch(client.pid, command)
        assert r.rc == 1 and message in r.err, (command, r)
    assert "timer" not in ss_tcp_info(lab, client.info["ports"]["stuck"])


def test_udp_refused(lab, targets):
    _peer, client = start(lab, targets, kind="udp")
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-timeout %d 60" % fd)
    assert r.rc == 1
    assert ("sock-timeout: fd %d: keepalive and TCP_USER_TIMEOUT are TCP's; udp has no way "
            "to judge its peer; nothing done" % fd) in r.err


def test_several_sockets_are_confirmed_first(lab, targets):
    _peer, client = start(lab, targets)
    r = harness.gdb_batch(client.pid, "set confirm on", "sock-timeout -proto tcp 60")
    assert r.rc == 0, r
    assert "About to set a timeout on 2 sockets of process %d:" % client.pid in r.out
    assert "Set a timeout on 2 sockets? (y or n) [answered Y; input not from terminal]" in r.out
    for port in client.info["ports"].values():
        assert ss_tcp_info(lab, port)["timer"].startswith("keepalive,")


def test_silence_figures_match_ss(lab, targets):
    _peer, client = start(lab, targets)
    time.sleep(1.2)  # something to measure: 1.2 s of silence
    before = time.monotonic()
    r = harness.gdb_batch(client.pid, "info sockets -json", "info sockets")
    spent_ms = (time.monotonic() - before) * 1000
    assert r.rc == 0, r
    rows = {row["fd"]: row for row in harness.json_from(r.out)}
    fds = client.info["fds"]
    for name in ("stuck", "other"):
        ours = rows[fds[name]]
        theirs = ss_tcp_info(lab, client.info["ports"][name])
        for key, ss_key in (("last_recv_ms", "lastrcv"), ("last_send_ms", "lastsnd"),
                            ("last_ack_ms", "lastack")):
            # ss asks later, by at most the time gdb took.
            assert 0 <= int(theirs[ss_key]) - ours[key] <= spent_ms + 100, (name, key)
        assert ours["last_recv_ms"] >= 1200
    assert rows[fds["unix"]].get("last_recv_ms") is None
    # Notes: only the connection with a blocked thread says how long it is
    # silent; the table was made after the JSON and before ss.
    table = r.out[r.out.index("FD "):]
    stuck_line = next(l for l in table.splitlines() if l.startswith("%d " % fds["stuck"]))
    other_line = next(l for l in table.splitlines() if l.startswith("%d " % fds["other"]))
    shown = re.search(r"LWP %d recvfrom; silent (\d+)s$" % client.pid, stuck_line)
    assert shown, stuck_line
    stuck_ss = ss_tcp_info(lab, client.info["ports"]["stuck"])
    assert rows[fds["stuck"]]["last_recv_ms"] // 1000 <= int(shown.group(1))
    assert int(shown.group(1)) <= int(stuck_ss["lastrcv"]) // 1000
    assert "silent" not in other_line


def test_help():
    r = harness.gdb_batch(None, "help sock-timeout", "help running")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "Have the kernel drop a connection whose peer has stopped answering."
    assert "Usage: sock-timeout [OPTIONS] FD... SECONDS" in lines
    assert "See also: sock-kill, sock-shutdown, info sockets." in lines
    assert re.search(r"^sock-timeout -- Have the kernel drop a connection", r.out, re.M)


def test_silence_of_a_blocked_connection_on_the_dump_path(lab, targets):
    # A dump does not ask for TCP_INFO (it would cost every socket of the
    # namespace): only the connection a thread is blocked on gets its
    # figures, asked of the socket itself.
    _peer, client = start(lab, targets)
    time.sleep(1.2)
    r = harness.gdb_batch(client.pid, "python import gdb_sockets.listing.join as L; "
                          "L.STRATEGY = 'dump'", "info sockets -json", "info sockets")
    assert r.rc == 0, r
    rows = {row["fd"]: row for row in harness.json_from(r.out)}
    fds = client.info["fds"]
    assert rows[fds["stuck"]]["last_recv_ms"] >= 1200
    assert rows[fds["other"]]["last_recv_ms"] is None
    stuck_line = next(l for l in r.out.splitlines() if l.startswith("%d " % fds["stuck"]))
    assert re.search(r"LWP %d recvfrom; silent [0-9]+s$" % client.pid, stuck_line), stuck_line
