"""actions/remedies.py against real processes in namespaces the tests make
(remedy_lab.Lab): the functions sock-timeout, sock-kill and the CLI share.

What is asserted is what the programs saw: the target's blocked recv()
(rm_client.py prints WOKE and the errno), the peer's (rm_peer.py prints
PEER-ERR ... ECONNRESET for a reset) and ss in the target's namespace.
"""

import os
import sys
import time

import pytest

import harness
from remedy_lab import PEER_ADDRESS, Lab, ss_tcp_info

from gdb_sockets.actions import remedies
from gdb_sockets.kernel import destroy, procfs
from gdb_sockets.kernel.netns import open_diag_socket
from gdb_sockets.listing.join import list_sockets
from gdb_sockets.view import remedy_report

PEER = os.path.join(harness.TARGETS_DIR, "rm_peer.py")
CLIENT = os.path.join(harness.TARGETS_DIR, "rm_client.py")
PORT = "5555"


@pytest.fixture(scope="module", autouse=True)
def each_gdb():
    """No gdb runs here: these tests run once, not once per gdb (this
    replaces conftest's fixture of the same name for this module)."""
    yield None


@pytest.fixture
def lab():
    with Lab() as made:
        yield made


def start(lab, targets, kind="tcp", peer_args=()):
    peer = targets(lab.in_peer([sys.executable, PEER, PORT] + list(peer_args)))
    client = targets(lab.in_target([sys.executable, CLIENT, PEER_ADDRESS, PORT, kind]))
    if kind != "udp":
        ports = sorted(client.info["ports"].values())
        assert sorted(int(peer.expect("ACCEPT").split()[1]) for _ in ports) == ports
    return peer, client


def record(pid, fd):
    found = list_sockets(procfs.LocalProc(), pid, local=True)
    return next(s for s in found.sockets if s.fd == fd)


def test_timeout_blackholed_peer_reader_gets_etimedout(lab, targets):
    _peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    lab.blackhole()
    outcome = remedies.set_timeout(client.pid, stuck, remedy_report.settings_for(4))
    assert outcome.ok, outcome.failure
    assert outcome.old == remedy_report.Keepalive(False, 7200, 75, 9, 0)
    assert outcome.new == remedy_report.Keepalive(True, 1, 1, 3, 4000)
    bound = outcome.give_up.seconds
    assert 0 < bound <= 4
    # A liveness wait, not a timing: the kernel's own timers decide.
    assert client.expect("WOKE", timeout=bound + 10) == "WOKE err=ETIMEDOUT"
    assert ss_tcp_info(lab, client.info["ports"]["stuck"]) == {}  # gone from the table
    assert ss_tcp_info(lab, client.info["ports"]["other"])["state"] == "ESTAB"


def wait_blocked_in_send(pid, timeout=10.0):
    """Until the main thread sleeps waiting for send-buffer space."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/%d/wchan" % pid) as f:
            if f.read() == "wait_woken":
                with open("/proc/%d/syscall" % pid) as f:
                    if f.read().split()[0] == "44":  # sendto
                        return
        time.sleep(0.05)
    raise AssertionError("process %d never blocked in send" % pid)


def test_timeout_blackholed_peer_writer_gets_etimedout(lab, targets):
    _peer, client = start(lab, targets, kind="tcp-write", peer_args=["quiet"])
    wait_blocked_in_send(client.pid)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    assert stuck.send_q > 0
    lab.blackhole()
    outcome = remedies.set_timeout(client.pid, stuck, remedy_report.settings_for(3))
    assert outcome.ok, outcome.failure
    assert "waiting to be sent or acknowledged" in outcome.give_up.reason
    assert client.expect("WOKE", timeout=outcome.give_up.seconds + 10) == "WOKE err=ETIMEDOUT"


def test_timeout_live_idle_peer_is_probed_and_kept(lab, targets):
    peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    outcome = remedies.set_timeout(client.pid, stuck, remedy_report.settings_for(2))
    assert outcome.ok, outcome.failure
    bound = outcome.give_up.seconds
    assert bound <= 2
    # Twice the bound: a dead peer would have been dropped by now.
    assert list(client.lines(timeout=2 * bound + 1)) == []
    info = ss_tcp_info(lab, client.info["ports"]["stuck"])
    assert info["state"] == "ESTAB"
    assert info["timer"].startswith("keepalive,")
    # No data for the whole test, yet ACKs came within the last interval:
    # the peer answered the probes.
    assert int(info["lastrcv"]) > 2 * bound * 1000
    assert int(info["lastack"]) < 1500
    assert list(peer.lines(timeout=0.2)) == []


def test_timeout_dry_run_reads_and_changes_nothing(lab, targets):
    _peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    outcome = remedies.read_timeout(client.pid, stuck, remedy_report.settings_for(60))
    assert outcome.ok and outcome.old.enabled is False
    assert outcome.give_up.seconds == pytest.approx(60, abs=1)  # less the silence so far
    assert "timer" not in ss_tcp_info(lab, client.info["ports"]["stuck"])


def test_kill_tcp_resets_the_peer_and_nothing_else(lab, targets):
    peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    outcome = remedies.kill(client.pid, stuck)
    assert (outcome.ok, outcome.way, outcome.errno) == (True, "SOCK_DESTROY", 0), outcome.failure
    assert client.expect("WOKE") == "WOKE err=ECONNABORTED"
    assert client.expect("OTHER") == "OTHER ok"
    assert peer.expect("PEER-") == "PEER-ERR %d ECONNRESET" % client.info["ports"]["stuck"]
    assert ss_tcp_info(lab, client.info["ports"]["other"])["state"] == "ESTAB"
    # The fd stays open (the socket is closed for good, no longer in a table).
    assert os.readlink("/proc/%d/fd/%d" % (client.pid, stuck.fd)) == "socket:[%d]" % stuck.inode


def test_kill_with_a_stale_cookie_hits_nothing(lab, targets):
    peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    dry = remedies.kill(client.pid, stuck, dry_run=True)
    ends = stuck.local, stuck.peer
    import socket as socket_module
    target = destroy.Target(socket_module.AF_INET, destroy.IPPROTO_TCP,
                            socket_module.inet_aton(ends[0].address), ends[0].port,
                            socket_module.inet_aton(ends[1].address), ends[1].port,
                            dry.cookie + 1)
    with open_diag_socket(client.pid) as diag:
        assert destroy.send_destroy(diag, target) == 2  # ENOENT
    assert ss_tcp_info(lab, client.info["ports"]["stuck"])["state"] == "ESTAB"
    assert list(client.lines(timeout=0.5)) == []
    # The reader was still blocked: the right cookie wakes it.
    with open_diag_socket(client.pid) as diag:
        assert destroy.send_destroy(diag, target._replace(cookie=dry.cookie)) == 0
    assert client.expect("WOKE") == "WOKE err=ECONNABORTED"


def test_kill_udp_wakes_the_reader(lab, targets):
    _peer, client = start(lab, targets, kind="udp")
    stuck = record(client.pid, client.info["fds"]["stuck"])
    outcome = remedies.kill(client.pid, stuck)
    assert (outcome.ok, outcome.way) == (True, "SOCK_DESTROY"), outcome.failure
    assert client.expect("WOKE") == "WOKE err=ECONNABORTED"
    assert client.expect("OTHER") == "OTHER ok"


def test_kill_refuses_unix(lab, targets):
    _peer, client = start(lab, targets)
    pair = record(client.pid, client.info["fds"]["unix"])
    assert "EOPNOTSUPP" in remedy_report.kill_refusal(pair)
    assert "UNIX" in remedy_report.timeout_refusal(pair)


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
_KILL_AS_CALLER = """
import sys
sys.path.insert(0, %r)
from gdb_sockets.actions import remedies
from gdb_sockets.kernel import procfs
from gdb_sockets.listing.join import list_sockets
sock = next(s for s in list_sockets(procfs.LocalProc(), %d, local=True).sockets if s.fd == %d)
outcome = remedies.kill(%d, sock)
print(outcome.way, outcome.errno, outcome.fallback_reason)
"""


def test_kill_without_cap_net_admin_while_the_reader_runs(lab, targets):
    # The CLI's case: nobody, in the target's namespace, no ptrace: the
    # disconnect runs while the reader is blocked in recv().
    import subprocess
    peer, client = start_as_nobody(lab, targets)
    fd = client.info["fds"]["stuck"]
    code = _KILL_AS_CALLER % (harness.REPO_DIR, client.pid, fd, client.pid)
    done = subprocess.run(lab.in_target(NOBODY + [sys.executable, "-c", code]),
                          capture_output=True, text=True, timeout=30)
    assert done.stdout == "disconnect 0 SOCK_DESTROY: EPERM: Operation not permitted\n", done
    assert client.expect("WOKE") == "WOKE err=EPIPE"
    assert peer.expect("PEER-ERR") == "PEER-ERR %d ECONNRESET" % client.info["ports"]["stuck"]


def start_as_nobody(lab, targets):
    peer = targets(lab.in_peer([sys.executable, PEER, PORT]))
    client = targets(lab.in_target(NOBODY + [sys.executable, CLIENT, PEER_ADDRESS, PORT]))
    ports = sorted(client.info["ports"].values())
    assert sorted(int(peer.expect("ACCEPT").split()[1]) for _ in ports) == ports
    return peer, client


def test_kill_that_meets_enoent_does_nothing_else(lab, targets, monkeypatch):
    # The socket changed between the cookie's reading and SOCK_DESTROY (a
    # race, made here by a cookie off by one): ENOENT, and no disconnect
    # falls in after it.
    peer, client = start(lab, targets)
    stuck = record(client.pid, client.info["fds"]["stuck"])
    real_cookie = destroy.cookie
    monkeypatch.setattr(destroy, "cookie", lambda fd: real_cookie(fd) + 1)
    outcome = remedies.kill(client.pid, stuck)
    assert (outcome.ok, outcome.way, outcome.errno) == (False, "SOCK_DESTROY", 2)
    assert "no socket with that 4-tuple and cookie" in outcome.failure
    assert ss_tcp_info(lab, client.info["ports"]["stuck"])["state"] == "ESTAB"
    assert list(client.lines(timeout=0.5)) == []
    assert [l for l in peer.lines(timeout=0.2) if l.startswith("PEER-")] == []
