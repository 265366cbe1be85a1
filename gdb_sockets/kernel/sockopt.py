"""Socket options as the kernel returns them: SO_MEMINFO and TCP_INFO, parsed once.

The raw bytes come from getsockopt on a copy of the target's socket
(fd_copies.FdCopies.option).  No gdb here.

- SO_MEMINFO gives what ``ss -m`` shows as skmem: bytes allocated in the
  receive and send queues against the buffer sizes, and the drops.
- TCP_INFO gives the state, the retransmission timer in force (rto), the
  consecutive and total retransmits, the backoff and the unanswered
  probes; for a listener its accept queue and backlog.
"""

from __future__ import annotations

import struct
from typing import Optional

from ..model import TCP_LISTEN, Silence

SO_MEMINFO = 55
SO_MEMINFO_SIZE = 4 * 16  # room for more fields than this kernel's nine
TCP_INFO = 11
# A port in a sockaddr or a sock_diag message: network byte order.
PORT = struct.Struct("!H")
# enum SK_MEMINFO_* (linux/sock_diag.h): rmem_alloc, rcvbuf, wmem_alloc,
# sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops.
_MEMINFO = struct.Struct("=9I")
# struct tcp_info (linux/tcp.h) up to tcpi_total_retrans: 8 u8 fields,
# then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans,
# fackets, 4 times, pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh,
# snd_cwnd, advmss, reordering, rcv_rtt, rcv_space, total_retrans.
_TCP_INFO = struct.Struct("=8B24I")
TCP_INFO_SIZE = _TCP_INFO.size


def parse_meminfo(raw: bytes) -> Optional[dict]:
    if len(raw) < _MEMINFO.size:
        return None
    (rmem, rcvbuf, wmem, sndbuf, _fwd, wqueued, _optmem, _backlog,
     drops) = _MEMINFO.unpack_from(raw)
    return {"rmem_alloc": rmem, "rcvbuf": rcvbuf, "wmem_alloc": wmem, "sndbuf": sndbuf,
            "wmem_queued": wqueued, "drops": drops}


def tcp_state(raw: bytes) -> Optional[int]:
    """tcpi_state, the first byte of struct tcp_info (None if the kernel gave nothing)."""
    return raw[0] if raw else None


def parse_tcp_info(raw: bytes) -> Optional[dict]:
    if len(raw) < _TCP_INFO.size:
        return None
    fields = _TCP_INFO.unpack_from(raw)
    state, _ca, retransmits, probes, backoff = fields[:5]
    rto, _ato, _smss, _rmss, unacked, sacked = fields[8:14]
    rtt = fields[8 + 15]
    total_retrans = fields[8 + 23]
    if state == TCP_LISTEN:
        # tcp_get_info: for a listener, unacked is the accept queue and
        # sacked the backlog.
        return {"accept_queue": unacked, "backlog": sacked}
    return {"rto_ms": rto // 1000, "rtt_ms": round(rtt / 1000.0, 3),
            "retransmits": retransmits, "total_retrans": total_retrans,
            "backoff": backoff, "probes": probes, "unacked": unacked}


# The fields of struct tcp_info parse_silence reads, at their offsets:
# state, ca_state, retransmits, probes (0-3), rto (8), unacked (24),
# last_data_sent, last_ack_sent, last_data_recv, last_ack_recv (44-59).
_SILENCE = struct.Struct("=BxBB4xI12xI16xIxxxxII")


def parse_silence(raw: bytes) -> Optional[Silence]:
    """The times of a struct tcp_info (getsockopt, or sock_diag's INET_DIAG_INFO):
    tcpi_last_data_recv, tcpi_last_data_sent, tcpi_last_ack_recv (ms ago)."""
    if len(raw) < _SILENCE.size:
        return None
    (state, retransmits, probes, rto_us, unacked, last_data_sent, last_data_recv,
     last_ack_recv) = _SILENCE.unpack_from(raw)
    return Silence(state, last_data_recv, last_data_sent, last_ack_recv, unacked, probes,
                   retransmits, rto_us // 1000)
