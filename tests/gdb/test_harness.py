"""The harness itself: what the other tests rely on."""

import ctypes
import os
import socket
import sys

import pytest

import harness


def test_build_is_cached_by_source_and_args():
    first = harness.build("blocker")
    assert harness.build("blocker") == first
    stripped = harness.build("blocker", "-s")
    assert stripped != first and os.access(stripped, os.X_OK)
    assert harness.build(os.path.join(harness.TARGETS_DIR, "blocker.c")) == first


def test_target_that_fails_to_start_reports_why():
    with pytest.raises(harness.TargetError, match="usage: blocker"):
        harness.start_target([harness.build("blocker"), "nonsense"])


def pidfd_getfd(pid, fd):
    """A copy of another process's fd (Linux >= 5.6, needs ptrace rights)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86-64
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return copy
    finally:
        os.close(pidfd)


def test_lines_see_what_the_target_prints_later(targets):
    """blocker waits in recv(); shutting its socket down (through a copy of
    the fd, no gdb involved) makes it print WOKE and exit."""
    target = targets([harness.build("blocker")])
    fd = target.info["fds"]["client"]
    assert list(target.lines(0.2)) == []  # still blocked
    assert target.alive()
    copy = socket.socket(fileno=pidfd_getfd(target.pid, fd))
    try:
        copy.shutdown(socket.SHUT_RD)
    finally:
        copy.close()
    assert target.expect("WOKE", timeout=10) == "WOKE fd=%d ret=0 errno=0" % fd
    assert target.returncode() == 0
    assert not target.alive()
    assert list(target.lines(0.1)) == []  # end of output, no wait


def test_stop_kills_and_reaps(targets):
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "idle.py")])
    assert target.info == {"pid": target.pid} and target.alive()
    target.stop()
    assert not target.alive() and target.popen.returncode is not None
    assert not os.path.exists("/proc/%d" % target.pid)


def test_netns_target_is_in_its_own_namespace(targets):
    target = targets([harness.build("blocker"), "pause"], netns=True)
    ns = os.readlink("/proc/%d/ns/net" % target.pid)
    assert ns != os.readlink("/proc/self/ns/net")
    rows = harness.ss_rows(pid=target.pid, netns_pid=target.pid)
    assert sorted(fd for r in rows.values() for _c, _p, fd in r["users"]) == \
        sorted(target.info["fds"].values())
    assert harness.ss_rows(pid=target.pid) == {}  # not in the host's tables


def test_ss_rows_parses_unix_paths_with_spaces(tmp_path):
    path = str(tmp_path / "a b  c.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    accepted, _ = server.accept()
    try:
        rows = harness.ss_rows(pid=os.getpid())
        ino = {s: os.fstat(s.fileno()).st_ino for s in (server, client, accepted)}
        assert rows[ino[server]]["local"] == path
        assert rows[ino[server]]["state"] == "LISTEN"
        assert rows[ino[accepted]]["peer_inode"] == ino[client]
        assert rows[ino[client]]["peer_inode"] == ino[accepted]
        assert rows[ino[client]]["local"] == "*"
        assert rows[ino[client]]["users"][0][1:] == (os.getpid(), client.fileno())
    finally:
        for s in (server, client, accepted):
            s.close()


def test_ss_endpoint():
    assert harness.ss_endpoint("127.0.0.1:80") == ("127.0.0.1", 80)
    assert harness.ss_endpoint("[::ffff:127.0.0.1]:5") == ("::ffff:127.0.0.1", 5)
    assert harness.ss_endpoint("*:22") == (None, 22)
    assert harness.ss_endpoint("[::]:*") == ("::", 0)


def test_gdb_session_and_batch_agree(targets):
    target = targets([harness.build("blocker"), "pause"])
    batch = harness.gdb_batch(target.pid, "print 6*7")
    assert batch.rc == 0 and "$1 = 42" in batch.out, batch
    with harness.GdbSession(target.pid) as gdb:
        assert gdb.cmd("print 6*7").strip() == "$1 = 42"
        assert gdb.error_of("print nosuchsymbol") == 'No symbol "nosuchsymbol" in current context.'
    assert target.alive()
    assert harness.gdb_batch(None, "print 1", "frobnicate").rc == 1


# What depends on the gdb under test; every gdb runs every test, so a
# module-level value of these would be the first gdb's answer for all.
PER_GDB = {"gdb_version", "gdb_path", "gdbserver_path", "inferior_calls_work"}


def module_level_gdb_calls(path):
    """(line, name) of each call to a PER_GDB function outside any function."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = []
    for statement in tree.body:
        parts = [statement]
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            parts = statement.decorator_list  # run at import; the body is not
        for node in (n for part in parts for n in ast.walk(part)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in PER_GDB:
                    found.append((node.lineno, name))
    return found


def test_no_test_module_fixes_the_gdb_when_it_is_imported():
    here = os.path.dirname(os.path.abspath(__file__))
    found = {name: module_level_gdb_calls(os.path.join(here, name))
             for name in sorted(os.listdir(here)) if name.startswith("test_")
             and name.endswith(".py")}
    assert {name: calls for name, calls in found.items() if calls} == {}
