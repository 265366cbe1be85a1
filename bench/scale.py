#!/usr/bin/env python3
"""`info sockets` at scale, against ss and lsof, in one run.

    python3 bench/scale.py [--sizes 1000,10000,20000] [--rounds 7] [--json FILE] [-v]

Three workloads for each size N, built here (tests/targets/sc_hold.c,
compiled with ``cc -O2`` into a temporary directory):

  big target     one process holding N loopback TCP sockets (a listener
                 and connected pairs, both ends in the process);
  shared host    a process holding N/2 TCP sockets while another process
                 holds N/2 more (the issue's "10k target on a host where
                 another process holds 10k more" at N = 20000);
  small target   a process holding 10 TCP sockets while other processes
                 ("hogs", at most ~19,900 sockets each) hold N more.

For each workload gdb attaches to the target once (not timed), then every
round times, in an order that rotates from round to round:

  info sockets     inside gdb: time.perf_counter() around
                   gdb.execute("info sockets", to_string=True)
  info sockets -json
                   the same with -json
  listing          inside gdb: listing.list_rows() alone (the part of
                   the command that reads the kernel; the rest is other
                   modules' annotations and the rendering)
  C reference      bench/targets/ref_sockets.c (built here, never shipped):
                   the same work in C, single-threaded (fd links, sock_diag
                   dumps, the join, the table); its own time, measured
                   inside it (no exec), like the gdb timings.  Its table is
                   checked, once per workload, to be byte for byte the one
                   `info sockets` printed.
  C links only     the same program reading the fd links only
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
REF_C = os.path.join(BENCH_DIR, "targets", "ref_sockets.c")
GDB_SETTINGS = ("set pagination off", "set width 0", "set confirm off",
                "set style enabled off", "set debuginfod enabled off")
SMALL = 10            # sockets of the small target
FD_MARGIN = 16        # fds sc_hold keeps for itself under RLIMIT_NOFILE

# Run inside gdb once: the functions each round calls.
GDB_HELPER = r'''
import gdb, time
from gdb_sockets.listing import join as listing
from gdb_sockets.kernel.procfs import LocalProc

def _scale_info(command="info sockets"):
    t0 = time.perf_counter()
    out = gdb.execute(command, to_string=True)
    t1 = time.perf_counter()
    print("@@T %.9f %d" % (t1 - t0, out.count("\n")))

def _scale_json():
    _scale_info("info sockets -json")

def _scale_save(path):
    with open(path, "w") as f:
        f.write(gdb.execute("info sockets", to_string=True))
    print("@@T 0 0")

def _scale_listing():
    pid = gdb.selected_inferior().pid
    t0 = time.perf_counter()
    found = listing.list_rows(LocalProc(), pid, local=True)
    t1 = time.perf_counter()
    print("@@T %.9f %d" % (t1 - t0, len(found.entries)))
'''


def log(args, text):
    if args.verbose:
        print(text, file=sys.stderr, flush=True)


def build(tmp: str, cc: str):
    """(sc_hold, ref_sockets) compiled into ``tmp``."""
    binary = os.path.join(tmp, "sc_hold")
    subprocess.run([cc, "-O2", "-o", binary, TARGET_C], check=True)
    ref = os.path.join(tmp, "ref_sockets")
    subprocess.run([cc, "-O2", "-o", ref, REF_C], check=True)
    return binary, ref


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

    def timed(self, function: str, *args):
        out = self.cmd("python %s(%s)" % (function, ", ".join(map(repr, args))))
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


def run_ref(argv):
    """The C reference's own time (REF_MS on its stderr) and its line count."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    said = proc.stderr.decode(errors="replace")
    if proc.returncode != 0 or not said.startswith("REF_MS "):
        raise RuntimeError("%s failed (%d): %s" % (shlex.join(argv), proc.returncode, said))
    return float(said.split()[1]) / 1e3, proc.stdout.count(b"\n")


def same_table(gdb: Gdb, ref: str, pid: int, tmp: str) -> bool:
    """True when the C reference prints byte for byte the table of info sockets."""
    path = os.path.join(tmp, "info_sockets.txt")
    gdb.timed("_scale_save", path)
    with open(path, "rb") as f:
        ours = f.read()
    theirs = subprocess.run([ref, str(pid)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, check=True).stdout
    return ours == theirs


def measure(args, gdb: Gdb, pid: int, ref: str):
    tools = {
        "info sockets": lambda: gdb.timed("_scale_info"),
        "info sockets -json": lambda: gdb.timed("_scale_json"),
        "listing": lambda: gdb.timed("_scale_listing"),
        "C reference": lambda: run_ref([ref, str(pid)]),
        "C links only": lambda: run_ref([ref, str(pid), "--links-only"]),
        "ss -tanp": lambda: run_tool(["ss", "-tanp"]),
        "ss -tan": lambda: run_tool(["ss", "-tan"]),
        "lsof": lambda: run_tool(["lsof", "-nP", "-p", str(pid), "-a", "-i"]),
    }
    names = list(tools)
    gdb.timed("_scale_info")  # warm-up: imports, first reads
    gdb.timed("_scale_json")
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


WORKLOADS = ("big", "shared", "small")
LABELS = {"big": "big target", "shared": "shared host", "small": "small target"}


def _hogs(binary, total, per_process, prefix):
    hogs, left, k = [], total, 0
    try:
        while left > 0:
            share = min(left, per_process)
            hogs.append(Holder(binary, share, "%s.%d" % (prefix, k + 1)))
            left -= share
            k += 1
    except BaseException:
        for hog in hogs:
            hog.stop()
        raise
    return hogs


def workloads(args, binary, size, hard_limit, run_id):
    """Yield (label, target Holder, target sockets, host sockets) for one size; cleans up."""
    per_process = hard_limit - FD_MARGIN
    for kind in args.workloads:
        if kind == "big":
            mine, others = min(size, per_process), 0
        elif kind == "shared":
            mine = min(size // 2, per_process)
            others = size - size // 2
        else:
            mine, others = SMALL, size
        hogs = _hogs(binary, others, per_process, "127.%d.%d" % (run_id, 2 + 2 * WORKLOADS.index(kind)))
        try:
            target = Holder(binary, mine, "127.%d.%d.1" % (run_id, 3 + 2 * WORKLOADS.index(kind)))
            try:
                yield LABELS[kind], target, mine, mine + others
            finally:
                target.stop()
        finally:
            for hog in hogs:
                hog.stop()


def median_ms(values):
    return statistics.median(values) * 1e3


def print_tables(rows) -> None:
    """Two Markdown tables: the medians, then the ratios side by side."""
    print("| Workload | Target sockets | Host sockets | `info sockets` ms | `-json` ms "
          "| of which listing ms | C reference ms | C links only ms | `ss -tanp` ms "
          "| `ss -tan` ms | `lsof -nP -p PID -a -i` ms | C table identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, _size, mine, host, times, same in rows:
        m = {k: median_ms(v) for k, v in times.items()}
        print("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f | %s |" % (
            label, mine, host, m["info sockets"], m["info sockets -json"], m["listing"],
            m["C reference"], m["C links only"], m["ss -tanp"], m["ss -tan"], m["lsof"],
            "yes" if same else "NO"))
    print()
    print("| Workload | Target sockets | Host sockets | `info sockets` / `ss -tanp` "
          "| `info sockets` / C | `-json` / `ss -tanp` | `info sockets` / lsof |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, _size, mine, host, times, _same in rows:
        m = {k: median_ms(v) for k, v in times.items()}
        print("| %s | %d | %d | %.3f | %.2f | %.3f | %.3f |" % (
            label, mine, host, m["info sockets"] / m["ss -tanp"],
            m["info sockets"] / m["C reference"], m["info sockets -json"] / m["ss -tanp"],
            m["info sockets"] / m["lsof"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,20000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated, of: %s" % ", ".join(WORKLOADS))
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
    args.workloads = args.workloads.split(",")
    if set(args.workloads) - set(WORKLOADS):
        parser.error("unknown workload in %s" % ",".join(args.workloads))

    rows, records = [], []
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gdb_sockets_scale_") as tmp:
        binary, ref = build(tmp, args.cc)
        helper = os.path.join(tmp, "helper.py")
        with open(helper, "w") as f:
            f.write(GDB_HELPER)
        run_id = 100 + os.getpid() % 100  # 127.X.*.*: fresh addresses, no old TIME-WAITs
        for size in sizes:
            for label, target, mine, host in workloads(args, binary, size, hard, run_id):
                log(args, "%s, N=%d: pid %d holds %d, host %d" % (label, size, target.pid, mine, host))
                gdb = Gdb(args.gdb, target.pid, helper)
                try:
                    same = same_table(gdb, ref, target.pid, tmp)
                    times, lines = measure(args, gdb, target.pid, ref)
                finally:
                    gdb.close()
                ours, ss_p, lsof = (median_ms(times[k]) for k in ("info sockets", "ss -tanp", "lsof"))
                rows.append((label, size, mine, host, times, same))
                records.append({"workload": label, "size": size, "target_sockets": mine,
                                "host_sockets": host, "times_s": times, "lines": lines,
                                "c_table_identical": same})
                log(args, "  medians: info sockets %.1f ms, ss -tanp %.1f ms, lsof %.1f ms"
                    % (ours, ss_p, lsof))
    elapsed = time.monotonic() - started

    print_tables(rows)
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
