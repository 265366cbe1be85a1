"""FdDir.sockets_by_number reads the fds of a table by number and
gives what listing the directory gives, gaps or not (this process's own
fd table, on the live kernel), in one thread or several."""

import errno
import os
import socket

import pytest

from gdb_sockets.kernel import fd_dir as fd_dir_module
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


@pytest.fixture(params=["one thread", "threads"])
def reading(request):
    """Each test twice: as a small table is read, and by 3 threads (a
    table of 4096 fds and more; here from 8 fds on)."""
    if request.param == "threads":
        request.getfixturevalue("parallel")
    return request.param


def test_by_number_is_the_listing(sockets_with_gaps, reading):
    with FdDir(os.getpid()) as fd_dir:
        count = len(fd_dir.names())
        assert fd_dir.sockets_by_number(count) == by_listing(fd_dir)


def test_many_gaps_fall_back_to_the_listing(sockets_with_gaps, reading, monkeypatch):
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


@pytest.fixture
def parallel(monkeypatch):
    """The threaded reading from 8 fds on (a big fd table is 4096), by
    3 threads (one a CPU, up to 4)."""
    monkeypatch.setattr(fd_dir_module, "PARALLEL_MIN", 8)
    monkeypatch.setattr(fd_dir_module, "READERS", 3)
    return 3


def test_threads_read_what_one_thread_reads(sockets_with_gaps, parallel, monkeypatch):
    with FdDir(os.getpid()) as fd_dir:
        names = fd_dir.names()
        threaded = fd_dir.sockets(names)
        monkeypatch.setattr(fd_dir_module, "PARALLEL_MIN", 10 ** 6)
        assert threaded == fd_dir.sockets(names)
        assert len(threaded) > 20


def test_threads_run_for_a_big_table(sockets_with_gaps, parallel, monkeypatch):
    seen = set()
    real = fd_dir_module.run_all
    monkeypatch.setattr(fd_dir_module, "run_all",
                        lambda calls, name: seen.add(len(calls)) or real(calls, name))
    with FdDir(os.getpid()) as fd_dir:
        fd_dir.sockets_by_number(len(fd_dir.names()))
    assert seen == {parallel}


def test_an_error_in_a_reading_thread_reaches_the_caller(sockets_with_gaps, parallel):
    fd_dir = FdDir(os.getpid())
    count = len(fd_dir.names())
    os.close(fd_dir._fd)  # every thread's readlink now fails with EBADF
    try:
        with pytest.raises(OSError) as failed:
            fd_dir.sockets_by_number(count)
        assert failed.value.errno == errno.EBADF
    finally:
        fd_dir._fd = None
