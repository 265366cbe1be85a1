"""kernel/netns.py enters another network namespace in a thread of its own,
never in the caller's (setns would move it): with no thread to be had,
sock_diag is unavailable and says why (the listing then reads the tables)."""

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from gdb_sockets.kernel import netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare for a network namespace")


@pytest.fixture
def other_namespace():
    proc = subprocess.Popen(["unshare", "-n", "sleep", "60"])
    for _ in range(100):  # until sleep runs in its namespace
        try:
            if os.readlink("/proc/%d/ns/net" % proc.pid) != os.readlink("/proc/self/ns/net") \
                    and os.readlink("/proc/%d/exe" % proc.pid).endswith("sleep"):
                break
        except OSError:
            pass
        time.sleep(0.02)
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_socket_in_the_namespace_of_another_process(other_namespace):
    before = os.readlink("/proc/self/task/%d/ns/net" % threading.get_native_id())
    sock = netns.open_diag_socket(other_namespace)
    sock.close()
    assert os.readlink("/proc/self/task/%d/ns/net" % threading.get_native_id()) == before


def test_no_thread_no_socket_and_the_caller_stays_home(other_namespace, monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    before = os.readlink("/proc/self/task/%d/ns/net" % threading.get_native_id())
    with pytest.raises(netns.DiagUnavailable) as failed:
        netns.open_diag_socket(other_namespace)
    assert "no thread could start" in str(failed.value)
    assert os.readlink("/proc/self/task/%d/ns/net" % threading.get_native_id()) == before
