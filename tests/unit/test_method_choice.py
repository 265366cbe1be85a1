"""Which -method runs, from why each cannot (actions/method_choice.py).

The real-gdb tests reach the branch their machine has (calls work, or
gdb 13 on an AMX CPU refuses them); these cover every branch everywhere.
"""

import pytest

from gdb_sockets.actions.method_choice import Method, pick_method
from gdb_sockets.errors import SocketsError

AMX = "gdb cannot write this CPU's extended register state (Bad address)"


def reasons(**why):
    """An ``unavailable`` callback from method=reason pairs; records the probes."""
    asked = []

    def unavailable(name):
        asked.append(name)
        return why.get(name)
    unavailable.asked = asked
    return unavailable


def test_auto_calls_where_calls_work_and_probes_nothing_else():
    unavailable = reasons()
    assert pick_method("auto", unavailable) == Method("call")
    assert unavailable.asked == ["call"]


def test_auto_falls_back_to_syscall_where_calls_are_refused():
    method = pick_method("auto", reasons(call=AMX))
    assert method == Method("syscall", ("libc's shutdown was not called because " + AMX,))


def test_auto_falls_back_to_pidfd_when_neither_can_run():
    method = pick_method("auto", reasons(call=AMX, syscall="the selected thread stopped on SIGUSR1"))
    assert method.name == "pidfd"
    assert method.notes == ("libc's shutdown was not called because %s, and no raw syscall "
                            "because the selected thread stopped on SIGUSR1" % AMX,)


def test_auto_with_nothing_left_is_an_error_naming_each_reason():
    with pytest.raises(SocketsError, match=r"^no method can run here: not call: .*extended "
                                           r"register state.*; not syscall: remote$"):
        pick_method("auto", reasons(call=AMX, syscall="remote", pidfd="another host"))


@pytest.mark.parametrize("name", ["call", "syscall", "pidfd"])
def test_explicit_method_is_refused_with_its_reason_and_never_replaced(name):
    unavailable = reasons(**{name: "not here"})
    with pytest.raises(SocketsError, match=r"^-method %s cannot run here: not here$" % name):
        pick_method(name, unavailable)
    assert unavailable.asked == [name]


def test_explicit_method_that_can_run_carries_no_note():
    assert pick_method("syscall", reasons(call=AMX)) == Method("syscall")


def test_unknown_method_is_refused_before_any_probe():
    unavailable = reasons()
    with pytest.raises(SocketsError, match=r"^unknown method 'fast'; one of: auto call syscall pidfd$"):
        pick_method("fast", unavailable)
    assert unavailable.asked == []
