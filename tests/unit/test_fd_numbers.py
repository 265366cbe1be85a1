"""FdDir.sockets_by_number reads the fds of a table by number and
gives what listing the directory gives, gaps or not (this process's own
fd table, on the live kernel)."""

import os
import socket

import pytest

from gdb_sockets.kernel.fd_dir import FdDir


@pytest.fixture
def sockets_with_gaps():
    """Sockets and files, then holes made by closing some of them."""
    opened = [socket.socket() for _ in range(40)] + [open(os.devnull) for _ in range(10)]
    for sock in opened[5:30:3]:
        sock.close()
    yield opened
    for sock in opened:
        sock.close()


def by_listing(fd_dir):
    return fd_dir.sockets(fd_dir.names())


def test_by_number_is_the_listing(sockets_with_gaps):
    with FdDir(os.getpid()) as fd_dir:
        count = len(fd_dir.names())
        assert fd_dir.sockets_by_number(count) == by_listing(fd_dir)


def test_many_gaps_fall_back_to_the_listing(sockets_with_gaps, monkeypatch):
    # With room for no gap at all, the fds past the first gap are listed.
    listed = []
    with FdDir(os.getpid()) as fd_dir:
        count = len(fd_dir.names())
        real = fd_dir.names
        monkeypatch.setattr(fd_dir, "names", lambda: listed.append(1) or real())
        expected = by_listing(fd_dir)
        listed.clear()
        assert fd_dir.sockets_by_number(count, gaps=0) == expected
        assert listed == [1]


def test_sockets_among_some_fds(sockets_with_gaps):
    with FdDir(os.getpid()) as fd_dir:
        everything = by_listing(fd_dir)
        asked = {fd for fd, _inode in everything[::2]} | {10 ** 6, 0}
        assert fd_dir.sockets_among(asked) == [e for e in everything if e[0] in asked]
