"""Two network namespaces joined by a veth pair, for sock-timeout and sock-kill tests.

``Lab()`` creates ``gsrA<pid>_<n>`` (the target's side, 10.77.0.1/24 on
``vA``) and ``gsrB<pid>_<n>`` (the peer's, 10.77.0.2/24 on ``vB``), both
with ``lo`` up; ``close()`` deletes them (a process still inside keeps its
namespace until it ends).  Nothing of the host's own network is touched.

``in_target(argv)`` / ``in_peer(argv)``: the argv prefixed with ``nsenter
--net=...`` (nsenter execs: the process keeps its pid).  ``blackhole()``
sets the peer's end down: from then on nothing the target sends arrives
and nothing comes back, as with a peer that lost power.  ``ss(*args)``
runs ss in the target's namespace.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from typing import List, Sequence

TARGET_ADDRESS = "10.77.0.1"
PEER_ADDRESS = "10.77.0.2"
_counter = itertools.count()


def _ip(*args: str) -> None:
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, timeout=30)


class Lab:
    def __init__(self) -> None:
        n = next(_counter)
        self.target_ns = "gsrA%d_%d" % (os.getpid(), n)
        self.peer_ns = "gsrB%d_%d" % (os.getpid(), n)
        self._made: List[str] = []
        try:
            for name in (self.target_ns, self.peer_ns):
                _ip("netns", "add", name)
                self._made.append(name)
            _ip("link", "add", "vA", "netns", self.target_ns, "type", "veth",
                "peer", "name", "vB", "netns", self.peer_ns)
            for ns, dev, address in ((self.target_ns, "vA", TARGET_ADDRESS),
                                     (self.peer_ns, "vB", PEER_ADDRESS)):
                _ip("-n", ns, "addr", "add", address + "/24", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def in_target(self, argv: Sequence[str]) -> List[str]:
        return ["nsenter", "--net=/run/netns/" + self.target_ns, "--"] + list(argv)

    def in_peer(self, argv: Sequence[str]) -> List[str]:
        return ["nsenter", "--net=/run/netns/" + self.peer_ns, "--"] + list(argv)

    def blackhole(self) -> None:
        _ip("-n", self.peer_ns, "link", "set", "vB", "down")

    def ss(self, *args: str) -> str:
        return subprocess.run(["ip", "netns", "exec", self.target_ns, "ss"] + list(args),
                              capture_output=True, text=True, check=True, timeout=30).stdout

    def close(self) -> None:
        for name in self._made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self._made = []

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ss_tcp_info(lab: Lab, local_port: int) -> dict:
    """``ss -tin`` of the target's connection from ``local_port``: its state and
    the figures ss prints as ``word:value`` (lastrcv, lastsnd, lastack, rto...),
    and ``timer`` (e.g. ``keepalive,1.2sec,0``) when ss shows one."""
    text = lab.ss("-tino", "state", "all", "sport", "= :%d" % local_port)
    lines = [line for line in text.splitlines()[1:] if line.strip()]
    if not lines:
        return {}
    head = lines[0].split()
    out = {"state": head[0]}
    for word in " ".join(lines).split():
        if word.startswith("timer:("):
            out["timer"] = word[len("timer:("):-1]
        elif ":" in word and word.split(":", 1)[0].isalpha():
            key, value = word.split(":", 1)
            out.setdefault(key, value)
    return out
