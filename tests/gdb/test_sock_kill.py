"""sock-kill through real gdb, against processes in namespaces the tests make.

The target (rm_client.py) is blocked in recv() on one of two connections
to rm_peer.py, in another namespace over a veth pair (remedy_lab.Lab).
What is asserted is what each program saw: the target's reader
(WOKE err=...), its other connection (OTHER ok) and the peer
(PEER-ERR PORT ECONNRESET: it got the reset).
"""

import os
import sys

import pytest

import harness
from remedy_lab import PEER_ADDRESS, Lab, ss_tcp_info

PEER = os.path.join(harness.TARGETS_DIR, "rm_peer.py")
CLIENT = os.path.join(harness.TARGETS_DIR, "rm_client.py")
PORT = "5555"
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


@pytest.fixture
def lab():
    with Lab() as made:
        yield made


def start(lab, targets, kind="tcp", as_nobody=False):
    peer = targets(lab.in_peer([sys.executable, PEER, PORT]))
    argv = [sys.executable, CLIENT, PEER_ADDRESS, PORT, kind]
    client = targets(lab.in_target((NOBODY if as_nobody else []) + argv))
    if kind != "udp":
        ports = sorted(client.info["ports"].values())
        assert sorted(int(peer.expect("ACCEPT").split()[1]) for _ in ports) == ports
    return peer, client


def test_kill_resets_the_peer_and_only_that_connection(lab, targets):
    peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-kill %d" % fd)
    assert r.rc == 0, r
    assert "fd %d: tcp 10.77.0.1:%d -> 10.77.0.2:5555: ESTAB -> UNCONN (no longer in the " \
        "kernel's table)" % (fd, client.info["ports"]["stuck"]) in r.out
    assert "= 0: the peer was sent a reset; fd %d stays open" % fd in r.out
    assert "  LWP %d recvfrom: fails with ECONNABORTED when the process resumes" % client.pid in r.out
    assert client.expect("WOKE") == "WOKE err=ECONNABORTED"
    assert client.expect("OTHER") == "OTHER ok"
    assert peer.expect("PEER-") == "PEER-ERR %d ECONNRESET" % client.info["ports"]["stuck"]
    assert ss_tcp_info(lab, client.info["ports"]["other"])["state"] == "ESTAB"


def test_kill_without_cap_net_admin_disconnects_through_a_copy(lab, targets):
    # gdb as nobody, in the target's namespace: SOCK_DESTROY is refused
    # (EPERM), the disconnect on the copy needs no privilege.
    peer, client = start(lab, targets, as_nobody=True)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-kill %d" % fd,
                          prefix=lab.in_target(NOBODY))
    assert r.rc == 0, r
    assert "note: SOCK_DESTROY: EPERM: Operation not permitted; the disconnect runs instead" in r.out
    assert "connect(AF_UNSPEC) on a copy = 0: the peer was sent a reset" in r.out
    assert "  LWP %d recvfrom: fails with ECONNRESET when the process resumes" % client.pid in r.out
    # Held stopped by gdb, the reader meets the reset when it resumes (a
    # reader blocked while it ran got EPIPE first: test_remedy_actions).
    assert client.expect("WOKE") == "WOKE err=ECONNRESET"
    assert peer.expect("PEER-") == "PEER-ERR %d ECONNRESET" % client.info["ports"]["stuck"]
    assert client.expect("OTHER") == "OTHER ok"


def test_kill_udp_wakes_the_reader(lab, targets):
    _peer, client = start(lab, targets, kind="udp")
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-kill %d" % fd)
    assert r.rc == 0, r
    assert "= 0: UDP tells the peer nothing; fd %d stays open" % fd in r.out
    assert client.expect("WOKE") == "WOKE err=ECONNABORTED"


def test_unix_and_others_refused(lab, targets):
    _peer, client = start(lab, targets)
    fds = client.info["fds"]
    r = harness.gdb_batch(client.pid, "sock-kill %d" % fds["unix"])
    assert r.rc == 1
    assert ("sock-kill: fd %d: the kernel aborts only TCP and UDP sockets (SOCK_DESTROY "
            "answers EOPNOTSUPP for UNIX); use sock-shutdown; nothing done" % fds["unix"]) in r.err
    r = harness.gdb_batch(client.pid, "sock-kill 0")
    assert r.rc == 1 and "sock-kill: fd 0 is not a socket" in r.err
    assert list(client.lines(timeout=0.3)) == []


def test_dry_run_names_the_cookie_and_does_nothing(lab, targets):
    peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-kill -dry-run %d" % fd)
    assert r.rc == 0, r
    assert "Would abort in process %d:" % client.pid in r.out
    assert "-> SOCK_DESTROY (cookie " in r.out and "(dry run: nothing done)" in r.out
    assert ss_tcp_info(lab, client.info["ports"]["stuck"])["state"] == "ESTAB"
    assert list(peer.lines(timeout=0.3)) == []


def test_json(lab, targets):
    peer, client = start(lab, targets)
    fd = client.info["fds"]["stuck"]
    r = harness.gdb_batch(client.pid, "sock-kill -json %d" % fd)
    assert r.rc == 0, r
    [outcome] = harness.json_from(r.out)
    assert (outcome["ok"], outcome["way"], outcome["errno"]) == (True, "SOCK_DESTROY", None)
    assert outcome["after"]["state"] == "UNCONN" and outcome["after"]["in_table"] is False
    assert peer.expect("PEER-") == "PEER-ERR %d ECONNRESET" % client.info["ports"]["stuck"]


def test_help():
    r = harness.gdb_batch(None, "help sock-kill", "help running")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "Abort a TCP or UDP socket of the current process: the peer gets a reset."
    assert "Usage: sock-kill [OPTIONS] FD..." in lines
    assert "See also: sock-timeout, sock-shutdown, info sockets." in lines
    assert "sock-kill -- Abort a TCP or UDP socket" in r.out
