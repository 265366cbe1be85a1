"""Helpers for tests that drive a real gdb against real target processes.

The API (used by every test file under tests/gdb/):

``build(name_or_path, *extra_cc_args) -> str``
    Compile ``tests/targets/NAME.c`` (or a given ``.c`` path) with
    ``cc -O0 -g -pthread`` plus extra arguments (``'-static'``, ``'-s'``...)
    into a per-session cache directory, keyed by the source's content and
    the arguments; returns the binary's path.  Compiling twice is free.

``start_target(argv, ready="READY", env=None, netns=False, timeout=10) -> Target``
    Start a target with stdout piped and wait (blocking read with a
    timeout, no polling) for a line starting with ``ready``.  The rest of
    that line is JSON the target prints about itself: ``target.info``.
    ``netns=True`` runs it under ``unshare -n`` with ``lo`` up, in its
    own network namespace.  ``Target`` has ``pid``, ``info``, ``alive()``,
    ``lines(timeout)``, ``expect(prefix, timeout)`` and ``stop()``, and is a
    context manager; every target still running at exit is killed.

Which gdb: ``gdbs()`` is the list the suite runs against, every gdb test
once per gdb (tests/gdb/conftest.py): ``$GDB_SOCKETS_TEST_GDB`` (paths
separated by ``:``) when set, else the ``gdb`` on PATH plus the gdbs that
``install.sh --test-deps`` put in ``gdb_cache_dir()``.  ``use_gdb(path)``
selects one; ``gdb_path()``, ``gdbserver_path()`` and ``gdb_version()`` tell
the selected one (its gdbserver is the one beside it, else the one on PATH).
``inferior_calls_work()`` is the harness's own probe: does an inferior call
of this gdb on this CPU return and leave a blocked ``recv()`` undisturbed?

``gdb_batch(pid, *commands, timeout=60, prefix=(), env=None) -> Result(rc, out, err)``
    ``gdb -nx -q -batch`` with the test settings, gdb_sockets sourced,
    ``-p PID`` (none if pid is None) and one ``-ex`` per command.
    ``prefix`` goes before ``gdb`` (``setpriv --reuid=nobody ... --`` to
    run gdb as another user); ``env`` adds environment variables.
    gdb -batch exits 1 only when its *last* command failed.
``gdb_batch_args(args, *commands, timeout=60) -> Result``
    The same with any other gdb arguments (``[binary, core]``...).

``json_from(out)``
    The JSON document (``info sockets -json``) inside gdb's output.

``GdbSession(pid, args=(), timeout=30, prefix=(), env=None)``
    An interactive gdb under pexpect with the same settings.
    ``.cmd(text) -> output`` up to the next prompt (the echoed command
    removed); ``.error_of(text)`` the gdb error a command fails with, or
    None (interactive gdb has no exit code to look at); ``.close()``
    detaches and quits.  Context manager.

``ss_rows(pid=None, netns_pid=None) -> {inode: row}``
    ``ss -a -n -e -p`` (in the network namespace of ``netns_pid`` through
    ``nsenter`` when given), parsed.  Each row is a dict with ``netid``,
    ``state``, ``recv-q``, ``send-q`` (ints), ``local``, ``peer`` (the text
    ss prints), ``inode``, ``peer_inode`` (UNIX only, else None) and
    ``users`` (a list of ``(command, pid, fd)``).  With ``pid``, only the
    rows of sockets that process holds.
``ss_endpoint(text) -> (address or None, port)``
    An ss ``HOST:PORT`` cell split; ``*`` host is None, ``*`` port is 0.

In tests, prefer the ``targets`` fixture (tests/gdb/conftest.py): a
start_target that stops every target it started when the test ends.
Targets: tests/targets/zoo.c (one socket of each kind), blocker.c (a TCP
pair, waits in recv/poll/pause and prints WOKE), idle.py (no sockets),
oddpaths.py (UNIX names with newline, non-UTF-8 bytes, NUL); each file's
header says what it prints.

Matching gdb output: attaching prints noise ("No such file or
directory." for the libc source, thread-db lines), so look for markers,
not whole outputs.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import namedtuple
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import pexpect

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(TESTS_DIR)
TARGETS_DIR = os.path.join(TESTS_DIR, "targets")
INIT_PY = os.path.join(REPO_DIR, "gdb_sockets", "init.py")

GDB_SETTINGS = (
    "set pagination off",
    "set width 0",
    "set confirm off",
    "set style enabled off",
    "set debuginfod enabled off",
)

DEFAULT_CC_ARGS = ("-O0", "-g", "-pthread")


# --------------------------------------------------------------------------
# Building targets

_cache_dir: Optional[str] = None
_cache_lock = threading.Lock()


def cache_dir() -> str:
    """The per-session directory of built targets (world-readable, so a
    target can run as another user); removed when the session ends."""
    global _cache_dir
    with _cache_lock:
        if _cache_dir is None:
            path = tempfile.mkdtemp(prefix="gdb_sockets_targets_")
            os.chmod(path, 0o755)
            atexit.register(shutil.rmtree, path, True)
            _cache_dir = path
        return _cache_dir


def build(name_or_path: str, *extra_cc_args: str) -> str:
    """Compile a target program once per session; return the binary's path.

    ``name_or_path`` is a name in tests/targets ("zoo") or a path to a .c
    file.  The binary is keyed by the source text and all cc arguments.
    """
    if os.sep in name_or_path or name_or_path.endswith(".c"):
        source = os.path.abspath(name_or_path)
    else:
        source = os.path.join(TARGETS_DIR, name_or_path + ".c")
    with open(source, "rb") as f:
        text = f.read()
    args = list(DEFAULT_CC_ARGS) + list(extra_cc_args)
    key = hashlib.sha256(text + b"\0" + "\0".join(args).encode()).hexdigest()[:16]
    stem = os.path.splitext(os.path.basename(source))[0]
    binary = os.path.join(cache_dir(), "%s-%s" % (stem, key))
    if os.path.exists(binary):
        return binary
    tmp = "%s.tmp%d.%d" % (binary, os.getpid(), threading.get_ident())
    proc = subprocess.run(["cc"] + args + ["-o", tmp, source],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("cc %s failed:\n%s" % (" ".join(args + [source]), proc.stderr))
    os.replace(tmp, binary)  # atomic: concurrent builds of the same key are fine
    return binary


# --------------------------------------------------------------------------
# Targets

_EOF = object()
_running: "set[Target]" = set()


class TargetError(RuntimeError):
    """A target did not start (exited, or no ready line in time)."""


class Target:
    """A running target program; see start_target().

    ``pid`` is the pid the target reports in its ready JSON ("pid"), which
    is the process to attach to; without one, the pid of the started
    process.  ``popen`` is the subprocess.Popen that was started.
    """

    def __init__(self, argv: Sequence[str], ready: str = "READY",
                 env: Optional[Dict[str, str]] = None, netns: bool = False,
                 timeout: float = 10.0) -> None:
        self.argv = list(argv)
        command = list(argv)
        if netns:
            # unshare execs sh, which execs the target: same pid throughout.
            command = ["unshare", "-n", "--", "sh", "-c",
                       'ip link set lo up && exec "$@"', "sh"] + command
        self.netns = netns
        self._lines: "queue.Queue" = queue.Queue()
        self._stderr: List[str] = []
        self.preamble: List[str] = []
        self.info: dict = {}
        self.ready_line = ""
        self.popen = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, text=True, bufsize=1,
            start_new_session=True)
        self.pid = self.popen.pid
        _running.add(self)
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self._stderr_pump = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_pump.start()
        try:
            self._wait_ready(ready, timeout)
        except BaseException:
            self.stop()
            raise

    def _pump_stdout(self) -> None:
        for line in self.popen.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(_EOF)

    def _pump_stderr(self) -> None:
        for line in self.popen.stderr:
            self._stderr.append(line)

    def stderr(self) -> str:
        """What the target wrote to stderr so far."""
        return "".join(self._stderr)

    def _wait_ready(self, ready: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0))
            except queue.Empty:
                raise TargetError("%s: no %r line within %gs; stdout so far %r, stderr %r"
                                  % (self.argv, ready, timeout, self.preamble,
                                     self.stderr())) from None
            if line is _EOF:
                rc = self.popen.wait(timeout=5)
                self._stderr_pump.join(timeout=5)  # all of stderr, for the message
                raise TargetError("%s exited (rc %s) before %r; stdout %r, stderr %r"
                                  % (self.argv, rc, ready, self.preamble, self.stderr()))
            if line.startswith(ready):
                self.ready_line = line
                rest = line[len(ready):].strip()
                self.info = json.loads(rest) if rest else {}
                if isinstance(self.info, dict) and "pid" in self.info:
                    self.pid = int(self.info["pid"])
                return
            self.preamble.append(line)

    def lines(self, timeout: float = 5.0) -> Iterator[str]:
        """Yield output lines as they come, until ``timeout`` seconds pass
        (counted from the call) or the target closes its stdout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return
            if line is _EOF:
                self._lines.put(_EOF)  # later calls see the end too
                return
            yield line

    def expect(self, prefix: str, timeout: float = 5.0) -> str:
        """The next line starting with ``prefix``; AssertionError if none comes."""
        seen = []
        for line in self.lines(timeout):
            if line.startswith(prefix):
                return line
            seen.append(line)
        raise AssertionError("no line starting with %r within %gs; got %r, alive=%s, stderr %r"
                             % (prefix, timeout, seen, self.alive(), self.stderr()))

    def alive(self) -> bool:
        """True while the target process exists and is not a zombie."""
        if self.popen.poll() is not None and self.pid == self.popen.pid:
            return False
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state not in ("Z", "X")

    def returncode(self, timeout: float = 5.0) -> Optional[int]:
        """Wait up to ``timeout`` for the started process to end; its return
        code (negative: killed by that signal), or None if still running."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Kill the target (its whole process group) and reap it."""
        _running.discard(self)
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            # A process that is ptrace-stopped still dies of SIGKILL.
            self.popen.wait(timeout=10)
        for stream in (self.popen.stdout, self.popen.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<Target pid=%d %s>" % (self.pid, shlex.join(self.argv))


def start_target(argv: Sequence[str], ready: str = "READY",
                 env: Optional[Dict[str, str]] = None, netns: bool = False,
                 timeout: float = 10.0) -> Target:
    """Start a target and wait for its ready line; see Target."""
    return Target(argv, ready=ready, env=env, netns=netns, timeout=timeout)


@atexit.register
def _stop_all() -> None:
    for target in list(_running):
        target.stop()


# --------------------------------------------------------------------------
# gdb

Result = namedtuple("Result", "rc out err")

GDB_VARIABLE = "GDB_SOCKETS_TEST_GDB"


def gdb_cache_dir() -> str:
    """Where install.sh --test-deps puts the extra gdbs (the same rule as there)."""
    if os.environ.get("GDB_SOCKETS_CACHE"):
        return os.environ["GDB_SOCKETS_CACHE"]
    if os.geteuid() == 0:
        return "/var/cache/gdb_sockets"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "gdb_sockets")


def _version_of(path: str) -> tuple:
    first = subprocess.run([path, "--version"], capture_output=True, text=True,
                           timeout=60).stdout.partition("\n")[0]
    match = re.search(r"(\d+)\.(\d+)", first.rpartition(")")[2] or first)
    if not match:
        raise RuntimeError("cannot tell the version of %s from %r" % (path, first))
    return int(match.group(1)), int(match.group(2))


_versions: Dict[str, tuple] = {}


def gdb_version(path: Optional[str] = None) -> tuple:
    """(major, minor) of ``path`` (default: the selected gdb)."""
    path = path or gdb_path()
    if path not in _versions:
        _versions[path] = _version_of(path)
    return _versions[path]


def gdbs() -> List[str]:
    """The gdbs the suite runs against, in version order (see the module doc)."""
    chosen = os.environ.get(GDB_VARIABLE)
    if chosen:
        paths = [p for p in chosen.split(":") if p]
        for path in paths:
            if not os.access(path, os.X_OK):
                raise RuntimeError("%s names %r, which is not an executable" % (GDB_VARIABLE, path))
        return paths
    found = []
    system = shutil.which("gdb")
    if system:
        found.append(os.path.realpath(system))
    cache = gdb_cache_dir()
    if os.path.isdir(cache):
        for name in sorted(os.listdir(cache)):
            path = os.path.join(cache, name, "bin", "gdb")
            if name.startswith("gdb-") and os.access(path, os.X_OK):
                found.append(path)
    if not found:
        raise RuntimeError("no gdb found: run ./install.sh --test-deps")
    return sorted(found, key=gdb_version)


_selected_gdb: Optional[str] = None


def use_gdb(path: str) -> None:
    global _selected_gdb
    _selected_gdb = path


def gdb_path() -> str:
    """The selected gdb (the first of gdbs() until use_gdb is called)."""
    global _selected_gdb
    if _selected_gdb is None:
        _selected_gdb = gdbs()[0]
    return _selected_gdb


def gdbserver_path() -> Optional[str]:
    """The gdbserver that goes with the selected gdb, or None if there is none."""
    beside = os.path.join(os.path.dirname(gdb_path()), "gdbserver")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("gdbserver")


_calls_work: Dict[str, bool] = {}


def inferior_calls_work() -> bool:
    """Does the selected gdb's inferior call work on this CPU?

    The harness's own probe, independent of gdb_sockets: ``print
    (int)getpid()`` in a process blocked in recv().  gdb 13.1 on a CPU with
    AMX fails it ("Couldn't write extended state status"); where calls
    work, it prints the pid and exits 0.  Cached per gdb.
    """
    path = gdb_path()
    if path not in _calls_work:
        target = start_target([build("blocker"), "recv"])
        try:
            argv = [path, "-nx", "-q", "-batch"] + [
                a for setting in GDB_SETTINGS for a in ("-iex", setting)] + [
                "-p", str(target.pid), "-ex", "print (int)getpid()"]
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, env=gdb_env(), timeout=60)
            printed = re.search(r"^\$1 = (\d+)$", proc.stdout, re.M)
            _calls_work[path] = bool(proc.returncode == 0 and printed
                                     and int(printed.group(1)) == target.pid
                                     and "Couldn't" not in proc.stderr)
        finally:
            target.stop()
    return _calls_work[path]


def gdb_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["TERM"] = "dumb"
    if extra:
        env.update(extra)
    return env


def gdb_argv(args: Sequence[str] = (), commands: Sequence[str] = (),
             batch: bool = True) -> List[str]:
    """gdb's command line: settings, gdb_sockets sourced, args, -ex commands."""
    argv = [gdb_path(), "-nx", "-q"]
    if batch:
        argv.append("-batch")
    for setting in GDB_SETTINGS:
        argv += ["-iex", setting]
    argv += ["-iex", "source " + INIT_PY]
    argv += list(args)
    for command in commands:
        argv += ["-ex", command]
    return argv


def gdb_batch_args(args: Sequence[str], *commands: str, timeout: float = 60,
                   prefix: Sequence[str] = (), env: Optional[Dict[str, str]] = None) -> Result:
    """Run gdb in batch mode with ``args`` and ``commands``.

    ``prefix`` is put before ``gdb`` (e.g. a ``setpriv`` command line to
    run gdb as another user).  A gdb that outlives ``timeout`` is killed
    and the test fails with what it printed.
    """
    argv = list(prefix) + gdb_argv(args, commands)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="surrogateescape", env=gdb_env(env),
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("gdb timed out after %gs: %s\nstdout: %s\nstderr: %s"
                             % (timeout, shlex.join(argv), e.stdout, e.stderr)) from None
    return Result(proc.returncode, proc.stdout, proc.stderr)


def gdb_batch(pid: Optional[int], *commands: str, timeout: float = 60,
              prefix: Sequence[str] = (), env: Optional[Dict[str, str]] = None) -> Result:
    """Attach gdb in batch mode to ``pid`` (None: no process) and run ``commands``."""
    args = [] if pid is None else ["-p", str(pid)]
    return gdb_batch_args(args, *commands, timeout=timeout, prefix=prefix, env=env)


def json_from(out: str):
    """The first JSON array or object that starts a line of ``out`` (gdb's
    own lines around it, such as "[Inferior 1 (process N) detached]", are
    skipped).  ValueError if there is none."""
    decoder = json.JSONDecoder()
    offset = 0
    for line in out.splitlines(keepends=True):
        if line.startswith(("[", "{")):
            try:
                value, _end = decoder.raw_decode(out, offset)
                return value
            except ValueError:
                pass
        offset += len(line)
    raise ValueError("no JSON in gdb output: %r" % out)


TIMES = ("last_recv_ms", "last_send_ms", "last_ack_ms")


def without_times(rows):
    """JSON rows without the TCP silence figures, which differ from one
    listing to the next (they count milliseconds) and are known only where
    a sock_diag lookup carried them."""
    return [{k: v for k, v in row.items() if k not in TIMES} for row in rows]


class GdbSession:
    """An interactive gdb attached to ``pid`` (None: no process), under pexpect."""

    PROMPT = "(gdb) "

    def __init__(self, pid: Optional[int], args: Sequence[str] = (),
                 timeout: float = 30, prefix: Sequence[str] = (),
                 env: Optional[Dict[str, str]] = None) -> None:
        argv = list(prefix) + gdb_argv((["-p", str(pid)] if pid is not None else []) + list(args),
                                       batch=False)
        self.pid = pid
        self.timeout = timeout
        self.child = pexpect.spawn(argv[0], argv[1:], env=gdb_env(env), encoding="utf-8",
                                   codec_errors="surrogateescape", timeout=timeout,
                                   dimensions=(50, 1000))
        self.startup = self._until_prompt(timeout)

    def _until_prompt(self, timeout: float) -> str:
        try:
            self.child.expect_exact(self.PROMPT, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            raise AssertionError("gdb gave no prompt (%s); output so far: %r"
                                 % (type(e).__name__, self.child.before)) from None
        return self.child.before.replace("\r\n", "\n")

    def cmd(self, text: str, timeout: Optional[float] = None) -> str:
        """Run one command; its output up to the next prompt, echo removed."""
        self.child.sendline(text)
        out = self._until_prompt(self.timeout if timeout is None else timeout)
        first, sep, rest = out.partition("\n")
        return rest if sep else ""

    def error_of(self, text: str, timeout: Optional[float] = None) -> Optional[str]:
        """Run one command through gdb.execute: the gdb error message it
        fails with, or None if it succeeds (its output is not shown)."""
        code = ("try:\n"
                " gdb.execute(%r, to_string=True)\n"
                " print('@@OK@@')\n"
                "except gdb.error as e:\n"
                " print('@@ERROR@@' + repr(str(e)))\n" % text)
        out = self.cmd("python exec(%r)" % code, timeout)
        if "@@OK@@" in out:
            return None
        match = re.search(r"@@ERROR@@(.*)", out)
        if match is None:
            raise AssertionError("no result from %r: %r" % (text, out))
        return ast.literal_eval(match.group(1).strip())

    def alive(self) -> bool:
        return self.child.isalive()

    def close(self) -> None:
        """Detach (if attached) and quit; kill gdb if it does not go."""
        if self.child.isalive():
            try:
                self.child.sendline("detach")
                self.child.expect_exact(self.PROMPT, timeout=10)
                self.child.sendline("quit")
                self.child.expect(pexpect.EOF, timeout=10)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                pass
        self.child.close(force=True)

    def __enter__(self) -> "GdbSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------
# ss, the oracle

_USERS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')
# A UNIX row after the queues: "LOCAL INODE PEER PEER_INODE [more]"; LOCAL
# may hold spaces (ss prints the path as it is), "*" when unnamed.
_UNIX_TAIL = re.compile(r"^(?P<local>.+?) (?P<inode>\d+) +(?P<peer>.+?) (?P<peer_inode>\d+)"
                        r"(?: +(?P<rest>.*))?$")


def ss_rows(pid: Optional[int] = None, netns_pid: Optional[int] = None) -> Dict[int, dict]:
    """ss -a -n -e -p, parsed, keyed by socket inode (see the module doc).

    The inode is ``ino:N`` for inet and packet rows and the number after
    the local address for UNIX rows.  Rows that print no inode (ss shows
    none for raw sockets) get it from the /proc fd link of their user.
    """
    argv = ["ss", "-a", "-n", "-e", "-p"]
    if netns_pid is not None:
        argv = ["nsenter", "-t", str(netns_pid), "-n", "--"] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, errors="surrogateescape",
                          timeout=30)
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (shlex.join(argv), proc.stderr))
    rows: Dict[int, dict] = {}
    for line in proc.stdout.splitlines()[1:]:
        row = _parse_ss_line(line)
        if row is None:
            continue
        if pid is not None and not any(p == pid for _c, p, _f in row["users"]):
            continue
        if row["inode"] is None:
            row["inode"] = _inode_from_users(row["users"])
            if row["inode"] is None:
                continue
        rows[row["inode"]] = row
    return rows


def _parse_ss_line(line: str) -> Optional[dict]:
    fields = line.split(None, 4)
    if len(fields) < 5:
        return None
    netid, state, recv_q, send_q, tail = fields
    if not (recv_q.isdigit() and send_q.isdigit()):
        return None
    row = {"netid": netid, "state": state, "recv-q": int(recv_q), "send-q": int(send_q),
           "inode": None, "peer_inode": None}
    users = []
    users_at = tail.find("users:((")
    if users_at >= 0:
        users = [(c, int(p), int(f)) for c, p, f in _USERS.findall(tail[users_at:])]
    row["users"] = users
    if netid.startswith("u_"):
        # The process column comes after the peer: cut it before matching.
        core = tail[:users_at].rstrip() if users_at >= 0 else tail.rstrip()
        match = _UNIX_TAIL.match(core)
        if match is None:
            return None
        row["local"] = match.group("local").strip()
        row["inode"] = int(match.group("inode"))
        row["peer"] = match.group("peer")
        peer_inode = int(match.group("peer_inode"))
        row["peer_inode"] = peer_inode or None
        return row
    parts = tail.split()
    if len(parts) < 2:
        return None
    row["local"], row["peer"] = parts[0], parts[1]
    for part in parts[2:]:
        if part.startswith("ino:"):
            row["inode"] = int(part[4:])
            break
    return row


def _inode_from_users(users) -> Optional[int]:
    for _command, pid, fd in users:
        try:
            link = os.readlink("/proc/%d/fd/%d" % (pid, fd))
        except OSError:
            continue
        match = re.match(r"^socket:\[(\d+)\]$", link)
        if match:
            return int(match.group(1))
    return None


def ss_endpoint(text: str):
    """Split an ss ``HOST:PORT`` cell: ("127.0.0.1", 80), ("::1", 0) for
    ``[::1]:*``, (None, 80) for ``*:80``.  Brackets are removed."""
    host, _sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (None if host in ("*", "") else host), (0 if port == "*" else int(port))


# --------------------------------------------------------------------------
# Shared by the test modules: a gdb run's output, and a target's threads


def no_traceback(result) -> None:
    """No Python error of ours reached the user, in any of gdb's wordings."""
    text = result.out + result.err
    assert "Traceback" not in text and "Python Exception" not in text, text
    assert "Error occurred in Python" not in text, text


def thread_syscall(pid: int, tid: int) -> Optional[int]:
    """The system call thread ``tid`` is in (/proc/PID/task/TID/syscall), or None."""
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            fields = f.read().split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if not fields or fields[0] == "running":
        return None
    return int(fields[0])


def thread_state(pid: int, tid: int) -> Optional[str]:
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def wait_blocked(pid: int, tid: int, numbers: Iterable[int], timeout: float = 10.0) -> None:
    """Wait until thread ``tid`` sleeps in one of the system calls ``numbers``."""
    numbers = set(numbers)
    deadline = time.monotonic() + timeout
    while True:
        nr, state = thread_syscall(pid, tid), thread_state(pid, tid)
        if nr in numbers and state == "S":
            return
        if time.monotonic() > deadline:
            raise AssertionError("thread %d of %d is not asleep in syscall %s: in %s, state %s"
                                 % (tid, pid, sorted(numbers), nr, state))
        time.sleep(0.002)


def wait_any_thread_blocked(pid: int, numbers: Iterable[int], timeout: float = 10.0) -> int:
    """Wait until some thread of ``pid`` sleeps in one of ``numbers``; its tid."""
    numbers = set(numbers)
    deadline = time.monotonic() + timeout
    while True:
        for name in os.listdir("/proc/%d/task" % pid):
            tid = int(name)
            if thread_syscall(pid, tid) in numbers and thread_state(pid, tid) == "S":
                return tid
        if time.monotonic() > deadline:
            raise AssertionError("no thread of %d asleep in syscall %s" % (pid, sorted(numbers)))
        time.sleep(0.002)
