"""procnet.parse_inet on captured tcp, tcp6, udp, raw and icmp tables."""

from gdb_sockets.model import InetEndpoint, Socket
from gdb_sockets.kernel.procnet import decode_ipv4, decode_ipv6, parse_inet

from sampledata import inode, sample


def test_tcp_header_only_table_has_no_rows():
    assert parse_inet(sample("tcp_header_only"), "tcp") == {}


def test_tcp6_header_only_table_has_no_rows():
    assert parse_inet(sample("tcp6_header_only"), "tcp6") == {}


def test_tcp_listener_row_decoded_with_unknown_send_q():
    rows = parse_inet(sample("tcp_listen_estab"), "tcp")
    listener = inode("tcp_listen_estab", "listener")
    assert rows[listener] == Socket(
        fd=-1, inode=listener, proto="tcp", state="LISTEN",
        recv_q=1, send_q=None,  # one connection waits in the accept queue
        local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0),
        uid=0)


def test_tcp_client_row_decoded():
    rows = parse_inet(sample("tcp_listen_estab"), "tcp")
    client = inode("tcp_listen_estab", "client")
    assert rows[client] == Socket(
        fd=-1, inode=client, proto="tcp", state="ESTAB", recv_q=0, send_q=0,
        local=InetEndpoint("127.0.0.1", 41796), peer=InetEndpoint("127.0.0.1", 8080),
        uid=0)


def test_tcp_row_with_inode_0_is_skipped():
    # The never-accepted server end (127.0.0.1:8080 <- :41796) has inode 0.
    rows = parse_inet(sample("tcp_listen_estab"), "tcp")
    assert sorted(rows) == sorted([inode("tcp_listen_estab", "listener"),
                                   inode("tcp_listen_estab", "client")])


def test_tcp6_loopback_listener():
    rows = parse_inet(sample("tcp6_loopback"), "tcp6")
    listener = rows[inode("tcp6_loopback", "listener")]
    assert (listener.proto, listener.state, listener.local, listener.peer, listener.send_q) == (
        "tcp6", "LISTEN", InetEndpoint("::1", 8080), InetEndpoint("::", 0), None)


def test_tcp6_loopback_client_and_accepted_end():
    rows = parse_inet(sample("tcp6_loopback"), "tcp6")
    client = rows[inode("tcp6_loopback", "client")]
    server = rows[inode("tcp6_loopback", "server")]
    assert (client.state, client.local, client.peer) == (
        "ESTAB", InetEndpoint("::1", 50112), InetEndpoint("::1", 8080))
    assert (server.state, server.local, server.peer) == (
        "ESTAB", InetEndpoint("::1", 8080), InetEndpoint("::1", 50112))


def test_decode_ipv6_swaps_bytes_within_each_word_only():
    # 2001:db8::1 as the kernel prints it: four host-order (little-endian) words.
    assert decode_ipv6("B80D0120" "00000000" "00000000" "01000000") == "2001:db8::1"


def test_decode_ipv4_host_order():
    assert decode_ipv4("0100007F") == "127.0.0.1"


def test_dualstack_listener_is_unspecified_v6():
    rows = parse_inet(sample("tcp6_dualstack"), "tcp6")
    listener = rows[inode("tcp6_dualstack", "listener")]
    assert (listener.state, listener.local, listener.peer) == (
        "LISTEN", InetEndpoint("::", 8081), InetEndpoint("::", 0))


def test_dualstack_accepted_ipv4_client_is_mapped_address():
    rows = parse_inet(sample("tcp6_dualstack"), "tcp6")
    server = rows[inode("tcp6_dualstack", "server")]
    assert (server.proto, server.state, server.local, server.peer) == (
        "tcp6", "ESTAB", InetEndpoint("::ffff:127.0.0.1", 8081),
        InetEndpoint("::ffff:127.0.0.1", 40001))


def test_dualstack_table_holds_no_row_of_the_ipv4_client():
    rows = parse_inet(sample("tcp6_dualstack"), "tcp6")
    assert sorted(rows) == sorted([inode("tcp6_dualstack", "listener"),
                                   inode("tcp6_dualstack", "server")])


def test_udp_unconnected_is_unconn():
    rows = parse_inet(sample("udp_states"), "udp")
    sock = rows[inode("udp_states", "unconnected")]
    assert (sock.proto, sock.state, sock.local, sock.peer) == (
        "udp", "UNCONN", InetEndpoint("127.0.0.1", 5353), InetEndpoint("0.0.0.0", 0))


def test_udp_connected_is_estab():
    rows = parse_inet(sample("udp_states"), "udp")
    sock = rows[inode("udp_states", "connected")]
    assert (sock.state, sock.local, sock.peer) == (
        "ESTAB", InetEndpoint("127.0.0.1", 5354), InetEndpoint("127.0.0.1", 5353))


def test_udp_send_q_is_known():
    rows = parse_inet(sample("udp_states"), "udp")
    sock = rows[inode("udp_states", "unconnected")]
    assert (sock.recv_q, sock.send_q) == (0, 0)


def test_unknown_state_code_stays_visible():
    rows = parse_inet(sample("tcp_state_0F_unknown"), "tcp")
    sock = rows[inode("tcp_listen_estab", "listener")]
    assert (sock.state, sock.recv_q, sock.send_q) == ("UNKNOWN(15)", 1, 0)


def test_close_wait_row_with_unread_bytes():
    rows = parse_inet(sample("tcp_close_wait"), "tcp")
    client = inode("tcp_close_wait", "client")
    # ss showed Recv-Q 5: the 4 unread bytes and the FIN.
    assert rows == {client: Socket(
        fd=-1, inode=client, proto="tcp", state="CLOSE-WAIT", recv_q=5, send_q=0,
        local=InetEndpoint("127.0.0.1", 41000), peer=InetEndpoint("127.0.0.1", 8082),
        uid=0)}


def test_wanted_inodes_drop_other_rows():
    client = inode("tcp6_loopback", "client")
    rows = parse_inet(sample("tcp6_loopback"), "tcp6", wanted={client, 999999})
    assert list(rows) == [client]


def test_empty_wanted_set_drops_every_row():
    assert parse_inet(sample("tcp6_loopback"), "tcp6", wanted=set()) == {}


def test_raw_socket_port_column_is_the_protocol():
    rows = parse_inet(sample("raw"), "raw")
    sock = rows[inode("raw", "icmp")]
    assert (sock.proto, sock.state, sock.local, sock.peer) == (
        "raw", "UNCONN", InetEndpoint("127.0.0.1", 1), InetEndpoint("0.0.0.0", 0))


def test_connected_raw_socket_is_estab():
    rows = parse_inet(sample("raw"), "raw")
    sock = rows[inode("raw", "proto253")]
    assert (sock.state, sock.local, sock.peer) == (
        "ESTAB", InetEndpoint("127.0.0.1", 253), InetEndpoint("127.0.0.2", 0))


def test_ping_socket_bound():
    rows = parse_inet(sample("icmp"), "icmp")
    sock = rows[inode("icmp", "bound")]
    assert (sock.proto, sock.state, sock.local, sock.peer) == (
        "ping", "UNCONN", InetEndpoint("127.0.0.1", 777), InetEndpoint("0.0.0.0", 0))


def test_ping_socket_connected():
    rows = parse_inet(sample("icmp"), "icmp")
    sock = rows[inode("icmp", "connected")]
    assert (sock.state, sock.local, sock.peer) == (
        "ESTAB", InetEndpoint("127.0.0.1", 778), InetEndpoint("127.0.0.1", 0))


def test_ping6_socket():
    rows = parse_inet(sample("icmp6"), "icmp6")
    sock = rows[inode("icmp", "v6")]
    assert (sock.proto, sock.state, sock.local) == ("ping6", "UNCONN", InetEndpoint("::1", 779))
