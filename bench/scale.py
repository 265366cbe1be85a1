#!/usr/bin/env python3
"""`info sockets` at scale, against ss and lsof, in one run.

    python3 bench/scale.py [--sizes 1000,10000,20000] [--rounds 7] [--json FILE] [-v]

Two workloads for each size N, built here (tests/targets/sc_hold.c,
compiled with ``cc -O2`` into a temporary directory):

  big target     one process holding N loopback TCP sockets (a listener
                 and connected pairs, both ends in the process);
  small target   a process holding 10 TCP sockets while other processes
                 ("hogs", at most ~19,900 sockets each) hold N more.

For each workload gdb attaches to the target once (not timed), then every
round times, in an order that rotates from round to round:

  info sockets     inside gdb: time.perf_counter() around
                   gdb.execute("info sockets", to_string=True)
  listing          inside gdb: listing.list_sockets() alone (the part of
                   the command that reads the kernel; the rest is other
                   modules' annotations and the rendering)
  ss -tanp, ss -tan, lsof -nP -p PID -a -i
                   wall time of the process, output read through a pipe

and the table shows the median of each.  Every process this script
starts is killed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import pexpect

BENCH_DIR = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(BENCH_DIR)
INIT_PY = os.path.join(REPO, "gdb_sockets", "init.py")
TARGET_C = os.path.join(REPO, "tests", "targets", "sc_hold.c")
GDB_SETTINGS = ("set pagination off", "set width 0", "set confirm off",
                "set style enabled off", "set debuginfod enabled off")
SMALL = 10            # sockets of the small target
FD_MARGIN = 16        # fds sc_hold keeps for itself under RLIMIT_NOFILE

# Run inside gdb once: the functions each round calls.
GDB_HELPER = r'''
import gdb, time
from gdb_sockets.listing import join as listing
from gdb_sockets.kernel.procfs import LocalProc

def _scale_info():
    t0 = time.perf_counter()
    out = gdb.execute("info sockets", to_string=True)
    t1 = time.perf_counter()
    print("@@T %.9f %d" % (t1 - t0, out.count("\n")))

def _scale_listing():
    pid = gdb.selected_inferior().pid
    t0 = time.perf_counter()
    found = listing.list_sockets(LocalProc(), pid, local=True)
    t1 = time.perf_counter()
    print("@@T %.9f %d" % (t1 - t0, len(found.sockets)))
'''


def log(args, text):
    if args.verbose:
        print(text, file=sys.stderr, flush=True)


def build(tmp: str, cc: str) -> str:
    binary = os.path.join(tmp, "sc_hold")
    subprocess.run([cc, "-O2", "-o", binary, TARGET_C], check=True)
    return binary


class Holder:
    """A running sc_hold: ``pid``, ``info`` (its READY line), ``stop()``."""

    def __init__(self, binary: str, count: int, address: str) -> None:
        self.proc = subprocess.Popen([binary, str(count), address], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("sc_hold %d %s: %r %s" % (count, address, line,
                                                         self.proc.stderr.read()))
        self.info = json.loads(line[len("READY "):])
        self.pid = self.info["pid"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class Gdb:
    """gdb attached to ``pid`` under pexpect, gdb_sockets loaded."""

    PROMPT = "(gdb) "

    def __init__(self, gdb: str, pid: int, helper: str) -> None:
        argv = ["-nx", "-q"]
        for setting in GDB_SETTINGS:
            argv += ["-iex", setting]
        argv += ["-iex", "source " + INIT_PY, "-p", str(pid)]
        self.child = pexpect.spawn(gdb, argv, env=dict(os.environ, TERM="dumb"),
                                   encoding="utf-8", timeout=120, dimensions=(50, 1000))
        self.child.expect_exact(self.PROMPT)
        self.cmd("source " + helper)

    def cmd(self, text: str) -> str:
        self.child.sendline(text)
        self.child.expect_exact(self.PROMPT)
        return self.child.before

    def timed(self, function: str):
        out = self.cmd("python %s()" % function)
        for line in out.splitlines():
            if line.startswith("@@T "):
                seconds, count = line.split()[1:3]
                return float(seconds), int(count)
        raise RuntimeError("no timing from %s: %r" % (function, out))

    def close(self) -> None:
        if self.child.isalive():
            try:
                self.child.sendline("detach")
                self.child.expect_exact(self.PROMPT, timeout=20)
                self.child.sendline("quit")
                self.child.expect(pexpect.EOF, timeout=20)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                pass
        self.child.close(force=True)


def run_tool(argv):
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (shlex.join(argv), proc.returncode,
                                                   proc.stderr.decode(errors="replace")))
    return seconds, proc.stdout.count(b"\n")


def measure(args, gdb: Gdb, pid: int):
    tools = {
        "info sockets": lambda: gdb.timed("_scale_info"),
        "listing": lambda: gdb.timed("_scale_listing"),
        "ss -tanp": lambda: run_tool(["ss", "-tanp"]),
        "ss -tan": lambda: run_tool(["ss", "-tan"]),
        "lsof": lambda: run_tool(["lsof", "-nP", "-p", str(pid), "-a", "-i"]),
    }
    names = list(tools)
    gdb.timed("_scale_info")  # warm-up: imports, first reads
    times = {name: [] for name in names}
    lines = {}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            seconds, count = tools[name]()
            times[name].append(seconds)
            lines[name] = count
        log(args, "  round %d: %s" % (r + 1, " ".join(
            "%s=%.1fms" % (n, times[n][-1] * 1e3) for n in names)))
    return times, lines


def workloads(args, binary, size, hard_limit, run_id):
    """Yield (label, target Holder, host sockets) for one size; cleans up."""
    per_process = hard_limit - FD_MARGIN
    # big target: N sockets in one process (capped by RLIMIT_NOFILE).
    count = min(size, per_process)
    big = Holder(binary, count, "127.%d.1.1" % run_id)
    try:
        yield "big target", big, count, count
    finally:
        big.stop()
    # small target among N others.
    hogs = []
    try:
        left, k = size, 0
        while left > 0:
            share = min(left, per_process)
            hogs.append(Holder(binary, share, "127.%d.2.%d" % (run_id, k + 1)))
            left -= share
            k += 1
        small = Holder(binary, SMALL, "127.%d.3.1" % run_id)
        try:
            yield "small target", small, SMALL, size + SMALL
        finally:
            small.stop()
    finally:
        for hog in hogs:
            hog.stop()


def median_ms(values):
    return statistics.median(values) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,20000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--gdb", default="gdb")
    parser.add_argument("--cc", default="cc")
    parser.add_argument("--json", help="write every timing here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    for tool in ("ss", "lsof", args.gdb, args.cc):
        if shutil.which(tool) is None:
            parser.error("%s is not installed" % tool)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(s) for s in args.sizes.split(",")]

    rows, records = [], []
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gdb_sockets_scale_") as tmp:
        binary = build(tmp, args.cc)
        helper = os.path.join(tmp, "helper.py")
        with open(helper, "w") as f:
            f.write(GDB_HELPER)
        run_id = 100 + os.getpid() % 100  # 127.X.*.*: fresh addresses, no old TIME-WAITs
        for size in sizes:
            for label, target, mine, host in workloads(args, binary, size, hard, run_id):
                log(args, "%s, N=%d: pid %d holds %d, host %d" % (label, size, target.pid, mine, host))
                gdb = Gdb(args.gdb, target.pid, helper)
                try:
                    times, lines = measure(args, gdb, target.pid)
                finally:
                    gdb.close()
                ours, ss_p, lsof = (median_ms(times[k]) for k in ("info sockets", "ss -tanp", "lsof"))
                rows.append((label, size, mine, host, times, lines))
                records.append({"workload": label, "size": size, "target_sockets": mine,
                                "host_sockets": host, "times_s": times, "lines": lines})
                log(args, "  medians: info sockets %.1f ms, ss -tanp %.1f ms, lsof %.1f ms"
                    % (ours, ss_p, lsof))
    elapsed = time.monotonic() - started

    print("| Workload | N | Target sockets | `info sockets` ms | of which listing ms "
          "| `ss -tanp` ms | `ss -tan` ms | `lsof -nP -p PID -a -i` ms "
          "| vs `ss -tanp` | vs lsof |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, size, mine, host, times, lines in rows:
        m = {k: median_ms(v) for k, v in times.items()}
        print("| %s | %d | %d | %.2f | %.2f | %.1f | %.1f | %.1f | %.3f | %.3f |" % (
            label, size, mine, m["info sockets"], m["listing"], m["ss -tanp"], m["ss -tan"],
            m["lsof"], m["info sockets"] / m["ss -tanp"], m["info sockets"] / m["lsof"]))
    print()
    print("Medians of %d interleaved rounds; ratios are `info sockets` over the tool. "
          "%s, kernel %s, %d CPUs, Python %s; load average %.2f before, %.2f after; "
          "RLIMIT_NOFILE hard limit %d; %.0f s." % (
              args.rounds, platform.node(), platform.release(), os.cpu_count(),
              platform.python_version(), load_before[0], os.getloadavg()[0], hard, elapsed))
    print("Command: python3 bench/scale.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
