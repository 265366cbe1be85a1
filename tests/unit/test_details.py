"""The -extended parsers on what the kernel really returns for real sockets."""

import socket

from gdb_sockets.kernel.sockopt import (SO_MEMINFO, TCP_INFO, _TCP_INFO, parse_meminfo,
                                        parse_tcp_info)
from gdb_sockets.view.render import details_text


def _tcp_pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    return a, b


def test_meminfo_of_a_socket_with_unread_bytes():
    a, b = _tcp_pair()
    try:
        b.sendall(b"x" * 100)
        # Wait until the bytes are in a's receive queue (loopback is quick).
        assert a.recv(1, socket.MSG_PEEK) == b"x"
        memory = parse_meminfo(a.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 64))
        assert memory["rcvbuf"] == a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert memory["sndbuf"] == a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert memory["rmem_alloc"] > 0  # the 100 bytes wait in a's queue
        assert memory["drops"] == 0
    finally:
        a.close()
        b.close()


def test_tcp_info_of_a_listener_is_its_accept_queue_and_backlog():
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(7)
        client = socket.create_connection(listener.getsockname())
        info = parse_tcp_info(listener.getsockopt(socket.IPPROTO_TCP, TCP_INFO, _TCP_INFO.size))
        assert info == {"accept_queue": 1, "backlog": 7}
        client.close()
    finally:
        listener.close()


def test_tcp_info_of_a_connection():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    try:
        client.sendall(b"hello")
        assert server.recv(5) == b"hello"
        info = parse_tcp_info(client.getsockopt(socket.IPPROTO_TCP, TCP_INFO, _TCP_INFO.size))
        assert info["retransmits"] == 0 and info["total_retrans"] == 0
        assert info["backoff"] == 0 and info["probes"] == 0
        assert 200 <= info["rto_ms"] <= 1000  # TCP_RTO_MIN is 200 ms
        assert info["rtt_ms"] > 0
    finally:
        for s in (client, server, listener):
            s.close()


def test_short_answers_are_not_parsed():
    assert parse_meminfo(b"\0" * 8) is None
    assert parse_tcp_info(b"\0" * 32) is None


def test_details_text():
    text = details_text({
        "memory": {"rmem_alloc": 5, "rcvbuf": 100, "wmem_alloc": 0, "sndbuf": 200,
                   "wmem_queued": 7, "drops": 1},
        "tcp": {"accept_queue": 2, "backlog": 128}})
    assert text == "rmem 5/100 wmem 7/200 drops 1  accept queue 2/128"
