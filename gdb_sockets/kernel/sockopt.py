"""The extended view (-extended): memory, TCP retransmission state, backlog.

Asked of each socket itself, through a pidfd_getfd copy in gdb's process
(``fd_copies.FdCopies``: inode re-checked, every copy closed), so it works on
gdb's own host only.  No gdb here.

- SO_MEMINFO gives what ``ss -m`` shows as skmem: bytes allocated in the
  receive and send queues against the buffer sizes, and the drops.
- TCP_INFO gives the retransmission timer in force (rto), the consecutive
  and total retransmits, the backoff and the unanswered probes; for a
  listener its accept queue and backlog.
"""

from __future__ import annotations

import socket
import struct
from typing import Dict, Iterable, Optional

from ..model import Socket
from .fd_copies import FdCopies

SO_MEMINFO = 55
TCP_INFO = 11
TCP_LISTEN = 10
# enum SK_MEMINFO_* (linux/sock_diag.h): rmem_alloc, rcvbuf, wmem_alloc,
# sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops.
_MEMINFO = struct.Struct("=9I")
# struct tcp_info (linux/tcp.h) up to tcpi_total_retrans: 8 u8 fields,
# then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans,
# fackets, 4 times, pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh,
# snd_cwnd, advmss, reordering, rcv_rtt, rcv_space, total_retrans.
_TCP_INFO = struct.Struct("=8B24I")


def parse_meminfo(raw: bytes) -> Optional[dict]:
    if len(raw) < _MEMINFO.size:
        return None
    (rmem, rcvbuf, wmem, sndbuf, _fwd, wqueued, _optmem, _backlog,
     drops) = _MEMINFO.unpack_from(raw)
    return {"rmem_alloc": rmem, "rcvbuf": rcvbuf, "wmem_alloc": wmem, "sndbuf": sndbuf,
            "wmem_queued": wqueued, "drops": drops}


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


def socket_details(pid: int, sockets: Iterable[Socket]) -> Dict[int, dict]:
    """fd -> details for each socket that could be copied.

    Raises fd_copies.CopyUnavailable when no copy can be made at all.
    """
    found: Dict[int, dict] = {}
    with FdCopies(pid) as copies:
        for sock in sockets:
            copy = copies.copy(sock.fd, sock.inode)
            if copy is None:
                continue  # closed or replaced since the listing
            details = {}
            memory = copies.option(copy, socket.SOL_SOCKET, SO_MEMINFO, 4 * 16)
            if memory:
                details["memory"] = parse_meminfo(memory)
            if sock.proto in ("tcp", "tcp6"):
                info = copies.option(copy, socket.IPPROTO_TCP, TCP_INFO, _TCP_INFO.size)
                if info:
                    details["tcp"] = parse_tcp_info(info)
            found[sock.fd] = details
            copies.release()
    return found


def details_text(details: dict) -> str:
    """'rmem 0/131072 wmem 0/16384 drops 0  rto 204ms rtt 0.02ms retrans 0/0 ...'."""
    parts = []
    memory = details.get("memory")
    if memory:
        parts.append("rmem %d/%d wmem %d/%d drops %d" % (
            memory["rmem_alloc"], memory["rcvbuf"], memory["wmem_queued"],
            memory["sndbuf"], memory["drops"]))
    tcp = details.get("tcp")
    if tcp and "backlog" in tcp:
        parts.append("accept queue %d/%d" % (tcp["accept_queue"], tcp["backlog"]))
    elif tcp:
        parts.append("rto %dms rtt %gms retrans %d/%d backoff %d probes %d unacked %d" % (
            tcp["rto_ms"], tcp["rtt_ms"], tcp["retransmits"], tcp["total_retrans"],
            tcp["backoff"], tcp["probes"], tcp["unacked"]))
    return "  ".join(parts)
