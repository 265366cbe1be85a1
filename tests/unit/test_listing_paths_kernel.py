"""sockfd and sockdiag against the running kernel, on this test's own sockets.

No gdb and no privileges: pidfd_getfd on one's own process and sock_diag
are open to any user.  (The listing paths on real targets, through gdb:
tests/gdb/test_listing_paths.py.)
"""

import os
import socket

import pytest

from gdb_sockets.kernel import sockdiag
from gdb_sockets.kernel import fd_copies
from gdb_sockets.kernel import fd_dir
from gdb_sockets.kernel.sockdiag import InetQuery, InetRecord

PID = os.getpid()


def inode(sock):
    return os.fstat(sock.fileno()).st_ino


@pytest.fixture
def socks():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(7)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    fresh = socket.socket()
    made = {"listener": listener, "client": client, "accepted": accepted, "udp": udp,
            "fresh": fresh}
    yield made
    for sock in made.values():
        sock.close()


@pytest.fixture
def copies():
    try:
        with fd_copies.FdCopies(PID) as made:
            yield made
    except fd_copies.CopyUnavailable as e:
        pytest.skip("no fd copies here: %s" % e)


def test_copies_read_the_socket_and_are_all_closed(socks, copies):
    before = sorted(os.listdir("/proc/self/fd"))
    client = socks["client"]
    copy = copies.copy(client.fileno(), inode(client))
    assert copy is not None and copy != client.fileno()
    ends = copies.endpoints(copy)
    assert ends.family == socket.AF_INET
    assert (socket.inet_ntoa(ends.local), ends.local_port) == client.getsockname()
    assert (socket.inet_ntoa(ends.peer), ends.peer_port) == client.getpeername()
    assert copies.tcp_state(copy) == 1  # ESTABLISHED
    listener = socks["listener"]
    copy = copies.copy(listener.fileno(), inode(listener))
    assert copies.listen_backlog(copy) == 7
    assert copies.endpoints(copy).peer_port == 0
    fresh = socks["fresh"]
    copy = copies.copy(fresh.fileno(), inode(fresh))
    assert copies.tcp_state(copy) == 7 and copies.endpoints(copy).local_port == 0
    # Another inode than the fd's: no copy handed out.
    assert copies.copy(client.fileno(), inode(listener)) is None
    copies.release()
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_open_fd_count_counts_proc_fd():
    count = fd_dir.open_fd_count(PID)
    if count is None:
        pytest.skip("this kernel does not count /proc/PID/fd entries (Linux < 6.2)")
    assert count == len(os.listdir("/proc/self/fd")) - 1  # listdir's own fd


def test_exact_lookups_find_the_socket_itself(socks, copies):
    with sockdiag.DiagChannel.open(PID) as channel:
        queries = []
        for name in ("listener", "client", "udp"):
            sock = socks[name]
            ends = copies.endpoints(copies.copy(sock.fileno(), inode(sock)))
            protocol = 17 if name == "udp" else 6
            queries.append(InetQuery(ends.family, protocol, ends.local, ends.local_port,
                                     ends.peer, ends.peer_port))
        answers = channel.inet_exact(queries)
        assert [a.inode for a in answers] == [inode(socks[n]) for n in ("listener", "client", "udp")]
        assert all(isinstance(a, InetRecord) for a in answers)
        assert answers[0].state == 10 and answers[0].wqueue == 7  # the backlog
        assert answers[1].state == 1 and answers[1].sport == socks["client"].getsockname()[1]
        assert channel.netns_cookie() == copies.netns_cookie(
            copies.copy(socks["udp"].fileno(), inode(socks["udp"])))


def test_unix_exact_lookup_names_the_peer():
    a, b = socket.socketpair()
    try:
        with sockdiag.DiagChannel.open(PID) as channel:
            found = channel.unix_exact([inode(a), inode(b)])
        assert found[inode(a)].peer == inode(b) and found[inode(b)].peer == inode(a)
        assert found[inode(a)].type == socket.SOCK_STREAM
    finally:
        a.close()
        b.close()
