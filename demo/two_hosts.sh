#!/usr/bin/env bash
# The command line over two "hosts": two network namespaces, each with its
# own host name, joined by a veth pair.  A server on host-a accepts a
# connection from a client on host-b and never answers; the client is stuck
# in recv().  The demo builds gdb-sockets.pyz, sweeps both hosts with
# '-json' (one JSON line per host, concatenated), then shuts the client's
# socket down on host-b, with no debugger and without stopping anything.
# Needs root (ip netns) and python3; removes everything it made.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)

die() { printf 'two_hosts: error: %s\n' "$1" >&2; shift; for l in "$@"; do printf '  %s\n' "$l" >&2; done; exit 1; }

case ${1:-} in
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument '$1'" "usage: demo/two_hosts.sh" ;;
esac
[ "$(id -u)" -eq 0 ] || die "needs root (ip netns)" "run: sudo demo/two_hosts.sh"
command -v ip >/dev/null 2>&1 || die "ip not found" "install iproute2"
PY=$(python3 -c 'import sys; print(sys.executable)')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/two_hosts.XXXXXX")
NS_A=gs-host-a-$$ NS_B=gs-host-b-$$
PIDS=()
cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap 'cleanup 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# on HOST COMMAND...: what 'ssh HOST COMMAND...' would be: HOST's network
# namespace, and a UTS namespace whose host name is HOST.
on() {
    local ns=$NS_A
    [ "$1" = host-b ] && ns=$NS_B
    ip netns exec "$ns" unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$@"
}

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add gsa$$ netns "$NS_A" type veth peer name gsb$$ netns "$NS_B"
ip -n "$NS_A" addr add 10.77.0.1/24 dev gsa$$
ip -n "$NS_B" addr add 10.77.0.2/24 dev gsb$$
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set gsa$$ up
ip -n "$NS_B" link set gsb$$ up

"$REPO/install.sh" --pyz="$WORK/gdb-sockets.pyz" >/dev/null
PYZ=$WORK/gdb-sockets.pyz

SERVER='
import os, signal, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.1", 8080))
s.listen(8)
print(os.getpid(), flush=True)
conn, _ = s.accept()
signal.pause()
'
CLIENT='
import os, signal, socket
c = socket.create_connection(("10.77.0.1", 8080))
print(os.getpid(), c.fileno(), flush=True)
print("client: recv() returned %r" % (c.recv(1024),), flush=True)
signal.pause()
'
mkfifo "$WORK/server" "$WORK/client"
on host-a "$PY" -c "$SERVER" >"$WORK/server" &
PIDS+=($!)
exec 3<"$WORK/server"
read -r -t 10 SPID <&3 || die "the server did not start"
PIDS+=("$SPID")
on host-b "$PY" -c "$CLIENT" >"$WORK/client" &
PIDS+=($!)
exec 4<"$WORK/client"
read -r -t 10 CPID FD <&4 || die "the client did not connect"
PIDS+=("$CPID")
# Until the client sleeps in recvfrom (45) on FD (the first argument).
for _ in $(seq 200); do
    set -- $(cat "/proc/$CPID/syscall" 2>/dev/null || echo x)
    [ "${1:-}" = 45 ] && [ "$((${2:-0}))" = "$FD" ] && break
    sleep 0.05
done

# Summarise the concatenated JSON lines, one line per socket.
SUMMARY='
import json, sys
for line in sys.stdin:
    doc = json.loads(line)
    for s in doc["sockets"]:
        peer = "%s:%s" % (s["peer"]["address"], s["peer"]["port"])
        waits = ", ".join("LWP %d %s" % (w["lwp"], w["syscall"]) for w in s["waiters"])
        print("%-7s pid %-6d fd %d %-6s %-7s %s:%s -> %s %s" % (
            doc["host"], doc["pid"], s["fd"], s["proto"], s["state"],
            s["local"]["address"], s["local"]["port"], peer, waits))
'
show() { printf '$ %s\n' "$*"; }

show "ssh host-b python3 gdb-sockets.pyz $CPID -json | cut -c1-150"
on host-b python3 "$PYZ" "$CPID" -json | cut -c1-150 | sed 's/^/  /'
echo
show "{ ssh host-a python3 gdb-sockets.pyz $SPID -json; ssh host-b python3 gdb-sockets.pyz $CPID -json; } | summarise"
{ on host-a python3 "$PYZ" "$SPID" -json; on host-b python3 "$PYZ" "$CPID" -json; } \
    | "$PY" -c "$SUMMARY" | sed 's/^/  /'
echo
show "ssh host-b python3 gdb-sockets.pyz $CPID shutdown $FD"
on host-b python3 "$PYZ" "$CPID" shutdown "$FD" | sed 's/^/  /'
read -r -t 10 WOKE <&4 || die "the client did not wake up"
echo
echo "$WOKE"
