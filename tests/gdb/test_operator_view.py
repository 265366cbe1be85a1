"""Who is stuck on which socket, and who else holds it (real gdb, real processes)."""

from __future__ import annotations

import os
import re

import pytest

from harness import build, gdb_batch, json_from, wait_blocked

RECVFROM = 45  # x86-64


@pytest.fixture(scope="module")
def shared_binary():
    return build("ov_shared")


@pytest.fixture
def shared(shared_binary, targets):
    target = targets([shared_binary])
    wait_blocked(target.pid, target.info["tid_recv"], {RECVFROM})
    return target


def comm_of(pid: int) -> str:
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


def rows_by_fd(result):
    return {row["fd"]: row for row in json_from(result.out)}


def test_blocked_thread_is_a_waiter_of_its_fd_only(shared):
    fds = shared.info["fds"]
    rows = rows_by_fd(gdb_batch(shared.pid, "info sockets -json"))
    recv_lwp = shared.info["tid_recv"]
    poll_lwp = shared.info["tid_poll"]
    assert rows[fds["client"]]["waiters"] == [
        {"lwp": recv_lwp, "syscall": "recvfrom", "detail": None}]
    # The poller waits on the accepted end, not on the client.
    assert [w["lwp"] for w in rows[fds["accepted"]]["waiters"]] == [poll_lwp]
    assert rows[fds["accepted"]]["waiters"][0]["syscall"] == "poll"
    assert rows[fds["listen"]]["waiters"] == []
    # The dup names the same socket, but nobody waits on that fd number.
    assert rows[fds["dup"]]["waiters"] == []


def test_dup_is_marked_on_both_fds(shared):
    fds = shared.info["fds"]
    result = gdb_batch(shared.pid, "info sockets -json", "info sockets")
    rows = rows_by_fd(result)
    assert rows[fds["client"]]["also_fds"] == [fds["dup"]]
    assert rows[fds["dup"]]["also_fds"] == [fds["client"]]
    assert rows[fds["accepted"]]["also_fds"] == []
    line = [l for l in result.out.splitlines() if l.startswith("%d " % fds["client"])][-1]
    # A TCP connection a thread is blocked on says how long it has been silent.
    assert re.search(r"LWP %d recvfrom; silent [0-9]+m?s; also fd %d$"
                     % (shared.info["tid_recv"], fds["dup"]), line), line


def test_holders_option_names_the_forked_child(shared):
    fds = shared.info["fds"]
    child = shared.info["child"]
    name = comm_of(child)
    rows = rows_by_fd(gdb_batch(shared.pid, "info sockets -json -holders"))
    holders = rows[fds["client"]]["holders"]
    assert {"pid": child, "name": name, "fd": fds["client"]} in holders
    assert {"pid": child, "name": name, "fd": fds["dup"]} in holders
    assert all(h["pid"] != shared.pid for h in holders)
    # Without -holders no other process is scanned.
    plain = rows_by_fd(gdb_batch(shared.pid, "info sockets -json"))
    assert "holders" not in plain[fds["client"]]


def test_sock_shutdown_names_the_child_before_acting(shared):
    fds = shared.info["fds"]
    child = shared.info["child"]
    result = gdb_batch(shared.pid, "sock-shutdown -dry-run %d" % fds["client"])
    assert result.rc == 0, result
    assert "also fd %d of this process" % fds["dup"] in result.out
    assert ("also open in pid %d (%s) fd %d: it is shut down there too"
            % (child, comm_of(child), fds["client"])) in result.out, result.out
    assert "(dry run: nothing done)" in result.out
    # Batch mode answers the confirmation, and says that it asked.
    result = gdb_batch(shared.pid, "sock-shutdown %d" % fds["client"])
    out = result.out
    asked = out.index("Other processes hold the same socket and lose it too.")
    acted = out.index("shutdown(%d, SHUT_RDWR) = 0" % fds["client"])
    assert asked < acted, out
    assert "waiting now: LWP %d recvfrom" % shared.info["tid_recv"] in out
    assert shared.expect("WOKE", timeout=10) == "WOKE ret=0"
    assert os.path.exists("/proc/%d" % child)
