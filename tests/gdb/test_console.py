"""The console around the commands: completion, colour, endpoint filters (real gdb)."""

from __future__ import annotations

import re

import pytest

from harness import GdbSession, build, gdb_batch, json_from

ESC = "\x1b"


@pytest.fixture(scope="module")
def blocker_binary():
    return build("blocker")


@pytest.fixture
def blocker(blocker_binary, targets):
    return targets([blocker_binary, "pause"])


def completions(result, prefix):
    return [line[len(prefix):] for line in result.out.splitlines() if line.startswith(prefix)]


def test_sock_shutdown_completes_socket_fds_and_directions(blocker):
    fds = blocker.info["fds"]
    result = gdb_batch(blocker.pid, "complete sock-shutdown ")
    offered = completions(result, "sock-shutdown ")
    assert sorted(offered) == sorted([str(fds["listen"]), str(fds["client"]),
                                      str(fds["accepted"]), "both", "read", "write"]), result.out


def test_completion_of_options_and_their_values(blocker):
    result = gdb_batch(blocker.pid, "complete sock-shutdown -st",
                       "complete sock-shutdown -state close-w",
                       "complete info sockets -state fin-",
                       "complete sock-shutdown -method ",
                       "complete info sockets -pro")
    lines = [l for l in result.out.splitlines() if l.startswith(("sock-shutdown", "info sockets"))]
    assert lines == [
        "sock-shutdown -state",
        "sock-shutdown -state close-wait",
        "info sockets -state fin-wait-1",
        "info sockets -state fin-wait-2",
        "sock-shutdown -method auto",
        "sock-shutdown -method call",
        "sock-shutdown -method pidfd",
        "sock-shutdown -method syscall",
        "info sockets -proto",
    ], result.out


def test_completion_without_a_process_offers_only_directions():
    result = gdb_batch(None, "complete sock-shutdown ")
    assert completions(result, "sock-shutdown ") == ["both", "read", "write"], result.out


def test_batch_table_and_json_have_no_escape_codes(blocker):
    result = gdb_batch(blocker.pid, "info sockets", "info sockets -json")
    assert ESC not in result.out and ESC not in result.err
    assert re.search(r"^FD +Proto", result.out, re.M)


def test_styled_table_colours_states_and_endpoints_and_keeps_columns(blocker):
    with GdbSession(blocker.pid) as gdb:
        plain = gdb.cmd("info sockets")
        gdb.cmd("set style enabled on")
        styled = gdb.cmd("info sockets")
        as_json = gdb.cmd("info sockets -json")
    port = blocker.info["port"]
    # The listener's state is green and its endpoint has gdb's address style.
    # (gdb 17 and later re-encode escapes they pass through: "32;49;22;...m")
    assert re.search(r"\x1b\[32(;[0-9]+)*mLISTEN\x1b\[m", styled), repr(styled)
    assert re.search(r"\x1b\[[0-9;]*m127\.0\.0\.1:%d\x1b\[m" % port, styled), repr(styled)
    # Removing the escapes gives back exactly the plain table.
    assert re.sub(r"\x1b\[[0-9;]*m", "", styled) == plain
    assert ESC not in as_json


def test_no_color_keeps_the_table_plain_even_with_styling_on(blocker):
    """NO_COLOR: gdb 13 ignores it, so the table itself must; on every gdb
    the table stays plain after 'set style enabled on'."""
    with GdbSession(blocker.pid, env={"NO_COLOR": "1"}) as gdb:
        plain = gdb.cmd("info sockets")
        gdb.cmd("set style enabled on")
        styled = gdb.cmd("info sockets")
    assert re.search(r"^FD +Proto", styled, re.M), styled
    assert ESC not in styled and styled == plain, repr(styled)


def test_port_filter_matches_local_or_peer(blocker):
    fds = blocker.info["fds"]
    port = blocker.info["port"]
    rows = json_from(gdb_batch(blocker.pid, "info sockets -json -port %d" % port).out)
    # The listener and accepted end have it as local port, the client as peer port.
    assert sorted(r["fd"] for r in rows) == sorted(fds.values())


def test_peer_and_local_filters_select_one_end(blocker):
    fds = blocker.info["fds"]
    port = blocker.info["port"]
    peer = json_from(gdb_batch(blocker.pid, "info sockets -json -peer 127.0.0.1:%d" % port).out)
    assert [r["fd"] for r in peer] == [fds["client"]]
    local = json_from(gdb_batch(
        blocker.pid, "info sockets -json -local 127.0.0.1:%d -state estab" % port).out)
    assert [r["fd"] for r in local] == [fds["accepted"]]


def test_bad_endpoint_filter_is_a_clean_error(blocker):
    result = gdb_batch(blocker.pid, "info sockets -peer localhost:80")
    assert result.rc == 1
    assert "-peer 'localhost:80'" in result.err
    assert "Traceback" not in result.err + result.out


def test_extended_shows_backlog_memory_and_owner(blocker):
    fds = blocker.info["fds"]
    result = gdb_batch(blocker.pid, "info sockets -json -extended", "info sockets -extended")
    assert result.rc == 0, result
    rows = {r["fd"]: r for r in json_from(result.out)}
    listen = rows[fds["listen"]]["details"]
    assert listen["tcp"]["backlog"] == rows[fds["listen"]]["send_q"]
    assert listen["tcp"]["accept_queue"] == 0
    client = rows[fds["client"]]["details"]
    assert client["memory"]["rcvbuf"] > 0 and client["tcp"]["retransmits"] == 0
    # The table has one indented detail line under each socket.
    lines = result.out.split("\n]", 1)[1].splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith("FD ")][0]
    body = lines[start + 1:start + 1 + 2 * len(fds)]
    assert [l.startswith("      uid 0  rmem ") for l in body] == [False, True] * len(fds), body
    assert "accept queue 0/%d" % listen["tcp"]["backlog"] in body[1]
