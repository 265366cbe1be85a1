"""`sock-shutdown` in a real gdb against real stuck processes (design §2).

What the user cares about, checked from outside gdb after it detached:
the blocked call returned (the target prints WOKE), the process is alive,
the fd is still open (the same socket inode behind /proc/PID/fd/N: shut
down, not closed) and the socket's state moved (ss, the oracle).

Targets: tests/targets/sd_blocker.c (a thread stuck in recv/poll/accept,
optional busy threads, a sleeper, CLOSE-WAIT sockets), sd_pyrecv.py (a
Python program in recv) and sd_gotcp.go (a static Go program in a TCP
read).  Each file's header says what it prints.

`-method call` runs libc's shutdown() by an inferior call.  Where gdb
cannot restore a thread after a call (gdb 13 on a CPU with AMX: "Couldn't
write extended state"), it must be refused before anything is touched;
elsewhere it must work, and auto must choose it.  Which of the two a test
expects comes from the harness's own probe (harness.inferior_calls_work:
a plain `print (int)getpid()` of the same gdb on this CPU), never from
what the command says.

Helpers here (no test_ prefix) are also used by test_sock_shutdown_*.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from typing import Dict, Optional, Sequence

import pytest

import harness
from harness import (GdbSession, build, gdb_batch, json_from, no_traceback,
                     wait_any_thread_blocked, wait_blocked)

METHODS = ("auto", "syscall", "pidfd", "call")

# x86-64 system call numbers a blocked thread may be in (glibc may use
# either of a pair).  A poll or a sleep that a stop interrupted (gdb's
# attach) goes on in restart_syscall.
NR_RESTART = 219
NR_RECVFROM = {45}
NR_POLL = {7, 271, NR_RESTART}
NR_ACCEPT = {43, 288}
NR_CLOCK_NANOSLEEP = {230, NR_RESTART}
NR_EPOLL_WAIT = {232, 281}
NR_PAUSE = {34}

EINVAL = 22


# --------------------------------------------------------------------------
# Looking at a target from outside


def fd_link(pid: int, fd: int) -> Optional[str]:
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except FileNotFoundError:
        return None


def fd_inode(pid: int, fd: int) -> Optional[int]:
    """The inode of the socket at /proc/PID/fd/FD, or None (closed, or not a socket)."""
    match = re.fullmatch(r"socket:\[(\d+)\]", fd_link(pid, fd) or "")
    return int(match.group(1)) if match else None


def socket_fds(pid: int) -> Dict[int, int]:
    """fd -> inode of every socket fd of ``pid``."""
    out = {}
    for name in os.listdir("/proc/%d/fd" % pid):
        inode = fd_inode(pid, int(name))
        if inode is not None:
            out[int(name)] = inode
    return out


def tcp_states(port: int) -> Dict[int, str]:
    """inode -> ss's state of every TCP socket with local or peer ``port``.

    The same oracle as harness.ss_rows, asked only about one port: a host
    may hold tens of thousands of sockets, and every target socket here
    shares its listener's port.
    """
    argv = ["ss", "-t", "-a", "-n", "-e", "-H", "( sport = :%d or dport = :%d )" % (port, port)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    states = {}
    for line in proc.stdout.splitlines():
        match = re.search(r"\bino:(\d+)", line)
        if match and int(match.group(1)):
            states[int(match.group(1))] = line.split()[0]
    return states


def ss_state(inode: int, port: int) -> Optional[str]:
    """ss's state for the TCP socket ``inode`` on ``port``, or None when it is in no table."""
    return tcp_states(port).get(inode)


def sockets_snapshot(target) -> Dict[int, tuple]:
    """fd -> (inode, ss state) of every socket of the target: what must not change."""
    states = tcp_states(target.info["port"])
    return {fd: (inode, states.get(inode)) for fd, inode in socket_fds(target.pid).items()}


# --------------------------------------------------------------------------
# The target's own words


WOKE = re.compile(r"^WOKE .*\bret=(-?\d+) errno=(\d+)")


def expect_woke(target, timeout: float = 10.0):
    """The target's WOKE line: (ret, errno)."""
    line = target.expect("WOKE", timeout)
    match = WOKE.match(line)
    assert match, line
    return int(match.group(1)), int(match.group(2))


def expect_spinners_fine(target, count: int) -> None:
    """Every busy thread kept running and never saw its registers change."""
    line = target.expect("SPIN", 20)
    assert line == "SPIN threads=%d progressed=%d corrupt=0" % (count, count), line


# --------------------------------------------------------------------------
# gdb


def calls_refused() -> bool:
    """Must `-method call` be refused here?  The oracle is the harness's own
    probe of this gdb on this CPU, not gdb_sockets' report."""
    return not harness.inferior_calls_work()


def auto_method(libc: bool = True) -> str:
    """The method auto must choose for a local process (libc: it has a
    shared libc's shutdown to call)."""
    return "call" if libc and harness.inferior_calls_work() else "syscall"


def assert_call_refused(result) -> None:
    """`-method call` was refused before anything ran, and said why."""
    assert result.rc == 1, result
    assert re.search(r"-method call cannot run here: ", result.err), result.err
    assert "[method:" not in result.out, result.out


def switch_to_tid(tid: int) -> str:
    """A gdb command selecting the thread whose LWP is ``tid``."""
    return ("python [t.switch() for t in gdb.selected_inferior().threads() "
            "if t.ptid[1] == %d]" % tid)


SHOW_SELECTED = "python print('@@SELECTED %d' % gdb.selected_thread().ptid[1])"


def selected_tid(out: str) -> int:
    match = re.search(r"^@@SELECTED (\d+)$", out, re.M)
    assert match, out
    return int(match.group(1))


def shutdown_batch(pid: int, method: str, fd_args: str, pre: Sequence[str] = (),
                   timeout: float = 60):
    """gdb -batch: ``pre`` commands, then sock-shutdown (last: gdb's rc is its rc)."""
    command = "sock-shutdown -method %s %s" % (method, fd_args)
    result = gdb_batch(pid, *pre, command, timeout=timeout)
    no_traceback(result)
    return result


def assert_shut_down_ok(result, method: str, libc: bool = True) -> None:
    """The command succeeded with ``method`` (auto: the one auto_method(libc)
    says it must choose)."""
    assert result.rc == 0, result
    assert re.search(r"^shutdown\(\d+, SHUT_RDWR\) = 0; ", result.out, re.M), result.out
    expected = auto_method(libc) if method == "auto" else method
    assert "[method: %s]" % expected in result.out, result.out


def assert_open_same_socket(target, fd: int, inode: int) -> None:
    assert target.alive(), target.stderr()
    assert fd_link(target.pid, fd) == "socket:[%d]" % inode, \
        "fd %d of %d: %r (was socket:[%d])" % (fd, target.pid, fd_link(target.pid, fd), inode)


def wake_with_pidfd(target, fd: int) -> None:
    """Shut ``fd`` down without running code in the target (proves it was fine)."""
    result = shutdown_batch(target.pid, "pidfd", str(fd))
    assert_shut_down_ok(result, "pidfd")


# --------------------------------------------------------------------------
# Targets


def start_blocker(targets, binary: str, mode: str, *args: str):
    """Start sd_blocker and wait until its main thread sleeps in the call."""
    target = targets([binary, mode] + list(args))
    numbers = {"recv": NR_RECVFROM, "rawrecv": NR_RECVFROM, "poll": NR_POLL,
               "accept": NR_ACCEPT, "pause": NR_PAUSE}[mode]
    wait_blocked(target.pid, target.info["blocked_tid"], numbers)
    return target


# --------------------------------------------------------------------------
# Each method, on a thread stuck in recv, poll and accept


SCENARIOS = {
    # name: (mode, extra args, fd key, gdb commands before, expected (ret, errno))
    "recv": ("recv", (), "client", (), (0, 0)),
    "recv-8-busy-threads-thread-2": ("recv", ("--busy", "8"), "client", ("thread 2",), (0, 0)),
    "poll": ("poll", (), "client", (), (1, 0)),
    # A listener needs confirmation; batch mode answers yes.
    "accept": ("accept", (), "listen", ("set confirm on",), (-1, EINVAL)),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_blocked_call_returns_and_socket_stays_open(sd_binary, targets, scenario, method):
    mode, args, fd_key, pre, woke = SCENARIOS[scenario]
    target = start_blocker(targets, sd_binary, mode, *args)
    pid, fds, port = target.pid, target.info["fds"], target.info["port"]
    fd = fds[fd_key]
    inode = fd_inode(pid, fd)
    busy = target.info["busy_tids"]
    before = sockets_snapshot(target)
    assert before[fd][1] == ("LISTEN" if mode == "accept" else "ESTAB")

    result = shutdown_batch(pid, method, str(fd), pre=tuple(pre) + (SHOW_SELECTED,))
    if busy:
        # The blocked thread is not the one gdb acted in.
        assert selected_tid(result.out) in busy, result.out
        assert selected_tid(result.out) != target.info["blocked_tid"]
    asked = result.out.count("(y or n) [answered Y; input not from terminal]")
    refused = method == "call" and calls_refused()
    if refused:
        # A method that cannot run is refused before any question is asked.
        assert asked == 0, result.out
    elif mode == "accept":
        assert asked == 1, result.out

    if refused:
        # Refused before touching anything: still blocked, still ESTAB/LISTEN,
        # and the blocked call has not returned (it would have printed WOKE
        # and left the call).
        assert_call_refused(result)
        wait_blocked(pid, target.info["blocked_tid"], {"recv": NR_RECVFROM, "poll": NR_POLL,
                                                        "accept": NR_ACCEPT}[mode])
        assert sockets_snapshot(target) == before
        # Undamaged: a shutdown that runs no code in the target wakes the
        # call with its normal result (a half-restored thread's recv gives
        # -1 with errno 512, ERESTARTSYS).
        wake_with_pidfd(target, fd)
    else:
        assert_shut_down_ok(result, method)

    assert expect_woke(target) == woke
    assert_open_same_socket(target, fd, inode)
    if mode == "accept":
        assert ss_state(inode, port) is None  # left the table: no longer listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    else:
        assert ss_state(inode, port) in ("FIN-WAIT-1", "FIN-WAIT-2")
        assert ss_state(fd_inode(pid, fds["accepted"]), port) == "CLOSE-WAIT"  # the peer got the FIN
    # Nothing else was touched.
    after = sockets_snapshot(target)
    for other, (other_inode, state) in before.items():
        if other not in (fd, fds["accepted"]):
            assert after[other] == (other_inode, state), (other, before, after)
    if busy:
        expect_spinners_fine(target, len(busy))


# --------------------------------------------------------------------------
# A listener interactively: gdb's own confirmation


def answer_query(session: GdbSession, command: str, answer: str) -> str:
    """Send ``command``, expect gdb's "(y or n)" query, answer it; the output."""
    session.child.sendline(command)
    session.child.expect_exact("(y or n) ")
    question = session.child.before.replace("\r\n", "\n")
    session.child.sendline(answer)
    return question + session._until_prompt(session.timeout)


def test_listener_asks_first_n_leaves_it_y_shuts_it(sd_binary, targets):
    target = start_blocker(targets, sd_binary, "accept")
    pid, fd, port = target.pid, target.info["fds"]["listen"], target.info["port"]
    inode = fd_inode(pid, fd)
    with GdbSession(pid) as session:
        session.cmd("set confirm on")
        out = answer_query(session, "sock-shutdown %d" % fd, "n")
        assert "accepts no more connections" in out, out
        assert "nothing done" in out, out
        assert "SHUT_RDWR) = " not in out, out
        # Still listening, even while gdb holds the process: the kernel
        # completes a new connection into its backlog.
        assert ss_state(inode, port) == "LISTEN"
        socket.create_connection(("127.0.0.1", port), timeout=5).close()

        out = answer_query(session, "sock-shutdown %d" % fd, "y")
        assert re.search(r"^shutdown\(%d, SHUT_RDWR\) = 0; " % fd, out, re.M), out
        assert ss_state(inode, port) is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        listing = {e["fd"]: e for e in json_from(session.cmd("info sockets -json"))}
        assert listing[fd]["inode"] == inode and listing[fd]["state"] != "LISTEN"
    # accept() on a shut-down listener fails with EINVAL, for good.
    assert expect_woke(target) == (-1, EINVAL)
    assert_open_same_socket(target, fd, inode)


# --------------------------------------------------------------------------
# CLOSE-WAIT leaks


@pytest.mark.parametrize("method", ["auto", "pidfd"])
def test_close_wait_sockets_all_shut_down(sd_binary, targets, method):
    target = start_blocker(targets, sd_binary, "pause", "--closewait", "3")
    pid, fds = target.pid, target.info["fds"]
    closewait = {fd: fd_inode(pid, fd) for fd in fds["closewait"]}
    before = sockets_snapshot(target)
    assert sorted(fd for fd, (_i, s) in before.items() if s == "CLOSE-WAIT") == sorted(closewait)

    dry = gdb_batch(pid, "set confirm on", "sock-shutdown -dry-run -method %s -state close-wait" % method)
    no_traceback(dry)
    assert dry.rc == 0, dry
    assert "nothing done" in dry.out, dry.out
    for fd in closewait:
        assert re.search(r"^  fd %d: .* CLOSE-WAIT -> shutdown\(%d, SHUT_RDWR\)$" % (fd, fd),
                         dry.out, re.M), dry.out
    assert "(y or n)" not in dry.out
    assert sockets_snapshot(target) == before

    result = gdb_batch(pid, "set confirm on", "sock-shutdown -method %s -state close-wait" % method)
    no_traceback(result)
    assert result.rc == 0, result
    assert result.out.count("(y or n)") == 1, result.out  # one question for all
    assert result.out.count("SHUT_RDWR) = 0; ") == len(closewait), result.out
    after = sockets_snapshot(target)
    assert [fd for fd, (_i, state) in after.items() if state == "CLOSE-WAIT"] == []
    for fd, inode in closewait.items():
        assert_open_same_socket(target, fd, inode)
    # The other sockets were not in the selection and did not move.
    for fd, value in before.items():
        if fd not in closewait:
            assert after[fd] == value, (fd, before, after)


# --------------------------------------------------------------------------
# Other kinds of program


def test_python_program_in_recv(targets):
    script = os.path.join(harness.TARGETS_DIR, "sd_pyrecv.py")
    # sys.executable is the interpreter itself (python3 on PATH may be a
    # wrapper whose pid is not Python's); the script reports its own pid.
    target = targets([sys.executable, script])
    pid, fd, port = target.pid, target.info["fds"]["client"], target.info["port"]
    wait_blocked(pid, pid, NR_RECVFROM)
    inode = fd_inode(pid, fd)
    result = shutdown_batch(pid, "auto", str(fd))
    assert_shut_down_ok(result, "auto")
    line = target.expect("WOKE", 10)
    assert line == "WOKE fd=%d ret=0 err=NONE" % fd, line
    assert_open_same_socket(target, fd, inode)
    assert ss_state(inode, port) in ("FIN-WAIT-1", "FIN-WAIT-2")


def has_symbol(binary: str, name: str) -> bool:
    out = subprocess.run(["nm", binary], capture_output=True, text=True).stdout
    return any(line.split()[-1:] == [name] for line in out.splitlines())


@pytest.mark.parametrize("cc_args", [("-s",), ("-static",), ("-static", "-s")],
                         ids=["stripped", "static", "static-stripped"])
def test_stripped_and_static_binaries(targets, cc_args):
    binary = build("sd_blocker", *cc_args)
    static = "-static" in cc_args
    if static and "-s" not in cc_args:
        # The premise: no shutdown() anywhere in the program to call.
        assert not has_symbol(binary, "shutdown") and has_symbol(binary, "recv")
    busy = ("--busy", "2") if static else ()
    target = start_blocker(targets, binary, "recv", *busy)
    pid, fds, port = target.pid, target.info["fds"], target.info["port"]
    inode = fd_inode(pid, fds["client"])
    result = shutdown_batch(pid, "auto", str(fds["client"]))
    assert_shut_down_ok(result, "auto", libc=not static)
    assert expect_woke(target) == (0, 0)
    assert_open_same_socket(target, fds["client"], inode)
    assert ss_state(inode, port) in ("FIN-WAIT-1", "FIN-WAIT-2")
    if busy:
        expect_spinners_fine(target, 2)


def build_go(name: str) -> str:
    """go build a static tests/targets/NAME.go (CGO_ENABLED=0) once per session."""
    source = os.path.join(harness.TARGETS_DIR, name + ".go")
    with open(source, "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:16]
    binary = os.path.join(harness.cache_dir(), "%s-go-%s" % (name, key))
    if os.path.exists(binary):
        return binary
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOPROXY="off",
               GOFLAGS="-mod=mod")
    if not (env.get("HOME") or env.get("XDG_CACHE_HOME") or env.get("GOCACHE")):
        env["GOCACHE"] = os.path.join(harness.cache_dir(), "gocache")
    tmp = binary + ".tmp%d" % os.getpid()
    proc = subprocess.run(["go", "build", "-o", tmp, source], capture_output=True, text=True,
                          env=env, cwd=harness.cache_dir(), timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("go build %s failed:\n%s" % (source, proc.stderr))
    os.replace(tmp, binary)
    return binary


@pytest.mark.skipif(shutil.which("go") is None,
                    reason="go is not installed (./install.sh --test-deps installs golang-go)")
@pytest.mark.parametrize("method", ["auto", "pidfd"])
def test_static_go_program_in_tcp_read(targets, method):
    binary = build_go("sd_gotcp")
    target = targets([binary])
    pid, fd, port = target.pid, target.info["fds"]["client"], target.info["port"]
    # The reading goroutine is parked once the scheduler has nothing to run
    # and a thread sleeps in the netpoller.
    wait_any_thread_blocked(pid, NR_EPOLL_WAIT)
    inode = fd_inode(pid, fd)
    result = shutdown_batch(pid, method, str(fd))
    assert_shut_down_ok(result, method, libc=False)  # no libc in a Go binary
    line = target.expect("WOKE", 10)
    assert line == "WOKE fd=%d ret=0 err=EOF" % fd, line
    assert_open_same_socket(target, fd, inode)
    assert ss_state(inode, port) in ("FIN-WAIT-1", "FIN-WAIT-2")
