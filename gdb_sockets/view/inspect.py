"""What the operator sees of a target: its sockets with who waits on and holds each.

Works on a kernel/process.Target (decided once: on gdb's host or behind
gdbserver, held stopped by gdb or running on) and raises SocketsError for
what the user can act on; the caller prefixes the message with the
command's name.  No gdb here.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from typing import AbstractSet, List, Optional, Sequence, Tuple

from ..errors import SocketsError
from ..kernel import procfs, signals
from ..kernel.fd_copies import CopyUnavailable
from ..kernel.proc_task import running_threads
from ..listing.extended import socket_details, tcp_silences
from ..listing.join import Listing, Rows, built, list_rows, list_sockets
from ..model import Socket
from . import holders, notes, predict, raw_rows, render, waiters
from .render import escape


def listing_of(target) -> Listing:
    """The target's sockets as the kernel sees them, without annotations."""
    return list_sockets(target.reader, target.pid, local=not target.remote)


def target_sockets(target, scan_holders: bool = False) -> Listing:
    """The sockets of ``target``, with their waiters and other fds and, with
    ``scan_holders``, the other processes holding them (a pass over all of
    /proc)."""
    if scan_holders and target.remote:
        raise SocketsError("-holders needs a list of every process's fds, which the "
                           "remote protocol cannot give; run gdb on the target's host")
    result = listing_of(target)
    scan = {s.inode for s in result.sockets} if scan_holders else None
    return annotated(target, result, scan)


def _waiters(target, fds: AbstractSet[int], found_notes: List[str]) -> dict:
    """fd -> the threads blocked on it, for the socket ``fds``; what cannot
    be known goes to ``found_notes``."""
    if target.remote:
        found_notes.append("blocked threads are not shown through gdbserver")
    elif target.arch is None:
        found_notes.append("blocked threads are not shown: the program's architecture is unknown")
    elif not waiters.known_arch(target.arch):
        found_notes.append("blocked threads are not shown on %s (x86-64 only)" % target.arch)
    else:
        found = waiters.find_waiters(target.reader, target.pid, fds, arch=target.arch)
        if fds and not target.stopped:
            found_notes.extend(_running_note(target))
        return found
    return {}


def annotated(target, result: Listing, scan_inodes: Optional[AbstractSet[int]]) -> Listing:
    """``result`` with waiters, dups and, for ``scan_inodes``, other holders."""
    found_notes = list(result.notes)
    found_waiters = _waiters(target, {s.fd for s in result.sockets}, found_notes)
    scan = None
    if scan_inodes:
        scan = holders.other_holders(target.reader, target.pid, scan_inodes)
        hidden = holders.hidden_note(scan, as_root=os.geteuid() == 0)
        if hidden:
            found_notes.append(hidden)
    sockets = notes.annotate(result.sockets, found_waiters, scan)
    if found_waiters:
        sockets = _with_silence(target, sockets)
    return Listing(result.pid, sockets, found_notes)


def rows_of(target) -> Optional[Rows]:
    """The target's sockets with their waiters and other fds, as Rows
    (most of a big target's sockets left unbuilt: only those the view adds
    to are built), or None for a target behind gdbserver (use
    info_sockets)."""
    if target.remote:
        return None
    found = list_rows(target.reader, target.pid, local=True)
    found_notes = list(found.notes)
    entries = found.entries
    fds = {(e[0] if type(e) is tuple else e.fd) for e in entries}
    found_waiters = _waiters(target, fds, found_notes)
    inodes = [(e[2][-1] if type(e) is tuple else e.inode) for e in entries]
    shared = set()
    if len(set(inodes)) != len(inodes):
        shared = {inode for inode, count in Counter(inodes).items() if count > 1}
    if not found_waiters and not shared:
        return Rows(found.pid, entries, found_notes)  # nothing to add to any row
    # The view adds to a socket that has a waiter or several fds: those
    # are built, and annotated as info_sockets annotates them.
    wanted = [index for index, (entry, inode) in enumerate(zip(entries, inodes))
              if inode in shared or (type(entry) is tuple and entry[0] in found_waiters)]
    if wanted:
        entries = list(entries)
        for index, record in zip(wanted, built([entries[i] for i in wanted])):
            entries[index] = record
    places = [i for i, e in enumerate(entries) if type(e) is not tuple]
    records = notes.annotate([entries[i] for i in places], found_waiters, None)
    if found_waiters:
        records = _with_silence(target, records)
    for index, record in zip(places, records):
        entries[index] = record
    return Rows(found.pid, entries, found_notes)


def info_rows(target, selection, scan_holders: bool = False,
              extended: bool = False) -> Tuple[Listing, List[Socket], bool]:
    """What `info sockets` shows, as info_sockets: (a Listing, the records
    chosen by ``selection``, whether the process has any socket).

    Without ``scan_holders``, only the sockets that may match are built:
    the filters on fd, protocol, state and port are asked of a dump's
    fields first, then the records go through ``selection`` itself, and
    the Listing holds the records shown and those of the fds named.
    """
    found = None if scan_holders else rows_of(target)
    if found is None:
        result, shown = info_sockets(target, selection, scan_holders, extended)
        return result, shown, bool(result.sockets)
    entries = found.entries
    maybe = _may_match(selection)
    shown = selection.apply(built([e for e in entries if type(e) is not tuple or maybe(e)]))
    named = selection.fds or ()
    listed = built([e for e in entries if (e[0] if type(e) is tuple else e.fd) in named]
                   if named else [])
    if extended:
        shown = with_details(target, shown)
    return Listing(found.pid, listed or shown, list(found.notes)), shown, bool(entries)


def _may_match(selection):
    """A test of an unbuilt row: False only where ``selection`` cannot
    match the record (the address patterns are left to the records)."""
    fds, protos, states, ports = (selection.fds, selection.protos, selection.states,
                                  selection.ports)
    state_text = raw_rows.STATES

    def maybe(entry) -> bool:
        fd, proto, fields = entry
        if fds is not None and fd not in fds:
            return False
        if protos is not None and proto not in protos:
            return False
        if states is not None and state_text[fields[3]] not in states:
            return False
        if ports is not None and not (int.from_bytes(fields[4], "big") in ports
                                      or int.from_bytes(fields[5], "big") in ports):
            return False
        return True
    return maybe


def rows_text(result: Rows, colorize=None) -> str:
    """listing_text of the built rows, with every socket shown."""
    if not any(type(e) is tuple for e in result.entries):
        listing = result.listing()
        return listing_text(listing, listing.sockets, colorize)
    # A row left unbuilt has no note: no note is common to every row.
    cells = [notes.notes_text(e) if type(e) is not tuple else "" for e in result.entries]
    lines = [raw_rows.table_text(result.entries, colorize, cells)]
    lines.extend("Note: %s." % note for note in result.notes)
    return "\n".join(lines) + "\n"


def _with_silence(target, sockets: List[Socket]) -> List[Socket]:
    """A blocked TCP connection's silence, where its row came without it
    (a dump, the tables): asked of the socket itself, a copy for each."""
    missing = [s for s in sockets if s.waiters and s.silence is None and s.proto in notes.TCP
               and s.in_table]
    found = tcp_silences(target.pid, missing) if missing and not target.remote else {}
    if not found:
        return sockets
    return [replace(s, silence=found[s.fd]) if s.fd in found and s.waiters else s
            for s in sockets]


def _running_note(target) -> List[str]:
    """For a process that runs on: the threads caught running, whose wait
    (if any) nobody can tell."""
    running = running_threads(target.reader, target.pid)
    if not running:
        return []
    one = len(running) == 1
    return ["%s %s running, so whether %s on a socket is not known" % (
        ", ".join("LWP %d" % tid for tid in running), "was" if one else "were",
        "it waits" if one else "they wait")]


def with_details(target, sockets: Sequence[Socket]) -> List[Socket]:
    """The records with their -extended view, for a target on gdb's host."""
    if target.remote:
        raise SocketsError("-extended asks each socket through a copy in gdb's own "
                           "process, which cannot reach a process on another host; "
                           "plain 'info sockets' works here, and for the extended view "
                           "run gdb on the target's host: gdb -p PID -batch -ex "
                           "'info sockets -extended'")
    try:
        found = socket_details(target.pid, sockets)
    except CopyUnavailable as e:
        raise SocketsError("-extended cannot copy the process's sockets: %s" % (e,)) from None
    return [replace(s, details=found.get(s.fd), extended=True) for s in sockets]


def info_sockets(target, selection, scan_holders: bool = False,
                 extended: bool = False) -> Tuple[Listing, List[Socket]]:
    """What `info sockets` shows: (the whole listing, the records chosen by
    ``selection``, with their -extended view if asked)."""
    result = target_sockets(target, scan_holders=scan_holders)
    shown = selection.apply(result.sockets)
    if extended:
        shown = with_details(target, shown)
    return result, shown


def listing_text(result: Listing, shown: Sequence[Socket], colorize=None,
                 extended: bool = False, answers: Sequence[str] = (),
                 has_sockets: Optional[bool] = None) -> str:
    """What `info sockets` prints for ``shown`` (of ``result``): the table
    (a note every row repeats said once under it), or the line that stands
    for it, the ``answers`` for named fds with no row (``unanswered_fds``),
    then a line per note.  ``colorize`` as in render.format_table (None: plain).
    ``has_sockets``: whether the process has any (default: ``result`` has)."""
    if has_sockets is None:
        has_sockets = bool(result.sockets)
    if shown:
        cells, common = notes.table_notes(shown)
        lines = [render.format_table(shown, colorize, cells, extended)] + common
    elif answers:
        lines = []
    elif not has_sockets:
        lines = ["Process %d has no sockets." % result.pid]
    else:
        lines = ["No socket of process %d matches." % result.pid]
    lines.extend(answers)
    lines.extend("Note: %s." % note for note in result.notes)
    return "\n".join(lines) + "\n"


def sigpipe_reader(target):
    """lwp -> predict.Sigpipe for the target's threads (read once each)."""
    seen = {}

    def sigpipe_of(lwp: int) -> predict.Sigpipe:
        if lwp not in seen:
            seen[lwp] = predict.sigpipe_of_masks(
                signals.read_masks(target.reader, target.pid, lwp))
        return seen[lwp]
    return sigpipe_of


def forecasts(target, chosen: Sequence[Socket], how: int) -> tuple:
    """({fd: [Prediction]}, {fd: a harmless direction or None}) for a shutdown.

    Threads blocked on another fd of the process naming the same socket
    (a dup) are predicted too: shutdown acts on the socket.
    """
    sigpipe_of = sigpipe_reader(target)
    on_dups = _dup_waiters(target, chosen)

    def predictions(sock: Socket, how: int) -> list:
        effect = predict.shutdown_effect_of(sock, how)
        found = predict.for_socket(sock, effect, sigpipe_of)
        for fd in sock.also_fds:
            for w in on_dups.get(fd, ()):
                detail = "on fd %d, the same socket%s" % (fd, "; " + w.detail if w.detail else "")
                found.append(predict.predict(sock.fd, predict.wait_of(
                    replace(w, detail=detail), sigpipe_of(w.lwp)), effect))
        return found

    found = {s.fd: predictions(s, how) for s in chosen}
    safer = {s.fd: predict.safer_how(s, how, lambda other, s=s: predictions(s, other))
             for s in chosen if any(p.harm for p in found[s.fd])}
    return found, safer


def _dup_waiters(target, chosen: Sequence[Socket]) -> dict:
    """fd -> waiters, for the other fds naming the chosen sockets."""
    dups = {fd for s in chosen for fd in s.also_fds}
    if not dups or target.remote or not waiters.known_arch(target.arch):
        return {}
    return waiters.find_waiters(target.reader, target.pid, dups, arch=target.arch)


def unanswered_fds(target, named, listed: Sequence[Socket], shown: Sequence[Socket]) -> List[str]:
    """A line for each fd the user named that has no row: not open, not a
    socket (and what it is), or a socket the other filters leave out."""
    if not named:
        return []
    by_fd = {s.fd: s for s in listed}
    shown_fds = {s.fd for s in shown}
    lines = []
    for fd in sorted(set(named) - shown_fds):
        sock = by_fd.get(fd)
        if sock is not None:
            lines.append("fd %d: %s %s, left out by the other filters" % (fd, sock.proto,
                                                                          sock.state))
            continue
        link = procfs.read_fd_link(target.reader, target.pid, fd)
        if link is None:
            lines.append("fd %d: not open in process %d" % (fd, target.pid))
        elif link.socket_inode is None:
            lines.append("fd %d: not a socket (%s)" % (fd, escape(link.target)))
        else:
            lines.append("fd %d: a socket opened since the listing was read" % fd)
    return lines
