"""options: gdb-style option parsing and the checks on values."""

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.view.options import (FLAG, VALUE, parse, parse_fd, parse_protos,
                                 parse_states)

# The spec of 'info sockets' (commands.INFO_SOCKETS_OPTIONS; commands imports gdb).
SPEC = {"json": FLAG, "proto": VALUE, "state": VALUE}


def _error(func, *args) -> str:
    with pytest.raises(SocketsError) as info:
        func(*args)
    return str(info.value)


def test_parse_full_names():
    parsed = parse(["-json", "-proto", "tcp", "-state", "listen", "3"], SPEC)
    assert (parsed.options, parsed.args) == (
        {"json": True, "proto": ["tcp"], "state": ["listen"]}, ["3"])


def test_parse_unique_prefixes():
    parsed = parse(["-j", "-p", "udp", "-s", "estab"], SPEC)
    assert (parsed.options, parsed.args) == (
        {"json": True, "proto": ["udp"], "state": ["estab"]}, [])


def test_parse_repeated_value_option_accumulates():
    parsed = parse(["-proto", "tcp", "-pr", "unix"], SPEC)
    assert parsed.values("proto") == ["tcp", "unix"]


def test_parse_ambiguous_prefix_is_an_error():
    spec = {"state": VALUE, "stats": FLAG}
    assert _error(parse, ["-stat"], spec) == (
        "ambiguous option -stat: -state, -stats")


def test_parse_unknown_option_is_an_error():
    assert _error(parse, ["-x"], SPEC) == (
        "unknown option -x (options: -json, -proto, -state)")


def test_parse_double_dash_option_is_unknown():
    assert _error(parse, ["--json"], SPEC) == (
        "unknown option --json (options: -json, -proto, -state)")


def test_parse_missing_value_is_an_error():
    assert _error(parse, ["-json", "-proto"], SPEC) == (
        "option -proto needs a value")


def test_parse_double_dash_ends_options():
    parsed = parse(["-j", "--", "-json", "-x", "4"], SPEC)
    assert (parsed.options, parsed.args) == ({"json": True}, ["-json", "-x", "4"])


def test_parse_negative_number_is_an_argument():
    parsed = parse(["-json", "-1"], SPEC)
    assert (parsed.options, parsed.args) == ({"json": True}, ["-1"])


def test_parse_lone_dash_is_an_argument():
    assert parse(["-"], SPEC).args == ["-"]


def test_parsed_flag_absent_is_false():
    assert parse(["4"], SPEC).flag("json") is False


@pytest.mark.parametrize("text", [
    "4); print abort(", "-1", "0x4", " 4", "4 ", "4.0", "", "+4", "\u0664", "\uff14",
    "2147483648",
])
def test_parse_fd_rejects(text):
    assert _error(parse_fd, text) == (
        "%r is not a file descriptor; give a plain non-negative "
        "integer such as 4 (see 'info sockets')" % text)


@pytest.mark.parametrize("text, fd", [("0", 0), ("4", 4), ("2147483647", 2147483647)])
def test_parse_fd_accepts(text, fd):
    assert parse_fd(text) == fd


def test_parse_fd_rejects_trailing_newline():
    with pytest.raises(SocketsError):
        parse_fd("4\n")


def test_parse_fd_rejects_huge_number_as_user_error():
    with pytest.raises(SocketsError):
        parse_fd("9" * 5000)


@pytest.mark.parametrize("value", ["close_wait", "Close-Wait", "CLOSE-WAIT"])
def test_parse_states_any_case_and_underscore(value):
    assert parse_states([value]) == {"CLOSE-WAIT"}


def test_parse_states_several():
    assert parse_states(["listen", "estab"]) == {"LISTEN", "ESTAB"}


def test_parse_states_rejects_unknown():
    assert _error(parse_states, ["bogus"]) == (
        "unknown state 'bogus'; one of: estab syn-sent syn-recv "
        "fin-wait-1 fin-wait-2 time-wait unconn close-wait last-ack listen closing")


def test_parse_protos_family_means_both_ip_versions():
    assert parse_protos(["tcp"]) == {"tcp", "tcp6"}


def test_parse_protos_tcp4_is_ipv4_only():
    assert parse_protos(["tcp4"]) == {"tcp"}


def test_parse_protos_tcp6_any_case():
    assert parse_protos(["TCP6"]) == {"tcp6"}


def test_parse_protos_unix_and_ping():
    assert parse_protos(["unix", "ping"]) == {"unix", "ping", "ping6"}


def test_parse_protos_rejects_unknown():
    assert _error(parse_protos, ["sctp"]) == (
        "unknown protocol 'sctp'; one of: netlink packet ping ping4 "
        "ping6 raw raw4 raw6 tcp tcp4 tcp6 u_dgr u_seq u_str udp udp4 udp6 udplite udplite4 "
        "udplite6 unix")


def test_proto_u_str_selects_the_unix_sockets_of_one_type():
    from gdb_sockets.model import Socket, UnixAddress
    from gdb_sockets.view.filters import SocketFilter
    socks = [Socket(fd=n, inode=n, proto="unix", state="ESTAB", local=UnixAddress(None),
                    type=kind) for n, kind in enumerate(["stream", "dgram", "seqpacket"])]
    socks.append(Socket(fd=9, inode=9, proto="tcp", state="LISTEN"))
    pick = lambda *names: [s.fd for s in SocketFilter(
        protos=frozenset(parse_protos(list(names)))).apply(socks)]
    assert pick("u_str") == [0]
    assert pick("u_dgr", "u_seq") == [1, 2]
    assert pick("unix") == [0, 1, 2]
    assert pick("u_str", "tcp") == [0, 9]
