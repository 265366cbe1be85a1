#!/usr/bin/env python3
"""Does the command line stop the process?  Measured from inside it.

    python3 bench/cli_stall.py [--reps N] [--gdb PATH]

The target is tests/targets/ticker.c (built here with cc): a ticker thread
keeps the longest gap between two of its 1 ms ticks, counts the reads of
its threads' TracerPid that found a tracer, and an epoll_wait thread counts
the EINTR a ptrace attach gives it.  Each repetition runs every variant
once, round robin, on a fresh target:

  idle                      nothing: the ticker's own noise while a no-op
                            python3 starts and ends
  cli list                  python3 -m gdb_sockets PID
  cli list -json -holders   the same with the scan of every process
  cli shutdown              python3 -m gdb_sockets PID shutdown CLIENT_FD read
  gdb info sockets          gdb -batch -p PID -ex 'info sockets', for comparison

It prints a Markdown table: the longest gap (median and [min-max], ms), the
wall time of the command, and the TracerPid and EINTR counts summed over
the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(BENCH_DIR)
TICKER_C = os.path.join(REPO, "tests", "targets", "ticker.c")
INIT_PY = os.path.join(REPO, "gdb_sockets", "init.py")
SETTLE_S = 0.1


class Ticker:
    def __init__(self, binary: str) -> None:
        self.popen = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.popen.stdout.readline()
        self.info = json.loads(line.split(None, 1)[1])
        self.pid = self.info["pid"]

    def _ask(self, sig: int, prefix: str) -> str:
        os.kill(self.pid, sig)
        while True:
            line = self.popen.stdout.readline()
            if not line:
                raise RuntimeError("the ticker ended")
            if line.startswith(prefix):
                return line

    def reset(self) -> None:
        self._ask(signal.SIGUSR2, "RESET")

    def stats(self) -> dict:
        return json.loads(self._ask(signal.SIGUSR1, "STATS ").split(None, 1)[1])

    def stop(self) -> None:
        self.popen.kill()
        self.popen.wait()


def variants(gdb: str):
    cli = [sys.executable, "-m", "gdb_sockets"]
    return [
        ("idle", lambda t: [sys.executable, "-c", "pass"]),
        ("cli list", lambda t: cli + [str(t.pid)]),
        ("cli list -json -holders", lambda t: cli + [str(t.pid), "-json", "-holders"]),
        ("cli shutdown", lambda t: cli + [str(t.pid), "shutdown", str(t.info["fds"]["client"]),
                                          "read"]),
        ("gdb info sockets", lambda t: [gdb, "-nx", "-q", "-batch", "-iex", "source " + INIT_PY,
                                        "-p", str(t.pid), "-ex", "info sockets"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--gdb", default="gdb")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cli_stall_")
    binary = os.path.join(work, "ticker")
    subprocess.run(["cc", "-O2", "-pthread", "-o", binary, TICKER_C], check=True)
    runs = {name: [] for name, _ in variants(args.gdb)}
    order = variants(args.gdb)
    for rep in range(args.reps):
        for name, argv_of in order[rep % len(order):] + order[:rep % len(order)]:
            target = Ticker(binary)
            try:
                time.sleep(SETTLE_S)
                target.reset()
                start = time.monotonic()
                proc = subprocess.run(argv_of(target), cwd=REPO, capture_output=True, text=True)
                wall = (time.monotonic() - start) * 1000
                stats = target.stats()
                if proc.returncode != 0:
                    raise RuntimeError("%s failed: %s" % (name, proc.stderr))
                runs[name].append((stats["max_gap_us"] / 1000, wall, stats["traced"],
                                   stats["eintr"]))
            finally:
                target.stop()
    print("| Variant | Longest tick gap ms | Wall ms | TracerPid seen | EINTR |")
    print("|---|---|---|---|---|")
    for name, rows in runs.items():
        gaps = [r[0] for r in rows]
        walls = [r[1] for r in rows]
        print("| %s | %.1f [%.1f-%.1f] | %.0f | %d | %d |" % (
            name, statistics.median(gaps), min(gaps), max(gaps), statistics.median(walls),
            sum(r[2] for r in rows), sum(r[3] for r in rows)))
    print()
    print("%d repetitions; %s, %s CPUs, Linux %s; `python3 bench/cli_stall.py --reps %d`"
          % (args.reps, platform.machine(), os.cpu_count(), platform.release(), args.reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
