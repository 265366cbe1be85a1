"""The command line's pure parts: arguments, the process's architecture, no gdb."""

import json
import os
import subprocess
import sys

import pytest

from gdb_sockets import cli
from gdb_sockets.kernel import process
from gdb_sockets.errors import SocketsError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The first 20 bytes of objects compiled here (Debian 12, gcc 12) from an
# empty main() with `cc -c`, `cc -m32 -c` and `cc -mx32 -c`.
HEADERS = {
    "x86_64": "7f454c4602010100000000000000000001003e00",
    "i386": "7f454c4601010100000000000000000001000300",
    "x32": "7f454c4601010100000000000000000001003e00",
}


@pytest.mark.parametrize("arch, header", sorted(HEADERS.items()))
def test_elf_arch(arch, header):
    assert process.elf_arch(bytes.fromhex(header)) == arch


def test_elf_arch_of_this_python():
    with open("/proc/self/exe", "rb") as f:
        assert process.elf_arch(f.read(20)) == os.uname().machine


@pytest.mark.parametrize("header", [b"", b"#!/bin/sh\n" + bytes(10), bytes.fromhex(
    HEADERS["x86_64"])[:19]])
def test_not_elf(header):
    assert process.elf_arch(header) is None


@pytest.mark.parametrize("argv, split", [
    (["42"], ("42", None, [], False)),
    (["42", "-json", "3"], ("42", None, ["-json", "3"], False)),
    (["42", "shutdown", "3", "read"], ("42", "shutdown", ["3", "read"], False)),
    (["--help"], (None, None, [], True)),
    (["42", "shutdown", "--help"], ("42", "shutdown", [], True)),
    (["help", "shutdown"], (None, "shutdown", [], True)),
    (["shutdown", "--help"], (None, "shutdown", [], True)),
    # After '--', '--help' is an FD argument (refused later as one).
    (["42", "--", "--help"], ("42", None, ["--", "--help"], False)),
    (["42", "--help", "--", "--help"], ("42", None, ["--", "--help"], True)),
    # -h is the prefix of -holders, as in gdb.
    (["42", "-h"], ("42", None, ["-h"], False)),
])
def test_split(argv, split):
    assert cli._split(argv) == split


def test_unknown_subcommand_is_usage():
    with pytest.raises(cli.Usage, match=r"unknown subcommand 'shutdwon'"):
        cli._split(["42", "shutdwon", "3"])


@pytest.mark.parametrize("text", [None, "abc", "0", "-1", "4.2", "1" * 11, "\u00b2", "\u0664"])
def test_bad_pid_is_usage(text):
    with pytest.raises(cli.Usage):
        cli._pid(text)


def test_open_process_of_this_process():
    me = process.open_process(os.getpid())
    assert (me.pid, me.arch, me.remote, me.stopped) == (os.getpid(), os.uname().machine,
                                                       False, False)


def test_a_thread_id_means_its_process():
    import threading
    tids = []
    ready, done = threading.Event(), threading.Event()

    def run():
        tids.append(threading.get_native_id())
        ready.set()
        done.wait()
    thread = threading.Thread(target=run)
    thread.start()
    ready.wait()
    try:
        assert tids[0] != os.getpid()
        assert process.open_process(tids[0]).pid == os.getpid()
    finally:
        done.set()
        thread.join()


def test_no_such_process():
    with pytest.raises(SocketsError, match=r"^no process 4194305$"):
        process.open_process(4194305)  # above the kernel's PID_MAX_LIMIT


# In a fresh interpreter: a finder that records every attempt to import gdb,
# then the command line's modules.
_PROBE = r"""
import importlib, json, sys
attempts = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "gdb" or name.startswith("gdb."):
            attempts.append(name)
        return None
sys.meta_path.insert(0, Spy())
for name in ("gdb_sockets", "gdb_sockets.cli", "gdb_sockets.kernel.process",
             "gdb_sockets.actions.shutdown_run"):
    importlib.import_module(name)
print(json.dumps(attempts))
"""


def test_the_command_line_never_imports_gdb():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert json.loads(out.stdout) == []


def test_the_package_parses_as_python_3_9():
    """The single file promises Python 3.9 and later: no newer grammar (match,
    parenthesized context managers...) anywhere in the package.  Only the
    grammar: this machine has no 3.9 to run the code on."""
    import ast
    import glob
    for path in sorted(glob.glob(os.path.join(REPO, "gdb_sockets", "**", "*.py"),
                                 recursive=True)):
        with open(path) as f:
            ast.parse(f.read(), path, feature_version=(3, 9))


@pytest.mark.parametrize("requested", ["auto", "pidfd"])
def test_without_a_debugger_the_method_is_pidfd_with_nothing_to_explain(requested):
    from gdb_sockets.actions.method_choice import Method, pick_without_debugger
    assert pick_without_debugger(requested, 42) == Method("pidfd")


@pytest.mark.parametrize("requested", ["call", "syscall"])
def test_without_a_debugger_call_and_syscall_say_how_to_run_them_in_gdb(requested):
    from gdb_sockets.actions.method_choice import pick_without_debugger
    with pytest.raises(SocketsError, match=r"^-method %s runs code in the stopped process, "
                       r"which needs gdb: gdb -p 42 -batch -ex 'sock-shutdown -method %s FD'$"
                       % (requested, requested)):
        pick_without_debugger(requested, 42)


def test_without_a_debugger_an_unknown_method_is_refused():
    from gdb_sockets.actions.method_choice import pick_without_debugger
    with pytest.raises(SocketsError, match=r"^unknown method 'fast'"):
        pick_without_debugger("fast", 42)


def test_a_process_that_ended_after_the_act_is_reported_as_such():
    """A process no debugger holds may die of what was done (a forced
    shutdown of a SIGPIPE writer) before the command looks again: the
    report says so, and the shutdown itself counts as done."""
    from gdb_sockets.actions.outcome import Outcome
    from gdb_sockets.model import InetEndpoint, Socket
    from gdb_sockets.view.shutdown_report import report
    before = Socket(fd=4, inode=9, proto="tcp", state="ESTAB",
                    local=InetEndpoint("127.0.0.1", 1), peer=InetEndpoint("127.0.0.1", 2))
    outcome = Outcome(fd=4, how=2, method="pidfd", before=before, retval=0, errno=0,
                      stopped=False, process_ended="killed by SIGPIPE")
    lines = report(outcome)
    assert lines[0] == ("fd 4: tcp 127.0.0.1:1 -> 127.0.0.1:2: ESTAB, then the process ended "
                        "(killed by SIGPIPE)"), lines
    assert outcome.ok and outcome.to_json()["process_ended"] == "killed by SIGPIPE"
