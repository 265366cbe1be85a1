"""view.notes: the Notes column, and a note every row repeats said once (issue 13 item 12)."""

from gdb_sockets.model import Socket, Waiter
from gdb_sockets.view import notes
from gdb_sockets.view.render import format_table

LOOP = Waiter(12046, "epoll_wait", "epoll_wait on fd 5 for read")


def sock(fd, *waiters, also=()):
    return Socket(fd=fd, inode=1000 + fd, proto="tcp", state="ESTAB", in_table=False,
                  waiters=tuple(waiters), also_fds=tuple(also))


def test_a_note_on_every_row_is_said_once_under_the_table():
    rows = [sock(fd, LOOP) for fd in range(10, 310)]
    rows[3] = sock(13, Waiter(7, "recvfrom"), LOOP, also=(99,))
    cells, lines = notes.table_notes(rows)
    assert lines == ["Every socket shown: LWP 12046 epoll_wait (epoll_wait on fd 5 for read)."]
    assert cells[3] == "LWP 7 recvfrom; also fd 99"
    assert set(cells[:3] + cells[4:]) == {""}
    table = format_table(rows, notes=cells).split("\n")
    assert len(table) == 301 and "epoll_wait" not in "\n".join(table)


def test_few_rows_or_a_note_some_rows_lack_stay_in_the_cells():
    few = [sock(fd, LOOP) for fd in range(notes.COLLAPSE_ROWS - 1)]
    assert notes.table_notes(few) == ([notes.waiter_text(LOOP)] * len(few), [])
    mixed = [sock(fd, LOOP) for fd in range(10)] + [sock(10)]
    cells, lines = notes.table_notes(mixed)
    assert lines == [] and cells[0] == "LWP 12046 epoll_wait (epoll_wait on fd 5 for read)"
