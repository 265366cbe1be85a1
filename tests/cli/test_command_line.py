"""The command line, `python3 -m gdb_sockets PID ...`, against real processes, no gdb.

- The process is never stopped: tests/targets/ticker.c counts its own
  TracerPid sightings and the EINTR that a ptrace attach gives a thread in
  epoll_wait, and the test watches TracerPid from outside too
  (tests/gdb/test_cli_vs_gdb.py shows the same oracle seeing gdb's attach).
- What the shutdown says it saw about the waiting thread, the thread saw.
- Exit status 0/1/2, one line on stderr, --help for each subcommand, the
  confirmation (a terminal is asked, no terminal means no), the single file
  (./install.sh --pyz) run from a directory outside the repository.
"""

import json
import os
import re
import subprocess
import sys
import time

import pexpect
import pytest

import harness
from cli_helpers import CLI, NOBODY, TracerWatch, cli, cli_json, stats


# --------------------------------------------------------------------------
# Never stopped


def test_the_process_is_never_stopped(ticker_binary, targets):
    target = targets([ticker_binary])
    fds = target.info["fds"]
    before = stats(target)
    watch = TracerWatch(target.pid)
    for args in ([], ["-json"], ["-holders", "-extended"], [fds["client"]]):
        rc, out, err = cli(target.pid, *args)
        assert rc == 0, (args, rc, out, err)
    rc, out, err = cli(target.pid, "shutdown", fds["client"], "read")
    assert rc == 0, (rc, out, err)
    woke = target.expect("WOKE", timeout=10)
    assert woke == "WOKE fd=%d ret=0 errno=0" % fds["client"]
    # What the command says it saw, the target saw too.
    assert "note: checked: LWP %d left recvfrom on fd %d\n" % (
        target.info["tids"]["reader"], fds["client"]) in out, out
    assert watch.stop() == set() and watch.reads > 0
    after = stats(target)
    assert after["traced"] == before["traced"] == 0, after
    assert after["eintr"] == before["eintr"] == 0, after
    # The ticker ran throughout (its longest gap is for bench/, not a test).
    assert after["ticks"] > before["ticks"]


def test_a_reader_that_does_not_wake_is_said_to_wait(ticker_binary, targets):
    target = targets([ticker_binary])
    client = target.info["fds"]["client"]
    rc, out, err = cli(target.pid, "shutdown", client, "write")
    assert rc == 0, (rc, out, err)
    assert "note: LWP %d still waits in recvfrom on fd %d\n" % (
        target.info["tids"]["reader"], client) in out, out
    assert list(target.lines(timeout=0.5)) == []  # no WOKE


def test_a_running_thread_is_named_as_unknown(ticker_binary, targets):
    target = targets([ticker_binary, "--spin"])
    spinner = target.info["tids"]["spinner"]
    document = cli_json(target.pid, "-json")
    assert any(re.match(r"LWP [0-9, LWP]*\b%d\b.* running, so whether .* on a socket is not "
                        r"known$" % spinner, note) for note in document["notes"]), document
    # The blocked reader is still seen for what it is.
    by_fd = {r["fd"]: r for r in document["sockets"]}
    assert by_fd[target.info["fds"]["client"]]["waiters"] == [
        {"lwp": target.info["tids"]["reader"], "syscall": "recvfrom", "detail": None}]


# --------------------------------------------------------------------------
# Shutdown and its confirmation


def listener_state(pid, fd):
    rows = cli_json(pid, "-json", fd)["sockets"]
    return rows[0]["state"]


def test_shutdown_json_carries_host_and_pid(ticker_binary, targets):
    target = targets([ticker_binary])
    client = target.info["fds"]["client"]
    document = cli_json(target.pid, "shutdown", "-json", client)
    assert (document["host"], document["pid"]) == (os.uname().nodename, target.pid)
    [outcome] = document["outcomes"]
    assert (outcome["fd"], outcome["how"], outcome["method"], outcome["ok"]) == (
        client, "SHUT_RDWR", "pidfd", True)
    assert target.expect("WOKE", timeout=10) == "WOKE fd=%d ret=0 errno=0" % client


def test_confirmation_refused_without_a_terminal(ticker_binary, targets):
    target = targets([ticker_binary])
    listen = target.info["fds"]["listen"]
    rc, out, err = cli(target.pid, "shutdown", listen)
    assert rc == 1, (rc, out, err)
    assert "A listening socket accepts no more connections" in out
    assert err.splitlines() == [
        "gdb_sockets shutdown: not confirmed: the input is not a terminal; give -yes to "
        "shut down without asking; nothing done"]
    assert listener_state(target.pid, listen) == "LISTEN"
    rc, out, err = cli(target.pid, "shutdown", "-yes", listen)
    assert rc == 0, (rc, out, err)
    assert listener_state(target.pid, listen) != "LISTEN"


@pytest.mark.parametrize("answer, rc", [("n", 1), ("y", 0)])
def test_confirmation_at_a_terminal(ticker_binary, targets, answer, rc):
    target = targets([ticker_binary])
    listen = target.info["fds"]["listen"]
    child = pexpect.spawn(CLI[0], CLI[1:] + [str(target.pid), "shutdown", str(listen)],
                          cwd=harness.REPO_DIR, encoding="utf-8", timeout=30)
    child.expect_exact("Shut down 1 socket? (y or n) ")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == rc, child.before
    assert (listener_state(target.pid, listen) == "LISTEN") == (answer == "n")


def test_methods_that_need_gdb_are_refused(ticker_binary, targets):
    target = targets([ticker_binary])
    client = target.info["fds"]["client"]
    for method in ("call", "syscall"):
        rc, out, err = cli(target.pid, "shutdown", "-method", method, client)
        assert rc == 1 and out == "", (rc, out, err)
        assert re.fullmatch(r"gdb_sockets.*: -method %s .* needs gdb: .*\n" % method, err), err
    assert listener_state(target.pid, client) == "ESTAB"


# --------------------------------------------------------------------------
# Exit status and errors


def test_usage_errors_exit_2(zoo):
    for args in ([], ["abc"], ["0"], [zoo.pid, "-x"], [zoo.pid, "-state", "nosuch"],
                 [zoo.pid, "frobnicate"], [zoo.pid, "x1"], [zoo.pid, "shutdown"],
                 [zoo.pid, "shutdown", "4", "bth"], [zoo.pid, "-port"]):
        rc, out, err = cli(*args)
        assert rc == 2 and out == "", (args, rc, out, err)
        assert err.startswith("gdb_sockets"), (args, err)


def test_user_errors_exit_1_with_one_line(zoo, ticker_binary, targets):
    other = zoo.info["other"]
    name, fd = sorted(other.items())[0]
    dead = subprocess.Popen(["true"])
    dead.wait()
    cases = [
        ([dead.pid], r"gdb_sockets: no process %d" % dead.pid),
        ([zoo.pid, "shutdown", fd], r"gdb_sockets shutdown: fd %d is not a socket \(.*\)" % fd),
        ([zoo.pid, "shutdown", 999], r"gdb_sockets shutdown: fd 999 is not open in process %d.*"
         % zoo.pid),
    ]
    for args, pattern in cases:
        rc, out, err = cli(*args)
        assert rc == 1 and out == "", (args, rc, out, err)
        assert re.fullmatch(pattern + "\n", err), (args, err)
    # Another user's process: /proc/PID/fd cannot be read.
    rc, out, err = cli(zoo.pid, prefix=NOBODY)
    assert rc == 1 and out == "", (rc, out, err)
    assert re.fullmatch(r"gdb_sockets: cannot read /proc/%d/fd: permission denied.*\n"
                        % zoo.pid, err), err


def test_a_zombie_is_an_exited_process(targets):
    # The child exits at once and its parent never reaps it.
    code = ("import os, time\nchild = os.fork()\nif child == 0:\n    os._exit(0)\n"
            "print('READY {\"child\": %d}' % child, flush=True)\ntime.sleep(60)\n")
    target = targets([sys.executable, "-c", code])
    child = target.info["child"]
    deadline = time.monotonic() + 10
    while open("/proc/%d/stat" % child).read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.01)
    rc, out, err = cli(child)
    assert rc == 1 and err == "gdb_sockets: process %d has exited\n" % child, err


# --------------------------------------------------------------------------
# --help


def option_names(text):
    return set(re.findall(r"(?<![\w-])-([a-z][a-z-]*)", text))


def test_help_for_each_subcommand(zoo):
    from gdb_sockets import cli as cli_module
    from gdb_sockets.view import options
    for args, spec in (([], options.INFO_SOCKETS_OPTIONS),
                       ([zoo.pid], options.INFO_SOCKETS_OPTIONS),
                       (["help"], options.INFO_SOCKETS_OPTIONS),
                       ([zoo.pid, "shutdown"], cli_module.CLI_SHUTDOWN_OPTIONS),
                       (["help", "shutdown"], cli_module.CLI_SHUTDOWN_OPTIONS),
                       ([zoo.pid, "timeout"], cli_module.CLI_TIMEOUT_OPTIONS),
                       (["help", "timeout"], cli_module.CLI_TIMEOUT_OPTIONS),
                       ([zoo.pid, "kill"], cli_module.CLI_KILL_OPTIONS),
                       (["help", "kill"], cli_module.CLI_KILL_OPTIONS)):
        argv = list(args) if args[:1] == ["help"] else list(args) + ["--help"]
        rc, out, err = cli(*argv)
        assert rc == 0 and err == "", (args, rc, err)
        assert out.startswith("usage: python3 -m gdb_sockets PID"), out
        # Every option the parser takes is explained, and no other.
        assert set(spec) <= option_names(out), (args, set(spec) - option_names(out))
    # After '--' it is an argument, not a request for help.
    rc, out, err = cli(zoo.pid, "--", "--help")
    assert rc == 2 and "'--help' is not a file descriptor" in err, err


# --------------------------------------------------------------------------
# The single file


def test_pyz_runs_from_outside_the_repository(zoo, tmp_path):
    build = [os.path.join(harness.REPO_DIR, "install.sh")]
    first, second = tmp_path / "one" / "gdb-sockets.pyz", tmp_path / "two.pyz"
    first.parent.mkdir()
    subprocess.run(build + ["--pyz=%s" % first], check=True, capture_output=True, cwd=str(tmp_path))
    subprocess.run(build + ["--pyz=%s" % second], check=True, capture_output=True, cwd=str(tmp_path))
    assert first.read_bytes() == second.read_bytes(), "the build is not reproducible"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(["python3", "-I", str(first), str(zoo.pid), "-json"],
                          cwd=str(elsewhere), capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc
    document = json.loads(proc.stdout)
    assert (harness.without_times(document["sockets"])
            == harness.without_times(cli_json(zoo.pid, "-json")["sockets"]))
    # Executable on its own (the #! line), and its usage errors are the same.
    proc = subprocess.run([str(first), "-x"], cwd=str(elsewhere), capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("gdb_sockets:"), proc


# --------------------------------------------------------------------------
# The README's example


def test_two_hosts_demo():
    """demo/two_hosts.sh, as the README shows it: both hosts in one stream of
    JSON lines, and the client on host-b woken by the shutdown."""
    proc = subprocess.run([os.path.join(harness.REPO_DIR, "demo", "two_hosts.sh")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc
    lines = proc.stdout.splitlines()
    assert lines[1].startswith('  {"host":"host-b","pid":'), lines
    rows = [line.split() for line in lines if line.startswith("  host-")]
    assert [(r[0], r[4], r[6]) for r in rows] == [
        ("host-a", "3", "LISTEN"), ("host-a", "4", "ESTAB"), ("host-b", "4", "ESTAB")], lines
    assert rows[2][-1] == "recvfrom", lines
    assert re.search(r"^  note: checked: LWP \d+ left recvfrom on fd 4$", proc.stdout, re.M)
    assert lines[-1] == "client: recv() returned b''", lines


# --------------------------------------------------------------------------
# Predictions (issue 13): no harm without -force, the process running on


def test_a_writer_sigpipe_would_kill_is_refused_without_force(targets):
    binary = harness.build("pr_waiters")
    target = targets([binary, "write-default"])
    pid, fd = target.pid, target.info["fd"]
    harness.wait_blocked(pid, pid, {1})
    rc, out, err = cli(pid, "shutdown", "-yes", fd)
    assert rc == 1, (rc, out, err)
    assert ("refused: fd %d: LWP %d write: fails with EPIPE, and SIGPIPE, at its default "
            "action, kills the process; shutting down only 'read' on fd %d avoids that; give -force to "
            "shut down anyway; nothing done" % (fd, pid, fd)) in err, err
    harness.wait_blocked(pid, pid, {1})  # still writing: nothing was done
    rc, out, err = cli(pid, "shutdown", "-force", fd)
    assert rc == 0, (rc, out, err)
    assert target.popen.wait(timeout=10) == -13  # SIGPIPE, as predicted
    # (The process runs on and may end before the command looks again: not
    # a failure, rc 0 either way; the report's line for it: test_cli_pure.)
