#!/usr/bin/env python3
"""Capture the /proc/PID/net samples of tests/unit, one edge case per file.

Run as root from the repository root:

    python3 tests/unit/samples/capture.py

Each case runs in a fresh network namespace (``unshare -n``, re-running this
script with ``--case NAME``), so its tables hold only the sockets the case
creates; the host's sysctls and tables are never touched.  A case creates
its sockets, copies /proc/self/net/<table> byte for byte to
samples/<name>, and records what it knows of its sockets (inodes from
fstat, ports and names it chose) in samples/sockets.json, which the tests
read.  What ``ss -n -e`` showed in each case goes to samples/ss_at_capture.txt,
the oracle the expected values were checked against.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UNIX_DIR = b"/tmp/gdb_sockets_samples"  # UNIX paths are bound under here
CASES = {}


def case(func):
    CASES[func.__name__] = func
    return func


def table(name: str) -> bytes:
    with open("/proc/self/net/" + name, "rb") as f:
        return f.read()


def save(name: str, data: bytes) -> None:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def ino(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


def ss(*args: str) -> None:
    out = subprocess.run(["ss", "-n", "-e", *args], capture_output=True, text=True,
                         errors="backslashreplace")
    sys.stderr.write("$ ss -n -e %s\n%s" % (" ".join(args), out.stdout))


def settle() -> None:
    time.sleep(0.2)  # let loopback handshakes and FINs complete


def up_lo() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def unix_dir() -> None:
    os.makedirs(UNIX_DIR, exist_ok=True)
    os.chdir(UNIX_DIR)


@case
def header_only():
    for name in ("tcp", "tcp6", "unix", "packet"):
        save(name + "_header_only", table(name))
    # The kernel's own netlink sockets (pid 0) exist in every namespace:
    # the only trimmed sample keeps just the header line.
    save("netlink_header_only", table("netlink").split(b"\n", 1)[0] + b"\n")
    return {}


@case
def tcp_listen_estab():
    up_lo()
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 8080))
    lst.listen(128)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.bind(("127.0.0.1", 41796))
    cli.connect(("127.0.0.1", 8080))
    # Never accepted: the server end is a row with inode 0 and the
    # listener's Recv-Q (accept queue) is 1.
    settle()
    ss("-t", "-a")
    save("tcp_listen_estab", table("tcp"))
    # The unknown-state sample is this capture with the listener's st
    # column edited from 0A to 0F.
    lines = table("tcp").split(b"\n")
    for i, line in enumerate(lines):
        if line.split()[9:10] == [str(ino(lst)).encode()]:
            assert line.split()[3] == b"0A"
            lines[i] = line.replace(b" 0A ", b" 0F ", 1)
    save("tcp_state_0F_unknown", b"\n".join(lines))
    return {"listener": ino(lst), "client": ino(cli)}


@case
def tcp6_loopback():
    up_lo()
    lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lst.bind(("::1", 8080))
    lst.listen(16)
    cli = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    cli.bind(("::1", 50112))
    cli.connect(("::1", 8080))
    srv, _ = lst.accept()
    settle()
    ss("-t", "-a")
    save("tcp6_loopback", table("tcp6"))
    return {"listener": ino(lst), "client": ino(cli), "server": ino(srv)}


@case
def tcp6_dualstack():
    up_lo()
    lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lst.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lst.bind(("::", 8081))
    lst.listen(16)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.bind(("127.0.0.1", 40001))
    cli.connect(("127.0.0.1", 8081))
    srv, _ = lst.accept()
    settle()
    ss("-t", "-a")
    save("tcp6_dualstack", table("tcp6"))
    return {"listener": ino(lst), "server": ino(srv), "client_in_tcp": ino(cli)}


@case
def tcp_close_wait():
    up_lo()
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 8082))
    lst.listen(1)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.bind(("127.0.0.1", 41000))
    cli.connect(("127.0.0.1", 8082))
    srv, _ = lst.accept()
    srv.sendall(b"bye\n")  # 4 bytes the client never reads
    srv.close()            # FIN: the client goes CLOSE-WAIT
    lst.close()
    settle()
    ss("-t", "-a")
    save("tcp_close_wait", table("tcp"))
    return {"client": ino(cli)}


@case
def udp_states():
    up_lo()
    unconn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unconn.bind(("127.0.0.1", 5353))
    conn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    conn.bind(("127.0.0.1", 5354))
    conn.connect(("127.0.0.1", 5353))
    ss("-u", "-a")
    save("udp_states", table("udp"))
    return {"unconnected": ino(unconn), "connected": ino(conn)}


def _unix_bound(name: bytes, kind=socket.SOCK_DGRAM) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.bind(name)
    return sock


def _unlink(*paths: bytes) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@case
def unix_path_spaces():
    unix_dir()
    path = UNIX_DIR + b"/my app  .sock "  # two inner spaces, one trailing
    _unlink(path)
    sock = _unix_bound(path)
    ss("-x", "-a")
    save("unix_path_spaces", table("unix"))
    _unlink(path)
    return {"sock": ino(sock), "path": path.decode()}


@case
def unix_path_newline():
    unix_dir()
    path = UNIX_DIR + b"/line1\nline2.sock"
    other = UNIX_DIR + b"/after.sock"
    _unlink(path, other)
    sock = _unix_bound(path)
    after = _unix_bound(other)
    ss("-x", "-a")
    save("unix_path_newline", table("unix"))
    _unlink(path, other)
    return {"sock": ino(sock), "path": path.decode(), "other": ino(after),
            "other_path": other.decode()}


@case
def unix_path_leading_newline():
    unix_dir()
    path = b"\nlead.sock"  # relative to UNIX_DIR: the row ends "INODE " + "\n"
    _unlink(path)
    sock = _unix_bound(path)
    ss("-x", "-a")
    save("unix_path_leading_newline", table("unix"))
    _unlink(path)
    return {"sock": ino(sock), "path": path.decode()}


@case
def unix_path_invalid_utf8():
    unix_dir()
    path = UNIX_DIR + b"/bad\xff\xfe.sock"
    _unlink(path)
    sock = _unix_bound(path)
    ss("-x", "-a")
    save("unix_path_invalid_utf8", table("unix"))
    _unlink(path)
    # The path is not UTF-8: sockets.json holds it as latin-1 text.
    return {"sock": ino(sock), "path_latin1": path.decode("latin-1")}


@case
def unix_abstract():
    inner = _unix_bound(b"\0gdb_sockets\0sample", socket.SOCK_STREAM)
    trailing = _unix_bound(b"\0gdb_sockets-trailing\0", socket.SOCK_STREAM)
    ss("-x", "-a")
    save("unix_abstract", table("unix"))
    return {"inner_nul": ino(inner), "trailing_nul": ino(trailing)}


@case
def unix_listener():
    unix_dir()
    path = UNIX_DIR + b"/listen.sock"
    _unlink(path)
    lst = _unix_bound(path, socket.SOCK_STREAM)
    lst.listen(8)
    ss("-x", "-a")
    save("unix_listener", table("unix"))
    _unlink(path)
    return {"listener": ino(lst), "path": path.decode()}


@case
def unix_types():
    out = {}
    keep = []
    for name, kind in (("stream", socket.SOCK_STREAM), ("dgram", socket.SOCK_DGRAM),
                       ("seqpacket", socket.SOCK_SEQPACKET)):
        a, b = socket.socketpair(socket.AF_UNIX, kind)
        keep += [a, b]
        out[name] = [ino(a), ino(b)]
    lone = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # unbound, unconnected
    keep.append(lone)
    out["lone_dgram"] = ino(lone)
    ss("-x", "-a")
    save("unix_types", table("unix"))
    return out


@case
def packet():
    up_lo()
    all_ = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    ip_lo = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    ip_lo.bind(("lo", 0x0800))
    ss("-0", "-a")
    save("packet", table("packet"))
    return {"eth_p_all": ino(all_), "ip_on_lo": ino(ip_lo),
            "lo_ifindex": socket.if_nametoindex("lo")}


@case
def ifnames():
    up_lo()
    run = lambda *a: subprocess.run(["ip", *a], check=True)
    run("link", "add", "gs-v0", "type", "veth", "peer", "name", "gs-v1")
    run("link", "set", "gs-v0", "up")
    run("link", "set", "gs-v1", "up")
    run("link", "add", "gs-br0", "type", "bridge")  # down: in dev_mcast only
    settle()
    for name in ("igmp", "if_inet6", "dev_mcast"):
        save("ifnames_" + name, table(name))
    return {name: socket.if_nametoindex(name) for name in ("lo", "gs-v0", "gs-v1", "gs-br0")}


@case
def netlink():
    route = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    route.bind((4242, 1))  # port id 4242, group RTMGRP_LINK
    diag = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
    diag.bind((0, 0))  # autobind: the kernel picks the port id
    ss("--netlink", "-a")
    save("netlink", table("netlink"))
    return {"route": ino(route), "route_portid": 4242, "diag": ino(diag),
            "diag_portid": diag.getsockname()[0]}


@case
def raw():
    up_lo()
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    icmp.bind(("127.0.0.1", 0))
    proto253 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
    proto253.connect(("127.0.0.2", 0))
    ss("-w", "-a")
    save("raw", table("raw"))
    return {"icmp": ino(icmp), "proto253": ino(proto253)}


@case
def icmp():
    up_lo()
    # Per namespace: lets gid 0 create ping sockets in this namespace only.
    with open("/proc/sys/net/ipv4/ping_group_range", "w") as f:
        f.write("0 0")
    bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    bound.bind(("127.0.0.1", 777))
    conn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    conn.bind(("127.0.0.1", 778))
    conn.connect(("127.0.0.1", 0))
    six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
    six.bind(("::1", 779))
    save("icmp", table("icmp"))
    save("icmp6", table("icmp6"))
    return {"bound": ino(bound), "connected": ino(conn), "v6": ino(six)}


def run_case(name: str) -> None:
    if str(os.stat("/proc/self/ns/net").st_ino) == os.environ.get("CAPTURE_PARENT_NETNS"):
        sys.exit("refusing to run a case in the caller's network namespace")
    facts = CASES[name]()
    sys.stdout.write(json.dumps(facts))


def main() -> None:
    if sys.argv[1:2] == ["--case"]:
        run_case(sys.argv[2])
        return
    facts = {}
    oracle = []
    os.environ["CAPTURE_PARENT_NETNS"] = str(os.stat("/proc/self/ns/net").st_ino)
    for name in CASES:
        out = subprocess.run(["unshare", "-n", sys.executable, __file__, "--case", name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        oracle.append(b"### %s\n%s" % (name.encode(), out.stderr))
        if out.returncode != 0:
            sys.stderr.buffer.write(out.stderr)
            sys.exit("case %s failed" % name)
        facts[name] = json.loads(out.stdout)
    save("ss_at_capture.txt", b"".join(oracle))
    with open(os.path.join(HERE, "sockets.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
