"""The command line's `timeout` and `kill` (sock-timeout, sock-kill without gdb),
against real processes over loopback, no gdb.

The oracles are outside our code: the values are read back with getsockopt
on a copy of the target's fd made here (pidfd_getfd), the abort is what the
target's blocked reader prints (tests/targets/ticker.c: WOKE ... errno=) and
what the other end of the connection reads, and TracerPid is watched from
outside while the commands run.
"""

import ctypes
import errno
import os
import socket
import sys

import harness
from cli_helpers import TracerWatch, cli, cli_json, stats

KEEPALIVE_OPTS = (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT,
                  socket.TCP_USER_TIMEOUT)


def copy_of(pid, fd):
    """A socket object on a copy of ``fd`` of process ``pid``."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86-64
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=copy)


def values(pid, fd):
    """(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT)."""
    with copy_of(pid, fd) as copy:
        return ((copy.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),)
                + tuple(copy.getsockopt(socket.IPPROTO_TCP, o) for o in KEEPALIVE_OPTS))


def state(pid, fd):
    return cli_json(pid, "-json", fd)["sockets"][0]["state"]


def test_timeout_sets_the_values_and_its_restore_line_puts_them_back(ticker_binary, targets):
    target = targets([ticker_binary])
    pid, client = target.pid, target.info["fds"]["client"]
    old = values(pid, client)
    assert old[0] == 0  # keepalive off: the test's starting point
    watch = TracerWatch(pid)
    rc, out, err = cli(pid, "timeout", "-keepalive", "on", "-idle", 11, "-interval", 7,
                       "-count", 4, "-user-timeout", 45000, client)
    assert rc == 0 and err == "", (rc, out, err)
    assert values(pid, client) == (1, 11, 7, 4, 45000)
    # SECONDS: the user timeout is exactly SECONDS, keepalive on.
    rc, out, err = cli(pid, "timeout", client, 60)
    assert rc == 0, (rc, out, err)
    now = values(pid, client)
    assert (now[0], now[4]) == (1, 60000), now
    # The report's own line, run as it is printed, puts the old values back.
    restore = [line for line in out.splitlines() if "to put the old values back: " in line]
    [line] = restore
    command = line.split("to put the old values back: ", 1)[1].split()
    assert command[:4] == ["python3", "-m", "gdb_sockets", str(pid)], command
    rc, out, err = cli(*command[3:])
    assert rc == 0, (rc, out, err)
    assert values(pid, client) == (1, 11, 7, 4, 45000)
    assert watch.stop() == set() and watch.reads > 0
    assert stats(target)["traced"] == 0
    assert list(target.lines(timeout=0.2)) == []  # a live peer: the reader still waits


def test_timeout_dry_run_sets_nothing(ticker_binary, targets):
    target = targets([ticker_binary])
    pid, client = target.pid, target.info["fds"]["client"]
    old = values(pid, client)
    rc, out, err = cli(pid, "timeout", "-dry-run", client, 30)
    assert rc == 0 and out.endswith("(dry run: nothing done)\n"), (rc, out, err)
    assert values(pid, client) == old


def test_kill_aborts_the_reader_and_resets_the_peer(ticker_binary, targets):
    target = targets([ticker_binary])
    pid, fds = target.pid, target.info["fds"]
    watch = TracerWatch(pid)
    document = cli_json(pid, "kill", "-json", fds["client"])
    assert (document["host"], document["pid"]) == (os.uname().nodename, pid)
    [outcome] = document["outcomes"]
    assert (outcome["fd"], outcome["ok"], outcome["way"]) == (fds["client"], True,
                                                               "SOCK_DESTROY"), outcome
    # The target's reader wakes with ECONNABORTED; the other end was reset.
    assert target.expect("WOKE", timeout=10) == "WOKE fd=%d ret=-1 errno=%d" % (
        fds["client"], errno.ECONNABORTED)
    with copy_of(pid, fds["accepted"]) as peer:
        assert peer.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET
    assert watch.stop() == set() and watch.reads > 0
    assert stats(target)["traced"] == 0


def test_kill_text_names_the_waiter_and_the_way(ticker_binary, targets):
    target = targets([ticker_binary])
    pid, fds = target.pid, target.info["fds"]
    rc, out, err = cli(pid, "kill", fds["client"])
    assert rc == 0 and err == "", (rc, out, err)
    assert "SOCK_DESTROY (cookie " in out and "the peer was sent a reset" in out, out
    assert "LWP %d recvfrom: fails with ECONNABORTED" % target.info["tids"]["reader"] in out
    assert target.expect("WOKE", timeout=10).endswith("errno=%d" % errno.ECONNABORTED)


def test_several_sockets_without_a_terminal_are_refused_without_yes(ticker_binary, targets):
    target = targets([ticker_binary])
    pid, fds = target.pid, target.info["fds"]
    for sub, tail in (("kill", []), ("timeout", [30])):
        old = values(pid, fds["client"])
        rc, out, err = cli(pid, sub, fds["client"], fds["accepted"], *tail)
        assert rc == 1, (sub, rc, out, err)
        assert "of process %d:" % pid in out, out
        assert err.endswith("not confirmed: the input is not a terminal; give -yes to %s "
                            "without asking; nothing done\n"
                            % ("abort" if sub == "kill" else "set a timeout")), err
        assert values(pid, fds["client"]) == old
        assert state(pid, fds["client"]) == state(pid, fds["accepted"]) == "ESTAB"
    assert list(target.lines(timeout=0.2)) == []  # not aborted
    # -yes answers it (timeout: aborting both ends would find the second reset already).
    rc, out, err = cli(pid, "timeout", "-yes", "-keepalive", "on", "-idle", 11, "-interval", 7,
                       "-count", 4, "-user-timeout", 45000, fds["client"], fds["accepted"])
    assert rc == 0, (rc, out, err)
    assert values(pid, fds["client"]) == values(pid, fds["accepted"]) == (1, 11, 7, 4, 45000)


UNIX_PAIR = ("import socket, time\na, b = socket.socketpair()\n"
             "print('READY {\"fd\": %d}' % a.fileno(), flush=True)\ntime.sleep(60)\n")


def test_a_unix_socket_is_refused_with_exit_1(targets):
    target = targets([sys.executable, "-c", UNIX_PAIR])
    fd = target.info["fd"]
    for sub, tail, reason in (
            ("kill", [], "the kernel aborts only TCP and UDP sockets"),
            ("timeout", [30], "a UNIX socket has no keepalive or user timeout")):
        rc, out, err = cli(target.pid, sub, fd, *tail)
        assert rc == 1 and out == "", (sub, rc, out, err)
        assert err.startswith("gdb_sockets %s: fd %d: %s" % (sub, fd, reason)), err
        assert err.endswith("; nothing done\n") and len(err.splitlines()) == 1, err


def test_usage_errors_exit_2(ticker_binary, targets):
    target = targets([ticker_binary])
    for args in (["timeout"], ["kill"], ["timeout", "4", "soon"], ["timeout", "-yes"],
                 ["kill", "-method", "pidfd", "4"]):
        rc, out, err = cli(target.pid, *args)
        assert rc == 2 and out == "", (args, rc, out, err)
        assert err.startswith("gdb_sockets %s: " % args[0]), (args, err)
