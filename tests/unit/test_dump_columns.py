"""sockdiag.InetDump, the fast reading of a big dump: the same records as
parse_dump_chunks, whatever the datagrams hold."""

import errno
import socket
import struct

import pytest

from gdb_sockets.kernel import sockdiag
from gdb_sockets.kernel.sockdiag import InetDump

from test_listing_paths_unit import DONE, error_message, inet_message, rtattr, unix_message

BARE = b""  # no attributes: the messages of a dump that asks for none


def records(dump: InetDump):
    """inode -> InetRecord, from the columns (as DiagChannel.inet_dump makes them)."""
    port = struct.Struct("!H").unpack
    return {inode: sockdiag.InetRecord(f, state, port(sp)[0], port(dp)[0], src, dst, rq, wq,
                                       uid, ino)
            for inode, (_l, _k, f, state, sp, dp, src, dst, rq, wq, uid, ino)
            in dump.fields.items()}


def many(first, count, attrs=BARE, **kw):
    return b"".join(inet_message(first + i, sport=1000 + i, rq=i, attrs=attrs, **kw)
                    for i in range(count))


CASES = {
    "uniform, no attributes": [many(1, 50), many(51, 50) + DONE],
    "uniform, with attributes": [many(1, 30, attrs=rtattr(1, b"\0" * 12)) + DONE],
    "lengths differ in a datagram": [many(1, 5) + many(6, 5, attrs=rtattr(1, b"x")), DONE],
    "a DONE alone": [many(1, 10), DONE],
    "a listener in a long run": [many(1, 200) + inet_message(7000, attrs=rtattr(1, b"x"))
                                 + many(201, 200) + DONE],
    "lengths alternate": [b"".join(inet_message(i, attrs=rtattr(1, b"x" * (i % 2 * 4)))
                                   for i in range(1, 120)) + DONE],
    # 96 + 12 * 88 = 12 * 96: only the headers tell that the lengths differ.
    "lengths differ but add up": [inet_message(1, attrs=rtattr(1, b"1234")) + many(2, 12) + DONE],
    "ipv6": [many(1, 20, family=socket.AF_INET6, src=b"\0" * 15 + b"\1") + DONE],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_columns_give_the_records_of_the_message_parser(case):
    chunks = CASES[case]
    wanted = {1, 3, 5, 7, 9, 10, 10 ** 6}
    assert records(InetDump(chunks, wanted)) == sockdiag.parse_dump_chunks(chunks, wanted)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_wanted_socket_and_no_other(case):
    chunks = CASES[case]
    everything = sockdiag.parse_dump_chunks(chunks, None)
    assert records(InetDump(chunks, set(everything))) == everything
    assert InetDump(chunks, set()).fields == {}


def test_a_datagram_that_only_looks_like_it_ends_is_walked():
    # The last 20 bytes of an inet message that read as a DONE header
    # (expires = 20, rqueue's low half = 3) do not end a uniform run.
    message = bytearray(inet_message(1, attrs=BARE))
    struct.pack_into("=IH", message, len(message) - 20, 20, sockdiag.NLMSG_DONE)
    data = many(2, 3) + bytes(message)
    assert not sockdiag._ends_dump(data)
    assert sorted(InetDump([data], {1, 2, 3, 4}).fields) == [1, 2, 3, 4]


def test_a_refused_dump_is_an_error():
    with pytest.raises(sockdiag.DiagError) as info:
        InetDump([error_message(errno.EPERM)], {1})
    assert info.value.errno == errno.EPERM


def test_a_unix_message_is_not_taken_for_an_inet_one():
    chunks = [unix_message(7) + many(1, 3) + DONE]
    assert sorted(InetDump(chunks, {1, 2, 3, 7}).fields) == [1, 2, 3]


def test_attributes_of_a_wanted_socket():
    info = rtattr(2, b"\x01\x02\x03\x04") + rtattr(5, b"\x09" * 8)
    chunks = [many(1, 3, attrs=info) + DONE]
    dump = InetDump(chunks, {2})
    assert dump.attributes(2) == {2: b"\x01\x02\x03\x04", 5: b"\x09" * 8}
    assert dump.attributes(1) == {}  # not wanted: not kept


def test_end_of_dump_on_uniform_datagrams():
    assert sockdiag._ends_dump(many(1, 3) + DONE)
    assert not sockdiag._ends_dump(many(1, 3))
    assert sockdiag._ends_dump(DONE)
