"""Every way of listing gives the same sockets (listing.STRATEGIES).

"table" reads /proc/PID/net; "exact" asks sock_diag for each socket of the
target (copies of its fds, 4-tuple lookups); "dump" walks the namespace
through sock_diag; "auto" picks per protocol.  The same checks run on each
path, and one gdb session lists the same target every way and compares.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

import harness
from harness import build, gdb_batch, json_from, ss_rows, without_times
from harness import no_traceback
from test_info_sockets import check_listing

STRATEGIES = ("table", "exact", "dump", "auto")

# One gdb session lists the target every way, and counts gdb's own fds
# before and after (every copy of a target fd must be closed).
COMPARE = r"""
import gdb, json, os
from gdb_sockets.listing import join as listing
from gdb_sockets.kernel import netns
from gdb_sockets.kernel import sockdiag
from gdb_sockets.kernel.procfs import LocalProc
pid = gdb.selected_inferior().pid
before = sorted(os.listdir("/proc/self/fd"))
paths = {}
for strategy in listing.STRATEGIES:
    found = listing.list_sockets(LocalProc(), pid, local=True, strategy=strategy)
    paths[strategy] = {"sockets": [s.to_json() for s in found.sockets], "notes": found.notes}
# Some fds only (sock-shutdown's after-state): every other fd, and one that is not open.
every = [s["fd"] for s in paths["table"]["sockets"]]
asked = set(every[::2]) | {max(every, default=0) + 1000}
some = listing.list_sockets(LocalProc(), pid, local=True, fds=asked)
subset = {"asked": sorted(asked), "sockets": [s.to_json() for s in some.sockets]}
# The unbuilt rows of `info sockets` (strategy auto), built.
rows = [s.to_json() for s in listing.list_rows(LocalProc(), pid, local=True).listing().sockets]
after = sorted(os.listdir("/proc/self/fd"))
print("@@PATHS@@" + json.dumps({"paths": paths, "subset": subset, "rows": rows,
                                "before": before, "after": after}))
"""


def every_way(pid: int, tmp_path) -> dict:
    """{strategy: [socket json...]} from one gdb session; checks gdb's fds."""
    script = tmp_path / "compare_paths.py"
    script.write_text(COMPARE)
    result = gdb_batch(pid, "source %s" % script)
    no_traceback(result)
    assert result.rc == 0, result
    match = re.search(r"^@@PATHS@@(.*)$", result.out, re.M)
    assert match, result.out
    report = json.loads(match.group(1))
    assert report["before"] == report["after"], "gdb kept fds open: %r" % report
    paths = report["paths"]
    assert set(paths) == set(STRATEGIES)
    for strategy, found in paths.items():
        assert found["notes"] == [], (strategy, found["notes"])
    # Listing some fds gives the records a full listing gives for them.
    asked = set(report["subset"]["asked"])
    # (without the silence figures: only exact lookups carry them)
    assert without_times(report["subset"]["sockets"]) == without_times([
        s for s in paths["table"]["sockets"] if s["fd"] in asked])
    # Rows left unbuilt and built later are the records auto builds.
    assert without_times(report["rows"]) == without_times(paths["auto"]["sockets"])
    return {strategy: found["sockets"] for strategy, found in paths.items()}


def assert_all_equal(paths: dict) -> list:
    """Every path gives the same rows, but for the TCP silence figures: only
    an exact lookup asks for them (the tables have no such column, a dump
    does not ask), and there every connected TCP row has them."""
    reference = without_times(paths["table"])
    assert reference, "nothing listed"
    for strategy in STRATEGIES:
        mine = paths[strategy]
        assert [s["fd"] for s in mine] == [s["fd"] for s in reference], strategy
        for a, b in zip(reference, without_times(mine)):
            assert a == b, "table vs %s:\n  %r\n  %r" % (strategy, a, b)
    for row in paths["table"] + paths["dump"]:
        assert row.get("last_recv_ms") is None, row
    for row in paths["exact"]:
        if row["proto"] in ("tcp", "tcp6"):
            connected = row["in_table"] and row["state"] not in ("LISTEN", "UNCONN")
            assert (row["last_recv_ms"] is not None) == connected, row
    return reference


def info_sockets_json(pid: int, strategy: str, netns_pid=None):
    result = gdb_batch(pid, "python import gdb_sockets.listing.join as L; L.STRATEGY = %r" % strategy,
                       "info sockets -json")
    no_traceback(result)
    assert result.rc == 0, result
    return json_from(result.out)


def check_backlogs(target, listing, ss):
    """A TCP listener's Send-Q is its backlog, as ss shows it, on every path."""
    listeners = [e for e in listing if e["proto"] in ("tcp", "tcp6") and e["state"] == "LISTEN"]
    assert listeners
    for entry in listeners:
        assert entry["send_q"] == 16, entry  # zoo.c listens with a backlog of 16
        assert entry["send_q"] == ss[entry["inode"]]["send-q"], entry


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def sc_hold_binary():
    return build("sc_hold")


# --------------------------------------------------------------------------
# The same checks on every path


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_path_matches_zoo_and_ss(zoo, strategy):
    listing = info_sockets_json(zoo.pid, strategy)
    ss = ss_rows(pid=zoo.pid)
    check_listing(zoo, listing, ss)
    check_backlogs(zoo, listing, ss)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_path_in_another_network_namespace(zoo_binary, tmp_path, targets, strategy):
    enable_ping = 'echo 0 0 > /proc/sys/net/ipv4/ping_group_range && exec "$@"'
    zoo = targets(["sh", "-c", enable_ping, "sh", zoo_binary, str(tmp_path), "--ping"],
                  netns=True)
    listing = info_sockets_json(zoo.pid, strategy)
    ss = ss_rows(pid=zoo.pid, netns_pid=zoo.pid)
    check_listing(zoo, listing, ss)
    check_backlogs(zoo, listing, ss)


# --------------------------------------------------------------------------
# Every path on one target, compared


def test_paths_agree_on_the_zoo(zoo, tmp_path):
    assert_all_equal(every_way(zoo.pid, tmp_path))


def test_paths_agree_in_another_network_namespace(zoo_binary, tmp_path, targets):
    enable_ping = 'echo 0 0 > /proc/sys/net/ipv4/ping_group_range && exec "$@"'
    zoo = targets(["sh", "-c", enable_ping, "sh", zoo_binary, str(tmp_path), "--ping"],
                  netns=True)
    listing = assert_all_equal(every_way(zoo.pid, tmp_path))
    assert {e["proto"] for e in listing} >= {"tcp", "tcp6", "udp", "udp6", "ping", "ping6",
                                             "unix", "packet", "netlink", "raw", "raw6"}


def test_paths_agree_on_sockets_a_lookup_cannot_settle(targets, tmp_path):
    """SO_REUSEPORT groups, sockets bound to a device, only bound, reset,
    made in another namespace, dup'd: see tests/targets/sc_edges.py."""
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "sc_edges.py")])
    fds, missing = target.info["fds"], target.info["missing"]
    listing = assert_all_equal(every_way(target.pid, tmp_path))
    by_fd = {e["fd"]: e for e in listing}
    assert set(by_fd) == set(fds.values())

    def entry(name):
        return by_fd[fds[name]]

    for i in range(3):
        assert entry("tcp_reuseport_%d" % i)["state"] == "LISTEN"
        assert entry("tcp_reuseport_%d" % i)["send_q"] == 8
        assert entry("udp_reuseport_%d" % i)["in_table"]
    assert len({entry("tcp_reuseport_%d" % i)["inode"] for i in range(3)}) == 3
    if "bound_to_lo" not in missing:
        assert entry("tcp_listen_on_lo")["state"] == "LISTEN"
        assert entry("udp_on_lo")["in_table"]
    tableless = ["tcp_only_bound", "tcp_fresh", "tcp6_fresh", "udp_unbound"]
    tableless += [n for n in ("tcp_reset",) if n not in missing]
    tableless += [n for n in ("tcp_other_netns", "udp_other_netns") if "other_netns" not in missing]
    for name in tableless:
        assert entry(name)["in_table"] is False and entry(name)["state"] == "UNCONN", name
        assert entry(name)["local"] is None, name
    dup, accepted = entry("tcp_accepted_dup"), entry("tcp_accepted")
    assert dup["inode"] == accepted["inode"] and dup["recv_q"] == accepted["recv_q"] == 3
    assert entry("tcp_listen")["recv_q"] == 1  # tcp_pending was never accepted
    assert entry("udp_connected")["state"] == "ESTAB"
    assert entry("unix_pair_a")["peer"]["inode"] == entry("unix_pair_b")["inode"]


def test_paths_agree_on_a_namespace_the_target_fills(sc_hold_binary, targets, tmp_path):
    """600 TCP sockets, 40 UDP, 5 fresh, alone in a namespace: auto dumps
    the namespace before reading the fds, exact asks 600 times."""
    target = targets([sc_hold_binary, "600", "127.0.0.1", "--udp", "40", "--fresh", "5"],
                     netns=True)
    listing = assert_all_equal(every_way(target.pid, tmp_path))
    assert len(listing) == 645
    states = [e["state"] for e in listing]
    assert states.count("LISTEN") == 1 and states.count("ESTAB") == 599
    assert sum(1 for e in listing if e["in_table"] is False) == 5
    ss = ss_rows(pid=target.pid, netns_pid=target.pid)
    assert {e["inode"] for e in listing if e["in_table"]} == set(ss)
    for entry in listing:
        if entry["in_table"]:
            row = ss[entry["inode"]]
            assert (entry["state"], entry["recv_q"], entry["send_q"]) == (
                row["state"], row["recv-q"], row["send-q"]), (entry, row)


# Each fallback forced in turn inside one gdb session: the records stay the same.
FALLBACKS = r"""
import gdb, json, os
from gdb_sockets.listing import join as listing
from gdb_sockets.kernel import netns
from gdb_sockets.kernel import sockdiag
from gdb_sockets.kernel import fd_copies
from gdb_sockets.kernel.procfs import LocalProc
pid = gdb.selected_inferior().pid

def run(strategy="auto"):
    found = listing.list_sockets(LocalProc(), pid, local=True, strategy=strategy)
    return {"sockets": [s.to_json() for s in found.sockets], "notes": found.notes}

out = {"normal": run()}
harmless = fd_copies.copies_are_harmless
fd_copies.copies_are_harmless = lambda *a: False          # net_cls in use: no copies
out["no copies"] = run("exact")
fd_copies.copies_are_harmless = harmless

def refuse_copy(self, fd, inode):
    raise fd_copies.CopyUnavailable("pidfd_getfd: Operation not permitted")
copy = fd_copies.FdCopies.copy
fd_copies.FdCopies.copy = refuse_copy                     # EPERM on pidfd_getfd
out["copy refused"] = run("exact")
fd_copies.FdCopies.copy = copy

def no_diag(cls, pid):
    raise netns.DiagUnavailable("sock_diag: Protocol not supported")
opener = sockdiag.DiagChannel.__dict__["open"]
sockdiag.DiagChannel.open = classmethod(no_diag)       # no sock_diag: the tables
out["no sock_diag"] = run("exact")
fd_copies.copies_are_harmless = lambda *a: False
out["neither"] = run("exact")
fd_copies.copies_are_harmless = harmless
sockdiag.DiagChannel.open = opener
print("@@FALLBACKS@@" + json.dumps(out))
"""


def test_fallbacks_give_the_same_records(zoo, tmp_path):
    script = tmp_path / "fallbacks.py"
    script.write_text(FALLBACKS)
    result = gdb_batch(zoo.pid, "source %s" % script)
    no_traceback(result)
    assert result.rc == 0, result
    out = json.loads(re.search(r"^@@FALLBACKS@@(.*)$", result.out, re.M).group(1))
    for got in out.values():
        # Only sock_diag's exact lookups carry the silence figures.
        got["sockets"] = without_times(got["sockets"])
    normal = out.pop("normal")
    assert normal["notes"] == []
    # Without sock_diag, UNIX peers and queues come from nowhere else: they
    # are unknown, and a note says so.  Without copies either, a TCP
    # listener's backlog is not known.
    for name in ("no sock_diag", "neither"):
        got = out.pop(name)
        assert got["notes"] == ["UNIX peers and queues are not known: sock_diag: "
                                "Protocol not supported"], (name, got["notes"])
        for entry in normal["sockets"]:
            if entry["proto"] == "unix":
                entry = dict(entry, recv_q=None, send_q=None,
                             peer={"inode": None, "path": None, "known": False})
            if (name == "neither" and entry["proto"] in ("tcp", "tcp6")
                    and entry["state"] == "LISTEN"):
                entry = dict(entry, send_q=None)
            assert got["sockets"].pop(0) == entry, name
    for name, got in out.items():
        assert got == normal, name


# The command itself takes the strategy it is given (the tests above that
# set join.STRATEGY test that path through `info sockets`).
WHICH_PATH = r"""
import gdb
from gdb_sockets.listing import diag, join
calls = []
tables, dumps = join._from_tables, diag.from_fd_dir
join._from_tables = lambda *a, **k: calls.append("tables") or tables(*a, **k)
diag.from_fd_dir = lambda *a, **k: calls.append("diag") or dumps(*a, **k)
join.STRATEGY = "table"
for command in ("info sockets", "info sockets -json", "info sockets -state listen"):
    calls.clear()
    gdb.execute(command, to_string=True)
    print("@@PATH@@ %s: %s" % (command, " ".join(calls)))
"""


def test_the_table_strategy_reaches_the_tables_through_the_command(zoo, tmp_path):
    script = tmp_path / "which.py"
    script.write_text(WHICH_PATH)
    result = gdb_batch(zoo.pid, "source %s" % script)
    no_traceback(result)
    assert result.rc == 0, result
    paths = re.findall(r"^@@PATH@@ (.*)$", result.out, re.M)
    assert paths == ["info sockets: tables", "info sockets -json: tables",
                     "info sockets -state listen: tables"], result.out
