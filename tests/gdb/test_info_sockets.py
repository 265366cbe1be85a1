"""`info sockets` in a real gdb against real processes (the contract in the README).

The zoo target (tests/targets/zoo.c) holds one socket of each kind and
prints what it knows of each (fd, inode, addresses, queues).  Every row of
`info sockets -json` is checked against that and against ss, the oracle.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import select
import signal
import stat
import sys

import pytest

import harness
from harness import (GdbSession, build, gdb_batch, gdb_batch_args, json_from, no_traceback,
                     ss_endpoint, ss_rows)

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]

# What each zoo socket must show (ss's words).
ZOO_STATES = {
    "tcp_listen": "LISTEN", "tcp_client": "ESTAB", "tcp_accepted": "ESTAB",
    "tcp_close_wait": "CLOSE-WAIT", "tcp_backlog": "LISTEN", "tcp_pending_client": "ESTAB",
    "tcp6_listen": "LISTEN", "tcp6_client": "ESTAB", "tcp6_accepted": "ESTAB",
    "dual_listen": "LISTEN", "dual_client": "ESTAB", "dual_accepted": "ESTAB",
    "udp_bound": "UNCONN", "udp_connected": "ESTAB", "udp6_bound": "UNCONN",
    "udplite": "UNCONN", "udplite6": "UNCONN", "raw": "UNCONN", "raw6": "UNCONN",
    "ping": "UNCONN", "ping6": "UNCONN",
    "unix_listen": "LISTEN", "unix_client": "ESTAB", "unix_accepted": "ESTAB",
    "unix_abstract": "UNCONN", "unix_pair_a": "ESTAB", "unix_pair_b": "ESTAB",
    "packet_all": "UNCONN", "packet_dgram_lo": "UNCONN", "netlink_route": "UNCONN",
    "tcp_fresh": "UNCONN", "udp6_unbound": "UNCONN",
}
# Sockets in no kernel table: only their protocol is known.
TABLELESS = {"tcp_fresh", "udp6_unbound"}
# UNIX sockets connected to each other.
UNIX_PEERS = {"unix_client": "unix_accepted", "unix_accepted": "unix_client",
              "unix_pair_a": "unix_pair_b", "unix_pair_b": "unix_pair_a"}
# Protocols ss lists here (no udplite, ping or netlink rows from this ss).
SS_PROTOS = {"tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet"}


def expected_proto(sock: dict) -> str:
    """Our protocol name for a socket from what the zoo says of it."""
    family, kind, protocol = sock["family"], sock["type"], sock["protocol"]
    if family in ("inet", "inet6"):
        v6 = "6" if family == "inet6" else ""
        if kind == "stream":
            return "tcp" + v6
        if kind == "raw":
            return "raw" + v6
        if protocol in (1, 58):
            return "ping" + v6
        if protocol == 136:
            return "udplite" + v6
        return "udp" + v6
    return family  # unix, packet, netlink


def socket_fds_in_proc(pid: int) -> dict:
    """fd -> inode of every socket fd, read from /proc by the test itself."""
    out = {}
    for name in os.listdir("/proc/%d/fd" % pid):
        link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        match = re.match(r"^socket:\[(\d+)\]$", link)
        if match:
            out[int(name)] = int(match.group(1))
    return out


def assert_fails(result, pattern: str) -> str:
    """gdb -batch exited 1, printed a message matching pattern, no traceback."""
    no_traceback(result)
    assert result.rc == 1, result
    assert re.search(pattern, result.err, re.M), result.err
    return result.err


def same_address(a: str, b: str) -> bool:
    return ipaddress.ip_address(a) == ipaddress.ip_address(b)


def unspecified(endpoint: dict) -> bool:
    return ipaddress.ip_address(endpoint["address"]).is_unspecified and endpoint["port"] == 0


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def zoo_listing(zoo):
    result = gdb_batch(zoo.pid, "info sockets -json")
    assert result.rc == 0, result
    no_traceback(result)
    return json_from(result.out)


@pytest.fixture(scope="module")
def blocker_binary():
    return build("blocker")


# --------------------------------------------------------------------------
# The listing compared with the zoo's own knowledge and with ss


def check_listing(target, listing, ss):
    """Compare `info sockets -json` of a zoo with the zoo and with ss."""
    socks = target.info["socks"]
    by_fd = {entry["fd"]: entry for entry in listing}
    assert len(by_fd) == len(listing), "an fd listed twice"
    assert [e["fd"] for e in listing] == sorted(by_fd), "not sorted by fd"

    # Exactly the socket fds, and no others.
    proc_sockets = socket_fds_in_proc(target.pid)
    assert set(proc_sockets) == {s["fd"] for s in socks.values()}, "zoo and /proc disagree"
    assert set(by_fd) == set(proc_sockets)
    for name, fd in target.info["other"].items():
        assert fd not in by_fd, "%s (fd %d) is not a socket" % (name, fd)

    for name, sock in socks.items():
        entry = by_fd[sock["fd"]]
        where = "%s (fd %d): %r" % (name, sock["fd"], entry)
        assert entry["inode"] == sock["inode"] == proc_sockets[sock["fd"]], where
        assert entry["proto"] == expected_proto(sock), where
        assert entry["state"] == ZOO_STATES[name], where
        family = sock["family"]
        if name in TABLELESS:
            # Nothing but the protocol is known; an address, if given,
            # must be what the socket really has.
            for key in ("local", "peer"):
                value = entry[key]
                assert value is None or unspecified(value), where
            assert entry["recv_q"] is None and entry["send_q"] is None, where
            continue
        if family in ("inet", "inet6"):
            assert set(entry["local"]) >= {"address", "port"}, where
            assert same_address(entry["local"]["address"], sock["local"]["address"]), where
            assert entry["local"]["port"] == sock["local"]["port"], where
            if sock["peer"] is None:
                assert unspecified(entry["peer"]), where
            else:
                assert same_address(entry["peer"]["address"], sock["peer"]["address"]), where
                assert entry["peer"]["port"] == sock["peer"]["port"], where
            if "inq" in sock and entry["state"] in ("ESTAB",):
                # Stream sockets: the bytes the program could read / has not
                # had acknowledged yet (it waited for every ACK).
                assert entry["recv_q"] == sock["inq"], where
                assert entry["send_q"] == sock["outq"] == 0, where
        elif family == "unix":
            assert entry["type"] == sock["type"], where
            assert entry["local"] == {"path": sock["local"]["path"]}, where
            peer = entry["peer"]
            if name in UNIX_PEERS:
                assert peer["inode"] == socks[UNIX_PEERS[name]]["inode"], where
                assert peer["path"] == sock["peer"]["path"], where
            else:
                assert peer["inode"] is None, where
        assert isinstance(entry["recv_q"], int), where

    # Queues the zoo arranged.
    assert by_fd[socks["tcp_backlog"]["fd"]]["recv_q"] == 1  # one connection not accepted
    assert by_fd[socks["unix_accepted"]["fd"]]["recv_q"] == 6  # "unix!!" unread
    assert by_fd[socks["udp_bound"]["fd"]]["recv_q"] > 0  # one datagram queued

    # ss, socket by socket.  Every socket ss can show must be there.
    expected_in_ss = {s["inode"] for n, s in socks.items()
                      if expected_proto(s) in SS_PROTOS and n not in TABLELESS}
    assert set(ss) == expected_in_ss, "ss rows %s" % sorted(ss)
    by_inode = {entry["inode"]: entry for entry in listing}
    for inode, row in ss.items():
        entry = by_inode[inode]
        where = "fd %d: %r vs ss %r" % (entry["fd"], entry, row)
        assert [fd for _c, _p, fd in row["users"] if _p == target.pid] == [entry["fd"]], where
        assert entry["state"] == row["state"], where
        assert entry["recv_q"] == row["recv-q"], where
        if entry["send_q"] is None:
            # Not in /proc for a TCP listener (ss gets the backlog from
            # sock_diag) nor for packet sockets.
            assert (entry["proto"], entry["state"]) in {("tcp", "LISTEN"), ("tcp6", "LISTEN")} \
                or entry["proto"] == "packet", where
        else:
            assert entry["send_q"] == row["send-q"], where
        if entry["proto"] == "unix":
            assert entry["local"]["path"] == (None if row["local"] == "*" else row["local"]), where
            assert entry["peer"]["inode"] == row["peer_inode"], where
        elif entry["proto"] != "packet":
            for key in ("local", "peer"):
                host, port = ss_endpoint(row[key])
                mine = entry[key]
                if host is None or ipaddress.ip_address(host).is_unspecified:
                    assert ipaddress.ip_address(mine["address"]).is_unspecified, where
                else:
                    assert same_address(mine["address"], host), where
                assert mine["port"] == port, where


def test_json_matches_zoo_and_ss(zoo, zoo_listing):
    check_listing(zoo, zoo_listing, ss_rows(pid=zoo.pid))


def test_json_special_addresses(zoo, zoo_listing):
    """The fixed strings the contract names, not just equal addresses."""
    socks = zoo.info["socks"]
    by_fd = {e["fd"]: e for e in zoo_listing}
    dual = by_fd[socks["dual_accepted"]["fd"]]
    assert dual["local"]["address"] in ("::ffff:127.0.0.1", "::ffff:7f00:1")
    assert by_fd[socks["dual_listen"]["fd"]]["local"]["address"] == "::"
    assert by_fd[socks["tcp_listen"]["fd"]]["peer"] == {"address": "0.0.0.0", "port": 0}
    assert by_fd[socks["tcp6_listen"]["fd"]]["peer"] == {"address": "::", "port": 0}
    abstract = by_fd[socks["unix_abstract"]["fd"]]
    assert abstract["local"]["path"] == "@zoo-%d-dgram" % zoo.pid
    listen = by_fd[socks["unix_listen"]["fd"]]
    assert listen["local"]["path"].endswith("/zoo listen.sock")
    for entry in zoo_listing:
        assert isinstance(entry["fd"], int) and isinstance(entry["inode"], int)
        for key in ("recv_q", "send_q"):
            assert entry[key] is None or isinstance(entry[key], int)


# --------------------------------------------------------------------------
# The table


def parse_table(out: str):
    """The header's column names and the rows, cut at the header's columns."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^FD +Proto +State +Recv-Q +Send-Q +Local +Peer\b", line):
            break
    else:
        raise AssertionError("no table header in %r" % out)
    header = lines[i]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for line in lines[i + 1:]:
        if not re.match(r"^\d+ ", line):
            break
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return names, rows


def test_table_one_line_per_socket(zoo, zoo_listing):
    result = gdb_batch(zoo.pid, "info sockets")
    assert result.rc == 0, result
    no_traceback(result)
    names, rows = parse_table(result.out)
    assert names[:7] == ["FD", "Proto", "State", "Recv-Q", "Send-Q", "Local", "Peer"]
    assert [int(r["FD"]) for r in rows] == [e["fd"] for e in zoo_listing]
    # Nothing else between the header and gdb's detach line.
    after = result.out.splitlines()
    header_at = next(i for i, l in enumerate(after) if l.startswith("FD "))
    assert after[header_at + 1 + len(rows)].startswith("[Inferior 1"), result.out

    socks = zoo.info["socks"]
    by_fd = {int(r["FD"]): r for r in rows}
    ss = ss_rows(pid=zoo.pid)
    for entry in zoo_listing:
        row = by_fd[entry["fd"]]
        # UNIX rows by type, as ss's Netid names them (u_str, u_dgr, u_seq).
        proto = entry["proto"]
        if proto == "unix":
            proto = (ss[entry["inode"]]["netid"] if entry["inode"] in ss else
                     {"stream": "u_str", "dgram": "u_dgr", "seqpacket": "u_seq"}[entry["type"]])
        assert row["Proto"] == proto and row["State"] == entry["state"], row
        if entry["recv_q"] is not None:
            assert row["Recv-Q"] == str(entry["recv_q"]), row
        if entry["inode"] in ss and entry["proto"] != "unix":
            # Addresses as ss -n prints them, except that an unspecified
            # IPv4 address is '*' where ss writes 0.0.0.0.
            for col, key in (("Local", "local"), ("Peer", "peer")):
                expected = ss[entry["inode"]][key].replace("0.0.0.0:", "*:").replace("[::]:", "*:")
                assert row[col] == expected, (row, ss[entry["inode"]])

    dual = by_fd[socks["dual_accepted"]["fd"]]
    port = socks["dual_listen"]["local"]["port"]
    assert dual["Local"] == "[::ffff:127.0.0.1]:%d" % port
    assert by_fd[socks["tcp6_listen"]["fd"]]["Local"] == "[::1]:%d" % socks["tcp6_listen"]["local"]["port"]
    assert by_fd[socks["dual_listen"]["fd"]]["Local"] == "*:%d" % port
    assert by_fd[socks["tcp_close_wait"]["fd"]]["State"] == "CLOSE-WAIT"
    path = socks["unix_listen"]["local"]["path"]
    assert by_fd[socks["unix_listen"]["fd"]]["Local"] == path
    client = by_fd[socks["unix_client"]["fd"]]
    assert client["Peer"] == "%s (peer %d)" % (path, socks["unix_accepted"]["inode"])
    assert by_fd[socks["unix_pair_a"]["fd"]]["Peer"] == "* (peer %d)" % socks["unix_pair_b"]["inode"]
    assert by_fd[socks["unix_abstract"]["fd"]]["Local"] == "@zoo-%d-dgram" % zoo.pid
    assert by_fd[socks["packet_all"]["fd"]]["Local"] == ss[socks["packet_all"]["inode"]]["local"]
    assert by_fd[socks["packet_dgram_lo"]["fd"]]["Local"] == "[2048]:lo"
    assert by_fd[socks["netlink_route"]["fd"]]["Local"] == "0:%d" % (
        socks["netlink_route"]["local"]["portid"])
    assert by_fd[socks["tcp_fresh"]["fd"]]["State"] == "UNCONN"
    assert by_fd[socks["tcp_fresh"]["fd"]]["Proto"] == "tcp"


# --------------------------------------------------------------------------
# Filters


def names_to_fds(zoo, names):
    return sorted(zoo.info["socks"][n]["fd"] for n in names if n in zoo.info["socks"])


FILTERS = [
    (["-proto", "tcp"], lambda n, p, s, k: p in ("tcp", "tcp6")),
    (["-proto", "tcp4"], lambda n, p, s, k: p == "tcp"),
    (["-proto", "TCP6"], lambda n, p, s, k: p == "tcp6"),
    (["-proto", "udp"], lambda n, p, s, k: p in ("udp", "udp6")),
    (["-proto", "unix", "-proto", "netlink"], lambda n, p, s, k: p in ("unix", "netlink")),
    (["-state", "listen"], lambda n, p, s, k: s == "LISTEN"),
    (["-state", "close_wait"], lambda n, p, s, k: s == "CLOSE-WAIT"),
    (["-state", "Close-Wait", "-state", "LISTEN"],
     lambda n, p, s, k: s in ("CLOSE-WAIT", "LISTEN")),
    (["-proto", "unix", "-state", "estab"], lambda n, p, s, k: p == "unix" and s == "ESTAB"),
    (["-pr", "raw", "-s", "unconn"], lambda n, p, s, k: p in ("raw", "raw6")),
    (["-state", "syn-sent"], lambda n, p, s, k: False),
    # The Proto column's names of UNIX sockets by type.
    (["-proto", "u_str"], lambda n, p, s, k: p == "unix" and k == "stream"),
    (["-proto", "u_dgr", "-proto", "u_seq"],
     lambda n, p, s, k: p == "unix" and k in ("dgram", "seqpacket")),
]


@pytest.mark.parametrize("args,keep", FILTERS, ids=[" ".join(a) for a, _k in FILTERS])
def test_filters(zoo, args, keep):
    result = gdb_batch(zoo.pid, "info sockets -json " + " ".join(args))
    assert result.rc == 0, result
    no_traceback(result)
    got = [e["fd"] for e in json_from(result.out)]
    want = sorted(s["fd"] for n, s in zoo.info["socks"].items()
                  if keep(n, expected_proto(s), ZOO_STATES[n], s["type"]))
    assert got == want


def test_fd_arguments(zoo):
    socks, other = zoo.info["socks"], zoo.info["other"]
    fds = [socks["tcp_listen"]["fd"], socks["unix_accepted"]["fd"], other["pipe_r"], 999]
    result = gdb_batch(zoo.pid, "info sockets -json " + " ".join(map(str, fds)))
    assert result.rc == 0, result
    assert [e["fd"] for e in json_from(result.out)] == sorted(fds[:2])

    # FD arguments and options together, in any order; '--' ends options.
    fd = socks["tcp_close_wait"]["fd"]
    result = gdb_batch(zoo.pid, "info sockets %d -j -state close-wait -- %d" % (fd, fd))
    assert result.rc == 0, result
    assert [e["fd"] for e in json_from(result.out)] == [fd]


def test_table_when_nothing_matches(zoo):
    result = gdb_batch(zoo.pid, "info sockets -state syn-sent")
    assert result.rc == 0, result
    assert "No socket of process %d matches." % zoo.pid in result.out
    assert not re.search(r"^FD ", result.out, re.M)


def test_every_fd_named_gets_an_answer(zoo):
    # Issue 13 item 4: not open, not a socket (what it is), left out by a filter, or its row.
    socks, other = zoo.info["socks"], zoo.info["other"]
    listen, estab = socks["tcp_listen"]["fd"], socks["tcp_close_wait"]["fd"]
    devnull = other["devnull"]
    result = gdb_batch(zoo.pid, "info sockets %d %d 999" % (listen, devnull))
    assert result.rc == 0, result
    assert re.search(r"^%d +tcp +LISTEN " % listen, result.out, re.M), result.out
    assert ("\nfd %d: not a socket (/dev/null)\nfd 999: not open in process %d\n"
            % (devnull, zoo.pid)) in result.out, result.out
    alone = gdb_batch(zoo.pid, "info sockets %d" % devnull)
    assert "fd %d: not a socket (/dev/null)" % devnull in alone.out
    assert "No socket of process" not in alone.out and not re.search(r"^FD ", alone.out, re.M)
    filtered = gdb_batch(zoo.pid, "info sockets -state listen %d %d" % (listen, estab))
    assert "fd %d: tcp CLOSE-WAIT, left out by the other filters" % estab in filtered.out
    as_json = gdb_batch(zoo.pid, "info sockets -json %d %d" % (listen, devnull))
    assert [e["fd"] for e in json_from(as_json.out)] == [listen]
    assert "fd %d: not a socket (/dev/null)" % devnull in as_json.err


BAD_ARGUMENTS = [
    ("-bogus", r"info sockets: unknown option -bogus"),
    ("-json -x", r"info sockets: unknown option -x"),
    ("-state nosuch", r"info sockets: unknown state 'nosuch'"),
    ("-state", r"info sockets: option -state needs a value"),
    ("-proto sctp7", r"info sockets: unknown protocol 'sctp7'"),
    ("abc", r"info sockets: 'abc' is not a file descriptor"),
    ("-- -1", r"info sockets: '-1' is not a file descriptor"),
    ("-1", r"info sockets: '-1' is not a file descriptor"),
    ("3x", r"info sockets: '3x' is not a file descriptor"),
    ("0x3", r"info sockets: '0x3' is not a file descriptor"),
    ("99999999999", r"info sockets: '99999999999' is not a file descriptor"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS, ids=[a for a, _m in BAD_ARGUMENTS])
def test_bad_arguments_fail(zoo, args, message):
    result = gdb_batch(zoo.pid, "info sockets " + args)
    assert_fails(result, message)
    assert not re.search(r"^FD ", result.out, re.M)
    assert zoo.alive()


# --------------------------------------------------------------------------
# A process in its own network namespace


def test_target_in_network_namespace(zoo_binary, tmp_path, targets):
    """gdb in the host namespace lists the sockets of a process in another
    one, as ss run inside that namespace sees them, ping sockets included."""
    enable_ping = 'echo 0 0 > /proc/sys/net/ipv4/ping_group_range && exec "$@"'
    zoo = targets(["sh", "-c", enable_ping, "sh", zoo_binary, str(tmp_path), "--ping"],
                  netns=True)
    assert os.stat("/proc/%d/ns/net" % zoo.pid).st_ino != os.stat("/proc/self/ns/net").st_ino
    result = gdb_batch(zoo.pid, "info sockets -json")
    assert result.rc == 0, result
    no_traceback(result)
    listing = json_from(result.out)
    check_listing(zoo, listing, ss_rows(pid=zoo.pid, netns_pid=zoo.pid))

    by_fd = {e["fd"]: e for e in listing}
    for name in ("ping", "ping6"):
        sock = zoo.info["socks"][name]
        entry = by_fd[sock["fd"]]
        assert entry["proto"] == name and entry["state"] == "UNCONN", entry
        assert same_address(entry["local"]["address"], sock["local"]["address"]), entry
        assert entry["local"]["port"] == sock["local"]["port"], entry
    # The host's own tables do not have these sockets: had the command read
    # /proc/net (gdb's namespace), the checks above would have failed.
    host = ss_rows()
    assert zoo.info["socks"]["tcp_listen"]["inode"] not in host
    assert zoo.info["socks"]["unix_client"]["inode"] not in host


# --------------------------------------------------------------------------
# Errors: no process, core file, exited process, permission denied


def test_no_process():
    result = gdb_batch(None, "info sockets")
    assert_fails(result, r"^info sockets: no process")


def test_core_file(blocker_binary, tmp_path, targets):
    target = targets([blocker_binary, "pause"])
    core = str(tmp_path / "blocker.core")
    made = gdb_batch(target.pid, "gcore " + core)
    assert made.rc == 0 and os.path.getsize(core) > 0, made
    result = gdb_batch_args([blocker_binary, core], "info sockets")
    assert_fails(result, r"info sockets: a core file has no live sockets")
    assert "Core was generated by" in result.out  # the core really was loaded


def test_killed_from_gdb(blocker_binary, targets):
    target = targets([blocker_binary, "pause"])
    result = gdb_batch(target.pid, "kill", "info sockets")
    assert_fails(result, r"^info sockets: no process")
    assert target.returncode() == -signal.SIGKILL


def test_process_exited_under_gdb(blocker_binary, targets):
    """The process ends while gdb runs it (SIGTERM delivered on resume)."""
    target = targets([blocker_binary, "pause"])
    result = gdb_batch(target.pid, "signal SIGTERM", "info sockets")
    assert "Program terminated with signal SIGTERM" in result.out, result
    assert_fails(result, r"^info sockets: no process")
    assert target.returncode() == -signal.SIGTERM


def wait_exited(pid: int, timeout: float = 10) -> None:
    """Block until process pid has exited (is a zombie), via a pidfd."""
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(timeout * 1000), "process %d did not exit" % pid
    finally:
        os.close(pidfd)


def test_process_died_while_stopped(blocker_binary, targets):
    """Killed from outside while gdb has it stopped (OOM killer, kill -9):
    gdb does not know yet, but the sockets are gone and so is the process."""
    target = targets([blocker_binary, "pause"])
    with GdbSession(target.pid) as gdb:
        assert "__libc_pause" in gdb.startup  # attached, stopped in pause()
        os.kill(target.pid, signal.SIGKILL)
        wait_exited(target.pid)
        output = gdb.cmd("info sockets")
        assert "Traceback" not in output and "Python Exception" not in output, output
        error = gdb.error_of("info sockets")
        assert error is not None, "no error; the command printed %r" % output
        assert re.search(r"process %d has exited" % target.pid, error), error


def test_permission_denied_on_proc_fd(blocker_binary, targets):
    """gdb and the process both run as nobody; once the process makes itself
    non-dumpable, /proc/PID/fd belongs to root and nobody cannot read it,
    although gdb stays attached."""
    target = targets(NOBODY + [blocker_binary, "pause"])
    uids = open("/proc/%d/status" % target.pid).read().split("Uid:")[1].split()[:4]
    assert uids == ["65534"] * 4, uids
    result = gdb_batch(target.pid, "info sockets", "call (int)prctl(4, 0)", "info sockets",
                       prefix=NOBODY)
    # The premise: prctl(PR_SET_DUMPABLE, 0) ran and made /proc/PID/fd root's.
    # (gdb 13.1 on a CPU with AMX reports "Couldn't write extended state
    # status" after the call; the call itself has run, which is all this
    # premise needs.)
    fd_dir = os.stat("/proc/%d/fd" % target.pid)
    assert fd_dir.st_uid == 0 and not fd_dir.st_mode & stat.S_IROTH, (fd_dir, result)
    # Before the prctl, nobody could list them.
    assert re.search(r"^FD +Proto", result.out, re.M), result
    assert_fails(result, r"cannot read /proc/%d/fd: permission denied" % target.pid)
    assert target.alive()


def test_process_without_sockets(targets):
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "idle.py")])
    result = gdb_batch(target.pid, "info sockets")
    assert result.rc == 0, result
    no_traceback(result)
    assert "Process %d has no sockets." % target.pid in result.out
    result = gdb_batch(target.pid, "info sockets -json")
    assert result.rc == 0 and json_from(result.out) == [], result


# --------------------------------------------------------------------------
# help, loading twice, interactive use


def test_help():
    """gdb's help discipline: a one-line summary ending in a period (what
    `help info` lists), a blank line, the usage, every option explained,
    a See also; the facts a user needs, not every word."""
    result = gdb_batch(None, "help info sockets")
    assert result.rc == 0, result
    lines = result.out.splitlines()
    assert re.fullmatch(r"[A-Z][^.]*\.", lines[0]) and lines[1] == "", lines[:2]
    usage = [l for l in lines if l.startswith("Usage: info sockets ")]
    assert len(usage) == 1, lines
    for option in ("-json", "-extended", "-holders", "-proto NAME", "-state NAME", "-port N",
                   "-local ADDR[:PORT]", "-peer ADDR[:PORT]"):
        assert option in result.out, option  # in the usage
        explained = [l for l in lines if l.startswith("  ") and option.split()[0] + " " in l]
        assert explained, option  # and in the Options list
    for fact in ("/proc/PID/net", "network namespace", "UNCONN", "'--' ends the options"):
        assert fact in result.out, fact
    assert lines[-1].startswith("See also:") and "sock-shutdown" in lines[-1], lines[-1]
    listing = gdb_batch(None, "help info")
    assert re.search(r"^info sockets -- %s$" % re.escape(lines[0]), listing.out, re.M), listing.out


def test_sourcing_twice_is_harmless(zoo, zoo_listing):
    result = gdb_batch(zoo.pid, "source " + harness.INIT_PY, "help info sockets",
                       "info sockets -json")
    assert result.rc == 0, result
    no_traceback(result)
    assert "gdb_sockets" not in result.err, result.err  # no "not loaded", "another copy"
    assert result.out.count("Usage: info sockets") == 1
    assert harness.without_times(json_from(result.out)) == harness.without_times(zoo_listing)
    listing = gdb_batch(None, "source " + harness.INIT_PY, "help info")
    assert len(re.findall(r"^info sockets -- ", listing.out, re.M)) == 1, listing.out


def test_interactive_session(blocker_binary, targets):
    target = targets([blocker_binary, "pause"])
    fds = target.info["fds"]
    with GdbSession(target.pid) as gdb:
        out = gdb.cmd("info sockets")
        _names, rows = parse_table(out)
        assert [int(r["FD"]) for r in rows] == sorted(fds.values())
        assert rows[0]["Local"] == "127.0.0.1:%d" % target.info["port"]
        out = gdb.cmd("info sockets -state listen -json")
        assert [e["fd"] for e in json.loads(out)] == [fds["listen"]]
        assert gdb.error_of("info sockets -state bogus").startswith("info sockets: unknown state")
        # An error leaves the session usable.
        assert gdb.error_of("info sockets %d" % fds["client"]) is None
    assert target.alive()  # detached, not killed


# --------------------------------------------------------------------------
# UNIX names that are hard to print


def test_unix_names_with_newline_and_bad_bytes(targets, tmp_path):
    """A newline does not split the row; bytes that are not UTF-8 survive
    (surrogateescape in JSON) and print escaped in the table."""
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "oddpaths.py"),
                      str(tmp_path)])
    socks = target.info["socks"]
    result = gdb_batch(target.pid, "info sockets -json")
    assert result.rc == 0, result
    listing = {e["fd"]: e for e in json_from(result.out)}
    assert sorted(listing) == sorted(s["fd"] for s in socks.values())
    for name, sock in socks.items():
        raw = bytes.fromhex(sock["name_hex"])
        if raw[:1] == b"\0":
            expected = "@" + raw[1:].replace(b"\0", b"@").decode()
        else:
            expected = os.fsdecode(raw)
        entry = listing[sock["fd"]]
        assert entry["inode"] == sock["inode"], (name, entry)
        assert entry["local"]["path"] == expected, (name, entry)

    result = gdb_batch(target.pid, "info sockets")
    assert result.rc == 0, result
    _names, rows = parse_table(result.out)
    by_fd = {int(r["FD"]): r for r in rows}
    assert len(rows) == 3, result.out
    assert by_fd[socks["newline"]["fd"]]["Local"] == "%s/new\\nline.sock" % tmp_path
    assert by_fd[socks["not_utf8"]["fd"]]["Local"] == "%s/bad\\xff\\xfe.sock" % tmp_path
    assert by_fd[socks["abstract_nul"]["fd"]]["Local"] == "@odd@name-%d" % target.pid
