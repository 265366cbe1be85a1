#!/usr/bin/env python3
"""Capture /proc/PID/status and one thread's task status under four SIGPIPE setups.

Run from the repository root: python3 tests/unit/samples/signals/capture.py

Each case is a child Python process (Python itself starts with SIGPIPE and
SIGXFSZ ignored, so each case sets SIGPIPE first) with a second thread;
the files written are the exact bytes of

    CASE.status        /proc/PID/status (the main thread's sets)
    CASE.task_status   /proc/PID/task/TID/status of the second thread

cases:
    default   SIGPIPE back to SIG_DFL
    ignored   SIGPIPE left as Python sets it (SIG_IGN)
    caught    a Python handler for SIGPIPE (a C-level handler is installed)
    blocked   SIG_DFL, and the second thread blocks SIGPIPE (pthread_sigmask)
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import os, signal, sys, threading
case = sys.argv[1]
if case in ("default", "blocked"):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
elif case == "caught":
    signal.signal(signal.SIGPIPE, lambda *a: None)
ready = threading.Event()
def second():
    if case == "blocked":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    print(threading.get_native_id(), flush=True)
    ready.set()
    threading.Event().wait()
threading.Thread(target=second, daemon=True).start()
ready.wait()
sys.stdin.read()
"""


def main() -> None:
    for case in ("default", "ignored", "caught", "blocked"):
        child = subprocess.Popen([sys.executable, "-c", CHILD, case], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        tid = int(child.stdout.readline())
        for name, path in (("status", "/proc/%d/status" % child.pid),
                           ("task_status", "/proc/%d/task/%d/status" % (child.pid, tid))):
            with open(path, "rb") as f:
                data = f.read()
            with open(os.path.join(HERE, "%s.%s" % (case, name)), "wb") as f:
                f.write(data)
        child.stdin.close()
        child.wait()


if __name__ == "__main__":
    main()
