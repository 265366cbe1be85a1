"""kernel/keepalive.py and kernel/destroy.py on bytes captured from this kernel
(samples/remedy/capture.py; expected.json holds what ss -tin said at the time)."""

import json
import os
import socket
import struct

from gdb_sockets.kernel import destroy, keepalive, sockdiag, sockopt

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "remedy")


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


with open(os.path.join(SAMPLES, "expected.json")) as _f:
    EXPECTED = json.load(_f)


def test_tcp_info_silence_figures_agree_with_ss():
    # The capture read TCP_INFO, then ran ss -tin: ss's figures are the
    # same clocks a few ms later, never earlier.
    silence = sockopt.parse_silence(sample("tcp_info_idle"))
    ss = EXPECTED["ss_last_ms"]
    assert silence.state == 1 and silence.unacked == 0
    assert silence.rto_ms == 204  # ss: rto:204
    for ours, theirs in ((silence.last_recv_ms, ss["lastrcv"]),
                         (silence.last_send_ms, ss["lastsnd"]),
                         (silence.last_ack_ms, ss["lastack"])):
        assert 0 <= theirs - ours < 50, (ours, theirs)
    # The capture received data 2 s before and sent (and had it acked) 1 s before.
    assert 2000 <= silence.last_recv_ms < 2100
    assert 1000 <= silence.last_send_ms < 1100
    assert silence.since_heard_ms == silence.last_ack_ms


def test_tcp_info_too_short_is_none():
    assert sockopt.parse_silence(sample("tcp_info_idle")[:59]) is None


def test_destroy_acks():
    assert destroy.parse_ack(sample("destroy_ack_ok"), 12) == 0
    assert destroy.parse_ack(sample("destroy_ack_enoent"), 11) == 2  # ENOENT
    # An ACK for another request is not ours.
    assert destroy.parse_ack(sample("destroy_ack_ok"), 11) is None
    assert destroy.parse_ack(b"", 1) is None


def test_destroy_request_layout():
    # The request the capture sent (and the kernel obeyed: destroy_ack_ok).
    sent = sample("destroy_request_tcp")
    cookie = EXPECTED["cookie"]
    target = destroy.Target(socket.AF_INET, 6, socket.inet_aton("127.0.0.1"), 47002,
                            socket.inet_aton("127.0.0.1"), 47001, cookie)
    assert destroy.destroy_request(12, target) == sent
    length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", sent)
    assert (length, kind, flags, seq) == (len(sent), 21, 0x5, 12)
    # sockid: sport, dport big endian at 8; cookie halves at the end.
    assert struct.unpack_from("!HH", sent, 16 + 8) == (47002, 47001)
    assert struct.unpack_from("=II", sent, len(sent) - 8) == (cookie & 0xFFFFFFFF, cookie >> 32)


def test_destroy_request_cookie_high_half():
    target = destroy.Target(socket.AF_INET6, 17, bytes(16), 1, bytes(16), 2, 0x123456789)
    raw = destroy.destroy_request(1, target)
    assert struct.unpack_from("=II", raw, len(raw) - 8) == (0x23456789, 0x1)


def test_keepalive_read_and_apply_on_a_real_socket():
    # A socket of this process: the same calls a copy gets.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    try:
        fd = client.fileno()
        before = keepalive.read(fd)
        assert before == keepalive.Keepalive(False, 7200, 75, 9, 0)  # Linux defaults
        wanted = keepalive.Keepalive(True, 15, 5, 3, 30000)
        assert keepalive.apply(fd, wanted) == wanted
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert keepalive.apply(fd, before) == before
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
        # Out of range: the kernel's EINVAL, as OSError.
        try:
            keepalive.apply(fd, keepalive.Keepalive(True, 40000, 5, 3, 0))
        except OSError as e:
            assert e.errno == 22
        else:
            raise AssertionError("idle 40000 accepted")
        # The copy's file flags are the target's: apply leaves O_NONBLOCK alone.
        socket.setdefaulttimeout(1.0)
        try:
            keepalive.apply(fd, before)
        finally:
            socket.setdefaulttimeout(None)
        assert os.get_blocking(fd)
        assert destroy.cookie(fd) > 0
    finally:
        for s in (client, server, listener):
            s.close()


def test_silence_from_a_sock_diag_answer():
    # The exact answer (with INET_DIAG_INFO) the capture received right
    # after reading TCP_INFO: the same figures, a few ms later at most.
    data = sample("diag_info_answer")
    length = struct.unpack_from("=I", data)[0]
    record = sockdiag.parse_inet(data, 0, length)
    assert record.inode == EXPECTED["inode"]
    from_diag = sockopt.parse_silence(record.info)
    from_sockopt = sockopt.parse_silence(sample("tcp_info_idle"))
    assert struct.unpack_from("=I", data, 16 + 68)[0] == EXPECTED["inode"]
    for field in ("last_recv_ms", "last_send_ms", "last_ack_ms"):
        assert 0 <= getattr(from_diag, field) - getattr(from_sockopt, field) < 20
    assert (from_diag.state, from_diag.unacked, from_diag.rto_ms) == (1, 0, 204)
    # Cut before the attribute, or a message without attributes: none.
    assert sockdiag.info_attribute(data, 0, 16 + 72) is None
    assert sockdiag.info_attribute(data[:16 + 72 + 4], 0, 16 + 72 + 4) is None
    assert sockdiag.parse_inet(data, 0).info is None  # length not given: not looked for
