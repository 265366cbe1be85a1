"""Waiting for a thread to block in a system call (readiness, never a sleep)."""

import time
from typing import Iterable


def wait_in_syscall(pid: int, tid: int, numbers: Iterable[int], timeout: float = 5.0) -> None:
    """Until /proc/PID/task/TID/syscall says the thread is in one of ``numbers``."""
    wanted = {str(nr).encode() for nr in numbers}
    path = "/proc/%d/task/%d/syscall" % (pid, tid)
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "rb") as f:
            if f.read().split(b" ", 1)[0] in wanted:
                return
        assert time.monotonic() < deadline, "thread %d never entered call %s" % (tid, numbers)
        time.sleep(0.002)
