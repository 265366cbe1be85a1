"""The call method keeps the thread's errno, with and without calling
__errno_location (actions/errno_tls.py): where libc's function is the
known leaf, errno's address is computed from its GOT slot and the thread's
fs base; where it is not (here: a copy of this libc whose function does the
same sum in another order), the function is called.

Helpers and targets: see test_sock_shutdown.py.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

import harness
from harness import gdb_batch, no_traceback
from test_sock_shutdown import (NR_RECVFROM, assert_call_refused, assert_open_same_socket,
                                calls_refused, expect_woke, fd_inode, switch_to_tid,
                                wake_with_pidfd)

sys.path.insert(0, harness.REPO_DIR)
from gdb_sockets.actions import elf, errno_tls  # noqa: E402  (pure modules)

PLANTED = 1234
# Prints, for each thread: the computed address (None if not computed) and
# the one __errno_location returns when called, in that thread.
COMPARE = r"""
from gdb_sockets.actions import guard, inferior_call as ic
from gdb_sockets.kernel.target import current_target
t = current_target()
_shutdown, where = ic.libc_shutdown_addresses(t.pid, t.reader)
for thread in gdb.selected_inferior().threads():
    thread.switch()
    computed = ic.computed_errno_address(where)
    with guard.set_aside(ic.CALL_SETTINGS):
        called = ic._pointer_call(where)
    print("@@ERRNO %d %s 0x%x" % (thread.ptid[1], computed if computed is None
                                  else "0x%x" % computed, called))
"""


def compare_addresses(pid: int, tmp_path):
    """[(tid, computed or "None", called)] for each thread of ``pid``."""
    script = tmp_path / "compare_errno.py"
    script.write_text(COMPARE)
    result = gdb_batch(pid, "source %s" % script)
    no_traceback(result)
    return re.findall(r"^@@ERRNO (\d+) (\S+) (\S+)$", result.out, re.M), result


def system_libc(pid: int) -> str:
    """The path of the libc.so.6 that ``pid`` mapped."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"/libc\.so\.6$", path):
                return path
    raise AssertionError("no libc.so.6 mapped in %d" % pid)


def errno_code(path: str):
    """(file offset, first CODE_SIZE bytes) of __errno_location in the file."""
    with open(path, "rb") as f:
        data = f.read()
    address = elf.dynamic_symbols(io.BytesIO(data), ["__errno_location"])["__errno_location"]
    assert address is not None
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= address < p_vaddr + p_filesz:
            offset = address - p_vaddr + p_offset
            return address, offset, data[offset:offset + errno_tls.CODE_SIZE]
    raise AssertionError("__errno_location is in no PT_LOAD segment")


def other_order(code: bytes) -> bytes:
    """The leaf rewritten as mov rax, fs:[0]; add rax, [rip + d32]; ret:
    the same errno address, in code errno_tls does not take."""
    at = len(errno_tls.ENDBR64) if code.startswith(errno_tls.ENDBR64) else 0
    displacement, = struct.unpack_from("<i", code, at + 3)
    # The GOT slot stays where it is: the add ends 9 bytes after the mov did.
    return (code[:at] + bytes.fromhex("64488b042500000000") + b"\x48\x03\x05"
            + struct.pack("<i", displacement - 9) + b"\xc3")


def linked_libc(binary: str) -> str:
    """The libc.so.6 that ``binary`` loads (ldd)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^\s*libc\.so\.6 => (\S+)", out, re.M)
    assert match, out
    return match.group(1)


@pytest.fixture(scope="module")
def patched_libc_dir(tmp_path_factory, sd_binary):
    """A directory holding a copy of this libc.so.6 whose __errno_location
    is rewritten (other_order); skipped where this libc's function is not
    the known leaf (then the fallback is what every test here runs)."""
    path = linked_libc(sd_binary)
    address, offset, code = errno_code(path)
    if errno_tls.got_slot(code, address) is None:
        pytest.skip("this libc's __errno_location is not the leaf errno_tls knows")
    directory = tmp_path_factory.mktemp("patched_libc")
    copy = str(directory / "libc.so.6")
    shutil.copyfile(path, copy)
    new = other_order(code)
    assert errno_tls.got_slot(new, address) is None   # the fallback must run on it
    with open(copy, "r+b") as f:
        f.seek(offset)
        f.write(new)
    return str(directory)


def start_rawrecv(targets, binary: str, libc_dir=None):
    """sd_blocker rawrecv (errno PLANTED), one busy thread, one CLOSE-WAIT
    socket; with ``libc_dir``, loading the libc.so.6 there."""
    env = None if libc_dir is None else dict(os.environ, LD_LIBRARY_PATH=libc_dir)
    target = targets([binary, "rawrecv", "--closewait", "1", "--busy", "1",
                      "--errno", str(PLANTED)], env=env)
    harness.wait_blocked(target.pid, target.info["blocked_tid"], NR_RECVFROM)
    if libc_dir is not None:
        assert system_libc(target.pid) == os.path.join(libc_dir, "libc.so.6")
    return target


def failing_shutdowns(target, pre=()):
    """sock-shutdown -method call: the client (ok), then the CLOSE-WAIT socket
    twice (the second fails with ENOTCONN: errno set by shutdown)."""
    fds = target.info["fds"]
    command = "sock-shutdown -method call %d"
    return gdb_batch(target.pid, *pre, command % fds["client"],
                     command % fds["closewait"][0], command % fds["closewait"][0])


def assert_errno_kept(target, result) -> None:
    fds = target.info["fds"]
    no_traceback(result)
    assert result.rc == 1, result
    assert result.out.count("SHUT_RDWR) = 0; ") == 2, result.out
    # The errno read after the call is shutdown's, in the thread that called it.
    assert re.search(r"fd %d: already shut down" % fds["closewait"][0], result.err), result.err
    assert expect_woke(target) == (0, PLANTED)


def test_computed_errno_address_is_the_one_the_function_returns(sd_binary, targets, tmp_path):
    """In each thread, the address read from the GOT and fs base is the one
    __errno_location returns when called there."""
    if calls_refused():
        pytest.skip("inferior calls do not work with this gdb on this CPU")
    target = start_rawrecv(targets, sd_binary)
    address, _offset, code = errno_code(system_libc(target.pid))
    if errno_tls.got_slot(code, address) is None:
        pytest.skip("this libc's __errno_location is not the leaf errno_tls knows")
    rows, result = compare_addresses(target.pid, tmp_path)
    assert len(rows) == 2, result   # the blocked thread and the busy one
    for _tid, computed, called in rows:
        assert computed == called, result.out
    assert len({called for _tid, _c, called in rows}) == 2   # one errno per thread
    wake_with_pidfd(target, target.info["fds"]["client"])
    assert expect_woke(target) == (0, PLANTED)


@pytest.mark.parametrize("selected", ["blocked-thread", "busy-thread"])
def test_errno_kept_without_calling_errno_location(sd_binary, targets, selected):
    """This libc: errno computed, shutdown's errno reported, the planted one
    back; from the busy thread, the call's errno is that thread's own."""
    target = start_rawrecv(targets, sd_binary)
    inode = fd_inode(target.pid, target.info["fds"]["client"])
    tid = (target.info["blocked_tid"] if selected == "blocked-thread"
           else target.info["busy_tids"][0])
    result = failing_shutdowns(target, pre=(switch_to_tid(tid),))
    if calls_refused():
        assert_call_refused(result)
        wake_with_pidfd(target, target.info["fds"]["client"])
        assert expect_woke(target) == (0, PLANTED)
        return
    assert_errno_kept(target, result)
    assert_open_same_socket(target, target.info["fds"]["client"], inode)


def test_errno_kept_when_errno_location_must_be_called(sd_binary, targets, patched_libc_dir):
    """A libc whose __errno_location is other code: it is called, and the
    planted errno still comes back."""
    target = start_rawrecv(targets, sd_binary, patched_libc_dir)
    inode = fd_inode(target.pid, target.info["fds"]["client"])
    result = failing_shutdowns(target)
    if calls_refused():
        assert_call_refused(result)
        wake_with_pidfd(target, target.info["fds"]["client"])
        assert expect_woke(target) == (0, PLANTED)
        return
    assert_errno_kept(target, result)
    assert_open_same_socket(target, target.info["fds"]["client"], inode)


def test_patched_libc_is_not_computed_but_called(sd_binary, targets, patched_libc_dir,
                                                 tmp_path):
    """On the rewritten libc nothing is computed (None) and the call gives
    each thread's errno: the fallback is what ran above."""
    if calls_refused():
        pytest.skip("inferior calls do not work with this gdb on this CPU")
    target = start_rawrecv(targets, sd_binary, patched_libc_dir)
    rows, result = compare_addresses(target.pid, tmp_path)
    assert len(rows) == 2, result
    assert all(computed == "None" for _tid, computed, _called in rows), result.out
    wake_with_pidfd(target, target.info["fds"]["client"])
    assert expect_woke(target) == (0, PLANTED)
