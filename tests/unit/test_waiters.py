"""waiters: threads blocked on socket fds, from captured samples, fake trees and a real child."""

import json
import os
import socket
import struct
import subprocess
import sys

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.kernel.procfs import LocalProc
from gdb_sockets.kernel.proc_task import (EpollEntry, InSyscall, parse_epoll_fdinfo,
                                          parse_syscall, read_at)
from gdb_sockets.model import Waiter
from gdb_sockets.view.waiters import find_waiters, known_arch

from threads import wait_in_syscall

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "waiters")
with open(os.path.join(SAMPLES, "capture.json")) as _f:
    CAPTURE = json.load(_f)
PID = CAPTURE["pid"]
TID = CAPTURE["tids"]
FD = CAPTURE["fds"]


class SampleProc(LocalProc):
    """A snapshot directory as /proc: fd links and memory from its JSON files."""

    def __init__(self, snapshot: str) -> None:
        super().__init__(os.path.join(SAMPLES, snapshot))
        with open(os.path.join(self.root, "links.json")) as f:
            self.links = json.load(f)
        with open(os.path.join(self.root, "mem.json")) as f:
            self.mem = {int(address, 16): bytes.fromhex(data)
                        for address, data in json.load(f).items()}

    def listdir(self, path):
        if path == "/proc/%d/fd" % PID:
            return list(self.links)
        return super().listdir(path)

    def readlink(self, path):
        prefix = "/proc/%d/fd/" % PID
        if path.startswith(prefix) and path[len(prefix):] in self.links:
            return self.links[path[len(prefix):]]
        raise FileNotFoundError(path)

    def read_at(self, path, offset, size):
        assert path == "/proc/%d/mem" % PID
        for start, data in self.mem.items():
            if start <= offset < start + len(data):
                return data[offset - start:offset - start + size]
        raise OSError(5, "Input/output error", path)

    def socket_fds(self):
        return {int(fd) for fd, link in self.links.items() if link.startswith("socket:")}


def sample(path: str) -> bytes:
    with open(os.path.join(SAMPLES, path), "rb") as f:
        return f.read()


# What every snapshot shows for the calls that survive gdb unchanged.
STEADY = {
    FD["a"]: [Waiter(TID["recvfrom"], "recvfrom"),
              Waiter(TID["poll"], "poll", "poll for read, urgent"),
              Waiter(TID["pselect6"], "pselect6", "select for urgent")],
    FD["r"]: [Waiter(TID["recvmsg"], "recvmsg")],
    FD["c"]: [Waiter(TID["poll"], "poll", "poll for read"),
              Waiter(TID["pselect6"], "pselect6", "select for read")],
    FD["e"]: [Waiter(TID["pselect6"], "pselect6", "select for read"),
              Waiter(TID["epoll_wait"], "epoll_wait", "epoll_wait on fd %d for read" % FD["ep"])],
    FD["p"]: [Waiter(TID["ppoll"], "ppoll", "poll for read, peer close")],
    FD["q"]: [Waiter(TID["select"], "select", "select for read")],
    FD["n"]: [Waiter(TID["epoll_wait"], "epoll_wait",
                     "epoll_wait on fd %d via epoll fd %d for read" % (FD["ep"], FD["ep2"]))],
    FD["y"]: [Waiter(TID["epoll_pwait"], "epoll_pwait",
                     "epoll_pwait on fd %d for read" % FD["ep3"])],
    FD["v"]: [Waiter(TID["epoll_pwait2"], "epoll_pwait2",
                     "epoll_pwait2 on fd %d for read" % FD["ep4"])],
    FD["s"]: [Waiter(TID["sendto"], "sendto")],
    FD["w"]: [Waiter(TID["write"], "write")],
    FD["x"]: [Waiter(TID["pselect6"], "pselect6", "select for write"),
              Waiter(TID["epoll_wait"], "epoll_wait", "epoll_wait on fd %d for write" % FD["ep"])],
    FD["l"]: [Waiter(TID["accept4"], "accept4")],
    # The registration of closed fd z lives on through its dup z2; fd z
    # now names another socket and is waited on by nobody; nor is the
    # disarmed one-shot o.
    FD["z2"]: [Waiter(TID["epoll_wait"], "epoll_wait", "epoll_wait on fd %d for read" % FD["ep"])],
}

# After gdb let it run once: poll restarted as restart_syscall; the raw
# epoll_pwait/epoll_pwait2 calls returned EINTR and their threads ended.
RESTARTED = dict(STEADY)
RESTARTED[FD["a"]] = [STEADY[FD["a"]][0],
                      Waiter(TID["poll"], "restart_syscall", "poll for read, urgent (restarted)"),
                      STEADY[FD["a"]][2]]
RESTARTED[FD["c"]] = [Waiter(TID["poll"], "restart_syscall", "poll for read (restarted)"),
                      STEADY[FD["c"]][1]]
del RESTARTED[FD["y"]], RESTARTED[FD["v"]]


@pytest.mark.parametrize("snapshot, expected", [
    ("free", STEADY), ("gdb", STEADY), ("after_gdb", RESTARTED), ("gdb_again", RESTARTED),
])
def test_find_waiters_on_captured_snapshots(snapshot, expected):
    reader = SampleProc(snapshot)
    assert find_waiters(reader, PID, reader.socket_fds()) == expected


def test_gdb_snapshots_are_ptrace_stops_with_the_interrupted_calls():
    # The premise of the gdb samples: wchan is only "ptrace_stop", and the
    # syscall line is the interrupted call's, byte for byte.
    for tid in TID.values():
        task = "proc/%d/task/%d/" % (PID, tid)
        assert sample("gdb/" + task + "wchan") == b"ptrace_stop"
        assert sample("gdb/" + task + "syscall") == sample("free/" + task + "syscall")
    recv = parse_syscall(sample("gdb/proc/%d/task/%d/syscall" % (PID, TID["recvfrom"])))
    assert (recv.nr, recv.args[0], recv.args[2]) == (45, FD["a"], 10)


def test_the_restarted_futex_wait_is_not_taken_for_a_poll():
    # Under gdb the futex thread shows restart_syscall with op 0x89 where
    # poll has nfds: its memory starts like a pollfd array (fd 0 events 1,
    # fd 111 events 0x63) before the first pointer gives it away.  Even if
    # every fd were a socket, only the real poll thread is found.
    futex = parse_syscall(sample("gdb_again/proc/%d/task/%d/syscall" % (PID, TID["futex_timed"])))
    sleep = parse_syscall(sample("gdb_again/proc/%d/task/%d/syscall" % (PID, TID["nanosleep"])))
    assert (futex.nr, futex.args[1], sleep.nr) == (219, 0x89, 219)
    reader = SampleProc("gdb_again")
    entries = list(struct.iter_unpack("<iHH", reader.read_at("/proc/%d/mem" % PID,
                                                            futex.args[0], 16)))
    assert entries == [(0, 1, 0), (0, 0, 0)]
    found = find_waiters(reader, PID, set(range(200)))
    lwps = {waiter.lwp for waiters in found.values() for waiter in waiters}
    assert TID["futex_timed"] not in lwps and TID["nanosleep"] not in lwps
    assert found[0] == [Waiter(PID, "read")]  # the main thread reads its stdin pipe
    assert found[FD["c"]][0] == Waiter(TID["poll"], "restart_syscall", "poll for read (restarted)")
    # With every fd a "socket", the pipe the poll and read threads wait on shows too.
    assert found[FD["pipe_r"]] == [
        Waiter(TID["poll"], "restart_syscall", "poll for read (restarted)"),
        Waiter(TID["pipe_read"], "read")]


def test_parse_syscall_of_captured_lines():
    line = sample("free/proc/%d/task/%d/syscall" % (PID, TID["accept4"]))
    call = parse_syscall(line)
    fields = line.split()
    # accept4(listener, &addr, &addrlen, SOCK_CLOEXEC); arg 6 is whatever r9 held.
    assert call == InSyscall(288, (FD["l"], int(fields[2], 16), int(fields[3], 16), 0x80000, 0,
                                   int(fields[6], 16)), int(fields[7], 16), int(fields[8], 16))
    assert parse_syscall(sample("busy/free_syscall")) is None
    assert sample("busy/free_syscall") == b"running\n"
    assert parse_syscall(sample("busy/gdb_syscall")) is None
    assert sample("busy/gdb_syscall").startswith(b"-1 0x")


@pytest.mark.parametrize("line, expected", [
    (b"45 0x3 0x7fed2c693e30 0xa 0x0 0x0 0x0 0x7fed2c5b2a10 0x7fed2cd28974\n",
     InSyscall(45, (3, 0x7fed2c693e30, 10, 0, 0, 0), 0x7fed2c5b2a10, 0x7fed2cd28974)),
    (b"0 0xffffffffffffffff 0x0 0x0 0x0 0x0 0x0 0x1 0x2\n",
     InSyscall(0, (2 ** 64 - 1, 0, 0, 0, 0, 0), 1, 2)),
    (b"running\n", None),
    (b"-1 0x7ffc2fb93b40 0x7fcf8aefe1cc\n", None),
    (b"", None),
    (b"45 0x3 0x7f 0xa 0x0 0x0 0x0 0x7f\n", None),           # a field short
    (b"0x2d 0x3 0x7f 0xa 0x0 0x0 0x0 0x7f 0x7f\n", None),    # the number is decimal
])
def test_parse_syscall(line, expected):
    assert parse_syscall(line) == expected


def test_parse_epoll_fdinfo_of_the_captured_epoll_fd():
    reader = SampleProc("free")
    inode = {int(fd): int(link[8:-1]) for fd, link in reader.links.items()
             if link.startswith("socket:")}
    entries = parse_epoll_fdinfo(sample("free/proc/%d/fdinfo/%d" % (PID, FD["ep"])))
    assert sorted(entries, key=lambda entry: entry.fd) == sorted([
        EpollEntry(FD["e"], 0x19, inode[FD["e"]]),
        EpollEntry(FD["x"], 0x1c, inode[FD["x"]]),
        EpollEntry(FD["o"], 0x40000000, inode[FD["o"]]),
        EpollEntry(FD["ep2"], 0x19, 0x40e),           # the anon inode of every epoll
        EpollEntry(FD["z"], 0x19, inode[FD["z2"]]),   # z's number, z2's socket
    ], key=lambda entry: entry.fd)
    assert inode[FD["z"]] != inode[FD["z2"]]


def test_parse_epoll_fdinfo_without_pos_and_ino():
    # Kernels before 3.18 end the line after data.
    data = b"pos:\t0\nflags:\t02\ntfd:        5 events:       19 data:    5\n"
    assert parse_epoll_fdinfo(data) == [EpollEntry(5, 0x19, None)]


# ------------------------------------------------------------ fake trees

def make_proc(root, threads, fds=None, wchan=None, fdinfo=None, mem=None, pid=77):
    """A fake /proc/PID: threads {tid: syscall line}, fds {fd: link},
    wchan {tid: name}, fdinfo {fd: text}, mem {address: bytes} (a sparse
    file, read through read_at's pread fallback)."""
    base = root / "proc" / str(pid)
    for tid, line in threads.items():
        task = base / "task" / str(tid)
        task.mkdir(parents=True)
        if line is not None:
            (task / "syscall").write_bytes(line)
        (task / "wchan").write_bytes((wchan or {}).get(tid, "0").encode())
    (base / "fd").mkdir(parents=True, exist_ok=True)
    for fd, link in (fds or {}).items():
        os.symlink(link, str(base / "fd" / str(fd)))
    (base / "fdinfo").mkdir(exist_ok=True)
    for fd, text in (fdinfo or {}).items():
        (base / "fdinfo" / str(fd)).write_bytes(text)
    with open(str(base / "mem"), "wb") as f:
        for address, data in (mem or {}).items():
            f.seek(address)
            f.write(data)
    return LocalProc(str(root))


def line(nr, *args):
    args = list(args) + [0] * (6 - len(args))
    return ("%d %s 0x7ffc00000000 0x401000\n" % (nr, " ".join("%#x" % a for a in args))).encode()


def pollfds(*entries):
    return b"".join(struct.pack("<ihh", *entry) for entry in entries)


def test_direct_calls_name_their_fd_argument(tmp_path):
    reader = make_proc(tmp_path, {
        100: line(0, 5), 101: line(1, 6), 102: line(40, 6, 5),     # read, write, sendfile
        103: line(275, 5, 0, 7), 104: line(42, 7), 105: line(3, 5),  # splice, connect, close
        106: line(45, 2 ** 64 - 1), 107: line(45, 9), 108: line(202, 5, 0x80),
        112: line(0, 0xffffffff00000006),  # the kernel reads an unsigned int fd: 6
        109: b"running\n", 110: b"-1 0x7ffc 0x401000\n", 111: None,  # 111 exited
    })
    assert find_waiters(reader, 77, {5, 6, 7}) == {
        5: [Waiter(100, "read"), Waiter(102, "sendfile", "in fd"),
            Waiter(103, "splice", "in fd"), Waiter(105, "close")],
        6: [Waiter(101, "write"), Waiter(102, "sendfile", "out fd"), Waiter(112, "read")],
        7: [Waiter(103, "splice", "out fd"), Waiter(104, "connect")],
    }


def test_poll_reads_the_pollfd_array_through_pread(tmp_path):
    reader = make_proc(tmp_path, {
        100: line(7, 0x1000, 4, 2 ** 32 - 1),
        101: line(271, 0x2000, 1),
        102: line(7, 0x3000, 2),      # the array runs past the end of the memory
        103: line(7, 0x1000, 0),      # nfds 0
    }, mem={
        0x1000: pollfds((5, 0x1, 0), (-1, 0x1, 0), (5, 0x4, 0), (6, 0, 0)),
        0x2000: pollfds((6, 0x2002, 0)),
        0x3000: pollfds((5, 1, 0)),
    })
    assert find_waiters(reader, 77, {5, 6}) == {
        5: [Waiter(100, "poll", "poll for read, write")],
        6: [Waiter(100, "poll", "poll for errors"),
            Waiter(101, "ppoll", "poll for urgent, peer close")],
    }


def test_select_reads_the_fd_sets(tmp_path):
    bitmap = lambda *fds: sum(1 << fd for fd in fds).to_bytes(16, "little")
    reader = make_proc(tmp_path, {
        100: line(270, 70, 0x1000, 0x2000, 0x3000),
        101: line(23, 6, 0x1000),      # nfds 6: fd 6 and up are not looked at
        102: line(23, 70, 0x9000),     # an unreadable set: the thread is skipped
    }, mem={0x1000: bitmap(5, 66), 0x2000: bitmap(66), 0x3000: bitmap(6)})
    assert find_waiters(reader, 77, {5, 6, 66}) == {
        5: [Waiter(100, "pselect6", "select for read"), Waiter(101, "select", "select for read")],
        6: [Waiter(100, "pselect6", "select for urgent")],
        66: [Waiter(100, "pselect6", "select for read, write")],
    }


TFD = b"tfd: %8d events: %8x data: %16x  pos:0 ino:%x sdev:9\n"


def test_epoll_entries_are_matched_by_inode_and_followed_into_nested_epolls(tmp_path):
    head = b"pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n"
    reader = make_proc(tmp_path, {
        100: line(232, 9, 0x7f00, 16, 2 ** 32 - 1),
        101: line(281, 12),            # its fdinfo is gone: skipped
    }, fds={5: "socket:[500]", 6: "socket:[600]", 7: "socket:[777]", 8: "socket:[500]",
            9: "anon_inode:[eventpoll]", 10: "anon_inode:[eventpoll]", 11: "pipe:[1]"},
        fdinfo={
            9: head + TFD % (5, 0x19, 5, 0x1f4)           # fd 5 = socket 500
            + TFD % (7, 0x19, 7, 0x1b0)                   # fd 7 closed, reused; socket 432 gone
            + TFD % (4, 0x1c, 4, 0x258)                   # fd 4 closed; socket 600 is fd 6 now
            + TFD % (6, 0x40000000, 6, 0x258)             # a one-shot that fired
            + TFD % (10, 0x19, 10, 0x40e)                 # a nested epoll
            + TFD % (11, 0x19, 11, 0x1),                  # a pipe
            10: head + TFD % (7, 0x2019, 7, 0x309),       # fd 7 = socket 777
        })
    assert find_waiters(reader, 77, {5, 6, 7, 8}) == {
        5: [Waiter(100, "epoll_wait", "epoll_wait on fd 9 for read")],
        6: [Waiter(100, "epoll_wait", "epoll_wait on fd 9 for write")],
        7: [Waiter(100, "epoll_wait", "epoll_wait on fd 9 via epoll fd 10 for read, peer close")],
    }


@pytest.mark.parametrize("wchan, array, found", [
    # The kernel says poll: trusted even when revents is set.
    ("poll_schedule_timeout.constprop.0", pollfds((5, 1, 1)), True),
    # Stopped: only a plausible array of a blocked poll counts.
    ("ptrace_stop", pollfds((5, 1, 0), (11, 1, 0), (-7, 1, 0)), True),
    ("ptrace_stop", pollfds((5, 1, 0), (11, 1, 4)), False),      # revents set: not blocked
    ("ptrace_stop", pollfds((5, 1, 0), (12, 1, 0)), False),      # fd 12 is not open
    ("ptrace_stop", pollfds((5, 0x4001, 0)), False),             # not a user event bit
    ("ptrace_stop", pollfds((5, 0, 0)), False),                  # asks the socket nothing
    ("futex_do_wait", pollfds((5, 1, 0)), False),                # blocked elsewhere
    ("do_syscall_64", pollfds((5, 1, 0)), False),
])
def test_restart_syscall_is_read_as_poll_only_when_it_can_be_one(tmp_path, wchan, array, found):
    reader = make_proc(tmp_path, {100: line(219, 0x1000, len(array) // 8)},
                       fds={5: "socket:[500]", 11: "pipe:[1]"},
                       wchan={100: wchan}, mem={0x1000: array})
    expected = {5: [Waiter(100, "restart_syscall", "poll for read (restarted)")]} if found else {}
    assert find_waiters(reader, 77, {5}) == expected


def test_a_process_without_tasks_has_no_waiters(tmp_path):
    (tmp_path / "proc").mkdir()
    assert find_waiters(LocalProc(str(tmp_path)), 77, {3}) == {}


def test_architectures():
    assert [known_arch(a) for a in ("x86_64", "i386:x86-64", "amd64", "i386", "aarch64",
                                    "i386:x64-32")] == [True, True, True, False, False, False]
    with pytest.raises(SocketsError) as info:
        find_waiters(LocalProc("/nonexistent"), 77, {3}, arch="aarch64")
    assert str(info.value) == ("which threads wait on a socket is unknown on aarch64: "
                               "only x86-64 system calls are decoded")


def test_read_at_falls_back_to_pread_and_refuses_impossible_offsets(tmp_path):
    (tmp_path / "mem").write_bytes(b"0123456789")
    reader = LocalProc(str(tmp_path))
    assert read_at(reader, "/mem", 3, 4) == b"3456"
    assert read_at(reader, "/mem", 8, 4) == b"89"
    with pytest.raises(OSError):
        read_at(reader, "/mem", 2 ** 64 - 8, 8)


# ------------------------------------------------------------ a real child

_CHILD = r"""
import socket, threading
a, b = socket.socket(fileno=%d), socket.socket(fileno=%d)
t = threading.Thread(target=b.recv, args=(1,))
t.start()
print(t.native_id, flush=True)
a.recv(1)
t.join()
"""


def test_a_real_child_blocked_in_recv():
    pairs = [socket.socketpair(), socket.socketpair()]
    fds = [pair[1].fileno() for pair in pairs]
    child = subprocess.Popen([sys.executable, "-S", "-c", _CHILD % tuple(fds)],
                             stdout=subprocess.PIPE, pass_fds=fds)
    try:
        thread = int(child.stdout.readline())
        wait_in_syscall(child.pid, child.pid, {45})
        wait_in_syscall(child.pid, thread, {45})
        assert find_waiters(LocalProc(), child.pid, set(fds) | {0, 1}) == {
            fds[0]: [Waiter(child.pid, "recvfrom")],
            fds[1]: [Waiter(thread, "recvfrom")],
        }
        for pair in pairs:
            pair[0].send(b"!")
        assert child.wait(5) == 0
    finally:
        child.kill()
        child.wait()
        for pair in pairs:
            pair[0].close()
            pair[1].close()


# ------------------------------------------------------------ what predict needs

def test_each_waiter_carries_what_ends_its_wait():
    # From the captured process: the poll bits that end each wait, as
    # predict.py reads them, and a send's flags (s.send(): flags 0).
    from gdb_sockets.view import predict as p
    found = find_waiters(SampleProc("free"), PID, SampleProc("free").socket_fds())
    by = {(w.lwp, fd): w for fd, ws in found.items() for w in ws}
    pselect_urgent = by[(TID["pselect6"], FD["a"])]
    assert pselect_urgent.interest == p.SELECT_EXCEPT == 0x2
    assert by[(TID["pselect6"], FD["x"])].interest == p.select_interest(False, True, False)
    assert by[(TID["poll"], FD["a"])].interest == 0x1 | 0x2 | 0x8 | 0x10  # IN|PRI + ERR|HUP
    epoll_out = by[(TID["epoll_wait"], FD["x"])]
    assert (epoll_out.interest, epoll_out.edge_triggered, epoll_out.oneshot) == (0x1c, False,
                                                                                  False)
    assert by[(TID["ppoll"], FD["p"])].interest == 0x2000 | 0x1 | 0x8 | 0x10
    assert by[(TID["sendto"], FD["s"])].send_flags == 0
    assert by[(TID["write"], FD["w"])].send_flags is None  # write() has no flags
    assert by[(TID["recvfrom"], FD["a"])].interest is None
    # Restarted polls keep theirs.
    again = find_waiters(SampleProc("after_gdb"), PID, SampleProc("after_gdb").socket_fds())
    restarted = [w for w in again[FD["c"]] if w.syscall == "restart_syscall"]
    assert [w.interest for w in restarted] == [0x1 | 0x8 | 0x10]


def test_epoll_flags_and_send_flags_from_a_fake_tree(tmp_path):
    from gdb_sockets.view import predict as p
    fdinfo = (b"pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n"
              b"tfd:        5 events: 80000019 data:                5  pos:0 ino:2a sdev:8\n"
              b"tfd:        6 events: 4000001c data:                6  pos:0 ino:2b sdev:8\n")
    reader = make_proc(tmp_path, {100: line(232, 9, 0, 8, 0xffffffff),
                                  101: line(46, 7, 0, 0x4040)},     # sendmsg NOSIGNAL|DONTWAIT
                       fds={5: "socket:[42]", 6: "socket:[43]", 7: "socket:[44]",
                            9: "anon_inode:[eventpoll]"},
                       fdinfo={9: fdinfo})
    found = find_waiters(reader, 77, {5, 6, 7})
    assert (found[5][0].edge_triggered, found[5][0].oneshot, found[5][0].interest) == (
        True, False, 0x19)
    assert (found[6][0].edge_triggered, found[6][0].oneshot, found[6][0].interest) == (
        False, True, 0x1c)
    assert found[7][0].send_flags == 0x4040 and found[7][0].send_flags & p.MSG_NOSIGNAL
