"""kernel/workers.py: threads that never take gdb's signals, and their errors."""

import signal
import threading

import pytest

from gdb_sockets.kernel import workers


def test_a_thread_starts_with_every_signal_blocked_and_the_caller_keeps_its_mask():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen = []
    thread = workers.start(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
                           "test")
    thread.join()
    assert {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM} <= seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert signal.SIGINT not in before


def test_run_all_gives_the_results_in_order_each_call_but_the_first_in_its_own_thread():
    names = workers.run_all([lambda: threading.current_thread().name] * 3, "reader")
    assert names == [threading.current_thread().name, "reader", "reader"]
    assert workers.run_all([lambda i=i: i * i for i in range(5)], "x") == [0, 1, 4, 9, 16]


def test_run_all_raises_an_error_of_a_thread_after_all_have_ended():
    ended = []

    def slow():
        threading.Event().wait(0.05)
        ended.append(1)

    def fails():
        raise PermissionError(13, "denied")

    with pytest.raises(PermissionError):
        workers.run_all([slow, fails, slow], "x")
    assert ended == [1, 1]


def test_where_no_thread_can_start_the_work_runs_in_the_caller(monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    here = threading.current_thread().name
    assert workers.run_all([lambda: threading.current_thread().name] * 3, "x") == [here] * 3
    ran = []
    assert workers.start(lambda: ran.append(1), "x") is None
    assert ran == [1]
