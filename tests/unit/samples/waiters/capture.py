#!/usr/bin/env python3
"""Capture what the kernel says of threads blocked on sockets, free and under gdb.

Run as root from the repository root (x86-64 only):

    python3 tests/unit/samples/waiters/capture.py

It starts a blocker process (this file with ``--blocker``): one thread per
case, each named after its case (/proc/self/task/TID/comm) and blocked in
its call on its own sockets.  Once every thread shows its call in
/proc/PID/task/TID/syscall it copies, four times, the process's

    proc/PID/task/TID/{syscall,wchan,comm}   every thread
    proc/PID/fdinfo/EPFD                      every epoll fd
    links.json                                /proc/PID/fd link texts
    mem.json                                  the pollfd arrays and fd_sets the
                                              poll/select arguments point at

into <snapshot>/:

    free/        no debugger near it
    gdb/         from a ``shell`` command of ``gdb -p PID -batch`` (every
                 thread in ptrace stop)
    after_gdb/   free again after that gdb detached
    gdb_again/   under a second ``gdb -p PID -batch``

plus busy/{free,gdb}_syscall: the syscall file of a single-threaded process
spinning in user space.  capture.json records the pid, each case's tid, and
the fds by name; the tests read it.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = ("free", "gdb", "after_gdb", "gdb_again")

# x86-64 numbers each case's thread must show before the first snapshot.
EXPECTED_NR = {
    "recvfrom": 45, "recvmsg": 47, "accept4": 288, "sendto": 44, "write": 1,
    "poll": 7, "ppoll": 271, "pselect6": 270, "select": 23, "epoll_wait": 232,
    "epoll_pwait": 281, "epoll_pwait2": 441, "pipe_read": 0, "futex_timed": 202,
    "nanosleep": 35,
}


# ---------------------------------------------------------------- blocker

class PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


def _full(sock: socket.socket) -> None:
    """Fill the socket's send buffer (its peer never reads)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 4096)
    except BlockingIOError:
        pass


def blocker() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    keep = []  # every socket object, so none is closed by the collector

    def pair():
        ends = socket.socketpair()
        keep.extend(ends)
        return ends[0]

    fds = {}
    a, r, c, e, p, q, n, y, v, o = (pair() for _ in range(10))
    s, w, x = pair(), pair(), pair()
    for sock in (s, w, x):
        _full(sock)
    s.setblocking(True)
    w.setblocking(True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    keep.append(listener)
    pipe_r, pipe_w = os.pipe()

    ep, ep2, ep3, ep4 = (select.epoll() for _ in range(4))
    ep2.register(n.fileno(), select.EPOLLIN)
    ep.register(e.fileno(), select.EPOLLIN)
    ep.register(x.fileno(), select.EPOLLOUT)
    ep.register(ep2.fileno(), select.EPOLLIN)
    # A one-shot registration that already fired: disarmed.
    ep.register(o.fileno(), select.EPOLLIN | select.EPOLLONESHOT)
    keep[keep.index(o) + 1].send(b"!")
    assert ep.poll(0) == [(o.fileno(), select.EPOLLIN)]
    # A registration whose fd was closed while a dup keeps the socket open;
    # the number then goes to a new socket.
    z = pair()
    ep.register(z.fileno(), select.EPOLLIN)
    z_fd = z.fileno()
    z2 = os.dup(z_fd)
    keep.remove(z)
    z.close()
    reuse = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    keep.append(reuse)
    assert reuse.fileno() == z_fd
    ep3.register(y.fileno(), select.EPOLLIN)
    ep4.register(v.fileno(), select.EPOLLIN)
    fds.update(a=a.fileno(), r=r.fileno(), c=c.fileno(), e=e.fileno(), p=p.fileno(),
               q=q.fileno(), n=n.fileno(), y=y.fileno(), v=v.fileno(), o=o.fileno(),
               s=s.fileno(), w=w.fileno(), x=x.fileno(), l=listener.fileno(),
               z=z_fd, z2=z2, pipe_r=pipe_r, ep=ep.fileno(), ep2=ep2.fileno(),
               ep3=ep3.fileno(), ep4=ep4.fileno())

    lock = threading.Lock()
    lock.acquire()

    def t_ppoll():
        array = (PollFd * 2)(PollFd(p.fileno(), select.POLLIN | select.POLLRDHUP, 0),
                             PollFd(-1, select.POLLIN, 0))
        libc.ppoll(array, 2, None, None)

    def t_poll():
        poller = select.poll()
        poller.register(c.fileno(), select.POLLIN)
        poller.register(a.fileno(), select.POLLIN | select.POLLPRI)
        poller.register(pipe_r, select.POLLIN)
        poller.poll()

    def t_select():
        bits = (ctypes.c_ulong * 16)()
        bits[q.fileno() // 64] |= 1 << (q.fileno() % 64)
        libc.syscall(ctypes.c_long(23), ctypes.c_int(q.fileno() + 1), ctypes.byref(bits),
                     None, None, None)

    def t_epoll_pwait():
        events = (ctypes.c_uint8 * 120)()
        libc.epoll_pwait(ep3.fileno(), events, 10, -1, None)

    def t_epoll_pwait2():
        events = (ctypes.c_uint8 * 120)()
        libc.syscall(ctypes.c_long(441), ep4.fileno(), events, 10, None, None, 0)

    def t_nanosleep():
        req = (ctypes.c_long * 2)(1000000, 0)
        rem = (ctypes.c_long * 2)()
        libc.syscall(ctypes.c_long(35), ctypes.byref(req), ctypes.byref(rem))

    cases = {
        "recvfrom": lambda: a.recv(10),
        "recvmsg": lambda: r.recvmsg(10),
        "accept4": listener.accept,
        "sendto": lambda: s.send(b"y" * 65536),
        "write": lambda: os.write(w.fileno(), b"y" * 65536),
        "poll": t_poll,
        "ppoll": t_ppoll,
        "pselect6": lambda: select.select([c, e], [x], [a]),
        "select": t_select,
        "epoll_wait": ep.poll,
        "epoll_pwait": t_epoll_pwait,
        "epoll_pwait2": t_epoll_pwait2,
        "pipe_read": lambda: os.read(pipe_r, 1),
        "futex_timed": lambda: lock.acquire(timeout=1e6),
        "nanosleep": t_nanosleep,
    }
    tids = {}
    started = threading.Barrier(len(cases) + 1)

    def run(case, func):
        tid = threading.get_native_id()
        with open("/proc/self/task/%d/comm" % tid, "w") as f:
            f.write(case)
        tids[case] = tid
        started.wait()
        func()

    for case, func in cases.items():
        threading.Thread(target=run, args=(case, func), daemon=True).start()
    started.wait()
    print(json.dumps({"pid": os.getpid(), "tids": tids, "fds": fds}), flush=True)
    sys.stdin.read()  # until the capture closes our stdin


# ---------------------------------------------------------------- capture

def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def wait_for_calls(pid: int, tids: dict) -> None:
    deadline = time.monotonic() + 10
    while True:
        missing = {case: read("/proc/%d/task/%d/syscall" % (pid, tid)).split(b" ")[0]
                   for case, tid in tids.items()
                   if not read("/proc/%d/task/%d/syscall" % (pid, tid)).startswith(
                       b"%d " % EXPECTED_NR[case])}
        if not missing:
            return
        if time.monotonic() > deadline:
            raise SystemExit("threads not in their calls: %r" % missing)
        time.sleep(0.01)


def memory_regions(line: bytes):
    """(address, size) of the pollfd array or fd_sets a syscall line points at."""
    fields = line.split()
    if len(fields) != 9:
        return []
    nr, args = int(fields[0]), [int(f, 16) for f in fields[1:7]]
    if nr in (7, 219, 271) and 0 < args[1] <= 4096:  # poll, restart, ppoll
        return [(args[0], args[1] * 8)]
    if nr in (23, 270) and 0 < args[0] <= 4096:       # select, pselect6
        size = (args[0] + 63) // 64 * 8
        return [(address, size) for address in args[1:4] if address]
    return []


def snapshot(pid: int, out: str) -> None:
    """Copy the process's records into out/ (also run from inside gdb)."""
    shutil.rmtree(out, ignore_errors=True)
    proc = os.path.join(out, "proc", str(pid))
    mem = {}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as memfile:
        for tid in os.listdir("/proc/%d/task" % pid):
            task = os.path.join(proc, "task", tid)
            os.makedirs(task)
            for name in ("syscall", "wchan", "comm"):
                data = read("/proc/%d/task/%s/%s" % (pid, tid, name))
                with open(os.path.join(task, name), "wb") as f:
                    f.write(data)
            for address, size in memory_regions(read(os.path.join(task, "syscall"))):
                try:
                    mem["%#x" % address] = os.pread(memfile.fileno(), size, address).hex()
                except OSError:
                    pass  # not a pointer (a restarted sleep's arguments)
    links = {fd: os.readlink("/proc/%d/fd/%s" % (pid, fd))
             for fd in os.listdir("/proc/%d/fd" % pid)}
    os.makedirs(os.path.join(proc, "fdinfo"))
    for fd, target in links.items():
        if target == "anon_inode:[eventpoll]":
            with open(os.path.join(proc, "fdinfo", fd), "wb") as f:
                f.write(read("/proc/%d/fdinfo/%s" % (pid, fd)))
    with open(os.path.join(out, "links.json"), "w") as f:
        json.dump(dict(sorted(links.items(), key=lambda kv: int(kv[0]))), f, indent=1)
    with open(os.path.join(out, "mem.json"), "w") as f:
        json.dump(mem, f, indent=1, sort_keys=True)


def under_gdb(pid: int, command: str) -> None:
    out = subprocess.run(["gdb", "-nx", "-q", "-batch", "-p", str(pid), "-ex",
                          "shell " + command], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit("gdb failed: %s" % out.stderr)


def main() -> None:
    me = os.path.abspath(__file__)
    # stderr to /dev/null keeps the capture's own paths out of links.json.
    child = subprocess.Popen([sys.executable, me, "--blocker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        info = json.loads(child.stdout.readline())
        pid = info["pid"]
        wait_for_calls(pid, info["tids"])
        snapshot(pid, os.path.join(HERE, "free"))
        under_gdb(pid, "%s %s --snapshot %d %s" % (sys.executable, me, pid,
                                                    os.path.join(HERE, "gdb")))
        # After the detach: the poll thread becomes restart_syscall.
        deadline = time.monotonic() + 10
        while not read("/proc/%d/task/%d/syscall" % (pid, info["tids"]["poll"])).startswith(
                b"219 "):
            if time.monotonic() > deadline:
                raise SystemExit("the poll thread did not restart")
            time.sleep(0.01)
        snapshot(pid, os.path.join(HERE, "after_gdb"))
        under_gdb(pid, "%s %s --snapshot %d %s" % (sys.executable, me, pid,
                                                    os.path.join(HERE, "gdb_again")))
        os.makedirs(os.path.join(HERE, "busy"), exist_ok=True)
        busy_syscall = "/proc/%d/task/%d/syscall" % (busy.pid, busy.pid)
        deadline = time.monotonic() + 10
        while read(busy_syscall) != b"running\n":
            if time.monotonic() > deadline:
                raise SystemExit("the busy process is never seen running")
            time.sleep(0.01)
        shutil.copy(busy_syscall, os.path.join(HERE, "busy", "free_syscall"))
        under_gdb(busy.pid, "cp %s %s" % (busy_syscall, os.path.join(HERE, "busy",
                                                                   "gdb_syscall")))
        with open(os.path.join(HERE, "capture.json"), "w") as f:
            json.dump(info, f, indent=1)
    finally:
        busy.kill()
        child.kill()
        busy.wait()
        child.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--blocker"]:
        blocker()
    elif sys.argv[1:2] == ["--snapshot"]:
        snapshot(int(sys.argv[2]), sys.argv[3])
    else:
        main()
