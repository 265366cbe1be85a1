"""Command-line options in gdb's own style, and the checks on their values.

As gdb's built-in commands do: options start with a single dash, any
unique prefix names one (``-j`` for ``-json``), and ``--`` ends them.
Unknown or ambiguous options and bad values are errors, never ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

from ..actions.outcome import HOW, parse_how
from ..errors import SocketsError
from .filters import EndpointPattern, SocketFilter, parse_port
from ..model import PROTO_NAMES, STATE_NAMES, UNIX_NETIDS, normalize_state

FLAG = "flag"
VALUE = "value"

_PLAIN_INT = re.compile(r"^[0-9]+$")
_NEGATIVE_NUMBER = re.compile(r"^-[0-9]")
MAX_FD = 2**31 - 1

# -proto accepts the listed names, and a family name for both its IP
# versions: "tcp" is tcp and tcp6, as ss -t shows both; "tcp4" is IPv4 only.
_PROTO_GROUPS = {}
for _name in PROTO_NAMES:
    _PROTO_GROUPS[_name] = {_name}
    if _name + "6" in PROTO_NAMES:
        _PROTO_GROUPS[_name] = {_name, _name + "6"}
        _PROTO_GROUPS[_name + "4"] = {_name}
for _name in UNIX_NETIDS.values():  # u_str: UNIX stream sockets only
    _PROTO_GROUPS[_name] = {_name}


@dataclass
class Parsed:
    """Options given (value options as lists, flags as True) and the rest."""

    options: Dict[str, object]
    args: List[str]

    def flag(self, name: str) -> bool:
        return bool(self.options.get(name))

    def values(self, name: str) -> List[str]:
        return list(self.options.get(name, []))


def parse(argv: List[str], spec: Mapping[str, str]) -> Parsed:
    """Split ``argv`` into options (per ``spec``: name -> FLAG or VALUE) and args."""
    options: Dict[str, object] = {}
    args: List[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            args.extend(argv[i:])
            break
        if not token.startswith("-") or token == "-" or _NEGATIVE_NUMBER.match(token):
            args.append(token)
            continue
        name = resolve(token[1:], spec)
        if spec[name] == FLAG:
            options[name] = True
            continue
        if i >= len(argv):
            raise SocketsError("option -%s needs a value" % name)
        options.setdefault(name, []).append(argv[i])
        i += 1
    return Parsed(options, args)


def resolve(given: str, spec: Mapping[str, str]) -> str:
    """The option ``given`` names: itself, or the one option it is a prefix of."""
    if given in spec:
        return given
    matches = sorted(name for name in spec if name.startswith(given))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join("-" + name for name in sorted(spec))
    if not matches:
        raise SocketsError("unknown option -%s (options: %s)" % (given, known))
    raise SocketsError("ambiguous option -%s: %s" % (
        given, ", ".join("-" + m for m in matches)))


def parse_fd(text: str) -> int:
    """A file descriptor given by the user: a plain non-negative integer only."""
    if not _PLAIN_INT.fullmatch(text) or len(text) > 10 or int(text) > MAX_FD:
        raise SocketsError(
            "%r is not a file descriptor; give a plain non-negative integer "
            "such as 4 (see 'info sockets')" % (text,))
    return int(text)


def parse_states(values: List[str]) -> set:
    """-state values in ss's spelling; any case, '_' for '-'."""
    states = set()
    for value in values:
        state = normalize_state(value)
        if state not in STATE_NAMES:
            raise SocketsError("unknown state %r; one of: %s" % (
                value, " ".join(s.lower() for s in STATE_NAMES)))
        states.add(state)
    return states


def parse_protos(values: List[str]) -> set:
    """-proto values: a protocol name, or tcp/udp/... for both IP versions."""
    protos = set()
    for value in values:
        group = _PROTO_GROUPS.get(value.strip().lower())
        if group is None:
            raise SocketsError("unknown protocol %r; one of: %s" % (
                value, " ".join(sorted(_PROTO_GROUPS))))
        protos |= group
    return protos


FILTER_OPTIONS = {"proto": VALUE, "state": VALUE, "port": VALUE, "local": VALUE, "peer": VALUE}
# The options of `info sockets` and `sock-shutdown`, for the gdb commands
# and the command line alike (which adds -yes to the second).
INFO_SOCKETS_OPTIONS = dict(FILTER_OPTIONS, json=FLAG, holders=FLAG, extended=FLAG)
SOCK_SHUTDOWN_OPTIONS = dict(FILTER_OPTIONS, json=FLAG, method=VALUE, **{"dry-run": FLAG})


def build_filter(parsed: Parsed, fd_args: List[str]) -> SocketFilter:
    """The SocketFilter that a command's filter options and FD arguments describe."""
    def optional(values):
        values = frozenset(values)
        return values or None

    def patterns(name):
        given = parsed.values(name)
        return tuple(EndpointPattern.parse(name, v) for v in given) or None

    return SocketFilter(
        fds=optional(parse_fd(a) for a in fd_args),
        protos=optional(parse_protos(parsed.values("proto"))),
        states=optional(parse_states(parsed.values("state"))),
        ports=optional(parse_port(v) for v in parsed.values("port")),
        locals=patterns("local"),
        peers=patterns("peer"),
    )


def shutdown_request(parsed: Parsed, usage: str) -> Tuple[SocketFilter, int, str]:
    """(selection, how, method) from sock-shutdown's arguments, or SocketsError.

    ``usage`` is the command's usage line, for the message that asks which
    socket.
    """
    args = list(parsed.args)
    how_word = None
    if args and (args[-1].lower() in HOW or args[-1].isalpha()):
        how_word = args.pop()  # an unknown word is a direction misspelt, not an fd
    how = parse_how(how_word)
    selection = build_filter(parsed, args)
    methods = parsed.values("method") or ["auto"]
    if len(methods) > 1:
        raise SocketsError("give -method once")
    if selection.fds is None and not selection.selects_by_property:
        raise SocketsError("which socket? give an fd or a filter such as -state close-wait; "
                           "usage: %s" % usage)
    return selection, how, methods[0]
