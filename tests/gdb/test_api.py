"""The Python API (gdb_sockets.api) used from gdb scripts, against real processes."""

from __future__ import annotations

import json
import os
import re

import pytest

from harness import build, gdb_batch, json_from, without_times

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def blocker_binary():
    return build("blocker")


def script_json(result, marker):
    """The JSON a script printed after ``marker``."""
    text = result.out.split(marker, 1)[1]
    return json.loads(text.strip().splitlines()[0])


def test_sockets_returns_the_same_data_as_json(zoo_binary, targets, tmp_path):
    target = targets([zoo_binary, str(tmp_path)])
    script = tmp_path / "list.py"
    script.write_text(
        "import json\n"
        "import gdb_sockets.api as sockets_api\n"
        "records = sockets_api.sockets()\n"
        "assert all(type(r).__name__ == 'Socket' for r in records)\n"
        "print('@@API ' + json.dumps([r.to_json() for r in records]))\n")
    result = gdb_batch(target.pid, "info sockets -json", "source %s" % script)
    assert result.rc == 0, result
    from_command = json_from(result.out.split("@@API")[0])
    from_api = script_json(result, "@@API")
    assert without_times(from_api) == without_times(from_command)
    assert len(from_api) >= 20


def test_api_errors_are_sockets_errors_without_a_process(tmp_path):
    script = tmp_path / "noproc.py"
    script.write_text(
        "import gdb_sockets.api as sockets_api\n"
        "from gdb_sockets.errors import SocketsError\n"
        "try:\n"
        "    sockets_api.sockets()\n"
        "except SocketsError as e:\n"
        "    print('@@ERR ' + str(e))\n")
    result = gdb_batch(None, "source %s" % script)
    assert re.search(r"^@@ERR gdb_sockets: no process; attach to one first", result.out, re.M), result


def test_shutdown_fd_returns_the_verified_outcome(blocker_binary, targets, tmp_path):
    target = targets([blocker_binary, "recv"])
    fd = target.info["fds"]["client"]
    # A listener shut down is closed: shutting it down again is ENOTCONN.
    listener = target.info["fds"]["listen"]
    script = tmp_path / "shut.py"
    script.write_text(
        "import json\n"
        "import gdb_sockets.api as sockets_api\n"
        "from gdb_sockets.errors import SocketsError\n"
        "outcome = sockets_api.shutdown_fd(%d, 'both')\n"
        "sockets_api.shutdown_fd(%d)\n"
        "again = sockets_api.shutdown_fd(%d)\n"
        "try:\n"
        "    sockets_api.shutdown_fd(0)\n"
        "except SocketsError as e:\n"
        "    refused = str(e)\n"
        "print('@@OUT ' + json.dumps({'first': outcome.to_json(), 'again': again.to_json(),\n"
        "                             'refused': refused}))\n" % (fd, listener, listener))
    result = gdb_batch(target.pid, "source %s" % script)
    assert result.rc == 0, result
    out = script_json(result, "@@OUT")
    first = out["first"]
    assert (first["ok"], first["retval"], first["errno"], first["how"]) == (True, 0, None, "SHUT_RDWR")
    assert first["before"]["state"] == "ESTAB"
    assert first["after"]["state"] in ("FIN-WAIT-1", "FIN-WAIT-2")
    again = out["again"]
    assert (again["ok"], again["retval"], again["errno"]) == (False, -1, "ENOTCONN")
    assert again["fd"] == listener and again["failure"] is None
    assert out["refused"].startswith("sock-shutdown: fd 0 is not a socket")
    assert target.expect("WOKE", timeout=10).startswith("WOKE fd=%d ret=0" % fd)


def test_example_script_shuts_close_wait_sockets(zoo_binary, targets, tmp_path):
    target = targets([zoo_binary, str(tmp_path)])
    close_wait_fd = target.info["fds"]["tcp_close_wait"]
    result = gdb_batch(target.pid, "source %s/examples/close_wait_report.py" % REPO)
    assert result.rc == 0, result
    report = json.loads([l for l in result.out.splitlines() if l.startswith("{")][0])
    assert [s["fd"] for s in report["close_wait"]] == [close_wait_fd]
    assert [o["ok"] for o in report["outcomes"]] == [True]
    after = json_from(gdb_batch(target.pid, "info sockets -json %d" % close_wait_fd).out)
    assert after[0]["state"] != "CLOSE-WAIT"
