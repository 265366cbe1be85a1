"""The -port, -local, -peer filters (gdb_sockets.filters), on hand-made records."""

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.view.filters import EndpointPattern, SocketFilter, parse_port
from gdb_sockets.model import InetEndpoint, Socket, UnixAddress, UnixPeer



def tcp(fd, local, lport, peer, pport, proto="tcp", state="ESTAB"):
    return Socket(fd=fd, inode=1000 + fd, proto=proto, state=state,
                  local=InetEndpoint(local, lport), peer=InetEndpoint(peer, pport))


SOCKETS = [
    tcp(3, "0.0.0.0", 8080, "0.0.0.0", 0, state="LISTEN"),
    tcp(4, "127.0.0.1", 41796, "127.0.0.1", 8080),
    tcp(5, "::ffff:127.0.0.1", 8080, "::ffff:127.0.0.1", 50112, proto="tcp6"),
    tcp(6, "::1", 9000, "::1", 443, proto="tcp6"),
    Socket(fd=7, inode=1007, proto="unix", state="ESTAB", local=UnixAddress("/run/app.sock"),
           peer=UnixPeer(99, None)),
]


def fds(selection):
    return [s.fd for s in selection.apply(SOCKETS)]


def test_port_matches_local_or_peer():
    assert fds(SocketFilter(ports=frozenset({8080}))) == [3, 4, 5]


def test_peer_address_and_port():
    pattern = EndpointPattern.parse("peer", "127.0.0.1:8080")
    assert fds(SocketFilter(peers=(pattern,))) == [4]


def test_ipv4_pattern_matches_ipv4_mapped_address():
    pattern = EndpointPattern.parse("local", "127.0.0.1:8080")
    assert fds(SocketFilter(locals=(pattern,))) == [5]


def test_bracketed_ipv6_with_port():
    pattern = EndpointPattern.parse("peer", "[::1]:443")
    assert (pattern.address.compressed, pattern.port) == ("::1", 443)
    assert fds(SocketFilter(peers=(pattern,))) == [6]


def test_bare_ipv6_without_port():
    pattern = EndpointPattern.parse("local", "::1")
    assert pattern.port is None
    assert fds(SocketFilter(locals=(pattern,))) == [6]


def test_star_is_the_wildcard_address_as_the_table_prints_it():
    # Issue 13 item 14: *:8080 is the listener bound to every address, not
    # 127.0.0.1:8080 (-port matches a port on any address).
    assert fds(SocketFilter(locals=(EndpointPattern.parse("local", "*:8080"),))) == [3]
    assert fds(SocketFilter(locals=(EndpointPattern.parse("local", "*:9000"),))) == []
    assert fds(SocketFilter(peers=(EndpointPattern.parse("peer", "*"),))) == [3]


def test_a_name_that_is_no_address_says_what_is_accepted():
    with pytest.raises(SocketsError) as e:
        EndpointPattern.parse("peer", "nosuch")
    assert str(e.value) == ("-peer 'nosuch': 'nosuch' is neither an IP address nor '*'; give "
                            "ADDR, ADDR:PORT, [IPV6]:PORT, *:PORT, or a UNIX path starting with "
                            "'/' or '@'")


def test_unix_path_pattern():
    pattern = EndpointPattern.parse("local", "/run/app.sock")
    assert fds(SocketFilter(locals=(pattern,))) == [7]


def test_filters_combine_with_and():
    selection = SocketFilter(ports=frozenset({8080}), protos=frozenset({"tcp6"}))
    assert fds(selection) == [5]


def test_repeated_values_combine_with_or():
    patterns = (EndpointPattern.parse("peer", "[::1]:443"),
                EndpointPattern.parse("peer", "127.0.0.1:8080"))
    assert fds(SocketFilter(peers=patterns)) == [4, 6]


@pytest.mark.parametrize("text", ["localhost:80", "1.2.3.4:99999", "[::1", "1.2.3:80", ""])
def test_bad_endpoint_is_a_user_error(text):
    with pytest.raises(SocketsError, match="-peer"):
        EndpointPattern.parse("peer", text)


@pytest.mark.parametrize("text", ["-1", "65536", "80a", "0x50", ""])
def test_bad_port_is_a_user_error(text):
    with pytest.raises(SocketsError, match="-port"):
        parse_port(text)
