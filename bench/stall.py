#!/usr/bin/env python3
"""How long is the target frozen?  Measured from inside the target.

    python3 bench/stall.py [--reps N] [--gdb PATH] [--json FILE] [-v]

A small C target (bench/targets/stall_target.c, compiled here with ``cc``
into a temporary directory) holds a loopback TCP pair, blocks its main
thread in recv() on the client fd, and runs a ticker thread that reads
CLOCK_MONOTONIC every millisecond and keeps the longest gap between two
reads.  While gdb has the process stopped the ticker cannot run, so the
longest gap seen across a gdb run is the stall the process suffered.

Each repetition runs every variant once, round robin (the starting
variant rotates from one repetition to the next), each on a fresh target
(shutdown is one-shot, and a failed inferior call can damage the target):

  no gdb                 the ticker's own noise over a 250 ms window
  attach+detach          gdb attaches and detaches, doing nothing
  attach+detach, loaded  the same with gdb_sockets sourced (-iex)
  one-liner              gdb -p PID -batch -ex 'call (int)shutdown(FD, 2)'
  sock-shutdown -method auto|call|syscall|pidfd FD

For each run it records: the stall (longest ticker gap, ms), the wall time
of the gdb process, the time of the command alone inside gdb (two
``python`` markers around it), what gdb said (its error, if any; the method
sock-shutdown reports) and what the target saw afterwards (what the
blocked recv() returned, whether the process is alive and ticking).

It prints a Markdown table (median and [min-max] over the repetitions),
the machine line and the command used.  Nothing is hidden: a variant that
fails says so, with gdb's error and what happened to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

BENCH_DIR = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(BENCH_DIR)
INIT_PY = os.path.join(REPO, "gdb_sockets", "init.py")
TARGET_C = os.path.join(BENCH_DIR, "targets", "stall_target.c")

IDLE_WINDOW_S = 0.25      # the "no gdb" row watches the ticker this long
SETTLE_S = 0.10           # after READY, before the run: threads are up and ticking
AFTER_S = 0.05            # after gdb exits, before asking the ticker
WOKE_WAIT_S = 0.30        # how long to wait for recv() to return after the run

# Kernel-internal "restart" codes (include/linux/errno.h): user space must
# never see them; a recv() returning one was damaged by the debugger.
KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                 515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK"}

MARK_START = "python import time; gdb._bench_t0 = time.perf_counter()"
MARK_END = 'python print("BENCH_CMD_S %.6f" % (time.perf_counter() - gdb._bench_t0))'


class Variant:
    """One way of (not) touching the target: a label and the gdb command."""

    def __init__(self, key, label, command=None, load=False, gdb=True, expect_woke=True):
        self.key = key
        self.label = label
        self.command = command      # the -ex command, with {fd}; None: attach only
        self.load = load            # source gdb_sockets/init.py with -iex
        self.gdb = gdb              # False: no gdb at all (ticker noise)
        self.expect_woke = expect_woke

    def argv(self, gdb_path, pid, fd):
        argv = [gdb_path, "-nx", "-q", "-batch"]
        if self.load:
            argv += ["-iex", "source " + INIT_PY]
        argv += ["-p", str(pid), "-ex", MARK_START]
        if self.command:
            argv += ["-ex", self.command.format(fd=fd)]
        argv += ["-ex", MARK_END]
        return argv

    def shown_command(self, gdb_path):
        if not self.gdb:
            return "(no gdb: the ticker alone, %d ms)" % (IDLE_WINDOW_S * 1000)
        argv = [gdb_path, "-nx", "-q", "-batch"]
        if self.load:
            argv += ["-iex", "source " + os.path.relpath(INIT_PY)]
        argv += ["-p", "PID"]
        if self.command:
            argv += ["-ex", self.command.format(fd="FD")]
        return shlex.join(argv)


VARIANTS = [
    Variant("idle", "no gdb (ticker noise)", gdb=False, expect_woke=False),
    Variant("attach", "attach+detach, nothing else", expect_woke=False),
    Variant("attach-loaded", "attach+detach, gdb_sockets loaded", load=True, expect_woke=False),
    Variant("one-liner", "one-liner `call (int)shutdown(FD, 2)`",
            command="call (int)shutdown({fd}, 2)"),
    Variant("auto", "`sock-shutdown FD` (auto)", command="sock-shutdown {fd}", load=True),
    Variant("call", "`sock-shutdown -method call FD`",
            command="sock-shutdown -method call {fd}", load=True),
    Variant("syscall", "`sock-shutdown -method syscall FD`",
            command="sock-shutdown -method syscall {fd}", load=True),
    Variant("pidfd", "`sock-shutdown -method pidfd FD`",
            command="sock-shutdown -method pidfd {fd}", load=True),
]


# --------------------------------------------------------------------------
# The target


HOLD_C = os.path.join(REPO, "tests", "targets", "sc_hold.c")


class BusyHost:
    """Other processes holding ``count`` loopback TCP sockets while it is entered."""

    def __init__(self, cc, workdir, count):
        self.cc, self.workdir, self.count, self.procs = cc, workdir, count, []

    def __enter__(self):
        if not self.count:
            return self
        import resource
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        binary = os.path.join(self.workdir, "sc_hold")
        subprocess.run([self.cc, "-O2", "-o", binary, HOLD_C], check=True)
        left, k = self.count, 0
        try:
            while left > 0:
                share = min(left, hard - 16)
                proc = subprocess.Popen([binary, str(share), "127.%d.9.%d" % (
                    100 + os.getpid() % 100, k + 1)], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    start_new_session=True)
                self.procs.append(proc)
                if not proc.stdout.readline().startswith("READY "):
                    raise RuntimeError("sc_hold %d did not start" % share)
                left -= share
                k += 1
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        self.procs = []


def build_target(cc, workdir):
    binary = os.path.join(workdir, "stall_target")
    subprocess.run([cc, "-O2", "-Wall", "-pthread", "-o", binary, TARGET_C], check=True)
    return binary


class Target:
    """A running stall_target: its lines arrive on a queue read by a thread."""

    def __init__(self, binary, period_us, netns=False):
        argv = [binary, str(period_us)]
        if netns:
            # unshare execs in place (no fork): the target keeps the pid Popen sees.
            argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        self.woke = None            # (ret, errno) once recv() returned
        threading.Thread(target=self._pump, daemon=True).start()
        line = self._next_line(10, "READY")
        if line is None:
            self.stop()
            raise RuntimeError("stall_target did not print READY")
        self.info = json.loads(line.split(" ", 1)[1])
        self.pid = self.info["pid"]
        self.fd = self.info["fds"]["client"]

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _next_line(self, timeout, prefix):
        """The next line starting with prefix; WOKE lines met on the way are kept."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                self.lines.put(None)  # EOF stays visible
                return None
            if line.startswith("WOKE "):
                fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                self.woke = (int(fields["ret"]), int(fields["errno"]))
            if line.startswith(prefix):
                return line

    def max_gap(self, timeout=5):
        """Ask the ticker: (longest gap in ms, ticks) since the last question, or None."""
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        line = self._next_line(timeout, "MAX ")
        if line is None:
            return None
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        return int(fields["gap_us"]) / 1000.0, int(fields["ticks"])

    def wait_woke(self, timeout):
        if self.woke is None:
            self._next_line(timeout, "WOKE ")
        return self.woke

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


# --------------------------------------------------------------------------
# One run


def _gdb_env():
    env = dict(os.environ, LC_ALL="C", TERM="dumb")
    env.pop("DEBUGINFOD_URLS", None)  # no network look-ups in the timings
    return env


# gdb prints the source line it stopped at; without the libc sources that is
# "28\t../sysdeps/unix/sysv/linux/recv.c: No such file or directory." on stderr.
_SOURCE_NOISE = re.compile(r"^\d+\s+(in )?\S+(: No such file or directory\.)?$")


def _errors(stderr):
    """gdb's error lines: not the missing-source noise, not warnings."""
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line or _SOURCE_NOISE.match(line) or line.startswith("warning: "):
            continue
        out.append(line)
    return out


def _sock_shutdown_says(stdout):
    for line in stdout.splitlines():
        if line.startswith("shutdown(") and "[method: " in line:
            return line
    return None


def describe_woke(woke, expect_woke):
    if woke is None:
        return "recv() still blocked" if not expect_woke else "recv() still blocked (not woken)"
    ret, err = woke
    if ret == 0:
        return "recv() returned 0 (EOF)"
    if ret < 0:
        name = KERNEL_ERRNOS.get(err)
        if name:
            return ("recv() returned -1, errno %d (%s: kernel-internal, never meant "
                    "for user space)" % (err, name))
        import errno as errno_module
        return "recv() returned -1, errno %d (%s)" % (err, errno_module.errorcode.get(err, "?"))
    return "recv() returned %d" % ret


def run_once(variant, binary, gdb_path, period_us, timeout, netns=False):
    target = Target(binary, period_us, netns)
    rec = {"variant": variant.key, "pid": target.pid, "fd": target.fd}
    try:
        time.sleep(SETTLE_S)
        target.max_gap()                       # reset: the window starts now
        if variant.gdb:
            argv = variant.argv(gdb_path, target.pid, target.fd)
            t0 = time.perf_counter()
            try:
                p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, errors="replace", timeout=timeout,
                                   env=_gdb_env())
                rec["wall_ms"] = (time.perf_counter() - t0) * 1000
                rec["rc"] = p.returncode
                stdout, stderr = p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                rec["wall_ms"] = (time.perf_counter() - t0) * 1000
                rec["rc"] = None
                stdout = e.stdout or ""
                if isinstance(stdout, bytes):
                    stdout = stdout.decode(errors="replace")
                stderr = "gdb timed out after %d s" % timeout
            cmd_s = [line.split()[1] for line in stdout.splitlines()
                     if line.startswith("BENCH_CMD_S ")]
            rec["cmd_ms"] = float(cmd_s[0]) * 1000 if cmd_s else None
            rec["errors"] = _errors(stderr)
            rec["says"] = _sock_shutdown_says(stdout)
            rec["stdout"] = stdout
        else:
            time.sleep(IDLE_WINDOW_S)
            rec.update(wall_ms=None, cmd_ms=None, rc=None, errors=[], says=None)
        time.sleep(AFTER_S)
        gap = target.max_gap()
        rec["stall_ms"], rec["ticks"] = gap if gap else (None, None)
        woke = target.wait_woke(WOKE_WAIT_S)
        rec["woke"] = list(woke) if woke else None
        rec["alive"] = target.alive()
        rec["target"] = describe_woke(woke, variant.expect_woke)
        if not rec["alive"]:
            rec["target"] += "; process died (%s)" % target.proc.returncode
        elif not rec["ticks"]:
            rec["target"] += "; ticker stopped"
    finally:
        target.stop()
    return rec


def gdb_result(rec, variant, footnote=lambda text: text):
    """One short phrase: what gdb said.  Long error texts go through footnote()."""
    if not variant.gdb:
        return "-"
    if rec["rc"] is None:
        return "timed out"
    if rec["errors"]:
        return "FAILED: " + footnote(" / ".join(rec["errors"]))
    if rec["says"]:
        method = rec["says"].rsplit("[method: ", 1)[1].rstrip("]")
        verdict = "= 0" if " = 0;" in rec["says"] else rec["says"].split("[method:")[0].strip()
        return "ok, shutdown %s (method %s)" % (verdict, method)
    if variant.command and variant.command.startswith("call"):
        for line in rec["stdout"].splitlines():
            if line.startswith("$"):
                return "ok: " + line.strip()
    return "ok" if rec["rc"] == 0 else "rc %d" % rec["rc"]


# --------------------------------------------------------------------------
# Report


def _fmt_stat(values, digits=1):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return "%.*f [%.*f–%.*f]" % (digits, med, digits, min(values), digits, max(values))


def _counted(phrases, reps):
    counts = Counter(phrases)
    if len(counts) == 1:
        phrase, n = counts.most_common(1)[0]
        return phrase if n == reps else "%d/%d: %s" % (n, reps, phrase)
    return "; ".join("%d/%d: %s" % (n, reps, p) for p, n in counts.most_common())


def machine_line(gdb_path):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        gdb_version = subprocess.run([gdb_path, "--version"], capture_output=True,
                                     text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        gdb_version = "gdb ?"
    distro = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"') + ", "
    except OSError:
        pass
    return "%d CPUs (%s), %sLinux %s, %s" % (
        os.cpu_count() or 0, cpu, distro, platform.release(), gdb_version)


def load_snapshot():
    """What else weighs on the timings: TCP table size (every sock-shutdown reads
    /proc/PID/net/tcp*, so its time grows with it), the processes and their fds
    in /proc (sock-shutdown reads every process's fd links for other holders)
    and the load average."""
    processes = fds = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            processes += 1
            try:
                fds += os.stat("/proc/%s/fd" % name).st_size  # Linux 6.2+: open fds
            except OSError:
                pass
    rows = 0
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/self/net/" + name, "rb") as f:
                rows += max(0, sum(1 for _ in f) - 1)
        except OSError:
            pass
    try:
        load = "%.2f" % os.getloadavg()[0]
    except OSError:
        load = "?"
    return {"tcp_sockets": rows, "loadavg1": load, "processes": processes, "fds": fds}


# Set in the bench re-run under unshare (--pidns): the pid it runs as there
# (sh is 1).
_IN_PIDNS = "GDB_SOCKETS_BENCH_IN_PIDNS"

CMD_TARGET_MS = 8.0
STALL_TARGET = 1.05


def target_lines(by_key, variants, base_med):
    """One line per sock-shutdown variant that succeeded: met or not, with the numbers."""
    out = []
    for v in variants:
        rs = by_key.get(v.key) or []
        if not v.load or not v.command or not rs:
            continue
        stalls = [r["stall_ms"] for r in rs if r["stall_ms"] is not None]
        cmds = [r["cmd_ms"] for r in rs if r["cmd_ms"] is not None]
        if not stalls or not cmds or base_med is None:
            continue
        stall, cmd = statistics.median(stalls), statistics.median(cmds)
        out.append("- %s: command %.2f ms (%s), stall %.3fx the one-liner's (%s)  " % (
            v.label, cmd, "met" if cmd <= CMD_TARGET_MS else "NOT met",
            stall / base_med, "met" if stall <= STALL_TARGET * base_med else "NOT met"))
    return out


def report(runs, variants, reps, gdb_path, period_us, argv_shown, elapsed, loads, netns,
           pidns=False):
    by_key = {v.key: [r for r in runs if r["variant"] == v.key] for v in variants}
    base = [r["stall_ms"] for r in by_key.get("one-liner", []) if r["stall_ms"] is not None]
    base_med = statistics.median(base) if base else None
    base_cmd = [r["cmd_ms"] for r in by_key.get("one-liner", []) if r["cmd_ms"] is not None]
    base_cmd_med = statistics.median(base_cmd) if base_cmd else None
    header = ["Variant", "Stall ms", "vs one-liner", "gdb wall ms", "Command alone ms",
              "Command vs one-liner's", "gdb said", "Target afterwards"]
    notes = []

    def footnote(text):
        if text not in notes:
            notes.append(text)
        return "[%d]" % (notes.index(text) + 1)

    rows = []
    for v in variants:
        rs = by_key[v.key]
        if not rs:
            continue
        stalls = [r["stall_ms"] for r in rs if r["stall_ms"] is not None]
        ratio = ("%+.0f%%" % ((statistics.median(stalls) / base_med - 1) * 100)
                 if stalls and base_med and v.gdb and v.key != "one-liner" else "-")
        alive = sum(1 for r in rs if r["alive"] and r["ticks"])
        target = _counted([r["target"] for r in rs], len(rs))
        if alive == len(rs):
            target += "; process alive, ticker running"
        cmds = [r["cmd_ms"] for r in rs if r["cmd_ms"] is not None]
        cmd_diff = ("%+.2f ms" % (statistics.median(cmds) - base_cmd_med)
                    if cmds and base_cmd_med is not None and v.key != "one-liner" else "-")
        rows.append([v.label, _fmt_stat(stalls), ratio,
                     _fmt_stat([r["wall_ms"] for r in rs]),
                     _fmt_stat([r["cmd_ms"] for r in rs], 2), cmd_diff,
                     _counted([gdb_result(r, v, footnote) for r in rs], len(rs)), target])
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    out = []
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    out.append(line(header))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(line(r) for r in rows)
    print("\n".join(out))
    print()
    for i, text in enumerate(notes):
        print("[%d] gdb: %s  " % (i + 1, text))
    if notes:
        print()
    targets = target_lines(by_key, variants, base_med)
    if targets:
        print("Targets (issue 14: the command's own time <= %.0f ms, the stall <= %.2fx the "
              "one-liner's):  " % (CMD_TARGET_MS, STALL_TARGET))
        print("\n".join(targets))
        print()
    print("Median [min–max] of %d repetitions, variants interleaved round robin, a fresh "
          "target per run. Stall: the longest gap between two ticks of a %d µs ticker "
          "inside the target (includes one tick period). Command alone: between two "
          "`python` markers around the command in the same gdb run. "
          "\"vs one-liner\": median stall relative to the one-liner's."
          % (reps, period_us))
    print()
    print("Machine: " + machine_line(gdb_path))
    if netns:
        where = ("targets in their own network namespaces (--netns); the host's namespace "
                 "held %d TCP sockets at start, %d at end" % (
                     loads[0]["tcp_sockets"], loads[1]["tcp_sockets"]))
    else:
        where = "TCP sockets in the targets' network namespace: %d at start, %d at end" % (
            loads[0]["tcp_sockets"], loads[1]["tcp_sockets"])
    print("Load: %s; processes in /proc: %d holding %d fds at start (%s); 1-min load "
          "average %s at start, %s at end" % (
              where, loads[0]["processes"], loads[0]["fds"],
              "a new pid namespace, --pidns" if pidns else "the host's",
              loads[0]["loadavg1"], loads[1]["loadavg1"]))
    print("Command: " + argv_shown + "  (%.0f s)" % elapsed)
    print()
    print("gdb commands (each also gets `-ex '%s'` before and `-ex '%s'` after the "
          "command, and DEBUGINFOD_URLS unset):" % ("python <start timer>", "python <print timer>"))
    for v in variants:
        if by_key[v.key]:
            print("- %s: `%s`" % (v.label.replace("`", ""), v.shown_command(gdb_path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=7,
                    help="repetitions of every variant (default 7; at least 5 for the table)")
    ap.add_argument("--gdb", default="gdb", help="the gdb to run (default: gdb)")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="C compiler (default: cc)")
    ap.add_argument("--period-us", type=int, default=1000,
                    help="ticker period in microseconds (default 1000)")
    ap.add_argument("--only", metavar="KEYS",
                    help="comma-separated variants to run (%s)" % ",".join(v.key for v in VARIANTS))
    ap.add_argument("--netns", action="store_true",
                    help="run each target in a new network namespace (unshare -n, lo up), "
                         "so the host's other sockets do not weigh on sock-shutdown")
    ap.add_argument("--pidns", action="store_true",
                    help="run the whole bench in a new pid namespace with its own /proc "
                         "(unshare -p -f --mount-proc): the holder scan then sees only the "
                         "bench's processes, not the rest of a shared host's")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="other processes hold N loopback TCP sockets in the host's namespace "
                         "for the whole run (tests/targets/sc_hold.c), as on a busy server")
    ap.add_argument("--timeout", type=int, default=60, help="per gdb run, seconds (default 60)")
    ap.add_argument("--json", metavar="FILE", help="also write every run's record to FILE")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per run on stderr")
    args = ap.parse_args()
    if args.pidns and os.environ.get(_IN_PIDNS) != str(os.getpid()):
        if shutil.which("unshare") is None:
            ap.error("--pidns needs unshare (util-linux)")
        # sh is pid 1 there and reaps what is left to it (the watchdog
        # helper of each gdb); the bench runs as its child.
        os.execvpe("unshare", ["unshare", "-p", "-f", "--mount-proc", "sh", "-c", '"$@"', "sh",
                               sys.executable, os.path.realpath(__file__)] + sys.argv[1:],
                   dict(os.environ, **{_IN_PIDNS: "2"}))
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    if args.reps < 5:
        print("warning: fewer than 5 repetitions; medians are not meaningful", file=sys.stderr)
    if shutil.which(args.gdb) is None:
        ap.error("gdb not found: %s" % args.gdb)
    variants = list(VARIANTS)
    if args.only:
        keys = args.only.split(",")
        unknown = [k for k in keys if k not in {v.key for v in VARIANTS}]
        if unknown:
            ap.error("unknown variant(s): %s" % ", ".join(unknown))
        variants = [v for v in VARIANTS if v.key in keys]

    argv_shown = shlex.join(["python3", os.path.relpath(os.path.realpath(__file__))]
                            + sys.argv[1:])
    started = time.monotonic()
    runs = []
    with tempfile.TemporaryDirectory(prefix="gdb_sockets_bench_") as workdir, \
            BusyHost(args.cc, workdir, args.busy):
        binary = build_target(args.cc, workdir)
        loads = [load_snapshot()]
        for rep in range(args.reps):
            shift = rep % len(variants)
            order = variants[shift:] + variants[:shift]
            print("rep %d/%d" % (rep + 1, args.reps), file=sys.stderr, flush=True)
            for v in order:
                rec = run_once(v, binary, args.gdb, args.period_us, args.timeout, args.netns)
                rec["rep"] = rep
                runs.append(rec)
                if args.verbose:
                    print("  %-14s stall=%s wall=%s cmd=%s | %s | %s" % (
                        v.key, rec["stall_ms"], rec["wall_ms"] and round(rec["wall_ms"], 1),
                        rec["cmd_ms"] and round(rec["cmd_ms"], 2), gdb_result(rec, v),
                        rec["target"]), file=sys.stderr, flush=True)
        loads.append(load_snapshot())
    elapsed = time.monotonic() - started
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": argv_shown, "machine": machine_line(args.gdb), "load": loads,
                       "runs": [{k: v for k, v in r.items() if k != "stdout"} for r in runs]},
                      f, indent=1)
    report(runs, variants, args.reps, args.gdb, args.period_us, argv_shown, elapsed, loads,
           args.netns, args.pidns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
