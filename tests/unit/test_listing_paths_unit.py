"""The sock_diag paths of the listing, without a kernel: wire formats,
choices, and how the exact path settles what a lookup cannot.

(Against the real kernel and every path at once: tests/gdb/test_listing_paths.py.)
"""

import errno
import socket
import struct

import pytest

from gdb_sockets.listing import diag, dump, exact, plan, records
from gdb_sockets.listing import join as listing
from gdb_sockets.kernel import procnet
from gdb_sockets.kernel import sockdiag
from gdb_sockets.kernel import fd_copies
from gdb_sockets.model import InetEndpoint, Socket, UnixAddress, UnixPeer
from gdb_sockets.kernel.procfs import LocalProc
from gdb_sockets.kernel.sockdiag import InetQuery, InetRecord, UnixRecord

HDR = struct.Struct("=IHHII")


def inet_message(inode, state=1, family=socket.AF_INET, sport=8080, dport=41796,
                 src=b"\x7f\0\0\x01", dst=b"\x7f\0\0\x01", rq=3, wq=4, uid=1000, seq=1,
                 attrs=b"\x05\x00\x08\x00\x00\x00\x00\x00"):
    body = (struct.pack("=BBBB", family, state, 0, 0) + struct.pack("!HH", sport, dport)
            + src.ljust(16, b"\0") + dst.ljust(16, b"\0") + struct.pack("=III", 0, 7, 8)
            + struct.pack("=IIIII", 0, rq, wq, uid, inode) + attrs)
    return HDR.pack(16 + len(body), sockdiag.SOCK_DIAG_BY_FAMILY, 2, seq, 0) + body


def rtattr(kind, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((4 - length % 4) % 4)


def unix_message(inode, kind=1, state=1, name=None, peer=None, rqlen=None, seq=1):
    body = struct.pack("=BBBxIII", socket.AF_UNIX, kind, state, inode, 0, 0)
    if name is not None:
        body += rtattr(sockdiag.UNIX_DIAG_NAME, name)
    if peer is not None:
        body += rtattr(sockdiag.UNIX_DIAG_PEER, struct.pack("=I", peer))
    if rqlen is not None:
        body += rtattr(sockdiag.UNIX_DIAG_RQLEN, struct.pack("=II", *rqlen))
    return HDR.pack(16 + len(body), sockdiag.SOCK_DIAG_BY_FAMILY, 2, seq, 0) + body


def error_message(code, seq=1):
    return HDR.pack(36, sockdiag.NLMSG_ERROR, 0, seq, 0) + struct.pack("=i", -code) + bytes(16)


DONE = HDR.pack(20, sockdiag.NLMSG_DONE, 2, 1, 0) + bytes(4)


# --------------------------------------------------------------------------
# Wire formats


def test_tcp_request_names_the_local_end_as_source():
    query = InetQuery(socket.AF_INET, 6, b"\x7f\0\0\x01", 8080, b"\x7f\0\0\x02", 41796)
    raw = sockdiag.inet_request(9, query)
    length, kind, flags, seq, _pid = HDR.unpack_from(raw)
    assert (length, kind, flags, seq) == (len(raw), 20, sockdiag.NLM_F_REQUEST, 9)
    family, proto, ext, _pad, states = struct.unpack_from("=BBBBI", raw, 16)
    # ext: INET_DIAG_INFO (1 << (2 - 1)), the TCP_INFO times of the answer.
    assert (family, proto, ext, states) == (socket.AF_INET, 6, 2, 0xFFFFFFFF)
    assert struct.unpack_from("!HH", raw, 24) == (8080, 41796)
    assert raw[28:32] == b"\x7f\0\0\x01" and raw[44:48] == b"\x7f\0\0\x02"
    assert struct.unpack_from("=III", raw, 60) == (0, 0xFFFFFFFF, 0xFFFFFFFF)
    assert len(raw) == 16 + 56


def test_udp_request_names_the_peer_as_source():
    """net/ipv4/udp_diag.c: src and dst are swapped for historical reasons."""
    query = InetQuery(socket.AF_INET6, 17, bytes(15) + b"\1", 53, bytes(16), 0, ifindex=3)
    raw = sockdiag.inet_request(1, query)
    assert struct.unpack_from("!HH", raw, 24) == (0, 53)
    assert raw[28:44] == bytes(16) and raw[44:60] == bytes(15) + b"\1"
    assert struct.unpack_from("=I", raw, 60) == (3,)


def test_dump_request_leaves_out_states_with_no_fd():
    raw = sockdiag.inet_dump_request(socket.AF_INET, 6)
    assert HDR.unpack_from(raw)[2] == sockdiag.NLM_F_REQUEST | sockdiag.NLM_F_DUMP
    states = struct.unpack_from("=I", raw, 20)[0]
    assert [s for s in range(16) if states & (1 << s)] == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]


def test_parse_inet_message():
    data = b"xxxx" + inet_message(12345, state=10, sport=8080, dport=0, dst=bytes(4), rq=1, wq=128)
    assert sockdiag.parse_inet(data, 4) == InetRecord(
        socket.AF_INET, 10, 8080, 0, b"\x7f\0\0\x01" + bytes(12), bytes(16), 1, 128, 1000, 12345)


def test_parse_unix_message_with_attributes():
    data = unix_message(77, kind=5, state=1, name=b"\0abstract", peer=78, rqlen=(6, 0))
    assert sockdiag.parse_unix(data, 0, len(data)) == UnixRecord(77, 5, 1, b"\0abstract", 78, 6, 0)
    bare = unix_message(79)
    assert sockdiag.parse_unix(bare, 0, len(bare)) == UnixRecord(79, 1, 1, None, None, None, None)


def test_dump_chunks_keep_only_wanted_inodes():
    chunks = [inet_message(1) + inet_message(2), unix_message(3) + DONE]
    found = sockdiag.parse_dump_chunks(chunks, {2, 3})
    assert sorted(found) == [2, 3]
    assert isinstance(found[2], InetRecord) and isinstance(found[3], UnixRecord)
    assert sorted(sockdiag.parse_dump_chunks(chunks, None)) == [1, 2, 3]


def test_refused_dump_is_an_error():
    with pytest.raises(sockdiag.DiagError) as info:
        sockdiag.parse_dump_chunks([error_message(errno.EINVAL)], None)
    assert info.value.errno == errno.EINVAL


def test_end_of_dump():
    assert not sockdiag._ends_dump(inet_message(1) + inet_message(2))
    assert sockdiag._ends_dump(inet_message(1) + DONE)
    assert sockdiag._ends_dump(error_message(errno.EPERM))


class FakeNetlink:
    """A netlink socket that answers exact requests from a table."""

    def __init__(self, answers, drop=()):
        self.answers = answers  # inode or 4-tuple key -> message bytes (seq patched)
        self.drop = set(drop)  # seqs whose answer is lost on the first try
        self.queue = []
        self.sent = []

    def setsockopt(self, *args):
        pass

    def send(self, data):
        offset = 0
        while offset < len(data):
            length, _kind, _flags, seq, _pid = HDR.unpack_from(data, offset)
            self.sent.append(seq)
            inode = struct.unpack_from("=I", data, offset + 24)[0]
            if seq in self.drop:
                self.drop.discard(seq)
            else:
                message = bytearray(self.answers.get(inode, error_message(errno.ENOENT)))
                struct.pack_into("=I", message, 8, seq)
                self.queue.append(bytes(message))
            offset += length
        return len(data)

    def recv(self, size, flags=0):
        if not self.queue:
            raise BlockingIOError
        out, self.queue = b"".join(self.queue), []
        return out


def test_exact_answers_come_back_in_order_and_lost_ones_are_asked_again():
    net = FakeNetlink({5: unix_message(5, name=b"/a\0"), 6: unix_message(6)}, drop={2})
    found = sockdiag.DiagChannel(net).unix_exact([5, 6, 7])
    assert sorted(found) == [5, 6]
    assert found[5].name == b"/a\0"
    # seq 2 (inode 6) was lost: asked again on its own.
    assert net.sent == [1, 2, 3, 2]


# --------------------------------------------------------------------------
# Records the same as the table path's


@pytest.mark.parametrize("family,raw,table_hex", [
    (socket.AF_INET, b"\x7f\0\0\x01" + bytes(12), "0100007F"),
    (socket.AF_INET, bytes(16), "00000000"),
    (socket.AF_INET6, bytes(15) + b"\1", "00000000000000000000000001000000"),
    (socket.AF_INET6, bytes(10) + b"\xff\xff\x7f\0\0\x01", "0000000000000000FFFF00000100007F"),
    (socket.AF_INET6, b"\xfe\x80" + bytes(13) + b"\1", "000080FE000000000000000001000000"),
    (socket.AF_INET6, bytes(16), "00000000000000000000000000000000"),
])
def test_addresses_print_as_the_table_parsers_print_them(family, raw, table_hex):
    decode = procnet.decode_ipv4 if family == socket.AF_INET else procnet.decode_ipv6
    assert records.address_text(family, raw) == decode(table_hex)


def test_fast_records_equal_ordinary_ones():
    fields = dict(fd=3, inode=9, proto="tcp", state="ESTAB", recv_q=1, send_q=2,
                  local=InetEndpoint("127.0.0.1", 80), peer=InetEndpoint("::1", 5), uid=0)
    fast, slow = records.make_socket(**fields), Socket(**fields)
    assert fast == slow and repr(fast) == repr(slow) and fast.to_json() == slow.to_json()
    with pytest.raises(AttributeError):
        fast.fd = 4  # still frozen


def test_inet_record_becomes_the_table_row():
    record = InetRecord(socket.AF_INET6, 8, 41000, 8082, bytes(10) + b"\xff\xff\x7f\0\0\x01",
                        bytes(10) + b"\xff\xff\x7f\0\0\x01", 5, 0, 1000, 31)
    assert records.inet_socket(6, "tcp6", record) == Socket(
        fd=6, inode=31, proto="tcp6", state="CLOSE-WAIT", recv_q=5, send_q=0,
        local=InetEndpoint("::ffff:127.0.0.1", 41000),
        peer=InetEndpoint("::ffff:127.0.0.1", 8082), uid=1000)


@pytest.mark.parametrize("fast", [True, False], ids=["fast records", "Socket()"])
def test_dump_rows_equal_record_rows(fast, monkeypatch):
    # The fast fill is on for today's Socket: a field added to Socket must be
    # added to records._DUMP_ROW_FIELDS too, or every dump row goes slow.
    assert records._DUMP_ROWS_FILLABLE
    if not fast:  # as when Socket is not a plain dataclass any more
        monkeypatch.setattr(records, "_DUMP_ROWS_FILLABLE", False)
        monkeypatch.setattr(records, "make_socket", Socket)
        monkeypatch.setattr(records, "make_endpoint", InetEndpoint)
    chunks = [inet_message(11, state=10, dport=0, dst=bytes(4), rq=1, wq=128)
              + inet_message(12) + inet_message(13) + DONE]
    rows = dump.rows_from_dump("tcp", chunks, {11: 3, 13: 5})
    expected = sockdiag.parse_dump_chunks(chunks, None)
    assert rows == {11: records.inet_socket(3, "tcp", expected[11]),
                    13: records.inet_socket(5, "tcp", expected[13])}
    assert rows[11].send_q == 128 and rows[11].state == "LISTEN"
    # Field for field, the ones left out of == too.
    for inode, row in rows.items():
        made = records.inet_socket(row.fd, "tcp", expected[inode])
        assert (vars(row), repr(row), row.to_json()) == (vars(made), repr(made), made.to_json())


def test_unix_rows_name_their_peers():
    found = {5: UnixRecord(5, 1, 1, None, 6, 0, 768), 7: UnixRecord(7, 2, 7, b"\0x\0y", None, 0, 0)}
    peers = {6: UnixRecord(6, 1, 1, b"/run/app.sock\0", 5, 6, 0)}
    rows = records.unix_rows(found, peers, {5: 3, 7: 4})
    assert rows[5] == Socket(fd=3, inode=5, proto="unix", state="ESTAB", recv_q=0, send_q=768,
                             local=UnixAddress(None), peer=UnixPeer(6, "/run/app.sock"),
                             type="stream")
    assert rows[7] == Socket(fd=4, inode=7, proto="unix", state="UNCONN", recv_q=0, send_q=0,
                             local=UnixAddress("@x@y"), peer=UnixPeer(None, None), type="dgram")


# --------------------------------------------------------------------------
# Choosing a way


PROTOCOLS = b"""\
protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re bi br ha uh gp em
PACKET    1600      2      -1   NI       0   no   kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
UDPv6     1472      1       0   NI       0   yes  kernel      y  y  y  n  y  y  y  n  y  y  y  y  n  n  y  y  y  n
TCPv6     2432      5       0   no     192   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y
UNIX-STREAM 1152      5      -1   NI       0   yes  kernel      y  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
UNIX      1152      3      -1   NI       0   yes  kernel      y  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
UDP       1344      2       0   NI       0   yes  kernel      y  y  y  n  y  y  y  n  y  y  y  y  n  n  y  y  y  n
TCP       2304  20934       0   no     192   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y
"""


def test_protocol_counts():
    counts = plan.parse_protocol_counts(PROTOCOLS)
    assert counts["TCP"] == 20934 and counts["UNIX-STREAM"] == 5 and counts["PACKET"] == 2
    assert plan.in_namespace(counts, "unix") == 8
    assert plan.in_namespace({}, "tcp") is None


@pytest.fixture
def counts(monkeypatch):
    table = plan.parse_protocol_counts(PROTOCOLS)
    monkeypatch.setattr(plan, "namespace_counts", lambda pid: table)
    return table


def test_few_fds_prefetch_nothing(counts):
    assert plan.prefetch_protocols(1, plan.PREFETCH_MIN - 1, "auto") == []
    assert plan.prefetch_protocols(1, 10 ** 6, "exact") == []
    assert plan.prefetch_protocols(1, 3, "dump") == list(plan.SERVED)


def test_prefetch_what_costs_less_than_naming_every_protocol(counts):
    # 1000 fds: reading their links and naming each protocol would cost
    # ~5.5 ms; the small tables fit, the 20934 TCP sockets of the namespace
    # do not.  From ~5340 fds on (a quarter of the namespace) they do.
    assert plan.prefetch_protocols(1, 1000, "auto") == ["udp6", "udp", "tcp6", "unix"]
    assert plan.prefetch_protocols(1, 5300, "auto") == ["udp6", "udp", "tcp6", "unix"]
    assert plan.prefetch_protocols(1, 5400, "auto") == ["udp6", "udp", "tcp6", "unix", "tcp"]
    assert plan.prefetch_protocols(1, 20000, "auto") == ["udp6", "udp", "tcp6", "unix", "tcp"]


def test_plan_follows_the_target_share_of_the_namespace(counts):
    ways = plan.plan(1, {"tcp": 10, "udp": 40, "unix": 40, "tcp6": 5000}, "auto")
    assert ways == {"tcp": "exact", "udp": "dump", "unix": "dump", "tcp6": "dump"}
    assert plan.plan(1, {"tcp": 1000}, "auto") == {"tcp": "exact"}
    assert plan.plan(1, {"tcp": 5000}, "auto") == {"tcp": "dump"}
    assert plan.plan(1, {"tcp": 5000}, "exact") == {"tcp": "exact"}


def test_unknown_namespace_size_takes_the_exact_way(monkeypatch):
    monkeypatch.setattr(plan, "namespace_counts", lambda pid: {})
    assert plan.plan(1, {"tcp": 10 ** 5}, "auto") == {"tcp": "exact"}


# --------------------------------------------------------------------------
# The exact path settles what a lookup cannot


LO = b"\x7f\0\0\x01"


class FakeCopies:
    """FdCopies over a dict: fd -> (inode, Endpoints, tcp state, ifindex, netns)."""

    def __init__(self, socks):
        self.socks = socks

    def copy(self, fd, inode):
        sock = self.socks.get(fd)
        return fd if sock is not None and sock[0] == inode else None

    def release(self):
        pass

    def endpoints(self, copy):
        return self.socks[copy][1]

    def tcp_state(self, copy):
        return self.socks[copy][2]

    def bound_ifindex(self, copy):
        return self.socks[copy][3]

    def netns_cookie(self, copy):
        return self.socks[copy][4]


class FakeChannel:
    """DiagChannel answering lookups from a 4-tuple table and dumps from records."""

    def __init__(self, by_tuple, dumps):
        self.by_tuple = by_tuple  # (local port, peer port, ifindex) -> InetRecord
        self.dumps = dumps        # states -> {inode: InetRecord}
        self.dumped = []

    def netns_cookie(self):
        return 1

    def inet_exact(self, queries):
        return [self.by_tuple.get((q.local_port, q.peer_port, q.ifindex), errno.ENOENT)
                for q in queries]

    def inet_dump(self, family, protocol, wanted, states=sockdiag.FD_STATES):
        self.dumped.append((protocol, states, sorted(wanted)))
        return {i: r for i, r in self.dumps.get(states, {}).items() if i in wanted}


def record(inode, sport, dport=0, state=1):
    return InetRecord(socket.AF_INET, state, sport, dport, LO + bytes(12), bytes(16), 0, 0, 0, inode)


def ends(sport, dport=0):
    return fd_copies.Endpoints(socket.AF_INET, LO, sport, LO if dport else bytes(4), dport)


def test_exact_lookups_and_what_they_leave():
    copies = FakeCopies({
        3: (100, ends(80, 5000), 1, 0, 1),      # found
        4: (101, ends(81), 10, 0, 1),           # reuseport: the lookup answers a sibling
        5: (102, ends(0), 7, 0, 1),             # never bound
        6: (103, ends(82), 7, 0, 1),            # ENOENT, CLOSE: only bound / reset
        7: (104, ends(83), 10, 2, 1),           # bound to device 2: found on retry
        8: (105, ends(84), 10, 0, 9),           # another namespace
        9: (106, ends(85, 6000), 1, 0, 1),      # ENOENT, ESTAB, same namespace: dump
    })
    channel = FakeChannel({(80, 5000, 0): record(100, 80, 5000), (81, 0, 0): record(999, 81),
                           (83, 0, 2): record(104, 83, state=10)}, {})
    out = exact.Collected({}, set(), {}, set())
    members = {"tcp": {100: 3, 101: 4, 102: 5, 103: 6, 104: 7, 105: 8, 106: 9, 107: 10}}
    left = exact.inet_exact(channel, copies, members, out)
    assert sorted(out.rows) == [100, 104]
    assert out.rows[104].fd == 7 and out.rows[104].state == "LISTEN"
    assert out.tableless == {102, 103, 105}
    # 107: fd 10 is not open any more (no copy).
    assert left == {"tcp": {101: (4, True), 106: (9, False), 107: (10, False)}}


def test_what_is_left_is_settled_by_dumps_listeners_first():
    listening = {101: record(101, 81, state=10)}
    full = {106: record(106, 85, 6000)}
    channel = FakeChannel({}, {sockdiag.TCPF_LISTEN: listening, sockdiag.FD_STATES: full})
    out = exact.Collected({}, set(), {}, set())
    exact.settle(channel, {"tcp": {101: (4, True), 106: (9, False), 107: (10, False)}}, out)
    assert channel.dumped == [(6, sockdiag.TCPF_LISTEN, [101]),
                              (6, sockdiag.FD_STATES, [106, 107])]
    assert sorted(out.rows) == [101, 106] and out.tableless == {107}
    assert out.rows[101].fd == 4 and out.rows[106].fd == 9


# --------------------------------------------------------------------------
# When sock_diag is not used at all


def test_copies_are_refused_where_net_cls_would_reclassify(tmp_path):
    v2 = tmp_path / "v2"
    v2.write_text("0::/user.slice/session-1.scope\n")
    v1 = tmp_path / "v1"
    v1.write_text("12:cpu,cpuacct:/\n3:net_cls,net_prio:/\n0::/\n")
    assert fd_copies.copies_are_harmless(str(v2))
    assert not fd_copies.copies_are_harmless(str(v1))
    assert not fd_copies.copies_are_harmless(str(tmp_path / "absent"))


def test_a_target_not_on_gdbs_host_is_read_from_tables_only(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sock_diag used for a remote target")

    monkeypatch.setattr(diag, "collect", refuse)
    monkeypatch.setattr(exact, "listener_backlogs", refuse)
    fd_dir = tmp_path / "proc" / "42" / "fd"
    fd_dir.mkdir(parents=True)
    (tmp_path / "proc" / "42" / "net").mkdir()
    (fd_dir / "3").symlink_to("socket:[5]")
    result = listing.list_sockets(LocalProc(root=str(tmp_path)), 42,
                                  unix_diag=lambda pid, inodes: {}, strategy="exact")
    assert result.sockets == [Socket(fd=3, inode=5, proto="unknown", state="?",
                                     in_table=False)]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError):
        listing.list_sockets(LocalProc(), 1, strategy="fast")
