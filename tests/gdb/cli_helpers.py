"""Running the command line in tests (tests/cli/ and tests/gdb/test_cli_vs_gdb.py).

``cli(*args, prefix=(), cwd=REPO, argv=CLI, stdin=DEVNULL, env=None) -> (rc, out, err)``
    ``python3 -m gdb_sockets ARGS``; fails the test on a Python traceback.
``cli_json(*args) -> dict``
    The same with rc 0 and exactly one line of JSON, parsed.
``stats(target) -> dict``
    tests/targets/ticker.c's STATS line (SIGUSR1), parsed.
``TracerWatch(pid)``: reads TracerPid of every thread of ``pid`` in a loop,
    from outside, until ``stop()``, which returns the tracer pids seen.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading

import harness

CLI = [sys.executable, "-m", "gdb_sockets"]
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def cli(*args, prefix=(), cwd=harness.REPO_DIR, argv=CLI, stdin=subprocess.DEVNULL, env=None):
    """Run the command line; (rc, stdout, stderr)."""
    run_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(list(prefix) + list(argv) + [str(a) for a in args], cwd=cwd,
                          stdin=stdin, capture_output=True, text=True,
                          errors="surrogateescape", env=run_env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def cli_json(*args, **kwargs):
    rc, out, err = cli(*args, **kwargs)
    assert rc == 0, (rc, out, err)
    lines = out.splitlines()
    assert len(lines) == 1, "-json is one line: %r" % out
    return json.loads(lines[0])


def stats(target):
    os.kill(target.pid, signal.SIGUSR1)
    return json.loads(target.expect("STATS ").split(None, 1)[1])


class TracerWatch:
    """Reads TracerPid of every thread of ``pid`` in a loop, from outside."""

    def __init__(self, pid):
        self.pid = pid
        self.seen = set()
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                tids = os.listdir("/proc/%d/task" % self.pid)
            except OSError:
                return
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/status" % (self.pid, tid)) as f:
                        status = f.read()
                except OSError:
                    continue
                tracer = int(re.search(r"^TracerPid:\s*(\d+)", status, re.M).group(1))
                if tracer:
                    self.seen.add(tracer)
            self.reads += 1

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        return self.seen
