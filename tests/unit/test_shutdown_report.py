"""view.shutdown_report at scale and with harm predicted (issue 13): pure, on hand-made records."""

from gdb_sockets.actions.outcome import Outcome
from gdb_sockets.model import InetEndpoint, Socket, Waiter
from gdb_sockets.view import predict, shutdown_report as sr


def close_wait(fd, peer_port=6379, peer="127.0.0.1"):
    return Socket(fd=fd, inode=5000 + fd, proto="tcp", state="CLOSE-WAIT", recv_q=1, send_q=0,
                  local=InetEndpoint("127.0.0.1", 40000 + fd),
                  peer=InetEndpoint(peer, peer_port))


def test_a_big_batch_is_counted_by_state_and_peer_before_it_is_confirmed():
    chosen = [close_wait(fd) for fd in range(10, 108)] + [close_wait(200, 5432, "::1")]
    asked = sr.confirmation(4242, chosen, 2)
    assert asked.lines == [
        "About to shut down 99 sockets in process 4242:",
        "  99 CLOSE-WAIT: 98 with peer 127.0.0.1:6379, 1 with peer [::1]:5432",
        "(-dry-run lists each one and what its threads would do)",
    ]
    assert asked.question == "Shut down 99 sockets? "
    # A few stay listed one by one.
    assert len(sr.confirmation(1, chosen[:3], 2).lines) == 4


def test_group_lines_name_the_top_peers_and_count_the_rest():
    chosen = [close_wait(fd, 1000 + fd % 7) for fd in range(70)]
    [line] = sr.group_lines(chosen, top=2)
    assert line == ("  70 CLOSE-WAIT: 10 with peer 127.0.0.1:1000, 10 with peer 127.0.0.1:1001, "
                    "50 with 5 other peers")


def outcome(fd, retval=0, **kw):
    return Outcome(fd=fd, how=2, method="syscall", before=close_wait(fd), retval=retval,
                   errno=None if retval == 0 else 107, **kw)


def test_the_summary_line():
    done = [outcome(fd) for fd in range(99)]
    assert sr.summary_line(done, 99) == "99 shut down, 0 failed"
    assert sr.failure_summary(done, 99) is None
    assert sr.summary_line(done[:40] + [outcome(40, -1)], 99) == (
        "40 shut down, 1 failed, 58 not attempted")


def test_an_interrupted_batch_says_what_to_do_next():
    stopped = outcome(375, retval=None, failure="interrupted (Ctrl-C)", interrupted=True)
    outcomes = [outcome(fd) for fd in range(70)] + [stopped]
    assert sr.failure_summary(outcomes, 100) == (
        "interrupted: 70 done, 29 not attempted (fd 375 was being shut down: see "
        "'info sockets 375'); run the same command again to finish")


def test_a_failure_says_what_to_do_next():
    failed = outcome(375, retval=None, failure="gdb could not step")
    assert sr.failure_summary([outcome(1), failed], 31) == (
        "failed: fd 375: gdb could not step; 29 not attempted after that failure; run the "
        "same command again to retry them")


def test_harm_names_the_threads_and_the_way_out():
    writer = Socket(fd=1, inode=9, proto="tcp", state="ESTAB", waiters=(Waiter(17364, "write"),))
    sigpipe = lambda lwp: predict.Sigpipe("default")
    found = {1: predict.for_socket(writer, predict.shutdown_effect_of(writer, 2), sigpipe)}
    safer = {1: predict.safer_how(writer, 2, lambda how: predict.for_socket(
        writer, predict.shutdown_effect_of(writer, how), sigpipe))}
    assert safer == {1: 0}
    harm = sr.harm([writer], 2, found, safer)
    assert harm.refusal == (
        "refused: fd 1: LWP 17364 write: fails with EPIPE, and SIGPIPE, at its default action, "
        "kills the process; shutting down only 'read' on fd 1 avoids that; give -force to shut down "
        "anyway; nothing done")
    assert harm.lines[-1] == "This is predicted to kill the process; shutting down only 'read' on fd 1 avoids that."
    ignored = {1: predict.for_socket(writer, predict.shutdown_effect_of(writer, 2),
                                     lambda lwp: predict.Sigpipe("ignored"))}
    assert sr.harm([writer], 2, ignored, {}) is None


def test_a_connection_that_went_to_time_wait_says_so():
    # Issue 13 item 8: TIME-WAIT is a state, not "UNCONN (no longer in the table)".
    import json
    import os
    from dataclasses import replace
    from gdb_sockets.kernel.procnet import fdless_state
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "timewait")
    with open(os.path.join(here, "tcp_time_wait"), "rb") as f:
        text = f.read()
    with open(os.path.join(here, "sockets.json")) as f:
        names = json.load(f)
    client, server = InetEndpoint(*names["client"]), InetEndpoint(*names["server"])
    assert fdless_state(text, "tcp", client, server) == "TIME-WAIT"
    assert fdless_state(text, "tcp", server, client) is None  # only one end waits
    assert fdless_state(text, "tcp", client, InetEndpoint("127.0.0.1", 1)) is None
    before = Socket(fd=4, inode=names["client_inode"], proto="tcp", state="ESTAB",
                    local=client, peer=server)
    after = Socket(fd=4, inode=names["client_inode"], proto="tcp", state="UNCONN",
                   in_table=False)
    done = Outcome(fd=4, how=2, method="pidfd", before=before, retval=0, errno=None,
                   after=after, connection_state="TIME-WAIT")
    assert sr.report(done)[0] == (
        "fd 4: tcp 127.0.0.1:41900 -> 127.0.0.1:8090: ESTAB -> TIME-WAIT (the connection, in "
        "the kernel's table with no fd; fd 4's own socket is closed)")
    assert sr.report(replace(done, connection_state=None))[0].endswith(
        "ESTAB -> UNCONN (no longer in the kernel's table)")
