#!/usr/bin/env bash
# Show gdb_sockets on a throwaway process: a client stuck in recv() on a
# connection whose server never answers.  The demo lists the client's
# sockets with 'info sockets', then unsticks it with 'sock-shutdown FD'
# (when that command exists) and shows that it woke up and is still alive.
# Needs gdb (with Python) and python3; starts and kills its own processes.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)
INIT=$REPO/gdb_sockets/init.py

die() { printf 'stuck_demo: error: %s\n' "$1" >&2; shift; for l in "$@"; do printf '  %s\n' "$l" >&2; done; exit 1; }

case ${1:-} in
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument '$1'" "usage: demo/stuck_demo.sh" ;;
esac

command -v gdb >/dev/null 2>&1 || die "gdb not found" "run ./install.sh first"
command -v python3 >/dev/null 2>&1 || die "python3 not found" "install it (Debian: apt-get install python3)"
# The interpreter itself, not a wrapper such as a pyenv shim: the pid that
# '&' gives must be the process that is stuck.
PY=$(python3 -c 'import sys; print(sys.executable)')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stuck_demo.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap 'cleanup 2>/dev/null' EXIT  # also silences bash's "Killed" job notices
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The server accepts one connection and never sends anything.
SERVER='
import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
conn, _ = s.accept()
signal.pause()
'
# The client connects, says "PID FD" just before recv(), then reports what
# recv() returned and stays alive.
CLIENT='
import ctypes, os, signal, socket, sys
try:  # Yama ptrace_scope=1: let a sibling gdb attach (PR_SET_PTRACER_ANY)
    ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)
except (OSError, AttributeError):
    pass
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(os.getpid(), c.fileno(), flush=True)
try:
    print("recv() returned %r" % (c.recv(1024),), flush=True)
except OSError as e:
    print("recv() failed: %s" % e, flush=True)
signal.pause()
'

mkfifo "$WORK/server" "$WORK/client"
"$PY" -c "$SERVER" >"$WORK/server" &
PIDS+=($!)
exec 3<"$WORK/server"
read -r -t 10 PORT <&3 || die "the demo server did not start"

"$PY" -c "$CLIENT" "$PORT" >"$WORK/client" &
PIDS+=($!)
exec 4<"$WORK/client"
read -r -t 10 CPID FD <&4 || die "the demo client did not connect"
PIDS+=("$CPID")

# Wait until the client is really asleep in recv on FD: /proc/PID/syscall
# shows the syscall's number and arguments, the first being the fd.
blocked() {
    local state syscall
    state=$(cut -d' ' -f3 "/proc/$CPID/stat" 2>/dev/null) || return 1
    [ "$state" = S ] || return 1
    if syscall=$(cat "/proc/$CPID/syscall" 2>/dev/null); then
        # shellcheck disable=SC2086  # split on purpose: number arg0 arg1 ...
        set -- $syscall
        [ $# -ge 2 ] && [ "$(($2))" = "$FD" ]
    else  # no /proc/PID/syscall on this kernel: settle for a wait channel
        [ "$(cat "/proc/$CPID/wchan" 2>/dev/null)" != 0 ]
    fi
}
for _ in $(seq 100); do blocked && break; sleep 0.05; done
blocked || die "the demo client (pid $CPID) did not block in recv()"

echo "server: 127.0.0.1:$PORT, accepted and never answers (pid ${PIDS[0]})"
echo "client: pid $CPID, stuck in recv() on fd $FD ($(cat "/proc/$CPID/wchan"))"

# Run gdb on the client as a user would.  Leave out gdb's chatter about
# attaching (thread library, frame, missing sources) and auto-loading.
run_gdb() {  # run_gdb COMMAND
    local rc=0
    printf "\n\$ gdb -nx -q -batch -iex 'source %s' -p %s -ex '%s'\n" "$INIT" "$CPID" "$1"
    gdb -nx -q -batch -iex "source $INIT" -p "$CPID" -ex "$1" </dev/null >"$WORK/gdb.out" 2>&1 || rc=$?
    sed -e '/^warning: File .* auto-loading has been declined/,/^\tinfo "(gdb)Auto-loading safe path"$/d' \
        -e '/^\[Thread debugging using libthread_db/d; /^Using host libthread_db/d' \
        -e '/^0x[0-9a-f]* in /d; /No such file or directory\.$/d' \
        -e '/^\[Inferior [0-9]* (process [0-9]*) detached\]$/d' \
        -e 's/^/  /' "$WORK/gdb.out"
    return $rc
}

# Is the client still there?  Prints how it is, fails if it is gone.
client_alive() {  # client_alive [WHEN]
    local state rc=0
    if state=$(cut -d' ' -f3 "/proc/$CPID/stat" 2>/dev/null) && [ "$state" != Z ]; then
        echo "client: pid $CPID still alive${1:+ $1} (state $state), fd $FD: $(readlink "/proc/$CPID/fd/$FD" || echo closed)"
    else
        wait "$CPID" 2>/dev/null || rc=$?
        echo "client: pid $CPID is gone (exit status $rc)"
        return 1
    fi
}

run_gdb "info sockets" || die "gdb failed (output above)" "run ./install.sh, then try again"

if ! gdb -nx -batch -iex "source $INIT" -ex 'help sock-shutdown' </dev/null >/dev/null 2>&1; then
    printf '\nsock-shutdown is not available yet.\n'
    exit 0
fi

if ! run_gdb "sock-shutdown $FD"; then
    echo; client_alive || true
    die "sock-shutdown failed (output above)"
fi
echo
if read -r -t 10 WOKE <&4; then
    echo "client: woke up: $WOKE"
else
    client_alive || true
    die "the client did not wake up within 10 s"
fi
# Waking is not enough: it must not die of it.  Look again a second later.
sleep 1
client_alive "1 s later" || die "the client died after sock-shutdown"
