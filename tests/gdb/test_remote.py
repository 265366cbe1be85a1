"""gdb_sockets on a process behind gdbserver (`target remote`, `target extended-remote`).

The target's /proc is read through gdb's remote file access (vFile
packets), never the local one; sock-shutdown runs the raw syscall
(measured: an inferior call through gdbserver 13.1 killed the target
after detach); pidfd cannot reach another host.  Here gdbserver runs on
the same machine, so what gdb sees remotely is checked against a local
attach to the same process and against what the process says of itself.

RemoteProc itself, with a fake gdbserver, is tested in
tests/unit/test_remote_proc.py.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import harness
from harness import build, gdb_batch, gdb_batch_args, json_from, no_traceback

if harness.REPO_DIR not in sys.path:
    sys.path.insert(0, harness.REPO_DIR)

from gdb_sockets.kernel import remote_proc  # noqa: E402  (pure modules)

KEYS = ("fd", "inode", "proto", "state", "recv_q", "send_q", "local", "peer", "type",
        "in_table", "uid")


# --------------------------------------------------------------------------
# Real gdbserver


class GdbServer:
    """gdbserver on 127.0.0.1 with a port it chooses; its output collected."""

    def __init__(self, args):
        self.popen = subprocess.Popen(
            [harness.gdbserver_path()] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        self._lines: "queue.Queue" = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()
        line = self.expect("Listening on port ")
        self.port = int(line.split()[-1])

    def _pump(self):
        for line in self.popen.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, prefix, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError("gdbserver: no %r line; output %r" % (prefix, self.seen))
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def stop(self):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.popen.stdout.close()


@pytest.fixture
def gdbservers():
    """Starts gdbservers (the selected gdb's own); all are stopped at the end.
    gdbserver is a test dependency: its absence fails, it is not skipped."""
    assert harness.gdbserver_path(), "gdbserver is not installed (install.sh --test-deps)"
    started = []

    def start(args):
        server = GdbServer(args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def survivor():
    return build("rm_survivor")


def attached(gdbservers, pid):
    return gdbservers(["--attach", "127.0.0.1:0", str(pid)])


def remote_gdb(server, *commands, settings=()):
    return gdb_batch_args([], *settings, "target remote 127.0.0.1:%d" % server.port, *commands)


def assert_keeps_living(target, seconds=1.5):
    """ALIVE lines keep coming and the process is not dying."""
    alive = [line for line in target.lines(seconds) if line.startswith("ALIVE ")]
    assert len(alive) >= 5, (alive, target.returncode(0), target.stderr())
    assert target.alive() and target.returncode(0) is None


def check_against_target(entries, target):
    """The listing has exactly the target's sockets, by fd and inode."""
    fds, inodes = target.info["fds"], target.info["inodes"]
    assert {e["fd"]: e["inode"] for e in entries} == {fds[n]: inodes[n] for n in fds}


@pytest.mark.parametrize("fd_table", ["probe", "osdata"])
def test_listing_matches_local_attach(survivor, targets, gdbservers, fd_table):
    args = ["--high-fd", "1500"] if fd_table == "osdata" else []
    target = targets([survivor] + args, netns=True)
    fdsize = int(re.search(r"FDSize:\s*(\d+)",
                           open("/proc/%d/status" % target.pid).read()).group(1))
    assert (fdsize > remote_proc.PROBE_LIMIT) == (fd_table == "osdata"), fdsize  # the premise
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "info sockets -json", "info sockets", "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "Detaching from process %d" % target.pid in server.expect("Detaching")
    remote_entries = json_from(result.out)
    check_against_target(remote_entries, target)
    assert "Note: UNIX peers and queues are not known for this target." in result.out

    local = gdb_batch(target.pid, "info sockets -json")
    assert local.rc == 0, local
    local_entries = json_from(local.out)
    assert [e["fd"] for e in remote_entries] == [e["fd"] for e in local_entries]
    for got, want in zip(remote_entries, local_entries):
        got = {k: got.get(k) for k in KEYS}
        want = {k: want.get(k) for k in KEYS}
        if not want["in_table"]:
            # Only a local reader gets the kernel's protocol name of a
            # socket in no table: remotely it is said to be unknown, and
            # so is its state.
            assert (got["proto"], got["state"], got["in_table"]) == ("unknown", "?", False), got
            got["proto"], got["state"] = want["proto"], want["state"]
        if want["proto"] == "unix":
            # The peer and queues come from sock_diag on gdb's host.
            assert got["peer"] == {"inode": None, "path": None, "known": False}, got
            assert got["recv_q"] is None and got["send_q"] is None, got
            for key in ("peer", "recv_q", "send_q"):
                got[key] = want[key]
        if want["state"] == "LISTEN" and want["proto"] in ("tcp", "tcp6"):
            # A listener's backlog (its Send-Q) is in sock_diag, not the table.
            assert got["send_q"] is None, got
            got["send_q"] = want["send_q"]
        assert got == want
    assert target.alive()


def test_sock_shutdown_wakes_reader_and_target_lives_on(survivor, targets, gdbservers):
    target = targets([survivor, "--threads", "2"], netns=True)
    client = target.info["fds"]["client"]
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "sock-shutdown %d" % client, "detach")
    assert result.rc == 0, result
    no_traceback(result)
    # FIN-WAIT-1 until the peer's ACK is processed, then FIN-WAIT-2: both are true.
    assert re.search(r"^fd %d: tcp .*: ESTAB -> FIN-WAIT-[12]$" % client, result.out, re.M), result
    assert "shutdown(%d, SHUT_RDWR) = 0" % client in result.out
    assert "[method: syscall]" in result.out
    assert target.expect("WOKE", 5) == "WOKE fd=%d ret=0 errno=0" % client
    assert_keeps_living(target)


def test_pidfd_and_call_are_refused_and_nothing_is_touched(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    client = target.info["fds"]["client"]
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "sock-shutdown -method pidfd %d" % client,
                        "sock-shutdown -method call %d" % client)
    assert result.rc == 1, result
    no_traceback(result)
    assert "sock-shutdown: -method pidfd cannot run here: pidfd works only on a process " \
           "of gdb's own host" in result.err
    assert "sock-shutdown: -method call cannot run here: an inferior call through " \
           "gdbserver" in result.err
    server.expect("Detaching")  # gdb -batch detached at exit
    # Untouched: the reader is still blocked and its socket still connected.
    woke = [line for line in target.lines(1.0) if line.startswith("WOKE")]
    assert woke == [] and target.alive()
    rows = harness.ss_rows(pid=target.pid, netns_pid=target.pid)
    assert rows[target.info["inodes"]["client"]]["state"] == "ESTAB"


def test_extended_remote_attach(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    client = target.info["fds"]["client"]
    server = gdbservers(["--multi", "127.0.0.1:0"])
    result = gdb_batch_args([], "target extended-remote 127.0.0.1:%d" % server.port,
                            "attach %d" % target.pid,
                            "python print('KIND', gdb.selected_inferior().connection.type)",
                            "info sockets -json", "sock-shutdown %d" % client, "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "KIND extended-remote" in result.out
    check_against_target(json_from(result.out), target)
    assert "shutdown(%d, SHUT_RDWR) = 0" % client in result.out
    assert target.expect("WOKE", 5) == "WOKE fd=%d ret=0 errno=0" % client
    assert_keeps_living(target)


def test_pid_namespace_and_mount_namespace(survivor, targets, gdbservers):
    """A process in a container (own pid, mount and net namespaces, own /proc),
    gdbserver outside it.  gdb reads the program's files in the container's
    mount namespace (vFile:setfs), where /proc does not know gdbserver's pid."""
    target = targets(["unshare", "-p", "-f", "-m", "--mount-proc", "-n", "--", "sh", "-c",
                      'ip link set lo up && exec "$@"', "sh", survivor])
    assert target.info["nspid"] == 1
    with open("/proc/%d/task/%d/children" % (target.pid, target.pid)) as f:
        pid = int(f.read().split()[0])
    server = attached(gdbservers, pid)
    result = remote_gdb(server, "info sockets -json", "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "Reading symbols from target:" in result.out  # gdb did read in the container
    check_against_target(json_from(result.out), target)


def test_made_up_pid_without_multiprocess_extensions(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "python print('PID', gdb.selected_inferior().pid)",
                        "info sockets -json", "detach",
                        settings=("set remote multiprocess-feature-packet off",))
    assert result.rc == 0, result
    assert "PID 42000" in result.out  # the premise: gdb does not know the real pid
    check_against_target(json_from(result.out), target)


def test_process_killed_while_stopped(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    wait_dead = ("python import os, select; fd = os.pidfd_open(%d); "
                 "os.kill(%d, 9); select.select([fd], [], [], 10)" % (target.pid, target.pid))
    result = remote_gdb(server, wait_dead, "info sockets")
    assert result.rc == 1, result
    no_traceback(result)
    assert "info sockets: process %d has exited" % target.pid in result.err


def test_holders_is_refused_through_gdbserver(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    # One connection: gdbserver --attach serves a single gdb.
    result = remote_gdb(server, "info sockets -holders", "info sockets -extended")
    assert result.rc == 1, result
    no_traceback(result)
    assert "info sockets: -holders needs a list of every process's fds" in result.err
    assert "info sockets: -extended asks each socket through a copy in gdb's own" in result.err
    # and each says what to do instead
    assert "run gdb on the target's host: gdb -p PID -batch -ex 'info sockets -extended'" \
        in result.err, result.err


def test_timeout_and_kill_are_refused_through_gdbserver(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    client = target.info["fds"]["client"]
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "sock-timeout %d 60" % client, "sock-kill %d" % client)
    assert result.rc == 1, result
    no_traceback(result)
    assert ("sock-timeout: not through gdbserver: a copy of the socket in gdb's own process "
            "cannot reach a process on another host") in result.err
    assert "sock-kill: not through gdbserver: SOCK_DESTROY and a copy of the socket" in result.err
    assert "run gdb on the target's host: gdb -p PID -batch -ex 'sock-kill FD'" in result.err
    server.expect("Detaching")
    woke = [line for line in target.lines(1.0) if line.startswith("WOKE")]
    assert woke == [] and target.alive()
    rows = harness.ss_rows(pid=target.pid, netns_pid=target.pid)
    assert rows[target.info["inodes"]["client"]]["state"] == "ESTAB"
