#!/usr/bin/env python3
"""Where `info sockets` spends its time: cProfile inside gdb, on a big target.

    python3 bench/profile.py [--sockets 20000] [--others 0] [--top 25] [--json]

Starts tests/targets/sc_hold.c holding N loopback TCP sockets (and, with
--others M, other processes holding M more), attaches gdb with gdb_sockets
loaded, runs the command once to warm up, then once under cProfile, and
prints the profile (sorted by internal time, then by cumulative time) and
the command's time without the profiler.  A diagnosis tool: the timings
to quote come from bench/scale.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(BENCH_DIR)
INIT_PY = os.path.join(REPO, "gdb_sockets", "init.py")
HOLD_C = os.path.join(REPO, "tests", "targets", "sc_hold.c")

SCRIPT = r'''
import cProfile, gc, io, pstats, time
import gdb
command = %(command)r
gdb.execute(command, to_string=True)                       # warm-up: imports
times = []
for _ in range(5):
    t0 = time.perf_counter()
    gdb.execute(command, to_string=True)
    times.append(time.perf_counter() - t0)
times.sort()
profile = cProfile.Profile()
profile.enable()
gdb.execute(command, to_string=True)
profile.disable()
out = io.StringIO()
stats = pstats.Stats(profile, stream=out)
stats.sort_stats("tottime").print_stats(%(top)d)
stats.sort_stats("cumulative").print_stats(%(top)d)
print(out.getvalue())
print("PROFILE %%s: median of 5 without the profiler %%.1f ms" %% (command, times[2] * 1e3))
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=20000)
    parser.add_argument("--others", type=int, default=0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="profile info sockets -json")
    parser.add_argument("--command", help="another command to profile (default info sockets)")
    parser.add_argument("--gdb", default="gdb")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    command = args.command or ("info sockets -json" if args.json else "info sockets")
    procs = []
    with tempfile.TemporaryDirectory(prefix="gdb_sockets_profile_") as tmp:
        binary = os.path.join(tmp, "sc_hold")
        subprocess.run(["cc", "-O2", "-o", binary, HOLD_C], check=True)
        try:
            base = "127.%d" % (150 + os.getpid() % 100)
            holds = [(min(args.sockets, hard - 16), base + ".1.1")]
            left, k = args.others, 0
            while left > 0:
                holds.append((min(left, hard - 16), "%s.2.%d" % (base, k + 1)))
                left -= holds[-1][0]
                k += 1
            for count, address in holds:
                proc = subprocess.Popen([binary, str(count), address], stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True,
                                        start_new_session=True)
                procs.append(proc)
                if not proc.stdout.readline().startswith("READY "):
                    raise RuntimeError("sc_hold did not start")
            script = os.path.join(tmp, "profile_in_gdb.py")
            with open(script, "w") as f:
                f.write(SCRIPT % {"command": command, "top": args.top})
            env = dict(os.environ, TERM="dumb")
            env.pop("DEBUGINFOD_URLS", None)
            run = subprocess.run(
                [args.gdb, "-nx", "-q", "-batch", "-iex", "set pagination off",
                 "-iex", "set style enabled off", "-iex", "source " + INIT_PY,
                 "-p", str(procs[0].pid), "-ex", "source " + script],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
            sys.stdout.write(run.stdout)
            if run.returncode:
                sys.stderr.write(run.stderr)
                return 1
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
