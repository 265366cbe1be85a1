"""`info sockets` with no option writes a big target's TCP and UDP rows
straight from the dumps (listing/join.py list_rows, view/raw_rows.py):
byte for byte what the records give, table and -json, plain and coloured,
with the rows the view annotates (a waiter, a dup) built and annotated.
With filters only the rows that may match are built (inspect.info_rows):
the same text again."""

from __future__ import annotations

import json
import os
import re
import sys

import harness
from cli_helpers import cli
from harness import gdb_batch, no_traceback

# One gdb session: the command's text, then the same from the records.
COMPARE = r"""
import gdb, json
from gdb_sockets.kernel.target import current_target
from gdb_sockets.listing import join
from gdb_sockets.view import inspect, options, raw_rows, render
join.STRATEGY = %(strategy)r
target = current_target()
everything = options.build_filter(options.parse([], options.INFO_SOCKETS_OPTIONS), [])
result, shown = inspect.info_sockets(target, everything)
rows = inspect.rows_of(target)
colour = lambda kind, text: "<%%s>%%s</>" %% (kind, text)
print("@@ROWS@@" + json.dumps({
    "unbuilt": sum(type(e) is tuple for e in rows.entries),
    "command": gdb.execute("info sockets", to_string=True),
    "records": inspect.listing_text(result, shown),
    "command_json": gdb.execute("info sockets -json", to_string=True),
    "records_json": render.format_json(shown) + "\n",
    "coloured": inspect.rows_text(rows, colour),
    "records_coloured": inspect.listing_text(result, shown, colour),
}))
"""


def compare(pid: int, tmp_path, strategy: str = "auto") -> dict:
    script = tmp_path / "rows.py"
    script.write_text(COMPARE % {"strategy": strategy})
    result = gdb_batch(pid, "source %s" % script)
    no_traceback(result)
    assert result.rc == 0, result
    match = re.search(r"^@@ROWS@@(.*)$", result.out, re.M)
    assert match, result.out
    return json.loads(match.group(1))


def timeless(text: str) -> str:
    """The text with a blocked connection's silence (ms since its last
    packet, which go on counting between two listings) blanked."""
    text = re.sub(r"silent \w+", "silent T", text)
    return re.sub(r'("last_(?:recv|send|ack)_ms": )\d+', r"\1T", text)


def check_same(found: dict) -> None:
    for made, expected in (("command", "records"), ("command_json", "records_json"),
                           ("coloured", "records_coloured")):
        got, want = timeless(found[made]).split("\n"), timeless(found[expected]).split("\n")
        # The first line that differs (a diff of 50 kB texts takes pytest minutes).
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        assert first is None, (made, first, got[first], want[first])
        assert len(got) == len(want), made


def test_a_big_target_unbuilt_with_a_waiter_and_a_dup(targets, tmp_path):
    # Its own network namespace: the target holds all of it, so the plan
    # (auto) dumps TCP before the fds are read, whatever the host holds.
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "rows_mix.py"), "300"],
                     netns=True)
    found = compare(target.pid, tmp_path)
    assert found["unbuilt"] >= 590  # the path under test ran
    check_same(found)
    lines = {int(line.split()[0]): line for line in found["command"].splitlines()[1:]
             if line[:1].isdigit()}
    assert "LWP" in lines[target.info["blocked"]]
    assert "also fd %d" % target.info["dup"] in lines[target.info["duped"]]
    assert "also fd %d" % target.info["duped"] in lines[target.info["dup"]]


def test_every_kind_of_socket_around_unbuilt_rows(zoo, tmp_path):
    # Dumps of every protocol: the zoo's TCP and UDP rows go unbuilt, its
    # other sockets (UNIX, packet, netlink, raw...) are records among them.
    found = compare(zoo.pid, tmp_path, strategy="dump")
    assert found["unbuilt"] >= 4
    check_same(found)


def test_the_command_line_writes_the_same_table(targets, tmp_path):
    # python3 -m gdb_sockets PID takes the same unbuilt-rows path, on the
    # process as it runs.
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "rows_mix.py"), "300"],
                     netns=True)
    rc, out, err = cli(target.pid)
    assert rc == 0, err
    found = compare(target.pid, tmp_path)
    assert found["unbuilt"] >= 590
    assert timeless(out) == timeless(found["command"])


# Each filter through the command, and through the records as the command
# worked before unbuilt rows (inspect.info_sockets on every record).
FILTERED = r"""
import gdb, json
from gdb_sockets.kernel.target import current_target
from gdb_sockets.view import inspect, options, render
target = current_target()
out = {}
for args in %(args)r:
    parsed = options.parse(gdb.string_to_argv(args), options.INFO_SOCKETS_OPTIONS)
    selection = options.build_filter(parsed, parsed.args)
    extended = parsed.flag("extended")
    result, shown = inspect.info_sockets(target, selection, False, extended)
    if parsed.flag("json"):
        records = render.format_json(shown) + "\n"
    else:
        answers = inspect.unanswered_fds(target, selection.fds, result.sockets, shown)
        records = inspect.listing_text(result, shown, None, extended, answers)
    out[args] = [gdb.execute("info sockets " + args, to_string=True), records]
print("@@FILTERED@@" + json.dumps(out))
"""


def test_filters_build_only_what_they_show_and_say_the_same(targets, tmp_path):
    target = targets([sys.executable, os.path.join(harness.TARGETS_DIR, "rows_mix.py"), "300"],
                     netns=True)
    port = target.info["port"]
    args = ["-state ESTAB", "-proto udp", "-port %d" % port, "-local 127.0.0.1:%d" % port,
            "-peer 127.0.0.1:%d -state ESTAB" % port, "-state CLOSE-WAIT",
            "-proto tcp -state LISTEN -json", "-proto udp -extended",
            "%d %d %d 9999" % (target.info["blocked"], target.info["dup"], target.info["file"]),
            "-proto udp -- %d %d" % (target.info["blocked"], target.info["udp"])]
    script = tmp_path / "filtered.py"
    script.write_text(FILTERED % {"args": args})
    result = gdb_batch(target.pid, "source %s" % script)
    no_traceback(result)
    assert result.rc == 0, result
    found = json.loads(re.search(r"^@@FILTERED@@(.*)$", result.out, re.M).group(1))
    for arg in args:
        command, records = found[arg]
        assert timeless(command) == timeless(records), arg
    assert "No socket of process %d matches." % target.pid in found["-state CLOSE-WAIT"][0]
    # The header, 300 pairs, the dup, the UNIX pair.
    assert len(found["-state ESTAB"][0].splitlines()) == 1 + 600 + 1 + 2
    assert "not a socket" in found[args[8]][0] and "not open" in found[args[8]][0]
    assert "left out by the other filters" in found[args[9]][0]
